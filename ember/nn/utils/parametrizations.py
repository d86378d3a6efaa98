"""Ready-made parametrizations: ``weight_norm``, ``spectral_norm`` and ``orthogonal``, each
registered through :mod:`ember.nn.utils.parametrize`."""
from __future__ import annotations

from ember._tensor import Tensor
from ember.autograd.grad_mode import no_grad
from ember.nn import functional as F
from ember.nn.modules.conv import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from ember.nn.modules.module import Module
from ember.nn.utils import parametrize

__all__ = ["orthogonal", "spectral_norm", "weight_norm"]


def _norm_except_dim(v: Tensor, dim: int) -> Tensor:
    """The 2-norm of ``v`` over every dim but ``dim``, shaped to broadcast against ``v``
    (the norm of all of ``v`` when ``dim`` is -1)."""
    if dim == -1:
        return v.norm()
    dims = [d for d in range(v.ndim) if d != dim]
    return (v * v).sum(dims, keepdim=True).sqrt()


class _WeightNorm(Module):
    def __init__(self, dim: int | None = 0) -> None:
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return weight_v * (weight_g / _norm_except_dim(weight_v, self.dim))

    def right_inverse(self, weight: Tensor) -> tuple:
        return _norm_except_dim(weight, self.dim), weight


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Reparametrize ``module.<name>`` as ``g * v / ||v||`` with the norm over every dim but
    ``dim`` (all dims if None): ``parametrizations.<name>.original0`` is g, ``original1`` v.

    Example::

        >>> m = weight_norm(nn.Linear(20, 40))
        >>> m.parametrizations.weight.original0.shape
        torch.Size([40, 1])
    """
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)

    def load_old_keys(mod, state_dict, prefix, *args) -> None:
        # checkpoints of the hook-based weight_norm name the tensors <name>_g and <name>_v
        for old, new in ((f"{name}_g", "original0"), (f"{name}_v", "original1")):
            if prefix + old in state_dict:
                state_dict[f"{prefix}parametrizations.{name}.{new}"] = \
                    state_dict.pop(prefix + old)

    module.register_load_state_dict_pre_hook(load_old_keys)
    return module


class _SpectralNorm(Module):
    def __init__(self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0,
                 eps: float = 1e-12) -> None:
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of "
                             f"[-{ndim}, {ndim - 1}] but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:  # a vector is simply normalised
            self.n_power_iterations = n_power_iterations
            mat = self._matrix(weight)
            h, w = mat.shape
            self.register_buffer("_u", F.normalize(mat.new_empty(h).normal_(0, 1), dim=0,
                                                   eps=eps))
            self.register_buffer("_v", F.normalize(mat.new_empty(w).normal_(0, 1), dim=0,
                                                   eps=eps))
            self._power_method(mat, 15)  # start from a good estimate

    def _matrix(self, weight: Tensor) -> Tensor:
        if self.dim != 0:
            weight = weight.movedim(self.dim, 0)
        return weight.flatten(1)

    def _power_method(self, mat: Tensor, iterations: int) -> None:
        # u and v are updated in place: they are buffers that replicas share
        with no_grad():
            mat = mat.detach()
            for _ in range(iterations):
                self._u.copy_(F.normalize(mat.mv(self._v), dim=0, eps=self.eps))
                self._v.copy_(F.normalize(mat.mH.mv(self._u), dim=0, eps=self.eps))

    def forward(self, weight: Tensor) -> Tensor:
        if weight.ndim == 1:
            return F.normalize(weight, dim=0, eps=self.eps)
        mat = self._matrix(weight)
        if self.training:
            self._power_method(mat, self.n_power_iterations)
        # clones: a second forward's power iteration must not modify what the first saved
        u = self._u.clone()
        v = self._v.clone()
        sigma = (u.conj() * mat.mv(v)).sum()
        return weight / sigma

    def right_inverse(self, value: Tensor) -> Tensor:
        # any value is accepted as the unnormalised weight
        return value


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1,
                  eps: float = 1e-12, dim: int | None = None) -> Module:
    """Divide ``module.<name>`` by its largest singular value, estimated by
    ``n_power_iterations`` steps of the power method per training forward (buffers
    ``parametrizations.<name>.0._u`` and ``._v``). ``dim`` (default 0, or 1 for transposed
    convolutions) indexes the output features.

    Example::

        >>> m = spectral_norm(nn.Linear(20, 40))
        >>> m.parametrizations.weight.original.shape
        torch.Size([40, 20])
    """
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is None:
        dim = 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d, ConvTranspose3d)) \
            else 0
    parametrize.register_parametrization(
        module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module


_MAPS = ("matrix_exp", "cayley", "householder")


def _eye_like(x: Tensor, n: int) -> Tensor:
    from ember._creation import eye
    return eye(n, dtype=x.dtype, device=x.device)


def _householder_product(a: Tensor, tau: Tensor) -> Tensor:
    """The first k columns of H_1 ... H_k, H_i = I - tau_i v_i v_i^H, with v_i the i-th column
    of the strictly lower part of ``a`` (n, k) plus a 1 on the diagonal (LAPACK's orgqr)."""
    n, k = a.shape[-2], a.shape[-1]
    eye = _eye_like(a, n)
    v = a.tril(-1) + eye[:, :k]
    q = eye[:, :k].expand(*a.shape[:-2], n, k)
    for i in reversed(range(k)):
        vi = v[..., i:i + 1]
        q = q - (tau[..., i:i + 1].unsqueeze(-1) * vi) @ (vi.mH @ q)
    return q


def _make_orthogonal(a: Tensor) -> Tensor:
    """The Q of a QR decomposition of ``a``, signs fixed so that R has a positive diagonal."""
    from ember import linalg
    q, r = linalg.qr(a)
    return q * r.diagonal(dim1=-2, dim2=-1).sgn().unsqueeze(-2)


class _Orthogonal(Module):
    def __init__(self, weight: Tensor, orthogonal_map: str, *,
                 use_trivialization: bool = True) -> None:
        super().__init__()
        if weight.is_complex() and orthogonal_map == "householder":
            raise ValueError("The householder parametrization does not support complex "
                             "tensors.")
        self.shape = weight.shape
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, x: Tensor) -> Tensor:
        n, k = x.shape[-2], x.shape[-1]
        transposed = n < k
        if transposed:
            x = x.mT
            n, k = k, n
        if self.orthogonal_map in ("matrix_exp", "cayley"):
            x = x.tril()
            if n != k:  # complete the n x k lower part to a square with zeros
                x = F.pad(x, (0, n - k))
            a = x - x.mH
            if self.orthogonal_map == "matrix_exp":
                from ember import linalg
                q = linalg.matrix_exp(a)
            else:
                from ember import linalg
                eye = _eye_like(a, n)
                q = linalg.solve(eye - 0.5 * a, eye + 0.5 * a)
            if n != k:
                q = q[..., :k]
        else:
            a = x.tril(-1)
            tau = 2.0 / (1.0 + (a * a).sum(-2))
            q = _householder_product(a, tau)
            q = q * x.diagonal(dim1=-2, dim2=-1).detach().int().unsqueeze(-2)
        if getattr(self, "base", None) is not None:
            q = self.base @ q
        return q.mT if transposed else q

    def right_inverse(self, q: Tensor) -> Tensor:
        if q.shape != self.shape:
            raise ValueError(f"Expected a matrix or batch of matrices of shape {self.shape}. "
                             f"Got a tensor of shape {q.shape}.")
        with no_grad():
            q_init = q
            n, k = q.shape[-2], q.shape[-1]
            if n < k:
                q = q.mT
                n, k = k, n
            if "base" not in self._buffers:
                raise NotImplementedError("ember's orthogonal() can be assigned to only with "
                                          "use_trivialization=True")
            if n != k:  # complete to a square with random columns
                extra = q.new_empty(*q.shape[:-2], n, n - k).normal_()
                from ember.ops.movement import cat
                q = cat([q, extra], -1)
            self.base = _make_orthogonal(q)
            from ember._creation import eye
            rows, cols = q_init.shape[-2:]
            neg_eye = -eye(rows, cols, dtype=q_init.dtype, device=q_init.device)
            return neg_eye.expand(q_init.shape).clone()


