"""Comparisons, logic and bitwise ops, and the elementwise predicates (isnan, isclose, ...).
Never differentiable: results are bool (or the bitwise operands' integer dtype)."""
from __future__ import annotations

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.autograd.function import _broadcast_error
from ember.backend.device import get_array_module
from ember.ops._util import (
    array_dtype,
    data_of,
    promote,
    result_dtype,
    scalar_name,
)
from ember.ops.indexing import check_out_dtype
from ember.ops.inplace import _refuse_cast, _write, check_castable, write_out


def _xp(a):
    return get_array_module(a)


# ---------------------------------------------------------------------------------------------
# Comparison and logic: never differentiable, results are bool.

def eq(input, other, *, out=None):
    """Elementwise ``input == other`` (bool)."""
    return _cmp("equal", input, other, out)


def ne(input, other, *, out=None):
    return _cmp("not_equal", input, other, out)


def lt(input, other, *, out=None):
    return _cmp("less", input, other, out, "lt")


def le(input, other, *, out=None):
    return _cmp("less_equal", input, other, out, "le")


def gt(input, other, *, out=None):
    return _cmp("greater", input, other, out, "gt")


def ge(input, other, *, out=None):
    return _cmp("greater_equal", input, other, out, "ge")


less, less_equal, greater, greater_equal, not_equal = lt, le, gt, ge, ne


def _cmp(name, input, other, out, ordering=None):
    """``ordering``: PyTorch's name of an order comparison, which complex inputs refuse."""
    if other is None or isinstance(other, (str, list, tuple)) and not isinstance(input, Tensor):
        return NotImplemented
    a, b = promote(data_of(input), data_of(other))
    arr = a if hasattr(a, "dtype") else b
    if ordering is not None and arr.dtype.kind == "c":
        raise NotImplementedError(f"\"{ordering}_cpu\" not implemented for "
                                  f"'{scalar_name(arr.dtype)}'")
    xp = _xp(arr)
    result = _make(_broadcasting(getattr(xp, name), a, b))
    return write_out(out, result) if out is not None else result


def _broadcasting(fn, a, b):
    """``fn(a, b)`` for the ops that are not Primitives, with PyTorch's broadcast error."""
    try:
        return fn(a, b)
    except ValueError as exc:
        raise _broadcast_error((a, b), exc) from None


def _logic(name, input, other=None, out=None):
    """A boolean result (written into ``out``, in its dtype, if given)."""
    xp = input._xp
    if other is None:
        result = _make(getattr(xp, name)(input._data))
    else:
        result = _make(_broadcasting(getattr(xp, name), input._data, data_of(other)))
    return write_out(out, result) if out is not None else result


def logical_not(input, *, out=None):
    return _logic("logical_not", input, out=out)


def logical_and(input, other, *, out=None):
    return _logic("logical_and", input, other, out)


def logical_or(input, other, *, out=None):
    return _logic("logical_or", input, other, out)


def logical_xor(input, other, *, out=None):
    return _logic("logical_xor", input, other, out)


# PyTorch's kernel names, which its "not implemented for 'Float'" errors quote.
_KERNELS = {"invert": "bitwise_not", "left_shift": "lshift", "right_shift": "rshift"}
_SHIFTS = frozenset(("left_shift", "right_shift"))


def _bitwise(name, input, other=None, out=None):
    if not isinstance(input, Tensor):  # a number first (``5 << t``): a 0-d operand
        input = _make(other._xp.asarray(input))
    for x in (input, other):
        if isinstance(x, (float, complex)) or isinstance(x, Tensor) and (
                x.is_floating_point() or x.is_complex()):
            raise _no_kernel(name, input, other, out)
    if other is None:
        result = _make(getattr(input._xp, name)(input._data))
    else:
        a, b = promote(input._data, data_of(other))
        if name in _SHIFTS and (a if hasattr(a, "dtype") else b).dtype.kind == "b":
            raise _no_kernel(name, input, other, out)  # PyTorch shifts no bools
        result = _make(_broadcasting(getattr(input._xp, name), a, b))
    return result if out is None else write_out(out, result)


def _no_kernel(name, input, other, out) -> NotImplementedError:
    """PyTorch's error for a bitwise op without a kernel for its operands' dtype; where ``out``
    cannot hold that dtype, the cast's error, which PyTorch checks first."""
    dtype = _dt.result_type(input) if other is None else _dt.result_type(input, other)
    if out is not None:
        _refuse_cast(out, dtype)
    return NotImplementedError(f'"{_KERNELS.get(name, name)}_cpu" not implemented for '
                               f"'{scalar_name(dtype)}'")


