"""Graph nodes (``grad_fn``) and the Function API shared by built-in ops and user extensions.

A ``Function`` subclass defines ``forward`` and ``backward``; ``apply`` runs the forward and, when
grad mode is on and an input requires grad, records one node of the class's backward type (named
like PyTorch's, e.g. ``MulBackward0``). That node is also the ``ctx`` the two methods receive.
Built-in ops subclass ``Primitive``: their forward takes and returns raw arrays, their backward
takes and returns Tensors, so backward formulas are differentiable (higher-order gradients).
"""
from __future__ import annotations

import functools
import itertools
import numbers
import re
import warnings
import weakref
from sys import getrefcount as _getrefcount
from typing import Any, NamedTuple

from ember import dtypes as _dt
from ember.autograd.anomaly_mode import _State as _anomaly_state
from ember.autograd.anomaly_mode import record_trace as _record_trace
from ember.autograd.grad_mode import _State, no_grad
from ember.backend.device import get_array_module, zeros_as


class _AutocastFlag:
    on = False  # set by ember.amp while an autocast context is active
    cast_args = None  # ember.amp's ``cast_args(cls, args)``, bound when it first turns ``on``


class _DispatchFlag:
    on = False  # set by ember._dispatch while some thread has a TorchDispatchMode active
    run = None  # ember._dispatch's ``run(cls, args)``, bound when it first turns ``on``


# Bound by ember._tensor once Tensor exists (it imports this package first).
Tensor = None
_make = None


def _bind_tensor(tensor_cls, make) -> None:
    global Tensor, _make
    Tensor, _make = tensor_cls, make

_UNHANDLED = object()  # ``_DispatchFlag.run``'s answer when no mode of this thread takes the op
_next_seq = itertools.count().__next__  # creation order: the engine runs later nodes first
_Number = numbers.Number
_PY_NUMBERS = frozenset((int, float, bool, complex))  # skip the slow ABC check for these

_FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you "
    "call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward "
    "through the graph a second time or if you need to access saved tensors after calling "
    "backward.")


class Node:
    """A node of the backward graph: what a non-leaf tensor's ``grad_fn`` points to."""

    __slots__ = ("next_functions", "_seq", "_saved", "_input_meta", "__dict__", "__weakref__")
    # Rarely set; class-level defaults keep node creation cheap.
    _hooked = False  # any hook registered: the engine then looks at the three kinds below
    _tensor_hooks = None
    _pre_hooks = None
    _post_hooks = None
    _anomaly_trace = None
    _metadata = None
    _out_meta = None  # per-output (shape, dtype, xp) of multi-output nodes

    def __init__(self):
        self._seq = _next_seq()
        self.next_functions = ()
        self._saved = None
        self._input_meta = None

    def name(self) -> str:
        return type(self).__name__

    def apply(self, *grad_outputs):
        raise NotImplementedError

    def __call__(self, *grad_outputs):
        return self.apply(*grad_outputs)

    @property
    def metadata(self) -> dict:
        if self._metadata is None:
            self._metadata = {}
        return self._metadata

    def register_hook(self, fn):
        """``fn(grad_inputs, grad_outputs)`` runs after this node; it may return new grad_inputs."""
        if self._post_hooks is None:
            self._post_hooks = []
            self._hooked = True
        self._post_hooks.append(fn)
        return _RemovableHandle(self._post_hooks, fn)

    def register_prehook(self, fn):
        """``fn(grad_outputs)`` runs before this node; it may return new grad_outputs."""
        if self._pre_hooks is None:
            self._pre_hooks = []
            self._hooked = True
        self._pre_hooks.append(fn)
        return _RemovableHandle(self._pre_hooks, fn)

    def _add_tensor_hook(self, output_nr: int, fn):
        if self._tensor_hooks is None:
            self._tensor_hooks = {}
            self._hooked = True
        hooks = self._tensor_hooks.setdefault(output_nr, [])
        if hooks and getattr(hooks[-1], "_retains_grad", False):
            hooks.insert(len(hooks) - 1, fn)  # retain_grad sees the grad after every hook
        else:
            hooks.append(fn)
        return _RemovableHandle(hooks, fn)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} object at {hex(id(self))}>"

    def __getattr__(self, name: str):
        # Reached only when ordinary lookup fails, so recording pays nothing: PyTorch's
        # ``_saved_<arg>`` / ``_raw_saved_<arg>`` are resolved from the op's ``_node_saved``.
        if name.startswith("_saved_"):
            source = _saved_source(self, name[7:])
            if source is not None:
                return _saved_value(self, source)
        elif name.startswith("_raw_saved_"):
            source = _saved_source(self, name[11:])
            if source is not None and not callable(source):
                return SavedTensor(self, source)
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __dir__(self):
        names = list(super().__dir__())
        for key, source in _node_table(self).items():
            names.append("_saved_" + key)
            if not callable(source):
                names.append("_raw_saved_" + key)
        return names


def _saved_source(node, key: str):
    """Where ``node``'s PyTorch-named saved value ``key`` lives, from its op's table: an int
    (a position in what forward saved), ``(position, attr)`` (else the number ``node.attr``,
    as PyTorch wraps a scalar operand) or a callable of the node (a non-tensor value)."""
    return _node_table(node).get(key)


