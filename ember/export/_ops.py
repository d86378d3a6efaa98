"""The call targets of exported graphs: ``torch.ops.aten.<op>.<overload>`` names for ember's
public functions and Tensor methods, plus ``higher_order.cond`` and ``_assert_scalar``.

An :class:`OpOverload` prints as PyTorch's operator (``aten.add.Tensor``) and calls the ember
callable it was recorded from, named by its PyTorch path (``torch.Tensor.add``,
``torch.nn.functional.linear``): that path is also what a saved program stores, resolved on
load against ember's public namespaces only (see ``resolve_source``).
"""
from __future__ import annotations

import importlib
import operator
import re
import sys
from typing import Any, Callable

__all__ = ["OpOverload", "op_for", "resolve_source", "cond_op", "assert_scalar_op"]

# Binary ops whose PyTorch overload is ``.Tensor`` whatever the second operand (PyTorch wraps
# Python scalars into tensors for them) and ops that pick ``.Tensor`` or ``.Scalar`` by it.
_ALWAYS_TENSOR = {"add", "sub", "mul", "div", "add_", "sub_", "mul_", "div_", "rsub"}
_TENSOR_OR_SCALAR = {"eq", "ne", "lt", "le", "gt", "ge", "remainder", "fmod", "bitwise_and",
                     "bitwise_or", "bitwise_xor", "masked_fill", "masked_fill_", "fill_",
                     "floor_divide", "eq_", "ne_", "lt_", "le_", "gt_", "ge_", "copysign",
                     "logical_and", "logical_or", "where", "clamp_min", "clamp_max",
                     "remainder_", "fmod_"}
# Ops whose overload takes a dim argument when one is given.
_DIM_OVERLOAD = {"sum": "dim_IntList", "mean": "dim", "max": "dim", "min": "dim",
                 "squeeze": "dim", "std": "correction", "var": "correction", "prod": "dim_int",
                 "all": "dim", "any": "dim", "argmax": "default", "argmin": "default",
                 "logsumexp": "default", "cumsum": "default"}
_INT_OVERLOAD = {"transpose", "select", "unbind", "softmax", "log_softmax", "size",
                 "sym_size", "_softmax", "stride"}
_NAMED = {"split": "Tensor", "flatten": "using_ints", "to": "dtype", "pow": "Tensor_Scalar",
          "type_as": "default", "expand": "default", "repeat": "default"}
_DUNDER = {"__rsub__": "rsub", "__rtruediv__": "rdiv", "__rpow__": "rpow",
           "__rfloordiv__": "rfloordiv", "__rmod__": "rremainder", "__rmatmul__": "rmatmul",
           "__floordiv__": "floor_divide", "__pow__": "pow", "__and__": "bitwise_and",
           "__or__": "bitwise_or", "__xor__": "bitwise_xor", "__invert__": "bitwise_not",
           "__lshift__": "bitwise_left_shift", "__rshift__": "bitwise_right_shift",
           "__eq__": "eq", "__pos__": "positive", "__ipow__": "pow_",
           "__ifloordiv__": "floor_divide_", "__imod__": "remainder_", "__iand__":
           "bitwise_and_", "__ior__": "bitwise_or_", "__ixor__": "bitwise_xor_",
           "__imatmul__": "matmul_"}


class OpOverload:
    """``torch.ops.<namespace>.<name>.<overload>``: a graph target that calls ``fn``.

    ``source`` is the PyTorch path of the ember callable (None for export's own ops)."""

    def __init__(self, namespace: str, name: str, overload: str, fn: Callable,
                 source: str | None = None) -> None:
        self.namespace = namespace
        self.__name__ = name
        self.__qualname__ = f"{name}.{overload}"
        self.__module__ = f"torch.ops.{namespace}"  # so that Graph prints torch.ops.aten.x.y
        self._overloadname = overload
        self._fn = fn
        self.source = source
        self.tags = ()  # torch.Tag values (``nondeterministic_seeded`` for random ops)

    def __call__(self, *args, **kwargs):
        return self._fn(*args, **kwargs)

    # One operator, whichever ember callable runs it (``torch.add`` and ``Tensor.add`` are both
    # ``aten.add.Tensor``; a dispatch mode's ``func`` equals ``torch.ops.aten.<name>.<overload>``).
    def __eq__(self, other) -> bool:
        if not isinstance(other, OpOverload):
            return NotImplemented
        return (self.namespace, self.__qualname__) == (other.namespace, other.__qualname__)

    def __hash__(self) -> int:
        return hash((self.namespace, self.__qualname__))

    @property
    def overloadpacket(self):
        """``torch.ops.aten.<name>``."""
        import ember
        return getattr(getattr(ember.ops, self.namespace), self.__name__)

    _overloadpacket = overloadpacket

    def __deepcopy__(self, memo=None):
        return self  # one object per operator: tables keyed by it survive a deep copy

    def name(self) -> str:
        """``aten::add.Tensor``."""
        return f"{self.namespace}::{self.__name__}.{self._overloadname}"

    @property
    def qualified_name(self) -> str:
        """``torch.ops.aten.add.Tensor``: how printed code names it."""
        return f"torch.ops.{self.namespace}.{self.__qualname__}"

    def __repr__(self) -> str:
        return f"{self.namespace}.{self.__qualname__}"

    def __reduce__(self):
        if self.source is None:
            return (export_op, (self.__name__,))
        return (op_for, (self.source, self.__name__, self._overloadname))


_cache: dict[tuple, OpOverload] = {}


def op_for(source: str, name: str, overload: str) -> OpOverload:
    """The aten op named ``name.overload`` that calls the ember callable at ``source``."""
    key = (source, name, overload)
    op = _cache.get(key)
    if op is None:
        op = _cache[key] = OpOverload("aten", name, overload, resolve_source(source), source)
    return op


