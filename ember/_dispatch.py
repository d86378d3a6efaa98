"""The Python dispatch level: ``TorchDispatchMode`` handlers see each primitive below autograd.

PyTorch calls an active dispatch mode's ``__torch_dispatch__(func, types, args, kwargs)`` for
every aten operator, after autograd decided what to record and before the kernel runs; ``func``
is the operator (``aten.mm.default``) and calling it runs the kernel. ember's kernels are its
autograd primitives, so a mode is called from ``Primitive.apply`` with the ``OpOverload`` the
primitive's node names (``MmBackward0`` -> ``aten.mm.default``, PyTorch's node names follow its
operators) and the primitive's arguments; backward formulas run primitives too, so a mode active
during ``backward()`` sees the gradient ops. Functions that compute on arrays without a
primitive (factories, some fused backward and optimizer paths) are not seen.

NOTE [ Recording below a mode ]
ember records an op's node while its forward computes (the forward saves what backward needs),
so "record above, compute below" is arranged around the handler: when the handler calls
``func`` with the arguments it was given, the primitive runs and records there, and the handler
gets outputs cut from the graph (as PyTorch's handlers see outputs without ``grad_fn``); what
it returns is mapped back to the recorded outputs. A handler that returns other tensors
(a cache, a changed result) gets them recorded as the op's outputs: the op is recorded by
running it, and its outputs then hold the handler's values.
"""
from __future__ import annotations

import re
import threading

from ember.autograd.function import _UNHANDLED as UNHANDLED
from ember.autograd.function import _DispatchFlag
from ember.export._ops import OpOverload, op_for

__all__ = ["push_mode", "pop_mode", "current_stack", "run", "run_opaque", "op_of"]


class _Call:
    """One handler invocation: the primitive and arguments it was given, and what calling
    ``func`` with them recorded."""

    __slots__ = ("cls", "func", "args", "record", "consumed", "recorded", "aliases")

    def __init__(self, cls, func, args, record: bool) -> None:
        self.cls, self.func, self.args, self.record = cls, func, args, record
        self.consumed = False
        self.recorded = None
        self.aliases = None


class _State(threading.local):
    """Per thread, as PyTorch's: the mode stack, the handler calls in progress, and a switch
    that lets a primitive run with no mode seeing it."""
    stack: list
    calls: list
    off = False
    in_place = False  # the next op dispatched is an in-place op's computation

    def __init__(self) -> None:
        self.stack = []
        self.calls = []


_state = _State()
_lock = threading.Lock()
_entered = 0  # modes on all threads' stacks: ``Primitive.apply`` asks only while some exist


def _set_flag(delta: int) -> None:
    global _entered
    with _lock:
        _entered += delta
        _DispatchFlag.run = run
        _DispatchFlag.on = _entered > 0


def push_mode(mode) -> None:
    """Make ``mode`` this thread's innermost dispatch mode."""
    _state.stack.append(mode)
    _set_flag(1)


def pop_mode(mode=None):
    """Take ``mode`` (default: the innermost) off this thread's stack and return it."""
    if not _state.stack:
        raise RuntimeError("Trying to pop from an empty dispatch mode stack")
    if mode is None:
        mode = _state.stack.pop()
    else:
        _state.stack.remove(mode)
    _set_flag(-1)
    return mode


def current_stack() -> list:
    """This thread's dispatch modes, outermost first (the list itself)."""
    return _state.stack


# ------------------------------------------------------------------------------------------------
# Primitive -> aten operator

