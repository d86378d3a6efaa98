"""QR in LAPACK's compact form (``geqrf``), products of Householder reflectors
(``linalg.householder_product`` / ``orgqr``, ``ormqr``) and the Bunch-Kaufman LDL
factorization (``linalg.ldl_factor``, ``ldl_solve``).

The reflector products are composed of differentiable ember ops in the compact WY form (a
few matmuls and one unit-triangular solve), so they have gradients (and gradients of
gradients) as in PyTorch; ``geqrf`` and the LDL routines record none, as PyTorch defines
none."""
from __future__ import annotations

import math

import numpy as np

from ember import return_types
from ember._creation import eye
from ember._tensor import Tensor, _make
from ember.ops._util import write_result
from ember.ops.decomposition import LinAlgError, solve_triangular
from ember.ops.linalg import diag_embed


def _check_reflectors(op: str, A: Tensor, tau: Tensor, rows_at_least_cols: bool) -> None:
    if A.ndim < 2:
        raise RuntimeError(f"{op}: input must have at least 2 dimensions.")
    if rows_at_least_cols and A.shape[-2] < A.shape[-1]:
        raise RuntimeError(f"{op}: input.shape[-2] must be greater than or equal to "
                           "input.shape[-1]")
    if tau.shape[-1] > A.shape[-1]:
        raise RuntimeError(f"{op}: input.shape[-1] must be greater than or equal to "
                           "tau.shape[-1]")
    if tau.ndim != A.ndim - 1 or tuple(tau.shape[:-1]) != tuple(A.shape[:-2]):
        raise RuntimeError(f"{op}: Expected batch dimensions of tau to be equal to "
                           f"input.shape[:-2], but got {tuple(tau.shape[:-1])}")
    if tau.dtype != A.dtype:
        raise RuntimeError(f"{op}: tau dtype {tau.dtype} does not match input dtype "
                           f"{A.dtype}")


def _compact_wy(A: Tensor, tau: Tensor) -> tuple:
    """(V, T) with H_0 H_1 ... H_{k-1} = I - V T V^H: V (..., m, k) holds the Householder
    vectors (A's unit lower trapezoid) and T (..., k, k) is upper triangular. With
    D = diag(tau) and U the strictly upper triangle of V^H V, T = (I + D U)^{-1} D (Schreiber
    and Van Loan's compact WY form; I + D U is unit triangular, so a zero tau is fine)."""
    m, k = A.shape[-2], tau.shape[-1]
    V = A[..., :, :k].tril(-1) + eye(m, k, dtype=A.dtype, device=A.device)
    DU = tau.unsqueeze(-1) * (V.mH @ V).triu(1)
    unit = eye(k, dtype=A.dtype, device=A.device)
    T = solve_triangular(unit + DU, diag_embed(tau), upper=True, unitriangular=True)
    return V, T


def _apply_reflectors(A: Tensor, tau: Tensor, C: Tensor, left: bool, adjoint: bool) -> Tensor:
    """op(Q) @ C (``left``) or C @ op(Q), where Q = H_0 H_1 ... H_{k-1}, H_i = I - tau_i v_i v_i^H
    and op is the conjugate transpose when ``adjoint``."""
    V, T = _compact_wy(A, tau)
    if adjoint:
        T = T.mH
    if left:
        return C - V @ (T @ (V.mH @ C))
    return C - ((C @ V) @ T) @ V.mH


def householder_product(input: Tensor, tau: Tensor, *, out=None) -> Tensor:
    """The first n columns of the product of Householder matrices H_i = I - tau_i v_i v_i^H,
    with v_i the columns of ``input``'s unit lower trapezoid (``geqrf``'s output gives Q).

    Example::

        >>> A = ember.randn(4, 3, dtype=ember.float64)
        >>> Q = ember.linalg.householder_product(*ember.geqrf(A))
        >>> ember.allclose(Q, ember.linalg.qr(A).Q)
        True
    """
    _check_reflectors("torch.linalg.householder_product", input, tau, True)
    n = input.shape[-1]
    V, T = _compact_wy(input, tau)
    # Q's first n columns: I[:, :n] - V T (V^H)[:, :n]
    eye_ = eye(*input.shape[-2:], dtype=input.dtype, device=input.device)
    result = eye_ - V @ (T @ V[..., :n, :].mH)
    return result if out is None else write_result(out, result)


def orgqr(input: Tensor, tau: Tensor) -> Tensor:
    """``torch.orgqr``: ``linalg.householder_product``'s older name."""
    return householder_product(input, tau)


def ormqr(input: Tensor, tau: Tensor, other: Tensor, left: bool = True,
          transpose: bool = False, *, out=None) -> Tensor:
    """``other`` multiplied by the full Q of the Householder reflectors in ``input`` and
    ``tau`` (``geqrf``'s output): Q @ other, or other @ Q when ``left`` is False, with Q's
    conjugate transpose when ``transpose``."""
    _check_reflectors("torch.ormqr", input, tau, False)
    rows = other.shape[-2] if left else other.shape[-1]
    if input.shape[-2] != rows:
        side = "other.shape[-2]" if left else "other.shape[-1]"
        raise RuntimeError(f"torch.ormqr: Expected input.shape[-2] to be equal to {side}, but "
                           f"got {input.shape[-2]} and {rows}")
    if tau.shape[-1] != min(rows, input.shape[-1]):
        side = "other.shape[-2]" if left else "other.shape[-1]"
        raise RuntimeError(f"torch.ormqr: tau.shape[-1] must be equal to min({side}, "
                           "input.shape[-1])")
    result = _apply_reflectors(input, tau, other, left, transpose)
    return result if out is None else write_result(out, result)


