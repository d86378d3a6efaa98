"""ASGD: averaged stochastic gradient descent."""
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
        xp = get_array_module(p._data)
        return {"step": _scalar_state(0.0), "eta": _scalar_state(float(group["lr"])),
                "mu": _scalar_state(1.0), "ax": _make(xp.zeros_like(p._data))}

    def _prepare(self, p, state, group) -> tuple[str, dict]:
        lr = float(group["lr"])
        lambd = group["lambd"]
        step = _advance_step(state)
        # eta and mu live in the scalar-state dtype (float32), as in PyTorch; this step uses
        # their current values and leaves the next step's.
        eta = state["eta"]._data
        mu = state["mu"]._data
        scalars = dict(decay=1 - lambd * float(eta), neg_eta=-float(eta), mu=float(mu),
                       weight_decay=group["weight_decay"])
        eta[...] = lr / ((1 + lambd * lr * step) ** group["alpha"])
        mu[...] = 1 / max(1, step - group["t0"])
        source = _source(group["maximize"], group["weight_decay"] != 0, scalars["mu"] != 1)
        return source, dict(scalars, ax=state["ax"]._data)


@functools.cache
def _source(maximize: bool, weight_decay: bool, averaging: bool) -> str:
    """ASGD's fused update in PyTorch's order: decay, step, then the average ``ax``."""
    lines, g = _gradient_source(maximize, weight_decay)
    lines.append("p = p * decay")
    lines.append(f"p = p + {g} * neg_eta")
    lines.append("ax = ax + (p - ax) * mu" if averaging else "ax = p")
    return "; ".join(lines)