# Nodes whose number picks an overload other than the name's usual one (derivatives.yaml).
_NODE_OVERLOADS = {
    "SumBackward0": ("sum", "default"), "SumBackward1": ("sum", "dim_IntList"),
    "MeanBackward0": ("mean", "default"), "MeanBackward1": ("mean", "dim"),
    "MaxBackward0": ("max", "dim"), "MaxBackward1": ("max", "default"),
    "MinBackward0": ("min", "dim"), "MinBackward1": ("min", "default"),
    "ClampBackward0": ("clamp", "Tensor"), "ClampBackward1": ("clamp", "default"),
    "ClampMinBackward1": ("clamp_min", "Tensor"), "ClampMaxBackward1": ("clamp_max", "Tensor"),
    "PowBackward0": ("pow", "Tensor_Scalar"), "PowBackward1": ("pow", "Tensor_Tensor"),
    "PowBackward2": ("pow", "Scalar"), "RsubBackward1": ("rsub", "Scalar"),
    "CopysignBackward0": ("copysign", "Tensor"), "CopysignBackward1": ("copysign", "Scalar"),
    "FillBackward1": ("fill", "Tensor"), "NormBackward1": ("norm", "ScalarOpt_dim"),
    "MaskedFillBackward0": ("masked_fill", "Scalar"), "WhereBackward0": ("where", "self"),
    "SliceBackward0": ("slice", "Tensor"), "IndexBackward0": ("index", "Tensor"),
    "CopyBackwards": ("copy_", "default"), "DivBackward0": ("div", "Tensor"),
    "NllLossBackward0": ("nll_loss_forward", "default"),
    "NllLoss2DBackward0": ("nll_loss2d_forward", "default"),
    "SoftmaxBackward0": ("_softmax", "default"), "LogSoftmaxBackward0": ("_log_softmax", "default"),
    "UnsafeViewBackward0": ("_unsafe_view", "default"), "ToCopyBackward0": ("_to_copy", "default"),
    "ScaledDotProductFlashAttentionForCpuBackward0":
        ("_scaled_dot_product_flash_attention_for_cpu", "default"),
    "ScaledDotProductFlashAttentionBackward0": ("_scaled_dot_product_flash_attention", "default"),
    "ThnnFusedLstmCellBackward0": ("_thnn_fused_lstm_cell", "default"),
    "PreluKernelBackward0": ("_prelu_kernel", "default"),
}
# Primitives whose node is named for another op than the one they run.
_CLASS_OPS = {"ConvInputGrad": ("convolution_backward", "default"),
              "ConvWeightGrad": ("convolution_backward", "default"),
              "_Dropout": ("native_dropout", "default")}
_RANDOM = {"native_dropout"}  # tagged nondeterministic_seeded, as PyTorch's random ops

_ops: dict = {}  # (primitive class, overload chosen by arguments) -> OpOverload


def _snake(camel: str) -> str:
    return re.sub(r"(?<=[a-z])([A-Z])", r"_\1", camel).lower()


def _name_and_overload(cls, args) -> tuple[str, str]:
    from ember.export._ops import overload_name
    if cls.__name__ in _CLASS_OPS:
        return _CLASS_OPS[cls.__name__]
    node = cls._backward_cls.__name__
    if node in _NODE_OVERLOADS:
        return _NODE_OVERLOADS[node]
    stem = re.sub(r"Backwards?\d*$", "", node)
    name = _snake(stem if stem and node != "NotImplemented" else cls.__name__.strip("_"))
    return name, overload_name(name, args, {})


def primitive_named(name: str):
    """The primitive that runs the aten op ``name``, or None (asked once per name: the aten
    namespace caches its packets)."""
    from ember.autograd.function import Primitive
    pending = list(Primitive.__subclasses__())
    while pending:
        cls = pending.pop()
        if _name_and_overload(cls, ())[0] == name:
            return cls
        pending.extend(cls.__subclasses__())
    return None


def next_op_in_place() -> None:
    """The next primitive dispatched computes an in-place op: name it ``<name>_``."""
    _state.in_place = True


def op_of(cls, args, in_place: bool = False) -> OpOverload:
    """The aten operator the primitive ``cls`` runs, called with ``args`` (its in-place
    variant with ``in_place``)."""
    name, overload = _name_and_overload(cls, args)
    if in_place:
        name += "_"
    key = (cls, overload, in_place)
    op = _ops.get(key)
    if op is None:
        op = op_for(f"prim:{cls.__module__}.{cls.__qualname__}", name, overload)
        if name in _RANDOM:
            from ember.library import Tag
            op.tags = (Tag.nondeterministic_seeded,)
        _ops[key] = op
    return op


# Primitives whose arguments are not their operator's: handlers get the operator's (as they
# read them by its schema), and calling ``func`` with those runs the primitive.
def _convolution_to_aten(x, w, b, stride, pads, dilation, groups):
    if any(lo != hi for lo, hi in pads):  # "same" padding of an even kernel: shown as it is
        return None
    return (x, w, b, list(stride), [lo for lo, _ in pads], list(dilation), False,
            [0] * len(pads), groups)


def _convolution_from_aten(input, weight, bias, stride, padding, dilation, transposed,
                           output_padding, groups):
    if transposed:
        raise NotImplementedError("aten.convolution.default: ember runs transposed "
                                  "convolutions through their input gradient")
    return (input, weight, bias, tuple(stride), tuple((p, p) for p in padding),
            tuple(dilation), groups)


_ATEN_ARGUMENTS = {"Convolution": (_convolution_to_aten, _convolution_from_aten)}
_adapted_ops: dict = {}  # primitive class -> its OpOverload that takes the operator's arguments


def _shown(cls, args, in_place: bool):
    """(func, args) a handler gets for the primitive ``cls`` called with ``args``."""
    adapter = _ATEN_ARGUMENTS.get(cls.__name__)
    shown = adapter[0](*args) if adapter is not None and not in_place else None
    if shown is None:
        return op_of(cls, args, in_place), args
    op = _adapted_ops.get(cls)
    if op is None:
        name, overload = _name_and_overload(cls, args)
        from_aten = adapter[1]
        op = _adapted_ops[cls] = OpOverload(
            "aten", name, overload, lambda *a, **k: cls.apply(*from_aten(*a, **k)))
    return op, shown


