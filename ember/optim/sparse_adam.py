"""SparseAdam: the lazy Adam of sparse gradients (``embedding(..., sparse=True)``)."""
from __future__ import annotations

import functools
import math

from ember._tensor import Tensor, _make
from ember.backend.device import get_array_module
from ember.optim.optimizer import Optimizer, _check_range, _gradient_source

__all__ = ["SparseAdam"]


class SparseAdam(Optimizer):
    r"""Adam for sparse gradients, like ``torch.optim.SparseAdam``: only the rows a gradient
    stores are updated (their moments and parameter values); the other rows keep their
    moments, as if no step had happened for them ("lazy" Adam).

    On the stored rows, with ``t`` the parameter's step count:
    ``m += (1 - beta1) * (g - m)``, ``v += (1 - beta2) * (g * g - v)``,
    ``p -= lr * sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + eps)``.

    Args:
        params: parameters or parameter groups (dense tensors with sparse gradients).
        lr: learning rate (default 1e-3).
        betas: coefficients of the running averages of the gradient and its square.
        eps: added to the denominator (default 1e-8).
        maximize: ascend instead of descend (default False).

    Example::

        >>> emb = ember.nn.Embedding(1000, 16, sparse=True)
        >>> opt = ember.optim.SparseAdam(emb.parameters(), lr=1e-2)
        >>> emb(ember.tensor([3, 7])).sum().backward(); opt.step()
    """

    _dense_grad_error = ("SparseAdam does not support dense gradients, please consider Adam "
                         "instead")

    def __init__(self, params, lr: float | Tensor = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, maximize: bool = False) -> None:
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        _check_range("beta", betas[0], high=1.0, index=0)
        _check_range("beta", betas[1], high=1.0, index=1)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, maximize=maximize))
        sparse_params = [[i, j] for i, group in enumerate(self.param_groups)
                         for j, p in enumerate(group["params"]) if p.is_sparse]
        if sparse_params:
            raise ValueError(f"Sparse params at indices {sparse_params}: SparseAdam requires "
                             "dense parameter tensors")

    def _sparse_update(self, group) -> bool:
        return True

    def _init_state(self, p, group) -> dict:
        xp = get_array_module(p._data)
        return {"step": 0,  # a Python int, as in PyTorch
                "exp_avg": _make(xp.zeros_like(p._data)),
                "exp_avg_sq": _make(xp.zeros_like(p._data))}

    def _prepare(self, p, state, group) -> tuple[str, dict]:
        lr = float(group["lr"])
        beta1, beta2 = group["betas"]
        state["step"] += 1
        step = state["step"]
        step_size = lr * math.sqrt(1 - beta2 ** step) / (1 - beta1 ** step)
        return _source(group["maximize"]), dict(
            w=1 - beta1, c=1 - beta2, eps=group["eps"], neg_step=-step_size,
            m=state["exp_avg"]._data, v=state["exp_avg_sq"]._data)


@functools.cache
def _source(maximize: bool) -> str:
    """SparseAdam's update of the gathered rows, in PyTorch's operation order (unlike Adam's,
    ``eps`` is added to ``sqrt(v)`` before the bias correction)."""
    lines, g = _gradient_source(maximize, False)
    lines.append(f"m = m + ({g} - m) * w")
    lines.append(f"v = v + ({g} * {g} - v) * c")
    lines.append("p = p + (m / (sqrt(v) + eps)) * neg_step")
    return "; ".join(lines)
