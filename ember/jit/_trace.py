"""``torch.jit._get_trace_graph``: a callable run once on example inputs, each ember function it
calls recorded as a node of a TorchScript-style graph (``graph.nodes()``, ``node.kind()``,
``node.scopeName()``, ``value.type().sizes()``), which is what FLOP counters walk.

NOTE [ Trace graphs ]
PyTorch's tracer records the aten operators that the dispatcher runs. ember has no dispatcher:
a TorchFunctionMode sees each public ember function and Tensor method the program calls (not
the calls those make), runs it, and records one ``aten::<name>`` node. A few Python functions
are recorded as the aten operator PyTorch's tracer shows for them, with its arguments:
convolutions as ``aten::_convolution`` (13 inputs), the norms with aten's argument order,
``interpolate`` as ``aten::upsample_<mode><n>d``, ``einsum``'s operands as one list. Functions
that PyTorch writes in Python over several aten calls (``multi_head_attention_forward``) stay
one node here. Non-tensor arguments become ``prim::Constant`` nodes and lists
``prim::ListConstruct`` nodes, as in PyTorch; tensors that no node made are graph inputs (the
example inputs, then the module's parameters and buffers) or, otherwise, constants. Scopes are
pushed and popped through ``torch._C._get_tracing_state()``, as module hooks do in PyTorch.
"""
from __future__ import annotations

from typing import Any, Callable

from ember._tensor import Tensor
from ember.overrides import TorchFunctionMode, resolve_name

__all__ = ["Graph", "Node", "Value", "TracingState"]


class _Type:
    """``Value.type()``: a TensorType with its sizes, or a scalar/list/None type."""

    def __init__(self, kind: str, tensor: Tensor | None = None, text: str | None = None) -> None:
        self._kind = kind
        self._tensor_sizes = None if tensor is None else list(tensor.shape)
        # ``torch.FloatTensor`` -> ``Float``
        self._scalar = None if tensor is None else \
            tensor.type().rpartition(".")[2].removesuffix("Tensor")
        self._text = text or kind

    def kind(self) -> str:
        return self._kind

    def sizes(self) -> list[int]:
        """The tensor's shape (a tensor type only)."""
        if self._tensor_sizes is None:
            raise RuntimeError(f"{self._text} has no sizes")
        return list(self._tensor_sizes)

    def dim(self) -> int:
        return len(self.sizes())

    def scalarType(self) -> str:  # noqa: N802 - TorchScript's name
        """``Float``, ``Long``, ...: the tensor's element type."""
        return self._scalar

    def __str__(self) -> str:
        if self._tensor_sizes is None:
            return self._text
        return f"{self._scalar}({', '.join(str(d) for d in self._tensor_sizes)})"

    __repr__ = __str__


def _constant_type(value: Any) -> _Type:
    if value is None:
        return _Type("NoneType")
    for kind, text, cls in (("BoolType", "bool", bool), ("IntType", "int", int),
                            ("FloatType", "float", float), ("StringType", "str", str)):
        if isinstance(value, cls):
            return _Type(kind, text=text)
    return _Type("AnyType", text=type(value).__name__)


class Value:
    """A graph value: a node's output or a graph input."""

    def __init__(self, graph: Graph, node: Node, type_: _Type, constant: Any = None) -> None:
        self._node = node
        self._type = type_
        self._constant = constant
        self._name = str(graph._next_name())

    def node(self) -> Node:
        """The node that produces this value (``prim::Param`` for a graph input)."""
        return self._node

    def type(self) -> _Type:
        return self._type

    def isCompleteTensor(self) -> bool:  # noqa: N802 - TorchScript's name
        """Whether this is a tensor of known sizes (every tensor ember records)."""
        return self._type.kind() == "TensorType"

    def toIValue(self) -> Any:  # noqa: N802 - TorchScript's name
        """The Python value of a ``prim::Constant``, else None (a list's elements are its
        ``prim::ListConstruct`` node's inputs)."""
        return self._constant if self._node.kind() == "prim::Constant" else None

    def debugName(self) -> str:  # noqa: N802 - TorchScript's name
        return self._name

    def __repr__(self) -> str:
        return f"%{self._name} : {self._type}"


