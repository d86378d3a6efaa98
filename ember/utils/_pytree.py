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
import dataclasses
import warnings
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple, Protocol

__all__ = ["PyTree", "Context", "FlattenFn", "UnflattenFn", "TreeSpec", "LeafSpec", "keystr",
           "key_get", "register_pytree_node", "tree_is_leaf", "tree_flatten",
           "tree_flatten_with_path", "tree_unflatten", "tree_iter", "tree_leaves",
           "tree_leaves_with_path", "tree_structure", "tree_map", "tree_map_with_path",
           "tree_map_", "tree_map_only", "tree_all", "tree_any", "tree_all_only",
           "tree_any_only", "is_namedtuple", "is_namedtuple_class", "is_namedtuple_instance"]

PyTree = Any
Context = Any  # what a node's flatten function keeps besides its children (dict keys, ...)
FlattenFn = Callable[[PyTree], "tuple[list, Context]"]
UnflattenFn = Callable[[Iterable, Context], PyTree]


class KeyEntry(Protocol):
    """One step of a key path: printable, hashable, and able to ``get`` the child it names
    from its parent."""

    def __hash__(self) -> int: ...

    def __eq__(self, other: object) -> bool: ...

    def __str__(self) -> str: ...

    def get(self, parent: Any) -> Any: ...


KeyPath = tuple  # tuple[KeyEntry, ...]: the steps from a tree's root to one of its leaves
FlattenWithKeysFn = Callable[[PyTree], "tuple[list[tuple[KeyEntry, Any]], Context]"]
# PyTorch's older names
FlattenFunc, UnflattenFunc, FlattenWithKeysFunc = FlattenFn, UnflattenFn, FlattenWithKeysFn


@dataclasses.dataclass(frozen=True)
class SequenceKey:
    """The child at position ``idx`` of a list, tuple or other sequence: ``[idx]``."""
    idx: int

    def __str__(self) -> str:
        return f"[{self.idx!r}]"

    def get(self, sequence) -> Any:
        return sequence[self.idx]


@dataclasses.dataclass(frozen=True)
class MappingKey:
    """The value under ``key`` of a dict or other mapping: ``[key]`` (the key's repr)."""
    key: Any

    def __str__(self) -> str:
        return f"[{self.key!r}]"

    def get(self, mapping) -> Any:
        return mapping[self.key]


@dataclasses.dataclass(frozen=True)
class GetAttrKey:
    """The attribute ``name`` of an object (a namedtuple's field): ``.name``."""
    name: str

    def __str__(self) -> str:
        return f".{self.name}"

    def get(self, obj) -> Any:
        return getattr(obj, self.name)


class NodeDef(NamedTuple):
    type: type
    flatten_fn: Callable
    unflatten_fn: Callable
    flatten_with_keys_fn: Callable | None = None


SUPPORTED_NODES: dict = {}


def register_pytree_node(cls: type, flatten_fn: FlattenFn, unflatten_fn: UnflattenFn, *,
                         serialized_type_name: str | None = None, to_dumpable_context=None,
                         from_dumpable_context=None,
                         flatten_with_keys_fn: FlattenWithKeysFn | None = None) -> None:
    """Make ``cls`` a pytree node: ``flatten_fn(node) -> (children, context)`` and
    ``unflatten_fn(children, context) -> node``; ``flatten_with_keys_fn(node) ->
    ([(key_entry, child), ...], context)`` gives its children's keys, for
    :func:`tree_flatten_with_path`. The serialization hooks are accepted for PyTorch's
    signature (ember does not serialize tree specs)."""
    if cls in SUPPORTED_NODES:
        raise ValueError(f"{cls} is already registered as pytree node.")
    SUPPORTED_NODES[cls] = NodeDef(cls, flatten_fn, unflatten_fn, flatten_with_keys_fn)


def _register_pytree_node(cls: type, flatten_fn: FlattenFn, unflatten_fn: UnflattenFn,
                          to_str_fn: Callable | None = None,
                          maybe_from_str_fn: Callable | None = None, *,
                          serialized_type_name: str | None = None, to_dumpable_context=None,
                          from_dumpable_context=None,
                          flatten_with_keys_fn: FlattenWithKeysFn | None = None) -> None:
    """The older name of :func:`register_pytree_node`; ``to_str_fn`` and
    ``maybe_from_str_fn`` are deprecated (a FutureWarning) and unused."""
    if to_str_fn is not None or maybe_from_str_fn is not None:
        warnings.warn("`to_str_fn` and `maybe_from_str_fn` is deprecated. Please use "
                      "`to_dumpable_context` and `from_dumpable_context` instead.",
                      FutureWarning, stacklevel=2)
    register_pytree_node(cls, flatten_fn, unflatten_fn,
                         serialized_type_name=serialized_type_name,
                         to_dumpable_context=to_dumpable_context,
                         from_dumpable_context=from_dumpable_context,
                         flatten_with_keys_fn=flatten_with_keys_fn)


