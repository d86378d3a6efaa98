"""``torch._C._functorch``: the queries and wrappers of functorch's transforms.

PyTorch's ``vmap`` wraps its inputs in BatchedTensors (a tensor with a hidden batch dimension
at a nesting level). ember's ``func.vmap`` calls the function once per sample instead (see
NOTE [ vmap runs its function once per sample ]), so no ember tensor is ever batched or wrapped:
the queries answer for plain tensors and the wrappers, which only a BatchedTensor-based vmap
would call, say so.
"""
from __future__ import annotations

from ember._tensor import Tensor


def is_batchedtensor(tensor: Tensor) -> bool:
    """Whether ``tensor`` is a vmap BatchedTensor: never in ember."""
    return False


def maybe_get_level(tensor: Tensor) -> int:
    """The functorch transform level that wraps ``tensor``; -1 for a plain tensor (all of
    ember's)."""
    return -1


def _no_batched_tensors(name: str):
    raise RuntimeError(f"torch._C._functorch.{name}: ember's vmap calls the function once per "
                       "sample and makes no BatchedTensors")


def _add_batch_dim(tensor: Tensor, batch_dim: int, level: int) -> Tensor:
    """Wrap ``tensor`` as a BatchedTensor whose dim ``batch_dim`` is hidden at ``level``."""
    _no_batched_tensors("_add_batch_dim")


def _remove_batch_dim(tensor: Tensor, level: int, batch_size: int, out_dim: int) -> Tensor:
    """Unwrap a BatchedTensor of ``level``, its batch dimension moved to ``out_dim``."""
    _no_batched_tensors("_remove_batch_dim")


def get_unwrapped(tensor: Tensor) -> Tensor:
    """The tensor inside a functorch wrapper (BatchedTensor or grad-tracking tensor)."""
    _no_batched_tensors("get_unwrapped")
