"""Randomized and iterative partial decompositions: ``svd_lowrank`` and ``pca_lowrank``
(Halko, Martinsson and Tropp's randomized range finder) and ``lobpcg`` (Knyazev's locally
optimal block preconditioned conjugate gradient, for a few extreme eigenpairs of a symmetric
positive definite generalized problem A X = B X E).

The randomized decompositions compose differentiable ember ops (matmul, QR, SVD), so their
gradients are those of the computed factors. ``lobpcg`` iterates on raw arrays; for the
standard problem its backward gives A the exact gradient of the converged eigenpairs (as
PyTorch's does, in ember ops, so it differentiates again); for the generalized one the
eigenvalues are Rayleigh quotients of the fixed eigenvectors, differentiable in A and B (the
Hellmann-Feynman theorem), and the eigenvectors carry no gradient."""
from __future__ import annotations

import itertools

from ember._tensor import Tensor
from ember.autograd.function import Primitive
from ember.backend.device import get_array_module
from ember.ops.copying import cat
from ember.ops.decomposition import linalg_svd, qr
from ember.ops.linear_systems import solve

# ---------------------------------------------------------------------------------------------
# Randomized SVD and PCA


def _approximate_basis(A: Tensor, q: int, niter: int, M: Tensor | None) -> Tensor:
    """An orthonormal (..., m, q) basis approximately spanning the range of A - M, refined by
    ``niter`` power iterations."""
    from ember._creation import randn
    R = randn(*A.shape[:-2], A.shape[-1], q, dtype=A.dtype, device=A.device)
    X = A @ R if M is None else A @ R - M @ R
    Q = qr(X).Q
    for _ in range(niter):
        X = A.mH @ Q if M is None else A.mH @ Q - M.mH @ Q
        Q = qr(X).Q
        X = A @ Q if M is None else A @ Q - M @ Q
        Q = qr(X).Q
    return Q


def svd_lowrank(A: Tensor, q: int | None = 6, niter: int | None = 2,
                M: Tensor | None = None) -> tuple:
    """An approximate rank-``q`` SVD (U, S, V) of A - M by a randomized range finder, with
    A - M ~= U diag(S) V^H; exact when the rank of A - M is at most ``q``. The random sketch is
    drawn as PyTorch's, so after the same seed the factors are PyTorch's up to their signs.

    Args:
        A: (..., m, n) input.
        q: the rank of the sketch (over-sample a little for accuracy); 6 by default.
        niter: power iterations (each sharpens the spectrum's decay); 2 by default.
        M: an optional (..., m, n) (or broadcastable) mean subtracted from A.
    """
    q = 6 if q is None else q
    niter = 2 if niter is None else niter
    m, n = A.shape[-2:]
    if M is not None:
        M = M.broadcast_to(A.shape)
    if m < n:  # sketch the tall side: work on the adjoint
        A = A.mH
        M = None if M is None else M.mH
    Q = _approximate_basis(A, q, niter, M)
    B = Q.mH @ A if M is None else Q.mH @ (A - M)
    U, S, Vh = linalg_svd(B, full_matrices=False)
    U = Q @ U
    V = Vh.mH
    return (V, S, U) if m < n else (U, S, V)


def pca_lowrank(A: Tensor, q: int | None = None, center: bool = True, niter: int = 2) -> tuple:
    """The principal components of the rows of A: ``svd_lowrank`` of A less its column means
    (when ``center``), with q = min(6, m, n) by default. V's columns are the principal
    directions and S**2 / (m - 1) the variances along them."""
    m, n = A.shape[-2:]
    if q is None:
        q = min(6, m, n)
    elif not (isinstance(q, int) and 0 <= q <= min(m, n)):
        raise ValueError(f"q(={q}) must be non-negative integer and not greater than "
                         f"min(m, n)={min(m, n)}")
    if not (isinstance(niter, int) and niter >= 0):
        raise ValueError(f"niter(={niter}) must be non-negative integer")
    if not center:
        return svd_lowrank(A, q, niter)
    return svd_lowrank(A, q, niter, A.mean(dim=-2, keepdim=True))