# ------------------------------------------------------------------------------------------------
# Running a primitive through the modes

def run(cls, args):
    """``Primitive.apply``'s answer while dispatch modes exist: the innermost mode of this
    thread handles the op, or UNHANDLED when none does (see NOTE [ Recording below a mode ])."""
    state = _state
    in_place, state.in_place = state.in_place, False
    if state.off:
        return UNHANDLED
    calls = state.calls
    if calls:
        call = calls[-1]
        if call.cls is cls and not call.consumed and _same(call.args, args):
            call.consumed = True  # the handler runs the op it was given: the level below
            return _kernel(call)
    if not state.stack:
        return UNHANDLED
    from ember._tensor import Tensor
    from ember.autograd.grad_mode import _State as _grad
    record = _grad.enabled and any(isinstance(a, Tensor) and a.requires_grad for a in args)
    func, shown = _shown(cls, args, in_place)
    mode = state.stack.pop()  # a handler's own calls do not reach it again
    call = _Call(cls, func, args, record)
    calls.append(call)
    try:
        out = mode.__torch_dispatch__(func, (), shown, {})
    finally:
        calls.pop()
        state.stack.append(mode)
    if out is NotImplemented:
        raise RuntimeError(f"{type(mode).__name__}.__torch_dispatch__ returned NotImplemented "
                           f"for {func}")
    return _connect(call, out) if record else out


def run_opaque(func, args: tuple, kwargs: dict):
    """An operator ember runs as a whole below autograd (a ``torch.library`` custom op): the
    innermost mode of this thread handles ``func(*args, **kwargs)``, or UNHANDLED."""
    state = _state
    if state.off or not state.stack:
        return UNHANDLED
    mode = state.stack.pop()
    try:
        out = mode.__torch_dispatch__(func, (), args, kwargs)
    finally:
        state.stack.append(mode)
    if out is NotImplemented:
        raise RuntimeError(f"{type(mode).__name__}.__torch_dispatch__ returned NotImplemented "
                           f"for {func}")
    return out


def _same(given: tuple, args: tuple) -> bool:
    """Whether ``args`` are the arguments a handler was given: the same tensors, equal
    options (an adapted call rebuilds its tuples)."""
    if len(given) != len(args):
        return False
    for a, b in zip(given, args):
        if a is b:
            continue
        if type(a) is not type(b) or hasattr(a, "_data") or hasattr(a, "dtype"):
            return False
        try:
            if not bool(a == b):
                return False
        except (TypeError, ValueError):
            return False
    return True


def _kernel(call: _Call):
    out = call.cls.apply(*call.args)
    if not call.record:
        return out
    call.recorded = out
    call.aliases = _map(out, lambda t: t.detach())
    return call.aliases


def _connect(call: _Call, out):
    """The handler's result as the op's recorded outputs."""
    if call.recorded is None:  # the handler never ran the op: record it without the modes
        state = _state
        state.off = True
        try:
            call.recorded = call.cls.apply(*call.args)
        finally:
            state.off = False
    recorded = _flat(call.recorded)
    given = _flat(out)
    aliases = _flat(call.aliases) if call.aliases is not None else [None] * len(recorded)
    if len(given) != len(recorded):
        raise RuntimeError(f"__torch_dispatch__ for {call.func} returned "
                           f"{len(given)} outputs, the op has {len(recorded)}")
    for rec, got, alias in zip(recorded, given, aliases):
        if got is alias or call.cls._is_view or not hasattr(got, "_data"):
            continue
        if tuple(got.shape) != tuple(rec.shape) or got.dtype != rec.dtype:
            raise RuntimeError(
                f"__torch_dispatch__ for {call.func} returned a tensor of "
                f"shape {tuple(got.shape)} and dtype {got.dtype} where the op gives "
                f"{tuple(rec.shape)} and {rec.dtype}")
        _rebind_output(rec, got._data)
    return call.recorded


def _rebind_output(tensor, data) -> None:
    """``tensor`` (an output just recorded) now holds ``data``; where its node saved it for
    backward, the node saves ``data`` instead, as PyTorch saves what the handler returned."""
    node = tensor.grad_fn
    saved = node._saved if node is not None else None
    if isinstance(saved, list):
        for s in saved:
            if s is not None and s.is_output and s.data is tensor._data:
                s.data = data
    tensor._data = data


def _flat(out) -> list:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _map(out, fn):
    if isinstance(out, (tuple, list)):
        return type(out)(fn(t) if hasattr(t, "_data") else t for t in out)
    return fn(out)
