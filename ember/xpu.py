"""``torch.xpu``: Intel GPUs, which ember has no backend for. Scripts that probe for an
accelerator (``torch.xpu.is_available()``) find none, and the housekeeping calls they make
unconditionally (seeding, synchronizing, emptying the cache) do nothing."""
from __future__ import annotations

__all__ = ["device_count", "empty_cache", "is_available", "is_initialized", "manual_seed",
           "manual_seed_all", "memory_allocated", "seed", "seed_all", "synchronize"]


def is_available() -> bool:
    return False


def is_initialized() -> bool:
    return False


def device_count() -> int:
    return 0


def synchronize(device=None) -> None:
    """Nothing to wait for: no device runs work."""


def manual_seed(seed: int) -> None:
    """No device generator to seed (PyTorch also ignores the call without a device)."""


def manual_seed_all(seed: int) -> None:
    """No device generators to seed."""


def seed() -> None:
    """No device generator to seed."""


def seed_all() -> None:
    """No device generators to seed."""


def empty_cache() -> None:
    """No device cache to release."""


def memory_allocated(device=None) -> int:
    return 0
