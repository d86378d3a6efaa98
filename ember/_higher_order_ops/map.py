"""``torch._higher_order_ops.map``: ``f`` applied to each slice of ``xs`` along dim 0."""
from __future__ import annotations

from typing import Any, Callable

from ember._higher_order_ops._slices import leaves_and_length, select
from ember.utils._pytree import tree_flatten, tree_unflatten

__all__ = ["map"]


def map(f: Callable, xs: Any, *args) -> Any:
    """``stack([f(xs[i], *args) for i in range(len)])``, leaf by leaf for pytrees.

    Args:
        f: takes one slice of ``xs`` (a tensor or pytree of tensors) and ``args``.
        xs: a tensor or pytree of tensors, iterated over their first dimension.

    Example::

        >>> map(lambda x, y: x ** y, ember.arange(5), ember.tensor(2))
        tensor([ 0,  1,  4,  9, 16])
    """
    import ember
    leaves, spec, length = leaves_and_length(xs, 0, "map")
    outs = [tree_flatten(f(select(leaves, spec, 0, i), *args)) for i in range(length)]
    if not outs:
        raise RuntimeError("map: xs must not be empty along dim 0")
    out_spec = outs[0][1]
    stacked = [ember.stack([o[0][k] for o in outs]) for k in range(len(outs[0][0]))]
    return tree_unflatten(stacked, out_spec)
