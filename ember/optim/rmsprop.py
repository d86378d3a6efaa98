"""RMSprop: divide the gradient by a running root mean square."""
from __future__ import annotations

import functools

from ember._tensor import Tensor, _make
from ember.backend.device import get_array_module
from ember.optim.optimizer import (
    Optimizer,
    _advance_step,
    _check_range,
    _gradient_source,
    _lerp_source,
    _scalar_state,
)

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSprop, like ``torch.optim.RMSprop``.

    ``v = alpha v + (1 - alpha) g^2``; centered: ``avg = sqrt(v - gbar^2) + eps`` with
    ``gbar = lerp(gbar, g, 1 - alpha)``, else ``avg = sqrt(v) + eps``; with momentum
    ``b = momentum b + g / avg`` and ``p -= lr b``, else ``p -= lr g / avg``.

    Args:
        params: parameters or parameter groups.
        lr: learning rate (default 1e-2).
        alpha: smoothing constant (default 0.99).
        eps: added to the denominator (default 1e-8).
        weight_decay: L2 penalty (default 0).
        momentum: momentum factor (default 0).
        centered: normalise by the estimated variance (default False).

    Example::

        >>> opt = ember.optim.RMSprop(model.parameters(), lr=0.01)
    """

    def __init__(self, params, lr: float | Tensor = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _check_range("learning rate", lr)
        _check_range("epsilon value", eps)
        _check_range("momentum value", momentum)
        _check_range("weight_decay value", weight_decay)
        _check_range("alpha value", alpha)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def _init_state(self, p, group) -> dict:
        xp = get_array_module(p._data)
        state = {"step": _scalar_state(0.0), "square_avg": _make(xp.zeros_like(p._data))}
        if group["momentum"] > 0:
            state["momentum_buffer"] = _make(xp.zeros_like(p._data))
        if group["centered"]:
            state["grad_avg"] = _make(xp.zeros_like(p._data))
        return state

    def _prepare(self, p, state, group) -> tuple[str, dict]:
        _advance_step(state)
        alpha = group["alpha"]
        operands = dict(alpha=alpha, c=1 - alpha, w=1 - alpha, w_rest=1 - (1 - alpha),
                        eps=group["eps"], weight_decay=group["weight_decay"],
                        momentum=group["momentum"], neg_lr=-float(group["lr"]),
                        square_avg=state["square_avg"]._data)
        if group["centered"]:
            operands["grad_avg"] = state["grad_avg"]._data
        if group["momentum"] > 0:
            operands["buf"] = state["momentum_buffer"]._data
        source = _source(group["maximize"], group["weight_decay"] != 0, group["centered"],
                         1 - alpha < 0.5, group["momentum"] > 0)
        return source, operands


@functools.cache
def _source(maximize: bool, weight_decay: bool, centered: bool, lerp_low: bool,
            momentum: bool) -> str:
    """RMSprop's fused update in PyTorch's order: the running square (and mean, centered),
    the denominator ``sqrt(...) + eps``, the momentum buffer, the step."""
    lines, g = _gradient_source(maximize, weight_decay)
    lines.append(f"square_avg = square_avg * alpha + ({g} * c) * {g}")
    if centered:
        lines.append(_lerp_source("grad_avg", g, "w", lerp_low))
        lines.append("_a = sqrt(square_avg + (-grad_avg) * grad_avg) + eps")
    else:
        lines.append("_a = sqrt(square_avg) + eps")
    if momentum:
        lines.append(f"buf = buf * momentum + {g} / _a")
        lines.append("p = p + buf * neg_lr")
    else:
        lines.append(f"p = p + ({g} / _a) * neg_lr")
    return "; ".join(lines)
