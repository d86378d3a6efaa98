"""Input and output structures of exported programs as plain data (JSON-able), so that a
saved program can rebuild them without pickles: tuples, lists, dicts with string or int keys
and leaves."""
from __future__ import annotations

from typing import Any

Spec = list  # ["leaf"] | ["tuple", [spec, ...]] | ["list", [...]] | ["dict", [keys], [...]]


def flatten(tree: Any) -> tuple[list, Spec]:
    """The leaves of ``tree`` in order, and its spec."""
    leaves: list = []
    return leaves, _flatten(tree, leaves)


def _flatten(tree: Any, leaves: list) -> Spec:
    if isinstance(tree, (tuple, list)):  # a named tuple comes back as a tuple
        return ["list" if isinstance(tree, list) else "tuple",
                [_flatten(v, leaves) for v in tree]]
    if isinstance(tree, dict):
        return ["dict", list(tree), [_flatten(v, leaves) for v in tree.values()]]
    leaves.append(tree)
    return ["leaf"]


def unflatten(leaves: list, spec: Spec) -> Any:
    """The structure ``spec`` with ``leaves`` in its places."""
    it = iter(leaves)
    return _unflatten(it, spec)


def _unflatten(it, spec: Spec) -> Any:
    kind = spec[0]
    if kind == "leaf":
        return next(it)
    if kind == "dict":
        return {k: _unflatten(it, s) for k, s in zip(spec[1], spec[2])}
    items = [_unflatten(it, s) for s in spec[1]]
    return tuple(items) if kind == "tuple" else items


def paths(tree: Any, prefix: tuple = ()) -> list[tuple[tuple, Any]]:
    """Each leaf with its key path (indices and dict keys) inside ``tree``."""
    if isinstance(tree, (tuple, list)):
        return [p for i, v in enumerate(tree) for p in paths(v, prefix + (i,))]
    if isinstance(tree, dict):
        return [p for k, v in tree.items() for p in paths(v, prefix + (k,))]
    return [(prefix, tree)]
