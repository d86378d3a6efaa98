"""``ember.backends.openmp``: ember runs no OpenMP of its own (NumPy's kernels are serial; BLAS
keeps its own threads)."""
from __future__ import annotations


def is_available() -> bool:
    return False
