"""Rprop: resilient backpropagation (sign-based steps with adaptive sizes)."""
from __future__ import annotations

import functools

from ember._tensor import Tensor, _make
from ember.backend.device import get_array_module
from ember.optim.optimizer import (
    Optimizer,
    _advance_step,
    _check_range,
    _filled_like,
    _gradient_source,
    _scalar_state,
)

__all__ = ["Rprop"]


class Rprop(Optimizer):
    r"""Rprop, like ``torch.optim.Rprop``.

    Each coordinate's step size grows by ``etas[1]`` while the gradient keeps its sign and
    shrinks by ``etas[0]`` when it flips (that step is then skipped), clamped to
    ``step_sizes``; ``p -= sign(g) * step_size``.

    Args:
        params: parameters or parameter groups.
        lr: initial step size (default 1e-2).
        etas: (etaminus, etaplus) factors (default (0.5, 1.2)).
        step_sizes: (min, max) allowed step sizes (default (1e-6, 50)).

    Example::

        >>> opt = ember.optim.Rprop(model.parameters())
    """

    def __init__(self, params, lr: float | Tensor = 1e-2, etas: tuple = (0.5, 1.2),
                 step_sizes: tuple = (1e-6, 50), *, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _check_range("learning rate", lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach,
                        maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def _init_state(self, p, group) -> dict:
        xp = get_array_module(p._data)
        return {"step": _scalar_state(0.0), "prev": _make(xp.zeros_like(p._data)),
                "step_size": _make(_filled_like(p._data, float(group["lr"])))}

    def _prepare(self, p, state, group) -> tuple[str, dict]:
        _advance_step(state)
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        return _source(group["maximize"]), dict(
            etaminus=etaminus, etaplus=etaplus, step_size_min=step_size_min,
            step_size_max=step_size_max, prev=state["prev"]._data,
            step_size=state["step_size"]._data)


@functools.cache
def _source(maximize: bool) -> str:
    """Rprop's fused update in PyTorch's order: the factor from the sign of ``g * prev``, the
    clamped step sizes; where the factor is ``etaminus`` the step is skipped and the gradient
    forgotten."""
    lines, g = _gradient_source(maximize, False)
    lines.append(f"_s = {g} * prev")
    lines.append("_f = where(_s > 0, etaplus, where(_s < 0, etaminus, 1))")
    lines.append("step_size = minimum(maximum(step_size * _f, step_size_min), step_size_max)")
    lines.append(f"prev = where(_f == etaminus, 0, {g})")
    lines.append("p = p - sign(prev) * step_size")
    return "; ".join(lines)
