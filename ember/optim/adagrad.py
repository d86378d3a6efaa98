"""Adagrad: per-coordinate learning rates from the sum of squared gradients."""
from __future__ import annotations

import functools

from ember._tensor import Tensor, _make
from ember.optim.optimizer import (
    Optimizer,
    _advance_step,
    _check_range,
    _filled_like,
    _gradient_source,
    _scalar_state,
)

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""Adagrad, like ``torch.optim.Adagrad``.

    ``clr = lr / (1 + (t - 1) * lr_decay)``, ``s += g * g``, ``p -= clr * g / (sqrt(s) + eps)``.

    Args:
        params: parameters or parameter groups.
        lr: learning rate (default 1e-2).
        lr_decay: learning rate decay (default 0).
        weight_decay: L2 penalty (default 0).
        initial_accumulator_value: starting value of ``s`` (default 0).
        eps: added to the denominator (default 1e-10).

    A sparse gradient (``embedding(..., sparse=True)``) updates its rows only, and takes no
    weight decay, as in PyTorch.

    Example::

        >>> opt = ember.optim.Adagrad(model.parameters(), lr=0.1)
    """

    def __init__(self, params, lr: float | Tensor = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        _check_range("learning rate", lr)
        _check_range("lr_decay value", lr_decay)
        _check_range("weight_decay value", weight_decay)
        _check_range("initial_accumulator_value value", initial_accumulator_value)
        _check_range("epsilon value", eps)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        # PyTorch creates Adagrad's state eagerly (so share_memory() works before a step).
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p] = self._init_state(p, group)

    def _init_state(self, p, group) -> dict:
        return {"step": _scalar_state(0.0),
                "sum": _make(_filled_like(p._data, group["initial_accumulator_value"]))}

    def share_memory(self) -> None:
        """Move the accumulators to shared memory (for Hogwild training)."""
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p]["sum"].share_memory_()

    def _sparse_update(self, group) -> bool:
        if group["weight_decay"] != 0:
            raise RuntimeError("weight_decay option is not compatible with sparse gradients")
        return True  # PyTorch updates the gradient's rows only

    def _prepare(self, p, state, group) -> tuple[str, dict]:
        step = _advance_step(state)
        clr = float(group["lr"]) / (1 + (step - 1) * group["lr_decay"])
        source = _source(group["maximize"], group["weight_decay"] != 0)
        return source, dict(weight_decay=group["weight_decay"], eps=group["eps"], neg_clr=-clr,
                            state_sum=state["sum"]._data)


@functools.cache
def _source(maximize: bool, weight_decay: bool) -> str:
    """Adagrad's fused update in PyTorch's order."""
    lines, g = _gradient_source(maximize, weight_decay)
    lines.append(f"state_sum = state_sum + {g} * {g}")
    lines.append(f"p = p + ({g} / (sqrt(state_sum) + eps)) * neg_clr")
    return "; ".join(lines)
