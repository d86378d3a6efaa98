"""RAdam: Adam with a rectified adaptive learning rate."""
from __future__ import annotations

import functools

from ember._tensor import Tensor, _make
from ember.backend.device import get_array_module
from ember.optim.adam import _check_adam_args
from ember.optim.optimizer import (
    Optimizer,
    _adam_moments_source,
    _adam_scalars,
    _advance_step,
    _scalar_state,
)

__all__ = ["RAdam"]


class RAdam(Optimizer):
    r"""RAdam, like ``torch.optim.RAdam``.

    With ``rho_inf = 2 / (1 - beta2) - 1`` and
    ``rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)``: when ``rho_t > 5`` the Adam step is
    scaled by the rectification term, otherwise the step is ``lr * m / (1 - beta1^t)``.

    Args:
        params: parameters or parameter groups.
        lr: learning rate (default 1e-3).
        betas, eps: as in Adam.
        weight_decay: weight decay (default 0), decoupled when ``decoupled_weight_decay``.

    Example::

        >>> opt = ember.optim.RAdam(model.parameters())
    """

    def __init__(self, params, lr: float | Tensor = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        _check_adam_args(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _init_state(self, p, group) -> dict:
        xp = get_array_module(p._data)
        return {"step": _scalar_state(0.0), "exp_avg": _make(xp.zeros_like(p._data)),
                "exp_avg_sq": _make(xp.zeros_like(p._data))}

    def _prepare(self, p, state, group) -> tuple[str, dict]:
        lr = float(group["lr"])
        beta1, beta2 = group["betas"]
        step = _advance_step(state)
        bias_correction2 = 1 - beta2 ** step
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
        rect = None
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                    / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
        scalars = _adam_scalars(lr, beta1, beta2, group["weight_decay"])
        scalars.update(lr=lr, bias_correction1=1 - beta1 ** step,
                       bias_correction2_sqrt=bias_correction2 ** 0.5, rect=rect,
                       eps=group["eps"])
        source = _source(group["maximize"], group["weight_decay"] != 0,
                         group["decoupled_weight_decay"], 1 - beta1 < 0.5, rect is not None)
        return source, dict(scalars, m=state["exp_avg"]._data, v=state["exp_avg_sq"]._data)


@functools.cache
def _source(maximize: bool, weight_decay: bool, decoupled: bool, lerp_low: bool,
            rectified: bool) -> str:
    """RAdam's fused update in PyTorch's order: the moments, then the bias-corrected step,
    rectified (times ``bias_correction2_sqrt / (sqrt(v) + eps) * rect``) once the variance
    is tractable."""
    lines, _ = _adam_moments_source(maximize, weight_decay, decoupled, lerp_low)
    if rectified:
        lines.append("p = p - (m / bias_correction1) * lr * "
                     "(bias_correction2_sqrt / (sqrt(v) + eps)) * rect")
    else:
        lines.append("p = p - (m / bias_correction1) * lr")
    return "; ".join(lines)
