"""NAdam: Adam with Nesterov momentum and a momentum-decay schedule."""
from __future__ import annotations

import functools

from ember._tensor import Tensor, _make
from ember.backend.device import get_array_module
from ember.optim.adam import _check_adam_args
from ember.optim.optimizer import (
    Optimizer,
    _adam_moments_source,
    _adam_scalars,
    _advance_step,
    _check_range,
    _scalar_state,
)

__all__ = ["NAdam"]


class NAdam(Optimizer):
    r"""NAdam, like ``torch.optim.NAdam``.

    ``mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay))``; with ``prod`` the running product
    of ``mu``: ``p -= lr * (1 - mu_t) / (1 - prod_t) * g / d
    + lr * mu_{t+1} / (1 - prod_t * mu_{t+1}) * m / d`` where
    ``d = sqrt(v / (1 - beta2^t)) + eps``.

    Args:
        params: parameters or parameter groups.
        lr: learning rate (default 2e-3).
        betas, eps: as in Adam.
        weight_decay: weight decay (default 0), decoupled (AdamW style) when
            ``decoupled_weight_decay=True``.
        momentum_decay: momentum decay psi (default 4e-3).

    Example::

        >>> opt = ember.optim.NAdam(model.parameters())
    """

    def __init__(self, params, lr: float | Tensor = 2e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        _check_adam_args(lr, betas, eps, weight_decay)
        _check_range("momentum_decay value", momentum_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def _init_state(self, p, group) -> dict:
        xp = get_array_module(p._data)
        return {"step": _scalar_state(0.0), "mu_product": _scalar_state(1.0),
                "exp_avg": _make(xp.zeros_like(p._data)),
                "exp_avg_sq": _make(xp.zeros_like(p._data))}

    def _prepare(self, p, state, group) -> tuple[str, dict]:
        lr = float(group["lr"])
        beta1, beta2 = group["betas"]
        momentum_decay = group["momentum_decay"]
        step = _advance_step(state)
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
        # The product is kept in the scalar-state dtype (float32), as PyTorch does.
        mu_product_t = state["mu_product"]._data
        mu_product_t *= mu
        mu_product = float(mu_product_t)
        scalars = _adam_scalars(lr, beta1, beta2, group["weight_decay"])
        scalars.update(bias_correction2=1 - beta2 ** step, eps=group["eps"],
                       grad_step=-lr * (1.0 - mu) / (1.0 - mu_product),
                       avg_step=(-lr * mu_next) / (1.0 - mu_product * mu_next))
        source = _source(group["maximize"], group["weight_decay"] != 0,
                         group["decoupled_weight_decay"], 1 - beta1 < 0.5)
        return source, dict(scalars, m=state["exp_avg"]._data, v=state["exp_avg_sq"]._data)


@functools.cache
def _source(maximize: bool, weight_decay: bool, decoupled: bool, lerp_low: bool) -> str:
    """NAdam's fused update in PyTorch's order: the moments, the denominator
    ``sqrt(v / bias_correction2) + eps``, then ``p.addcdiv_`` of the gradient and of ``m``."""
    lines, g = _adam_moments_source(maximize, weight_decay, decoupled, lerp_low)
    lines.append("_d = sqrt(v / bias_correction2) + eps")
    lines.append(f"p = p + ({g} / _d) * grad_step")
    lines.append("p = p + (m / _d) * avg_step")
    return "; ".join(lines)
