"""``torch.fx.node``: one operation of a Graph (its inputs, its users, its place in the list).

A Node's ``args``/``kwargs`` may nest Nodes inside tuples, lists, dicts and slices; setting them
recomputes the use lists (``_input_nodes`` on this node, ``users`` on each input), so passes can
rewrite a graph by assignment and ``replace_all_uses_with`` alone.
"""
from __future__ import annotations

import builtins
import operator
import types
from typing import Any, Callable

__all__ = ["Node", "map_arg", "map_aggregate", "Argument", "Target", "immutable_list",
           "immutable_dict"]

Argument = Any
Target = Any

_OPS = ("placeholder", "call_method", "call_module", "call_function", "get_attr", "output",
        "root")

# Side-effecting functions that dead-code elimination must keep (PyTorch's ``_side_effectful``).
_side_effectful_functions: set = set()


def _is_side_effectful(fn: Callable) -> bool:
    import ember
    return fn in _side_effectful_functions or fn is ember._assert


def has_side_effect(fn: Callable) -> Callable:
    """Mark ``fn`` impure: ``eliminate_dead_code`` keeps its unused call nodes. Returns ``fn``."""
    _side_effectful_functions.add(fn)
    return fn


_MUTATION_HINT = ("If you are attempting to modify the kwargs or args of a torch.fx.Node "
                  "object, instead create a new copy of it and assign the copy to the node:\n"
                  "    new_args = ... # copy and mutate args\n    node.args = new_args\n")


def _no_mutation(self, *args, **kwargs):
    raise NotImplementedError(f"'{type(self).__name__}' object does not support mutation. "
                              + _MUTATION_HINT)


class immutable_list(list):  # noqa: N801  (PyTorch's name)
    """The lists inside ``Node.args``: assigning a new ``args`` is how a node changes (so that
    its uses stay right), so these refuse in-place changes."""

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _no_mutation
    append = extend = insert = pop = remove = clear = sort = reverse = _no_mutation

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __reduce__(self):
        return (immutable_list, (list(self),))


class immutable_dict(dict):  # noqa: N801  (PyTorch's name)
    """The dicts inside ``Node.args``/``Node.kwargs`` (see ``immutable_list``)."""

    __setitem__ = __delitem__ = __ior__ = _no_mutation
    clear = pop = popitem = setdefault = update = _no_mutation

    def __hash__(self) -> int:
        return hash(tuple(self.items()))

    def __reduce__(self):
        return (immutable_dict, (dict(self),))


def map_aggregate(a: Argument, fn: Callable[[Argument], Argument]) -> Argument:
    """Apply ``fn`` to each leaf of ``a`` (tuples, lists, dicts and slices are walked), keeping
    the structure (named tuples stay named tuples; lists and dicts come back immutable, as
    ``Node.args`` holds them)."""
    if isinstance(a, tuple):
        mapped = tuple(map_aggregate(e, fn) for e in a)
        return type(a)(*mapped) if hasattr(a, "_fields") else mapped
    if isinstance(a, list):
        return immutable_list(map_aggregate(e, fn) for e in a)
    if isinstance(a, dict):
        return immutable_dict((k, map_aggregate(v, fn)) for k, v in a.items())
    if isinstance(a, slice):
        return slice(map_aggregate(a.start, fn), map_aggregate(a.stop, fn),
                     map_aggregate(a.step, fn))
    return fn(a)


def map_arg(a: Argument, fn: Callable[["Node"], Argument]) -> Argument:
    """Apply ``fn`` recursively to each Node appearing in ``a`` (a list, tuple, slice or dict
    with string keys); the return value has the same type and structure."""
    return map_aggregate(a, lambda x: fn(x) if isinstance(x, Node) else x)


def _qualified_name(fn: Callable) -> str:
    """The dotted name a call_function target prints with: ``torch.relu`` for ember's public
    functions (see NOTE [ Generated code globals ] in graph.py), else ``module.qualname``."""
    from ember.fx._names import public_name
    name = public_name(fn)
    if name is not None:
        return name
    if getattr(fn, "__module__", None) == "_operator" or fn in vars(operator).values():
        return f"operator.{fn.__name__}"
    if isinstance(fn, types.BuiltinFunctionType) and getattr(builtins, fn.__name__, None) is fn:
        return f"builtins.{fn.__name__}"
    module = getattr(fn, "__module__", None) or "builtins"
    return f"{module}.{getattr(fn, '__qualname__', fn.__name__)}"


