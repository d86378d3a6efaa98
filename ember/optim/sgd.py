"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""
from __future__ import annotations

from ember._tensor import _make
from ember.optim.optimizer import (
    Optimizer,
    _add_scaled_,
    _array_module,
    _check_range,
    _weight_decay,
)

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent (optionally with momentum), like ``torch.optim.SGD``.

    ``g = grad + weight_decay * p``; with momentum ``b = momentum * b + (1 - dampening) * g``
    (``b = g`` on the first step) and ``g = g + momentum * b`` (Nesterov) or ``g = b``;
    then ``p -= lr * g``.

    Args:
        params: parameters or parameter groups.
        lr: learning rate (default 1e-3).
        momentum: momentum factor (default 0).
        dampening: dampening of the momentum (default 0).
        weight_decay: L2 penalty (default 0).
        nesterov: Nesterov momentum (default False).
        maximize: ascend instead of descend (default False).
        foreach, differentiable, fused: accepted for compatibility.

    Example::

        >>> opt = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        >>> opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, differentiable: bool = False,
                 fused: bool | None = None) -> None:
        _check_range("learning rate", lr)
        _check_range("momentum value", momentum)
        _check_range("weight_decay value", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def _update(self, p, g, state, group) -> None:
        lr = float(group["lr"])
        momentum = group["momentum"]
        weight_decay = group["weight_decay"]
        tmp = self._scratch(p, 0)
        if weight_decay != 0:
            g = _weight_decay(p, g, weight_decay, self._scratch(p, 1))
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = _make(g.copy())
                b = buf._data
            else:
                b = buf._data
                b *= momentum
                _add_scaled_(b, g, 1 - group["dampening"], tmp)
            if group["nesterov"]:
                tmp2 = self._scratch(p, 2)
                g = _add_to(g, b, momentum, tmp2)
            else:
                g = b
        _add_scaled_(p, g, -lr, tmp)


def _add_to(g, b, alpha: float, out):
    """``g.add(b, alpha=alpha)`` into ``out``."""
    xp = _array_module(g)
    xp.multiply(b, alpha, out=out)
    return xp.add(g, out, out=out)
