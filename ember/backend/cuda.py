"""CUDA through CuPy, imported on first use so that ember works without it."""
from __future__ import annotations

import functools

from ember.backend.device import Device


@functools.lru_cache(maxsize=None)
def _import_cupy():
    try:
        import cupy
    except Exception:  # ImportError, or a CuPy without a working CUDA runtime
        return None
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None
    except Exception:
        return None
    return cupy


def is_available() -> bool:
    return _import_cupy() is not None


def cupy():
    cp = _import_cupy()
    if cp is None:
        raise RuntimeError("ember was asked for CUDA, but CuPy or an NVIDIA GPU is missing "
                           '(install ember[cuda12] on a machine with a GPU)')
    return cp


def device_count() -> int:
    cp = _import_cupy()
    return 0 if cp is None else cp.cuda.runtime.getDeviceCount()


def device_of(array) -> Device:
    return Device("cuda", array.device.id)


def to_device(array, device: Device):
    cp = cupy()
    index = 0 if device.index is None else device.index
    with cp.cuda.Device(index):
        return cp.asarray(array)


def current_device_index() -> int:
    cp = _import_cupy()
    return 0 if cp is None else cp.cuda.runtime.getDevice()


def pinned_copy(array):
    """A copy of host ``array`` in page-locked memory, which the GPU reads by DMA (a NumPy array
    over CuPy's pinned-memory pool)."""
    import cupyx
    out = cupyx.empty_pinned(array.shape, array.dtype)
    out[...] = array
    return out


def is_pinned(array) -> bool:
    """Whether host ``array``'s memory is page-locked (registered with CUDA)."""
    cp = _import_cupy()
    if cp is None or array.nbytes == 0:
        return False
    try:
        attributes = cp.cuda.runtime.pointerGetAttributes(array.ctypes.data)
    except cp.cuda.runtime.CUDARuntimeError:  # memory CUDA has never seen
        return False
    return attributes.type == getattr(cp.cuda.runtime, "memoryTypeHost", 1)
