"""``torch.fx.Proxy``: the value that flows through a function while it is traced.

Every operator, attribute access and method call on a Proxy records a Node in the tracer's
graph and returns a new Proxy; what a Proxy cannot answer while tracing (its truth value, its
length, its elements) raises, as in PyTorch.
"""
from __future__ import annotations

import dis
import inspect
import operator
from typing import Any

from ember.fx.node import Node

__all__ = ["Proxy", "Attribute", "TraceError", "ParameterProxy"]


class TraceError(ValueError):
    """A traced program did something that tracing cannot record (control flow on a Proxy)."""


class Proxy:
    """Stands for the value of ``node`` while a function is traced.

    Example::

        >>> gm = ember.fx.symbolic_trace(lambda x: x.relu() + 1)   # x was a Proxy
    """

    def __init__(self, node: Node, tracer=None) -> None:
        if tracer is None:
            # ``Proxy(graph.placeholder("x"))``: ops on it append to the node's graph, and
            # outside a trace ember's functions reach it through ``__torch_function__``.
            from ember.fx._symbolic_trace import GraphAppendingTracer
            tracer = GraphAppendingTracer(node.graph)
        self.tracer = tracer
        self.node = node

    def __repr__(self) -> str:
        return f"Proxy({self.node.name})"

    def __getattr__(self, k: str) -> "Attribute":
        if k.startswith("__") and k.endswith("__"):
            raise AttributeError(k)  # copy/pickle/inspect probes are not tensor attributes
        return Attribute(self, k)

    def __call__(self, *args, **kwargs) -> "Proxy":
        return self.tracer.create_proxy("call_method", "__call__", (self,) + args, kwargs)

    def __iter__(self):
        # ``a, b = proxy`` is allowed: the calling bytecode says how many elements it unpacks.
        frame = inspect.currentframe().f_back
        for inst in dis.get_instructions(frame.f_code):
            if inst.offset == frame.f_lasti:
                if inst.opname == "UNPACK_SEQUENCE":
                    return (self[i] for i in range(inst.argval))
                break
        return self.tracer.iter(self)

    def __bool__(self) -> bool:
        return self.tracer.to_bool(self)

    def __len__(self) -> int:
        raise RuntimeError("'len' is not supported in symbolic tracing by default. If you want "
                           "this call to be recorded, please call torch.fx.wrap('len') at "
                           "module scope")

    def keys(self):
        return self.tracer.keys(self)

    __hash__ = object.__hash__

    def _op(self, fn, *args) -> "Proxy":
        return self.tracer.create_proxy("call_function", fn, args, {})

    # The operators a Tensor has, each recorded as a call of its ``operator`` function.
    def __add__(self, other): return self._op(operator.add, self, other)
    def __sub__(self, other): return self._op(operator.sub, self, other)
    def __mul__(self, other): return self._op(operator.mul, self, other)
    def __truediv__(self, other): return self._op(operator.truediv, self, other)
    def __floordiv__(self, other): return self._op(operator.floordiv, self, other)
    def __mod__(self, other): return self._op(operator.mod, self, other)
    def __pow__(self, other): return self._op(operator.pow, self, other)
    def __matmul__(self, other): return self._op(operator.matmul, self, other)
    def __lshift__(self, other): return self._op(operator.lshift, self, other)
    def __rshift__(self, other): return self._op(operator.rshift, self, other)
    def __and__(self, other): return self._op(operator.and_, self, other)
    def __or__(self, other): return self._op(operator.or_, self, other)
    def __xor__(self, other): return self._op(operator.xor, self, other)
    def __eq__(self, other): return self._op(operator.eq, self, other)
    def __ne__(self, other): return self._op(operator.ne, self, other)
    def __lt__(self, other): return self._op(operator.lt, self, other)
    def __le__(self, other): return self._op(operator.le, self, other)
    def __gt__(self, other): return self._op(operator.gt, self, other)
    def __ge__(self, other): return self._op(operator.ge, self, other)
    def __getitem__(self, idx): return self._op(operator.getitem, self, idx)
    def __radd__(self, other): return self._op(operator.add, other, self)
    def __rsub__(self, other): return self._op(operator.sub, other, self)
    def __rmul__(self, other): return self._op(operator.mul, other, self)
    def __rtruediv__(self, other): return self._op(operator.truediv, other, self)
    def __rfloordiv__(self, other): return self._op(operator.floordiv, other, self)
    def __rmod__(self, other): return self._op(operator.mod, other, self)
    def __rpow__(self, other): return self._op(operator.pow, other, self)
    def __rmatmul__(self, other): return self._op(operator.matmul, other, self)
    def __rlshift__(self, other): return self._op(operator.lshift, other, self)
    def __rrshift__(self, other): return self._op(operator.rshift, other, self)
    def __rand__(self, other): return self._op(operator.and_, other, self)
    def __ror__(self, other): return self._op(operator.or_, other, self)
    def __rxor__(self, other): return self._op(operator.xor, other, self)
    def __neg__(self): return self._op(operator.neg, self)
    def __pos__(self): return self._op(operator.pos, self)
    def __invert__(self): return self._op(operator.invert, self)
    def __abs__(self): return self._op(operator.abs, self)


