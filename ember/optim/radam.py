"""RAdam: Adam with a rectified adaptive learning rate."""
from __future__ import annotations

from ember._tensor import Tensor, _make
from ember.backend.device import get_array_module
from ember.optim.adam import _check_adam_args
from ember.optim.optimizer import (
    Optimizer,
    _adam_moments_,
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

    _n_scratch = 3

    def _prepare(self, p, state, group) -> tuple:
        lr = float(group["lr"])
        beta1, beta2 = group["betas"]
        step_t = state["step"]._data
        step_t += 1
        step = float(step_t)
        bias_correction2 = 1 - beta2 ** step
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
        rect = None
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                    / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
        weight_decay = group["weight_decay"]
        decay = 1 - lr * weight_decay if group["decoupled_weight_decay"] else None
        return ((state["exp_avg"]._data, state["exp_avg_sq"]._data),
                (lr, beta1, beta2, weight_decay, decay, 1 - beta1 ** step, bias_correction2,
                 rect, group["eps"]))

    def _update(self, xp, p, g, bufs, consts, tmp) -> None:
        (lr, beta1, beta2, weight_decay, decay, bias_correction1, bias_correction2, rect,
         eps) = consts
        exp_avg, exp_avg_sq = bufs
        t = tmp[0]
        _adam_moments_(xp, p, g, exp_avg, exp_avg_sq, beta1, beta2, weight_decay, decay, tmp)
        xp.divide(exp_avg, bias_correction1, out=t)
        t *= lr
        if rect is not None:
            adaptive = tmp[2]
            xp.sqrt(exp_avg_sq, out=adaptive)
            adaptive += eps
            xp.divide(bias_correction2 ** 0.5, adaptive, out=adaptive)
            t *= adaptive
            t *= rect
        p -= t
