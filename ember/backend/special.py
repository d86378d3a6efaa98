"""Special functions (erf, lgamma, ...) of the array module: SciPy's or CuPy's, loaded on use."""
from __future__ import annotations

import numpy as np


def special(xp):
    if xp is np:
        import scipy.special
        return scipy.special
    import cupyx.scipy.special
    return cupyx.scipy.special


def scatter_add(xp, target, index, values) -> None:
    """target[index] += values, accumulating repeated indices (np.add.at / cupyx.scatter_add)."""
    if xp is np:
        np.add.at(target, index, values)
    else:
        import cupyx
        cupyx.scatter_add(target, index, values)
