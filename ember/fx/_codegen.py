"""Python source for a Graph: ``def forward(self, x):`` with one statement per node, each
value set to None right after its last use (so memory is freed as in eager code), in the
exact shape of PyTorch's generated code (see NOTE [ Generated code globals ] in _names.py).
"""
from __future__ import annotations

import builtins
import math
import operator
from typing import Any

from ember.fx.graph import Graph, PythonCode, _Namespace
from ember.fx.node import Node, _type_repr, map_arg

# Functions the tracer kept as leaves by ``wrap`` or autowrap: generated code re-registers
# them (``torch.fx._symbolic_trace.wrap("name")``) so that tracing it again keeps them leaves.
wrapped_functions: dict[int, Any] = {}

_BINARY = {operator.add: "+", operator.sub: "-", operator.mul: "*", operator.floordiv: "//",
           operator.truediv: "/", operator.mod: "%", operator.pow: "**",
           operator.lshift: "<<", operator.rshift: ">>", operator.and_: "&",
           operator.or_: "|", operator.xor: "^", operator.matmul: "@", operator.eq: "==",
           operator.ne: "!=", operator.lt: "<", operator.gt: ">", operator.le: "<=",
           operator.ge: ">="}
_UNARY = {operator.neg: "-", operator.pos: "+", operator.invert: "~", operator.not_: "not "}


def _is_identifier(s: Any) -> bool:
    return isinstance(s, str) and s.isidentifier()


def format_target(base: str, target: str) -> str:
    """``self.layer1`` / ``getattr(self.layer1, "0").conv1`` for a qualified attribute name."""
    out = base
    for atom in target.split("."):
        out = f"{out}.{atom}" if atom.isidentifier() else f'getattr({out}, "{atom}")'
    return out


class _Emitter:
    def __init__(self) -> None:
        self.namespace = _Namespace()
        self.globals: dict[str, Any] = {}
        self.wrapped: list[str] = []
        import ember
        for name, value in (("torch", ember), ("device", ember.device), ("inf", math.inf),
                            ("nan", math.nan), ("NoneType", type(None))):
            self.globals[name] = value

    def add_global(self, obj: Any) -> str:
        """The name generated code uses for ``obj`` (a global it binds if needed)."""
        from ember.fx._names import public_name
        name = public_name(obj)
        if name is not None:
            return name
        if obj is None or obj is type(None):
            return "None"
        if isinstance(obj, type) and obj.__module__ == "builtins" and \
                getattr(builtins, obj.__name__, None) is obj:
            return obj.__name__
        module = getattr(obj, "__module__", None) or "builtins"
        if module == "builtins" and getattr(builtins, obj.__name__, None) is obj:
            return obj.__name__
        hint = f"{module}.{getattr(obj, '__name__', type(obj).__name__)}"
        name = self.namespace.create_name(hint, obj)
        self.globals[name] = obj
        return name

    def repr_arg(self, arg: Any) -> str:
        if isinstance(arg, Node):
            return arg.name
        if isinstance(arg, tuple) and hasattr(arg, "_fields"):
            qualified = self.add_global(type(arg))
            return f"{qualified}({', '.join(self.repr_arg(a) for a in arg)})"
        if isinstance(arg, tuple):
            inner = ", ".join(self.repr_arg(a) for a in arg)
            return f"({inner}{',' if len(arg) == 1 else ''})"
        if isinstance(arg, list):
            return "[" + ", ".join(self.repr_arg(a) for a in arg) + "]"
        if isinstance(arg, dict):
            return "{" + ", ".join(f"{k!r}: {self.repr_arg(v)}" for k, v in arg.items()) + "}"
        if isinstance(arg, slice):
            return f"slice({self.repr_arg(arg.start)}, {self.repr_arg(arg.stop)}, " \
                   f"{self.repr_arg(arg.step)})"
        if callable(arg) and (isinstance(arg, type) or hasattr(arg, "__name__")):
            return self.add_global(arg)
        return repr(arg)

    def call_args(self, args: tuple, kwargs: dict) -> str:
        parts = [self.repr_arg(a) for a in args]
        parts += [f"{k} = {self.repr_arg(v)}" for k, v in kwargs.items()]
        return ", ".join(parts)

    def type_repr(self, t: Any) -> str:
        text = _type_repr(t)
        if isinstance(t, type) and not text.startswith("torch.") and "." in text:
            return self.add_global(t)
        return text