def _node_table(node) -> dict:
    return getattr(getattr(type(node), "_forward_cls", None), "_node_saved", None) or {}


def _saved_value(node, source):
    if callable(source):
        return source(node)
    if source.__class__ is tuple:
        index, attr = source
        value = _saved_slot(node, index)
        number = node.__dict__.get(attr)
        if value is None and number is not None:
            import numpy  # a wrapped number is a CPU tensor of the number's default type
            return _make(numpy.asarray(number))
        return value
    return _saved_slot(node, source)


def _saved_entry(node, index: int):
    """The ``_SavedTensor`` at ``index`` of what ``node`` saved, or None when nothing is."""
    saved = node._saved
    if saved is _RELEASED:
        raise RuntimeError(_FREED_MESSAGE)
    if saved is None or index >= len(saved):
        return None
    return saved[index]


def _saved_slot(node, index: int):
    entry = _saved_entry(node, index)
    return None if entry is None else entry.unpack(node)


class SavedTensor:
    """One tensor a node saved, as ``grad_fn._raw_saved_<arg>`` gives it (PyTorch's
    ``torch._C._autograd.SavedTensor``): ``register_hooks`` sets its own pack/unpack hooks."""

    __slots__ = ("_node", "_source")

    def __init__(self, node, source) -> None:
        self._node = node
        self._source = source

    def register_hooks(self, pack_hook, unpack_hook) -> None:
        """Store the tensor as ``pack_hook(tensor)`` (called now) and give it back, to backward
        and to ``_saved_<arg>``, as ``unpack_hook(packed)``. One pair per saved tensor."""
        if not (callable(pack_hook) and callable(unpack_hook)):
            raise TypeError("register_hooks(): incompatible function arguments: expected two "
                            "callables (pack_hook, unpack_hook)")
        node = self._node
        index = self._source if self._source.__class__ is int else self._source[0]
        entry = _saved_entry(node, index)
        if entry is None:
            raise RuntimeError("Calling register_hooks on a saved tensor with value None is "
                               "forbidden")
        if isinstance(entry, _PackedSavedTensor):
            raise RuntimeError("Calling register_hooks on a saved tensor whose hooks have "
                               "already been set. Hint: only one pair of hooks is allowed at "
                               "a time.")
        node._saved[index] = _PackedSavedTensor(entry.unpack(node), node, pack_hook,
                                                unpack_hook)

    def unpack(self):
        """The saved tensor (through the unpack hook when one is set)."""
        return _saved_value(self._node, self._source)


class _Released:
    pass


_RELEASED = _Released()


class _RemovableHandle:
    __slots__ = ("_hooks", "_fn")

    def __init__(self, hooks: list, fn):
        self._hooks, self._fn = hooks, fn

    def remove(self) -> None:
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


class AccumulateGrad(Node):
    """The sink of a leaf tensor: adds incoming gradients into ``variable.grad``.

    A leaf holds its node for life and the node refers back weakly: one node per leaf rather
    than one per graph, and no reference cycle."""

    __slots__ = ("_variable",)

    def __init__(self, variable):
        # Run as soon as ready, as PyTorch does; still unique, so the heap never compares nodes.
        self._seq = _next_seq() + (1 << 62)
        self.next_functions = ()
        self._saved = None
        self._input_meta = None
        self._variable = weakref.ref(variable)

    @property
    def variable(self):
        return self._variable()

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"  # PyTorch's C++ node name

    def apply(self, grad):  # the engine calls accumulate() instead, knowing create_graph
        self.accumulate(grad, create_graph=False)
        return ()

    def accumulate(self, grad, create_graph: bool) -> None:
        var = self._variable()
        if var is None:  # the leaf is gone, and with it everything that could read its grad
            return
        if var._hooks:
            for hook in var._hooks:
                result = hook(grad)
                if result is not None:
                    grad = result
        if grad is None:
            return
        current = var._grad  # the slot under ``.grad``, as PyTorch's engine sets it
        if current is None:
            if create_graph:
                var._grad = grad
            elif grad.__class__ is Tensor:
                var._grad = _make(_own(grad))
            else:
                var._grad = grad._owned_copy()  # a sparse gradient stays sparse
        elif create_graph or _State.enabled and grad.requires_grad:
            var._grad = current + grad
        elif current.__class__ is not Tensor and current.layout.name.startswith("sparse"):
            from ember.sparse import accumulate  # COO and compressed; needs Tensor, bound later
            var._grad = accumulate(current, grad)
        else:
            current._data += grad._data  # in place: ``.grad`` keeps its identity
        if var._post_acc_hooks:
            for hook in var._post_acc_hooks:
                hook(var)


def _refs_of_engine_argument() -> int:
    """The reference count :func:`_own` sees for a gradient held by nothing but the engine's
    buffer list and the frames on the way (measured: it differs between Python versions)."""
    def accumulate(grad):
        return own(grad)

    def own(grad):
        return _getrefcount(grad)
    buffer = [object()]
    return accumulate(buffer[0])


