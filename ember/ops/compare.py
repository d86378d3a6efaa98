"""Comparisons, logic and bitwise ops, and the elementwise predicates (isnan, isclose, ...).
Never differentiable: results are bool (or the bitwise operands' integer dtype)."""
from __future__ import annotations

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.autograd.function import _broadcast_error
from ember.backend.device import get_array_module
from ember.ops._util import (
    accepts_out,
    array_dtype,
    data_of,
    promote,
    result_dtype,
    scalar_name,
    write_result,
)
from ember.ops.inplace import write_out


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


def _bitwise(name, input, other=None):
    if not isinstance(input, Tensor):  # a number first (``5 << t``): a 0-d operand
        input = _make(other._xp.asarray(input))
    for x in (input, other):
        if isinstance(x, float) or isinstance(x, Tensor) and (x.is_floating_point()
                                                              or x.is_complex()):
            kernel = _KERNELS.get(name, name)
            dtype = _dt.promote_types(input.dtype, x.dtype) if isinstance(x, Tensor) \
                else _dt.get_default_dtype()
            raise NotImplementedError(f'"{kernel}_cpu" not implemented for '
                                      f"'{scalar_name(dtype)}'")
    if other is None:
        return _make(getattr(input._xp, name)(input._data))
    a, b = promote(input._data, data_of(other))
    return _make(_broadcasting(getattr(input._xp, name), a, b))


@accepts_out
def bitwise_not(input):
    return _bitwise("invert", input)


def bitwise_and(input, other, *, out=None):
    result = _bitwise("bitwise_and", input, other)
    return result if out is None else write_result(out, result)


def bitwise_or(input, other):
    return _bitwise("bitwise_or", input, other)


@accepts_out
def bitwise_xor(input, other):
    return _bitwise("bitwise_xor", input, other)


@accepts_out
def bitwise_left_shift(input, other):
    return _bitwise("left_shift", input, other)


@accepts_out
def bitwise_right_shift(input, other):
    return _bitwise("right_shift", input, other)


def _bitwise_inplace(fn, input, other):
    result = fn(input, other)
    if result.dtype is not input.dtype and _dt.promote_types(input.dtype, result.dtype) \
            is not input.dtype:
        raise RuntimeError(f"result type {result.dtype} can't be cast to the desired output "
                           f"type {input.dtype}")
    input._data[...] = result._data
    input._bump_version()
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


@accepts_out
def isposinf(input):
    return _make(input._xp.isposinf(input._data))


@accepts_out
def isneginf(input):
    return _make(input._xp.isneginf(input._data))


def isreal(input):
    return _make(input._xp.isreal(input._data))


@accepts_out
def signbit(input):
    return _make(input._xp.signbit(input._data))


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


def isin(elements, test_elements, *, assume_unique: bool = False,
         invert: bool = False) -> Tensor:
    """True where an element of ``elements`` occurs in ``test_elements`` (either may be a
    Python number); ``invert`` gives the complement."""
    like = elements if isinstance(elements, Tensor) else test_elements
    xp = like._xp
    a = data_of(elements) if isinstance(elements, Tensor) else xp.asarray(elements)
    b = data_of(test_elements) if isinstance(test_elements, Tensor) else \
        xp.asarray(test_elements)
    return _make(xp.isin(a, b, assume_unique=assume_unique, invert=invert))


del array_dtype, result_dtype
