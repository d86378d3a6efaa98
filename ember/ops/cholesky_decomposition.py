"""Cholesky factorization and the triangular solves built on it: ``cholesky`` (and ``_ex``),
``solve_triangular``, ``triangular_solve``, ``cholesky_solve``, ``cholesky_inverse``. Imported by
``decomposition``, which re-exports it, after its shared helpers are defined."""
from __future__ import annotations

import numpy as np

from ember._tensor import Tensor
from ember.autograd.function import Primitive
from ember.backend.device import get_array_module
from ember.ops._util import accepts_out, scalar_name, write_result
from ember.ops.decomposition import (
    LinAlgError,
    _eye_like,
    _mH,
    cholesky_ex_type,
    triangular_solve_type,
)
from ember.ops.linalg import tril, triu
from ember.ops.linear_systems import _check_square

# ---------------------------------------------------------------------------------------------
# Cholesky and triangular solves


class Cholesky(Primitive, node_name="LinalgCholeskyExBackward0"):
    """(L, info) with A = L L^H, L lower with a real positive diagonal, read from A's lower
    triangle. A matrix that is not positive-definite raises LinAlgError as the op ``raise_as``
    or, when that is None, gets LAPACK's partial factor (see ``_partial_cholesky``)."""

    @staticmethod
    def forward(ctx, a, raise_as):
        xp = get_array_module(a)
        try:
            low, info = _factor(a), xp.zeros(a.shape[:-2], np.int32)
        except np.linalg.LinAlgError:
            low, info = _partial_cholesky(a)
            if raise_as is not None:
                raise _not_positive_definite(raise_as, info) from None
        ctx.save_for_backward(low)
        return low, info

    @staticmethod
    def backward(ctx, grad, ginfo=None):
        (low,) = ctx.saved_tensors
        # dL = L Phi(L^-1 dA L^-H), Phi keeping the lower triangle with its diagonal halved. On
        # Hermitian dA its adjoint is gA = L^-H H L^-1 with H = (tril(M) + tril(M, -1)^H) / 2,
        # M = L^H gL. Like PyTorch's, H keeps the imaginary part of M's diagonal (a loss on the
        # always-zero Im L_ii): an anti-Hermitian term that no Hermitian dA sees.
        m = _mH(low) @ grad
        h = (tril(m) + _mH(tril(m, -1))) * 0.5
        ga = solve_triangular(_mH(low), h, upper=True)
        return solve_triangular(low, ga, upper=False, left=False), None


def _factor(a):
    """``xp.linalg.cholesky``, failing as LAPACK's potrf does on a NaN pivot: NumPy's returns
    the NaNs (a NaN anywhere in the lower triangle reaches a pivot)."""
    xp = get_array_module(a)
    low = xp.linalg.cholesky(a)
    if xp.isnan(xp.diagonal(low, axis1=-2, axis2=-1)).any():
        raise np.linalg.LinAlgError("a NaN pivot")
    return low


def _partial_cholesky(a):
    """Cholesky factors, and LAPACK's info, of matrices some of which are not positive-definite.
    Where the leading minor of order k is the first that is not, LAPACK's unblocked left-looking
    potrf leaves columns 0..k-2 factored, the failing Schur complement on diagonal k-1 and A's
    lower triangle elsewhere: PyTorch's cholesky_ex returns that."""
    xp = get_array_module(a)
    batch = a.reshape(-1, *a.shape[-2:])
    lows = xp.tril(batch)
    info = np.zeros(batch.shape[0], np.int32)
    for b in range(batch.shape[0]):
        try:
            lows[b] = _factor(batch[b])
            continue
        except np.linalg.LinAlgError:
            pass
        low = lows[b]
        for j in range(a.shape[-1]):
            row = low[j, :j]
            d = low[j, j].real - (row * row.conj()).real.sum()
            if not d > 0:  # NaN fails too
                low[j, j] = d
                info[b] = j + 1
                break
            low[j, j] = d ** 0.5
            low[j + 1:, j] = (low[j + 1:, j] - low[j + 1:, :j] @ row.conj()) / low[j, j]
    return lows.reshape(a.shape), xp.asarray(info.reshape(a.shape[:-2]))


