"""Op-table rows for special values and sizes: NaN, infinities, empty tensors, extreme
magnitudes. Forward only (gradients at such points are conventions, not derivatives)."""
from __future__ import annotations

import numpy as np
import scipy.special as sp
from samples import FLOAT, I64, OpInfo, S, m


def _special(dt, rng):
    return [S(np.array([[1.0, np.nan, -2.0], [np.inf, -np.inf, 0.5]], dt)),
            S(np.array([-0.0, 0.0, 3.0, np.nan], dt))]


def _empty(dt, rng):
    return [S(np.zeros((0, 3), dt)), S(np.zeros((2, 0), dt))]


def _with_dim(dim, keepdim=False):
    def gen(dt, rng):
        return [S(s.args[0], dim, keepdim) for s in _special(dt, rng)[:1]] + \
               [S(np.zeros((0, 3), dt), 1, keepdim)]
    return gen


def _nan_pair(dt, rng):
    a = np.array([1.0, np.nan, 2.0, np.nan, -np.inf], dt)
    b = np.array([np.nan, 1.0, 3.0, np.nan, 0.0], dt)
    return [S(a, b)]


def _reduce_ref(fn):
    def ref(x, dim=None, keepdim=False):
        with np.errstate(all="ignore"):
            return fn(x, axis=dim, keepdims=keepdim)
    return ref


def _quiet(fn):
    def ref(*args, **kwargs):
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)
    return ref


def _sort_ref(x, dim=-1):
    idx = np.argsort(x, axis=dim, kind="stable")
    return np.take_along_axis(x, idx, dim), idx


ROWS = [
    OpInfo(f"edge_{name}", m(name), _quiet(ref), _special, FLOAT, grad=False)
    for name, ref in (("exp", np.exp), ("log", np.log), ("sqrt", np.sqrt),
                      ("sigmoid", lambda x: sp.expit(x)), ("tanh", np.tanh),
                      ("relu", lambda x: np.maximum(x, 0)),
                      ("abs", np.abs), ("floor", np.floor),
                      ("sign", lambda x: np.nan_to_num(np.sign(x))),  # sign(NaN) is 0
                      ("reciprocal", lambda x: 1 / x), ("erf", sp.erf),
                      ("isnan", np.isnan), ("isinf", np.isinf), ("isfinite", np.isfinite),
                      ("nan_to_num", lambda x: np.nan_to_num(x, posinf=np.finfo(x.dtype).max,
                                                             neginf=np.finfo(x.dtype).min)))
] + [
    OpInfo(f"edge_{name}", m(name), _quiet(ref), _nan_pair, FLOAT, grad=False)
    for name, ref in (("maximum", np.maximum), ("minimum", np.minimum), ("fmax", np.fmax),
                      ("fmin", np.fmin), ("eq", np.equal), ("lt", np.less),
                      ("atan2", np.arctan2), ("add", np.add), ("div", np.true_divide))
] + [
    OpInfo("edge_clamp", m("clamp"), lambda x, lo, hi: np.clip(x, lo, hi),
           lambda dt, rng: [S(s.args[0], -1.0, 1.0) for s in _special(dt, rng)], FLOAT,
           grad=False),
    OpInfo("edge_sum", m("sum"), _reduce_ref(np.sum), lambda dt, rng: _special(dt, rng) +
           _empty(dt, rng) + _with_dim(0)(dt, rng), FLOAT, grad=False),
    OpInfo("edge_sum_empty_int", m("sum"), _reduce_ref(np.sum), _empty, (I64,), grad=False),
    OpInfo("edge_prod", m("prod"), _reduce_ref(np.prod), lambda dt, rng: _special(dt, rng) +
           _empty(dt, rng), FLOAT, grad=False),
    OpInfo("edge_mean", m("mean"), _reduce_ref(np.mean), lambda dt, rng: _special(dt, rng) +
           _empty(dt, rng) + _with_dim(1, True)(dt, rng), FLOAT, grad=False),
    OpInfo("edge_amax", m("amax"), _reduce_ref(np.max),
           lambda dt, rng: _special(dt, rng) + [S(np.zeros((0, 3), dt), 1)], FLOAT, grad=False),
    OpInfo("edge_max", m("max"), _reduce_ref(np.max), _special, FLOAT, grad=False),
    OpInfo("edge_max_dim", m("max"), lambda x, d: (np.max(x, d), np.argmax(np.where(
        np.isnan(x), np.inf, x) if False else x, d)),
        lambda dt, rng: [S(np.array([[1.0, 5.0, -2.0], [np.inf, -np.inf, 0.5]], dt), 1)],
        FLOAT, grad=False),
    OpInfo("edge_median", m("median"), lambda x: np.float64("nan"),
           lambda dt, rng: [S(np.zeros((0,), dt)), S(np.array([1.0, np.nan, 2.0], dt))], FLOAT,
           grad=False),
    OpInfo("edge_argmax", m("argmax"), lambda x: np.argmax(x), _special, FLOAT, grad=False),
    OpInfo("edge_logsumexp", m("logsumexp"), lambda x, d: _quiet(sp.logsumexp)(x, d),
           lambda dt, rng: [S(np.array([[-np.inf, -np.inf], [np.inf, 1.0], [1e30, 1e30]], dt),
                              1), S(np.zeros((0, 3), dt), 0)], FLOAT, grad=False),
    OpInfo("edge_cumsum", m("cumsum"), lambda x, d: np.cumsum(x, d),
           lambda dt, rng: [S(s.args[0], 0) for s in _special(dt, rng)] +
           [S(np.zeros((0, 3), dt), 0)], FLOAT, grad=False),
    OpInfo("edge_sort", m("sort"), _sort_ref,
           lambda dt, rng: [S(np.array([3.0, np.nan, -np.inf, 1.0, np.inf], dt)),
                            S(np.zeros((2, 0), dt))], FLOAT, grad=False),
    OpInfo("edge_var", m("var"), lambda x: _quiet(np.var)(x, ddof=1),
           lambda dt, rng: [S(np.array([1.0], dt)), S(np.zeros((0,), dt)),
                            S(np.array([1.0, np.inf], dt))], FLOAT, grad=False),
    OpInfo("edge_norm", m("norm"), _quiet(lambda x: np.sqrt(np.sum(x * x))),
           lambda dt, rng: [S(np.zeros((3,), dt)), S(np.zeros((0,), dt)),
                            S(np.array([1e20, 1e20], dt))], FLOAT, grad=False),
    OpInfo("edge_matmul", m("matmul"), np.matmul,
           lambda dt, rng: [S(np.zeros((2, 0), dt), np.zeros((0, 3), dt)),
                            S(np.zeros((0, 2), dt), np.ones((2,), dt))], FLOAT, grad=False),
]
