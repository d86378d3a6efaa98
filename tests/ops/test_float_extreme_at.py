"""The exact float maximum/minimum ``.at`` used on CuPy (integer keys with the floats' order),
run here on NumPy arrays against NumPy's own ``ufunc.at``."""
import numpy as np
import pytest

from ember.backend.special import _float_extreme_at


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_float_extreme_at_matches_numpy(dtype, name):
    rng = np.random.default_rng(0)
    target = rng.standard_normal(7).astype(dtype)
    target[2], target[5] = -0.0, np.nan
    index = rng.integers(0, 7, 20)
    values = rng.standard_normal(20).astype(dtype)
    values[3], values[4], values[6] = np.nan, -np.inf, np.inf
    want, got = target.copy(), target.copy()
    with np.errstate(invalid="ignore"):
        getattr(np, name).at(want, index, values)
    _float_extreme_at(np, name, got, index, values)
    assert np.array_equal(want, got, equal_nan=True)
    assert np.array_equal(np.signbit(want), np.signbit(got))

    grid = rng.standard_normal((3, 4)).astype(dtype)
    where = (rng.integers(0, 3, 5), rng.integers(0, 4, 5))
    want, got = grid.copy(), grid.copy()
    getattr(np, name).at(want, where, dtype(0.5))
    _float_extreme_at(np, name, got, where, 0.5)
    assert np.array_equal(want, got)