class Node:
    """One recorded call: its kind (``aten::linear``), inputs, outputs and module scope."""

    def __init__(self, kind: str, inputs: list[Value], scope: str) -> None:
        self._kind = kind
        self._inputs = inputs
        self._outputs: list[Value] = []
        self._scope = scope

    def kind(self) -> str:
        return self._kind

    def scopeName(self) -> str:  # noqa: N802 - TorchScript's name
        """The pushed scope names joined by ``/`` (``/0`` under a root scope ``""``)."""
        return self._scope

    def inputs(self) -> list[Value]:
        return list(self._inputs)

    def outputs(self) -> list[Value]:
        return list(self._outputs)

    def output(self) -> Value:
        if len(self._outputs) != 1:
            raise RuntimeError(f"{self._kind} has {len(self._outputs)} outputs, not one")
        return self._outputs[0]

    def inputsSize(self) -> int:  # noqa: N802 - TorchScript's name
        return len(self._inputs)

    def outputsSize(self) -> int:  # noqa: N802 - TorchScript's name
        return len(self._outputs)

    def __str__(self) -> str:
        outs = ", ".join(repr(v) for v in self._outputs)
        ins = ", ".join(f"%{v.debugName()}" for v in self._inputs)
        constant = self._outputs[0]._constant if self._kind == "prim::Constant" else None
        attr = f"[value={constant!r}]" if constant is not None else ""
        return f"{outs} = {self._kind}{attr}({ins}), scope: {self._scope}"


class Graph:
    """The recorded program: ``inputs()``, ``nodes()`` in execution order, ``outputs()``."""

    def __init__(self) -> None:
        self._inputs: list[Value] = []
        self._nodes: list[Node] = []
        self._outputs: list[Value] = []
        self._count = 0

    def _next_name(self) -> int:
        self._count += 1
        return self._count

    def inputs(self) -> list[Value]:
        return list(self._inputs)

    def nodes(self) -> list[Node]:
        return list(self._nodes)

    def outputs(self) -> list[Value]:
        return list(self._outputs)

    def __str__(self) -> str:
        params = ",\n      ".join(repr(v) for v in self._inputs)
        body = "".join(f"  {node}\n" for node in self._nodes)
        returns = ", ".join(f"%{v.debugName()}" for v in self._outputs)
        return f"graph({params}):\n{body}  return ({returns})\n"


# ------------------------------------------------------------------------------------------------
# Calls recorded as the aten operator PyTorch's tracer shows (see NOTE [ Trace graphs ])

def _dims(value: Any, rank: int) -> list:
    return list(value) if isinstance(value, (tuple, list)) else [value] * rank


def _convolution(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    rank = weight.ndim - 2
    padding = padding if isinstance(padding, str) else _dims(padding, rank)
    return "aten::_convolution", [input, weight, bias, _dims(stride, rank), padding,
                                  _dims(dilation, rank), False, [0] * rank, groups, False,
                                  False, True, True]


def _transposed_convolution(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                            groups=1, dilation=1):
    rank = weight.ndim - 2
    return "aten::_convolution", [input, weight, bias, _dims(stride, rank), _dims(padding, rank),
                                  _dims(dilation, rank), True, _dims(output_padding, rank),
                                  groups, False, False, True, True]


def _batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
                momentum=0.1, eps=1e-5):
    return "aten::batch_norm", [input, weight, bias, running_mean, running_var, training,
                                momentum, eps, True]


def _instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                   use_input_stats=True, momentum=0.1, eps=1e-5):
    return "aten::instance_norm", [input, weight, bias, running_mean, running_var,
                                   use_input_stats, momentum, eps, True]


def _layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    return "aten::layer_norm", [input, list(normalized_shape), weight, bias, eps, True]


def _group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    return "aten::group_norm", [input, num_groups, weight, bias, eps, True]


