"""``torch._functorch.vmap``: the helpers of PyTorch's BatchedTensor-based ``vmap`` that
libraries import (and some replace) to teach it their own containers.

ember's ``func.vmap`` calls the function once per sample (see NOTE [ vmap runs its function
once per sample ]) and calls none of these, so replacing them changes nothing there; the
batching wrappers raise, as no ember tensor is batched.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

from ember._C._functorch import _add_batch_dim, _remove_batch_dim, is_batchedtensor
from ember._tensor import Tensor
from ember.utils._pytree import _broadcast_to_and_flatten, tree_flatten, tree_unflatten

__all__ = ["Tensor", "_add_batch_dim", "_broadcast_to_and_flatten", "_get_name",
           "_maybe_remove_batch_dim", "tree_flatten", "tree_unflatten"]


def _get_name(func: Callable) -> str:
    """A callable's name for vmap's error messages (a module or other callable object has
    none: its repr stands in)."""
    if hasattr(func, "__name__"):
        return func.__name__
    if isinstance(func, functools.partial):
        return f"functools.partial({_get_name(func.func)}, ...)"
    return repr(func)


def _maybe_remove_batch_dim(name: str, batched_output: Any, vmap_level: int, batch_size: int,
                            out_dim: int | None) -> Any:
    """One output of a vmapped function with its batch dimension moved to ``out_dim``; an
    output with ``out_dim=None`` must not depend on the batch and is returned as it is."""
    if out_dim is None:
        if isinstance(batched_output, Tensor) and is_batchedtensor(batched_output):
            raise ValueError(f"vmap({name}, ...): `{name}` can not return a BatchedTensor "
                             "when out_dim is None")
        return batched_output
    if not isinstance(batched_output, Tensor):
        raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, got type "
                         f"{type(batched_output)}. Did you mean to set out_dims= to None for "
                         "output?")
    return _remove_batch_dim(batched_output, vmap_level, batch_size, out_dim)
