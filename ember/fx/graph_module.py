"""``torch.fx.GraphModule``: a Module whose ``forward`` is Python generated from a Graph.

Each GraphModule gets its own subclass (named after the traced class, as in PyTorch), so that
``recompile`` can set ``forward`` on the class. Pickling (``pickle``, ``ember.save``) stores the
graph as plain data and rebuilds it on load; see NOTE [ Pickled graphs ].
"""
from __future__ import annotations

import copy
import copyreg
import itertools
import linecache
import pickle
import sys
from typing import Any

from ember.fx import _codegen
from ember.fx.graph import Graph, PythonCode
from ember.fx.node import Node
from ember.nn import Module

__all__ = ["GraphModule"]

_next_key = itertools.count()


def _forward_from_src(src: str, globals_: dict):
    """Exec the generated source (kept in linecache, so tracebacks show its lines)."""
    key = f"<eval_with_key>.{next(_next_key)}"
    linecache.cache[key] = (len(src), None, src.splitlines(True), key)
    scope = dict(globals_)
    exec(compile(src, key, "exec"), scope)
    return scope["forward"]


def _copy_attr(from_module: Module, to_module: Module, target: str) -> None:
    """Install ``from_module.<target>`` at the same path of ``to_module``; missing parents
    become empty Modules and plain tensors become buffers (as in PyTorch)."""
    from ember._tensor import Tensor
    from ember.nn import Parameter
    *prefix, field = target.split(".")
    for item in prefix:
        f = getattr(from_module, item)
        t = getattr(to_module, item, None)
        if f is t:
            from_module, to_module = f, t
            continue
        if t is None:
            t = Module()
            setattr(to_module, item, t)
        from_module, to_module = f, t
    orig = getattr(from_module, field)
    if isinstance(orig, Tensor) and not isinstance(orig, Parameter):
        to_module.register_buffer(field, orig)
    else:
        setattr(to_module, field, orig)


def _assign_attr(from_obj: Any, to_module: Module, target: str) -> None:
    from ember._tensor import Tensor
    from ember.nn import Parameter
    *prefix, field = target.split(".")
    for item in prefix:
        t = getattr(to_module, item, None)
        if t is None:
            t = Module()
            setattr(to_module, item, t)
        to_module = t
    if isinstance(from_obj, Tensor) and not isinstance(from_obj, Parameter):
        to_module.register_buffer(field, from_obj)
    else:
        setattr(to_module, field, from_obj)


def _impl_class(base: type, name: str) -> type:
    """The per-instance class of a GraphModule (see the module docstring)."""
    return type(name, (base,), {"_fx_impl": True, "__module__": base.__module__})