# ---------------------------------------------------------------------------------------------
# LOBPCG


def _b_orthonormal(xp, S, BS, drop: float):
    """A basis T with (S T)^H B (S T) = I spanning S's columns, dropping directions whose
    B-Gram eigenvalue is below ``drop`` times the largest (a nearly dependent block)."""
    gram = S.conj().T @ BS
    w, v = xp.linalg.eigh((gram + gram.conj().T) / 2)
    keep = w > drop * w.max()
    return v[:, keep] / xp.sqrt(w[keep])


def _lobpcg_one(xp, a, b, x, ik, k: int, niter: int, tol: float, largest: bool):
    """(E, X): the ``k`` extreme eigenpairs of one matrix pencil (a, b) from the start ``x``."""
    n = x.shape[1]
    apply_b = (lambda v: v) if b is None else (lambda v: b @ v)
    eps = xp.finfo(a.dtype).eps
    norm_a = float(xp.linalg.norm(a, 2)) if a.size else 0.0
    norm_b = 1.0 if b is None else float(xp.linalg.norm(b, 2))
    blocks = [x]
    for _ in (range(niter) if niter >= 0 else itertools.count()):
        S = xp.concatenate(blocks, axis=1)
        T = _b_orthonormal(xp, S, apply_b(S), eps * 10)
        reduced = T.conj().T @ (S.conj().T @ (a @ S)) @ T
        w, z = xp.linalg.eigh((reduced + reduced.conj().T) / 2)
        order = xp.argsort(-w if largest else w)[:n]
        e, y = w[order], T @ z[:, order]
        # The conjugate direction: the part of the update outside the current iterate's span.
        y_rest = y.copy()
        y_rest[:n] = 0
        p = S @ y_rest if len(blocks) > 1 else None
        x = S @ y
        residual = a @ x - apply_b(x) * e
        error = xp.linalg.norm(residual[:, :k], axis=0) / (norm_a + xp.abs(e[:k]) * norm_b)
        if bool((error < tol).all()):
            break
        w_block = residual if ik is None else ik @ residual
        blocks = [x, w_block] if p is None else [x, w_block, p]
    return e[:k], x[:, :k]


def lobpcg(A: Tensor, k: int | None = None, B: Tensor | None = None, X: Tensor | None = None,
           n: int | None = None, iK: Tensor | None = None, niter: int | None = None,
           tol: float | None = None, largest: bool | None = None, method: str | None = None,
           tracker=None, ortho_iparams=None, ortho_fparams=None, ortho_bparams=None) -> tuple:
    """The ``k`` largest (or smallest) eigenpairs (E, X) of the symmetric positive definite
    generalized problem A X = B X diag(E), by LOBPCG.

    Args:
        A: (..., m, m) symmetric input.
        k: eigenpairs wanted (default 1, or X's column count).
        B: (..., m, m) symmetric positive definite right-hand matrix (identity if None).
        X: (..., m, n) initial approximation (random if None).
        n: the block size when X is None (default k).
        iK: (..., m, m) preconditioner applied to the residuals.
        niter: iterations at most (default 1000; -1 runs to convergence).
        tol: relative residual tolerance (default the square root of the dtype's eps).
        largest: True (default) for the largest eigenvalues, False for the smallest.
        method, tracker, ortho_*: PyTorch's tuning knobs, accepted for compatibility.

    Returns:
        (E, X): E of shape (..., k), ordered from the extreme inwards, X of shape (..., m, k).
    """
    from ember._creation import randn
    m = A.shape[-1]
    if k is None:
        k = 1 if X is None else X.shape[-1]
    if n is None:
        n = k if X is None else X.shape[-1]
    if m < 3 * n:
        raise ValueError(f"LOBPCG algorithm is not applicable when the number of A rows (={m})"
                         f" is smaller than 3 x the number of requested eigenpairs (={n})")
    if method not in (None, "basic", "ortho"):
        raise ValueError(f"method must be 'basic' or 'ortho', got {method!r}")
    largest = True if largest is None else largest
    niter = 1000 if niter is None else niter
    if tol is None:
        tol = float(A._xp.finfo(A._data.dtype).eps) ** 0.5
    if X is None:
        X = randn(*A.shape[:-2], m, n, dtype=A.dtype, device=A.device)
    if B is None:
        return Lobpcg.apply(A, X.detach(), None if iK is None else iK.detach(), k, niter, tol,
                            largest)
    E, V = Lobpcg.apply(A.detach(), X.detach(), None if iK is None else iK.detach(), k,
                        niter, tol, largest, B.detach())
    if not (A.requires_grad or B.requires_grad):
        return E, V
    # The generalized problem: eigenvalues as Rayleigh quotients of the fixed eigenvectors,
    # differentiable in A and B; the eigenvectors carry no gradient.
    quotient = (V.conj() * (A @ V)).sum(-2) / (V.conj() * (B @ V)).sum(-2)
    return (quotient.real if quotient.is_complex() else quotient), V


