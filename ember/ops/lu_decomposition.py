"""LU factorization (``lu_factor``, ``lu_unpack``, ``lu``, ``lu_solve``) and the inverses and
solves that report singular inputs (``inv``, ``inv_ex``, ``solve``, ``solve_ex``, ``tensorinv``,
``tensorsolve``). Imported by ``decomposition``, which re-exports it, after its shared helpers
are defined."""
from __future__ import annotations

import math
import warnings

import numpy as np

from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive
from ember.backend.device import get_array_module
from ember.backend.special import linalg as backend_linalg
from ember.ops._util import accepts_out, write_result
from ember.ops.cholesky_decomposition import solve_triangular
from ember.ops.decomposition import (
    LinAlgError,
    _check_float,
    _eye_like,
    _mH,
    inv_ex_type,
    lu_factor_ex_type,
    lu_factor_type,
    lu_unpack_type,
    solve_ex_type,
)
from ember.ops.linalg import tril, triu
from ember.ops.linear_systems import _check_square, inverse, solve
from ember.ops.movement import cat

# ---------------------------------------------------------------------------------------------
# LU


def _lu_factor_arrays(a):
    """Packed LU factors and 1-based int32 pivots of each matrix (LAPACK's getrf)."""
    xp = get_array_module(a)
    sl = backend_linalg(xp)
    m, n = a.shape[-2:]
    batch = a.reshape(math.prod(a.shape[:-2]), m, n)  # not -1: a batch may hold 0 matrices
    lus = xp.empty_like(batch)
    pivs = xp.empty((batch.shape[0], min(m, n)), np.int32)
    for b in range(batch.shape[0]):
        with warnings.catch_warnings():  # singular inputs are reported through ``info``
            warnings.simplefilter("ignore")
            lu, piv = sl.lu_factor(batch[b], check_finite=False)
        lus[b] = lu
        pivs[b] = piv[:min(m, n)] + 1
    return lus.reshape(a.shape), pivs.reshape(*a.shape[:-2], min(m, n))


class LuFactor(Primitive, node_name="LinalgLuFactorExBackward0"):
    """Packed LU of m x n matrices, A = P L U, k = min(m, n). Split L = [L1; L2] and
    U = [U1, U2] with L1, U1 k x k (L2 is empty unless m > n, U2 unless m < n). With
    X = L1^-1 P^T dA U1^-1 on the k x k block (strictly lower part: L1^-1 dL1; upper part:
    dU1 U1^-1), dL2 = (dA2 - L2 dU1) U1^-1 and dU2 = L1^-1 (dA2 - dL1 U2); the adjoint is
    gA = P [L1^-H H U1^-H, L1^-H gU2; gL2 U1^-H] with
    H = tril(L1^H gL1 - gU2 U2^H, -1) + triu(gU1 U1^H - L2^H gL2)."""

    @staticmethod
    def forward(ctx, a):
        lu, piv = _lu_factor_arrays(a)
        ctx.save_for_backward(lu, piv)
        return lu, piv

    @staticmethod
    def backward(ctx, glu, gpiv=None):
        lu, piv = ctx.saved_tensors
        p, low, up = lu_unpack(lu, piv)
        m, n = lu.shape[-2:]
        k = min(m, n)
        gl, gu = tril(glu, -1)[..., :k], triu(glu)[..., :k, :]
        l1, l2, gl1, gl2 = low[..., :k, :], low[..., k:, :], gl[..., :k, :], gl[..., k:, :]
        u1, u2, gu1, gu2 = up[..., :k], up[..., k:], gu[..., :k], gu[..., k:]
        h = tril(_mH(l1) @ gl1 - gu2 @ _mH(u2), -1) + triu(gu1 @ _mH(u1) - _mH(l2) @ gl2)
        if m >= n:  # [L1^-H H; gL2] U1^-H
            top = solve_triangular(_mH(l1), h, upper=True, unitriangular=True)
            return p @ solve_triangular(_mH(u1), cat([top, gl2], -2), upper=False, left=False)
        left = solve_triangular(_mH(u1), h, upper=False, left=False)  # L1^-H [H U1^-H, gU2]
        return p @ solve_triangular(_mH(l1), cat([left, gu2], -1), upper=True,
                                    unitriangular=True)


