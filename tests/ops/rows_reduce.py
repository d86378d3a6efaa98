"""Op-table rows: reductions with dim/keepdim, scans, sorting and selection."""
from __future__ import annotations

import numpy as np
import scipy.special as sp
from samples import BOOL, F64, FLOAT, I32, I64, NUM, OpInfo, S, arr, m, nc, sliced


def _reduce_samples(domain=(-2.0, 2.0), multi_dim=True):
    def gen(dt, rng):
        x = arr(rng, (2, 3, 4), dt, domain)
        out = [S(x), S(x, 1), S(x, -1, True), S(arr(rng, (), dt, domain)),
               S(arr(rng, (), dt, domain), 0), S(nc(rng, (3, 4), dt, domain), 0),
               S(sliced(rng, (3, 4), dt, domain), 1, True)]
        if multi_dim:
            out += [S(x, (0, 2)), S(x, (0, 2), True), S(x, [-1, 0])]
        return out
    return gen


def _dim_samples(domain=(-2.0, 2.0)):
    """Samples for ops whose dim is a single int and required."""
    def gen(dt, rng):
        x = arr(rng, (2, 3, 4), dt, domain)
        return [S(x, 1), S(x, -1), S(x, 0), S(nc(rng, (3, 4), dt, domain), 1),
                S(sliced(rng, (3, 4), dt, domain), 0), S(arr(rng, (5,), dt, domain), 0)]
    return gen


def _sum_ref(x, dim=None, keepdim=False, dtype=None):
    out = np.sum(x, axis=_axis(dim, x), keepdims=keepdim)
    return out.astype(np.int64) if x.dtype.kind in "biu" else out


def _axis(dim, x=None):
    if x is not None and x.ndim == 0:  # PyTorch accepts dim 0 / -1 on a 0-d tensor
        return None
    return tuple(dim) if isinstance(dim, list) else dim


def _max_ref(fn, argfn):
    def ref(x, dim=None, keepdim=False):
        if dim is None:
            return fn(x)
        return (fn(x, axis=dim, keepdims=keepdim), argfn(x, axis=dim, keepdims=keepdim))
    return ref


def _var_ref(root):
    def ref(x, dim=None, *, correction=1, keepdim=False):
        out = np.var(x, axis=_axis(dim), ddof=correction, keepdims=keepdim)
        return np.sqrt(out) if root else out
    return ref


def _var_samples(dt, rng):
    x = arr(rng, (2, 3, 4), dt)
    return [S(x), S(x, 1), S(x, 1, keepdim=True), S(x, (0, 2)), S(x, correction=0),
            S(x, -1, correction=2, keepdim=True), S(nc(rng, (3, 4), dt), 0, correction=0),
            S(x, [0, 1], correction=1)]


def _norm_ref(x, p="fro", dim=None, keepdim=False):
    a = np.abs(x.astype(F64))
    axis = _axis(dim)
    if p == np.inf:
        return np.max(a, axis=axis, keepdims=keepdim)
    if p == "fro":
        p = 2
    return np.sum(a ** p, axis=axis, keepdims=keepdim) ** (1.0 / p)


def _norm_samples(dt, rng):
    x = arr(rng, (2, 3, 4), dt)
    return [S(x), S(x, 1), S(x, 2, 1), S(x, np.inf), S(x, 3, (0, 2)), S(x, "fro", (1, 2)),
            S(x, 1, -1, True), S(x, np.inf, 0), S(nc(rng, (3, 4), dt), 3, 1),
            S(arr(rng, (), dt), 2), S(x, 2, None, True)]


def _lse_ref(x, dim, keepdim=False):
    return sp.logsumexp(x.astype(F64), axis=_axis(dim, x), keepdims=keepdim)


def _cum_ref(fn):
    def ref(x, dim):
        out = fn(x, axis=dim) if x.ndim else x
        return out.astype(np.int64) if x.dtype.kind in "biu" else out
    return ref


def _cumprod_samples(dt, rng):
    x = arr(rng, (2, 3, 4), dt, (0.5, 1.5))
    x_zero = arr(rng, (3, 4), dt, (0.5, 1.5))
    x_zero[1, 2] = 0
    return [S(x, 1), S(x, -1), S(nc(rng, (3, 4), dt, (0.5, 1.5)), 0), S(x_zero, 1),
            S(x_zero, 0), S(arr(rng, (), dt), 0)]


def _prod_samples(dt, rng):
    x = arr(rng, (2, 3, 4), dt, (0.5, 1.5))
    x_zero = arr(rng, (3, 4), dt, (0.5, 1.5))
    x_zero[1, 2] = 0
    return [S(x), S(x, 1), S(x, -1, True), S(nc(rng, (3, 4), dt, (0.5, 1.5)), 0),
            S(x_zero, 1), S(x_zero), S(arr(rng, (), dt), 0)]


def _prod_ref(x, dim=None, keepdim=False):
    out = np.prod(x, axis=dim, keepdims=keepdim)
    return out.astype(np.int64) if x.dtype.kind in "biu" else out


