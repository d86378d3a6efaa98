"""Adamax: Adam with the infinity norm."""
from __future__ import annotations

from ember._tensor import Tensor, _make
from ember.optim.adam import _check_adam_args
from ember.optim.optimizer import Optimizer, _array_module, _lerp_, _scalar_state, _weight_decay

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
        xp = _array_module(p._data)
        return {"step": _scalar_state(0.0), "exp_avg": _make(xp.zeros_like(p._data)),
                "exp_inf": _make(xp.zeros_like(p._data))}

    def _update(self, p, g, state, group) -> None:
        xp = _array_module(p)
        beta1, beta2 = group["betas"]
        step_t = state["step"]._data
        step_t += 1
        tmp = self._scratch(p, 0)
        if group["weight_decay"] != 0:
            g = _weight_decay(p, g, group["weight_decay"], self._scratch(p, 1))
        exp_avg = state["exp_avg"]._data
        exp_inf = state["exp_inf"]._data
        _lerp_(exp_avg, g, 1 - beta1, tmp)
        exp_inf *= beta2
        xp.abs(g, out=tmp)
        tmp += group["eps"]
        xp.maximum(exp_inf, tmp, out=exp_inf)
        clr = float(group["lr"]) / (1 - beta1 ** float(step_t))
        xp.divide(exp_avg, exp_inf, out=tmp)
        tmp *= -clr
        p += tmp
