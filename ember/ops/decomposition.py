"""Matrix decompositions and the solvers built on them, with PyTorch's ``torch.linalg``
semantics: differentiable SVD, QR, symmetric and general eigendecompositions, Cholesky, LU and
triangular solves (backward formulas written in ember ops, so they are differentiable again),
and least squares composed from them.

Singular or non-positive-definite inputs raise ``LinAlgError`` (a RuntimeError), as PyTorch's
do; the ``*_ex`` variants return an ``info`` tensor instead, and results (with gradients) that
hold the infs and NaNs of the failed factorization, as PyTorch's do.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive
from ember.autograd.grad_mode import is_grad_enabled
from ember.backend.device import get_array_module
from ember.backend.special import linalg as backend_linalg
from ember.ops._util import accepts_out, scalar_name, wrap_dim, write_result
from ember.ops.elementwise import where
from ember.ops.linalg import (
    _check_square,
    check_norm_dtypes,
    inverse,
    matmul,
    solve,
    tril,
    triu,
)
from ember.ops.movement import cat, diagonal
from ember.return_types import _return_type

svd_type = _return_type("svd", ["U", "S", "V"])
linalg_svd_type = _return_type("linalg_svd", ["U", "S", "Vh"])
eigh_type = _return_type("linalg_eigh", ["eigenvalues", "eigenvectors"])
eig_type = _return_type("linalg_eig", ["eigenvalues", "eigenvectors"])
lu_type = _return_type("linalg_lu", ["P", "L", "U"])
lu_factor_type = _return_type("linalg_lu_factor", ["LU", "pivots"])
lu_factor_ex_type = _return_type("linalg_lu_factor_ex", ["LU", "pivots", "info"])
lu_unpack_type = _return_type("lu_unpack", ["P", "L", "U"])
lstsq_type = _return_type("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])
inv_ex_type = _return_type("linalg_inv_ex", ["inverse", "info"])
qr_type = _return_type("linalg_qr", ["Q", "R"])
cholesky_ex_type = _return_type("linalg_cholesky_ex", ["L", "info"])
solve_ex_type = _return_type("linalg_solve_ex", ["result", "info"])
triangular_solve_type = _return_type("triangular_solve", ["solution", "cloned_coefficient"])


class LinAlgError(RuntimeError):
    """Raised for singular or non-positive-definite inputs (PyTorch's ``torch.linalg``
    ``LinAlgError``, a RuntimeError)."""


def _eye_like(a: Tensor, n: int) -> Tensor:
    return _make(a._xp.eye(n, dtype=a._data.dtype))


def _mH(a: Tensor) -> Tensor:
    return a.mT.conj() if a.is_complex() else a.mT


def _inverse_gaps(w: Tensor) -> Tensor:
    """1 / (w_j - w_i) at [i, j], 0 where the gap is 0: on the diagonal, and between repeated
    values, where the vectors are not differentiable (PyTorch's gradient is then NaN)."""
    diff = w.unsqueeze(-2) - w.unsqueeze(-1)
    off = diff != 0
    return where(off, 1.0 / where(off, diff, 1.0), 0.0)


def _check_phase(phase: Tensor, tol: float, message: str) -> None:
    """Refuse a loss that depends on the arbitrary phases of complex singular or eigen vectors
    (v -> v e^{i phi}): ``phase`` is its derivative in each phi, which PyTorch lets pass as
    rounding error up to an absolute ``tol``."""
    if bool((phase.detach().abs() > tol).any()):
        raise RuntimeError(message)


_PHASE = "The {} in the complex case are specified up to multiplication by e^{{i phi}}. " \
         "The specified loss function depends on this {}."
_SVD_PHASE = "svd_backward: " + _PHASE.format("singular vectors",
                                              "phase term, making it ill-defined")
_EIGVEC_PHASE = _PHASE.format("eigenvectors", "quantity, so it is ill-defined")


def _check_float(a: Tensor, op: str) -> None:
    if not (a.is_floating_point() or a.is_complex()):
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got "
                           f"{a.dtype.name.capitalize()}")


# ---------------------------------------------------------------------------------------------
# SVD


