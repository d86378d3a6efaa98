"""``torch.cpu``: the CPU as a device module (always available, one device, synchronous), so
that device-agnostic code can call ``torch.<device type>.X`` for any device; its streams and
events exist for that code and do nothing."""
from __future__ import annotations

import os
import platform
from typing import Any

__all__ = ["Event", "Stream", "StreamContext", "amp", "current_device", "current_stream",
           "device_count", "get_capabilities", "is_available", "is_initialized", "set_device",
           "stream", "synchronize"]


def is_available() -> bool:
    return True


def device_count() -> int:
    return 1


def current_device() -> str:
    return "cpu"


def synchronize(device=None) -> None:
    """CPU work is synchronous: nothing to wait for."""


def is_initialized() -> bool:
    return True


def set_device(device) -> None:
    """The CPU is the only CPU device: nothing to choose."""


class Stream:
    """A CPU "stream" (work runs in order as it is called): for device-agnostic code."""

    def __init__(self, priority: int = -1) -> None:
        self.priority = priority

    def wait_stream(self, stream: Stream) -> None:
        pass

    def record_event(self) -> None:
        pass

    def wait_event(self, event: Event) -> None:
        pass


class Event:
    """A CPU "event": always complete."""

    def query(self) -> bool:
        return True

    def record(self, stream: Stream | None = None) -> None:
        pass

    def synchronize(self) -> None:
        pass

    def wait(self, stream: Stream | None = None) -> None:
        pass


_default_stream = Stream()
_current_stream = _default_stream


def current_stream(device=None) -> Stream:
    """The stream made current by :func:`stream` (the default one outside it)."""
    return _current_stream


class StreamContext:
    """Makes ``stream`` current inside the block (None: no change)."""

    def __init__(self, stream: Stream | None) -> None:
        self.stream = stream
        self.prev_stream = _default_stream

    def __enter__(self) -> None:
        global _current_stream
        if self.stream is not None:
            self.prev_stream, _current_stream = _current_stream, self.stream

    def __exit__(self, *exc) -> None:
        global _current_stream
        if self.stream is not None:
            _current_stream = self.prev_stream


def stream(stream: Stream | None) -> StreamContext:
    """``with ember.cpu.stream(s):`` makes ``s`` the current CPU stream."""
    return StreamContext(stream)


def _isa_name(numpy_name: str) -> str:
    """NumPy's name of an x86 extension as PyTorch spells it ('AVX512BW' -> 'avx512_bw')."""
    if numpy_name.startswith("AVX512") and numpy_name != "AVX512":
        return "avx512_" + numpy_name[6:].lower()
    return {"SSE41": "sse4_1", "SSE42": "sse4_2"}.get(numpy_name, numpy_name.lower())


def get_capabilities() -> dict[str, Any]:
    """The CPU's architecture, logical core count and the instruction-set extensions NumPy
    detects (PyTorch's names: ``avx2``, ``avx512_f``, ``fma3``...; PyTorch also reports
    cache sizes and socket counts, which ember does not know)."""
    from numpy._core._multiarray_umath import __cpu_features__
    capabilities: dict[str, Any] = {_isa_name(k): v for k, v in __cpu_features__.items()
                                    if not k.startswith(("X86_V", "AVX512_"))}
    capabilities["architecture"] = platform.machine()
    capabilities["num_logical_cores"] = os.cpu_count()
    return capabilities


class amp:
    """``torch.cpu.amp``: PyTorch's older spelling of ``ember.autocast("cpu")``."""

    @staticmethod
    def autocast(enabled: bool = True, dtype=None, cache_enabled=None):
        from ember.amp import autocast
        return autocast("cpu", dtype=dtype, enabled=enabled)
