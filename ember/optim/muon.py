"""Muon: momentum whose update for each matrix is orthogonalised by a Newton-Schulz iteration."""
from __future__ import annotations

import math
from typing import Callable

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.autograd.grad_mode import no_grad
from ember.backend.device import as_dtype, get_array_module
from ember.optim.optimizer import Optimizer, _closure_loss

__all__ = ["Muon"]

_ADJUST_LR_FNS = (None, "original", "match_rms_adamw")
_MAX_NS_STEPS = 100


class Muon(Optimizer):
    r"""Muon, like ``torch.optim.Muon``: for each 2-D parameter,

    ``B = lerp(B, g, 1 - momentum)``, ``U = lerp(g, B, momentum)`` (Nesterov) or ``U = B``,
    ``O = NS(U)`` (``ns_steps`` Newton-Schulz iterations in bfloat16, which push the singular
    values of ``U / max(||U||_F, eps)`` towards 1), ``p *= 1 - lr * weight_decay``,
    ``p -= adjusted_lr * O``. ``adjust_lr_fn`` scales the rate by the shape ``(A, B)``:
    ``"original"`` (the default) by ``sqrt(max(1, A / B))``, ``"match_rms_adamw"`` by
    ``0.2 * sqrt(max(A, B))``.

    Args:
        params: 2-D parameters or parameter groups (optimize biases and embeddings with
            another optimizer, e.g. AdamW).
        lr: learning rate (default 1e-3).
        weight_decay: decoupled weight decay (default 0.1).
        momentum: momentum factor (default 0.95).
        nesterov: Nesterov momentum (default True).
        ns_coefficients: ``(a, b, c)`` of the iteration ``X = a X + (b A + c A^2) X`` with
            ``A = X X^T`` (default (3.4445, -4.775, 2.0315)).
        eps: the least Frobenius norm ``U`` is divided by (default 1e-7).
        ns_steps: Newton-Schulz iterations, fewer than 100 (default 5).
        adjust_lr_fn: None, ``"original"`` or ``"match_rms_adamw"`` (default None: original).

    Example::

        >>> opt = ember.optim.Muon([p for p in model.parameters() if p.ndim == 2], lr=0.02)
        >>> opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()
    """

    def __init__(self, params, lr: float | Tensor = 1e-3, weight_decay: float = 0.1,
                 momentum: float = 0.95, nesterov: bool = True,
                 ns_coefficients: tuple[float, float, float] = (3.4445, -4.775, 2.0315),
                 eps: float = 1e-7, ns_steps: int = 5, adjust_lr_fn: str | None = None) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
        if not 0.0 <= momentum:
            raise ValueError(f"momentum should be >= 0 but is: {momentum}")
        if adjust_lr_fn not in _ADJUST_LR_FNS:
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                        ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps,
                        adjust_lr_fn=adjust_lr_fn)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError("Muon only supports 2D parameters whereas we found a "
                                     f"parameter with size: {p.size()}")

    def step(self, closure: Callable | None = None):
        """One optimization step; ``closure`` re-evaluates the model and returns the loss."""
        loss = _closure_loss(closure)
        with no_grad():
            for group in self.param_groups:
                work = []
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    if p.is_complex():
                        raise RuntimeError("Muon does not support complex parameters")
                    if p.grad.is_sparse:
                        raise RuntimeError("Muon does not support sparse gradients")
                    state = self.state[p]
                    if not state:
                        state["momentum_buffer"] = _make(
                            get_array_module(p._data).zeros_like(p._data))
                    work.append((p, state["momentum_buffer"]._data))
                for p, buf in work:
                    _update(p._data, p.grad._data, buf, group)
                    p._bump_version()
        return loss


def _update(p, g, buf, group: dict) -> None:
    """One parameter's step on its arrays, in place, in PyTorch's order of operations and
    roundings: elementwise work in float32 (float64 for float64 parameters), with the fused
    multiply-adds of PyTorch's kernels (see ``_fma``)."""
    xp = get_array_module(p)
    compute = xp.float64 if p.dtype == xp.float64 else xp.float32
    lr = float(group["lr"])
    momentum = group["momentum"]
    buf[...] = _lerp(buf, g, 1 - momentum, compute)
    u = as_dtype(_lerp(g, buf, momentum, compute), p.dtype) if group["nesterov"] else buf
    ortho = newton_schulz(u, group["ns_steps"], group["ns_coefficients"], group["eps"])
    if u is buf and buf.dtype == _dt.bfloat16.np_dtype:
        # PyTorch 2.13 normalises in place the bfloat16 copy of U it orthogonalises, and a
        # bfloat16 U is no copy: without Nesterov, the buffer itself is normalised.
        buf[...] = _normalized(buf, group["eps"])
    if group["weight_decay"] != 0:
        p[...] = as_dtype(p, compute) * (1 - lr * group["weight_decay"])
    neg_lr = -_adjust_lr(lr, group["adjust_lr_fn"], p.shape)
    if p.dtype.itemsize == 2:  # float16, bfloat16: PyTorch's add_ rounds alpha to the dtype
        neg_lr = float(p.dtype.type(neg_lr))
    p[...] = _fma(ortho, neg_lr, as_dtype(p, compute), compute)


