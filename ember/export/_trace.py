"""The tracer behind ``export``: a TorchFunctionMode that runs the module on the real example
inputs and records each ember function and Tensor method it calls as an aten node.

NOTE [ Export tracing ]
Every value the program computes from its inputs, parameters and buffers is a real tensor;
the tracer maps each one (by ``id``, keeping them all alive while tracing) to the graph node
that computes it. A call whose arguments hold a traced tensor or symbolic size (or that makes
a tensor from nothing, like ``ember.ones``) is run and recorded; any other tensor that reaches
a recorded call is a constant and becomes a lifted input (``c_...``). In-place ops are recorded
as they are (PyTorch's training IR): the graph mutates what the program mutated, and each call
notes which arguments it mutated (their version counters moved) for ``run_decompositions``.
Python decisions on tensor data raise; decisions on sizes follow NOTE [ Sizes while exporting ]
(``_symbolic.py``). ``ember.cond`` traces both branches into subgraphs, each in its own scope:
a value from an enclosing scope becomes an extra input of the branch.
"""
from __future__ import annotations

import contextlib
import functools
import operator
from typing import Any

from ember._tensor import Size, Tensor
from ember.export import _shapes
from ember.export._errors import GuardOnDataDependentSymNode, Unsupported, UserError, UserErrorType
from ember.export._ops import assert_scalar_op, aten_name, cond_op, op_for, overload_name
from ember.export._symbolic import (
    Expr,
    SymBool,
    SymInt,
    ValueRanges,
    _SymValue,
    as_expr,
    combine,
    const,
    int_oo,
    sym_class,
)
from ember.fx.graph import Graph
from ember.fx.graph_module import GraphModule
from ember.fx.node import Node
from ember.overrides import TorchFunctionMode, resolve_name

__all__ = ["ExportTracer", "TensorMeta"]

_DTYPE_ABBR = {"float32": "f32", "float64": "f64", "float16": "f16", "bfloat16": "bf16",
               "int64": "i64", "int32": "i32", "int16": "i16", "int8": "i8", "uint8": "u8",
               "bool": "b8", "complex64": "c64", "complex128": "c128"}
# Tensor methods that answer from metadata: never recorded, never data-dependent.
_METADATA = {"dim", "ndimension", "is_floating_point", "is_complex", "is_signed", "stride",
             "is_contiguous", "element_size", "get_device", "data_ptr", "storage_offset",
             "type", "is_same_size", "has_names", "is_inference", "is_pinned", "is_shared",
             "is_set_to", "__repr__", "__str__", "__format__", "__hash__", "__dir__",
             "is_tensor", "numel", "nelement", "size", "__sizeof__", "__reduce_ex__",
             "__deepcopy__", "__array_priority__", "result_type", "can_cast", "typename"}
# Calls that need tensor data in Python.
_DATA_DEPENDENT = {"__bool__", "__int__", "__float__", "__index__", "__complex__", "tolist",
                   "numpy", "__array__", "equal", "allclose", "is_nonzero"}


# Ops whose sizes may come as varargs, by where they start: recorded as one list, as aten
# takes them.
_SIZE_VARARGS = {"view": 1, "reshape": 1, "expand": 1, "permute": 1, "repeat": 1, "tile": 1,
                 "new_zeros": 1, "new_ones": 1, "new_empty": 1, "zeros": 0, "ones": 0,
                 "empty": 0, "rand": 0, "randn": 0}


