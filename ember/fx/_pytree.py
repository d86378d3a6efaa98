"""``torch.fx._pytree``: flatten a pytree by a known ``TreeSpec``, as graphs made by export
flatten their inputs.

A type registered with :func:`register_pytree_flatten_spec` picks its children by the spec
(a dict by the spec's keys, so that extra keys are ignored and their order follows the spec);
any other type must flatten to exactly the given spec.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from ember.utils._pytree import PyTree, TreeSpec, tree_flatten

__all__ = ["register_pytree_flatten_spec", "tree_flatten_spec"]

FlattenFnSpec = Callable[[PyTree, TreeSpec], list]
FlattenFnExactMatchSpec = Callable[[PyTree, TreeSpec], bool]

SUPPORTED_NODES: dict = {}
SUPPORTED_NODES_EXACT_MATCH: dict = {}


def register_pytree_flatten_spec(cls: type, flatten_fn_spec: FlattenFnSpec,
                                 flatten_fn_exact_match_spec: FlattenFnExactMatchSpec | None
                                 = None) -> None:
    """Flatten nodes of type ``cls`` by a spec: ``flatten_fn_spec(node, spec)`` returns the
    children matching ``spec``'s children; ``flatten_fn_exact_match_spec(node, spec)`` says
    whether the node has exactly the spec's children. Registering again replaces them."""
    SUPPORTED_NODES[cls] = flatten_fn_spec
    SUPPORTED_NODES_EXACT_MATCH[cls] = flatten_fn_exact_match_spec


def _deregister_pytree_flatten_spec(cls: type) -> None:
    del SUPPORTED_NODES[cls]
    del SUPPORTED_NODES_EXACT_MATCH[cls]


def tree_flatten_spec(pytree: PyTree, spec: TreeSpec) -> list:
    """The leaves of ``pytree`` in the order of ``spec``'s leaves; a RuntimeError when a node
    of an unregistered type does not flatten to ``spec``."""
    if spec.is_leaf():
        return [pytree]
    if spec.type in SUPPORTED_NODES:
        children = SUPPORTED_NODES[spec.type](pytree, spec)
        return [leaf for child, child_spec in zip(children, spec.children())
                for leaf in tree_flatten_spec(child, child_spec)]
    leaves, real_spec = tree_flatten(pytree)
    if spec != real_spec:
        raise RuntimeError(f"Real spec {real_spec} of object {pytree} is different from "
                           f"expected spec {spec}.")
    return leaves


def _dict_flatten_spec(d: dict, spec: TreeSpec) -> list:
    return [d[k] for k in spec.context]


def _sequence_flatten_spec(d, spec: TreeSpec) -> list:
    return [d[i] for i in range(spec.num_children)]


def _has_spec_arity(d: Any, spec: TreeSpec) -> bool:
    return len(d) == spec.num_children


register_pytree_flatten_spec(dict, _dict_flatten_spec, _has_spec_arity)
register_pytree_flatten_spec(list, _sequence_flatten_spec, _has_spec_arity)
register_pytree_flatten_spec(tuple, _sequence_flatten_spec, _has_spec_arity)
# ember's specs give every namedtuple (the return types of ops included) the type NamedTuple
register_pytree_flatten_spec(NamedTuple, _sequence_flatten_spec, _has_spec_arity)