class Lobpcg(Primitive, node_name="LOBPCGAutogradFunctionBackward"):
    @staticmethod
    def forward(ctx, a, x, ik, k, niter, tol, largest, b=None):
        xp = get_array_module(a)
        m = a.shape[-1]
        batch = a.shape[:-2]

        def flat(t):
            return None if t is None else xp.broadcast_to(
                t, (*batch, *t.shape[-2:])).reshape(-1, *t.shape[-2:])
        a_, b_, x_, ik_ = flat(a), flat(b), flat(x), flat(ik)
        pairs = [_lobpcg_one(xp, a_[i], None if b_ is None else b_[i], x_[i],
                             None if ik_ is None else ik_[i], k, niter, tol, largest)
                 for i in range(a_.shape[0])]
        values = xp.stack([e for e, _ in pairs]).reshape(*batch, k)
        vectors = xp.stack([v for _, v in pairs]).reshape(*batch, m, k)
        ctx.save_for_backward(a, values, vectors)
        return values, vectors

    @staticmethod
    def backward(ctx, gE, gX):
        # For a simple eigenpair (e, x) of the symmetric A, dx = -(A - e)^+ dA x restricted to
        # the complement of x: w = (A - e)^+ (I - x x^H) gx comes from the bordered system
        # [[A - e, x], [x^H, 0]] [w; mu] = [(I - x x^H) gx; 0]. Then dL/dA is the symmetric
        # part of X diag(gE) X^H - sum_i w_i x_i^H (PyTorch's gradient). Written in ember ops
        # on the saved outputs, so that it differentiates again, as PyTorch's does.
        from ember._creation import eye, zeros
        a, e, v = ctx.saved_tensors
        a = (a + a.mH) / 2  # (the same A; its own gradient symmetric, as PyTorch's)
        m, k = v.shape[-2:]
        grad = a.new_zeros(a.shape)
        if gE is not None:
            grad = grad + (v * gE.unsqueeze(-2)) @ v.mH
        if gX is not None:
            # one bordered (m + 1) x (m + 1) system per eigenpair, batched: (..., k, m+1, m+1)
            cols = v.mT  # (..., k, m)
            shifted = a.unsqueeze(-3) - e[..., :, None, None] * eye(m, dtype=a.dtype,
                                                                    device=a.device)
            corner = zeros(*cols.shape[:-1], 1, 1, dtype=a.dtype, device=a.device)
            border = cat([cat([shifted, cols.unsqueeze(-1)], -1),
                          cat([cols.conj().unsqueeze(-2), corner], -1)], -2)
            gcols = gX.mT
            along = (cols.conj() * gcols).sum(-1, keepdim=True)
            rhs = cat([gcols - cols * along, corner[..., 0]], -1).unsqueeze(-1)
            w = solve(border, rhs)[..., :m, 0]  # (..., k, m)
            grad = grad - w.mT @ cols.conj()
        grad = (grad + grad.mH) / 2
        return grad, None, None, None, None, None, None, None
