"""Splitting a batch into microbatches and merging the microbatch outputs back
(``torch.distributed.pipelining.microbatch``).

Every tensor leaf of the arguments is split along its ``TensorChunkSpec`` dimension (dim 0 by
default, with ``tensor_split``, so the chunks may differ by one in size); any other leaf is
replicated into every chunk. ``merge_chunks`` is the inverse: tensors are concatenated along
their spec's dimension, a ``_CustomReducer`` folds the chunks, other values must agree.
"""
from __future__ import annotations

import operator
from typing import Any, Callable

import ember
from ember._tensor import Tensor
from ember.utils._pytree import tree_flatten, tree_map, tree_unflatten

__all__ = ["TensorChunkSpec", "split_args_kwargs_into_chunks", "merge_chunks"]

DEFAULT_CHUNK_DIM = 0


class TensorChunkSpec:
    """Split (or merge) a tensor along ``split_dim``.

    Example::

        >>> args_chunk_spec = TensorChunkSpec.from_tuple((0, 1))   # two args, dims 0 and 1
    """

    def __init__(self, split_dim: int) -> None:
        self.split_dim = split_dim

    def __repr__(self) -> str:
        return f"{self.__class__.__module__}.{self.__class__.__name__}({self.split_dim})"

    def __str__(self) -> str:
        return f"TensorChunkSpec({self.split_dim})"

    @staticmethod
    def from_tuple(chunk_dims: tuple) -> tuple:
        """A tuple of specs, one per positional argument, from their split dimensions."""
        return tree_map(TensorChunkSpec, chunk_dims)

    @staticmethod
    def from_dict(chunk_dims: dict) -> dict:
        """A dict of specs, one per keyword argument, from their split dimensions."""
        return tree_map(TensorChunkSpec, chunk_dims)


class _Replicate:
    """The spec of a leaf every microbatch gets whole."""


class _CustomReducer:
    """Merges a leaf by folding ``reduce_fn`` over the chunks, starting at ``init_value``."""

    def __init__(self, init_value: Any, reduce_fn: Callable) -> None:
        self.init_value = init_value
        self.reduce_fn = reduce_fn


class _LossReducer(_CustomReducer):
    pass


sum_reducer = _LossReducer(0.0, operator.add)


def _split_tensor(tensor: Tensor, spec: TensorChunkSpec, num_chunks: int) -> list:
    if tensor.size(spec.split_dim) < num_chunks:
        raise ValueError(f"Tensor size {tensor.size(spec.split_dim)} is smaller than "
                         f"num_chunks {num_chunks}")
    chunks = list(ember.tensor_split(tensor, num_chunks, spec.split_dim))
    if tensor.requires_grad and tensor.is_leaf:
        for chunk in chunks:  # views of a leaf: keep their .grad for the stage's backward
            chunk.retain_grad()
    return chunks


def _shard(values: dict, specs: dict, num_chunks: int) -> list:
    """``num_chunks`` (fewer when a tensor is too short) dicts of ``values`` split by ``specs``."""
    if not values:
        return [{} for _ in range(num_chunks)]
    if values.keys() != specs.keys():
        raise ValueError(f"args_dict.keys() = {list(values)} args_chunk_spec.keys() = "
                         f"{list(specs)}")
    leaves, treespec = tree_flatten(values)
    leaf_specs, _ = tree_flatten(specs, is_leaf=lambda s: isinstance(s, (TensorChunkSpec,
                                                                          _Replicate)))
    if len(leaves) != len(leaf_specs):
        raise ValueError("the chunk spec does not match the structure of the arguments")
    sizes = [num_chunks]
    for leaf, spec in zip(leaves, leaf_specs):
        if isinstance(spec, TensorChunkSpec) and isinstance(leaf, Tensor):
            sizes.append(leaf.size(spec.split_dim))
        elif not (spec is _Replicate or isinstance(spec, _Replicate)):
            raise ValueError(f"Unsupported chunk spec: {spec} and value: {leaf} combination.")
    n = min(sizes)
    columns = [_split_tensor(leaf, spec, n) if isinstance(spec, TensorChunkSpec)
               else [leaf] * n for leaf, spec in zip(leaves, leaf_specs)]
    return [tree_unflatten([column[i] for column in columns], treespec) for i in range(n)]


