"""Op-table rows for the remaining ops of the op families: nan-reductions, scans, counting,
searching, stacking, diagonals and more products."""
from __future__ import annotations

import numpy as np
import scipy.special as sp
from samples import BOOL, F64, FLOAT, I64, NUM, OpInfo, S, arr, m, nc


def _x(dt, rng):
    return [S(arr(rng, (3, 4), dt)), S(nc(rng, (3, 4), dt))]


def _with_nan(dt, rng):
    x = arr(rng, (3, 4), dt)
    x[0, 1] = x[2, 3] = np.nan
    return [S(x), S(x, 1), S(x, 0, True)]


def _cum_extreme_ref(fn):
    def ref(x, dim):
        v = fn.accumulate(x, axis=dim)
        idx = np.zeros(x.shape, np.int64)
        for i in np.ndindex(x.shape):
            line = [slice(None)] * x.ndim
            line[dim] = slice(0, i[dim] + 1)
            seg = np.moveaxis(x[tuple(line)], dim, -1)[tuple(j for k, j in enumerate(i)
                                                             if k != dim)]
            idx[i] = len(seg) - 1 - np.argmax(seg[::-1] == v[i])  # the last of the ties
        return v, idx
    return ref


def _stack_samples(dt, rng):
    return [S([arr(rng, (2, 3), dt), arr(rng, (2, 3), dt)]),
            S([arr(rng, (3,), dt), arr(rng, (3,), dt)])]


def _diff_ref(x, n=1, dim=-1, prepend=None, append=None):
    return np.diff(x, n, dim, **({} if prepend is None else {"prepend": prepend}),
                   **({} if append is None else {"append": append}))


def _searchsorted_samples(dt, rng):
    seq = np.sort(arr(rng, (6,), dt))
    return [S(seq, arr(rng, (2, 3), dt)), S(seq, arr(rng, (4,), dt), right=True)]


def _unique_samples(dt, rng):
    return [S(arr(rng, (3, 4), dt, (0, 3)))]