def geqrf(input: Tensor, *, out=None):
    """The QR decomposition in LAPACK's compact form: ``a`` holds R on and above its diagonal
    and the Householder vectors below it, ``tau`` their scales (see ``householder_product``).
    No gradient is recorded, as in PyTorch."""
    if input.ndim < 2:
        raise RuntimeError("torch.geqrf: The input tensor A must have at least 2 dimensions.")
    xp = input._xp
    h, tau = xp.linalg.qr(input.detach()._data, mode="raw")
    # LAPACK's output is column-major: NumPy returns it transposed.
    result = return_types.geqrf(_make(xp.ascontiguousarray(h.swapaxes(-1, -2))),
                                _make(xp.ascontiguousarray(tau.astype(h.dtype, copy=False))))
    return result if out is None else write_result(out, result)


# ---------------------------------------------------------------------------------------------
# LDL (Bunch-Kaufman): LAPACK's sytrf/hetrf, which CuPy lacks, so the factorization runs on the
# host and its results go back to the input's device.

def _lapack(name: str, dtype):
    from scipy.linalg import lapack
    return lapack.get_lapack_funcs(name, dtype=dtype)


def _check_square(op: str, A: Tensor) -> None:
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{op}: A must be batches of square matrices, but they are "
                           f"{A.shape[-2] if A.ndim > 1 else 1} by {A.shape[-1]} matrices")
    if not (A.is_floating_point() or A.is_complex()):
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. "
                           f"Got {A.dtype}")


def ldl_factor_ex(A: Tensor, *, hermitian: bool = False, check_errors: bool = False, out=None):
    """The Bunch-Kaufman LDL factorization of symmetric (or, with ``hermitian``, Hermitian)
    matrices, from their lower triangles, in LAPACK's compact form: ``LD`` holds L below the
    diagonal and the 1x1 / 2x2 blocks of D, ``pivots`` LAPACK's 1-based interchanges (negative
    for a 2x2 block), ``info`` the first zero pivot (1-based) or 0."""
    op = "torch.linalg.ldl_factor_ex"
    _check_square(op, A)
    a = np.asarray(A.detach().cpu().numpy())
    name = "hetrf" if hermitian and np.iscomplexobj(a) else "sytrf"
    n = a.shape[-1]
    flat = a.reshape(math.prod(a.shape[:-2]), n, n)  # not -1: n may be 0
    ld = np.empty_like(flat)
    pivots = np.empty(flat.shape[:-1], np.int32)
    info = np.zeros(flat.shape[0], np.int32)
    factor = _lapack(name, a.dtype)
    for b in range(flat.shape[0]):
        if n:
            ld[b], pivots[b], info[b] = factor(flat[b], lower=1)
    ld = np.tril(ld).reshape(a.shape)
    if check_errors and info.any():
        raise LinAlgError(f"{op}: The factorization could not be completed because the "
                          f"input is singular (zero pivot at position {int(info.max())}).")
    device = A.device
    result = return_types.linalg_ldl_factor_ex(
        _make(ld).to(device), _make(pivots.reshape(a.shape[:-1])).to(device),
        _make(info.reshape(a.shape[:-2])).to(device))
    return result if out is None else write_result(out, result)


def ldl_factor(A: Tensor, *, hermitian: bool = False, out=None):
    """``ldl_factor_ex`` raising ``LinAlgError`` where a matrix is singular."""
    LD, pivots, _ = ldl_factor_ex(A, hermitian=hermitian, check_errors=True)
    result = return_types.linalg_ldl_factor(LD, pivots)
    return result if out is None else write_result(out, result)


def ldl_solve(LD: Tensor, pivots: Tensor, B: Tensor, *, hermitian: bool = False,
              out=None) -> Tensor:
    """The solution X of A X = B from ``ldl_factor``'s (LD, pivots) of A."""
    op = "torch.linalg.ldl_solve"
    _check_square(op, LD)
    if B.ndim < 2 or B.shape[-2] != LD.shape[-1]:
        raise RuntimeError(f"{op}: Incompatible shapes of A and B for the equation AX = B "
                           f"({LD.shape[-2]}x{LD.shape[-1]} and "
                           f"{tuple(B.shape[-2:])})")
    if pivots.dtype.np_dtype != np.int32:
        raise RuntimeError(f"{op}: Expected LU_pivots to be integers. Got {pivots.dtype}")
    ld, piv, b = (np.asarray(t.detach().cpu().numpy()) for t in (LD, pivots, B))
    dtype = np.result_type(ld, b)
    batch = np.broadcast_shapes(ld.shape[:-2], b.shape[:-2])
    n = ld.shape[-1]
    count = math.prod(batch)  # not -1 in the reshapes: n may be 0
    ld = np.broadcast_to(ld, (*batch, n, n)).reshape(count, n, n).astype(dtype)
    piv = np.broadcast_to(piv, (*batch, n)).reshape(count, n)
    b = np.broadcast_to(b, (*batch, *b.shape[-2:])).reshape(count, *b.shape[-2:]).astype(dtype)
    solve = _lapack("hetrs" if hermitian and np.iscomplexobj(ld) else "sytrs", dtype)
    x = np.empty_like(b)
    for i in range(b.shape[0]):
        x[i] = solve(ld[i], piv[i], b[i], lower=1)[0] if n else b[i]
    result = _make(x.reshape(*batch, *B.shape[-2:])).to(B.device)
    return result if out is None else write_result(out, result)
