"""Adamax: Adam with the infinity norm."""
from __future__ import annotations

import functools

from ember._tensor import Tensor, _make
from ember.backend.device import get_array_module
from ember.optim.adam import _check_adam_args
from ember.optim.optimizer import (
    Optimizer,
    _adam_scalars,
    _advance_step,
    _gradient_source,
    _lerp_source,
    _scalar_state,
)

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

    def _prepare(self, p, state, group) -> tuple[str, dict]:
        beta1, beta2 = group["betas"]
        step = _advance_step(state)
        lr = float(group["lr"])
        scalars = _adam_scalars(lr, beta1, beta2, group["weight_decay"])
        scalars.update(eps=group["eps"], neg_clr=-(lr / (1 - beta1 ** step)))
        source = _source(group["maximize"], group["weight_decay"] != 0, 1 - beta1 < 0.5)
        return source, dict(scalars, m=state["exp_avg"]._data, u=state["exp_inf"]._data)


@functools.cache
def _source(maximize: bool, weight_decay: bool, lerp_low: bool) -> str:
    """Adamax's fused update in PyTorch's order: ``m.lerp_(g, w)``,
    ``u = maximum(u * beta2, abs(g) + eps)``, ``p.addcdiv_(m, u, value=neg_clr)``."""
    lines, g = _gradient_source(maximize, weight_decay)
    lines.append(_lerp_source("m", g, "w", lerp_low))
    lines.append(f"u = maximum(u * beta2, abs({g}) + eps)")
    lines.append("p = p + (m / u) * neg_clr")
    return "; ".join(lines)
