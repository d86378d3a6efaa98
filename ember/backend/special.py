"""SciPy-level functions of the array module (special functions, linalg beyond the array
module's own): SciPy's or cupyx's, loaded on use."""
from __future__ import annotations

import numpy as np


def special(xp):
    if xp is np:
        import scipy.special
        return scipy.special
    import cupyx.scipy.special
    return cupyx.scipy.special


def linalg(xp):
    """SciPy's linalg for NumPy arrays, cupyx's for CuPy arrays (LU, triangular solves)."""
    if xp is np:
        import scipy.linalg
        return scipy.linalg
    import cupyx.scipy.linalg
    return cupyx.scipy.linalg


def scatter_add(xp, target, index, values) -> None:
    """target[index] += values, accumulating repeated indices (np.add.at / cupyx.scatter_add)."""
    if xp is np:
        np.add.at(target, index, values)
    else:
        import cupyx
        cupyx.scatter_add(target, index, values)