_UPSAMPLE = {"nearest": "upsample_nearest", "nearest-exact": "_upsample_nearest_exact",
             "linear": "upsample_linear", "bilinear": "upsample_bilinear",
             "bicubic": "upsample_bicubic", "trilinear": "upsample_trilinear"}


def _interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None, antialias=False):
    rank = input.ndim - 2
    if mode == "area":
        return f"aten::adaptive_avg_pool{rank}d", [input, _dims(size, rank)]
    scales = None if scale_factor is None else [float(s) for s in _dims(scale_factor, rank)]
    size = None if size is None else _dims(size, rank)
    if mode in ("nearest", "nearest-exact"):
        return f"aten::{_UPSAMPLE[mode]}{rank}d", [input, size, scales]
    return f"aten::{_UPSAMPLE[mode]}{rank}d", [input, size, bool(align_corners), scales]


def _einsum(equation, *operands):
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = operands[0]
    return "aten::einsum", [equation, list(operands), None]


def _index_kind(index) -> str:
    items = index if isinstance(index, tuple) else (index,)
    if any(isinstance(i, (Tensor, list)) for i in items):
        return "index"
    if any(isinstance(i, slice) or i is Ellipsis for i in items):
        return "slice"
    return "select" if any(isinstance(i, int) for i in items) else "unsqueeze"


def _getitem(self, index):
    """One node for the slice/select/index/unsqueeze chain PyTorch records."""
    items = index if isinstance(index, tuple) else (index,)
    return f"aten::{_index_kind(index)}", [self, *items]


def _setitem(self, index, value):
    kind = "index_put_" if _index_kind(index) == "index" else "copy_"
    items = index if isinstance(index, tuple) else (index,)
    return f"aten::{kind}", [self, *items, value]


_ATEN_CALLS: dict[str, Callable] = {
    "torch.Tensor.__getitem__": _getitem,
    "torch.Tensor.__setitem__": _setitem,
    **{f"torch.conv{n}d": _convolution for n in (1, 2, 3)},
    **{f"torch.conv_transpose{n}d": _transposed_convolution for n in (1, 2, 3)},
    "torch.nn.functional.batch_norm": _batch_norm,
    "torch.nn.functional.instance_norm": _instance_norm,
    "torch.nn.functional.layer_norm": _layer_norm,
    "torch.nn.functional.group_norm": _group_norm,
    "torch.nn.functional.interpolate": _interpolate,
    "torch.nn.functional.upsample": _interpolate,
    "torch.einsum": _einsum,
}


# ------------------------------------------------------------------------------------------------
# The tracer

