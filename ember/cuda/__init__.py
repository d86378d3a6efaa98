"""``ember.cuda``: device queries and state; every call works (and says no) without a GPU."""
from __future__ import annotations

from ember.backend import cuda as _backend


def is_available() -> bool:
    """True when CuPy imports and sees at least one NVIDIA GPU."""
    return _backend.is_available()


def device_count() -> int:
    return _backend.device_count()


def current_device() -> int:
    return _backend.current_device_index()


def set_device(device) -> None:
    from ember.backend.device import Device
    index = device if isinstance(device, int) else Device(device).index or 0
    _backend.cupy().cuda.Device(index).use()


def get_device_name(device=None) -> str:
    cp = _backend.cupy()
    index = 0 if device is None else (device if isinstance(device, int) else device.index or 0)
    props = cp.cuda.runtime.getDeviceProperties(index)
    name = props["name"]
    return name.decode() if isinstance(name, bytes) else name


def synchronize(device=None) -> None:
    if is_available():
        _backend.cupy().cuda.Device().synchronize()


def manual_seed(seed: int) -> None:
    from ember import random
    for gen in random._cuda_generators.values():
        gen.manual_seed(seed)


def manual_seed_all(seed: int) -> None:
    manual_seed(seed)


def is_initialized() -> bool:
    return is_available()


def empty_cache() -> None:
    if is_available():
        _backend.cupy().get_default_memory_pool().free_all_blocks()


def memory_allocated(device=None) -> int:
    if not is_available():
        return 0
    return _backend.cupy().get_default_memory_pool().used_bytes()