class Svd(Primitive, node_name="LinalgSvdBackward0"):
    @staticmethod
    def forward(ctx, a, full_matrices):
        if a.ndim < 2:
            raise RuntimeError("linalg.svd: The input tensor A must have at least 2 dimensions.")
        u, s, vh = get_array_module(a).linalg.svd(a, full_matrices=full_matrices)
        s = s.astype(a.real.dtype, copy=False)
        ctx.save_for_backward(u, s, vh)
        # unused factors get no gradient: zeros for them would reach a complex 0 / s
        ctx.set_materialize_grads(False)
        return u, s, vh

    @staticmethod
    def backward(ctx, gu, gs, gvh):
        u, s, vh = ctx.saved_tensors
        k = s.shape[-1]
        u, vh = u[..., :k], vh[..., :k, :]
        gu = None if gu is None else gu[..., :k]
        gvh = None if gvh is None else gvh[..., :k, :]
        return _svd_backward(u, s, vh, gu, gs, gvh), None


def _svd_backward(u, s, vh, gu, gs, gvh):
    """The gradient of the reduced SVD, real or complex. A complex loss that is invariant
    under the phases U -> U D, V -> V D (D diagonal, unimodular) reaches the diagonal of
    U^H gU and V^H gV only through their imaginary parts: split evenly between U and V,
    they add i Im(J_ii - K_ii) / (2 s_i) to the inner matrix."""
    v = _mH(vh)
    sigma = s.unsqueeze(-2)  # row vector of singular values
    inner = _mH(u).new_zeros(u.shape[:-2] + (s.shape[-1], s.shape[-1]))
    if gs is not None:
        inner = inner + (gs.to(u.dtype).diag_embed() if u.is_complex() else gs.diag_embed())
    if gu is None and gvh is None:
        return matmul(matmul(u, inner), vh)
    f = _inverse_gaps(s * s)  # 1 / (s_j^2 - s_i^2)
    m, n = u.shape[-2], v.shape[-2]
    extra = 0
    im_j = im_k = 0  # Im diag(U^H gU), Im diag(V^H gV)
    if gu is not None:
        j = _mH(u) @ gu
        inner = inner + (f * (j - _mH(j))) * sigma
        if u.is_complex():
            im_j = j.diagonal(0, -2, -1).imag
        if m > s.shape[-1]:
            proj = gu - u @ (_mH(u) @ gu)
            extra = extra + (proj / sigma) @ vh
    if gvh is not None:
        gv = _mH(gvh)
        k_ = _mH(v) @ gv
        inner = inner + sigma.mT * (f * (k_ - _mH(k_)))
        if u.is_complex():
            im_k = k_.diagonal(0, -2, -1).imag
        if n > s.shape[-1]:
            proj = gv - v @ (_mH(v) @ gv)
            extra = extra + u @ _mH(proj / sigma)
    if u.is_complex():
        # U -> U D, V -> V D moves the loss by Im(J_ii + K_ii) per phase
        _check_phase(im_j + im_k, 5e-3, _SVD_PHASE)
        inner = inner + ((im_j - im_k) / (2 * s) * 1j).diag_embed()
    return u @ inner @ vh + extra


def linalg_svd(A: Tensor, full_matrices: bool = True, *, driver=None, out=None):
    """A = U diag(S) Vh; ``full_matrices=False`` gives the reduced factors."""
    _check_float(A, "linalg.svd")
    u, s, vh = Svd.apply(A, full_matrices)
    result = linalg_svd_type(u, s, vh)
    return result if out is None else write_result(out, result)


@accepts_out
def svd(input: Tensor, some: bool = True, compute_uv: bool = True):
    """PyTorch's older SVD: returns (U, S, V) with V (not its adjoint); ``some`` gives the
    reduced factors; without ``compute_uv``, U and V are zeros."""
    u, s, vh = Svd.apply(input, not some)
    if not compute_uv:
        return svd_type(u.new_zeros(u.shape).detach(), s, vh.new_zeros(vh.shape).detach())
    return svd_type(u, s, _mH(vh))