def _proxy_torch_function(cls, func, types, args=(), kwargs=None) -> Proxy:
    """``Proxy.__torch_function__``: record a call of an ember function or Tensor method that
    got a Proxy argument (while ``symbolic_trace`` runs, its stand-ins record them first)."""
    from ember.overrides import _names
    kwargs = kwargs or {}
    proxy = _find_proxy(args)
    if proxy is None:
        proxy = _find_proxy(kwargs)
    name = _names.get(func, "")
    if name.startswith("torch.Tensor."):
        return proxy.tracer.create_proxy("call_method", name.split(".")[2], args, kwargs)
    return proxy.tracer.create_proxy("call_function", func, args, kwargs)


# Set after the class statement so that importing ember.fx does not install ember.overrides'
# dispatch (a cost on every op); GraphAppendingTracer installs it when a Proxy needs it.
Proxy.__torch_function__ = classmethod(_proxy_torch_function)


class Attribute(Proxy):
    """``proxy.attr``: becomes a ``call_method`` node when called, else (on first use) a
    ``getattr`` call_function node."""

    def __init__(self, root: Proxy, attr: str) -> None:
        self.root = root
        self.attr = attr
        self.tracer = root.tracer
        self._node: Node | None = None

    @property
    def node(self) -> Node:
        if self._node is None:
            self._node = self.tracer.create_proxy("call_function", getattr,
                                                  (self.root, self.attr), {}).node
        return self._node

    def __call__(self, *args, **kwargs) -> Proxy:
        return self.tracer.create_proxy("call_method", self.attr, (self.root,) + args, kwargs)


class ParameterProxy(Proxy):
    """A Proxy for a parameter that also answers its static shape questions."""

    def __init__(self, tracer, node: Node, name: str, param) -> None:
        super().__init__(node, tracer)
        self.param = param
        self.name = name

    @property
    def shape(self):
        return self.param.shape

    def size(self, dim: int | None = None):
        return self.param.size() if dim is None else self.param.size(dim)

    def dim(self) -> int:
        return self.param.dim()

    @property
    def ndim(self) -> int:
        return self.param.ndim

    def numel(self) -> int:
        return self.param.numel()

    def nelement(self) -> int:
        return self.param.nelement()


def __getattr__(name: str):
    if name == "GraphAppendingTracer":  # PyTorch's home of it; defined beside Tracer
        from ember.fx._symbolic_trace import GraphAppendingTracer
        return GraphAppendingTracer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _find_proxy(args: Any) -> Proxy | None:
    """The first Proxy inside nested tuples/lists/dicts, or None."""
    if isinstance(args, Proxy):
        return args
    if isinstance(args, (tuple, list)):
        for a in args:
            found = _find_proxy(a)
            if found is not None:
                return found
    elif isinstance(args, dict):
        for a in args.values():
            found = _find_proxy(a)
            if found is not None:
                return found
    elif isinstance(args, slice):
        return _find_proxy((args.start, args.stop, args.step))
    return None
