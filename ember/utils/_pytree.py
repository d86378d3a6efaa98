"""``torch.utils._pytree``: nested containers ("pytrees") flattened to a list of leaves and a
``TreeSpec`` describing their structure, and rebuilt from them.

Tuples, lists, dicts, namedtuples (``ember.return_types`` included), ``OrderedDict``,
``defaultdict`` and ``deque`` are nodes; anything else is a leaf (``None`` too), unless its type
is registered with ``register_pytree_node``.

Example::

    >>> leaves, spec = tree_flatten({"a": 1, "b": (2, 3)})
    >>> leaves
    [1, 2, 3]
    >>> tree_unflatten([x * 10 for x in leaves], spec)
    {'a': 10, 'b': (20, 30)}
"""
from __future__ import annotations

import collections
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

__all__ = ["LeafSpec", "TreeSpec", "is_namedtuple", "is_namedtuple_class",
           "is_namedtuple_instance", "register_pytree_node", "tree_all", "tree_all_only",
           "tree_any", "tree_any_only", "tree_flatten", "tree_is_leaf", "tree_iter",
           "tree_leaves", "tree_map", "tree_map_", "tree_map_only", "tree_structure",
           "tree_unflatten"]


class NodeDef(NamedTuple):
    type: type
    flatten_fn: Callable
    unflatten_fn: Callable


SUPPORTED_NODES: dict = {}


def register_pytree_node(cls: type, flatten_fn: Callable, unflatten_fn: Callable, *,
                         serialized_type_name: str | None = None, to_dumpable_context=None,
                         from_dumpable_context=None, flatten_with_keys_fn=None) -> None:
    """Make ``cls`` a pytree node: ``flatten_fn(node) -> (children, context)`` and
    ``unflatten_fn(children, context) -> node``. The serialization hooks are accepted for
    PyTorch's signature (ember does not serialize tree specs)."""
    if cls in SUPPORTED_NODES:
        raise ValueError(f"{cls} is already registered as pytree node.")
    SUPPORTED_NODES[cls] = NodeDef(cls, flatten_fn, unflatten_fn)


def is_namedtuple_class(cls) -> bool:
    return isinstance(cls, type) and issubclass(cls, tuple) and hasattr(cls, "_fields")


def is_namedtuple_instance(obj) -> bool:
    return is_namedtuple_class(type(obj))


def is_namedtuple(obj) -> bool:
    """True for a namedtuple class or instance."""
    return is_namedtuple_class(obj if isinstance(obj, type) else type(obj))


def _dict_flatten(d: dict):
    return list(d.values()), list(d.keys())


def _dict_unflatten(values: Iterable, keys) -> dict:
    return dict(zip(keys, values))


register_pytree_node(tuple, lambda t: (list(t), None), lambda v, _: tuple(v))
register_pytree_node(list, lambda t: (list(t), None), lambda v, _: list(v))
register_pytree_node(dict, _dict_flatten, _dict_unflatten)
register_pytree_node(collections.OrderedDict, _dict_flatten,
                     lambda v, keys: collections.OrderedDict(zip(keys, v)))
register_pytree_node(collections.defaultdict,
                     lambda d: (list(d.values()), [d.default_factory, list(d.keys())]),
                     lambda v, ctx: collections.defaultdict(ctx[0], zip(ctx[1], v)))
register_pytree_node(collections.deque, lambda d: (list(d), d.maxlen),
                     lambda v, maxlen: collections.deque(v, maxlen=maxlen))
_NAMEDTUPLE = NodeDef(NamedTuple, lambda t: (list(t), type(t)), lambda v, cls: cls(*v))


def _node_def(tree) -> NodeDef | None:
    """How ``tree`` flattens, or None for a leaf (registered types are matched exactly, so
    that a tuple subclass such as a namedtuple is not taken for a plain tuple)."""
    node = SUPPORTED_NODES.get(type(tree))
    if node is None and is_namedtuple_instance(tree):
        return _NAMEDTUPLE
    return node


def _node_name(t: type) -> str:
    return "namedtuple" if t is NamedTuple else t.__name__


class TreeSpec:
    """The structure of a pytree: a node's ``type`` (None for a leaf), its ``context`` (dict
    keys, a namedtuple's class, ...) and the specs of its children."""

    def __init__(self, type: type | None, context: Any, children_specs: list):
        self.type = type
        self.context = context
        self.children_specs = children_specs
        self.num_leaves = 1 if type is None else sum(c.num_leaves for c in children_specs)
        self.num_nodes = 1 + sum(c.num_nodes for c in children_specs)
        self.num_children = len(children_specs)

    def is_leaf(self) -> bool:
        return self.type is None

    def child(self, index: int) -> TreeSpec:
        return self.children_specs[index]

    def children(self) -> list:
        return list(self.children_specs)

    def unflatten(self, leaves: Iterable) -> Any:
        """The pytree of this structure holding ``leaves`` (in flattening order)."""
        leaves = list(leaves)
        if len(leaves) != self.num_leaves:
            raise ValueError(f"treespec.unflatten(leaves): `leaves` has length {len(leaves)} "
                             f"but the spec refers to a pytree that holds {self.num_leaves} "
                             f"items ({self}).")
        return self._build(iter(leaves))

    def _build(self, leaves):
        if self.is_leaf():
            return next(leaves)
        children = [c._build(leaves) for c in self.children_specs]
        node = _NAMEDTUPLE if self.type is NamedTuple else SUPPORTED_NODES[self.type]
        return node.unflatten_fn(children, self.context)

    def __eq__(self, other) -> bool:
        if not isinstance(other, TreeSpec):
            return NotImplemented
        return (self.type is other.type and self.context == other.context
                and self.children_specs == other.children_specs)

    def __hash__(self) -> int:
        return hash(repr(self))

    def __repr__(self, indent: int = 0) -> str:
        if self.is_leaf():
            return "*"
        pad = "\n" + " " * (indent + 2)
        children = ("," + pad).join(c.__repr__(indent + 2) for c in self.children_specs)
        return f"TreeSpec({_node_name(self.type)}, {self.context!r}, [{children}])"


