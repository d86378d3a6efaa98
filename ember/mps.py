"""``torch.mps``: Apple's Metal GPUs, which ember has no backend for (``ember.backends.mps``
says the same). Availability queries answer no; seeding, synchronizing and cache calls do
nothing, as the ``ember.xpu`` ones do."""
from __future__ import annotations

from ember.xpu import device_count, empty_cache, is_available, manual_seed, seed, synchronize

__all__ = ["current_allocated_memory", "device_count", "driver_allocated_memory", "empty_cache",
           "is_available", "manual_seed", "recommended_max_memory", "seed", "synchronize"]


def current_allocated_memory() -> int:
    return 0


def driver_allocated_memory() -> int:
    return 0


def recommended_max_memory() -> int:
    return 0