@accepts_out
def lu_factor_ex(A: Tensor, *, pivot: bool = True, check_errors: bool = False):
    """Packed LU factorization (LU, pivots, info); info is the 1-based index of the first zero
    pivot (0 when the matrix is not singular)."""
    if not pivot:
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the CPU")
    _check_float(A, "linalg.lu_factor")
    lu, piv = LuFactor.apply(A)
    info = _zero_pivot_info(A._xp, lu._data)
    if check_errors and bool((info != 0).any()):
        raise LinAlgError("torch.linalg.lu_factor: The factorization could not be completed "
                          "because the input is singular.")
    return lu_factor_ex_type(lu, piv, _make(info))


def _zero_pivot_info(xp, lu):
    d = xp.diagonal(lu, 0, -2, -1) == 0
    if d.shape[-1] == 0:  # empty matrices: no pivot to search
        return xp.zeros(d.shape[:-1], np.int32)
    first = xp.argmax(d, axis=-1).astype(np.int32) + 1
    return xp.where(d.any(-1), first, 0).astype(np.int32)


@accepts_out
def lu_factor(A: Tensor, *, pivot: bool = True):
    """Packed LU factorization: (LU, pivots) with 1-based pivots, as LAPACK's getrf."""
    lu, piv, _ = lu_factor_ex(A, pivot=pivot)
    return lu_factor_type(lu, piv)


@accepts_out
def lu_unpack(LU_data: Tensor, LU_pivots: Tensor, unpack_data: bool = True,
              unpack_pivots: bool = True):
    """(P, L, U) from packed factors, with A = P L U."""
    m, n = LU_data.shape[-2:]
    k = min(m, n)
    xp = LU_data._xp
    lower = tril(LU_data, -1)[..., :, :k] + _eye_like(LU_data, max(m, n))[:m, :k]
    upper = triu(LU_data)[..., :k, :]
    batch = math.prod(LU_data.shape[:-2])
    piv = LU_pivots._data.reshape(batch, LU_pivots.shape[-1]).astype(np.int64) - 1
    perms = xp.tile(xp.arange(m), (piv.shape[0], 1))
    for b in range(piv.shape[0]):  # apply the row swaps in order
        for i in range(piv.shape[1]):
            j = int(piv[b, i])
            perms[b, [i, j]] = perms[b, [j, i]]
    p = xp.zeros((piv.shape[0], m, m), LU_data._data.dtype)
    rows = perms.reshape(-1)
    cols = xp.tile(xp.arange(m), piv.shape[0])
    p[xp.repeat(xp.arange(piv.shape[0]), m), rows, cols] = 1
    p = _make(p.reshape(*LU_data.shape[:-2], m, m))
    return lu_unpack_type(p, lower, upper)


@accepts_out
def lu(A: Tensor, *, pivot: bool = True):
    """A = P L U with a permutation P, unit-lower L and upper U (``torch.linalg.lu``)."""
    packed, piv = lu_factor(A, pivot=pivot)
    return lu_unpack(packed, piv)


@accepts_out
def legacy_lu(A: Tensor, pivot: bool = True, get_infos: bool = False):
    """``torch.lu``: (A_LU, pivots) or, with ``get_infos``, (A_LU, pivots, infos)."""
    packed, piv, info = lu_factor_ex(A, pivot=pivot)
    return (packed, piv, info) if get_infos else (packed, piv)


@accepts_out
def lu_solve(LU: Tensor, pivots: Tensor, B: Tensor, *, left: bool = True,
             adjoint: bool = False) -> Tensor:
    """X with A X = B from A's packed LU factors (differentiable in ``B``)."""
    p, low, up = lu_unpack(LU, pivots)
    if not left:
        return _mH(lu_solve(LU, pivots, _mH(B), adjoint=not adjoint))
    if adjoint:  # A^H X = B: U^H L^H P^T X = B
        y = solve_triangular(_mH(up), B, upper=False)
        y = solve_triangular(_mH(low), y, upper=True, unitriangular=True)
        return p @ y
    y = solve_triangular(low, p.mT @ B, upper=False, unitriangular=True)
    return solve_triangular(up, y, upper=True)


