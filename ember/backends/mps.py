"""``ember.backends.mps``: Apple's Metal backend, which ember does not have."""
from __future__ import annotations


def is_available() -> bool:
    """Always False: ember has no MPS device."""
    return False


def is_built() -> bool:
    """Always False: ember is not built with MPS."""
    return False
