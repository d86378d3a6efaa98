"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""
from __future__ import annotations

import functools

from ember._tensor import _make
from ember.backend.device import get_array_module
from ember.optim.optimizer import Optimizer, _check_range, _gradient_source

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

    Sparse gradients (``embedding(..., sparse=True)``) are taken without weight decay, as in
    PyTorch; the momentum buffer is kept dense.

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

    def _sparse_update(self, group) -> bool:
        if group["weight_decay"] != 0:  # PyTorch's grad.add(param) with a sparse grad
            raise RuntimeError("add(sparse, dense) is not supported. Use add(dense, sparse) "
                               "instead.")
        return False  # the momentum buffer decays on every row, as PyTorch's sparse one does

    def _prepare(self, p, state, group) -> tuple[str, dict]:
        momentum = group["momentum"]
        first = False
        operands = dict(neg_lr=-float(group["lr"]), momentum=momentum,
                        undamped=1 - group["dampening"], weight_decay=group["weight_decay"])
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:  # PyTorch starts the buffer at the first gradient
                buf = state["momentum_buffer"] = _make(get_array_module(p).empty_like(p))
                first = True
            operands["b"] = buf._data
        source = _source(group["maximize"], group["weight_decay"] != 0, momentum != 0, first,
                         group["dampening"] == 0, group["nesterov"])
        return source, operands


@functools.cache
def _source(maximize: bool, weight_decay: bool, momentum: bool, first: bool, undamped: bool,
            nesterov: bool) -> str:
    """The fused update for the options, in PyTorch's operation order (b: momentum buffer)."""
    lines, g = _gradient_source(maximize, weight_decay)
    if momentum:
        if first:
            lines.append(f"b = {g}")
        elif undamped:  # PyTorch's add with alpha 1 does not multiply
            lines.append(f"b = b * momentum + {g}")
        else:
            lines.append(f"b = b * momentum + {g} * undamped")
        if nesterov:
            lines.append(f"_g = {g} + b * momentum")
        g = "_g" if nesterov else "b"
    lines.append(f"p = p + {g} * neg_lr")
    return "; ".join(lines)