class Qr(Primitive, node_name="LinalgQrBackward0"):
    @staticmethod
    def forward(ctx, a, mode):
        xp = get_array_module(a)
        if mode == "r":  # Q is not computed: PyTorch returns an empty one
            ctx.mode = mode
            return xp.empty(0, a.dtype), xp.linalg.qr(a, mode="r")
        q, r = xp.linalg.qr(a, mode=mode)
        ctx.mode = mode
        ctx.save_for_backward(q, r)
        return q, r

    @staticmethod
    def backward(ctx, gq, gr):
        if ctx.mode == "r":
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed "
                               "when mode='r'. Please use linalg.qr(A, mode='reduced') if you "
                               "are going to differentiate through linalg.qr.")
        q, r = ctx.saved_tensors
        m, n = q.shape[-2], r.shape[-1]
        if ctx.mode == "complete" and m > n:
            raise RuntimeError("The QR decomposition is not differentiable when mode='complete' "
                               "and nrows > ncols.")
        if gq is None:
            gq = q.new_zeros(q.shape)
        if gr is None:
            gr = r.new_zeros(r.shape)
        if m >= n:
            return _qr_square_backward(q, r, gq, gr), None
        # A = Q [U V] with U square: X = Q U is a square QR and Y = Q V gives V = Q^H Y
        u, gu, gv = r[..., :m], gr[..., :m], gr[..., m:]
        y = matmul(q, r[..., m:])
        gx = _qr_square_backward(q, u, gq + matmul(y, _mH(gv)), gu)
        return cat([gx, matmul(q, gv)], -1), None


def _qr_square_backward(q, r, gq, gr):
    """The gradient of A = QR with R square (m >= n): ``(gQ + Q copyltu(M)) R^-H`` with
    ``M = R gR^H - gQ^H Q`` and copyltu(M) its lower triangle mirrored to the upper one."""
    m_ = matmul(r, _mH(gr)) - matmul(_mH(gq), q)
    lower = tril(m_, -1)
    sym = lower + _mH(lower) + diagonal(m_, 0, -2, -1).real.diag_embed().to(m_.dtype)
    b = gq + matmul(q, sym)
    # X R^H = B  <=>  R X^H = B^H, an upper-triangular solve
    return _mH(solve_triangular(r, _mH(b), upper=True))


def qr(A: Tensor, mode: str = "reduced", *, out=None):
    """``torch.linalg.qr``: (Q, R) with A = QR, Q with orthonormal columns and R upper
    triangular; ``mode`` "reduced" (default), "complete" (square Q) or "r" (R only, Q empty).
    Differentiable except for ``mode='r'`` and "complete" with more rows than columns."""
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           "'reduced' (default), 'r', or 'complete'")
    if A.ndim < 2:
        raise RuntimeError("linalg.qr: The input tensor A must have at least 2 dimensions.")
    q, r = Qr.apply(A, mode)
    result = qr_type(q, r)
    return result if out is None else write_result(out, result)


@accepts_out
def legacy_qr(input: Tensor, some: bool = True):
    """``torch.qr``: (Q, R), reduced unless ``some`` is False."""
    return qr(input, "reduced" if some else "complete")


@accepts_out
def svdvals(A: Tensor, *, driver=None) -> Tensor:
    """The singular values of ``A``, in descending order."""
    return Svd.apply(A, False)[1]


class Pinv(Primitive, node_name="LinalgPinvBackward0"):
    """The pseudo-inverse X = A^+, from the SVD (or, with ``hermitian``, from ``eigh`` of the
    lower triangle), with singular values at or under the cutoff taken as 0. Its gradient
    (Golub and Pereyra's, exact where the rank does not change, as PyTorch's) is
    gA = -X^H gX X^H + (I - A X) gX^H X X^H + X^H X gX^H (I - X A)."""

    @staticmethod
    def forward(ctx, a, atol, rtol, hermitian):
        xp = get_array_module(a)
        if hermitian:  # A = V diag(w) V^H
            w, v = xp.linalg.eigh(a)
            s, left, right = xp.abs(w), v, xp.conj(v.swapaxes(-1, -2))
        else:  # A = U diag(s) V^H
            u, w, vh = xp.linalg.svd(a, full_matrices=False)
            s, left, right = w, xp.conj(vh.swapaxes(-1, -2)), xp.conj(u.swapaxes(-1, -2))
        keep = s > _cutoff(xp, s, a.shape, atol, rtol)
        w_inv = xp.where(keep, 1 / xp.where(keep, w, 1), 0)
        x = (left * w_inv[..., None, :]) @ right
        ctx.save_for_backward(a, x)
        return x

    @staticmethod
    def backward(ctx, gx):
        a, x = ctx.saved_tensors
        xh, gh = _mH(x), _mH(gx)
        ga = (gh - a @ (x @ gh)) @ (x @ xh) + (xh @ x) @ (gh - (gh @ x) @ a)
        return ga - xh @ gx @ xh, None, None, None