def _own(grad):
    """An array for a leaf's new ``.grad``: the incoming gradient's own when nothing else can
    see it (PyTorch's AccumulateGrad steals such a gradient too), else a private copy, since
    the same gradient may also flow to other leaves or be kept by a hook or ``retain_grad``."""
    data = grad._data
    if _getrefcount(grad) <= _ENGINE_REFS and _getrefcount(data) <= 3 and data.flags.c_contiguous:
        owner = getattr(data, "base", data)
        if owner is None:
            return data
        if owner.size == data.size:
            # A whole-array view of an array held by nothing but the view (a sum reshaped:
            # a bias's or a norm's weight gradient) ...
            if _getrefcount(owner) <= 3:
                return data
            # ... or by nothing but the view's base tensor and the view (nn.Linear's weight
            # gradient: a product formed transposed, then transposed back).
            base = grad._base
            if (base is not None and base._data is owner and _getrefcount(base) <= 3
                    and _getrefcount(owner) <= 4):
                return data
    return data.copy()  # keeps meta arrays


_ENGINE_REFS = _refs_of_engine_argument()


def grad_accumulator(tensor) -> AccumulateGrad:
    """The AccumulateGrad node of a leaf tensor, made on first use."""
    node = tensor._grad_acc
    if node is None:
        node = tensor._grad_acc = AccumulateGrad(tensor)
    return node


class GradientEdge(NamedTuple):
    """Where a gradient enters the backward graph: output ``output_nr`` of ``node``.
    ``autograd.grad`` takes edges as outputs (with grad_outputs) and as inputs."""

    node: Node
    output_nr: int
    ownership_token: Any = None


def edge_of(tensor):
    """The (node, output_nr) pair a gradient for ``tensor`` flows into, or (None, 0)."""
    if tensor._base is not None:
        refresh_view(tensor)
    if not tensor.requires_grad:
        return (None, 0)
    fn = tensor.grad_fn
    if fn is None:
        return (grad_accumulator(tensor), 0)
    return (fn, tensor._output_nr)


def refresh_view(view) -> None:
    """Re-derive a view's history from its base when the storage was written in place since
    the view's history was set (its base or a sibling view was modified): the old history
    would describe values that are gone (see NOTE [ In-place ops and autograd ])."""
    fn = view._view_fn
    if fn is None or fn.history_version == view._ver[0]:
        return
    fn.history_version = view._ver[0]
    base = view._base
    if base.grad_fn is None:  # a leaf base's history never changes
        return
    alias = _make(base._data, True, base.grad_fn, base._output_nr)
    alias._ver = base._ver
    prev = _State.enabled
    _State.enabled = True
    try:
        fresh = fn(alias)
    finally:
        _State.enabled = prev
    view._set_history(fresh.grad_fn, fresh._output_nr)


class _SavedTensor:
    """A tensor saved for backward, with the version it had then."""

    __slots__ = ("tensor", "data", "is_output", "output_nr", "counter", "version")

    def __init__(self, tensor, node):
        counter = tensor._ver
        if counter is None:
            counter = tensor._ver = [0]
        self.counter = counter
        self.version = counter[0]
        # An output saved by its own node would form a cycle: keep its data, rebuild on unpack.
        if tensor.grad_fn is node and node is not None:
            self.is_output = True
            self.output_nr = tensor._output_nr  # which output: double backward flows into it
            self.tensor = None
            self.data = tensor._data
        else:
            self.is_output = False
            self.tensor = tensor
            self.data = None

    def array(self, node):
        """The saved values, version-checked as ``unpack`` does, with no Tensor rebuilt."""
        if self.counter[0] != self.version:
            raise RuntimeError(_modified_message(self, node))
        return self.data if self.is_output else self.tensor._data

    def unpack(self, node):
        if self.counter[0] != self.version:
            raise RuntimeError(_modified_message(self, node))
        if self.is_output:
            out = _make(self.data, True, node, self.output_nr)
            out._ver = self.counter
            return out
        return self.tensor


# The active (pack_hook, unpack_hook) pairs, innermost last: ember.autograd.graph's
# saved_tensors_hooks pushes and pops them.
saved_tensors_hooks_stack: list = []


class _PackedSavedTensor(_SavedTensor):
    """A saved tensor held as what the innermost ``saved_tensors_hooks``' pack hook returned;
    every access calls the unpack hook. As in PyTorch, the hooks own the value: no version
    check (a pack hook may have copied it before an in-place change)."""

    __slots__ = ("packed", "unpack_hook")

    def __init__(self, tensor, node, pack_hook, unpack_hook):
        self.is_output = False
        self.tensor = self.data = None
        self.unpack_hook = unpack_hook
        self.packed = pack_hook(tensor)

    def array(self, node):
        return self.unpack(node)._data

    def unpack(self, node):
        out = self.unpack_hook(self.packed)
        if not isinstance(out, _tensor_type()):
            raise TypeError("Output of saved tensor unpack_hook expected to be a Tensor but got "
                            f"result of type {type(out).__name__}")
        return out


def _tensor_type():
    from ember._tensor import Tensor
    return Tensor


def _save(tensor, node) -> _SavedTensor:
    """``tensor`` saved for ``node``'s backward (packed when saved-tensor hooks are active)."""
    if saved_tensors_hooks_stack:
        return _PackedSavedTensor(tensor, node, *saved_tensors_hooks_stack[-1])
    return _SavedTensor(tensor, node)


