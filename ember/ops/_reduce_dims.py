"""The dim bookkeeping every reduction shares: which dims a ``dim`` argument names, and how a
reduced gradient is reshaped to broadcast back against the input."""
from __future__ import annotations

from ember._tensor import Tensor
from ember.ops._util import wrap_dims


def _dims(dim, ndim: int):
    """Normalised reduction dims; None and () mean all dims (PyTorch's convention)."""
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(ndim))
    return wrap_dims(dim, ndim)


def _restore_dims(grad: Tensor, in_shape, dims, keepdim: bool) -> Tensor:
    """Reshape a reduced gradient so that it broadcasts against the input."""
    if keepdim or not dims or grad.ndim == 0:  # a 0-d gradient broadcasts as it is
        return grad
    shape = list(in_shape)
    for d in dims:
        shape[d] = 1
    return grad.reshape(shape)