class TracingState(TorchFunctionMode):
    """``torch._C._get_tracing_state()`` while a trace runs: records calls into ``graph`` and
    keeps the scope stack that ``push_scope``/``pop_scope`` move."""

    def __init__(self) -> None:
        self.graph = Graph()
        self._values: dict[int, Value] = {}
        self._keep: list = []  # the traced tensors, alive so that their ids stay theirs
        self._scopes: list[str] = []

    def push_scope(self, name: str) -> None:
        self._scopes.append(name)

    def pop_scope(self) -> None:
        self._scopes.pop()

    def current_scope(self) -> str:
        return "/".join(self._scopes)

    def add_input(self, tensor: Tensor) -> None:
        """Make ``tensor`` a graph input (once)."""
        if id(tensor) not in self._values:
            node = Node("prim::Param", [], "")
            self._bind(tensor, Value(self.graph, node, _Type("TensorType", tensor)))
            self.graph._inputs.append(self._values[id(tensor)])

    def _bind(self, tensor: Tensor, value: Value) -> None:
        self._values[id(tensor)] = value
        self._keep.append(tensor)

    def _node(self, kind: str, inputs: list[Value]) -> Node:
        node = Node(kind, inputs, self.current_scope())
        self.graph._nodes.append(node)
        return node

    def _constant(self, value: Any) -> Value:
        node = self._node("prim::Constant", [])
        type_ = _Type("TensorType", value) if isinstance(value, Tensor) else \
            _constant_type(value)
        node._outputs.append(Value(self.graph, node, type_, value))
        return node._outputs[0]

    def value_of(self, arg: Any) -> Value:
        """The graph value of an argument: a traced tensor's value, a list's
        ``prim::ListConstruct``, or a new constant."""
        if isinstance(arg, Tensor):
            value = self._values.get(id(arg))
            if value is None:  # a tensor no node made and no input: PyTorch bakes it in
                value = self._constant(arg)
                self._bind(arg, value)
            return value
        if isinstance(arg, (list, tuple)):
            items = [self.value_of(a) for a in arg]
            node = self._node("prim::ListConstruct", items)
            kinds = {v.type().kind() for v in items}
            text = f"{items[0].type()}[]" if len(kinds) == 1 and items[0].type().kind() != \
                "TensorType" else "Tensor[]" if kinds == {"TensorType"} else "list"
            node._outputs.append(Value(self.graph, node, _Type("ListType", text=text)))
            return node._outputs[0]
        return self._constant(arg)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        tensors = [a for a in args if isinstance(a, Tensor)]
        versions = [t._version for t in tensors]
        result = func(*args, **kwargs)
        outs = _tensors(result)
        mutated = any(t._version != v for t, v in zip(tensors, versions))
        if not outs and not mutated:  # sizes, dims, Python numbers: nothing to record
            return result
        name = resolve_name(func) or getattr(func, "__name__", "")
        signature = _ATEN_CALLS.get(name)
        if signature is not None:
            kind, inputs = signature(*args, **kwargs)
        else:
            from ember.export._ops import aten_name  # (ember.export loads on first use)
            mutates_self = bool(tensors) and args[0] is tensors[0] and \
                tensors[0]._version != versions[0]
            kind = "aten::" + aten_name(name, mutates_self, kwargs)
            # (``inplace`` picks the op, as the ``_`` of ``relu_`` says; it is no argument)
            inputs = [*args, *(v for k, v in kwargs.items() if k != "inplace")]
        node = self._node(kind, [self.value_of(a) for a in inputs])
        for t in outs:
            value = Value(self.graph, node, _Type("TensorType", t))
            node._outputs.append(value)
            self._bind(t, value)
        return result


def _tensors(tree: Any) -> list[Tensor]:
    if isinstance(tree, Tensor):
        return [tree]
    if isinstance(tree, (list, tuple)):
        return [t for item in tree for t in _tensors(item)]
    if isinstance(tree, dict):
        return [t for item in tree.values() for t in _tensors(item)]
    return []


_state: list[TracingState] = []  # the active trace, if any


def get_tracing_state() -> TracingState | None:
    """The active trace's state, None when not tracing."""
    return _state[-1] if _state else None


def _get_trace_graph(f: Callable, args=(), kwargs=None, strict: bool = True,
                     _force_outplace: bool = False, return_inputs: bool = False,
                     _return_inputs_states: bool = False):
    """Run ``f(*args, **kwargs)`` once and return ``(graph, outputs)``: the graph of the calls
    it made (see NOTE [ Trace graphs ]), its inputs the tensors of ``args`` and, for a module,
    its parameters and buffers.

    Example::

        >>> graph, out = torch.jit._get_trace_graph(torch.nn.Linear(3, 2), torch.ones(1, 3))
        >>> [node.kind() for node in graph.nodes()][-1]
        'aten::linear'
    """
    from ember.nn import Module
    args = args if isinstance(args, tuple) else (args,)
    kwargs = kwargs or {}
    state = TracingState()
    for t in _tensors((args, kwargs)):
        state.add_input(t)
    if isinstance(f, Module):
        for t in f.state_dict(keep_vars=True).values():
            state.add_input(t)
    _state.append(state)
    try:
        with state:
            outputs = f(*args, **kwargs)
    finally:
        _state.pop()
    state.graph._outputs = [state.value_of(t) for t in _tensors(outputs)]
    state._values.clear()
    state._keep.clear()
    if return_inputs:
        return state.graph, outputs, args
    return state.graph, outputs
