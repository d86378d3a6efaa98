"""``torch.cpu``: the CPU as a device module (always available, one device, synchronous)."""
from __future__ import annotations

import contextlib

__all__ = ["amp", "current_device", "device_count", "is_available", "stream", "synchronize"]


def is_available() -> bool:
    return True


def device_count() -> int:
    return 1


def current_device() -> str:
    return "cpu"


def synchronize(device=None) -> None:
    """CPU work is synchronous: nothing to wait for."""


@contextlib.contextmanager
def stream(stream=None):
    yield


class amp:
    """``torch.cpu.amp``: PyTorch's older spelling of ``ember.autocast("cpu")``."""

    @staticmethod
    def autocast(enabled: bool = True, dtype=None, cache_enabled=None):
        from ember.amp import autocast
        return autocast("cpu", dtype=dtype, enabled=enabled)
