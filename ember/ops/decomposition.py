"""Matrix decompositions and the solvers built on them, with PyTorch's ``torch.linalg``
semantics: differentiable SVD, QR, symmetric and general eigendecompositions, Cholesky, LU and
triangular solves (backward formulas written in ember ops, so they are differentiable again),
and least squares composed from them. SVD, QR, pinv, matrix norms and eigendecompositions are
here; Cholesky with the triangular solves in ``cholesky_decomposition``, LU with the solvers and
inverses that report singular inputs in ``lu_decomposition``, both re-exported here.

Singular or non-positive-definite inputs raise ``LinAlgError`` (a RuntimeError), as PyTorch's
do; the ``*_ex`` variants return an ``info`` tensor instead, and results (with gradients) that
hold the infs and NaNs of the failed factorization, as PyTorch's do.
"""
from __future__ import annotations

import math

import numpy as np

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive
from ember.autograd.grad_mode import is_grad_enabled
from ember.backend.device import get_array_module
from ember.ops._util import accepts_out, scalar_name, wrap_dim, write_result
from ember.ops.elementwise import where
from ember.ops.linalg import matmul, tril
from ember.ops.linear_systems import _check_square, solve
from ember.ops.movement import cat, diagonal
from ember.ops.norms import check_norm_dtypes
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
    from ember.ops.norms import vector_norm
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


# Cholesky and LU, with the solvers built on them, live beside this module and build on its
# helpers above: re-exported here, last, so that ``from ember.ops.decomposition import lu`` (and
# this module's own calls) find them.
from ember.ops.cholesky_decomposition import (  # noqa: E402,F401  (re-exported)
    Cholesky,
    CholeskySolve,
    SolveTriangular,
    cholesky,
    cholesky_ex,
    cholesky_inverse,
    cholesky_solve,
    linalg_cholesky,
    solve_triangular,
    triangular_solve,
)
from ember.ops.lu_decomposition import (  # noqa: E402,F401  (re-exported)
    LuFactor,
    inv_ex,
    legacy_lu,
    legacy_lu_solve,
    linalg_inv,
    linalg_solve,
    lu,
    lu_factor,
    lu_factor_ex,
    lu_solve,
    lu_unpack,
    solve_ex,
    tensorinv,
    tensorsolve,
)
