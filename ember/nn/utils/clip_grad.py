"""Gradient clipping: ``clip_grad_norm_`` and ``clip_grad_value_``."""
from __future__ import annotations

import math
import warnings

from ember._tensor import Tensor
from ember.autograd.grad_mode import no_grad


def _as_list(tensors) -> list:
    if isinstance(tensors, Tensor):
        return [tensors]
    return list(tensors)


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach=None) -> Tensor:
    """The ``norm_type``-norm of all ``tensors`` together, as if concatenated into one vector."""
    from ember import stack, tensor
    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return tensor(0.0)
    with no_grad():  # so no graph: norms of the tensors themselves, moved only when elsewhere
        norms = [t.norm(norm_type) for t in tensors]
        device = norms[0].device
        norms = [n if n.device == device else n.to(device) for n in norms]
        total = stack(norms).max() if math.isinf(norm_type) else stack(norms).norm(norm_type)
    if error_if_nonfinite and not bool(total.isfinite()):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from "
                           "`parameters` is non-finite, so it cannot be clipped. To disable this "
                           "error and scale the gradients by the non-finite norm anyway, set "
                           "`error_if_nonfinite=False`")
    return total


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """Scale the gradients of ``parameters`` in place so that their total norm is at most
    ``max_norm``.

    Returns:
        The total norm of the gradients before clipping (a 0-d tensor).

    Example::

        >>> loss.backward()
        >>> ember.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    """
    params = _as_list(parameters)  # a generator (model.parameters()) is read once
    grads = [p.grad for p in params if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(params, max_norm, total)
    return total


def clip_grads_with_norm_(parameters, max_norm: float, total_norm, foreach=None) -> None:
    """Scale gradients by ``max_norm / total_norm`` where that is below 1 (the second half of
    :func:`clip_grad_norm_`, for a norm computed elsewhere)."""
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return
    with no_grad():
        # multiply even when the factor is 1, so a non-finite norm propagates as in PyTorch
        clip_coef = min(float(max_norm) / (float(total_norm) + 1e-6), 1.0)
        for g in grads:
            g.mul_(clip_coef)


def clip_grad_norm(parameters, max_norm: float, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """Deprecated spelling of :func:`clip_grad_norm_`."""
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp the gradients of ``parameters`` to [-clip_value, clip_value] in place."""
    clip_value = float(clip_value)
    with no_grad():
        for p in _as_list(parameters):
            if p.grad is not None:
                p.grad.clamp_(min=-clip_value, max=clip_value)