class LeafSpec(TreeSpec):
    """The spec of a single leaf."""

    def __init__(self):
        super().__init__(None, None, [])


def tree_is_leaf(tree, is_leaf: Callable | None = None) -> bool:
    """True when ``tree`` is a leaf (not a registered node, or ``is_leaf(tree)`` holds)."""
    return (is_leaf is not None and is_leaf(tree)) or _node_def(tree) is None


def _flatten(tree, leaves: list, is_leaf) -> TreeSpec:
    if tree_is_leaf(tree, is_leaf):
        leaves.append(tree)
        return LeafSpec()
    node = _node_def(tree)
    children, context = node.flatten_fn(tree)
    return TreeSpec(node.type, context, [_flatten(c, leaves, is_leaf) for c in children])


def tree_flatten(tree, is_leaf: Callable | None = None) -> tuple:
    """(leaves, spec): the leaves of ``tree`` in order and its structure."""
    leaves: list = []
    spec = _flatten(tree, leaves, is_leaf)
    return leaves, spec


def tree_unflatten(leaves: Iterable, treespec: TreeSpec):
    """The pytree of ``treespec``'s structure holding ``leaves``."""
    if not isinstance(treespec, TreeSpec):
        raise TypeError(f"tree_unflatten(leaves, treespec): Expected `treespec` to be instance "
                        f"of TreeSpec but got item of type {type(treespec)}.")
    return treespec.unflatten(leaves)


def tree_iter(tree, is_leaf: Callable | None = None):
    """An iterator over the leaves of ``tree``."""
    return iter(tree_leaves(tree, is_leaf))


def tree_leaves(tree, is_leaf: Callable | None = None) -> list:
    return tree_flatten(tree, is_leaf)[0]


def tree_structure(tree, is_leaf: Callable | None = None) -> TreeSpec:
    return tree_flatten(tree, is_leaf)[1]


def _flatten_up_to(spec: TreeSpec, tree, is_leaf) -> list:
    """The subtrees of ``tree`` at ``spec``'s leaves (``tree`` must have ``spec``'s nodes)."""
    if spec.is_leaf():
        return [tree]
    node = _node_def(tree)
    if node is None or node.type is not spec.type:
        got = type(tree) if node is None else node.type
        raise ValueError(f"Node type mismatch; expected {spec.type}, but got {got}.")
    children, context = node.flatten_fn(tree)
    if len(children) != spec.num_children:
        raise ValueError(f"Node arity mismatch; expected {spec.num_children}, but got "
                         f"{len(children)}.")
    if context != spec.context and spec.type is not NamedTuple:
        raise ValueError(f"Node context mismatch for custom node type {spec.type}.")
    return [leaf for s, c in zip(spec.children_specs, children)
            for leaf in _flatten_up_to(s, c, is_leaf)]


def tree_map(func: Callable, tree, *rests, is_leaf: Callable | None = None):
    """``tree``'s structure with ``func`` applied to each leaf (and to the matching leaves,
    or subtrees, of the trees in ``rests``, which must share ``tree``'s structure)."""
    leaves, spec = tree_flatten(tree, is_leaf)
    others = [_flatten_up_to(spec, r, is_leaf) for r in rests]
    return spec.unflatten(func(*args) for args in zip(leaves, *others))


def tree_map_(func: Callable, tree, *rests, is_leaf: Callable | None = None):
    """Call ``func`` on each leaf (for its side effects); returns ``tree``."""
    leaves, spec = tree_flatten(tree, is_leaf)
    others = [_flatten_up_to(spec, r, is_leaf) for r in rests]
    for args in zip(leaves, *others):
        func(*args)
    return tree


def _only(type_or_types, func: Callable) -> Callable:
    return lambda x: func(x) if isinstance(x, type_or_types) else x


def tree_map_only(type_or_types, func: Callable, tree, is_leaf: Callable | None = None):
    """``tree_map`` of ``func`` on the leaves of the given type(s), the others unchanged."""
    return tree_map(_only(type_or_types, func), tree, is_leaf=is_leaf)


def tree_all(pred: Callable, tree, is_leaf: Callable | None = None) -> bool:
    return all(map(pred, tree_leaves(tree, is_leaf)))


def tree_any(pred: Callable, tree, is_leaf: Callable | None = None) -> bool:
    return any(map(pred, tree_leaves(tree, is_leaf)))


def tree_all_only(type_or_types, pred: Callable, tree, is_leaf: Callable | None = None) -> bool:
    return all(pred(x) for x in tree_leaves(tree, is_leaf) if isinstance(x, type_or_types))


def tree_any_only(type_or_types, pred: Callable, tree, is_leaf: Callable | None = None) -> bool:
    return any(pred(x) for x in tree_leaves(tree, is_leaf) if isinstance(x, type_or_types))