def _modified_message(saved: _SavedTensor, node) -> str:
    """PyTorch's error for a saved tensor changed in place since it was saved."""
    t = saved.tensor
    data = t._data if t is not None else saved.data
    # An output names the node that saved it; an input names its current history.
    fn, nr = (node, saved.output_nr) if saved.is_output else (t.grad_fn, t._output_nr)
    origin = ""
    if fn is not None:
        origin = f", which is output {nr} of {re.sub(r'Backward[0-9]*$', '', fn.name())},"
    if _anomaly_state.enabled:
        hint = ("Hint: the backtrace further above can show the operation that failed to "
                "compute its gradient. The variable in question was changed in there or "
                "anywhere later. Good luck!")
    else:
        hint = ("Hint: enable anomaly detection to find the operation that failed to compute "
                "its gradient, with torch.autograd.set_detect_anomaly(True, check_nan=False).")
    return ("one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: [{_type_name(t, data)} {list(data.shape)}]{origin} is at "
            f"version {saved.counter[0]}; expected version {saved.version} instead. {hint}")


def _type_name(t, data) -> str:
    from ember.dtypes import from_numpy_dtype
    d = t.dtype if t is not None else from_numpy_dtype(data.dtype)
    names = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
             "int64": "LongTensor", "int32": "IntTensor", "bool": "BoolTensor"}
    return "torch." + names.get(d.name, d.name + "Tensor")


class FunctionCtx:
    """What ``forward`` and ``backward`` may call on ``ctx``."""

    def save_for_backward(self, *tensors) -> None:
        self._saved = tensors  # resolved to _SavedTensors once the outputs exist

    def save_for_forward(self, *tensors) -> None:
        """Keep ``tensors`` for ``jvp``, where ``ctx.saved_tensors`` gives them back."""
        self._forward_saved = tensors

    @property
    def saved_tensors(self) -> tuple:
        saved = self._saved
        if saved is None:
            return ()
        if saved is _RELEASED:
            raise RuntimeError(_FREED_MESSAGE)
        out = []  # a loop, not a comprehension: no extra frame for the usual one or two
        for s in saved:
            out.append(None if s is None else s.unpack(self))
        return tuple(out)

    @property
    def saved_variables(self) -> tuple:
        """``saved_tensors`` under its old name (deprecated, as in PyTorch)."""
        warnings.warn("'saved_variables' is deprecated; use 'saved_tensors'", DeprecationWarning,
                      stacklevel=2)
        return self.saved_tensors

    @property
    def _saved_arrays(self) -> tuple:
        """The arrays of ``saved_tensors``, for built-in backward formulas that need only the
        values (a mask, say): saved outputs are not rebuilt as Tensors."""
        saved = self._saved
        if saved is None:
            return ()
        if saved is _RELEASED:
            raise RuntimeError(_FREED_MESSAGE)
        out = []
        for s in saved:
            out.append(None if s is None else s.array(self))
        return tuple(out)

    def mark_dirty(self, *tensors) -> None:
        self._dirty = tensors

    def mark_non_differentiable(self, *tensors) -> None:
        self._non_differentiable = tensors

    def set_materialize_grads(self, value: bool) -> None:
        self._materialize_grads = value


class BackwardCFunction(Node, FunctionCtx):
    """The node type recorded for a Function; instances double as the ``ctx``."""

    # Rarely set fields are class-level defaults: a new node is cheaper without their stores.
    __slots__ = ("needs_input_grad",)
    _tensor_positions = None  # the arguments with an edge, when not all are (see apply)
    _forward_cls: type
    _checks_grad_count = True  # user Functions must return one gradient per input
    _materialize_grads = True
    _dirty = ()
    _non_differentiable = ()
    _forward_saved = None

    def apply(self, *grad_outputs):
        if self._out_meta is not None and self._materialize_grads:
            grad_outputs = _materialize(grad_outputs, self._out_meta)
        grads = self._forward_cls.backward(self, *grad_outputs)
        if not isinstance(grads, tuple):
            grads = (grads,)
        if self._checks_grad_count:
            grads = _check_grad_count(self, grads)
        positions = self._tensor_positions
        if positions is None:
            return grads
        if positions is _FIRST_ONLY:  # a Tensor and options: the first gradient has the edge
            return grads[:1] or (None,)
        n = len(grads)
        if n and n == len(positions) and positions[-1] == n - 1:  # the first n, as returned
            return grads
        return tuple([grads[i] if i < n else None for i in positions])


def _check_grad_count(node, grads: tuple) -> tuple:
    """A user backward returns one gradient per forward input (extra trailing Nones allowed)."""
    n = len(node.needs_input_grad)
    if len(grads) > n and all(g is None for g in grads[n:]):
        grads = grads[:n]
    if len(grads) != n:
        raise RuntimeError(f"function {node.name()} returned an incorrect number of gradients "
                           f"(expected {n}, got {len(grads)})")
    return grads


def _materialize(grads: tuple, out_meta) -> tuple:
    """``grads`` with zeros for the outputs that got no gradient (``materialize_grads``)."""
    ref = None
    for g in grads:
        if g is not None:
            ref = g._data
            break
    return tuple(_zeros_for(meta, ref) if g is None and meta is not None else g
                 for g, meta in zip(grads, out_meta))