def _not_positive_definite(op: str, info) -> LinAlgError:
    flat = info.reshape(-1)
    first = int((flat != 0).argmax())
    batch = f"(Batch element {first}): " if info.ndim else ""
    return LinAlgError(f"{op}: {batch}The factorization could not be completed because the "
                       f"input is not positive-definite (the leading minor of order "
                       f"{int(flat[first])} is not positive-definite).")


def linalg_cholesky(A: Tensor, *, upper: bool = False, out=None) -> Tensor:
    """The lower (or, with ``upper``, upper) Cholesky factor of a positive-definite ``A``."""
    _check_square(A, "linalg.cholesky")
    low = Cholesky.apply(A, "linalg.cholesky")[0]
    result = _mH(low) if upper else low
    return result if out is None else write_result(out, result)


@accepts_out
def cholesky(input: Tensor, upper: bool = False) -> Tensor:
    """PyTorch's older spelling of ``linalg.cholesky`` (``upper`` positional)."""
    _check_square(input, "cholesky")
    low = Cholesky.apply(input, "cholesky")[0]
    return _mH(low) if upper else low


@accepts_out
def cholesky_ex(A: Tensor, *, upper: bool = False, check_errors: bool = False):
    """``linalg.cholesky`` returning (L, info) instead of raising. Where the leading minor of
    order info > 0 is not positive-definite, L is LAPACK's partial factor, as in PyTorch."""
    _check_square(A, "linalg.cholesky_ex")
    low, info = Cholesky.apply(A, "linalg.cholesky_ex" if check_errors else None)
    return cholesky_ex_type(_mH(low) if upper else low, info)


def _tri(A: Tensor, upper: bool, unitriangular: bool) -> Tensor:
    t = triu(A) if upper else tril(A)
    if unitriangular:
        eye = _eye_like(A, A.shape[-1])
        t = t - t * eye + eye
    return t


