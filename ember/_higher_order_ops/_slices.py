"""What the scanning operators share: slicing every leaf of a pytree along one dimension."""
from __future__ import annotations

from typing import Any

from ember.utils._pytree import tree_flatten, tree_unflatten


def leaves_and_length(xs: Any, dim: int, op: str) -> tuple[list, Any, int]:
    """The tensor leaves of ``xs``, its spec and their common size along ``dim``."""
    leaves, spec = tree_flatten(xs)
    if not leaves:
        raise RuntimeError(f"{op}: xs must hold at least one tensor")
    sizes = {leaf.shape[dim] for leaf in leaves}
    if len(sizes) != 1:
        raise RuntimeError(f"{op}: all leaves of xs must have the same size along dim {dim}, "
                           f"got {sorted(sizes)}")
    return leaves, spec, sizes.pop()


def select(leaves: list, spec: Any, dim: int, i: int) -> Any:
    """The pytree of the ``i``-th slices along ``dim`` (the dimension removed)."""
    return tree_unflatten([leaf.select(dim, i) for leaf in leaves], spec)