def _statement(node: Node, root: str, em: _Emitter) -> str:
    args, kwargs = node.args, node.kwargs
    if node.op == "get_attr":
        return f"{node.name} = {format_target(root, node.target)}"
    if node.op == "call_module":
        return f"{node.name} = {format_target(root, node.target)}({em.call_args(args, kwargs)})"
    if node.op == "call_method":
        return (f"{node.name} = {em.repr_arg(args[0])}.{node.target}"
                f"({em.call_args(args[1:], kwargs)})")
    if node.op == "call_function":
        fn = node.target
        if not kwargs and len(args) == 2 and fn in _BINARY:
            return f"{node.name} = {em.repr_arg(args[0])} {_BINARY[fn]} {em.repr_arg(args[1])}"
        if not kwargs and len(args) == 1 and fn in _UNARY:
            return f"{node.name} = {_UNARY[fn]}{em.repr_arg(args[0])}"
        if not kwargs and len(args) == 2 and fn is operator.getitem:
            return f"{node.name} = {em.repr_arg(args[0])}[{em.repr_arg(args[1])}]"
        if fn is builtins.getattr and not kwargs and len(args) == 2 and _is_identifier(args[1]):
            return f"{node.name} = {em.repr_arg(args[0])}.{args[1]}"
        name = em.add_global(fn)
        if id(fn) in wrapped_functions and name not in em.wrapped:
            em.wrapped.append(name)
        return f"{node.name} = {name}({em.call_args(args, kwargs)})"
    raise NotImplementedError(f"node: {node.op} {node.target}")


def python_code(graph: Graph, root_module: str, verbose: bool = False) -> PythonCode:
    """Generate ``forward(root_module, ...)`` for ``graph``."""
    em = _Emitter()
    nodes = list(graph.nodes)
    for node in nodes:
        em.namespace.create_name(node.name, node)
    # Each value dies after its last user (walking backwards, the first user seen).
    last_uses: dict[Node, list[Node]] = {}
    seen: set[Node] = set()
    for user in reversed(nodes):
        def note(n: Node, user=user) -> None:
            if n not in seen:
                seen.add(n)
                last_uses.setdefault(user, []).append(n)
        map_arg(user.args, note)
        map_arg(user.kwargs, note)
    free_vars: list[str] = []
    body: list[str] = []
    return_type = ""
    stacktrace_noted = False
    for node in nodes:
        if node.op == "placeholder":
            annotation = "" if node.type is None else f" : {em.type_repr(node.type)}"
            default = f" = {em.repr_arg(node.args[0])}" if node.args else ""
            free_vars.append(f"{node.target}{annotation}{default}")
            raw = node.target.lstrip("*")
            if raw != node.name:
                body.append(f"{node.name} = {raw}\n")
            continue
        if verbose and not stacktrace_noted:
            if body:  # a blank line after the ``*args`` prologue, as PyTorch prints
                body.append("\n")
            body.append("# No stacktrace found for following nodes\n")
            stacktrace_noted = True
        if node.op == "output":
            if node.type is not None:
                return_type = f" -> {em.type_repr(node.type)}"
            body.append(f"return {em.repr_arg(node.args[0])}\n")
            continue
        line = _statement(node, root_module, em)
        dead = [n.name for n in last_uses.get(node, []) if n.op != "output"]
        if not node.users:
            dead.append(node.name)
        if dead:
            line += ";  " + " = ".join(dead) + " = None"
        body.append(line + "\n")
    if not any(line.startswith("return") for line in body):
        body.append("pass\n")
    code = "".join(body)
    code = "\n".join("    " + line for line in code.split("\n"))
    wrap_stmts = "\n".join(f'torch.fx._symbolic_trace.wrap("{name}")' for name in em.wrapped)
    src = f"\n{wrap_stmts}\n\ndef forward({', '.join([root_module] + free_vars)}){return_type}:" \
          f"\n{code}"
    return PythonCode(src, em.globals)