def _zeros_for(meta, ref):
    """Zeros shaped as one output, of the kind of ``ref`` (a gradient given for another
    output): a meta graph gets meta zeros, which ``xp.zeros`` alone would make on the CPU."""
    shape, np_dtype, xp = meta
    if ref is None:
        return _make(xp.zeros(shape, np_dtype))
    return _make(zeros_as(xp, ref, shape, np_dtype))


class _NullCtx(FunctionCtx):
    """The ctx of a forward that records nothing: saving is a no-op."""

    needs_input_grad = ()

    def save_for_backward(self, *tensors) -> None:
        pass

    def save_for_forward(self, *tensors) -> None:
        pass

    def mark_dirty(self, *tensors) -> None:
        pass

    def mark_non_differentiable(self, *tensors) -> None:
        pass

    def __setattr__(self, name, value) -> None:
        pass  # forward may stash values on ctx; with nothing recorded they are not needed


NULL_CTX = _NullCtx()


class _UnrecordedCtx(_NullCtx):
    """The ctx of a user Function's forward that records nothing (grad mode off, or no input
    requires grad): saving is still a no-op, but what forward stores on ctx reads back, as in
    PyTorch (a checkpointing Function calls ``ctx.run_function`` right after setting it)."""

    __setattr__ = object.__setattr__


def _no_jvp(ctx, *tangents):
    raise NotImplementedError("You must implement the jvp function for custom autograd.Function "
                              "to use it with forward mode AD.")


class FunctionMeta(type):
    """Gives each Function its own backward node type, named ``<Name>Backward`` by default."""

    def __init__(cls, name, bases, attrs, node_name: str | None = None):
        super().__init__(name, bases, attrs)
        node_name = node_name or attrs.get("node_name") or name + "Backward"
        cls._defines_jvp = getattr(cls, "jvp", _no_jvp) is not _no_jvp
        cls._backward_cls = type(node_name, (BackwardCFunction,),
                                 {"_forward_cls": cls, "__slots__": (),
                                  "_checks_grad_count": not cls._forward_takes_arrays,
                                  "__module__": attrs.get("__module__", __name__)})

    def __new__(mcs, name, bases, attrs, node_name: str | None = None):
        return super().__new__(mcs, name, bases, attrs)


class Function(metaclass=FunctionMeta):
    """Base class of custom differentiable operations.

    Subclasses write ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)`` as static
    methods and are called through ``apply``::

        class Exp(Function):
            @staticmethod
            def forward(ctx, x):
                y = x.exp()
                ctx.save_for_backward(y)
                return y

            @staticmethod
            def backward(ctx, grad):
                (y,) = ctx.saved_tensors
                return grad * y

        y = Exp.apply(x)
    """

    _forward_takes_arrays = False
    _scalar_edges = False
    _is_view = False

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for "
                                  "your custom autograd.Function to use it with backward mode "
                                  "AD.")

    @staticmethod
    def setup_context(ctx, inputs, output):
        return None

    # ``jvp(ctx, *tangents)``: the tangents of the outputs from one per input (zeros for a
    # Tensor without one, None for other arguments); used by forward-mode AD when defined.
    jvp = staticmethod(_no_jvp)

    @classmethod
    def apply(cls, *args, **kwargs):
        if _AutocastFlag.on:
            args = _AutocastFlag.cast_args(cls, args)
        if _State.enabled:
            for a in args:
                if isinstance(a, Tensor) and a.requires_grad:
                    return _apply_recording(cls, args, kwargs)
        with no_grad():
            return _custom_forward(cls, _UnrecordedCtx(), args, kwargs, record=False)


def _apply_recording(cls, args, kwargs):
    """Run a user Function's forward and record its node: some input requires grad."""
    node = cls._backward_cls()
    edges = []
    needs = []
    positions = []
    meta = []
    for i, a in enumerate(args):
        if isinstance(a, Tensor):
            positions.append(i)
            e = edge_of(a)
            edges.append(e)
            needs.append(e[0] is not None)
            meta.append((a._data.shape, a._data.dtype) if e[0] is not None else None)
        else:
            needs.append(False)
            if cls._scalar_edges and isinstance(a, _Number):
                positions.append(i)  # PyTorch wraps the number: an edge to nothing
                edges.append((None, 0))
                meta.append(None)
    node.needs_input_grad = tuple(needs)
    node._tensor_positions = None if len(positions) == len(args) else tuple(positions)
    node.next_functions = tuple(edges)
    node._input_meta = meta
    with no_grad():
        outputs = _custom_forward(cls, node, args, kwargs, record=True)
    if _anomaly_state.enabled:
        _record_trace(node)
    if cls._defines_jvp:
        from ember.autograd.forward_ad import _apply_jvp
        outputs = _apply_jvp(cls, node, args, outputs)
    return outputs


_NO_EDGE = (None, 0)
_new = object.__new__


def _new_node(cls):
    """A node of ``cls``'s backward type, set up as a single-output primitive's."""
    node = _new(cls._backward_cls)
    node._seq = _next_seq()
    node._saved = None
    return node