def orthogonal(module: Module, name: str = "weight", orthogonal_map: str | None = None, *,
               use_trivialization: bool = True) -> Module:
    """Keep the matrix (or batch of matrices) ``module.<name>`` orthogonal (unitary) by
    writing it as a map of an unconstrained tensor: "matrix_exp" (default for square or
    complex), "cayley" or "householder" (default otherwise). With ``use_trivialization`` the
    map starts from a ``base`` buffer, the orthogonalised initial weight.

    Example::

        >>> m = orthogonal(nn.Linear(20, 40))
        >>> q = m.weight
        >>> bool((q.T @ q - ember.eye(20)).abs().max() < 1e-5)
        True
    """
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if weight.ndim < 2:
        raise ValueError("Expected a matrix or batch of matrices. "
                         f"Got a tensor of {weight.ndim} dimensions.")
    if orthogonal_map is None:
        square = weight.shape[-2] == weight.shape[-1]
        orthogonal_map = "matrix_exp" if square or weight.is_complex() else "householder"
    if orthogonal_map not in _MAPS:
        raise ValueError('orthogonal_map has to be one of "matrix_exp", "cayley", '
                         f'"householder". Got: {orthogonal_map}')
    orth = _Orthogonal(weight, orthogonal_map, use_trivialization=use_trivialization)
    parametrize.register_parametrization(module, name, orth, unsafe=True)
    return module
