"""``torch._utils``' helpers that third-party training code imports (apex-style fp16 master
weights, bucketed all-reduce): flattening a list of dense tensors into one and back, and
``is_compiling`` (``ember.compiler.is_compiling``, which older code imports from here)."""
from __future__ import annotations

from typing import Sequence

from ember._tensor import Tensor
from ember.compiler import is_compiling

__all__ = ["_flatten_dense_tensors", "_unflatten_dense_tensors", "is_compiling"]


def _flatten_dense_tensors(tensors: Sequence[Tensor]) -> Tensor:
    """One contiguous 1-D tensor holding ``tensors``' elements one after another
    (differentiable, as PyTorch's)."""
    from ember.ops.movement import cat
    return cat([t.reshape(-1) for t in tensors]) if len(tensors) != 1 else \
        tensors[0].reshape(-1).clone()


def _unflatten_dense_tensors(flat: Tensor, tensors: Sequence[Tensor]) -> tuple:
    """Views of ``flat`` shaped like each of ``tensors``, in order (the inverse of
    :func:`_flatten_dense_tensors`)."""
    outputs, offset = [], 0
    for t in tensors:
        n = t.numel()
        outputs.append(flat.narrow(0, offset, n).view_as(t))
        offset += n
    return tuple(outputs)