_PINV_DTYPES = (_dt.float32, _dt.float64, _dt.complex64, _dt.complex128)


@accepts_out
def pinv(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False) -> Tensor:
    """The Moore-Penrose pseudo-inverse: singular values under max(atol, rtol * s_max) count
    as zero (rtol defaults to eps * max(m, n)). With ``hermitian``, ``A`` is taken to be
    Hermitian and only its lower triangle is read."""
    if A.ndim < 2 or A.dtype not in _PINV_DTYPES:
        raise RuntimeError(f"linalg.pinv({scalar_name(A.dtype)}{{{list(A.shape)}}}): expected a "
                           "tensor with 2 or more dimensions of float, double, cfloat or "
                           "cdouble types")
    if hermitian:
        _check_square(A, "linalg.eigh")
    return Pinv.apply(A, atol, rtol, hermitian)


def _cutoff(xp, s, shape, atol, rtol):
    """max(atol, rtol * s_max) for each matrix of ``shape``, as a column to compare with its
    singular values ``s``; rtol defaults to eps * max(m, n), or to 0 where atol > 0."""
    atol = None if atol is None else _column(xp, atol)
    if rtol is not None:
        rtol = _column(xp, rtol)
    else:
        rtol = xp.finfo(s.dtype).eps * max(shape[-2:])
        if atol is not None:
            rtol = xp.where(atol > 0, 0.0, rtol)
    smax = s.max(-1, keepdims=True) if s.shape[-1] else xp.zeros((*s.shape[:-1], 1), s.dtype)
    cut = smax * rtol
    return cut if atol is None else xp.maximum(cut, atol)


def _column(xp, x):
    """A tolerance (a number, an array or a Tensor of batch shape) as a column."""
    x = xp.asarray(x._data if isinstance(x, Tensor) else x)
    return x[..., None] if x.ndim else x


def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:
    """PyTorch's older ``pinv``: singular values under rcond * s_max count as zero."""
    return pinv(input, rtol=rcond)


@accepts_out
def matrix_rank(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False) -> Tensor:
    """The number of singular values (absolute eigenvalues with ``hermitian``, read from the
    lower triangle) above max(atol, rtol * s_max)."""
    s = (eigvalsh(A.detach()).abs() if hermitian else svdvals(A.detach()))._data
    return _make((s > _cutoff(A._xp, s, A.shape, atol, rtol)).sum(-1))


@accepts_out
def cond(A: Tensor, p=None) -> Tensor:
    """The condition number of ``A`` in norm ``p`` (2 by default: s_max / s_min); for the
    other norms, ``||A|| ||A^-1||``, inf where A is singular."""
    if A.shape[-1] == 0 and A.ndim >= 2 and A.shape[-2] == 0:  # PyTorch's convention: 0
        return A.new_zeros(A.shape[:-2], dtype=A.dtype.to_real())
    if p is None or p in (2, -2):
        s = svdvals(A)
        ratio = s[..., 0] / s[..., -1]
        return ratio if p != -2 else 1.0 / ratio
    _check_square(A, "linalg.cond")
    inv, info = inv_ex(A)
    return (matrix_norm(A, p) * matrix_norm(inv, p)).masked_fill(info != 0, math.inf)