def _record_unary(cls, args):
    """Run a primitive's forward and record its node when only its first argument, which
    requires grad, is a Tensor; the rest are options (dims, flags, dtypes). The hot path of
    eager autograd, with no lists and no per-input helpers."""
    a = args[0]
    node = _new_node(cls)
    if a._base is not None:
        refresh_view(a)
    data = a._data
    fn = a.grad_fn
    node.next_functions = ((fn, a._output_nr) if fn is not None else (grad_accumulator(a), 0),)
    node._input_meta = ((data.shape, data.dtype),)
    if len(args) == 1:
        node.needs_input_grad = _NEEDS_ONE
        inputs = (data,)
    else:
        n = len(args)
        node.needs_input_grad = _NEEDS_FIRST[n] if n < 8 else (True,) + (False,) * (n - 1)
        node._tensor_positions = _FIRST_ONLY
        inputs = (data, *args[1:])
    try:
        out = cls.forward(node, data) if len(args) == 1 else cls.forward(node, *inputs)
    except ValueError as exc:
        raise _broadcast_error(args, exc) from None
    return _finish_record(cls, node, args, inputs, out)


_NEEDS_ONE = (True,)
_NEEDS_FIRST = tuple((True,) + (False,) * (n - 1) for n in range(8))  # by argument count
_FIRST_ONLY = (0,)


def _record_binary(cls, a, b):
    """``_record_primitive`` for ``(Tensor, Tensor)``, ``(Tensor, number)`` and
    ``(Tensor, option)``: the same edges, flags and metadata, built without lists."""
    node = _new_node(cls)
    if a._base is not None:
        refresh_view(a)
    da = a._data
    if a.requires_grad:
        fn = a.grad_fn
        ea = (fn, a._output_nr) if fn is not None else (grad_accumulator(a), 0)
        ma = (da.shape, da.dtype)
    else:
        ea = _NO_EDGE
        ma = None
    if isinstance(b, Tensor):
        if b._base is not None:
            refresh_view(b)
        db = b._data
        if b.requires_grad:
            fn = b.grad_fn
            node.next_functions = (ea, (fn, b._output_nr) if fn is not None
                                   else (grad_accumulator(b), 0))
            node.needs_input_grad = (ma is not None, True)
            node._input_meta = (ma, (db.shape, db.dtype))
        else:
            node.next_functions = (ea, _NO_EDGE)
            node.needs_input_grad = (True, False)
            node._input_meta = (ma, None)
        if db is da and b is not a:
            db = db.view()  # see NOTE [ Distinct arrays ]
    else:
        db = b
        node.needs_input_grad = (True, False)  # only ``a`` can require grad
        if cls._scalar_edges and (b.__class__ in _PY_NUMBERS or isinstance(b, _Number)):
            node.next_functions = (ea, _NO_EDGE)  # PyTorch wraps the number: an edge to nothing
            node._input_meta = (ma, None)
        else:
            node.next_functions = (ea,)
            node._input_meta = (ma,)
            node._tensor_positions = _FIRST_ONLY
    try:
        out = cls.forward(node, da, db)
    except ValueError as exc:
        raise _broadcast_error((a, b), exc) from None
    return _finish_record(cls, node, (a, b), (da, db), out)


def _record_primitive(cls, args):
    """Run a primitive's forward on arrays and record its node: some input requires grad.
    The general case of any arity; numbers and options get no edge unless ``_scalar_edges``."""
    a = args[0]
    if not cls._scalar_edges and isinstance(a, Tensor) and a.requires_grad:
        for b in args[1:]:
            if isinstance(b, Tensor):
                break
        else:
            return _record_unary(cls, args)  # a Tensor and options (a reduction's dims, ...)
    node = _new_node(cls)
    scalar_edges = cls._scalar_edges
    inputs = list(args)  # the Tensors replaced by their arrays below
    needs = [False] * len(args)
    edges = []
    meta = []
    positions = []  # the arguments that have an edge
    i = 0
    for a in args:
        if isinstance(a, Tensor):
            if a._base is not None:
                refresh_view(a)
            data = a._data
            for j in positions:  # the earlier Tensors (and numbers, never ``data``)
                if inputs[j] is data and args[j] is not a:
                    data = data.view()  # see NOTE [ Distinct arrays ]
                    break
            inputs[i] = data
            positions.append(i)
            if a.requires_grad:
                fn = a.grad_fn
                edges.append((fn, a._output_nr) if fn is not None else (grad_accumulator(a), 0))
                needs[i] = True
                meta.append((data.shape, data.dtype))
            else:
                edges.append(_NO_EDGE)
                meta.append(None)
        elif scalar_edges and (a.__class__ in _PY_NUMBERS or isinstance(a, _Number)):
            positions.append(i)
            edges.append(_NO_EDGE)  # PyTorch wraps the number: an edge to nothing
            meta.append(None)
        i += 1
    if len(positions) != i:
        node._tensor_positions = tuple(positions)
    node.needs_input_grad = tuple(needs)
    node.next_functions = tuple(edges)
    node._input_meta = meta
    try:
        out = cls.forward(node, *inputs)
    except ValueError as exc:
        raise _broadcast_error(args, exc) from None
    return _finish_record(cls, node, args, inputs, out)


