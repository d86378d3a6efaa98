"""Op-table rows: matrix products, einsum, and the linear-algebra ops."""
from __future__ import annotations

import numpy as np
from samples import FLOAT, I64, OpInfo, S, arr, m, nc

MATMUL_SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)),
                 ((5, 2, 3), (5, 3, 4)), ((5, 2, 3), (3, 4)), ((2, 3), (5, 3, 4)),
                 ((2, 1, 2, 3), (5, 3, 4)), ((3,), (5, 3, 4)), ((5, 2, 3), (3,)),
                 ((0, 3), (3, 2))]


def _matmul_samples(dt, rng):
    out = [S(arr(rng, a, dt), arr(rng, b, dt)) for a, b in MATMUL_SHAPES]
    out.append(S(nc(rng, (2, 3), dt), nc(rng, (3, 4), dt)))
    return out


def _pair(*shapes):
    def gen(dt, rng):
        return [S(*[arr(rng, s, dt) for s in pair]) for pair in shapes]
    return gen


def _well_conditioned(rng, shape, dt):
    a = arr(rng, shape, dt, (-1.0, 1.0))
    return (a + 3 * np.eye(shape[-1])).astype(dt)


def _cross_ref(a, b, dim=None):
    if dim is None:
        dim = next(i for i, s in enumerate(np.broadcast_shapes(a.shape, b.shape)) if s == 3)
    return np.cross(a, b, axis=dim)


def _cdist_ref(a, b, p=2.0, compute_mode=None):
    d = np.abs(a[..., :, None, :] - b[..., None, :, :])
    return (d ** p).sum(-1) ** (1 / p)


def _einsum_samples(dt, rng):
    a = arr(rng, (2, 3), dt)
    return [S("ij,jk->ik", a, arr(rng, (3, 4), dt)), S("bij,bjk->bik", arr(rng, (5, 2, 3), dt),
                                                        arr(rng, (5, 3, 4), dt)),
            S("i,i->", arr(rng, (3,), dt), arr(rng, (3,), dt)), S("ij->ji", a), S("ij->", a),
            S("ij", a), S("ij,kj", a, arr(rng, (4, 3), dt)),
            S("...ij,...jk->...ik", arr(rng, (5, 2, 3), dt), arr(rng, (3, 4), dt)),
            S("b...,b->...", arr(rng, (2, 3, 4), dt), arr(rng, (2,), dt)),
            S("ii->i", arr(rng, (3, 3), dt)), S("ii", arr(rng, (3, 3), dt)),
            S("ij,jk,kl->il", a, arr(rng, (3, 4), dt), arr(rng, (4, 2), dt)),
            S("i,j->ij", arr(rng, (3,), dt), nc(rng, (2, 2), dt)[0])]


def _tensordot_samples(dt, rng):
    return [S(arr(rng, (2, 3, 4), dt), arr(rng, (3, 4, 5), dt)),
            S(arr(rng, (2, 3, 4), dt), arr(rng, (4, 5), dt), dims=1),
            S(arr(rng, (2, 3, 4), dt), arr(rng, (4, 3, 5), dt), dims=([1, 2], [1, 0])),
            S(arr(rng, (2, 3), dt), arr(rng, (4,), dt), dims=0)]


def _tensordot_ref(a, b, dims=2):
    return np.tensordot(a, b, dims)


def _diag_ref(x, d=0):
    return np.diag(x, d)