def _triangular_solve_arrays(t, b, upper: bool):
    """X with T X = B for triangular T (batch dims broadcast). A zero on T's diagonal gives
    the infs and NaNs of substitution, as PyTorch's triangular solvers do, not an error: LAPACK's
    general solver, used first as it is fast, refuses such a T; substitution then takes over."""
    xp = get_array_module(t)
    try:
        return xp.linalg.solve(t, b)
    except np.linalg.LinAlgError:
        pass
    batch = np.broadcast_shapes(t.shape[:-2], b.shape[:-2])
    t = xp.broadcast_to(t, batch + t.shape[-2:])
    x = xp.array(xp.broadcast_to(b, batch + b.shape[-2:]), dtype=xp.result_type(t, b))
    n = t.shape[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(n - 1, -1, -1) if upper else range(n):
            known = slice(i + 1, n) if upper else slice(0, i)
            rest = t[..., i:i + 1, known] @ x[..., known, :]
            x[..., i, :] = (x[..., i, :] - rest[..., 0, :]) / t[..., i, i:i + 1]
    return x


class SolveTriangular(Primitive, node_name="LinalgSolveTriangularBackward0"):
    @staticmethod
    def forward(ctx, a, b, upper, unitriangular):
        xp = get_array_module(a)
        n = a.shape[-1]
        t = xp.triu(a) if upper else xp.tril(a)
        if unitriangular:
            idx = xp.arange(n)
            t = t.copy()
            t[..., idx, idx] = 1
        x = _triangular_solve_arrays(t, b, upper)
        ctx.flags = (upper, unitriangular)
        ctx.save_for_backward(a, x)
        return x

    @staticmethod
    def backward(ctx, grad):
        a, x = ctx.saved_tensors
        upper, unitriangular = ctx.flags
        gb = solve_triangular(_mH(a), grad, upper=not upper, unitriangular=unitriangular)
        ga = -(gb @ _mH(x))
        ga = triu(ga, 1 if unitriangular else 0) if upper else \
            tril(ga, -1 if unitriangular else 0)
        return ga, gb, None, None


@accepts_out
def solve_triangular(A: Tensor, B: Tensor, *, upper: bool, left: bool = True,
                     unitriangular: bool = False) -> Tensor:
    """X with A X = B (``left``) or X A = B, for triangular ``A`` (only the triangle named by
    ``upper`` is read; ``unitriangular`` takes its diagonal as ones)."""
    _check_square(A, "linalg.solve_triangular")
    if B.ndim < 2 or B.shape[-2 if left else -1] != A.shape[-1]:
        raise RuntimeError(
            f"linalg.solve_triangular: Incompatible shapes of A and B for the equation "
            f"{'AX = B' if left else 'XA = B'} ({'x'.join(map(str, A.shape[-2:]))} and "
            f"{'x'.join(map(str, B.shape[-2:]))})")
    if not left:
        return _mH(SolveTriangular.apply(_mH(A), _mH(B), not upper, unitriangular))
    return SolveTriangular.apply(A, B, upper, unitriangular)


@accepts_out
def triangular_solve(b: Tensor, A: Tensor, upper: bool = True, transpose: bool = False,
                     unitriangular: bool = False):
    """PyTorch's older triangular solver: (X, A) with op(A) X = b, op = transpose or not."""
    coef = A.mT if transpose else A
    x = solve_triangular(coef, b, upper=upper != transpose, unitriangular=unitriangular)
    return triangular_solve_type(x, A.clone())


class CholeskySolve(Primitive, node_name="CholeskySolveBackward0"):
    """X = A^-1 B with A = L L^H (or U^H U). The forward reads one triangle of the factor; the
    gradient for it is PyTorch's, full: -(C + C^H) L (or -U (C + C^H)), C = A^-1 gX X^H."""
    _node_saved = {"self": 0, "input2": 1, "result": 2}

    @staticmethod
    def forward(ctx, b, factor, upper):
        xp = get_array_module(factor)
        t = xp.triu(factor) if upper else xp.tril(factor)
        t_h = xp.conj(t.swapaxes(-1, -2))
        first, second = (t_h, t) if upper else (t, t_h)
        x = _triangular_solve_arrays(second, _triangular_solve_arrays(first, b, not upper),
                                     upper)
        ctx.upper = upper
        ctx.save_for_backward(b, factor, x)
        return x

    @staticmethod
    def backward(ctx, grad):
        _, factor, x = ctx.saved_tensors
        gb = cholesky_solve(grad, factor, ctx.upper)
        common = gb @ _mH(x)
        common = common + _mH(common)
        gfactor = -(factor @ common) if ctx.upper else -(common @ factor)
        return gb, gfactor, None


@accepts_out
def cholesky_solve(B: Tensor, L: Tensor, upper: bool = False) -> Tensor:
    """X with A X = B, given the Cholesky factor L of A (lower, or upper with ``upper``)."""
    if B.ndim < 2:
        raise RuntimeError(f"b should have at least 2 dimensions, but has {B.ndim} dimensions "
                           "instead")
    if B.dtype is not L.dtype:
        raise RuntimeError(f"Expected b and A to have the same dtype, but found b of type "
                           f"{scalar_name(B.dtype)} and A of type {scalar_name(L.dtype)} instead.")
    _check_square(L, "cholesky_solve")
    if B.shape[-2] != L.shape[-1]:
        raise RuntimeError(f"Incompatible matrix sizes for cholesky_solve: each A matrix is "
                           f"{L.shape[-1]} by {L.shape[-1]} but each b matrix is "
                           f"{B.shape[-2]} by {B.shape[-1]}")
    return CholeskySolve.apply(B, L, upper)


@accepts_out
def cholesky_inverse(L: Tensor, upper: bool = False) -> Tensor:
    """The inverse of A = L L^H from its Cholesky factor ``L``."""
    return cholesky_solve(_eye_like(L, L.shape[-1]).expand(L.shape), L, upper)
