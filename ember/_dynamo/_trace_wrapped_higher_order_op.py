"""``torch._dynamo._trace_wrapped_higher_order_op``: :class:`TransformGetItemToIndex`, the
mode under which ``tensor[i]`` with ``i`` a 0-d index tensor (as ``vmap`` hands a mask
function) indexes by the tensor's value instead of turning it into a Python int."""
from __future__ import annotations

from ember._tensor import Tensor
from ember.overrides import TorchFunctionMode
from ember.utils._pytree import tree_leaves

__all__ = ["TransformGetItemToIndex", "mod_index"]


def mod_index(x: Tensor, indices: list) -> Tensor:
    """``aten.index(x, indices)``: advanced indexing of ``x``'s leading dimensions by the
    index tensors ``indices`` (a new tensor, never a view); its gradient scatters back with
    accumulation."""
    out = x[tuple(indices)]
    # 0-d index tensors index as integers (a view): aten.index always copies
    return out.clone() if out._base is not None else out


class TransformGetItemToIndex(TorchFunctionMode):
    """Within it, ``tensor[idx]`` whose index entries are all tensors or ints is
    :func:`mod_index` of them, each int made a 0-d int64 tensor (``x[1, j]`` is
    ``x[tensor(1), j]``, and ``x[[0, 1]]`` is ``x[0, 1]``); any other indexing, and every
    other function, runs unchanged."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func is Tensor.__getitem__:
            tensor, index = args
            entries = tree_leaves(index)
            if all(isinstance(e, (Tensor, int)) for e in entries):
                return mod_index(tensor, [_as_index_tensor(e, tensor) for e in entries])
        return func(*args, **(kwargs or {}))


def _as_index_tensor(entry, indexed: Tensor) -> Tensor:
    if isinstance(entry, Tensor):
        return entry
    from ember._creation import tensor
    from ember.dtypes import int64
    return tensor(entry, dtype=int64, device=indexed.device)
