"""``ember.accelerator``: the current accelerator (CUDA when CuPy sees a GPU), as in PyTorch."""
from __future__ import annotations

from ember.backend import cuda as _cuda
from ember.backend.device import Device


def is_available() -> bool:
    return _cuda.is_available()


def current_accelerator(check_available: bool = False):
    """``device(type='cuda')`` when a GPU is usable, else None."""
    return Device("cuda") if _cuda.is_available() else None


def device_count() -> int:
    return _cuda.device_count()


def synchronize(device=None) -> None:
    if _cuda.is_available():
        _cuda.cupy().cuda.Device().synchronize()
