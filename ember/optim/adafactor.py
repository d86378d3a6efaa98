"""Adafactor: Adam-like steps with a factored second moment (Shazeer & Stern, 2018)."""
from __future__ import annotations

from typing import Callable

from ember._creation import zeros_like
from ember._tensor import Tensor
from ember.autograd.grad_mode import no_grad
from ember.dtypes import finfo_np
from ember.optim.optimizer import Optimizer, _closure_loss, _scalar_state

__all__ = ["Adafactor"]


class Adafactor(Optimizer):
    r"""Adafactor, like ``torch.optim.Adafactor``.

    For a matrix (or a stack of them) the second moment is kept as its row and column means
    ``R``, ``C`` (an EMA with ``1 - beta2_t = t ** beta2_decay``) and estimated as
    ``R C / mean(R)``; a vector keeps a full EMA. The step is ``alpha_t * U / max(1, RMS(U) / d)``
    with ``U = g / sqrt(max(V, eps1^2))`` and ``alpha_t = max(eps2, RMS(p)) * min(lr, 1/sqrt(t))``;
    weight decay shrinks ``p`` by ``1 - lr * weight_decay`` first.

    Args:
        params: parameters or parameter groups.
        lr: the relative step size's cap (default 1e-2).
        beta2_decay: exponent of the second moment's decay rate (default -0.8).
        eps: (eps1, eps2): the floor of the second moment's estimate (None: the dtype's
            machine epsilon) and of the parameter's RMS (default (None, 1e-3)).
        d: the update's RMS clipping threshold (default 1.0).
        weight_decay: decoupled weight decay (default 0).
        maximize: ascend instead of descend (default False).
        foreach: accepted for compatibility.
    """

    def __init__(self, params, lr: float = 1e-2, beta2_decay: float = -0.8,
                 eps: tuple = (None, 1e-3), d: float = 1.0, weight_decay: float = 0.0, *,
                 foreach: bool | None = None, maximize: bool = False) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize)
        super().__init__(params, defaults)

    @staticmethod
    def _new_state(p: Tensor) -> dict:
        state = {"step": _scalar_state(0.0)}
        if p.dim() > 1:
            row_shape = list(p.shape)
            row_shape[-1] = 1
            col_shape = list(p.shape)
            col_shape[-2] = 1
            state["row_var"] = p.new_zeros(row_shape)
            state["col_var"] = p.new_zeros(col_shape)
        else:
            state["variance"] = zeros_like(p)
        return state

    def step(self, closure: Callable | None = None):
        """One optimization step; ``closure`` re-evaluates the model and returns the loss."""
        loss = _closure_loss(closure)
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        self._update(p, group)
        return loss

    def _update(self, p: Tensor, group: dict) -> None:
        """One parameter's step, in PyTorch's order of operations."""
        if p.is_complex():
            raise RuntimeError("Adafactor does not support complex parameters")
        if p.grad.is_sparse:
            self._sparse_update(group)  # PyTorch's refusal
        grad = -p.grad if group["maximize"] else p.grad
        state = self.state[p]
        if not state:
            state.update(self._new_state(p))
        lr, d, weight_decay = float(group["lr"]), group["d"], group["weight_decay"]
        eps1, eps2 = group["eps"]
        if eps1 is None:
            eps1 = float(finfo_np(p.dtype).eps)
        state["step"] += 1
        step = float(state["step"])
        one_minus_beta2 = step ** group["beta2_decay"]
        rho = min(lr, 1 / step ** 0.5)
        alpha = max(eps2, p.norm(2).item() / p.numel() ** 0.5) * rho
        if weight_decay != 0:
            p.mul_(1 - lr * weight_decay)
        if grad.dim() > 1:
            row_var, col_var = state["row_var"], state["col_var"]
            row_mean = grad.norm(dim=-1, keepdim=True).square_().div_(grad.size(-1))
            row_var.lerp_(row_mean, one_minus_beta2)
            col_mean = grad.norm(dim=-2, keepdim=True).square_().div_(grad.size(-2))
            col_var.lerp_(col_mean, one_minus_beta2)
            var_estimate = row_var @ col_var
            var_estimate.div_(row_var.mean(dim=-2, keepdim=True).clamp_(min=eps1))
        else:
            variance = state["variance"]
            variance.lerp_(grad * grad, one_minus_beta2)
            var_estimate = variance.clone()
        update = var_estimate.clamp_(min=eps1 * eps1).rsqrt_()
        update.mul_(grad)
        denom = max(1.0, update.norm(2).item() / (update.numel() ** 0.5 * d))
        p.add_(update, alpha=-alpha / denom)
