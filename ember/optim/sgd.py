"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""
from __future__ import annotations

from ember._tensor import _make
from ember.backend.device import get_array_module
from ember.optim.optimizer import Optimizer, _add_scaled_, _check_range, _weight_decay

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

    _n_scratch = 3

    def _prepare(self, p, state, group) -> tuple:
        momentum = group["momentum"]
        first = False
        bufs = ()
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:  # PyTorch starts the buffer at the first gradient: _update copies it
                buf = state["momentum_buffer"] = _make(get_array_module(p).empty_like(p))
                first = True
            bufs = (buf._data,)
        return bufs, (float(group["lr"]), momentum, 1 - group["dampening"],
                      group["weight_decay"], group["nesterov"], first)

    def _update(self, xp, p, g, bufs, consts, tmp) -> None:
        lr, momentum, undamped, weight_decay, nesterov, first = consts
        if weight_decay != 0:
            g = _weight_decay(xp, p, g, weight_decay, tmp[1])
        if bufs:
            b = bufs[0]
            if first:
                xp.copyto(b, g)
            else:
                b *= momentum
                _add_scaled_(xp, b, g, undamped, tmp[0])
            if nesterov:
                # g.add(b, alpha=momentum)
                xp.multiply(b, momentum, out=tmp[2])
                g = xp.add(g, tmp[2], out=tmp[2])
            else:
                g = b
        _add_scaled_(xp, p, g, -lr, tmp[0])
