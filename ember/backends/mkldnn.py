"""``ember.backends.mkldnn``: PyTorch's oneDNN switch. ember's CPU kernels are NumPy's and
BLAS's, not oneDNN's, so it is never available; the flag is accepted and recorded."""
from __future__ import annotations

import contextlib

enabled = False


def is_available() -> bool:
    return False


def set_flags(_enabled: bool | None = None, *args, **kwargs) -> tuple:
    """Set ``enabled`` (when given); the previous setting, as a tuple."""
    global enabled
    previous = (enabled,)
    if _enabled is not None:
        enabled = _enabled
    return previous


@contextlib.contextmanager
def flags(enabled: bool = False, *args, **kwargs):
    previous = set_flags(enabled)
    try:
        yield
    finally:
        set_flags(*previous)