def matrix_norm(A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None,
                out=None) -> Tensor:
    """Frobenius, nuclear, 1, -1, 2, -2, inf or -inf norm of the matrices in ``dim`` (of ``A``
    converted to ``dtype`` first, when given)."""
    _check_matrix_norm(A, ord, dim, dtype)
    if dtype is not None:
        A = A.to(dtype)
    r, c = dim
    if ord == "fro":  # the vector 2-norm, whose gradient at 0 is 0 (sqrt's would be NaN)
        res = A.norm(2, dim, keepdim)
    elif ord in ("nuc", 2, -2):
        s = svdvals(A.movedim((r, c), (-2, -1)))
        if ord == "nuc":
            res = s.sum(-1)
        else:
            res = _max_or_zero(s, -1, False) if ord == 2 else s.amin(-1)
        if keepdim:
            res = res.unsqueeze(-1).unsqueeze(-1).movedim((-2, -1), (r, c))
    else:
        r, c = r % A.ndim, c % A.ndim
        red, along = (r, c) if ord in (1, -1) else (c, r)
        sums = A.abs().sum(red, keepdim=keepdim)
        along -= along > red and not keepdim
        res = _max_or_zero(sums, along, keepdim) if ord > 0 else sums.amin(along, keepdim)
    return res if out is None else write_result(out, res)


_MATRIX_ORDS = frozenset(("fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf))


def _check_matrix_norm(A: Tensor, ord, dim, dtype) -> None:
    """PyTorch's checks of ``linalg.matrix_norm``'s arguments, in its order."""
    if isinstance(dim, int):  # refused by PyTorch's argument parser, before anything else
        raise TypeError("linalg_matrix_norm(): argument 'dim' must be tuple of ints, not int")
    if ord not in _MATRIX_ORDS:
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    ndim = A._data.ndim
    if ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 "
                           "dimensions.")
    if dtype is not None or A._data.dtype.kind not in "fcV":
        check_norm_dtypes(A, dtype, "linalg.matrix_norm")
    if dim == (-2, -1):  # the default: nothing more to check
        return
    if len(dim) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got "
                           f"{' '.join(map(str, dim))}")
    r, c = wrap_dim(dim[0], ndim), wrap_dim(dim[1], ndim)
    if r == c:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({r}, {c})")


def _max_or_zero(x: Tensor, dim: int, keepdim: bool = True) -> Tensor:
    """The max of nonnegative values over ``dim``; 0 where it is empty, as PyTorch's norms."""
    if x.shape[dim]:
        return x.amax(dim, keepdim=keepdim)
    shape = list(x.shape)
    shape[dim] = 1
    res = x.new_zeros(shape)
    return res if keepdim else res.squeeze(dim)


def linalg_norm(A: Tensor, ord=None, dim=None, keepdim: bool = False, *, out=None,
                dtype=None) -> Tensor:
    """``torch.linalg.norm``: a vector norm over an int ``dim`` (or of a 1-D ``A``), a matrix
    norm over a 2-tuple ``dim`` (or of a 2-D ``A``); with neither ``ord`` nor ``dim``, the
    2-norm of ``A`` flattened."""
    from ember.ops.linalg import vector_norm
    if dim is None:
        if ord is not None and A.ndim not in (1, 2):
            raise RuntimeError("linalg.norm: If dim is not specified but ord is, the input "
                               f"must be 1D or 2D. Got {A.ndim}D.")
        if ord is None or A.ndim == 1 and not isinstance(ord, str):
            result = vector_norm(A, 2 if ord is None else ord, None, keepdim, dtype=dtype)
        else:
            result = matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
    else:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        if len(dims) not in (1, 2):
            raise RuntimeError("linalg.norm: If dim is specified, it must be of length 1 or 2. "
                               f"Got {list(dims)}")
        if isinstance(ord, str):  # a matrix norm, whose own checks word the errors
            result = matrix_norm(A, ord, dims, keepdim, dtype=dtype)
        elif len(dims) == 1:
            result = vector_norm(A, 2 if ord is None else ord, dims[0], keepdim, dtype=dtype)
        else:
            result = matrix_norm(A, "fro" if ord is None else ord, dims, keepdim, dtype=dtype)
    if out is not None:
        from ember.ops.inplace import write_out
        return write_out(out, result)
    return result


