"""Adamax: Adam with the infinity norm."""
from __future__ import annotations

from ember._tensor import Tensor, _make
from ember.backend.device import get_array_module
from ember.optim.adam import _check_adam_args
from ember.optim.optimizer import Optimizer, _lerp_, _scalar_state, _weight_decay

__all__ = ["Adamax"]


class Adamax(Optimizer):
    r"""Adamax, like ``torch.optim.Adamax``.

    ``m = lerp(m, g, 1 - beta1)``, ``u = max(beta2 * u, |g| + eps)``,
    ``p -= lr / (1 - beta1^t) * m / u``.

    Args:
        params: parameters or parameter groups.
        lr: learning rate (default 2e-3).
        betas: coefficients of the running average and of the infinity norm.
        eps: added to ``|g|`` (default 1e-8).
        weight_decay: L2 penalty (default 0).

    Example::

        >>> opt = ember.optim.Adamax(model.parameters())
    """

    def __init__(self, params, lr: float | Tensor = 2e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        _check_adam_args(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _init_state(self, p, group) -> dict:
        xp = get_array_module(p._data)
        return {"step": _scalar_state(0.0), "exp_avg": _make(xp.zeros_like(p._data)),
                "exp_inf": _make(xp.zeros_like(p._data))}

    _n_scratch = 2

    def _prepare(self, p, state, group) -> tuple:
        beta1, beta2 = group["betas"]
        step_t = state["step"]._data
        step_t += 1
        clr = float(group["lr"]) / (1 - beta1 ** float(step_t))
        return ((state["exp_avg"]._data, state["exp_inf"]._data),
                (beta1, beta2, group["eps"], group["weight_decay"], clr))

    def _update(self, xp, p, g, bufs, consts, tmp) -> None:
        beta1, beta2, eps, weight_decay, clr = consts
        exp_avg, exp_inf = bufs
        t = tmp[0]
        if weight_decay != 0:
            g = _weight_decay(xp, p, g, weight_decay, tmp[1])
        _lerp_(xp, exp_avg, g, 1 - beta1, t)
        exp_inf *= beta2
        xp.abs(g, out=t)
        t += eps
        xp.maximum(exp_inf, t, out=exp_inf)
        xp.divide(exp_avg, exp_inf, out=t)
        t *= -clr
        p += t
