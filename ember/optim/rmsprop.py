"""RMSprop: divide the gradient by a running root mean square."""
from __future__ import annotations

from ember._tensor import Tensor, _make
from ember.optim.optimizer import (
    Optimizer,
    _array_module,
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
        xp = _array_module(p._data)
        state = {"step": _scalar_state(0.0), "square_avg": _make(xp.zeros_like(p._data))}
        if group["momentum"] > 0:
            state["momentum_buffer"] = _make(xp.zeros_like(p._data))
        if group["centered"]:
            state["grad_avg"] = _make(xp.zeros_like(p._data))
        return state

    def _update(self, p, g, state, group) -> None:
        xp = _array_module(p)
        alpha = group["alpha"]
        state["step"]._data += 1
        tmp = self._scratch(p, 0)
        if group["weight_decay"] != 0:
            g = _weight_decay(p, g, group["weight_decay"], self._scratch(p, 1))
        square_avg = state["square_avg"]._data
        _mul_addcmul_(square_avg, alpha, g, g, 1 - alpha, tmp)
        avg = self._scratch(p, 2)
        if group["centered"]:
            grad_avg = state["grad_avg"]._data
            _lerp_(grad_avg, g, 1 - alpha, tmp)
            xp.negative(grad_avg, out=avg)
            avg *= grad_avg
            avg += square_avg
            xp.sqrt(avg, out=avg)
        else:
            xp.sqrt(square_avg, out=avg)
        avg += group["eps"]
        lr = float(group["lr"])
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]._data
            buf *= group["momentum"]
            xp.divide(g, avg, out=tmp)
            buf += tmp
            xp.multiply(buf, -lr, out=tmp)
        else:
            xp.divide(g, avg, out=tmp)
            tmp *= -lr
        p += tmp