class GraphModule(Module):
    """A Module built from ``root``'s attributes and a :class:`Graph`.

    Args:
        root: the module the graph's ``get_attr``/``call_module`` targets are copied from, or
            a dict from each such qualified name to its object.
        graph: the program; its Python source becomes ``forward``.
        class_name: the name the module prints with.

    Example::

        >>> gm = ember.fx.symbolic_trace(model)
        >>> gm.graph.lint(); gm.recompile()
    """

    def __new__(cls, *args, **kwargs):
        if cls.__dict__.get("_fx_impl"):
            cls = cls.__bases__[0]
        return super().__new__(_impl_class(cls, "GraphModuleImpl"))

    def __init__(self, root: Module | dict, graph: Graph,
                 class_name: str = "GraphModule") -> None:
        super().__init__()
        self.__class__.__name__ = class_name
        self.__class__.__qualname__ = class_name
        if isinstance(root, Module):
            if hasattr(root, "training"):
                self.training = root.training
            for node in graph.nodes:
                if node.op in ("get_attr", "call_module"):
                    _copy_attr(root, self, node.target)
        elif isinstance(root, dict):
            for node in graph.nodes:
                if node.op in ("get_attr", "call_module"):
                    if node.target not in root:
                        raise RuntimeError(f"Node {node} referenced target {node.target} but "
                                           "that target was not provided in ``root``!")
                    _assign_attr(root[node.target], self, node.target)
        else:
            raise RuntimeError(f"Unsupported type {root} passed for root!")
        self.meta: dict = {}
        self.graph = graph

    @property
    def graph(self) -> Graph:
        """The Graph; assigning one regenerates ``forward``."""
        return self._graph

    @graph.setter
    def graph(self, g: Graph) -> None:
        self.__dict__["_graph"] = g
        g.owning_module = self
        self.recompile()

    @property
    def code(self) -> str:
        """The Python source of ``forward``."""
        return self._code

    def recompile(self) -> PythonCode:
        """Regenerate ``forward`` after the graph changed."""
        python_code = self._graph.python_code(root_module="self")
        self.__dict__["_code"] = python_code.src
        type(self).forward = _forward_from_src(python_code.src, python_code.globals)
        return python_code

    def add_submodule(self, target: str, m: Module) -> bool:
        """Install ``m`` at the qualified name ``target``, creating empty parents; False if a
        parent on the path exists but is not a Module."""
        *prefix, field = target.split(".")
        mod: Module = self
        for item in prefix:
            submod = getattr(mod, item, None)
            if submod is None:
                submod = Module()
                setattr(mod, item, submod)
            if not isinstance(submod, Module):
                return False
            mod = submod
        mod.add_module(field, m)
        return True

    def delete_submodule(self, target: str) -> bool:
        """Remove the submodule at ``target``; False if there is none."""
        *prefix, field = target.split(".")
        mod: Module = self
        for item in prefix:
            mod = getattr(mod, item, None)
            if not isinstance(mod, Module):
                return False
        if not isinstance(getattr(mod, field, None), Module):
            return False
        delattr(mod, field)
        return True

    def delete_all_unused_submodules(self) -> None:
        """Remove every submodule that no call_module or get_attr node needs."""
        used: set[str] = set()
        called: list[str] = []
        for node in self._graph.nodes:
            if node.op in ("call_module", "get_attr"):
                atoms = node.target.split(".")
                used.update(".".join(atoms[:i]) for i in range(1, len(atoms) + 1))
                if node.op == "call_module":
                    called.append(node.target + ".")
        for name, _ in list(self.named_modules()):
            if name and name not in used and not name.startswith(tuple(called)):
                self.delete_submodule(name)

    def print_readable(self, print_output: bool = True, include_stride: bool = False,
                       include_device: bool = False, colored: bool = False) -> str:
        """This module as a class definition, ``forward`` in it (printed unless
        ``print_output`` is False); returns the text."""
        src = self._graph.python_code(root_module="self", verbose=True).src
        lines = [f"class {self._get_name()}(torch.nn.Module):"]
        lines += ["    " + line if line.strip() else "" for line in src.lstrip("\n").split("\n")]
        while lines and not lines[-1].strip():
            lines.pop()
        text = "\n".join(lines) + "\n"
        if print_output:
            print(text)
        return text

    def __str__(self) -> str:
        return "\n".join([super().__repr__(), self._code, "# To see more debug info, please "
                          "use `graph_module.print_readable()`"])

    def __copy__(self) -> "GraphModule":
        res = GraphModule(self, self._graph, type(self).__name__)
        res.meta = getattr(self, "meta", {})
        return res

    def __deepcopy__(self, memo: dict) -> "GraphModule":
        holder = Module()
        state = {k: v for k, v in self.__dict__.items() if k not in ("_graph", "_code")}
        holder.__dict__.update(copy.deepcopy(state, memo))
        res = GraphModule(holder, copy.deepcopy(self._graph, memo), type(self).__name__)
        res.training = self.training
        res.meta = copy.deepcopy(getattr(self, "meta", {}), memo)
        return res

    # NOTE [ Pickled graphs ]
    # PyTorch pickles a GraphModule as its generated source and execs it on load; ember.load
    # never runs code a file chooses, so the graph travels as plain data (ops, names, targets,
    # arguments) and call_function targets as names resolved on load against what generated
    # code may call anyway: ember's public namespaces, ``operator``, ``math``, ``getattr`` and
    # the functions this process has ``wrap``-ped. Node ``meta`` is not kept.
    def __reduce_ex__(self, protocol: int):
        state = {k: v for k, v in self.__dict__.items() if k not in ("_graph", "_code")}
        state["_fx_graph"] = _graph_to_data(self._graph)
        state["_fx_class_name"] = type(self).__name__
        # the nearest class pickle can import: not the per-instance class, nor a scripted
        # module's class (ember.jit's, made on the fly; so a scripted one loads unscripted)
        base = next(c for c in type(self).__mro__ if _importable(c))
        return (copyreg._reconstructor, (base, object, None), state)

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        data = state.pop("_fx_graph")
        name = state.pop("_fx_class_name")
        self.__class__ = _impl_class(type(self), name)
        super().__setstate__(state)
        self.graph = _graph_from_data(data)


