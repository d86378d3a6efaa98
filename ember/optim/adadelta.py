"""Adadelta: step sizes from running averages of squared gradients and squared updates."""
from __future__ import annotations

import functools

from ember._tensor import Tensor, _make
from ember.backend.device import get_array_module
from ember.optim.optimizer import (
    Optimizer,
    _advance_step,
    _check_range,
    _gradient_source,
    _scalar_state,
)

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    r"""Adadelta, like ``torch.optim.Adadelta``.

    ``v = rho v + (1 - rho) g^2``, ``delta = sqrt(u + eps) / sqrt(v + eps) * g``,
    ``u = rho u + (1 - rho) delta^2``, ``p -= lr * delta``.

    Args:
        params: parameters or parameter groups.
        lr: coefficient scaling delta (default 1.0).
        rho: running-average coefficient (default 0.9).
        eps: added for numerical stability (default 1e-6).
        weight_decay: L2 penalty (default 0).

    Example::

        >>> opt = ember.optim.Adadelta(model.parameters())
    """

    def __init__(self, params, lr: float | Tensor = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _check_range("learning rate", lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        _check_range("epsilon value", eps)
        _check_range("weight_decay value", weight_decay)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _init_state(self, p, group) -> dict:
        xp = get_array_module(p._data)
        return {"step": _scalar_state(0.0), "square_avg": _make(xp.zeros_like(p._data)),
                "acc_delta": _make(xp.zeros_like(p._data))}

    def _prepare(self, p, state, group) -> tuple[str, dict]:
        _advance_step(state)
        rho = group["rho"]
        source = _source(group["maximize"], group["weight_decay"] != 0)
        return source, dict(rho=rho, c=1 - rho, eps=group["eps"],
                            weight_decay=group["weight_decay"], neg_lr=-float(group["lr"]),
                            square_avg=state["square_avg"]._data,
                            acc_delta=state["acc_delta"]._data)


@functools.cache
def _source(maximize: bool, weight_decay: bool) -> str:
    """Adadelta's fused update in PyTorch's order."""
    lines, g = _gradient_source(maximize, weight_decay)
    lines.append(f"square_avg = square_avg * rho + ({g} * c) * {g}")
    lines.append(f"_d = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * {g}")
    lines.append("acc_delta = acc_delta * rho + (_d * c) * _d")
    lines.append("p = p + _d * neg_lr")
    return "; ".join(lines)
