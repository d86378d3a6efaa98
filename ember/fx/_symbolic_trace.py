"""``torch.fx.symbolic_trace`` and ``Tracer``: run ``forward`` on Proxies and record a Graph.

NOTE [ Interception while tracing ]
ember has no ``__torch_function__``: its ops are plain Python functions. For the duration of
one ``Tracer.trace`` call (restored afterwards, also on error, so there is no cost outside
tracing) the tracer swaps in stand-ins for
  * ``Module.__call__`` (to ``Tracer.call_module``: leaves become call_module nodes) and
    ``Module.__getattr__`` (parameters and buffers become get_attr nodes);
  * every public function of ``ember``, ``ember.nn.functional``, ``ember.special``,
    ``ember.linalg`` and ``ember.fft``, the public methods and operators of ``Tensor``, the
    functions named by ``wrap`` and the autowrapped ones (``math``'s): called with a Proxy
    anywhere in their arguments they record a node whose target is the ORIGINAL function
    (so code prints ``torch.relu``), else they call it.
Names bound by ``from ember import cat`` are swapped too, in the globals of the traced function
and of each traced-through module's ``forward``; helpers in other modules that imported a
function by name keep the original (``wrap`` them to record their calls).
"""
from __future__ import annotations

import inspect
import math
import operator
import types
from collections import OrderedDict
from typing import Any, Callable

from ember.fx._codegen import wrapped_functions
from ember.fx.graph import Graph
from ember.fx.graph_module import GraphModule
from ember.fx.node import Argument, Node, has_side_effect
from ember.fx.proxy import ParameterProxy, Proxy, TraceError, _find_proxy

__all__ = ["Tracer", "GraphAppendingTracer", "symbolic_trace", "wrap", "PH",
           "ProxyableClassMeta"]


@has_side_effect
def _assert_is_none(value: Any, msg: str) -> None:
    """Checks an input specialized to None by ``concrete_args``."""
    assert value is None, msg


class _PH:
    """Marks an entry of ``concrete_args`` that stays an input (a placeholder)."""

    def __repr__(self) -> str:
        return "PH"


PH = _PH()

# (globals dict, name) pairs registered by ``wrap``; the globals are kept by id.
_wrapped_fns_to_patch: dict[tuple[int, str], dict] = {}


class ProxyableClassMeta(type):
    """Accepted for PyTorch compatibility: constructing such a class with Proxy arguments is
    not recorded by ember's tracer (it runs the constructor)."""


def wrap(fn_or_name: str | Callable) -> str | Callable:
    """Keep a module-level function a leaf: while tracing, calls of it with Proxy arguments
    become call_function nodes instead of being traced through. Call it at module scope, with
    the function or its name. Returns its argument.

    Example::

        >>> def my_len(x): return len(x)
        >>> ember.fx.wrap("my_len")
    """
    frame = inspect.currentframe().f_back
    if frame.f_code.co_name != "<module>":
        raise NotImplementedError("wrap must be called at the top level of a module")
    if callable(fn_or_name):
        name = fn_or_name.__name__
        fn_globals = fn_or_name.__globals__
    else:
        name = fn_or_name
        fn_globals = frame.f_globals
    _wrapped_fns_to_patch[(id(fn_globals), name)] = fn_globals
    return fn_or_name