def _importable(cls: type) -> bool:
    """Whether pickle finds ``cls`` again by its module and qualified name."""
    found = sys.modules.get(cls.__module__)
    for atom in cls.__qualname__.split("."):
        found = getattr(found, atom, None)
    return found is cls


# -- the plain-data form of a graph ---------------------------------------------------------------

def _encode(value: Any) -> Any:
    """Tag every argument so that decoding needs no code from the file (lists of str/int)."""
    from ember.backend.device import Device
    from ember.dtypes import dtype
    if isinstance(value, Node):
        return ["node", value.name]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return ["tuple", [_encode(v) for v in value]]
    if isinstance(value, list):
        return ["list", [_encode(v) for v in value]]
    if isinstance(value, dict):
        return ["dict", [[k, _encode(v)] for k, v in value.items()]]
    if isinstance(value, slice):
        return ["slice", [_encode(value.start), _encode(value.stop), _encode(value.step)]]
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return ["const", value]
    if isinstance(value, complex):
        return ["complex", [value.real, value.imag]]
    if value is Ellipsis:
        return ["ellipsis", None]
    if isinstance(value, dtype):
        return ["torch", repr(value)]
    if isinstance(value, Device):
        return ["device", str(value)]
    if callable(value):
        return ["fn", _target_name(value)]
    if repr(value).startswith("torch."):
        return ["torch", repr(value)]
    raise pickle.PicklingError(f"cannot pickle graph argument {value!r}")


def _decode(item: Any, env: dict) -> Any:
    tag, value = item
    if tag == "node":
        return env[value]
    if tag == "tuple":
        return tuple(_decode(v, env) for v in value)
    if tag == "list":
        return [_decode(v, env) for v in value]
    if tag == "dict":
        return {k: _decode(v, env) for k, v in value}
    if tag == "slice":
        return slice(*(_decode(v, env) for v in value))
    if tag == "const":
        return value
    if tag == "complex":
        return complex(*value)
    if tag == "ellipsis":
        return Ellipsis
    if tag == "device":
        import ember
        return ember.device(value)
    if tag == "torch":
        return _resolve_torch_path(value)
    if tag == "fn":
        return _resolve_target(value)
    raise pickle.UnpicklingError(f"unknown graph argument tag {tag!r}")


def _target_name(fn: Any) -> str:
    from ember.fx._names import public_name
    name = public_name(fn)
    if name is not None:
        return name
    return f"{getattr(fn, '__module__', None) or 'builtins'}.{fn.__qualname__}"


def _resolve_torch_path(path: str) -> Any:
    import ember
    obj = ember
    for atom in path.split(".")[1:]:
        obj = getattr(obj, atom)
    return obj


def _resolve_target(name: str) -> Any:
    import builtins
    import math
    import operator
    if name.startswith(("torch.", "ember.")):  # ember's own functions (quantized ops, ...)
        return _resolve_torch_path(name)
    module, _, attr = name.rpartition(".")
    allowed = {"operator": operator, "_operator": operator, "math": math}
    if module in allowed and callable(getattr(allowed[module], attr, None)):
        return getattr(allowed[module], attr)
    if name == "builtins.getattr":
        return builtins.getattr
    for fn in _codegen.wrapped_functions.values():
        if f"{getattr(fn, '__module__', None)}.{getattr(fn, '__qualname__', '')}" == name:
            return fn
    raise pickle.UnpicklingError(f"graph target {name!r} is not a function ember.load may "
                                 "call (wrap it with ember.fx.wrap before loading)")


def _graph_to_data(graph: Graph) -> list:
    from ember.fx._names import public_name
    rows = []
    for n in graph.nodes:
        target = n.target if isinstance(n.target, str) else _target_name(n.target)
        type_name = public_name(n.type) if n.type is not None else None
        rows.append([n.op, n.name, target, _encode(n.args), _encode(n.kwargs), type_name])
    return rows


def _graph_from_data(rows: list) -> Graph:
    graph = Graph()
    env: dict[str, Node] = {}
    for op, name, target, args, kwargs, type_name in rows:
        if op == "call_function":
            target = _resolve_target(target)
        type_expr = _resolve_torch_path(type_name) if type_name else None
        env[name] = graph.create_node(op, target, _decode(args, env), _decode(kwargs, env),
                                      name, type_expr)
    return graph