# ---------------------------------------------------------------------------------------------
# Symmetric / Hermitian eigendecomposition


class Eigh(Primitive, node_name="LinalgEighBackward0"):
    @staticmethod
    def forward(ctx, a, uplo):
        w, v = get_array_module(a).linalg.eigh(a, UPLO=uplo)
        w = w.astype(a.real.dtype, copy=False)
        ctx.save_for_backward(w, v)
        return w, v

    @staticmethod
    def backward(ctx, gw, gv):
        w, v = ctx.saved_tensors
        inner = v.new_zeros(v.shape)
        if gw is not None:
            inner = inner + gw.to(v.dtype).diag_embed()
        if gv is not None:
            # Only the skew-Hermitian part of V^H gV moves V (V^H dV is skew-Hermitian): the
            # gradient comes out Hermitian, as PyTorch's.
            j = _mH(v) @ gv
            if v.is_complex():
                _check_phase(j.diagonal(0, -2, -1).imag, 1e-2,
                             "linalg_eigh_backward: " + _EIGVEC_PHASE)
            inner = inner + _inverse_gaps(w) * ((j - _mH(j)) * 0.5)
        return v @ inner @ _mH(v), None


def eigh(A: Tensor, UPLO: str = "L", *, out=None):
    """Eigenvalues (ascending) and orthonormal eigenvectors of a symmetric/Hermitian ``A``,
    read from its lower (``"L"``) or upper triangle."""
    _check_square(A, "linalg.eigh")
    w, v = Eigh.apply(A, UPLO)
    result = eigh_type(w, v)
    return result if out is None else write_result(out, result)


@accepts_out
def eigvalsh(A: Tensor, UPLO: str = "L") -> Tensor:
    return eigh(A, UPLO).eigenvalues


class Eig(Primitive, node_name="LinalgEigBackward0"):
    """A = V diag(L) V^-1 with unit-norm eigenvectors (complex, also for a real A).

    With C = V^-1 dV: V^-1 dA V = C diag(L) - diag(L) C + diag(dL), so dL is its diagonal and
    C_ij = (V^-1 dA V)_ij / (L_j - L_i) off it; ||v_i|| = 1 fixes Re C_ii, the phase of v_i is
    free. The adjoint, for a loss that does not depend on those phases (Im diag(V^H gV) = 0):
    gA = V^-H (diag(gL) + (V^H gV - V^H V Re diag(V^H gV)) / conj(L_j - L_i)) V^H."""

    @staticmethod
    def forward(ctx, a):
        w, v = get_array_module(a).linalg.eig(a)
        ctype = np.result_type(a.dtype, np.complex64)
        w, v = w.astype(ctype, copy=False), v.astype(ctype, copy=False)
        ctx.real_input = a.dtype.kind != "c"
        ctx.save_for_backward(w, v)
        return w, v

    @staticmethod
    def backward(ctx, gw, gv):
        w, v = ctx.saved_tensors
        vh = _mH(v)
        inner = v.new_zeros(v.shape)
        if gw is not None:
            inner = inner + gw.diag_embed()
        if gv is not None:
            j = vh @ gv
            d = j.diagonal(0, -2, -1)
            _check_phase(d.imag, 1e-2, "linalg_eig_backward: " + _EIGVEC_PHASE)
            j = j - (vh @ v) * d.real.unsqueeze(-2)
            inner = inner + _inverse_gaps(w.conj()) * j
        ga = solve(vh, inner @ vh)
        return ga.real if ctx.real_input else ga


def eig(A: Tensor, *, out=None):
    """Eigenvalues and unit-norm eigenvectors of a general square ``A`` (complex results),
    differentiable where the eigenvalues are distinct. NumPy only: CuPy has no general
    eigensolver."""
    _check_float(A, "linalg.eig")
    _check_square(A, "linalg.eig")
    w, v = Eig.apply(A)
    result = eig_type(w, v)
    return result if out is None else write_result(out, result)


