"""``torch._higher_order_ops.scan``: a carried loop over slices, with stacked outputs."""
from __future__ import annotations

from typing import Any, Callable

from ember._higher_order_ops._slices import leaves_and_length, select
from ember.utils._pytree import tree_flatten, tree_unflatten

__all__ = ["scan"]


def scan(combine_fn: Callable, init: Any, xs: Any, *, dim: int = 0,
         reverse: bool = False) -> tuple[Any, Any]:
    """Inclusive scan: ``carry, y_i = combine_fn(carry, x_i)`` over the slices of ``xs`` along
    ``dim`` (last to first when ``reverse``), starting from ``init``.

    Returns ``(final_carry, ys)``: ``ys`` stacks each output leaf with the slice index at
    ``dim`` (at the end for leaves of fewer dimensions), ``ys[i]`` coming from ``x_i`` also when
    reversed. The carry must keep ``init``'s pytree structure, shapes and dtypes.

    Example::

        >>> scan(lambda c, x: (c + x, (c + x) * 2), ember.tensor(0), ember.arange(1, 5))
        (tensor(10), tensor([ 2,  6, 12, 20]))
    """
    import ember
    leaves, spec, length = leaves_and_length(xs, dim, "scan")
    init_leaves, init_spec = tree_flatten(init)
    meta = [(leaf.shape, leaf.dtype) for leaf in init_leaves]
    carry, outs = init, [None] * length
    for i in (reversed(range(length)) if reverse else range(length)):
        carry, y = combine_fn(carry, select(leaves, spec, dim, i))
        carry_leaves, carry_spec = tree_flatten(carry)
        if carry_spec != init_spec or [(c.shape, c.dtype) for c in carry_leaves] != meta:
            raise RuntimeError("scan: the carry combine_fn returns must match init in pytree "
                               "structure, shapes and dtypes")
        outs[i] = tree_flatten(y)
    if not outs:
        return carry, None
    ys = []
    for k in range(len(outs[0][0])):
        stacked = ember.stack([o[0][k] for o in outs])
        ys.append(stacked.movedim(0, dim) if dim < stacked.dim() else stacked)
    return carry, tree_unflatten(ys, outs[0][1])