ROWS = [
    OpInfo("matmul", m("matmul"), np.matmul, _matmul_samples, FLOAT + (I64,)),
    OpInfo("op@", lambda lib, a, b: a @ b, np.matmul, _matmul_samples, FLOAT),
    OpInfo("mm", m("mm"), np.matmul, _pair(((2, 3), (3, 4)), ((1, 1), (1, 5))), FLOAT + (I64,)),
    OpInfo("bmm", m("bmm"), np.matmul, _pair(((5, 2, 3), (5, 3, 4))), FLOAT),
    OpInfo("mv", m("mv"), np.matmul, _pair(((2, 3), (3,))), FLOAT),
    OpInfo("dot", m("dot"), np.dot, _pair(((3,), (3,))), FLOAT + (I64,)),
    OpInfo("outer", m("outer"), np.outer, _pair(((3,), (4,))), FLOAT + (I64,)),
    OpInfo("addmm", lambda lib, i, a, b: lib.addmm(i, a, b, beta=0.5, alpha=2),
           lambda i, a, b: 0.5 * i + 2 * a @ b, _pair(((2, 4), (2, 3), (3, 4)),
                                                     ((4,), (2, 3), (3, 4))), FLOAT),
    OpInfo("addmm_default", m("addmm"), lambda i, a, b: i + a @ b,
           _pair(((2, 4), (2, 3), (3, 4))), FLOAT),
    OpInfo("baddbmm", lambda lib, i, a, b: lib.baddbmm(i, a, b, beta=2, alpha=0.5),
           lambda i, a, b: 2 * i + 0.5 * a @ b, _pair(((5, 2, 4), (5, 2, 3), (5, 3, 4)),
                                                       ((2, 4), (5, 2, 3), (5, 3, 4))), FLOAT),
    OpInfo("einsum", m("einsum"), lambda eq, *ops: np.einsum(eq, *ops), _einsum_samples, FLOAT),
    OpInfo("tensordot", m("tensordot"), _tensordot_ref, _tensordot_samples, FLOAT),
    OpInfo("kron", m("kron"), np.kron, _pair(((2, 3), (2, 2)), ((3,), (2,)), ((2, 1, 2), (3, 2))),
           FLOAT),
    OpInfo("trace", m("trace"), np.trace, _pair(((3, 3),), ((3, 4),)), FLOAT + (I64,)),
    OpInfo("diag", m("diag"), _diag_ref,
           lambda dt, rng: [S(arr(rng, (3,), dt)), S(arr(rng, (3,), dt), 1),
                            S(arr(rng, (3, 4), dt)), S(arr(rng, (3, 4), dt), -1),
                            S(nc(rng, (4, 3), dt), 2)], FLOAT + (I64,)),
    OpInfo("inverse", m("inverse"), np.linalg.inv,
           lambda dt, rng: [S(_well_conditioned(rng, (3, 3), dt)),
                            S(_well_conditioned(rng, (2, 3, 3), dt))], FLOAT, rtol=1e-4),
    OpInfo("det", m("det"), np.linalg.det,
           lambda dt, rng: [S(_well_conditioned(rng, (3, 3), dt)),
                            S(_well_conditioned(rng, (2, 3, 3), dt))], FLOAT, rtol=1e-4),
    OpInfo("solve", lambda lib, a, b: lib.linalg.solve(a, b),
           lambda a, b: np.linalg.solve(a, b[..., None])[..., 0] if b.ndim == a.ndim - 1
           else np.linalg.solve(a, b),
           lambda dt, rng: [S(_well_conditioned(rng, (3, 3), dt), arr(rng, (3, 2), dt)),
                            S(_well_conditioned(rng, (3, 3), dt), arr(rng, (3,), dt)),
                            S(_well_conditioned(rng, (2, 3, 3), dt), arr(rng, (2, 3, 4), dt))],
           FLOAT, rtol=1e-4),
    OpInfo("cross", m("cross"), _cross_ref,
           lambda dt, rng: [S(arr(rng, (4, 3), dt), arr(rng, (4, 3), dt), dim=1),
                            S(arr(rng, (3, 2), dt), arr(rng, (3, 2), dt), dim=0),
                            S(arr(rng, (2, 3), dt), arr(rng, (1, 3), dt), dim=-1)], FLOAT),
    OpInfo("cdist", m("cdist"), _cdist_ref,
           lambda dt, rng: [S(arr(rng, (3, 2), dt), arr(rng, (4, 2), dt)),
                            S(arr(rng, (2, 3, 2), dt), arr(rng, (2, 4, 2), dt), 1.0),
                            S(arr(rng, (3, 2), dt), arr(rng, (4, 2), dt), 3.0),
                            # Euclidean by one product: over 25 rows, or asked for
                            S(arr(rng, (2, 27, 3), dt), arr(rng, (2, 4, 3), dt)),
                            S(arr(rng, (3, 2), dt), arr(rng, (4, 2), dt),
                              compute_mode="use_mm_for_euclid_dist")], FLOAT, rtol=1e-5),
]