class TensorMeta:
    """``node.meta["val"]`` of a tensor node: its symbolic shape (ints and size expressions),
    dtype and device, as PyTorch's fake tensors describe a value without its data."""

    __slots__ = ("shape", "dtype", "device", "requires_grad")

    def __init__(self, shape: tuple, dtype, device, requires_grad: bool = False) -> None:
        self.shape = tuple(shape)
        self.dtype = dtype
        self.device = device
        self.requires_grad = requires_grad

    def size(self, dim: int | None = None):
        return self.shape if dim is None else self.shape[dim]

    def dim(self) -> int:
        return len(self.shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def annotation(self) -> str:
        """``f32[s0, 3]``, as PyTorch annotates printed graphs."""
        name = str(self.dtype).rpartition(".")[2]
        return f"{_DTYPE_ABBR.get(name, name)}[{', '.join(str(d) for d in self.shape)}]"

    def __repr__(self) -> str:
        return f"TensorMeta({self.annotation()}, device={self.device})"


class _Scope:
    """One graph being built: the root program or a ``cond`` branch."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.values: dict[int, Node] = {}
        self.lifted: list = []  # values of enclosing scopes this branch takes as inputs
        self.submodules: dict[str, GraphModule] = {}
        self.sizes: dict[tuple[int, int], SymInt] = {}


def _leaves(tree: Any, out: list) -> list:
    if isinstance(tree, (tuple, list)):
        for v in tree:
            _leaves(v, out)
    elif isinstance(tree, dict):
        for v in tree.values():
            _leaves(v, out)
    elif isinstance(tree, slice):
        _leaves((tree.start, tree.stop, tree.step), out)
    else:
        out.append(tree)
    return out


def _map(tree: Any, fn) -> Any:
    """``tree`` with each leaf replaced by ``fn(leaf)`` (tuples, lists, dicts, slices)."""
    if isinstance(tree, tuple):
        mapped = [_map(v, fn) for v in tree]
        return type(tree)(*mapped) if hasattr(tree, "_fields") else tuple(mapped)
    if isinstance(tree, list):
        return [_map(v, fn) for v in tree]
    if isinstance(tree, dict):
        return {k: _map(v, fn) for k, v in tree.items()}
    if isinstance(tree, slice):
        return slice(_map(tree.start, fn), _map(tree.stop, fn), _map(tree.step, fn))
    return fn(tree)


def _concrete(tree: Any) -> Any:
    return _map(tree, lambda v: v.hint if isinstance(v, _SymValue) else v)


class ExportTracer(TorchFunctionMode):
    """Records the ember calls of one ``export`` (see NOTE [ Export tracing ]).

    Args:
        ranges: each dim symbol's range (refined as the program branches on sizes).
        sources: each symbol's Dim or DimHint and where it comes from (for messages).
        attr_names: fully qualified names of the module's plain tensor attributes, by id.
        strict: raise PyTorch's strict-mode errors (``Unsupported``).
    """

    def __init__(self, ranges: dict[str, ValueRanges], sources: dict[str, tuple],
                 hints: dict[str, int], attr_names: dict[int, str], strict: bool) -> None:
        self.scopes = [_Scope(Graph())]
        self.keep: list = []
        self.ranges = ranges
        self.sources = sources
        self.hints = hints
        self.attr_names = attr_names
        self.strict = strict
        self.violations: list[tuple[str, str, str | None]] = []
        self.constants: dict[str, Tensor] = {}
        self.constant_nodes: list[Node] = []
        self._n_lifted = 0
        self.inside = 0  # > 0 while a recorded call runs (its inner calls are not recorded)
        self._n_unbacked = 0

    @property
    def scope(self) -> _Scope:
        return self.scopes[-1]

    @property
    def graph(self) -> Graph:
        return self.scope.graph

    # -- values and nodes --------------------------------------------------------------------

    def bind(self, value: Any, node: Node, shape: tuple | None = None) -> None:
        """Make ``node`` the graph value of ``value`` in the current scope."""
        self.scope.values[id(value)] = node
        self.keep.append(value)
        if isinstance(value, Tensor):
            node.meta["val"] = TensorMeta(tuple(value.shape) if shape is None else shape,
                                          value.dtype, value.device, value.requires_grad)
        else:
            node.meta["val"] = value

    def lookup(self, value: Any, level: int | None = None) -> Node | None:
        """The node of a traced value in scope ``level`` (the current one by default), made a
        branch input when it comes from an enclosing scope; None if it is not traced."""
        level = len(self.scopes) - 1 if level is None else level
        scope = self.scopes[level]
        node = scope.values.get(id(value))
        if node is not None or level == 0:
            return node
        outer = self.lookup(value, level - 1)
        if outer is None:
            return None
        node = scope.graph.placeholder(outer.name)
        node.meta = dict(outer.meta)
        scope.values[id(value)] = node
        scope.lifted.append(value)
        return node

    def to_graph(self, tree: Any) -> Any:
        """``tree`` with traced values replaced by their nodes (other tensors lifted)."""
        def convert(v):
            if isinstance(v, (Tensor, _SymValue)):
                node = self.lookup(v)
                if node is None:
                    if isinstance(v, _SymValue):
                        raise RuntimeError(f"symbolic value {v} from another export")
                    self.lift_constant(v)
                    node = self.lookup(v)
                return node
            return v
        return _map(tree, convert)

    def lift_constant(self, t: Tensor) -> None:
        """Make an untraced tensor a lifted constant input of the root graph."""
        root = self.scopes[0]
        fqn = self.attr_names.get(id(t))
        if fqn is None:
            fqn = f"lifted_tensor_{self._n_lifted}"
            self._n_lifted += 1
        node = root.graph.placeholder("c_" + fqn.replace(".", "_"))
        root.values[id(t)] = node
        self.keep.append(t)
        node.meta["val"] = TensorMeta(tuple(t.shape), t.dtype, t.device)
        node.meta["constant_target"] = fqn
        self.constants[fqn] = t
        self.constant_nodes.append(node)

    def unbacked(self) -> Expr:
        """A new data-dependent size (``u0``, ``u1``, ... per export, as PyTorch names them)."""
        self._n_unbacked += 1
        return Expr.unbacked(self._n_unbacked - 1)

    def release(self) -> None:
        """Drop the traced values once the graph is built (node metadata keeps none)."""
        self.keep.clear()
        for scope in self.scopes:
            scope.values.clear()
            scope.sizes.clear()

    def traces(self, args: tuple) -> bool:
        """Whether ``args`` hold a traced tensor."""
        return any(isinstance(a, Tensor) and self.lookup(a) is not None for a in args)

    def shape_of(self, t: Tensor) -> tuple:
        node = self.lookup(t)
        return tuple(t.shape) if node is None else node.meta["val"].shape

    # -- the mode ------------------------------------------------------------------------------

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = resolve_name(func) or getattr(func, "__name__", "")
        attr = name.split(".")[-2] if name.endswith(".__get__") else name.split(".")[-1]
        tensor = args[0] if args and isinstance(args[0], Tensor) else None
        traced = tensor is not None and self.lookup(tensor) is not None
        if name == "torch.cond":
            return self.trace_cond(func, *args, **kwargs)
        if traced and name.startswith("torch.Tensor."):
            if attr == "shape":
                return self.sym_shape(tensor)
            if attr == "size":
                shape = self.sym_shape(tensor)
                dim = args[1] if len(args) > 1 else kwargs.get("dim")
                return shape if dim is None else shape[dim]
            if attr in ("numel", "nelement"):
                n: Any = 1
                for d in self.sym_shape(tensor):
                    n = n * d
                return n
            if attr == "__len__":
                return operator.index(self.sym_shape(tensor)[0]) if tensor.dim() else \
                    func(*args, **kwargs)
            if attr == "__iter__":
                return iter(self.record(Tensor.unbind, "torch.Tensor.unbind", (tensor, 0), {}))
            if attr == "item":
                return self.item(tensor)
        if attr in _DATA_DEPENDENT and any(self.lookup(t) is not None for t in _leaves(
                (args, kwargs), []) if isinstance(t, Tensor)):
            raise self.data_dependent_error(f"{attr}() of a tensor computed from the inputs")
        return self.record(func, name, args, kwargs)

    def record(self, func, name: str, args: tuple, kwargs: dict) -> Any:
        """Run ``func`` and, when its arguments are traced (or it makes a tensor from
        nothing), record it (see NOTE [ Export tracing ])."""
        leaves = _leaves((args, kwargs), [])
        tensors = [v for v in leaves if isinstance(v, Tensor)]
        symbolic = any(isinstance(v, _SymValue) for v in leaves)
        traced = symbolic or any(self.lookup(t) is not None for t in tensors)
        versions = [t._version for t in tensors]
        self.inside += 1
        try:
            result = func(*_concrete(args), **_concrete(kwargs))
        finally:
            self.inside -= 1
        outs = [v for v in _leaves(result, []) if isinstance(v, Tensor)]
        if not traced and (tensors or not outs):
            return result
        attr = name.split(".")[-2] if name.endswith(".__get__") else name.split(".")[-1]
        mutated = [t for t, v in zip(tensors, versions) if t._version != v]
        if not outs and not mutated:
            if (result is None or name.endswith(".__get__") or attr in _METADATA
                    or not isinstance(result, (bool, int, float, complex))):
                return result
            raise self.data_dependent_error(f"{name}() returned a Python value computed from "
                                            "tensor data")
        mutates_self = bool(args) and any(t is args[0] for t in mutated)
        if attr == "__getitem__":
            target, op_name = operator.getitem, "getitem"
        elif attr == "__setitem__":
            target, op_name = operator.setitem, "setitem"
        else:
            op_name = aten_name(name, mutates_self, kwargs)
            target = op_for(name, op_name, overload_name(op_name, args, kwargs))
        if op_name in _SIZE_VARARGS and len(args) > 1 + _SIZE_VARARGS[op_name] and all(
                isinstance(a, (int, _SymValue)) for a in args[_SIZE_VARARGS[op_name]:]):
            start = _SIZE_VARARGS[op_name]  # view(x, 2, 3) is recorded view(x, [2, 3])
            args = (*args[:start], list(args[start:]))
        node_args, node_kwargs = self.to_graph(args), self.to_graph(kwargs)
        mutated_nodes = [self.lookup(t) for t in mutated]
        node = self.graph.create_node("call_function", target, node_args, node_kwargs,
                                      name=op_name)
        if mutated_nodes:
            node.meta["mutated"] = mutated_nodes
        if not outs:
            node.meta["impure"] = True
            return result
        ins = [self.shape_of(t) for t in tensors]
        symbolic = symbolic or any(isinstance(d, Expr) for s in ins for d in s)
        shapes = _shapes.infer(op_name, args, kwargs, outs, ins, symbolic, self.hints,
                               self.unbacked)
        if isinstance(result, Tensor) and mutates_self and result is args[0]:
            node.meta["inplace"] = True
        self._bind_outputs(result, node, iter(shapes))
        return result

    def _bind_outputs(self, result: Any, node: Node, shapes) -> None:
        """Bind each tensor of a (nested) result to ``node`` or a getitem chain from it."""
        if isinstance(result, Tensor):
            self.bind(result, node, next(shapes))
            return
        if isinstance(result, (tuple, list)):
            for k, item in enumerate(result):
                if isinstance(item, (Tensor, tuple, list)) and _leaves(item, []):
                    item_node = self.graph.create_node("call_function", operator.getitem,
                                                       (node, k), {}, name="getitem")
                    self._bind_outputs(item, item_node, shapes)

    # -- sizes -----------------------------------------------------------------------------------

    def sym_shape(self, t: Tensor) -> Size:
        """``t.shape`` with a SymInt for each symbolic dim."""
        node = self.lookup(t)
        dims = []
        for d, (e, hint) in enumerate(zip(node.meta["val"].shape, t.shape)):
            if not isinstance(e, Expr):
                dims.append(e)
                continue
            key = (id(node), d)
            size = self.scope.sizes.get(key)
            if size is None:
                op = op_for("torch.Tensor.size", "sym_size", "int")
                size_node = self.graph.create_node("call_function", op, (node, d), {},
                                                   name="sym_size_int")
                size = self.scope.sizes[key] = SymInt(self, size_node, e, hint)
                self.bind(size, size_node)
            dims.append(size)
        return Size(dims)

    def sym_binary(self, fn, a: Any, b: Any) -> Any:
        """``fn(a, b)`` with at least one symbolic operand: a new Sym value and its node."""
        ha = a.hint if isinstance(a, _SymValue) else a
        hb = b.hint if isinstance(b, _SymValue) else b
        value = fn(ha, hb)
        op = fn.__name__.strip("_")
        if op == "sub":
            expr = combine("add", as_expr(a), combine("mul", -1, as_expr(b)))
        elif op in ("add", "mul", "floordiv", "mod"):
            expr = combine(op, as_expr(a), as_expr(b))
        else:
            expr = Expr(op, as_expr(a), as_expr(b))
        node = self.graph.create_node("call_function", fn, (self.to_graph(a),
                                                             self.to_graph(b)), {}, name=op)
        cls = SymBool if op in ("eq", "ne", "lt", "le", "gt", "ge") else sym_class(value)
        result = cls(self, node, expr, value)
        self.bind(result, node)
        return result

    def item(self, t: Tensor) -> Any:
        value = t.item()
        node = self.graph.create_node("call_function", op_for("torch.Tensor.item", "item",
                                                              "default"),
                                      (self.lookup(t),), {}, name="item")
        result = sym_class(value)(self, node, self.unbacked(), value)
        self.bind(result, node)
        return result

    def guard(self, value: _SymValue, kind: str) -> Any:
        """A Python decision on a symbolic value (``bool``, ``int``, ``index``): its value for
        the example, noted in the graph unless the symbols' ranges decide it (see NOTE
        [ Sizes while exporting ])."""
        expr = value.expr
        if expr.has("unbacked"):
            raise self.data_dependent_error(f"a decision on {expr}", expr)
        if kind == "bool" and expr.op in _DECIDE:
            cond, result, fn, rhs = expr, bool(value.hint), None, None
        elif kind == "bool":
            cond, result, fn, rhs = Expr("ne", expr, const(0)), bool(value.hint), operator.ne, 0
        else:
            cond, result = Expr("eq", expr, const(value.hint)), value.hint
            fn, rhs = operator.eq, value.hint
        if self.decide(cond) is not None:
            return result
        node = self.to_graph(value)
        if fn is not None:
            node = self.graph.create_node("call_function", fn, (node, rhs), {},
                                          name=fn.__name__)
        self.assume(cond, bool(result) if kind == "bool" else True, node)
        return result

    def decide(self, cond: Expr) -> bool | None:
        """The truth of a comparison over the symbols' whole ranges, or None if it varies."""
        a, b = cond.args
        lo, hi = combine("add", a, combine("mul", -1, b)).bounds(self.ranges)
        return _DECIDE[cond.op](lo, hi)

    def assume(self, cond: Expr, truth: bool, node: Node) -> None:
        """Record that ``cond`` (computed by ``node``) is ``truth``: a runtime assertion, a
        narrower range for an automatic dim, or a violation when the user declared the dim
        dynamic."""
        if not truth:
            node = self.graph.create_node("call_function", operator.not_, (node,), {},
                                          name="not_")
            cond = Expr(_NEGATE[cond.op], *cond.args)
        msg = f"Runtime assertion failed for expression {cond} on node '{node.name}'"
        assert_node = self.graph.create_node("call_function", assert_scalar_op, (node, msg),
                                             {}, name="_assert_scalar")
        assert_node.meta["impure"] = True
        for symbol in sorted(cond.free_symbols()):
            source, where = self.sources[symbol]
            narrowed = _narrow(cond, symbol, self.ranges[symbol])
            if getattr(source, "kind", None) == "AUTO":
                if narrowed is not None:
                    self.ranges[symbol] = narrowed
                continue
            self.violations.append((getattr(source, "__name__", where),
                                    _violation(cond, symbol, source, where,
                                               self.ranges[symbol]),
                                    _fix(source, narrowed)))

    def data_dependent_error(self, what: str, expr: Expr | None = None) -> Exception:
        if self.strict:
            return Unsupported(f"Data-dependent branching\n  Explanation: Detected "
                               f"data-dependent branching ({what}). Export does not support "
                               "tracing dynamic control flow.\n  Hint: use ember.cond to "
                               "express the branch, or make the code branchless (ember.where)")
        shown = str(expr) if expr is not None else "(the value of a tensor)"
        return GuardOnDataDependentSymNode(expr, (
            f"Could not guard on data-dependent expression {shown} (unhinted: {shown}).  "
            f"(Size-like symbols: none)\n\nCaused by: the program needs {what} in Python, "
            "which an exported graph cannot hold: express the branch with ember.cond, or make "
            "the code branchless (ember.where)."))

    # -- control flow ------------------------------------------------------------------------------

    def trace_cond(self, func, pred, true_fn, false_fn, operands=()):
        """``ember.cond``: both branches traced into subgraphs, one ``cond`` node."""
        if not isinstance(operands, (tuple, list)):
            raise RuntimeError(f"Expect operands to be a tuple or list, got {type(operands)}")
        pred_traced = isinstance(pred, _SymValue) or (isinstance(pred, Tensor)
                                                      and self.lookup(pred) is not None)
        if not pred_traced:
            with self:
                return (true_fn if bool(pred) else false_fn)(*operands)
        if isinstance(pred, Tensor) and pred.numel() != 1:
            raise RuntimeError("Expected pred to be bool or single-element tensor, but got "
                               f"{pred}.")
        for op in operands:
            if not isinstance(op, Tensor):
                raise UserError(UserErrorType.INVALID_INPUT, "cond operands must be tensors, "
                                f"got {type(op).__name__}")
        outer = self.scope
        branches = []
        for fn in (true_fn, false_fn):
            scope = _Scope(Graph())
            for i, op in enumerate(operands):
                ph = scope.graph.placeholder(f"arg{i}_1")
                ph.meta = dict(self.lookup(op).meta)
                scope.values[id(op)] = ph
            self.scopes.append(scope)
            try:
                with self:
                    out = fn(*operands)
                flat = list(out) if isinstance(out, (tuple, list)) else [out]
                scope.graph.output(tuple(self.to_graph(flat)))
            finally:
                self.scopes.pop()
            branches.append((scope, out, flat))
        lifted, seen = [], set()
        for scope, _, _ in branches:
            for v in scope.lifted:
                if id(v) not in seen:
                    seen.add(id(v))
                    lifted.append(v)
        modules = []
        for (scope, _, _), kind in zip(branches, ("true", "false")):
            self.scopes.append(scope)
            try:
                extra = [self.lookup(v) for v in lifted]
            finally:
                self.scopes.pop()
            reorder_placeholders(scope.graph, [scope.values[id(op)] for op in operands]
                                 + extra)
            name = f"{kind}_graph_{sum(k.startswith(kind) for k in outer.submodules)}"
            outer.submodules[name] = GraphModule(scope.submodules, scope.graph, name)
            modules.append(self.graph.get_attr(name))
        pred_value = pred.hint if isinstance(pred, _SymValue) else bool(pred)
        _, out, flat = branches[0] if pred_value else branches[1]
        node = self.graph.create_node(
            "call_function", cond_op,
            (self.to_graph(pred), modules[0], modules[1],
             tuple(self.to_graph(list(operands) + lifted))), {}, name="cond")
        chosen = branches[0][0] if pred_value else branches[1][0]
        for k, item in enumerate(flat):
            if isinstance(item, Tensor):
                item_node = self.graph.create_node("call_function", operator.getitem,
                                                   (node, k), {}, name="getitem")
                self.bind(item, item_node, chosen.values[id(item)].meta["val"].shape)
        return out