def aten_name(source: str, mutates_self: bool, kwargs: dict) -> str:
    """PyTorch's aten name of the op recorded from ``source`` (``relu_`` for
    ``F.relu(x, inplace=True)``, as PyTorch's training IR names it)."""
    attr = source.split(".")[-1]
    if source.startswith("prim:"):  # MaxPool2dFn -> max_pool2d
        name = re.sub(r"(Fn|Function|Op)$", "", attr.strip("_"))
        return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()
    if attr == "__get__":
        attr = source.split(".")[-2]
    attr = _DUNDER.get(attr, attr.strip("_") if attr.startswith("__") else attr)
    if mutates_self and kwargs.get("inplace") and not attr.endswith("_"):
        attr += "_"
    return attr


def overload_name(name: str, args: tuple, kwargs: dict) -> str:
    """PyTorch's overload for a call of ``name`` with these arguments (where practical)."""
    from ember._tensor import Tensor
    other = args[1] if len(args) > 1 else kwargs.get("other")
    if name in _ALWAYS_TENSOR:
        return "Tensor"
    if name in _TENSOR_OR_SCALAR:
        return "Tensor" if isinstance(other, Tensor) else "Scalar"
    if name in ("pow", "pow_"):
        return "Tensor_Tensor" if isinstance(other, Tensor) else "Tensor_Scalar"
    if name in _DIM_OVERLOAD:
        has_dim = len(args) > 1 or "dim" in kwargs
        return _DIM_OVERLOAD[name] if has_dim else "default"
    if name in _INT_OVERLOAD:
        return "int"
    return _NAMED.get(name, "default")


# ------------------------------------------------------------------------------------------------
# Sources: PyTorch paths of ember callables

_NAMESPACES = {"torch": "ember", "torch.nn.functional": "ember.nn.functional",
               "torch.linalg": "ember.linalg", "torch.special": "ember.special",
               "torch.fft": "ember.fft", "torch.nn.init": "ember.nn.init",
               "torch.functional": "ember.functional"}


def resolve_source(source: str) -> Callable:
    """The ember callable at the PyTorch path ``source``: a public function of ember's
    namespaces, a public method or operator of Tensor, or a Tensor property (``...T.__get__``,
    called as a getter). Anything else raises, so that loading runs no other code."""
    import ember
    if source.startswith("prim:"):
        return _primitive(source[5:])
    parts = source.split(".")
    if parts[:2] == ["torch", "Tensor"] and len(parts) in (3, 4):
        attr = parts[2]
        if (attr.startswith("_") and not attr.startswith("__")) or not hasattr(
                ember.Tensor, attr):
            raise ValueError(f"{source} is not a public Tensor method")
        if len(parts) == 4:
            if parts[3] != "__get__" or not isinstance(
                    getattr(ember.Tensor, attr, None), property):
                raise ValueError(f"{source} is not a Tensor property")
            return operator.attrgetter(attr)
        return getattr(ember.Tensor, attr)
    module, _, attr = source.rpartition(".")
    if module not in _NAMESPACES or attr.startswith("_") and attr != "_assert":
        raise ValueError(f"{source} is not one of ember's public functions")
    fn = getattr(importlib.import_module(_NAMESPACES[module]), attr, None)
    if not callable(fn) or isinstance(fn, type):
        raise ValueError(f"{source} is not one of ember's public functions")
    return fn


class _PrimitiveCall:
    """Calls ``cls.apply``: an ember autograd primitive recorded directly."""

    def __init__(self, cls: type) -> None:
        self.cls = cls

    def __call__(self, *args, **kwargs):
        return self.cls.apply(*args, **kwargs)


def _primitive(path: str) -> _PrimitiveCall:
    """The primitive class at ``ember.<module>.<qualname>`` (ember's own modules only)."""
    from ember.autograd.function import Function
    module_name, _, qualname = path.rpartition(".")
    while module_name and module_name not in sys.modules:
        module_name, _, outer = module_name.rpartition(".")
        qualname = f"{outer}.{qualname}"
    if not module_name.startswith("ember."):
        raise ValueError(f"{path} is not one of ember's primitives")
    obj: Any = importlib.import_module(module_name)
    for atom in qualname.split("."):
        obj = getattr(obj, atom)
    if not (isinstance(obj, type) and issubclass(obj, Function)):
        raise ValueError(f"{path} is not one of ember's primitives")
    return _PrimitiveCall(obj)


# ------------------------------------------------------------------------------------------------
# export's own ops


def _cond(pred, true_fn, false_fn, operands):
    """Run the branch ``pred`` picks on ``operands`` (a tuple of the branch's inputs)."""
    return true_fn(*operands) if bool(pred) else false_fn(*operands)


def _assert_scalar(cond: Any, msg: str) -> None:
    """Raise if a condition export relied on does not hold for these inputs."""
    if not bool(cond):
        raise RuntimeError(msg)


cond_op = OpOverload("higher_order", "cond", "default", _cond)
cond_op.__qualname__ = "cond"  # printed torch.ops.higher_order.cond, as PyTorch prints it
assert_scalar_op = OpOverload("aten", "_assert_scalar", "default", _assert_scalar)
_EXPORT_OPS = {"cond": cond_op, "_assert_scalar": assert_scalar_op}


def export_op(name: str) -> OpOverload:
    """``cond`` or ``_assert_scalar`` by name (for loading)."""
    if name not in _EXPORT_OPS:
        raise ValueError(f"unknown export op {name!r}")
    return _EXPORT_OPS[name]
