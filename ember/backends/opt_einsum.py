"""``ember.backends.opt_einsum``: whether ``einsum`` orders its contractions with the
opt_einsum package. ember's einsum contracts through NumPy's (or CuPy's) own path search, so
the switches are recorded, and report opt_einsum as PyTorch does: available when installed."""
from __future__ import annotations

import importlib.util

enabled = True
strategy = "auto" if importlib.util.find_spec("opt_einsum") is not None else None


def is_available() -> bool:
    return importlib.util.find_spec("opt_einsum") is not None


def get_opt_einsum():
    """The opt_einsum package when it is installed, else None."""
    if not is_available():
        return None
    import opt_einsum
    return opt_einsum
