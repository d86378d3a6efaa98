"""``torch._higher_order_ops.associative_scan``: inclusive prefix "sums" of an associative
binary function."""
from __future__ import annotations

from typing import Any, Callable

from ember._higher_order_ops._slices import leaves_and_length
from ember.utils._pytree import tree_flatten, tree_unflatten

__all__ = ["associative_scan"]


def associative_scan(combine_fn: Callable, xs: Any, dim: int, reverse: bool = False,
                     combine_mode: str = "pointwise") -> Any:
    """``out_i = combine_fn(out_{i-1}, x_i)`` along ``dim`` (``out_i = combine_fn(out_{i+1},
    x_i)`` when ``reverse``), for a tensor or pytree ``xs``; the result has ``xs``'s shapes.

    ``combine_fn`` gets slices that keep ``dim`` (size 1). ``combine_mode="pointwise"`` is
    PyTorch's generated-kernel mode, which needs CUDA tensors; ``"generic"`` runs anywhere. Both
    run the same eager loop here.

    Example::

        >>> associative_scan(lambda a, b: a + b, ember.arange(5.), 0, combine_mode="generic")
        tensor([ 0.,  1.,  3.,  6., 10.])
    """
    import ember
    if combine_mode not in ("pointwise", "generic"):
        raise ValueError(f"combine_mode must be 'pointwise' or 'generic', got {combine_mode!r}")
    leaves, spec, length = leaves_and_length(xs, dim, "associative_scan")
    if combine_mode == "pointwise" and any(leaf.device.type not in ("cuda", "xpu")
                                           for leaf in leaves):
        raise ValueError("For combine_mode='pointwise', all input tensors need to be on CUDA "
                         "or XPU")
    outs: list = [None] * length
    order = list(reversed(range(length))) if reverse else list(range(length))
    acc = None
    for i in order:
        x = tree_unflatten([leaf.narrow(dim, i, 1) for leaf in leaves], spec)
        acc = x if acc is None else combine_fn(acc, x)
        outs[i] = tree_flatten(acc)[0]
    result = [ember.cat([o[k] for o in outs], dim) for k in range(len(leaves))]
    return tree_unflatten(result, spec)