@accepts_out
def legacy_lu_solve(b: Tensor, LU_data: Tensor, LU_pivots: Tensor) -> Tensor:
    """``torch.lu_solve(b, LU_data, LU_pivots)``."""
    return lu_solve(LU_data, LU_pivots, b)


# ---------------------------------------------------------------------------------------------
# Inverses and solves that report singular inputs


def _singular_info(A: Tensor) -> Tensor:
    _, _, info = lu_factor_ex(A.detach())
    return info


def linalg_inv(A: Tensor, *, out=None) -> Tensor:
    """The inverse of each square matrix; raises LinAlgError for singular ones."""
    _check_square(A, "linalg.inv")
    try:
        result = inverse(A)
        return result if out is None else write_result(out, result)
    except np.linalg.LinAlgError:
        info = _singular_info(A).reshape(-1)
        i = int(info[(info != 0).long().argmax()].item())
        raise LinAlgError(f"linalg.inv: The diagonal element {i} is zero, the inversion could "
                          f"not be completed because the input matrix is singular.") from None


@accepts_out
def inv_ex(A: Tensor, *, check_errors: bool = False):
    """``linalg.inv`` returning (inverse, info) instead of raising. A singular matrix's inverse
    comes, as PyTorch's, from its LU factors, with the infs and NaNs of a zero pivot (and
    gradients to match)."""
    _check_square(A, "linalg.inv_ex")
    info = _singular_info(A)
    if bool((info != 0).any()):
        if check_errors:
            linalg_inv(A)
        lu_, piv, _ = lu_factor_ex(A)
        return inv_ex_type(lu_solve(lu_, piv, _eye_like(A, A.shape[-1]).expand(A.shape)), info)
    return inv_ex_type(inverse(A), info)


def linalg_solve(A: Tensor, B: Tensor, *, left: bool = True, out=None) -> Tensor:
    """X with A X = B; raises LinAlgError for singular ``A``."""
    try:
        result = solve(A, B, left=left)
        return result if out is None else write_result(out, result)
    except np.linalg.LinAlgError:
        raise LinAlgError("torch.linalg.solve: The solver failed because the input matrix is "
                          "singular.") from None


@accepts_out
def solve_ex(A: Tensor, B: Tensor, *, left: bool = True, check_errors: bool = False):
    """``linalg.solve`` returning (result, info) instead of raising; for a singular ``A`` the
    result comes from its LU factors, as in ``inv_ex``."""
    _check_square(A, "linalg.solve_ex")
    info = _singular_info(A)
    if bool((info != 0).any()):
        if check_errors:
            linalg_solve(A, B, left=left)
        lu_, piv, _ = lu_factor_ex(A)
        # linalg.solve's rule: B is a (batch of) vector(s) when 1-D or shaped like A less a dim
        vector = left and (B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1]))
        x = lu_solve(lu_, piv, B.unsqueeze(-1) if vector else B, left=left)
        return solve_ex_type(x.squeeze(-1) if vector else x, info)
    return solve_ex_type(solve(A, B, left=left), info)


@accepts_out
def tensorinv(A: Tensor, ind: int = 2) -> Tensor:
    """The inverse of ``A`` seen as a map from its first ``ind`` dims to the rest."""
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    out_shape, in_shape = A.shape[:ind], A.shape[ind:]
    rows = math.prod(out_shape)
    if rows != math.prod(in_shape):
        raise RuntimeError("Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           "prod(self.shape[:ind])")
    return linalg_inv(A.reshape(rows, rows)).reshape(*in_shape, *out_shape)


@accepts_out
def tensorsolve(A: Tensor, B: Tensor, dims=None) -> Tensor:
    """X with tensordot(A, X, X.ndim) = B; ``dims`` moves those dims of A to the end first."""
    if dims is not None:
        dims = [d % A.ndim for d in dims]
        keep = [d for d in range(A.ndim) if d not in dims]
        A = A.permute(*keep, *dims)
    x_shape = A.shape[B.ndim:]
    n = math.prod(x_shape)
    return linalg_solve(A.reshape(-1, n), B.reshape(-1)).reshape(x_shape)
