"""AdamW: Adam with decoupled weight decay."""
from __future__ import annotations

from ember._tensor import Tensor
from ember.optim.adam import Adam

__all__ = ["AdamW"]


class AdamW(Adam):
    r"""AdamW, like ``torch.optim.AdamW``: Adam whose weight decay scales the parameter
    (``p *= 1 - lr * weight_decay``) instead of adding to the gradient.

    Args:
        params: parameters or parameter groups.
        lr: learning rate (default 1e-3).
        betas, eps, amsgrad: as in :class:`Adam`.
        weight_decay: decoupled weight decay (default 1e-2).

    Example::

        >>> opt = ember.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    """

    def __init__(self, params, lr: float | Tensor = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