_NEGATE = {"eq": "ne", "ne": "eq", "lt": "ge", "le": "gt", "gt": "le", "ge": "lt"}
_DECIDE = {
    "eq": lambda lo, hi: True if lo == hi == 0 else False if lo > 0 or hi < 0 else None,
    "ne": lambda lo, hi: False if lo == hi == 0 else True if lo > 0 or hi < 0 else None,
    "lt": lambda lo, hi: True if hi < 0 else False if lo >= 0 else None,
    "le": lambda lo, hi: True if hi <= 0 else False if lo > 0 else None,
    "gt": lambda lo, hi: True if lo > 0 else False if hi <= 0 else None,
    "ge": lambda lo, hi: True if lo >= 0 else False if hi < 0 else None,
}


def _narrow(cond: Expr, symbol: str, vr: ValueRanges) -> ValueRanges | None:
    """The range of ``symbol`` under ``cond`` when ``cond`` compares the bare symbol with a
    constant, else None."""
    a, b = cond.args
    if a != Expr.symbol(symbol):
        if b == Expr.symbol(symbol) and a.op == "const":
            flipped = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le", "eq": "eq", "ne": "ne"}
            return _narrow(Expr(flipped[cond.op], b, a), symbol, vr)
        return None
    if b.op != "const":
        return None
    c = b.args[0]
    lo, hi = vr.lower, vr.upper
    bounds = {"eq": (c, c), "lt": (lo, min(hi, c - 1)), "le": (lo, min(hi, c)),
              "gt": (max(lo, c + 1), hi), "ge": (max(lo, c), hi)}
    if cond.op not in bounds:
        return None
    return ValueRanges(*bounds[cond.op])