ROWS = [
    OpInfo("nansum", m("nansum"), lambda x, d=None, k=False: np.nansum(x, d, keepdims=k),
           _with_nan, FLOAT),
    OpInfo("nanmean", m("nanmean"), lambda x, d=None, k=False: np.nanmean(x, d, keepdims=k),
           _with_nan, FLOAT),
    OpInfo("cummax", m("cummax"), _cum_extreme_ref(np.maximum),
           lambda dt, rng: [S(arr(rng, (3, 4), dt), 1), S(arr(rng, (3, 4), dt), 0)], FLOAT),
    OpInfo("cummin", m("cummin"), _cum_extreme_ref(np.minimum),
           lambda dt, rng: [S(arr(rng, (3, 4), dt), 1)], FLOAT),
    OpInfo("logcumsumexp", m("logcumsumexp"),
           lambda x, d: np.log(np.cumsum(np.exp(x), d)),
           lambda dt, rng: [S(arr(rng, (3, 4), dt), 1), S(nc(rng, (3, 4), dt), 0)], FLOAT),
    OpInfo("diff", m("diff"), _diff_ref,
           lambda dt, rng: [S(arr(rng, (3, 4), dt)), S(arr(rng, (3, 4), dt), 2, 0),
                            S(arr(rng, (3, 4), dt), 1, 1, prepend=arr(rng, (3, 1), dt),
                              append=arr(rng, (3, 2), dt))], NUM),
    OpInfo("count_nonzero", m("count_nonzero"), lambda x, d=None: np.count_nonzero(x, d),
           lambda dt, rng: [S(arr(rng, (3, 4), dt, (-1, 1))), S(arr(rng, (3, 4), dt, (-1, 1)),
                                                                  1)], NUM + (BOOL,),
           grad=False),
    OpInfo("searchsorted", m("searchsorted"),
           lambda s, v, right=False: np.searchsorted(s, v, "right" if right else "left"),
           _searchsorted_samples, FLOAT + (I64,), grad=False),
    OpInfo("bucketize", m("bucketize"), lambda v, b: np.searchsorted(b, v),
           lambda dt, rng: [S(arr(rng, (2, 3), dt), np.sort(arr(rng, (5,), dt)))], FLOAT,
           grad=False),
    OpInfo("bincount", m("bincount"), np.bincount,
           lambda dt, rng: [S(arr(rng, (7,), dt, (0, 5))),
                            S(arr(rng, (7,), dt, (0, 5)), arr(rng, (7,), F64)),
                            S(arr(rng, (4,), dt, (0, 2)), minlength=6)], (I64,), grad=False),
    OpInfo("unique", lambda lib, x: lib.unique(x, return_inverse=True, return_counts=True),
           lambda x: np.unique(x, return_inverse=True, return_counts=True),
           _unique_samples, (I64,), grad=False),
    OpInfo("unique_consecutive", lambda lib, x: lib.unique_consecutive(x, return_counts=True),
           lambda x: (x[np.r_[True, x[1:] != x[:-1]]],
                      np.diff(np.r_[np.flatnonzero(np.r_[True, x[1:] != x[:-1]]), x.size])),
           lambda dt, rng: [S(np.array([1, 1, 2, 2, 2, 3, 1, 1], dt))], (I64,), grad=False),
    OpInfo("hstack", m("hstack"), np.hstack, _stack_samples, FLOAT),
    OpInfo("vstack", m("vstack"), np.vstack, _stack_samples, FLOAT),
    OpInfo("dstack", m("dstack"), np.dstack, _stack_samples, FLOAT),
    OpInfo("column_stack", m("column_stack"), np.column_stack, _stack_samples, FLOAT),
    OpInfo("rot90", m("rot90"), lambda x, k=1, dims=(0, 1): np.rot90(x, k, dims),
           lambda dt, rng: [S(arr(rng, (3, 4), dt)), S(arr(rng, (3, 4), dt), 2),
                            S(arr(rng, (2, 3, 4), dt), -1, (1, 2)), S(arr(rng, (3, 4), dt), 3)],
           FLOAT),
    OpInfo("diag_embed", m("diag_embed"),
           lambda x, o=0: np.stack([np.diag(r, o) for r in x.reshape(-1, x.shape[-1])]
                                   ).reshape(x.shape[:-1] + (x.shape[-1] + abs(o),) * 2),
           lambda dt, rng: [S(arr(rng, (2, 3), dt)), S(arr(rng, (2, 3), dt), 1),
                            S(arr(rng, (3,), dt), -1)], FLOAT),
    OpInfo("diagflat", m("diagflat"), np.diagflat,
           lambda dt, rng: [S(arr(rng, (2, 2), dt)), S(arr(rng, (3,), dt), 1)], FLOAT),
    OpInfo("addmv", lambda lib, i, a, v: lib.addmv(i, a, v, beta=0.5, alpha=2),
           lambda i, a, v: 0.5 * i + 2 * a @ v,
           lambda dt, rng: [S(arr(rng, (2,), dt), arr(rng, (2, 3), dt), arr(rng, (3,), dt))],
           FLOAT),
    OpInfo("addr", m("addr"), lambda i, a, b: i + np.outer(a, b),
           lambda dt, rng: [S(arr(rng, (2, 3), dt), arr(rng, (2,), dt), arr(rng, (3,), dt))],
           FLOAT),
    OpInfo("addbmm", m("addbmm"), lambda i, a, b: i + (a @ b).sum(0),
           lambda dt, rng: [S(arr(rng, (2, 4), dt), arr(rng, (3, 2, 3), dt),
                              arr(rng, (3, 3, 4), dt))], FLOAT),
    OpInfo("inner", m("inner"), np.inner,
           lambda dt, rng: [S(arr(rng, (3,), dt), arr(rng, (3,), dt)),
                            S(arr(rng, (2, 3), dt), arr(rng, (4, 3), dt)),
                            S(arr(rng, (2, 2, 3), dt), arr(rng, (4, 3), dt))], FLOAT),
    OpInfo("matrix_power", m("matrix_power"), np.linalg.matrix_power,
           lambda dt, rng: [S(arr(rng, (3, 3), dt), 3), S(arr(rng, (2, 3, 3), dt), 0),
                            S(arr(rng, (3, 3), dt, (-1, 1)) + 3 * np.eye(3, dtype=dt), -2)],
           FLOAT, rtol=1e-4),
    OpInfo("multi_dot", lambda lib, a, b, c: lib.linalg.multi_dot([a, b, c]),
           lambda a, b, c: a @ b @ c,
           lambda dt, rng: [S(arr(rng, (2, 3), dt), arr(rng, (3, 4), dt), arr(rng, (4, 2), dt)),
                            S(arr(rng, (3,), dt), arr(rng, (3, 4), dt), arr(rng, (4,), dt))],
           FLOAT),
    OpInfo("vector_norm", lambda lib, x, *a, **k: lib.linalg.vector_norm(x, *a, **k),
           lambda x, o=2, dim=None, keepdim=False: np.sum(np.abs(x) ** o, axis=dim,
                                                          keepdims=keepdim) ** (1 / o),
           lambda dt, rng: [S(arr(rng, (3, 4), dt)), S(arr(rng, (3, 4), dt), 3, 1),
                            S(arr(rng, (3, 4), dt), 1, (0, 1), True)], FLOAT),
    OpInfo("matrix_norm", lambda lib, x: lib.linalg.matrix_norm(x),
           lambda x: np.sqrt((x * x).sum((-2, -1))),
           lambda dt, rng: [S(arr(rng, (3, 4), dt)), S(arr(rng, (2, 3, 4), dt))], FLOAT),
    OpInfo("slogdet", m("slogdet"), np.linalg.slogdet,
           lambda dt, rng: [S(arr(rng, (3, 3), dt, (-1, 1)) + 3 * np.eye(3, dtype=dt)),
                            S(arr(rng, (3, 3), dt, (-1, 1)) - 3 * np.eye(3, dtype=dt))], FLOAT,
           rtol=1e-4),
    OpInfo("logdet", m("logdet"), lambda x: np.log(np.linalg.det(x)),
           lambda dt, rng: [S(arr(rng, (3, 3), dt, (-1, 1)) + 3 * np.eye(3, dtype=dt))], FLOAT,
           rtol=1e-4),
    OpInfo("xlogy", m("xlogy"), sp.xlogy,
           lambda dt, rng: [S(arr(rng, (3, 4), dt, (0, 2)), arr(rng, (3, 4), dt, (0.5, 2)))],
           FLOAT),
    OpInfo("logaddexp", m("logaddexp"), np.logaddexp,
           lambda dt, rng: [S(arr(rng, (3, 4), dt), arr(rng, (4,), dt))], FLOAT),
    OpInfo("nan_to_num", m("nan_to_num"), np.nan_to_num,
           lambda dt, rng: [S(np.array([1.0, np.nan, 2.0], dt))], FLOAT),
    OpInfo("frac_method", lambda lib, x: x.frac(), lambda x: x - np.trunc(x),
           lambda dt, rng: _x(dt, rng), FLOAT),
    OpInfo("fmod_float", m("fmod"), np.fmod,
           lambda dt, rng: [S(arr(rng, (3, 4), dt, (-5, 5)), 1.5)], FLOAT),
    OpInfo("softmax", lambda lib, x, d: lib.softmax(x, d), lambda x, d: sp.softmax(x, d),
           lambda dt, rng: [S(arr(rng, (3, 4), dt), 1), S(nc(rng, (3, 4), dt), 0)], FLOAT),
    OpInfo("log_softmax", lambda lib, x, d: lib.log_softmax(x, d),
           lambda x, d: sp.log_softmax(x, d),
           lambda dt, rng: [S(arr(rng, (3, 4), dt), 1), S(nc(rng, (3, 4), dt), 0)], FLOAT),
    # Ties: the smallest of the most frequent values, at its last position (as PyTorch).
    OpInfo("mode", m("mode"), lambda x, d=-1: (np.array([1, 0]), np.array([2, 3])),
           lambda dt, rng: [S(np.array([[1, 1, 1, 2], [2, 2, 0, 0]], dt))], (I64,), grad=False),
]
