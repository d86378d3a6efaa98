"""ASGD: averaged stochastic gradient descent."""
from __future__ import annotations

from ember._tensor import Tensor, _make
from ember.optim.optimizer import (
    Optimizer,
    _add_scaled_,
    _array_module,
    _check_range,
    _scalar_state,
    _weight_decay,
)

__all__ = ["ASGD"]


class ASGD(Optimizer):
    r"""Averaged SGD, like ``torch.optim.ASGD``.

    ``p = p * (1 - lambd * eta) - eta * g``; the average ``ax`` follows ``p`` with weight
    ``mu``; then ``eta = lr / (1 + lambd lr t)^alpha`` and ``mu = 1 / max(1, t - t0)``.

    Args:
        params: parameters or parameter groups.
        lr: learning rate (default 1e-2).
        lambd: decay term (default 1e-4).
        alpha: power for the eta update (default 0.75).
        t0: step at which averaging starts (default 1e6).
        weight_decay: L2 penalty (default 0).

    Example::

        >>> opt = ember.optim.ASGD(model.parameters())
    """

    def __init__(self, params, lr: float | Tensor = 1e-2, lambd: float = 1e-4,
                 alpha: float = 0.75, t0: float = 1e6, weight_decay: float = 0,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False) -> None:
        _check_range("learning rate", lr)
        _check_range("weight_decay value", weight_decay)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def _init_state(self, p, group) -> dict:
        xp = _array_module(p._data)
        return {"step": _scalar_state(0.0), "eta": _scalar_state(float(group["lr"])),
                "mu": _scalar_state(1.0), "ax": _make(xp.zeros_like(p._data))}

    def _update(self, p, g, state, group) -> None:
        xp = _array_module(p)
        lr = float(group["lr"])
        lambd = group["lambd"]
        step_t = state["step"]._data
        step_t += 1
        tmp = self._scratch(p, 0)
        if group["weight_decay"] != 0:
            g = _weight_decay(p, g, group["weight_decay"], self._scratch(p, 1))
        # eta and mu live in the scalar-state dtype (float32), as in PyTorch.
        eta = state["eta"]._data
        mu = state["mu"]._data
        eta_value = float(eta)
        p *= 1 - lambd * eta_value
        _add_scaled_(p, g, -eta_value, tmp)
        ax = state["ax"]._data
        if float(mu) != 1:
            xp.subtract(p, ax, out=tmp)
            tmp *= float(mu)
            ax += tmp
        else:
            xp.copyto(ax, p)
        step = float(step_t)
        eta[...] = lr / ((1 + lambd * lr * step) ** group["alpha"])
        mu[...] = 1 / max(1, step - group["t0"])