def is_namedtuple_class(cls) -> bool:
    return isinstance(cls, type) and issubclass(cls, tuple) and hasattr(cls, "_fields")


def is_namedtuple_instance(obj) -> bool:
    return is_namedtuple_class(type(obj))


def is_namedtuple(obj) -> bool:
    """True for a namedtuple class or instance."""
    return is_namedtuple_class(obj if isinstance(obj, type) else type(obj))


def is_structseq_class(cls) -> bool:
    """True for a C struct sequence type (``os.stat_result``, ``time.struct_time``): a final
    tuple subclass with named fields. ember's ``return_types`` are namedtuples, not these."""
    return (isinstance(cls, type) and issubclass(cls, tuple) and not cls.__flags__ & (1 << 10)
            and all(isinstance(getattr(cls, f, None), int)
                    for f in ("n_fields", "n_sequence_fields", "n_unnamed_fields")))


def is_structseq_instance(obj) -> bool:
    """True for an instance of a C struct sequence type (see :func:`is_structseq_class`)."""
    return is_structseq_class(type(obj))


def is_structseq(obj) -> bool:
    """True for a C struct sequence type or instance."""
    return is_structseq_class(obj if isinstance(obj, type) else type(obj))


def _dict_flatten(d: dict):
    return list(d.values()), list(d.keys())


def _dict_flatten_with_keys(d: dict):
    values, keys = _dict_flatten(d)
    return [(MappingKey(k), v) for k, v in zip(keys, values)], keys


def _dict_unflatten(values: Iterable, keys) -> dict:
    return dict(zip(keys, values))


def _sequence_flatten(t):
    return list(t), None


def _sequence_keys(children) -> list:
    return [(SequenceKey(i), c) for i, c in enumerate(children)]


def _sequence_flatten_with_keys(t):
    return _sequence_keys(t), None


def _tuple_unflatten(values: Iterable, context) -> tuple:
    return tuple(values)


def _list_unflatten(values: Iterable, context) -> list:
    return list(values)


# PyTorch's names for the tuple and list nodes' functions (libraries register their own
# sequence types with them)
_tuple_flatten = _list_flatten = _sequence_flatten
_tuple_flatten_with_keys = _list_flatten_with_keys = _sequence_flatten_with_keys


def _namedtuple_flatten(t):
    return list(t), type(t)


def _namedtuple_flatten_with_keys(t):
    return [(GetAttrKey(f), v) for f, v in zip(t._fields, t)], type(t)


def _defaultdict_flatten(d: collections.defaultdict):
    return list(d.values()), [d.default_factory, list(d.keys())]


def _defaultdict_flatten_with_keys(d: collections.defaultdict):
    children, context = _defaultdict_flatten(d)
    return [(MappingKey(k), v) for k, v in zip(context[1], children)], context


def _deque_flatten(d: collections.deque):
    return list(d), d.maxlen


def _deque_flatten_with_keys(d: collections.deque):
    return _sequence_keys(d), d.maxlen


register_pytree_node(tuple, _tuple_flatten, _tuple_unflatten,
                     flatten_with_keys_fn=_tuple_flatten_with_keys)
register_pytree_node(list, _list_flatten, _list_unflatten,
                     flatten_with_keys_fn=_list_flatten_with_keys)
register_pytree_node(dict, _dict_flatten, _dict_unflatten,
                     flatten_with_keys_fn=_dict_flatten_with_keys)
register_pytree_node(collections.OrderedDict, _dict_flatten,
                     lambda v, keys: collections.OrderedDict(zip(keys, v)),
                     flatten_with_keys_fn=_dict_flatten_with_keys)
register_pytree_node(collections.defaultdict, _defaultdict_flatten,
                     lambda v, ctx: collections.defaultdict(ctx[0], zip(ctx[1], v)),
                     flatten_with_keys_fn=_defaultdict_flatten_with_keys)