def _finish_record(cls, node, args, inputs, out):
    """Wrap a recorded primitive's outputs and resolve what its forward saved."""
    if out.__class__ is tuple:
        outputs = _wrap_array_outputs(node, out)
    else:
        outputs = _make(out, True, node)
    if cls._is_view:
        _mark_views(outputs, cls, args)
    saved = node._saved  # what forward passed to save_for_backward, if anything
    if saved is not None:
        node._saved = _resolve_saved_arrays(node, saved, args, inputs, outputs, out)
    if _anomaly_state.enabled:
        _record_trace(node)
    return outputs


# NOTE [ Distinct arrays ]
# Distinct Tensors sharing one array (``x * x.detach()``) get distinct array objects when they
# meet in one op, so that the arrays its forward saves map back to the right Tensor.


def _mark_views(outputs, cls, args) -> None:
    """Outputs of a view op share the input's storage and version counter, and remember how
    to re-derive themselves from the root base (see NOTE [ In-place ops and autograd ])."""
    src = args[0]
    root = src if src._base is None else src._base
    ver = root._ver
    if ver is None:
        ver = root._ver = [0]
    no_grad_view = not _State.enabled  # in-place on it in grad mode is refused
    if outputs.__class__ is not tuple:
        outputs._base = root
        outputs._ver = ver
        outputs._view_fn = _ViewFn(src._view_fn, cls, args, -1, ver[0], no_grad_view)
        return
    for i, o in enumerate(outputs):
        o._base = root
        o._ver = ver
        o._view_fn = _ViewFn(src._view_fn, cls, args, i, ver[0], no_grad_view)


class _ViewFn:
    """How a view re-derives itself from its root base: the parent view's ``_ViewFn``, then
    the view op applied again with the same arguments (recorded cheaply, replayed rarely)."""

    __slots__ = ("parent", "cls", "rest", "index", "history_version", "no_grad_view")

    def __init__(self, parent, cls, args, index: int, history_version: int,
                 no_grad_view: bool):
        self.parent = parent
        self.cls = cls
        self.rest = args[1:]  # not the source: a view must not keep it alive
        self.index = index  # which output of a multi-output view op; -1 for a single one
        self.history_version = history_version
        self.no_grad_view = no_grad_view

    def __call__(self, t):
        if self.parent is not None:
            t = self.parent(t)
        out = self.cls.apply(t, *self.rest)
        return out if self.index < 0 else out[self.index]


def _wrap_array_outputs(node, out: tuple) -> tuple:
    """Tensors for the output arrays of a recorded multi-output primitive, with their meta."""
    outs = []
    meta = []
    i = 0
    for o in out:
        # Integer outputs (indices) never require grad.
        t = _make(o, True, node, i) if _dt.np_kind(o.dtype) in "fc" else _make(o)
        data = t._data  # an array, where a 0-d result came as a NumPy scalar
        meta.append((data.shape, data.dtype, get_array_module(data)))
        outs.append(t)
        i += 1
    node._out_meta = meta
    return tuple(outs)


def _resolve_saved_arrays(node, saved, args, inputs, outputs, raw_out):
    """Map the arrays a primitive saved back to the Tensors backward will use."""
    hooks = saved_tensors_hooks_stack
    resolved = []
    for s in saved:
        if s is not None:
            if s is raw_out and len(inputs) == 1 and s is not inputs[0]:  # relu, exp, ...
                t = outputs
            elif s is inputs[0] and isinstance(args[0], Tensor):  # the first input: inline
                t = args[0]
            else:
                t = s if isinstance(s, Tensor) else _owner(s, args, inputs, outputs, raw_out)
            s = _save(t, node) if hooks else _SavedTensor(t, node)
        resolved.append(s)
    return resolved


def _owner(array, args, inputs, outputs, raw_out):
    """The input or output Tensor holding a saved array (inputs first), else a constant."""
    i = 0
    for arr in inputs:  # inputs[i] is the array of args[i]
        if arr is array and isinstance(args[i], Tensor):
            return args[i]
        i += 1
    # 0-d results may be NumPy scalars that _make replaced by arrays: match the raw objects.
    if outputs.__class__ is not tuple:
        if outputs._data is array or raw_out is array:
            return outputs
    else:
        for o, r in zip(outputs, raw_out):
            if o._data is array or r is array:
                return o
    return _make(array)  # an intermediate result: a constant for backward