def _violation(cond: Expr, symbol: str, source: Any, where: str, vr: ValueRanges) -> str:
    name = getattr(source, "__name__", where)
    if cond.op == "eq" and cond.args[1].op == "const" and cond.args[0] == Expr.symbol(symbol):
        return (f"You marked {name} as dynamic but your code specialized it to be a constant "
                f"({cond.args[1].args[0]}). If you're using Dim.DYNAMIC, replace it with "
                "either Dim.STATIC or Dim.AUTO.")
    upper = "int_oo" if vr.upper == int_oo else vr.upper
    return (f"Not all values of {name} = {where} in the specified range {vr.lower} <= {name} "
            f"<= {upper} satisfy the generated guard {cond}.")


def _fix(source: Any, narrowed: ValueRanges | None) -> str | None:
    if narrowed is None or not hasattr(source, "__name__"):
        return None
    name = source.__name__
    if narrowed.lower == narrowed.upper:
        return f"{name} = {narrowed.lower}"
    parts = [repr(name)]
    if narrowed.lower > 2:
        parts.append(f"min={narrowed.lower}")
    if narrowed.upper != int_oo:
        parts.append(f"max={narrowed.upper}")
    return f"{name} = Dim({', '.join(parts)})"


@contextlib.contextmanager
def watching_primitives(tracer: ExportTracer):
    """Record ember's autograd primitives applied to traced tensors outside a recorded call:
    code that reaches them without a public function (a function imported before dispatch
    was installed, say) is recorded at that level instead of being lost (see NOTE [ Export
    tracing ]). The patch lasts for the trace only."""
    from ember.autograd.function import Function, Primitive
    saved = {cls: cls.__dict__["apply"] for cls in (Function, Primitive)}

    def patched(impl):
        def apply(cls, *args, **kwargs):
            if tracer.inside or not cls.__module__.startswith("ember.") or \
                    not tracer.traces(args):
                return impl(cls, *args, **kwargs)
            if any(hasattr(a, "__array__") and not isinstance(a, Tensor) for a in args):
                raise UserError(UserErrorType.ANTI_PATTERN, (
                    f"export cannot record {cls.__qualname__}: ember code applied it to a "
                    "traced tensor and raw arrays outside ember's public functions (call "
                    "the public function instead)"))
            return tracer.record(functools.partial(impl, cls),
                                 f"prim:{cls.__module__}.{cls.__qualname__}", args, kwargs)
        return classmethod(apply)
    for cls, orig in saved.items():
        cls.apply = patched(orig.__func__)
    try:
        yield
    finally:
        for cls, orig in saved.items():
            cls.apply = orig