def eigvals(A: Tensor, *, out=None) -> Tensor:
    """The eigenvalues of a general square ``A`` (complex); their gradient needs the
    eigenvectors, computed only then."""
    _check_float(A, "linalg.eigvals")
    _check_square(A, "linalg.eigvals")
    if A.requires_grad and is_grad_enabled():
        result = Eig.apply(A)[0]
    else:
        w = A._xp.linalg.eigvals(A._data)
        result = _make(w.astype(np.result_type(A._data.dtype, np.complex64), copy=False))
    return result if out is None else write_result(out, result)


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
            low, info = xp.linalg.cholesky(a), xp.zeros(a.shape[:-2], np.int32)
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
            lows[b] = xp.linalg.cholesky(batch[b])
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


# ---------------------------------------------------------------------------------------------
# Least squares, matrix exponential, small helpers


def lstsq(A: Tensor, B: Tensor, rcond=None, *, driver: str | None = None):
    """Least-squares solution of A X = B (minimum norm when rank-deficient), through the
    pseudo-inverse (differentiable). The other fields follow ``driver``, as PyTorch's CPU
    drivers fill them: the rank for all but ``gels``, the singular values for ``gelsd`` and
    ``gelss``, and the squared residuals for all but ``gelsy`` when m > n and A has full rank
    (``gels`` assumes it); the fields not filled are empty."""
    driver = driver or "gelsy"
    if driver not in ("gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError(f"torch.linalg.lstsq: parameter `driver` should be one of (gels, "
                           f"gelsy, gelsd, gelss), but got {driver}")
    vector = B.ndim == A.ndim - 1
    b = B.unsqueeze(-1) if vector else B
    x = matmul(pinv(A, rtol=rcond), b)
    if driver == "gels":
        rank = _make(A._xp.zeros((0,), np.int64))
    else:
        rank = matrix_rank(A, rtol=rcond)
    if driver in ("gelsd", "gelss"):
        s = svdvals(A.detach())
    else:
        s = A.new_zeros((0,), dtype=A.dtype.to_real())
    m, n = A.shape[-2:]
    if driver != "gelsy" and m > n and (driver == "gels" or bool((rank == n).all())):
        residuals = (matmul(A, x) - b).abs().pow(2).sum(-2)
    else:
        residuals = x.abs().flatten()[:0]  # empty, but on the graph, as PyTorch's
    return lstsq_type(x.squeeze(-1) if vector else x, residuals, rank, s)


def matrix_exp(A: Tensor) -> Tensor:
    """e^A for square matrices, by scaling and squaring a degree-18 Taylor polynomial (composed
    from matmuls, so it is differentiable)."""
    _check_square(A, "linalg.matrix_exp")
    if A.dtype.itemsize == 2:  # half precision overflows in the squarings: work in float32
        return matrix_exp(A.float()).to(A.dtype)
    n = A.shape[-1]
    norm = float(A.detach().abs().sum(-2).amax()) if A.numel() else 0.0
    # Scale to a norm under theta, where the Taylor remainder theta^19 / 19! is under the
    # dtype's eps: as few squarings as that allows, since each one doubles the rounding error.
    theta = 1.0 if A.dtype.to_real().itemsize == 8 else 3.0
    squarings = max(0, math.ceil(math.log2(norm / theta))) if norm > theta else 0
    x = A / (2.0 ** squarings)
    eye = _eye_like(A, n)
    out = eye + x / 18.0
    for k in range(17, 0, -1):  # Horner: I + x/1 (I + x/2 (I + ...))
        out = eye + matmul(x, out) / float(k)
    for _ in range(squarings):
        out = matmul(out, out)
    return out


@accepts_out
def vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    """The dot product of vectors along ``dim`` (conjugating ``x``)."""
    if x.dtype is not y.dtype:
        raise RuntimeError(f"linalg.vecdot: Expected x and y to have the same dtype, but found x "
                           f"of type {scalar_name(x.dtype)} and y of type {scalar_name(y.dtype)}"
                           " instead")
    if not (x.is_floating_point() or x.is_complex()):
        raise RuntimeError("linalg.vecdot: Expected a floating point or complex tensor as input. "
                           f"Got {scalar_name(x.dtype)}")
    return ((x.conj() if x.is_complex() else x) * y).sum(dim)


def linalg_diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    return diagonal(A, offset, dim1, dim2)

