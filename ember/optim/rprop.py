"""Rprop: resilient backpropagation (sign-based steps with adaptive sizes)."""
from __future__ import annotations

from ember._tensor import Tensor, _make
from ember.backend.device import get_array_module
from ember.optim.optimizer import Optimizer, _check_range, _scalar_state

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
                "step_size": _make(xp.full_like(p._data, float(group["lr"])))}

    _n_scratch = 1

    def _prepare(self, p, state, group) -> tuple:
        state["step"]._data += 1
        return (state["prev"]._data, state["step_size"]._data), (*group["etas"],
                                                                 *group["step_sizes"])

    def _update(self, xp, p, g, bufs, consts, tmp) -> None:
        etaminus, etaplus, step_size_min, step_size_max = consts
        prev, step_size = bufs
        sign = tmp[0]
        xp.multiply(g, prev, out=sign)
        xp.sign(sign, out=sign)
        factor = xp.where(sign > 0, etaplus, xp.where(sign < 0, etaminus, 1.0)).astype(p.dtype)
        step_size *= factor
        xp.clip(step_size, step_size_min, step_size_max, out=step_size)
        # Where the sign flipped the step is skipped and the gradient forgotten.
        xp.copyto(prev, g)
        prev[factor == etaminus] = 0
        xp.sign(prev, out=sign)
        sign *= step_size
        p -= sign