def _custom_forward(cls, ctx, args, kwargs, record: bool):
    """Run a user Function's forward on Tensors and attach its outputs to the node ``ctx``."""
    if cls.setup_context is not Function.setup_context:
        out = cls.forward(*args, **kwargs)  # forward without ctx; setup_context saves
        cls.setup_context(ctx, args, out)
    else:
        out = cls.forward(ctx, *args, **kwargs)
    if not record:
        return out
    is_tuple = isinstance(out, tuple)
    outs = out if is_tuple else (out,)
    dirty = {id(t) for t in ctx._dirty}
    non_diff = {id(t) for t in ctx._non_differentiable}
    inputs = {id(a) for a in args if isinstance(a, Tensor)}
    results = []
    out_meta = []
    for i, o in enumerate(outs):
        if not isinstance(o, Tensor):
            results.append(o)
            out_meta.append(None)
            continue
        out_meta.append((o._data.shape, o._data.dtype, get_array_module(o._data)))
        if id(o) in non_diff:
            results.append(o)
            continue
        if id(o) in dirty:
            if o.requires_grad and o.grad_fn is None:
                raise RuntimeError("a leaf Variable that requires grad has been used in an "
                                   "in-place operation.")
            o._bump_version()
            o._set_history(ctx, i)  # in-place on an input: the input now carries this node
            results.append(o)
            continue
        if id(o) in inputs or o.requires_grad or o.grad_fn is not None:
            o = o._alias()  # an input returned as is, or a tensor with a history already
        o._set_history(ctx, i)
        results.append(o)
    if len(out_meta) > 1:
        ctx._out_meta = out_meta
    saved = ctx._saved  # what forward passed to save_for_backward, if anything
    if saved is not None:
        ctx._saved = [None if s is None else _save(_as_result(s, outs, results), ctx)
                      for s in saved]
    return tuple(results) if is_tuple else results[0]


def _as_result(t, outs, results):
    for o, r in zip(outs, results):
        if o is t:
            return r
    return t


class Primitive(Function):
    """A built-in op: ``forward`` on raw arrays (of the inputs' array module), ``backward`` in
    differentiable ember ops. Arrays passed to ``ctx.save_for_backward`` come back in backward as
    the Tensors they belong to (inputs, outputs, or constants for intermediates).

    ``_node_saved`` maps the names PyTorch's node gives its saved values (``self``, ``other``,
    ``result``, ``exponent``, ...) to where they are here, for ``grad_fn._saved_<name>`` and
    ``grad_fn._raw_saved_<name>`` (see ``_saved_source``); looked up only when those are read.
    """

    _forward_takes_arrays = True
    _node_saved = None

    @classmethod
    def apply(cls, *args):
        # The eager hot path: unpack one or two operands without building lists.
        if _AutocastFlag.on:
            args = _AutocastFlag.cast_args(cls, args)
        if _DispatchFlag.on:
            out = _DispatchFlag.run(cls, args)
            if out is not _UNHANDLED:
                return out
        n = len(args)
        if n == 1 or n == 2:
            a = args[0]
            if isinstance(a, Tensor):
                if a.requires_grad and _State.enabled:
                    return _record_unary(cls, args) if n == 1 else _record_binary(cls, a, args[1])
                a = a._data
            if n == 1:
                out = cls.forward(NULL_CTX, a)
            else:
                b = args[1]
                if isinstance(b, Tensor):
                    if b.requires_grad and _State.enabled:
                        a = args[0]
                        return (_record_binary(cls, a, b) if isinstance(a, Tensor)
                                else _record_primitive(cls, args))
                    b = b._data
                try:  # free unless raised (3.11+)
                    out = cls.forward(NULL_CTX, a, b)
                except ValueError as exc:
                    raise _broadcast_error(args, exc) from None
        else:
            if _State.enabled:
                for a in args:
                    if isinstance(a, Tensor) and a.requires_grad:
                        return _record_primitive(cls, args)
            arrays = []  # a loop, not a comprehension: no extra frame
            for a in args:
                arrays.append(a._data if isinstance(a, Tensor) else a)
            try:
                out = cls.forward(NULL_CTX, *arrays)
            except ValueError as exc:
                raise _broadcast_error(args, exc) from None
        if out.__class__ is not tuple and not cls._is_view:
            return _make(out)
        return _wrap_untracked(cls, args, out)


def _wrap_untracked(cls, args, out):
    """Tensors for the outputs of a primitive that recorded nothing (a tuple, or a view)."""
    out = tuple(_make(o) for o in out) if out.__class__ is tuple else _make(out)
    if cls._is_view:
        _mark_views(out, cls, args)
    return out


def _broadcast_error(args, exc: ValueError) -> Exception:
    """NumPy's ValueError for operands that do not broadcast, as PyTorch's RuntimeError."""
    if "broadcast" not in str(exc):
        return exc
    shapes = [tuple(a.shape) for a in args if isinstance(a, Tensor) or hasattr(a, "ndim")]
    return broadcast_mismatch(shapes) or RuntimeError(str(exc))


def broadcast_mismatch(shapes) -> RuntimeError | None:
    """PyTorch's error for shapes that do not broadcast, found as its TensorIterator does:
    each shape (tensor b) against the shape broadcast so far (tensor a); None if they all
    broadcast."""
    so_far = ()
    for shape in shapes:
        n = max(len(so_far), len(shape))
        merged = []
        for k in range(1, n + 1):  # from the last dimension, as PyTorch's infer_size
            x = so_far[-k] if k <= len(so_far) else 1
            y = shape[-k] if k <= len(shape) else 1
            if x != y and x != 1 and y != 1:
                return RuntimeError(f"The size of tensor a ({x}) must match the size of "
                                    f"tensor b ({y}) at non-singleton dimension {n - k}")
            merged.append(y if x == 1 else x)
        so_far = tuple(reversed(merged))
    return None


def once_differentiable(fn):
    """Decorator for a backward that cannot itself be differentiated: it runs under no_grad,
    so its gradients carry no history (a double backward then finds nothing to do)."""
    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with no_grad():
            return fn(ctx, *args)
    return wrapper