class _Patcher:
    """Sets attributes for the duration of a trace and restores them all afterwards."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []

    def set_many(self, owner: Any, values: dict[str, Any]) -> None:
        """Set ``owner.<name> = value`` for each entry (``owner`` a dict, module or class)."""
        if not values:
            return
        if isinstance(owner, type):  # a class's namespace only changes through setattr
            old = {name: owner.__dict__[name] for name in values}
            for name, value in values.items():
                setattr(owner, name, value)
            self._undo.append(lambda: [setattr(owner, n, v) for n, v in old.items()])
            return
        namespace = owner if isinstance(owner, dict) else vars(owner)
        old = {name: namespace[name] for name in values}
        namespace.update(values)
        self._undo.append(lambda: namespace.update(old))

    def restore(self) -> None:
        while self._undo:
            self._undo.pop()()


# How many ``Tracer.trace`` calls have their stand-ins installed (nested traces count).
_traces_running = 0

# Stand-ins hold no tracer (they find it through the Proxy), so one per function serves
# every trace: (original, stand-in) by (id(original), kind, target).
_standins: dict[tuple, tuple[Callable, Callable]] = {}


def _recording(orig: Callable, kind: str = "call_function", target: Any = None) -> Callable:
    """A stand-in for ``orig``: with a Proxy among the arguments it records a node."""
    target = orig if target is None else target
    key = (id(orig), kind, target if isinstance(target, str) else id(target))
    hit = _standins.get(key)
    if hit is not None and hit[0] is orig:
        return hit[1]

    def patched(*args, **kwargs):
        proxy = _find_proxy(args)
        if proxy is None:
            proxy = _find_proxy(kwargs)
        if proxy is None:
            return orig(*args, **kwargs)
        return proxy.tracer.create_proxy(kind, target, args, kwargs)
    patched.__wrapped__ = orig
    _standins[key] = (orig, patched)
    return patched


# Tensor operators whose call with a Proxy operand records the ``operator`` function.
_TENSOR_OPERATORS = {"__add__": operator.add, "__sub__": operator.sub, "__mul__": operator.mul,
                     "__truediv__": operator.truediv, "__floordiv__": operator.floordiv,
                     "__mod__": operator.mod, "__pow__": operator.pow,
                     "__matmul__": operator.matmul, "__and__": operator.and_,
                     "__or__": operator.or_, "__xor__": operator.xor,
                     "__lshift__": operator.lshift, "__rshift__": operator.rshift,
                     "__eq__": operator.eq, "__ne__": operator.ne, "__lt__": operator.lt,
                     "__le__": operator.le, "__gt__": operator.gt, "__ge__": operator.ge,
                     "__getitem__": operator.getitem}


def _resolved_signature(fn: Callable) -> inspect.Signature:
    """The signature with string annotations evaluated where possible (dropped if not)."""
    try:
        return inspect.signature(fn, eval_str=True)
    except Exception:
        sig = inspect.signature(fn)
    params = [p.replace(annotation=inspect.Parameter.empty)
              if isinstance(p.annotation, str) else p for p in sig.parameters.values()]
    ret = sig.return_annotation
    return sig.replace(parameters=params, return_annotation=inspect.Signature.empty
                       if isinstance(ret, str) else ret)


class Tracer:
    """Records a Graph by running a module's ``forward`` (or a function) on Proxies.

    Args:
        autowrap_modules: modules whose functions are kept as leaves when called with a
            Proxy (default: ``math``).
        autowrap_functions: single functions kept as leaves likewise.
        param_shapes_constant: parameters answer ``shape``/``size()`` with their real values.

    Subclass it and override ``is_leaf_module`` to choose which submodules stay calls.
    """

    def __init__(self, autowrap_modules: tuple = (math,), autowrap_functions: tuple = (),
                 param_shapes_constant: bool = False) -> None:
        self._autowrap_modules = tuple(autowrap_modules)
        self._autowrap_functions = tuple(autowrap_functions)
        self.param_shapes_constant = param_shapes_constant
        self.proxy_buffer_attributes = True
        self.traced_func_name = "forward"
        self.module_stack: OrderedDict[str, tuple[str, type]] = OrderedDict()
        self._patcher: _Patcher | None = None
        self._patched_globals: set[int] = set()
        self._standin_of: dict[int, Callable] = {}
        self.submodule_paths: dict[int, str] | None = None
        self.tensor_attrs: dict[int, str] = {}
        self.root = None
        self.graph: Graph | None = None

    # -- nodes and arguments -------------------------------------------------------------------

    def create_node(self, kind: str, target: Any, args: tuple, kwargs: dict,
                    name: str | None = None, type_expr: Any = None) -> Node:
        """Add a node to the graph being built (``meta['nn_module_stack']`` names the modules
        whose forward it ran in)."""
        node = self.graph.create_node(kind, target, args, kwargs, name, type_expr)
        if self.module_stack:
            node.meta["nn_module_stack"] = OrderedDict(self.module_stack)
        return node

    def proxy(self, node: Node) -> Proxy:
        """Wrap a new node in a Proxy."""
        return Proxy(node, self)

    def create_proxy(self, kind: str, target: Any, args: tuple, kwargs: dict,
                     name: str | None = None, type_expr: Any = None,
                     proxy_factory_fn: Callable[[Node], Proxy] | None = None) -> Proxy:
        """Record ``kind``/``target`` applied to ``args``/``kwargs`` (Proxies and constants
        turned into graph arguments by ``create_arg``); return a Proxy of the new node."""
        args_ = self.create_arg(args)
        kwargs_ = self.create_arg(kwargs)
        node = self.create_node(kind, target, args_, kwargs_, name, type_expr)
        return self.proxy(node) if proxy_factory_fn is None else proxy_factory_fn(node)

    def create_arg(self, a: Any) -> Argument:
        """A value as a graph argument: Proxies become their nodes, parameters and tensor
        attributes of the root get_attr nodes, other tensors new ``_tensor_constant``
        attributes; containers are mapped element by element."""
        from ember._tensor import Tensor
        from ember.nn import Module, Parameter
        if isinstance(a, Proxy):
            return a.node
        if isinstance(a, Parameter):
            for n, p in self.root.named_parameters():
                if a is p:
                    return self.create_node("get_attr", n, (), {})
            raise NameError("parameter is not a member of this module")
        if isinstance(a, Tensor):
            for n, b in self.root.named_buffers():
                if a is b:
                    return self.create_node("get_attr", n, (), {})
            qualname = self.tensor_attrs.get(id(a))
            if qualname is None:
                i = 0
                while hasattr(self.root, f"_tensor_constant{i}"):
                    i += 1
                qualname = f"_tensor_constant{i}"
                setattr(self.root, qualname, a)
                self.tensor_attrs[id(a)] = qualname
            return self.create_node("get_attr", qualname, (), {})
        if isinstance(a, Module):
            raise RuntimeError("Modules cannot be graph arguments: call them instead")
        if isinstance(a, (tuple, list, dict, slice)):
            if isinstance(a, dict):
                return {k: self.create_arg(v) for k, v in a.items()}
            if isinstance(a, slice):
                return slice(self.create_arg(a.start), self.create_arg(a.stop),
                             self.create_arg(a.step))
            mapped = [self.create_arg(e) for e in a]
            if isinstance(a, list):
                return mapped
            return type(a)(*mapped) if hasattr(a, "_fields") else tuple(mapped)
        return a

    def to_bool(self, obj: Proxy) -> bool:
        """Called for ``bool(proxy)``: data-dependent control flow cannot be traced."""
        raise TraceError("symbolically traced variables cannot be used as inputs to control "
                         "flow")

    def iter(self, obj: Proxy):
        """Called for ``iter(proxy)`` outside tuple unpacking: cannot be traced."""
        raise TraceError("Proxy object cannot be iterated. This can be attempted when the "
                         "Proxy is used in a loop or as a *args or **kwargs function argument. "
                         "See the torch.fx docs on pytorch.org for a more detailed explanation "
                         "of what types of control flow can be traced, and check out the Proxy "
                         "docstring for help troubleshooting Proxy iteration errors")

    def keys(self, obj: Proxy):
        """Called for ``**proxy``: records ``proxy.keys()``."""
        return self.create_proxy("call_method", "keys", (obj,), {})

    # -- modules -------------------------------------------------------------------------------

    def is_leaf_module(self, m, module_qualified_name: str) -> bool:
        """Whether ``m`` is recorded as one call_module node (ember.nn's own layers except
        Sequential, and ember.ao.nn's) rather than traced through."""
        from ember.nn import Sequential
        return m.__module__.startswith(("ember.nn.", "ember.ao.nn.")) \
            and not isinstance(m, Sequential)

    def path_of_module(self, mod) -> str:
        """The qualified name of ``mod`` inside the root module."""
        if self.submodule_paths is None:
            self.submodule_paths = {id(m): n for n, m in self.root.named_modules()}
        path = self.submodule_paths.get(id(mod))
        if path is None:
            raise NameError("module is not installed as a submodule")
        return path

    def call_module(self, m, forward: Callable, args: tuple, kwargs: dict) -> Any:
        """A submodule call: a call_module node for a leaf, else ``forward`` traced through."""
        module_qualified_name = self.path_of_module(m)
        self.module_stack[module_qualified_name] = (module_qualified_name, type(m))
        try:
            if not self.is_leaf_module(m, module_qualified_name):
                if self._patcher is not None:  # None when a Transformer reuses the tracer
                    self._patch_imported_names(getattr(type(m).forward, "__globals__", None))
                return forward(*args, **kwargs)
            return self.create_proxy("call_module", module_qualified_name, args, kwargs)
        finally:
            self.module_stack.pop(module_qualified_name, None)

    def getattr(self, attr: str, attr_val: Any, parameter_proxy_cache: dict) -> Any:
        """``module.attr`` while tracing: parameters (and buffers) become get_attr Proxies,
        one per name for the whole trace; anything else is returned as it is."""
        from ember._tensor import Tensor
        from ember.nn import Parameter
        if isinstance(attr_val, Parameter):
            candidates = self.root.named_parameters()
        elif self.proxy_buffer_attributes and isinstance(attr_val, Tensor):
            candidates = self.root.named_buffers()
        else:
            return attr_val
        for n, p in candidates:
            if p is attr_val:
                if n not in parameter_proxy_cache:
                    factory = None
                    if self.param_shapes_constant and isinstance(attr_val, Parameter):
                        def factory(node, n=n):
                            return ParameterProxy(self, node, n, attr_val)
                    parameter_proxy_cache[n] = self.create_proxy("get_attr", n, (), {},
                                                                 proxy_factory_fn=factory)
                return parameter_proxy_cache[n]
        return attr_val

    # -- tracing -----------------------------------------------------------------------------

    def create_args_for_root(self, root_fn: Callable, is_module: bool,
                             concrete_args: dict | None = None) -> tuple[Callable, list]:
        """Placeholders for the parameters of ``root_fn`` (after ``self`` for a module);
        returns the function to call (``*args``/``**kwargs`` made plain parameters) and its
        arguments."""
        sig = _resolved_signature(root_fn)
        params = list(sig.parameters.values())[1 if is_module else 0:]
        concrete_args = concrete_args or {}
        values = []
        kinds = inspect.Parameter
        for p in params:
            type_expr = None if p.annotation is inspect.Parameter.empty else p.annotation
            if p.kind in (kinds.VAR_POSITIONAL, kinds.VAR_KEYWORD):
                star = "*" if p.kind is kinds.VAR_POSITIONAL else "**"
                values.append(self.create_proxy("placeholder", star + p.name, (), {},
                                                type_expr=type_expr))
                continue
            # Through create_proxy, as every node, so that a subclass's override sees inputs.
            default = () if p.default is inspect.Parameter.empty else (p.default,)
            if p.name not in concrete_args:
                values.append(self.create_proxy("placeholder", p.name, default, {},
                                                type_expr=type_expr))
                continue
            # A specialized input stays in the signature (as ``name_1``, as PyTorch names it)
            # and asserts that it gets the value the graph was traced with.
            proxy = self.create_proxy("placeholder", f"{p.name}_1", default, {},
                                      type_expr=type_expr)
            node = proxy.node
            value = concrete_args[p.name]
            if value is PH:
                values.append(proxy)
                continue
            values.append(value)
            msg = f"{p.name} has been specialized to have value {value} but got another value"
            if value is None:
                self.create_node("call_function", _assert_is_none, (node, msg), {})
            elif not _is_tensor(value):
                import ember
                eq = self.create_node("call_function", operator.eq, (node, value), {})
                self.create_node("call_function", ember._assert, (eq, msg), {})
        return _flatten_varargs(root_fn, params), values

    def trace(self, root, concrete_args: dict | None = None) -> Graph:
        """Trace ``root`` (a Module or a function) and return the Graph; ``concrete_args``
        fixes some parameters to values (``PH`` keeps one an input)."""
        from ember.nn import Module
        if isinstance(root, Module):
            self.root = root
            fn = getattr(type(root), self.traced_func_name)
            is_module = True
        else:
            self.root = Module()
            fn = root
            is_module = False
        self.graph = Graph(tracer_cls=type(self))
        self.submodule_paths = None
        self.tensor_attrs = {}
        for prefix, m in self.root.named_modules():
            for k, v in vars(m).items():
                if _is_tensor(v):
                    self.tensor_attrs[id(v)] = f"{prefix}.{k}" if prefix else k
        root_fn, args = self.create_args_for_root(fn, is_module, concrete_args)
        if is_module:
            args = [root] + args
        global _traces_running
        patcher = _Patcher()
        self._patcher = patcher
        self._patched_globals = set()
        _traces_running += 1
        try:
            self._patch(patcher, fn)
            result = root_fn(*args)
            ret = _resolved_signature(fn).return_annotation
            self.create_node("output", "output", (self.create_arg(result),), {},
                             type_expr=None if ret is inspect.Signature.empty else ret)
        finally:
            patcher.restore()
            _traces_running -= 1
            self._patcher = None
        self.submodule_paths = None
        return self.graph

    def _patch(self, patcher: _Patcher, fn: Callable) -> None:
        """Install the stand-ins of NOTE [ Interception while tracing ]."""
        from ember._tensor import Tensor
        from ember.fx._names import namespace_functions, unwrapped_chain
        from ember.nn import Module
        tracer = self
        orig_call = Module.__call__
        orig_getattr = Module.__getattr__
        cache: dict[str, Proxy] = {}

        def module_call(mod, *args, **kwargs):
            def forward(*a, **k):
                return orig_call(mod, *a, **k)
            return tracer.call_module(mod, forward, args, kwargs)

        def module_getattr(mod, attr):
            return tracer.getattr(attr, orig_getattr(mod, attr), cache)
        patcher.set_many(Module, {"__call__": module_call, "__getattr__": module_getattr})
        by_module: dict[types.ModuleType, dict[str, Callable]] = {}
        self._standin_of = {}
        for module, name, f in namespace_functions():
            by_module.setdefault(module, {})[name] = standin = _recording(f)
            for layer in unwrapped_chain(f):
                self._standin_of.setdefault(id(layer), standin)
        for module, values in by_module.items():
            patcher.set_many(module, values)
        self._patch_imported_names(getattr(fn, "__globals__", None))
        seen: set[str] = set()
        for cls in Tensor.__mro__[:-1]:  # Tensor and its method mixins
            values = {}
            for name, f in vars(cls).items():
                if name in seen or not isinstance(f, types.FunctionType):
                    continue
                seen.add(name)
                if name in _TENSOR_OPERATORS:
                    values[name] = _recording(f, target=_TENSOR_OPERATORS[name])
                elif not name.startswith("_"):
                    values[name] = _recording(f, "call_method", name)
            patcher.set_many(cls, values)
        for (_, name), g in list(_wrapped_fns_to_patch.items()):
            if callable(g.get(name)):
                wrapped_functions[id(g[name])] = g[name]
                patcher.set_many(g, {name: _recording(g[name])})
        autowrap = {id(f): f for m in self._autowrap_modules for f in vars(m).values()
                    if callable(f) and not isinstance(f, type)}
        autowrap.update({id(f): f for f in self._autowrap_functions})
        fn_globals = getattr(fn, "__globals__", {})
        for namespace in [vars(m) for m in self._autowrap_modules] + [fn_globals]:
            values = {name: f for name, f in namespace.items() if id(f) in autowrap}
            for f in values.values():
                wrapped_functions[id(f)] = f
            patcher.set_many(namespace, {n: _recording(f) for n, f in values.items()})


    def _patch_imported_names(self, namespace: dict | None) -> None:
        """Intercept ember functions that traced code imported by name (``from ember import
        cat``) too: swap them in the globals of each traced forward, once per trace."""
        if namespace is None or id(namespace) in self._patched_globals:
            return
        self._patched_globals.add(id(namespace))
        standins = self._standin_of
        self._patcher.set_many(namespace, {name: standins[id(f)] for name, f in namespace.items()
                                           if id(f) in standins})


class GraphAppendingTracer(Tracer):
    """The tracer of a Proxy made without one (``Proxy(node)``): records into ``graph``, at its
    insertion point, whether or not a trace is running.

    Example::

        >>> g = ember.fx.Graph()
        >>> x = ember.fx.Proxy(g.placeholder("x"))
        >>> g.output(ember.relu(x).node)
    """

    def __init__(self, graph: Graph) -> None:
        super().__init__()
        self.graph = graph
        # Outside a trace ember's functions find a Proxy only through __torch_function__. Inside
        # one the stand-ins record, and installing would wrap them (and restore them later).
        if not _traces_running:
            from ember.overrides import _install
            _install()


def _is_tensor(v: Any) -> bool:
    from ember._tensor import Tensor
    return isinstance(v, Tensor)


def _flatten_varargs(fn: Callable, params: list) -> Callable:
    """``fn`` with ``*args``/``**kwargs`` turned into plain parameters, so that each takes one
    Proxy (PyTorch does the same); ``fn`` itself when it has neither."""
    code = fn.__code__
    extra = sum(p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
                for p in params)
    if not extra:
        return fn
    if code.co_kwonlyargcount:
        raise TraceError("tracing a function with both keyword-only parameters and "
                         "*args/**kwargs is not supported")
    flags = code.co_flags & ~(inspect.CO_VARARGS | inspect.CO_VARKEYWORDS)
    new_code = code.replace(co_flags=flags, co_argcount=code.co_argcount + extra)
    return types.FunctionType(new_code, fn.__globals__, fn.__name__, None, fn.__closure__)


def symbolic_trace(root, concrete_args: dict | None = None) -> GraphModule:
    """Trace ``root`` (a Module or a function) into a :class:`GraphModule`.

    Args:
        root: the module or function to trace.
        concrete_args: values for some parameters, fixed in the graph (their placeholders
            keep them as defaults); ``ember.fx.PH`` keeps a parameter an input.

    Example::

        >>> gm = ember.fx.symbolic_trace(ember.nn.Sequential(ember.nn.Linear(2, 2)))
        >>> print(gm.code)
    """
    tracer = Tracer()
    graph = tracer.trace(root, concrete_args)
    from ember.nn import Module
    name = type(root).__name__ if isinstance(root, Module) else root.__name__
    return GraphModule(tracer.root, graph, name)