def _median_ref(x, dim=None, keepdim=False):
    if dim is None:
        flat = np.sort(x.reshape(-1))
        return flat[(flat.size - 1) // 2]
    k = (x.shape[dim] - 1) // 2
    return _kth_ref(x, k + 1, dim, keepdim)


def _kth_ref(x, k, dim=-1, keepdim=False):
    idx = np.take(np.argsort(x, axis=dim, kind="stable"), [k - 1], axis=dim)
    v = np.take_along_axis(x, idx, dim)
    if not keepdim:
        v, idx = v.squeeze(dim), idx.squeeze(dim)
    return v, idx


def _sort_ref(x, dim=-1, descending=False):
    idx = np.argsort(-x if descending else x, axis=dim, kind="stable")
    return np.take_along_axis(x, idx, dim), idx


def _topk_ref(x, k, dim=-1, largest=True):
    idx = np.argsort(-x if largest else x, axis=dim, kind="stable")
    idx = np.take(idx, np.arange(k), axis=dim)
    return np.take_along_axis(x, idx, dim), idx


def _sort_samples(dt, rng):
    x = arr(rng, (2, 3, 4), dt)
    return [S(x), S(x, 0), S(x, 1, True), S(nc(rng, (3, 4), dt), -1, True),
            S(arr(rng, (5,), dt), 0)]


def _topk_samples(dt, rng):
    x = arr(rng, (2, 3, 4), dt)
    return [S(x, 2), S(x, 1, 0), S(x, 3, 1, False), S(nc(rng, (3, 4), dt), 2, 0),
            S(arr(rng, (5,), dt), 5)]


def _kth_samples(dt, rng):
    x = arr(rng, (2, 3, 4), dt)
    return [S(x, 2), S(x, 1, 0), S(x, 3, 1, True), S(nc(rng, (3, 4), dt), 2, 0),
            S(arr(rng, (5,), dt), 5, 0)]


def _median_samples(dt, rng):
    x = arr(rng, (2, 3, 4), dt)
    return [S(x), S(x, 1), S(x, -1, True), S(nc(rng, (3, 4), dt), 0), S(arr(rng, (5,), dt))]


ROWS = [
    OpInfo("sum", m("sum"), _sum_ref, _reduce_samples(), NUM + (BOOL,)),
    OpInfo("sum_dtype", lambda lib, x: lib.sum(x, 0, dtype=lib.float64),
           lambda x: np.sum(x, 0, dtype=F64), lambda dt, rng: [S(arr(rng, (3, 4), dt))],
           (np.dtype("float32"), I32), grad=False),
    OpInfo("mean", m("mean"), lambda x, dim=None, keepdim=False:
           np.mean(x, axis=_axis(dim, x), keepdims=keepdim), _reduce_samples(), FLOAT),
    OpInfo("prod", m("prod"), _prod_ref, _prod_samples, NUM),
    OpInfo("max", m("max"), _max_ref(np.max, np.argmax),
           lambda dt, rng: _reduce_samples(multi_dim=False)(dt, rng)[:3] +
           _reduce_samples(multi_dim=False)(dt, rng)[5:], FLOAT),
    OpInfo("min", m("min"), _max_ref(np.min, np.argmin),
           lambda dt, rng: _reduce_samples(multi_dim=False)(dt, rng)[:3] +
           _reduce_samples(multi_dim=False)(dt, rng)[5:], FLOAT),
    OpInfo("max_0d", m("max"), lambda x, dim: (x, np.array(0)),
           lambda dt, rng: [S(arr(rng, (), dt), 0)], FLOAT),
    OpInfo("max_binary", m("max"), np.maximum,
           lambda dt, rng: [S(arr(rng, (3, 4), dt), arr(rng, (4,), dt))], FLOAT),
    OpInfo("amax", m("amax"), lambda x, dim=None, keepdim=False:
           np.max(x, axis=_axis(dim, x), keepdims=keepdim), _reduce_samples(), NUM),
    OpInfo("amin", m("amin"), lambda x, dim=None, keepdim=False:
           np.min(x, axis=_axis(dim, x), keepdims=keepdim), _reduce_samples(), NUM),
    OpInfo("argmax", m("argmax"), lambda x, dim=None, keepdim=False:
           np.argmax(x, axis=_axis(dim, x), keepdims=keepdim),
           _reduce_samples(multi_dim=False), FLOAT, grad=False),
    OpInfo("argmin", m("argmin"), lambda x, dim=None, keepdim=False:
           np.argmin(x, axis=_axis(dim, x), keepdims=keepdim),
           _reduce_samples(multi_dim=False), FLOAT, grad=False),
    OpInfo("var", m("var"), _var_ref(False), _var_samples, FLOAT),
    OpInfo("std", m("std"), _var_ref(True), _var_samples, FLOAT),
    OpInfo("var_unbiased", lambda lib, x: lib.var(x, 1, unbiased=False),
           lambda x: np.var(x, 1), lambda dt, rng: [S(arr(rng, (3, 4), dt))], FLOAT),
    OpInfo("norm", m("norm"), _norm_ref, _norm_samples, FLOAT),
    OpInfo("logsumexp", m("logsumexp"), _lse_ref,
           lambda dt, rng: _reduce_samples()(dt, rng)[1:3] + _reduce_samples()(dt, rng)[4:],
           FLOAT + (I64,)),
    OpInfo("all", m("all"), lambda x, dim=None, keepdim=False:
           np.all(x, axis=_axis(dim, x), keepdims=keepdim),
           _reduce_samples(multi_dim=False), NUM + (BOOL,), grad=False),
    OpInfo("any", m("any"), lambda x, dim=None, keepdim=False:
           np.any(x, axis=_axis(dim, x), keepdims=keepdim),
           _reduce_samples(multi_dim=False), NUM + (BOOL,), grad=False),
    OpInfo("cumsum", m("cumsum"), _cum_ref(np.cumsum), _dim_samples(), NUM + (BOOL,)),
    OpInfo("cumprod", m("cumprod"), _cum_ref(np.cumprod), _cumprod_samples, FLOAT + (I64,)),
    OpInfo("median", m("median"), _median_ref, _median_samples, FLOAT),
    OpInfo("sort", m("sort"), _sort_ref, _sort_samples, FLOAT),
    OpInfo("argsort", m("argsort"), lambda *a: _sort_ref(*a)[1], _sort_samples, FLOAT,
           grad=False),
    OpInfo("topk", m("topk"), _topk_ref, _topk_samples, FLOAT),
    OpInfo("kthvalue", m("kthvalue"), _kth_ref, _kth_samples, FLOAT),
    OpInfo("sum_int32", m("sum"), _sum_ref, lambda dt, rng: [S(arr(rng, (3, 4), dt), 1)],
           (I32,), grad=False),
]


def _kw_samples(dt, rng):
    return [S(arr(rng, (2, 3, 4), dt)), S(nc(rng, (3, 4), dt))]


# Keyword and method forms: the same ops reached as PyTorch code usually writes them.
METHODS = [
    OpInfo("sum_kw", lambda lib, x: x.sum(dim=1, keepdim=True),
           lambda x: x.sum(axis=1, keepdims=True), _kw_samples),
    OpInfo("mean_kw", lambda lib, x: lib.mean(x, dim=(0, -1)), lambda x: x.mean((0, -1)),
           lambda dt, rng: _kw_samples(dt, rng)[:1]),
    OpInfo("max_kw", lambda lib, x: x.max(dim=0), lambda x: (x.max(0), x.argmax(0)),
           _kw_samples),
    OpInfo("max_keepdim_kw", lambda lib, x: lib.max(x, dim=-1, keepdim=True).values,
           lambda x: x.max(-1, keepdims=True), _kw_samples),
    OpInfo("min_indices", lambda lib, x: x.min(1)[1], lambda x: x.argmin(1), _kw_samples,
           grad=False),
    OpInfo("std_kw", lambda lib, x: x.std(dim=1, correction=0, keepdim=True),
           lambda x: x.std(1, keepdims=True), _kw_samples),
    OpInfo("var_unbiased_positional", lambda lib, x: x.var(0, False), lambda x: x.var(0),
           _kw_samples),
    OpInfo("norm_kw", lambda lib, x: x.norm(p=1, dim=1), lambda x: np.abs(x).sum(1),
           _kw_samples),
    OpInfo("topk_kw", lambda lib, x: lib.topk(x, k=2, dim=0, largest=False),
           lambda x: _topk_ref(x, 2, 0, False), _kw_samples),
    OpInfo("sort_kw", lambda lib, x: x.sort(dim=0, descending=True),
           lambda x: _sort_ref(x, 0, True), _kw_samples),
    OpInfo("cumsum_kw", lambda lib, x: x.cumsum(dim=-1), lambda x: x.cumsum(-1), _kw_samples),
    OpInfo("logsumexp_kw", lambda lib, x: x.logsumexp(dim=1, keepdim=True),
           lambda x: sp.logsumexp(x, 1, keepdims=True), _kw_samples),
    OpInfo("amax_kw", lambda lib, x: x.amax(dim=(0, 1)), lambda x: x.max((0, 1)), _kw_samples),
    OpInfo("argmax_kw", lambda lib, x: x.argmax(dim=1, keepdim=True),
           lambda x: x.argmax(1, keepdims=True), _kw_samples, grad=False),
    OpInfo("prod_kw", lambda lib, x: x.prod(dim=1, keepdim=True),
           lambda x: x.prod(1, keepdims=True), _kw_samples),
    OpInfo("median_kw", lambda lib, x: x.median(dim=0).values,
           lambda x: _median_ref(x, 0)[0], _kw_samples),
    OpInfo("all_kw", lambda lib, x: (x > 0).all(dim=1), lambda x: (x > 0).all(1), _kw_samples,
           grad=False),
    OpInfo("any_method", lambda lib, x: (x > 1).any(), lambda x: (x > 1).any(), _kw_samples,
           grad=False),
    OpInfo("sum_int8_method", lambda lib, x: x.sum(), lambda x: x.sum(dtype=np.int64),
           lambda dt, rng: [S(arr(rng, (3, 4), np.int8, (-100, 100)))], (I32,), grad=False),
]

ROWS += METHODS
