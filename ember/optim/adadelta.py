"""Adadelta: step sizes from running averages of squared gradients and squared updates."""
from __future__ import annotations

from ember._tensor import Tensor, _make
from ember.backend.device import get_array_module
from ember.optim.optimizer import (
    Optimizer,
    _check_range,
    _mul_addcmul_,
    _scalar_state,
    _weight_decay,
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

    _n_scratch = 4

    def _prepare(self, p, state, group) -> tuple:
        state["step"]._data += 1
        return ((state["square_avg"]._data, state["acc_delta"]._data),
                (group["rho"], group["eps"], group["weight_decay"], float(group["lr"])))

    def _update(self, xp, p, g, bufs, consts, tmp) -> None:
        rho, eps, weight_decay, lr = consts
        square_avg, acc_delta = bufs
        t = tmp[0]
        if weight_decay != 0:
            g = _weight_decay(xp, p, g, weight_decay, tmp[1])
        _mul_addcmul_(xp, square_avg, rho, g, g, 1 - rho, t)
        std = tmp[2]
        xp.add(square_avg, eps, out=std)
        xp.sqrt(std, out=std)
        delta = tmp[3]
        xp.add(acc_delta, eps, out=delta)
        xp.sqrt(delta, out=delta)
        delta /= std
        delta *= g
        _mul_addcmul_(xp, acc_delta, rho, delta, delta, 1 - rho, t)
        delta *= -lr
        p += delta