@contextlib.contextmanager
def dispatching_names(mod) -> Any:
    """Make ember functions that the module tree's code captured before dispatch was
    installed (``_fn = staticmethod(F.max_pool2d)`` in a class, ``from ember import cat`` in
    a module) the dispatching ones for the trace, so that the tracer sees their calls (as
    ``ember.fx``'s tracer patches imported names)."""
    from ember.fx._symbolic_trace import _Patcher
    from ember.nn import Module
    from ember.overrides import _install, _wrapped
    _install()
    wrapper_of = {id(impl): wrapper for wrapper, impl in _wrapped.items()}
    patcher = _Patcher()
    seen: set[int] = set()
    for m in mod.modules():
        for klass in type(m).__mro__:
            if klass is Module or id(klass) in seen or klass is object:
                continue
            seen.add(id(klass))
            values = {}
            for name, value in vars(klass).items():
                fn = value.__func__ if isinstance(value, staticmethod) else value
                if id(fn) in wrapper_of:
                    wrapper = wrapper_of[id(fn)]
                    values[name] = staticmethod(wrapper) if isinstance(
                        value, staticmethod) else wrapper
            patcher.set_many(klass, values)
            namespace = getattr(vars(klass).get("forward"), "__globals__", None)
            if namespace is not None and id(namespace) not in seen:
                seen.add(id(namespace))
                patcher.set_many(namespace, {name: wrapper_of[id(v)] for name, v in
                                             namespace.items() if id(v) in wrapper_of})
    try:
        yield
    finally:
        patcher.restore()


def reorder_placeholders(graph: Graph, order: list[Node]) -> None:
    """Put these placeholders first, in this order (they have no inputs, so moving them up
    keeps the graph valid)."""
    anchor = next((n for n in graph.nodes if n.op != "placeholder" or n not in order), None)
    if anchor is None:
        return
    for node in order:
        if node is not anchor:
            anchor.prepend(node)
