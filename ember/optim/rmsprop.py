"""RMSprop: divide the gradient by a running root mean square."""
from __future__ import annotations

from ember._tensor import Tensor, _make
from ember.backend.device import get_array_module
from ember.optim.optimizer import (
    Optimizer,
    _check_range,
    _lerp_,
    _mul_addcmul_,
    _scalar_state,
    _weight_decay,
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

    _n_scratch = 3

    def _prepare(self, p, state, group) -> tuple:
        state["step"]._data += 1
        bufs = (state["square_avg"]._data,)
        if group["centered"]:
            bufs += (state["grad_avg"]._data,)
        if group["momentum"] > 0:
            bufs += (state["momentum_buffer"]._data,)
        return bufs, (group["alpha"], group["eps"], group["weight_decay"], group["centered"],
                      group["momentum"], float(group["lr"]))

    def _update(self, xp, p, g, bufs, consts, tmp) -> None:
        alpha, eps, weight_decay, centered, momentum, lr = consts
        square_avg = bufs[0]
        t = tmp[0]
        if weight_decay != 0:
            g = _weight_decay(xp, p, g, weight_decay, tmp[1])
        _mul_addcmul_(xp, square_avg, alpha, g, g, 1 - alpha, t)
        avg = tmp[2]
        if centered:
            grad_avg = bufs[1]
            _lerp_(xp, grad_avg, g, 1 - alpha, t)
            xp.negative(grad_avg, out=avg)
            avg *= grad_avg
            avg += square_avg
            xp.sqrt(avg, out=avg)
        else:
            xp.sqrt(square_avg, out=avg)
        avg += eps
        if momentum > 0:
            buf = bufs[-1]
            buf *= momentum
            xp.divide(g, avg, out=t)
            buf += t
            xp.multiply(buf, -lr, out=t)
        else:
            xp.divide(g, avg, out=t)
            t *= -lr
        p += t
