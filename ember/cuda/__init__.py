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


_peak = {"bytes": 0}


def max_memory_allocated(device=None) -> int:
    _peak["bytes"] = max(_peak["bytes"], memory_allocated(device))
    return _peak["bytes"]


def reset_peak_memory_stats(device=None) -> None:
    _peak["bytes"] = memory_allocated(device)


def memory_reserved(device=None) -> int:
    if not is_available():
        return 0
    return _backend.cupy().get_default_memory_pool().total_bytes()


class device:
    """Context manager that makes ``index`` the current CUDA device."""

    def __init__(self, index):
        from ember.backend.device import Device
        self.index = index if isinstance(index, int) else (Device(index).index or 0)

    def __enter__(self):
        self._ctx = _backend.cupy().cuda.Device(self.index)
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._ctx.__exit__(*exc)


class Stream:
    """A CUDA stream (CuPy's), usable with ``ember.cuda.stream(s)``."""

    def __init__(self, device=None, priority: int = 0):
        self._stream = _backend.cupy().cuda.Stream(non_blocking=True)

    def synchronize(self) -> None:
        self._stream.synchronize()

    def wait_stream(self, other: "Stream") -> None:
        self._stream.wait_event(other._stream.record())

    def query(self) -> bool:
        return self._stream.done

    def record_event(self, event=None):
        event = event or Event()
        event.record(self)
        return event


class Event:
    """A CUDA event; ``elapsed_time`` gives milliseconds between two recorded events."""

    def __init__(self, enable_timing: bool = False, blocking: bool = False,
                 interprocess: bool = False):
        self._event = _backend.cupy().cuda.Event(block=blocking,
                                                 disable_timing=not enable_timing)

    def record(self, stream: Stream | None = None) -> None:
        self._event.record(None if stream is None else stream._stream)

    def synchronize(self) -> None:
        self._event.synchronize()

    def query(self) -> bool:
        return self._event.done

    def elapsed_time(self, end_event: "Event") -> float:
        return _backend.cupy().cuda.get_elapsed_time(self._event, end_event._event)


def current_stream(device=None) -> Stream:
    s = Stream.__new__(Stream)
    s._stream = _backend.cupy().cuda.get_current_stream()
    return s


class stream:
    """Context manager that makes ``s`` the current stream."""

    def __init__(self, s: Stream | None):
        self.s = s

    def __enter__(self):
        if self.s is not None:
            self.s._stream.__enter__()
        return self.s

    def __exit__(self, *exc) -> None:
        if self.s is not None:
            self.s._stream.__exit__(*exc)


from ember.amp import GradScaler as _GradScaler  # noqa: E402


class amp:
    """``ember.cuda.amp``: PyTorch's older spelling of ember.amp for CUDA."""

    GradScaler = _GradScaler

    @staticmethod
    def autocast(enabled: bool = True, dtype=None, cache_enabled=None):
        from ember.amp import autocast
        return autocast("cuda", dtype=dtype, enabled=enabled)