def bitwise_not(input, *, out=None):
    if out is not None and out.dtype is not input.dtype:  # PyTorch casts no result here
        raise RuntimeError(f"Found dtype {scalar_name(out.dtype)} but expected "
                           f"{scalar_name(input.dtype)}")
    return _bitwise("invert", input, out=out)


def bitwise_and(input, other, *, out=None):
    return _bitwise("bitwise_and", input, other, out)


def bitwise_or(input, other, *, out=None):
    return _bitwise("bitwise_or", input, other, out)


def bitwise_xor(input, other, *, out=None):
    return _bitwise("bitwise_xor", input, other, out)


def bitwise_left_shift(input, other, *, out=None):
    return _bitwise("left_shift", input, other, out)


def bitwise_right_shift(input, other, *, out=None):
    return _bitwise("right_shift", input, other, out)


def _bitwise_inplace(fn, input, other):
    """``input`` op= ``other``: the result is cast back to ``input``'s dtype, as PyTorch does
    (``uint8 &= int32`` stays uint8), unless its dtype is of a higher category."""
    try:
        result = fn(input, other)
    except NotImplementedError:
        _refuse_cast(input, _dt.result_type(input, other))  # PyTorch checks the cast first
        raise
    check_castable(input, result._data.dtype)
    _write(input, result._data)
    return input


def bitwise_and_(input, other):
    return _bitwise_inplace(bitwise_and, input, other)


def bitwise_or_(input, other):
    return _bitwise_inplace(bitwise_or, input, other)


def bitwise_xor_(input, other):
    return _bitwise_inplace(bitwise_xor, input, other)


def isnan(input):
    return _make(input._xp.isnan(input._data))


def isinf(input):
    return _make(input._xp.isinf(input._data))


def isfinite(input):
    return _make(input._xp.isfinite(input._data))


def isposinf(input, *, out=None):
    return _bool_predicate("isposinf", input, out, RuntimeError("isposinf does not support "
                                                                 "complex inputs."))


def isneginf(input, *, out=None):
    return _bool_predicate("isneginf", input, out, RuntimeError("isneginf does not support "
                                                                 "complex inputs."))


def isreal(input):
    return _make(input._xp.isreal(input._data))


def signbit(input, *, out=None):
    return _bool_predicate("signbit", input, out, NotImplementedError(
        "signbit is not implemented for complex tensors."))


def _bool_predicate(name, input, out, complex_error):
    """A predicate without complex kernels, whose ``out`` must be bool (nothing is cast)."""
    if input._data.dtype.kind == "c":
        raise complex_error
    if out is not None and out.dtype is not _dt.bool:
        raise RuntimeError(f"{name} does not support non-boolean outputs.")
    result = _make(getattr(input._xp, name)(input._data))
    return result if out is None else write_out(out, result)


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    if rtol < 0 or atol < 0:
        name, value = ("rtol", rtol) if rtol < 0 else ("atol", atol)
        raise RuntimeError(f"{name} must be greater than or equal to zero, but got {value}")
    a, b = promote(input._data, data_of(other))
    try:
        return _make(input._xp.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))
    except ValueError as exc:
        raise _broadcast_error((a, b), exc) from None


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    return bool(isclose(input, other, rtol, atol, equal_nan).all())


def equal(input, other) -> bool:
    """True if both tensors have the same size and elements."""
    if tuple(input.shape) != tuple(other.shape):
        return False
    return bool((input._data == other._data).all())


def isin(elements, test_elements, *, assume_unique: bool = False, invert: bool = False,
         out: Tensor | None = None) -> Tensor:
    """True where an element of ``elements`` occurs in ``test_elements`` (either may be a
    Python number); ``invert`` gives the complement. ``out`` must be bool."""
    like = elements if isinstance(elements, Tensor) else test_elements
    xp = like._xp
    a = data_of(elements) if isinstance(elements, Tensor) else xp.asarray(elements)
    b = data_of(test_elements) if isinstance(test_elements, Tensor) else \
        xp.asarray(test_elements)
    for x in (a, b):
        if x.dtype.kind in "bc":
            raise RuntimeError(f"Unsupported input type encountered for isin(): "
                               f"{scalar_name(x.dtype)}")
    result = _make(xp.isin(a, b, assume_unique=assume_unique, invert=invert))
    if out is None:
        return result
    check_out_dtype(out, _dt.bool)
    return write_out(out, result)


del array_dtype, result_dtype