register_pytree_node(collections.deque, _deque_flatten,
                     lambda v, maxlen: collections.deque(v, maxlen=maxlen),
                     flatten_with_keys_fn=_deque_flatten_with_keys)
# every namedtuple class flattens alike, under the one key ``NamedTuple``
_NAMEDTUPLE = SUPPORTED_NODES[NamedTuple] = NodeDef(
    NamedTuple, _namedtuple_flatten, lambda v, cls: cls(*v), _namedtuple_flatten_with_keys)


def _get_node_type(tree) -> Any:
    """The key of ``tree``'s node in ``SUPPORTED_NODES``: ``NamedTuple`` for any namedtuple,
    else its type (which is no key when ``tree`` is a leaf)."""
    return NamedTuple if is_namedtuple_instance(tree) else type(tree)


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
        node = SUPPORTED_NODES[self.type]
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


def _key_paths(tree, path: tuple, is_leaf) -> Iterable:
    """(key path, leaf) for each leaf of ``tree``, in flattening order."""
    if tree_is_leaf(tree, is_leaf):
        yield path, tree
        return
    node = _node_def(tree)
    if node.flatten_with_keys_fn is None:
        raise ValueError(f"Did not find a flatten_with_keys_fn for type: {node.type}. Please "
                         "pass a flatten_with_keys_fn argument to register_pytree_node.")
    keyed_children, _ = node.flatten_with_keys_fn(tree)
    for key, child in keyed_children:
        yield from _key_paths(child, (*path, key), is_leaf)


def tree_flatten_with_path(tree, is_leaf: Callable | None = None) -> tuple:
    """``([(key_path, leaf), ...], spec)``: ``tree_flatten`` with each leaf's key path (a
    tuple of ``SequenceKey`` / ``MappingKey`` / ``GetAttrKey`` from the root to the leaf).

    Example::

        >>> paths, spec = tree_flatten_with_path({"a": [1, 2]})
        >>> [(keystr(path), leaf) for path, leaf in paths]
        [("['a'][0]", 1), ("['a'][1]", 2)]
    """
    spec = tree_structure(tree, is_leaf)
    return list(_key_paths(tree, (), is_leaf)), spec


def tree_leaves_with_path(tree, is_leaf: Callable | None = None) -> list:
    """``[(key_path, leaf), ...]`` for the leaves of ``tree``."""
    return list(_key_paths(tree, (), is_leaf))


def tree_map_with_path(func: Callable, tree, *rests, is_leaf: Callable | None = None):
    """``tree_map`` where ``func`` also takes each leaf's key path first:
    ``func(key_path, leaf, *matching_leaves_of_rests)``."""
    keyed_leaves, spec = tree_flatten_with_path(tree, is_leaf)
    others = [_flatten_up_to(spec, r, is_leaf) for r in rests]
    return spec.unflatten(func(path, leaf, *more)
                          for (path, leaf), *more in zip(keyed_leaves, *others))


def keystr(kp: tuple) -> str:
    """A key path as Python-like accessor text: ``keystr((MappingKey("a"), SequenceKey(0)))``
    is ``"['a'][0]"``."""
    return "".join(str(k) for k in kp)


def key_get(obj, kp: tuple) -> Any:
    """The subtree of ``obj`` at key path ``kp``."""
    for key in kp:
        obj = key.get(obj)
    return obj


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


def _broadcast_to_and_flatten(tree, treespec: TreeSpec,
                              is_leaf: Callable | None = None) -> list | None:
    """``tree``, whose structure is a prefix of ``treespec``'s, flattened to ``treespec``'s
    leaves: each leaf of ``tree`` repeated over the leaves of the subtree it stands for (as
    vmap's ``in_dims=(0, None)`` covers a tuple of inputs); None where ``tree`` does not fit."""
    if tree_is_leaf(tree, is_leaf):
        return [tree] * treespec.num_leaves
    if treespec.is_leaf():
        return None
    node = _node_def(tree)
    children, context = node.flatten_fn(tree)
    if (node.type is not treespec.type or len(children) != treespec.num_children
            or (context != treespec.context and node.type is not NamedTuple)):
        return None
    leaves = []
    for child, spec in zip(children, treespec.children_specs):
        flat = _broadcast_to_and_flatten(child, spec, is_leaf)
        if flat is None:
            return None
        leaves.extend(flat)
    return leaves


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