def _lerp(start, end, weight: float, compute):
    """``start.lerp(end, weight)`` in the ``compute`` dtype as PyTorch computes it: one fused
    multiply-add of ``end - start``, from ``start`` for a weight below 0.5, else from ``end``
    (with ``1 - weight`` rounded to the compute dtype)."""
    start = as_dtype(start, compute)
    end = as_dtype(end, compute)
    if weight < 0.5:
        return _fma(end - start, weight, start, compute)
    return _fma(end - start, -float(compute(1) - compute(weight)), end, compute)


def _fma(x, scale: float, y, compute):
    """``x * scale + y`` in the ``compute`` dtype with one rounding, as the fused multiply-adds
    of PyTorch's kernels. float32 is emulated in float64, where the product of two float32
    values is exact; float64 rounds twice, a last-bit difference far below its tolerance."""
    xp = get_array_module(x)
    if compute == xp.float64:
        return as_dtype(x, compute) * scale + as_dtype(y, compute)
    exact = x.astype(xp.float64) * float(xp.float32(scale)) + y.astype(xp.float64)
    return exact.astype(xp.float32)


def _adjust_lr(lr: float, adjust_lr_fn: str | None, shape: tuple) -> float:
    """The rate for a matrix of ``shape``; an unknown name set after construction leaves it,
    as in PyTorch."""
    rows, cols = shape
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return lr * math.sqrt(max(1, rows / cols))
    if adjust_lr_fn == "match_rms_adamw":
        return lr * (0.2 * math.sqrt(max(rows, cols)))
    return lr


def newton_schulz(u, steps: int, coefficients: tuple, eps: float):
    """The Newton-Schulz orthogonalisation of the matrix array ``u``, as PyTorch runs it: in
    bfloat16, ``X = U / max(||U||_F, eps)`` (the wide orientation, so that ``A = X X^T`` is the
    smaller Gram matrix), then ``steps`` times ``A = X X^T``, ``B = b A + c A A``,
    ``X = a X + B X``.

    Returns:
        a float32 array holding bfloat16 values, shaped as ``u``.
    """
    if steps >= _MAX_NS_STEPS:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if len(coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    a, b, c = coefficients
    # Each bfloat16 result is computed in float32 (products accumulate in float32, as in
    # PyTorch's bfloat16 kernels) and rounded once; float32 arrays carry the rounded values,
    # so that the products need no conversions.
    x = _normalized(u, eps)
    tall = x.shape[0] > x.shape[1]
    if tall:
        x = x.T
    for _ in range(steps):
        gram = _bfloat16(x @ x.T)
        # gram is symmetric: gram @ gram.T is the same product, and BLAS's half-cost syrk
        poly = _scale_add(gram, b, (gram @ gram.T) * c)
        x = _scale_add(x, a, poly @ x)
    return x.T if tall else x


def _normalized(u, eps: float):
    """``u / max(||u||_F, eps)`` in bfloat16 (as float32 values), as PyTorch computes it."""
    xp = get_array_module(u)
    x = _bfloat16(as_dtype(u, xp.float32))
    norm = _bfloat16(xp.sqrt(xp.sum(x * x)))
    return _bfloat16(x / xp.maximum(norm, _bfloat16(xp.asarray(eps, dtype=xp.float32))))


def _scale_add(x, scale: float, y):
    """``x * scale + y`` rounded to bfloat16: PyTorch's ``addmm(x, ..., beta=scale)`` adds
    ``beta * x`` to ``alpha * product`` (``y``) by a fused multiply-add in float32."""
    return _bfloat16(_fma(x, scale, y, get_array_module(x).float32))


def _bfloat16(a):
    """float32 ``a`` rounded to bfloat16 (to nearest, ties to even), kept as float32."""
    return a.astype(_dt.bfloat16.np_dtype).astype(a.dtype)
