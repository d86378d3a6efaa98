"""Adam (and the shared update of AdamW): adaptive moment estimation."""
from __future__ import annotations

import functools

from ember._tensor import Tensor, _make
from ember.backend.device import get_array_module
from ember.optim.optimizer import (
    Optimizer,
    _adam_moments_source,
    _adam_scalars,
    _advance_step,
    _check_range,
    _scalar_state,
)

__all__ = ["Adam"]


def _check_adam_args(lr, betas, eps, weight_decay) -> None:
    _check_range("learning rate", lr)
    _check_range("epsilon value", eps)
    _check_range("beta", betas[0], high=1.0, index=0)
    _check_range("beta", betas[1], high=1.0, index=1)
    _check_range("weight_decay value", weight_decay)


class Adam(Optimizer):
    r"""Adam, like ``torch.optim.Adam``.

    ``m = lerp(m, g, 1 - beta1)``, ``v = beta2 * v + (1 - beta2) * g * g``,
    ``p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)``; ``amsgrad`` uses the
    running maximum of ``v``; ``weight_decay`` is an L2 term added to the gradient, or with
    ``decoupled_weight_decay=True`` a decay ``p *= 1 - lr * weight_decay`` (AdamW).

    Args:
        params: parameters or parameter groups.
        lr: learning rate (default 1e-3).
        betas: coefficients of the running averages of the gradient and its square.
        eps: added to the denominator (default 1e-8).
        weight_decay: weight decay (default 0).
        amsgrad: use the AMSGrad variant (default False).
        maximize, foreach, capturable, differentiable, fused, decoupled_weight_decay: as in
            PyTorch (foreach/capturable/differentiable/fused are accepted and ignored).

    Example::

        >>> opt = ember.optim.Adam(model.parameters(), lr=1e-3)
    """

    def __init__(self, params, lr: float | Tensor = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False) -> None:
        _check_adam_args(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _init_state(self, p, group) -> dict:
        xp = get_array_module(p._data)
        state = {"step": _scalar_state(0.0),
                 "exp_avg": _make(xp.zeros_like(p._data)),
                 "exp_avg_sq": _make(xp.zeros_like(p._data))}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = _make(xp.zeros_like(p._data))
        return state

    def _prepare(self, p, state, group) -> tuple[str, dict]:
        lr = float(group["lr"])
        beta1, beta2 = group["betas"]
        step = _advance_step(state)
        source = _source(group["maximize"], group["weight_decay"] != 0,
                         group["decoupled_weight_decay"], 1 - beta1 < 0.5, group["amsgrad"])
        operands = _adam_scalars(lr, beta1, beta2, group["weight_decay"])
        # m / (sqrt(v) / c + eps) * s = m / (sqrt(v) + eps c) * (s c): one pass fewer
        correction = (1 - beta2 ** step) ** 0.5
        operands.update(scaled_eps=group["eps"] * correction,
                        scaled_step=-(lr / (1 - beta1 ** step)) * correction,
                        m=state["exp_avg"]._data, v=state["exp_avg_sq"]._data)
        if group["amsgrad"]:
            operands["v_max"] = state["max_exp_avg_sq"]._data
        return source, operands


@functools.cache
def _source(maximize: bool, weight_decay: bool, decoupled: bool, lerp_low: bool,
            amsgrad: bool) -> str:
    """Adam's fused update: the moments in PyTorch's operation order, then PyTorch's
    ``p.addcdiv_(m, sqrt(v) / bias_correction2_sqrt + eps, value=neg_step_size)`` with the
    bias correction folded into the scalars (``scaled_eps``, ``scaled_step``), one NumPy pass
    fewer (float64 trajectories still match PyTorch's to 1e-10 over 50 steps)."""
    lines, _ = _adam_moments_source(maximize, weight_decay, decoupled, lerp_low)
    v = "v"
    if amsgrad:
        lines.append("v_max = maximum(v_max, v)")
        v = "v_max"
    lines.append(f"p = p + (m / (sqrt({v}) + scaled_eps)) * scaled_step")
    return "; ".join(lines)