def _type_repr(t: Any) -> str:
    """How an annotation prints (``torch.Tensor`` for ember.Tensor, ``int`` for builtins)."""
    from ember.fx._names import public_name
    if t is type(None):
        return "None"
    name = public_name(t)
    if name is not None:
        return name
    if isinstance(t, type):
        if t.__module__ == "builtins":
            return t.__qualname__
        return f"{t.__module__}.{t.__qualname__}"
    return repr(t).replace("typing.", "")


def _format_arg(arg: Argument) -> str:
    """An argument as Graph.__str__ shows it: Nodes as ``%name``, keys of dicts unquoted."""
    if isinstance(arg, Node):
        return "%" + arg.name
    if isinstance(arg, list):
        return "[" + ", ".join(_format_arg(a) for a in arg) + "]"
    if isinstance(arg, tuple):
        inner = ", ".join(_format_arg(a) for a in arg)
        return "(" + inner + ("," if len(arg) == 1 else "") + ")"
    if isinstance(arg, dict):
        return "{" + ", ".join(f"{k}: {_format_arg(v)}" for k, v in arg.items()) + "}"
    return str(arg)


class Node:
    """One operation in a :class:`Graph`.

    ``op`` is one of ``placeholder`` (a function input; ``target`` is its name),
    ``get_attr`` (fetch a parameter/buffer/attribute; ``target`` is its qualified name),
    ``call_function`` (``target`` is the callable), ``call_module`` (``target`` is the
    submodule's qualified name), ``call_method`` (``target`` is the method name, ``args[0]``
    the object) and ``output`` (``args[0]`` is the returned value).
    """

    def __init__(self, graph, name: str, op: str, target: Target, args: tuple, kwargs: dict,
                 return_type: Any = None) -> None:
        if op not in _OPS:
            raise ValueError(f"invalid op {op!r}")
        if op == "call_function" and not callable(target):
            raise ValueError(f"Node [graph = {graph}, name = '{name}'] target {target} has "
                             f"type {type(target)} but a Callable is expected")
        if op in ("get_attr", "call_module", "call_method", "placeholder") and not isinstance(
                target, str):
            raise ValueError(f"Node [graph = {graph}, name = '{name}'] target {target} has "
                             f"type {type(target)} but a str is expected")
        self.graph = graph
        self.name = name
        self.op = op
        self.target = target
        self._input_nodes: dict[Node, None] = {}
        self.users: dict[Node, None] = {}
        self.type = return_type
        self._prev = self
        self._next = self
        self._erased = False
        self.meta: dict[str, Any] = {}
        self._args: tuple = ()
        self._kwargs: dict = {}
        self._update_args_kwargs(args, kwargs)

    # -- the doubly linked list --------------------------------------------------------------

    @property
    def next(self) -> "Node":
        """The node after this one in the graph."""
        return self._next

    @property
    def prev(self) -> "Node":
        """The node before this one in the graph."""
        return self._prev

    def _unlink(self) -> None:
        p, n = self._prev, self._next
        p._next, n._prev = n, p
        self._prev = self._next = self

    def prepend(self, x: "Node") -> None:
        """Move (or insert) ``x`` right before this node."""
        if x is self:
            return
        x._unlink()
        p = self._prev
        p._next, x._prev = x, p
        x._next, self._prev = self, x

    def append(self, x: "Node") -> None:
        """Move (or insert) ``x`` right after this node."""
        self._next.prepend(x)

    # -- arguments and uses ------------------------------------------------------------------

    @property
    def args(self) -> tuple:
        """The positional arguments; assigning them updates the use lists."""
        return self._args

    @args.setter
    def args(self, a: tuple) -> None:
        self._update_args_kwargs(a, self._kwargs)

    @property
    def kwargs(self) -> dict:
        """The keyword arguments; assigning them updates the use lists."""
        return self._kwargs

    @kwargs.setter
    def kwargs(self, k: dict) -> None:
        self._update_args_kwargs(self._args, k)

    @property
    def all_input_nodes(self) -> list["Node"]:
        """Every Node among ``args`` and ``kwargs``, in order of first appearance."""
        return list(self._input_nodes)

    def _update_args_kwargs(self, new_args: tuple, new_kwargs: dict) -> None:
        for old in self._input_nodes:
            old.users.pop(self, None)
        self._input_nodes = {}
        self._args = map_arg(tuple(new_args), self._record_input)
        self._kwargs = map_arg(dict(new_kwargs), self._record_input)

    def _record_input(self, n: "Node") -> "Node":
        self._input_nodes.setdefault(n, None)
        n.users.setdefault(self, None)
        return n

    def update_arg(self, idx: int, arg: Argument) -> None:
        """Set ``args[idx]`` to ``arg``."""
        args = list(self._args)
        args[idx] = arg
        self.args = tuple(args)

    def insert_arg(self, idx: int, arg: Argument) -> None:
        """Insert ``arg`` into ``args`` at ``idx``."""
        args = list(self._args)
        args.insert(idx, arg)
        self.args = tuple(args)

    def update_kwarg(self, key: str, arg: Argument) -> None:
        """Set ``kwargs[key]`` to ``arg``."""
        self.kwargs = {**self._kwargs, key: arg}

    def replace_all_uses_with(self, replace_with: "Node",
                              delete_user_cb: Callable[["Node"], bool] | None = None, *,
                              propagate_meta: bool = False) -> list["Node"]:
        """Make every user of this node (for which ``delete_user_cb`` is true) use
        ``replace_with`` instead; returns the users that changed."""
        if propagate_meta:
            if replace_with.meta:
                raise AssertionError("Called node.replace_all_uses_with(replace_with, "
                                     "propagate_meta=True), but replace_with already has "
                                     "stuff in .meta")
            replace_with.meta.update(self.meta)
        changed = [u for u in list(self.users)
                   if delete_user_cb is None or delete_user_cb(u)]
        for user in changed:
            user._replace_input(self, replace_with)
        return changed

    def replace_input_with(self, old_input: "Node", new_input: "Node") -> None:
        """Use ``new_input`` wherever this node uses ``old_input``."""
        self._replace_input(old_input, new_input)

    def _replace_input(self, old: "Node", new: "Node") -> None:
        def swap(n: Node) -> Node:
            return new if n is old else n
        self._update_args_kwargs(map_arg(self._args, swap), map_arg(self._kwargs, swap))

    def is_impure(self, impure_random: bool = True) -> bool:
        """Whether dead-code elimination must keep this node even when it is unused:
        placeholders, outputs, side-effecting functions and in-place module calls."""
        if self.op in ("placeholder", "output"):
            return True
        if self.op == "call_function":
            return _is_side_effectful(self.target)
        if self.op == "call_method":
            return self.target.endswith("_") and not self.target.endswith("__")
        if self.op == "call_module":
            owner = self.graph.owning_module
            if owner is None:
                return False
            try:
                module = owner.get_submodule(self.target)
            except AttributeError:
                return False
            return bool(getattr(module, "_is_impure", False))
        return False

    # -- printing ------------------------------------------------------------------------------

    @property
    def stack_trace(self) -> str | None:
        """Where the traced call happened (not recorded by ember's tracer: None)."""
        return self.meta.get("stack_trace")

    def _pretty_print_target(self, target: Target) -> str:
        if isinstance(target, str):
            return target
        return _qualified_name(target)

    def format_node(self, placeholder_names: list[str] | None = None,
                    maybe_return_typename: list[str] | None = None, *,
                    include_tensor_metadata: bool = False) -> str | None:
        """This node as one line of ``Graph.__str__``; a placeholder also appends its name
        (and default) to ``placeholder_names``, the output its type to
        ``maybe_return_typename``."""
        if self.op == "placeholder":
            arg_str = self.target
            if self.args:
                arg_str += " = " + repr(self.args[0])
            if placeholder_names is not None:
                placeholder_names.append(arg_str)
                return None
            default = f"(default={self.args[0]})" if self.args else ""
            return f"%{self.name} : {self._typename()}[num_users={len(self.users)}] = " \
                   f"placeholder[target={self.target}]{default}"
        if self.op == "get_attr":
            return f"%{self.name} : {self._typename()}[num_users={len(self.users)}] = " \
                   f"get_attr[target={self.target}]"
        if self.op == "output":
            if self.type is not None and maybe_return_typename is not None:
                maybe_return_typename[0] = f" -> {_type_repr(self.type)}"
            return f"return {self.args[0]}"
        return (f"%{self.name} : {self._typename()}[num_users={len(self.users)}] = "
                f"{self.op}[target={self._pretty_print_target(self.target)}]"
                f"(args = {_format_arg(self.args)}, kwargs = {_format_arg(self.kwargs)})")

    def _typename(self) -> str:
        return f"{_type_repr(self.type)} " if self.type is not None else ""

    def __repr__(self) -> str:
        return self.name