def _default_spec(value: Any) -> Any:
    return TensorChunkSpec(DEFAULT_CHUNK_DIM) if isinstance(value, Tensor) else _Replicate()


def split_args_kwargs_into_chunks(args: tuple, kwargs: dict | None, chunks: int,
                                  args_chunk_spec: tuple | None = None,
                                  kwargs_chunk_spec: dict | None = None) -> tuple[list, list]:
    """Split ``args`` and ``kwargs`` into ``chunks`` microbatches.

    Args:
        args: the positional arguments of the whole batch.
        kwargs: the keyword arguments of the whole batch (or None).
        chunks: the number of microbatches wanted; fewer come back when a tensor is shorter.
        args_chunk_spec: a ``TensorChunkSpec`` per argument (dim 0 for every tensor if None).
        kwargs_chunk_spec: a ``TensorChunkSpec`` per keyword argument.

    Returns:
        ``(args_split, kwargs_split)``: a list of argument tuples and a list of kwargs dicts.

    Example::

        >>> a, k = split_args_kwargs_into_chunks((ember.arange(6),), {"m": 2}, 3)
        >>> a[1], k[1]
        ((tensor([2, 3]),), {'m': 2})
    """
    kwargs = kwargs or {}
    if args_chunk_spec is None:
        args_chunk_spec = tree_map(_default_spec, args)
    if kwargs_chunk_spec is None:
        kwargs_chunk_spec = tree_map(_default_spec, kwargs)
    positional = dict(enumerate(args))
    positional_specs = dict(enumerate(args_chunk_spec))
    args_split = _shard(positional, positional_specs, chunks)
    kwargs_split = _shard(kwargs, kwargs_chunk_spec, len(args_split))
    if len(kwargs_split) < len(args_split):  # a keyword tensor was shorter: split args again
        args_split = _shard(positional, positional_specs, len(kwargs_split))
    return [tuple(chunk[i] for i in range(len(chunk))) for chunk in args_split], kwargs_split


def merge_chunks(chunks: list, chunk_spec: Any) -> Any:
    """Merge microbatch outputs back into one batch (the inverse of the split).

    Args:
        chunks: the outputs of the microbatches, all of one structure.
        chunk_spec: the merge spec of that structure (``TensorChunkSpec``, ``_CustomReducer`` or
            anything else for values that must be equal); None concatenates every leaf on dim 0.
    """
    if chunk_spec is None:
        _, treespec = tree_flatten(chunks[0])
        leaf_specs = [TensorChunkSpec(DEFAULT_CHUNK_DIM)] * treespec.num_leaves
    else:
        leaf_specs, treespec = tree_flatten(chunk_spec, is_leaf=lambda s: isinstance(
            s, (TensorChunkSpec, _CustomReducer)))
    flat = []
    for chunk in chunks:
        leaves, _ = tree_flatten(chunk)
        if len(leaves) != len(leaf_specs):
            raise ValueError(f"Chunk {chunk} did not match chunk spec {chunk_spec}")
        flat.append(leaves)
    merged = []
    for i, spec in enumerate(leaf_specs):
        column = [leaves[i] for leaves in flat]
        if isinstance(spec, TensorChunkSpec):
            merged.append(ember.cat(column, dim=spec.split_dim))
        elif isinstance(spec, _CustomReducer):
            value = spec.init_value
            for item in column:
                value = spec.reduce_fn(value, item)
            merged.append(value)
        else:
            if any(item != column[0] for item in column[1:]):
                raise ValueError(f"Expected {column[0]} in every chunk, got {column}")
            merged.append(column[0])
    return tree_unflatten(merged, treespec)
