"""Op-table rows at kinks and ties, where a gradient is a convention (relu'(0) = 0, ties of
max share or pick, clamp's bounds are inclusive): forward against NumPy, gradients against
PyTorch only (finite differences do not apply there)."""
from __future__ import annotations

import numpy as np
from samples import FLOAT, OpInfo, S, m

F = np.float64


def _as(a, dt):
    """Lists become arrays of ``dt`` (lists of bools stay bool)."""
    if not isinstance(a, list):
        return a
    return np.asarray(a) if isinstance(np.ravel(a)[0], (bool, np.bool_)) else np.asarray(a, dt)


def _k(name, fn, ref, *samples, dtypes=FLOAT):
    return OpInfo(name, fn, ref, lambda dt, rng: [S(*[_as(a, dt) for a in s]) for s in samples],
                  dtypes, gradcheck=False, gradgrad=False)


TIES = [[1.0, 3.0, 3.0], [2.0, 2.0, -1.0]]

ROWS = [
    _k("kink_relu", m("relu"), lambda x: np.maximum(x, 0), ([-1.0, 0.0, 2.0],)),
    _k("kink_abs", m("abs"), np.abs, ([-1.0, 0.0, 2.0],)),
    _k("kink_sign", m("sign"), np.sign, ([-1.0, 0.0, 2.0],)),
    _k("kink_clamp", m("clamp"), np.clip, ([-1.0, 0.0, 1.0, 2.0], 0.0, 1.0)),
    _k("kink_clamp_tensor", m("clamp"), np.clip,
       ([-1.0, 0.0, 1.0, 2.0], [0.0, 0.0, 0.5, 2.0], [1.0, 1.0, 1.0, 2.0])),
    _k("kink_maximum", m("maximum"), np.maximum, ([1.0, 2.0, 3.0], [1.0, 0.0, 3.0])),
    _k("kink_minimum", m("minimum"), np.minimum, ([1.0, 2.0, 3.0], [1.0, 0.0, 3.0])),
    _k("kink_max_all", m("max"), np.max, (TIES,)),
    _k("kink_amax", m("amax"), lambda x, d: np.max(x, d), (TIES, 1), (TIES, 0)),
    _k("kink_amin", m("amin"), lambda x, d: np.min(x, d), (TIES, 1)),
    _k("kink_max_dim", lambda lib, x, d: lib.max(x, d).values, lambda x, d: np.max(x, d),
       (TIES, 1)),
    _k("kink_norm_zero", m("norm"), lambda x, *a: np.sqrt((x * x).sum()),
       ([0.0, 0.0, 0.0],), ([[0.0, 0.0], [0.0, 0.0]], 2)),
    _k("kink_norm_inf_ties", lambda lib, x: lib.norm(x, float("inf")),
       lambda x: np.abs(x).max(), ([1.0, -3.0, 3.0],)),
    _k("kink_norm_1_zero", lambda lib, x: lib.norm(x, 1), lambda x: np.abs(x).sum(),
       ([1.0, 0.0, -3.0],)),
    _k("kink_std_single", lambda lib, x: x.std(), lambda x: np.std(x, ddof=1) if x.size > 1
       else np.float64("nan"), ([1.5],)),
    _k("kink_sqrt_zero", m("sqrt"), np.sqrt, ([0.0, 4.0],)),
    _k("kink_where_nan", lambda lib, c, x: lib.where(c, x, 0.0),
       lambda c, x: np.where(c, x, 0.0), ([True, False], [1.0, np.nan])),
    _k("kink_cumprod_two_zeros", lambda lib, x: x.cumprod(0), lambda x: np.cumprod(x, 0),
       ([2.0, 0.0, 3.0, 0.0, 5.0],)),
    _k("kink_prod_two_zeros", lambda lib, x: x.prod(), np.prod, ([2.0, 0.0, 3.0, 0.0],)),
    _k("kink_prod_one_zero", lambda lib, x: x.prod(0), lambda x: np.prod(x, 0),
       ([[2.0, 0.0], [3.0, 4.0]],)),
    _k("kink_floor_div_grad", lambda lib, x: x.floor(), np.floor, ([1.0, 2.5],)),
    _k("kink_pow_zero_base", lambda lib, x: x ** 2.0, lambda x: x ** 2.0, ([0.0, -1.0],)),
    _k("kink_pow_tensor_zero", lambda lib, x, y: x ** y, np.power, ([0.0, 2.0], [2.0, 0.0])),
    _k("kink_median_ties", lambda lib, x: x.median(), lambda x: np.sort(x)[(x.size - 1) // 2],
       ([1.0, 2.0, 2.0, 3.0],)),
    _k("kink_logsumexp_inf", lambda lib, x: x.logsumexp(0),
       lambda x: np.log(np.exp(x).sum()), ([-np.inf, 0.0],)),
]
