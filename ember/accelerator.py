"""``ember.accelerator``: the device-generic API over the current accelerator, as in PyTorch.
ember's one accelerator is CUDA (through CuPy); every call that needs a device raises PyTorch's
RuntimeError where none is usable, and otherwise answers through ``ember.cuda``."""
from __future__ import annotations

import contextlib
import warnings
from collections import OrderedDict
from typing import Any, Iterator

from ember.backend import cuda as _cuda
from ember.backend.device import Device

__all__ = ["current_accelerator", "current_device_idx", "current_device_index",
           "current_stream", "device_count", "device_index", "empty_cache", "empty_host_cache",
           "get_device_capability", "get_memory_info", "is_available", "max_memory_allocated",
           "max_memory_reserved", "memory_allocated", "memory_reserved", "memory_stats",
           "reset_accumulated_memory_stats", "reset_peak_memory_stats", "set_device_idx",
           "set_device_index", "set_stream", "synchronize"]


def is_available() -> bool:
    """Whether an accelerator (a GPU that CuPy sees) is usable."""
    return _cuda.is_available()


def current_accelerator(check_available: bool = False) -> Device | None:
    """``device(type='cuda')`` when a GPU is usable, else None."""
    return Device("cuda") if _cuda.is_available() else None


def device_count() -> int:
    """How many accelerator devices there are (0 without one)."""
    return _cuda.device_count()


def _cuda_module():
    """``ember.cuda``, once an accelerator is known to be usable."""
    if not _cuda.is_available():
        raise RuntimeError("Cannot access accelerator device when none is available.")
    import ember.cuda
    return ember.cuda


def _index(device: Device | str | int | None) -> int:
    """A device argument as an accelerator index (None: the current device)."""
    cuda = _cuda_module()
    if device is None:
        return cuda.current_device()
    if isinstance(device, int):
        return device
    device = Device(device)
    if device.type != "cuda":
        raise ValueError(f"{device.type} doesn't match the current accelerator cuda.")
    return cuda.current_device() if device.index is None else device.index


def current_device_index() -> int:
    """The index of the current accelerator device."""
    return _cuda_module().current_device()


def set_device_index(device: Device | str | int | None, /) -> None:
    """Make ``device`` current (None: no change)."""
    if device is not None:
        _cuda_module().set_device(_index(device))


def current_device_idx() -> int:
    """Deprecated: :func:`current_device_index`."""
    warnings.warn("Use `current_device_index` instead.", FutureWarning, stacklevel=2)
    return current_device_index()


def set_device_idx(device: Device | str | int | None, /) -> None:
    """Deprecated: :func:`set_device_index`."""
    warnings.warn("Use `set_device_index` instead.", FutureWarning, stacklevel=2)
    set_device_index(device)


@contextlib.contextmanager
def device_index(device: int | None, /) -> Iterator[None]:
    """Make accelerator ``device`` current inside the block (None: a no-op)."""
    if device is None:
        yield
        return
    previous = current_device_index()
    set_device_index(device)
    try:
        yield
    finally:
        set_device_index(previous)


def current_stream(device: Device | str | int | None = None, /):
    """The stream that the device's work is queued on now."""
    return _cuda_module().current_stream(_index(device))


def set_stream(stream, /) -> None:
    """Make ``stream`` current on its device."""
    if stream is None:
        raise TypeError("set_stream(): expected a Stream, got None")
    _cuda_module().set_stream(stream)


def synchronize(device: Device | str | int | None = None, /) -> None:
    """Wait for the device's queued work."""
    _cuda_module().synchronize(_index(device))


def empty_cache() -> None:
    """Return the allocator's cached, unused device memory."""
    _cuda_module().empty_cache()


def empty_host_cache() -> None:
    """Return cached pinned host memory (CuPy's pinned pool)."""
    _cuda_module()
    _cuda.cupy().get_default_pinned_memory_pool().free_all_blocks()


def memory_allocated(device_index: Device | str | int | None = None, /) -> int:
    """Bytes the tensors on the device occupy now."""
    return _cuda_module().memory_allocated(_index(device_index))


def max_memory_allocated(device_index: Device | str | int | None = None, /) -> int:
    """The peak of :func:`memory_allocated` since the last reset."""
    return _cuda_module().max_memory_allocated(_index(device_index))


def memory_reserved(device_index: Device | str | int | None = None, /) -> int:
    """Bytes the allocator holds on the device (in use or cached)."""
    return _cuda_module().memory_reserved(_index(device_index))


def max_memory_reserved(device_index: Device | str | int | None = None, /) -> int:
    """The peak of :func:`memory_reserved` since the last reset."""
    return _cuda_module().max_memory_reserved(_index(device_index))


def memory_stats(device_index: Device | str | int | None = None, /) -> OrderedDict[str, Any]:
    """The allocator's statistics, as ``ember.cuda.memory_stats``."""
    return OrderedDict(_cuda_module().memory_stats(_index(device_index)))


def reset_accumulated_memory_stats(device_index: Device | str | int | None = None, /) -> None:
    _cuda_module().reset_accumulated_memory_stats(_index(device_index))


def reset_peak_memory_stats(device_index: Device | str | int | None = None, /) -> None:
    _cuda_module().reset_peak_memory_stats(_index(device_index))


def get_memory_info(device_index: Device | str | int | None = None, /) -> tuple[int, int]:
    """(free, total) bytes of device memory."""
    return tuple(_cuda_module().mem_get_info(_index(device_index)))


def get_device_capability(device: Device | str | int | None = None, /) -> dict[str, Any]:
    """What the device supports: ``supported_dtypes``, the dtypes its tensors can hold."""
    import ember
    cuda = _cuda_module()
    dtypes = {ember.bool, ember.uint8, ember.int8, ember.int16, ember.int32, ember.int64,
              ember.float16, ember.float32, ember.float64, ember.complex64, ember.complex128}
    if cuda.is_bf16_supported():
        dtypes.add(ember.bfloat16)
    return {"supported_dtypes": dtypes}
