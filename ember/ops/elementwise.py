"""Pointwise arithmetic (add, mul, div, pow, ...), clamping, where, lerp and friends. Forward on
arrays, backward in ember ops beside it; the functional wrapper follows each primitive. The
math functions live in unary.py, comparisons and logic in compare.py."""
from __future__ import annotations

import builtins
import cmath
import math
import numbers
import warnings

import numpy as np

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive, broadcast_mismatch
from ember.autograd.grad_mode import _State
from ember.backend.device import get_array_module, zeros_as
from ember.backend.special import grad_where
from ember.backend.special import where as _where_arrays
from ember.ops._util import (
    _Meta,
    accepts_out,
    apply_out,
    c_type_name,
    cast,
    data_of,
    float_array,
    half_and_number,
    in_opmath,
    is_number,
    needs_grad,
    promote,
    refuse_cast_first,
    refuse_complex,
    scalar_name,
    scalar_operand,
    write_result,
)
from ember.ops.compare import isfinite, isnan, logical_not, logical_or, logical_xor  # noqa: F401
from ember.ops.inplace import check_castable, inplace, write_out

_xp = get_array_module  # numpy or cupy, whichever owns an operand


def _refuse_bool(a, b, kernel: str) -> None:
    """PyTorch has no bool kernel for these ops (operands already promoted to one dtype)."""
    if getattr(a if hasattr(a, "dtype") else b, "dtype", None) == np.bool_:
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")


def _check_division(a, b, kernel: str) -> None:
    """floor_divide/remainder/fmod operands (promoted to one dtype): no bool or complex kernel,
    and an integer division by zero raises, as in PyTorch (NumPy would warn and give 0)."""
    arr = a if hasattr(a, "dtype") else b
    kind = arr.dtype.kind
    if kind in "bc":
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{scalar_name(arr.dtype)}'")
    if kind in "iu" and not bool(_xp(arr).all(b != 0)):
        raise RuntimeError("ZeroDivisionError")


def select_grad(grad: Tensor, keep=None, *, drop=None) -> Tensor:
    """``grad`` where the array ``keep`` holds (or ``drop`` does not), else 0: the backward of a
    piecewise function, exact at inf and NaN gradients (see ``backend.special.grad_where``);
    differentiable in ``grad`` under create_graph."""
    if _State.enabled and grad.requires_grad:
        return grad.masked_fill(_make(~keep if drop is None else drop), 0)
    return _make(grad_where(grad._data, keep, drop=drop))


class ZeroDerivative(Primitive, node_name="ZeroDerivativeBackward"):
    """``result`` unchanged, recorded as also a function of ``anchor`` with zero derivative."""

    @staticmethod
    def forward(ctx, result, anchor):
        ctx.anchor = (anchor.shape, anchor.dtype)
        return result

    @staticmethod
    def backward(ctx, grad):
        shape, dtype = ctx.anchor
        return grad, _make(zeros_as(get_array_module(grad._data), grad._data, shape, dtype))


def with_saved_edge(result: Tensor, ctx, index: int = 0) -> Tensor:
    """A piecewise function's input gradient ``result``, under create_graph made a function of
    the saved tensor its mask or slope came from (``ctx.saved_tensors[index]``), with zero
    derivative: PyTorch's threshold_backward and kin keep that edge, so that a double backward
    gives the parameters before the activation zero gradients, not None."""
    if not _State.enabled:
        return result
    anchor = ctx.saved_tensors[index]
    if not (anchor.requires_grad or result.requires_grad):
        return result
    return ZeroDerivative.apply(result, anchor)


class NoDerivative(Primitive, node_name="NotImplemented"):
    """The array ``result``, recorded as a function of ``inputs`` through a backward formula
    PyTorch has no derivative for: differentiating it again raises."""

    @staticmethod
    def forward(ctx, result, name, *inputs):
        ctx.name = name
        return result

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError(f"derivative for aten::{ctx.name} is not implemented")


def without_derivative(result: Tensor, grad: Tensor, ctx, name: str) -> Tensor:
    """A backward's input gradient ``result`` that PyTorch computes with ``aten::<name>``, which
    has no derivative: under create_graph it still depends on ``grad`` and the saved input (the
    edges PyTorch's graph keeps), so that a double backward raises rather than giving None."""
    if not _State.enabled:
        return result
    inputs = [t for t in (grad, ctx.saved_tensors[0]) if t.requires_grad]
    if not inputs:
        return result
    return NoDerivative.apply(result._data, name, *inputs)


def _promoted(a, *others):
    """PyTorch's result NumPy dtype for array ``a`` with other arrays and Python numbers."""
    kind = a.dtype.kind
    for o in others:  # fast path: Python numbers that keep a's dtype (weak scalars)
        c = o.__class__
        if not (c is float and kind in "fc" or c is int and kind in "iufc"):
            return _dt.result_type(_Meta.of(a), *[_Meta.of(x) for x in others]).np_dtype
    return a.dtype


# ---------------------------------------------------------------------------------------------
# Arithmetic

class Add(Primitive, node_name="AddBackward0"):
    _scalar_edges = True

    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(a, b)
        return a + b

    @staticmethod
    def backward(ctx, grad):
        return grad, grad


def _check_alpha(input, other, alpha) -> None:
    """PyTorch refuses a float alpha for integer results and a bool one for non-bool results."""
    dtypes = [t.dtype for t in (input, other) if isinstance(t, Tensor)]
    if isinstance(alpha, bool):
        if not builtins.all(d is _dt.bool for d in dtypes):
            raise RuntimeError("Boolean alpha only supported for Boolean results.")
    elif isinstance(alpha, float) and not builtins.any(
            d.is_floating_point or d.is_complex for d in dtypes) and not isinstance(
                other, (float, complex)):
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating "
                           "point number.")


def _scalar_first(name: str, scalar, rest: tuple, kw: str):
    """PyTorch 1's ``add(Number alpha, Tensor other)`` / ``addcmul(Number value, Tensor, Tensor)``
    argument order, which PyTorch 2 still accepts with a warning (old tutorials update weights
    with ``p.data.add_(-lr, p.grad)``). Returns the tensors in their current order, then the
    scalar."""
    if not isinstance(scalar, numbers.Number):
        raise TypeError(f"{name}() received an invalid combination of arguments")
    warnings.warn(f"This overload of {name} is deprecated:\n\t{name}(Number {kw}, Tensor ...)"
                  f"\nConsider using {name}(..., *, {kw}=...) instead.", UserWarning,
                  stacklevel=3)
    return (*rest, scalar)


def add(input, other, *deprecated, alpha=1, out=None):
    """input + alpha * other, with broadcasting and PyTorch's type promotion."""
    if deprecated:
        other, alpha = _scalar_first("add", other, deprecated, "alpha")
    if alpha != 1 or isinstance(alpha, bool):
        other = _scaled(input, other, alpha)
    if out is not None:
        return write_out(out, Add.apply(input, other))
    return Add.apply(input, other)


def _scaled(input, other, alpha):
    """``alpha * other`` for add/add_ (a bool result: any nonzero alpha counts as True)."""
    _check_alpha(input, other, alpha)
    if isinstance(input, Tensor) and input.dtype is _dt.bool and isinstance(other, Tensor) \
            and other.dtype is _dt.bool:
        alpha = builtins.bool(alpha)
    return mul(other, alpha) if isinstance(other, Tensor) else other * alpha


def add_(input, other, *deprecated, alpha=1):
    if deprecated:
        other, alpha = _scalar_first("add_", other, deprecated, "alpha")
    if alpha != 1 or isinstance(alpha, bool):
        other = _scaled(input, other, alpha)
    return inplace(input, Add, other)


_BOOL = np.dtype(np.bool_)


def _is_bool(x) -> bool:
    return x.__class__ is bool or getattr(x, "dtype", None) is _BOOL


def _check_bool_sub(a, b) -> None:
    n_bool = _is_bool(a) + _is_bool(b)
    if not n_bool:
        return
    if n_bool == 2:
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                           "supported. Use the `^` or `logical_xor()` operator instead.")
    if n_bool:
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")


class Sub(Primitive, node_name="SubBackward0"):
    _scalar_edges = True

    @staticmethod
    def forward(ctx, a, b):
        _check_bool_sub(a, b)
        a, b = promote(a, b)
        return a - b

    @staticmethod
    def backward(ctx, grad):
        return grad, neg(grad)


def sub(input, other, *deprecated, alpha=1, out=None):
    """input - alpha * other, with broadcasting and PyTorch's type promotion."""
    if deprecated:
        other, alpha = _scalar_first("sub", other, deprecated, "alpha")
    if alpha != 1 or isinstance(alpha, bool):
        _check_alpha(input, other, alpha)
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    if out is not None:
        return write_out(out, Sub.apply(input, other))
    return Sub.apply(input, other)


def sub_(input, other, *deprecated, alpha=1):
    if deprecated:
        other, alpha = _scalar_first("sub_", other, deprecated, "alpha")
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    return inplace(input, Sub, other)


class Rsub(Primitive, node_name="RsubBackward1"):
    @staticmethod
    def forward(ctx, a, b):
        _check_bool_sub(a, b)
        a, b = promote(a, b)
        return b - a

    @staticmethod
    def backward(ctx, grad):
        return neg(grad), grad


def rsub(input, other, *, alpha=1):
    """other - alpha * input."""
    if alpha != 1:
        input = mul(input, alpha)
    if isinstance(other, Tensor):
        return Sub.apply(other, input)
    return Rsub.apply(input, other)


def _as_given(operand, promoted):
    """What a binary op saves of an operand: the array as given where it can require grad
    (a promoted copy would be a constant to double backward; the engine casts each gradient
    to its input's dtype), else the promoted one."""
    if operand is promoted:  # nothing was promoted: the common case
        return operand
    kind = getattr(operand, "dtype", None)
    return operand if kind is not None and kind.kind in "fcV" else promoted


class Mul(Primitive, node_name="MulBackward0"):
    _node_saved = {"self": 0, "other": (1, "scalar")}
    _scalar_edges = True

    @staticmethod
    def forward(ctx, a, b):
        x, y = promote(a, b)
        needs = ctx.needs_input_grad
        if needs:
            if b.__class__ is float or b.__class__ is int:  # (as given: unrounded)
                ctx.scalar = b  # nothing to save: the gradient is grad * b
            elif is_number(y):
                ctx.scalar = y
            else:
                ctx.scalar = None
                ctx.save_for_backward(
                    None if not needs[1] else a if a is x else _as_given(a, x),
                    None if not needs[0] else b if b is y else _as_given(b, y))
        if half_and_number(a, b):  # (the number as given: promote() may have rounded it)
            return in_opmath("multiply", a, b)
        return x * y

    @staticmethod
    def backward(ctx, grad):
        saved = ctx.saved_tensors  # read even for a scalar: it raises once the graph is freed
        scalar = ctx.scalar
        if scalar is not None:
            if isinstance(scalar, complex):  # the adjoint multiplies by the conjugate
                scalar = scalar.conjugate()
            if _State.enabled and grad.requires_grad:  # create_graph: differentiable in grad
                return grad * scalar, None
            # promote() made the scalar a Python number: weak, it keeps grad's dtype.
            if half_and_number(grad._data, scalar):
                return _make(in_opmath("multiply", grad._data, scalar)), None
            return _make(grad._data * scalar), None
        a, b = saved
        ga = _grad_times(grad, b) if ctx.needs_input_grad[0] else None
        gb = _grad_times(grad, a) if ctx.needs_input_grad[1] else None
        return ga, gb


def _grad_times(grad: Tensor, factor: Tensor) -> Tensor:
    """``grad * conj(factor)``: on the arrays when there is no graph to record and the two
    are real and of one dtype and array kind (what ``mul`` would compute, without its
    dispatch), else through ``mul``."""
    g, f = grad._data, factor._data
    if (not _State.enabled and g.dtype is f.dtype and g.__class__ is f.__class__
            and g.dtype.kind != "c"):
        return _make(g * f)
    return mul(grad, factor.conj() if factor.is_complex() else factor)


def mul(input, other, *, out=None):
    if out is not None:
        return write_out(out, Mul.apply(input, other))
    return Mul.apply(input, other)


def mul_(input, other):
    return inplace(input, Mul, other, saves_self=True)


class Div(Primitive, node_name="DivBackward0"):
    _node_saved = {"self": 0, "other": (1, "scalar")}
    _scalar_edges = True

    @staticmethod
    def forward(ctx, a, b):
        x, y = promote(a, b)
        if (x if hasattr(x, "dtype") else y).dtype.kind in "biu":  # x may be a Python number
            f = _dt.get_default_dtype().np_dtype
            x, y = cast(x, f), cast(y, f)
        out = x / y
        if ctx.needs_input_grad:
            ctx.scalar = y if is_number(y) else None
            ctx.save_for_backward(_as_given(a, x) if ctx.needs_input_grad[1] else None,
                                  _as_given(b, y) if ctx.scalar is None else None)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        if ctx.scalar is not None:
            scalar = ctx.scalar
            return grad / (scalar.conjugate() if isinstance(scalar, complex) else scalar), None
        # complex adjoints conjugate the partial derivatives (1 / b and -a / b^2)
        if b.is_complex():
            b = b.conj()
        ga = div(grad, b) if ctx.needs_input_grad[0] else None
        # -grad * ((a / b) / b), in PyTorch's order, which half types round step by step
        gb = neg(grad) * (div(a.conj() if a.is_complex() else a, b) / b) \
            if ctx.needs_input_grad[1] else None
        return ga, gb


def div(input, other, *, rounding_mode=None, out=None):
    """input / other; ``rounding_mode`` 'trunc' or 'floor' rounds the quotient."""
    if rounding_mode is None:
        result = Div.apply(input, other)
    elif rounding_mode == "floor":
        result = floor_divide(input, other)
    elif rounding_mode == "trunc":
        result = _rounded_div(input, other, "trunc")
    else:
        raise ValueError("div expected rounding_mode to be one of None, 'trunc', or 'floor' but "
                         f"found '{rounding_mode}'")
    return write_out(out, result) if out is not None else result


true_divide = div


def div_(input, other, *, rounding_mode=None):
    if rounding_mode is None:
        return inplace(input, Div, other, saves_self=True)
    return input.copy_(div(input, other, rounding_mode=rounding_mode))


def _rounded_div(a, b, rounding):
    da, db = data_of(a), data_of(b)
    da, db = promote(da, db)
    array = da if hasattr(da, "dtype") else db  # the other may be a Python number
    if array.dtype.kind in "biu":
        _check_division(da, db, "div_trunc_cpu")
        xp = _xp(array)
        q = xp.trunc(xp.true_divide(da, db)) if rounding == "trunc" else xp.floor_divide(da, db)
        return _make(xp.asarray(q).astype(array.dtype))
    return getattr(Div.apply(a, b), rounding)()


class Neg(Primitive, node_name="NegBackward0"):
    @staticmethod
    def forward(ctx, a):
        if a.dtype == np.bool_:
            raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. "
                               "If you are trying to invert a mask, use the `~` or "
                               "`logical_not()` operator instead.")
        return -a

    @staticmethod
    def backward(ctx, grad):
        return neg(grad)


def neg(input, *, out=None):
    return write_out(out, Neg.apply(input)) if out is not None else Neg.apply(input)


negative = neg


def neg_(input):
    return inplace(input, Neg)


def conj_derivative(derivative: Tensor) -> Tensor:
    """A complex derivative conjugated: PyTorch's gradients are ``grad * conj(f'(z))`` for a
    holomorphic ``f`` (a real derivative is returned as it is)."""
    return derivative.conj() if derivative.is_complex() else derivative


class PowScalar(Primitive, node_name="PowBackward0"):
    _node_saved = {"self": 0, "exponent": lambda ctx: ctx.exponent}

    @staticmethod
    def forward(ctx, given, exponent):
        # bool ** 2 is int64, int ** 0.5 float, int ** 1j complex64 (the default dtype's)
        a = given.astype(_promoted(given, exponent), copy=False)
        ctx.save_for_backward(_as_given(given, a))
        ctx.exponent = exponent
        if isinstance(exponent, complex):
            return a ** exponent
        if a.dtype.kind in "iu" and exponent < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        if a.dtype == np.bool_:  # x ** True is x, x ** False is True
            return _xp(a).logical_or(a, not exponent)
        if a.dtype.kind == "V" and exponent in (3, -2):
            # PyTorch's bfloat16 kernel forms these from products, each rounded to bfloat16
            square = (a * a).astype(a.dtype, copy=False)  # CuPy: bf16 * bf16 is f32
            power = square * a if exponent == 3 else 1 / square.astype(np.float32)
            return power.astype(a.dtype, copy=False)
        return a ** scalar_operand(exponent, a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        e = ctx.exponent
        if e == 0:
            return grad * 0
        return grad * conj_derivative(pow(a, e - 1) * e)


class PowTensor(Primitive, node_name="PowBackward1"):
    _node_saved = {"self": 0, "exponent": 1, "result": 2}

    @staticmethod
    def forward(ctx, a, b):
        x, y = promote(a, b)
        _refuse_bool(x, y, "pow")
        try:
            out = x ** y
        except ValueError:  # NumPy refuses integers to negative integer powers
            out = _int_power(x, y)
        ctx.save_for_backward(_as_given(a, x), _as_given(b, y), out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved_tensors
        if out.is_complex() and not a.is_complex():  # a negative real base's complex log
            a = a.to(out.dtype)
        zero = zeros_like_(out)
        ga = gb = None
        if ctx.needs_input_grad[0]:  # x ** 0 is constant, even at x = 0
            ga = grad * conj_derivative(where(b == 0, zero, b * pow(a, b - 1)))
        if ctx.needs_input_grad[1]:  # 0 ** y is constant for y >= 0 (PyTorch's convention)
            flat = (a == 0) & ((b.real if b.is_complex() else b) >= 0)
            gb = grad * conj_derivative(where(flat, zero, out * a.log()))
        return ga, gb


class RPow(Primitive, node_name="PowBackward2"):
    _node_saved = {"self": lambda ctx: ctx.base, "result": 0}

    @staticmethod
    def forward(ctx, exponent, base):
        base, exponent = promote(base, exponent)
        _refuse_bool(exponent, base, "pow")
        if exponent.dtype.kind in "biu" and isinstance(base, float):
            exponent = float_array(exponent)
        try:
            out = _xp(exponent).power(base, exponent)
        except ValueError:  # NumPy refuses integers to negative integer powers
            out = _int_power(base, exponent)
        ctx.save_for_backward(out)
        ctx.base = base
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        base = ctx.base
        if isinstance(base, complex):
            return grad * conj_derivative(out * cmath.log(base))
        if base > 0:
            return grad * conj_derivative(out) * math.log(base)
        if base < 0:  # log of a negative base: NaN, as in PyTorch
            return grad * float("nan")
        # 0 ** y: constant for y >= 0; for y < 0 (an infinite result) out * log(0) = -inf.
        return where(out.isinf(), grad * float("-inf"), grad * 0)


def _int_power(x, y):
    """Integer ``x ** y`` with some ``y`` negative, by PyTorch's rule for tensor exponents:
    powers of 1 and -1 as usual, 0 for every other base (0 included)."""
    xp = _xp(y)
    negative = y < 0
    out = xp.power(x, xp.where(negative, 0, y))
    unit = xp.where(y % 2 == 0, 1, x)  # (-1) ** y and 1 ** y
    return xp.where(negative, xp.where((x == 1) | (x == -1), unit, 0), out).astype(out.dtype)


def zeros_like_(t):
    return _make(t._xp.zeros_like(t._data))


def pow(input, exponent, *, out=None):  # noqa: A001
    """input ** exponent (either may be a number)."""
    if isinstance(input, Tensor):
        if isinstance(exponent, Tensor):
            result = PowTensor.apply(input, exponent)
        else:
            result = PowScalar.apply(input, exponent)
    else:
        result = RPow.apply(exponent, input)
    return write_out(out, result) if out is not None else result


def pow_(input, exponent):
    if isinstance(exponent, Tensor):
        return inplace(input, PowTensor, exponent, saves_self=True)
    return inplace(input, PowScalar, exponent, saves_self=True)


def float_power(input, exponent, *, out=None):
    """``pow`` in double precision: float64, or complex128 when either operand is complex."""
    dtype = _dt.float64
    for x in (input, exponent):
        if isinstance(x, complex) or isinstance(x, Tensor) and x.is_complex():
            dtype = _dt.complex128
    if out is not None and out.dtype is not dtype:  # no cast: out must hold the result's dtype
        raise RuntimeError(f"the output given to float_power has dtype {scalar_name(out.dtype)} "
                           f"but the operation's result requires dtype {scalar_name(dtype)}")
    input = input.to(dtype) if isinstance(input, Tensor) else input
    exponent = exponent.to(dtype) if isinstance(exponent, Tensor) else exponent
    result = pow(input, exponent)
    return result if out is None else write_result(out, result)


def square(input, *, out=None):
    result = pow(input, 2)
    return result if out is None else write_result(out, result)


class Reciprocal(Primitive, node_name="ReciprocalBackward0"):
    _node_saved = {"result": 0}

    @staticmethod
    def forward(ctx, a):
        out = 1 / float_array(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return neg(grad) * conj_derivative(out * out)


def reciprocal(input, *, out=None):
    result = Reciprocal.apply(input)
    return result if out is None else write_result(out, result)


def reciprocal_(input):
    return inplace(input, Reciprocal, saves_self=True)


class FloorDivide(Primitive, node_name="FloorDivideBackward0"):
    @staticmethod
    def forward(ctx, a, b):
        given = a, b
        a, b = promote(a, b)
        _check_division(a, b, "div_floor_cpu")
        dtype = (a if hasattr(a, "dtype") else b).dtype
        if _dt.is_half(dtype):
            # half: in float32, a Python number unrounded, the quotient rounded once (PyTorch)
            wide = [p.astype(np.float32) if hasattr(g, "dtype") else g
                    for g, p in zip(given, (a, b))]
            return _xp(a if hasattr(a, "dtype") else b).floor_divide(*wide).astype(dtype)
        return _xp(a if hasattr(a, "dtype") else b).floor_divide(a, b)

    @staticmethod
    def backward(ctx, grad):
        return grad * 0, None


def floor_divide(input, other, *, out=None):
    return apply_out(FloorDivide, input, other, out)


def floor_divide_(input, other):
    return inplace(input, FloorDivide, other)


class Remainder(Primitive, node_name="RemainderBackward0"):
    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(a, b)
        _check_division(a, b, "remainder_cpu")
        ctx.save_for_backward(a, b)
        return _xp(a if hasattr(a, "dtype") else b).remainder(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        gb = None
        if ctx.needs_input_grad[1]:
            gb = neg(grad) * floor_divide(a, b)
        return grad, gb


def remainder(input, other, *, out=None):
    return apply_out(Remainder, input, other, out)


def remainder_(input, other):
    return inplace(input, Remainder, other, saves_self=True)


class Fmod(Primitive, node_name="FmodBackward0"):
    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(a, b)
        _check_division(a, b, "fmod_cpu")
        ctx.save_for_backward(a, b)
        return _xp(a if hasattr(a, "dtype") else b).fmod(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        gb = neg(grad) * (a / b).trunc() if ctx.needs_input_grad[1] else None
        return grad, gb


def fmod(input, other, *, out=None):
    return apply_out(Fmod, input, other, out)


# ---------------------------------------------------------------------------------------------
# Clamping, selection, interpolation

class Clamp(Primitive, node_name="ClampBackward1"):
    _node_saved = {"self": 0, "min": lambda ctx: ctx.bounds[0], "max": lambda ctx: ctx.bounds[1]}

    @staticmethod
    def forward(ctx, a, lo, hi):
        a = a.astype(_promoted(a, *[b for b in (lo, hi) if b is not None]), copy=False)
        if a.dtype.kind in "bc":
            refuse_complex(a, "clamp is not supported for complex types")
            kernel = "clamp" if lo is not None and hi is not None else \
                "clamp_min" if lo is not None else "clamp_max"
            raise NotImplementedError(f"\"{kernel}_scalar_cpu\" not implemented for 'Bool'")
        out = clip_array(a, None if lo is None else cast(lo, a.dtype) if is_number(lo) else lo,
                         None if hi is None else cast(hi, a.dtype) if is_number(hi) else hi)
        ctx.save_for_backward(a)
        ctx.bounds = (lo, hi)
        return out.astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx._saved_arrays
        lo, hi = ctx.bounds
        return select_grad(grad, _within(a, data_of(lo), data_of(hi))), None, None


def clip_array(a, lo, hi):
    """``xp.clip(a, lo, hi)``, a bound of None left out. Its loop keeps -0.0 at a 0 bound and
    NaN, as PyTorch's clamp; so a float's missing bound is an infinity, as NumPy clips with
    one bound by maximum or minimum, whose choice between -0.0 and 0.0 varies by dtype.
    NumPy clips bfloat16 in float32 (exactly), whence the cast back."""
    xp = _xp(a)
    if xp is not np:  # CuPy: maximum and minimum, which have bfloat16 kernels (and keep NaN)
        out = a if lo is None else xp.maximum(a, lo)
        out = out if hi is None else xp.minimum(out, hi)
        return (a.copy() if out is a else out).astype(a.dtype, copy=False)
    if (lo is None or hi is None) and _dt.np_kind(a.dtype) == "f":
        if lo is None:
            lo = -math.inf
        else:
            hi = math.inf
    if a.__class__ is np.ndarray and not isinstance(lo, np.ndarray) \
            and not isinstance(hi, np.ndarray):  # number bounds: what np.clip calls
        return a.clip(lo, hi).astype(a.dtype, copy=False)
    return np.clip(a, lo, hi).astype(a.dtype, copy=False)


def _within(x, lo, hi):
    """Where ``lo <= x <= hi`` (bounds of None left out): where clamp passes its gradient to
    the input, which a NaN input or bound never does, as in PyTorch."""
    if lo is None:
        return x <= hi
    return x >= lo if hi is None else (x >= lo) & (x <= hi)


class ClampTensor(Primitive, node_name="ClampBackward0"):
    @staticmethod
    def forward(ctx, a, lo, hi):
        dtype = _promoted(a, *[b for b in (lo, hi) if b is not None])
        kind = np.dtype(dtype).kind
        if kind == "c":
            raise NotImplementedError("clamp is not supported for complex types")
        if kind == "b" and lo is not None and hi is not None:  # one bound: max or min, which
            raise NotImplementedError("\"clamp_cpu\" not implemented for 'Bool'")  # take bools
        out = clip_array(a.astype(dtype, copy=False), lo, hi)  # NumPy's clip keeps a's dtype
        ctx.save_for_backward(a, lo, hi)
        return out.astype(dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        """The input's gradient where ``lo <= x <= hi``; a bound's where it is the result:
        ``lo`` where ``x < lo < hi``, ``hi`` where ``x > hi`` or ``lo > hi`` (hi wins). A NaN
        anywhere passes no gradient, as in PyTorch."""
        a, lo, hi = (data_of(t) for t in ctx.saved_tensors)
        glo = ghi = None
        if ctx.needs_input_grad[1]:
            below = a < lo
            glo = select_grad(grad, below if hi is None else below & (lo < hi))
        if ctx.needs_input_grad[2]:
            above = a > hi
            ghi = select_grad(grad, above if lo is None else above | (lo > hi))
        return select_grad(grad, _within(a, lo, hi)), glo, ghi


# clamp_min and clamp_max compute as clamp does; PyTorch names their nodes apart
class ClampMin(Clamp, node_name="ClampMinBackward0"):
    _node_saved = {"self": 0, "min": lambda ctx: ctx.bounds[0]}


class ClampMax(Clamp, node_name="ClampMaxBackward0"):
    _node_saved = {"self": 0, "max": lambda ctx: ctx.bounds[1]}


class ClampMinTensor(ClampTensor, node_name="ClampMinBackward1"):
    pass


class ClampMaxTensor(ClampTensor, node_name="ClampMaxBackward1"):
    pass


def clamp(input, min=None, max=None, *, out=None):  # noqa: A002
    """Limit values to [min, max]; either bound may be a number, a Tensor or None."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    return _clamp(input, min, max, out, Clamp, ClampTensor)


def _clamp(input, lo, hi, out, prim, tensor_prim):
    """``prim`` for number bounds, ``tensor_prim`` where a bound is a Tensor; into ``out``."""
    if isinstance(lo, Tensor) or isinstance(hi, Tensor):
        _check_bound_kinds("clamp", input, lo, hi, out)
        try:
            result = tensor_prim.apply(input, lo, hi)
        except (NotImplementedError, TypeError):
            if not input.dtype.is_complex:  # PyTorch refuses a complex input before out
                refuse_cast_first(out, (input, lo, hi))
            raise
    else:
        if out is not None and not input.dtype.is_complex:
            _check_clamp_out(out, input, lo, hi)
        result = prim.apply(input, lo, hi)
    return write_out(out, result) if out is not None else result


def _check_bound_kinds(name: str, input, lo, hi, out=None) -> None:
    """PyTorch's overloads take two Tensor bounds or two numbers, never one of each."""
    if lo is None or hi is None or isinstance(lo, Tensor) == isinstance(hi, Tensor):
        return
    got = ", ".join("Tensor" if isinstance(a, Tensor) else type(a).__name__
                    for a in (input, lo, hi))
    if out is not None:
        got += ", out=Tensor"
    raise TypeError(f"{name}() received an invalid combination of arguments - got ({got}), but "
                    f"expected one of:\n * (Tensor input, Tensor min = None, Tensor max = None, "
                    f"*, Tensor out = None)\n * (Tensor input, Number min = None, Number max = "
                    f"None, *, Tensor out = None)\n")


def _check_clamp_out(out: Tensor, input: Tensor, *bounds) -> None:
    """With number bounds PyTorch casts nothing into ``out``: it must have the result's dtype,
    which a complex bound does not widen (the bound fails later); checked before the kernel."""
    dtype = _dt.result_type(input, *[b for b in bounds if b is not None
                                     and not isinstance(b, complex)])
    if out.dtype is not dtype:
        raise RuntimeError(f"Found dtype {scalar_name(out.dtype)} but expected "
                           f"{scalar_name(dtype)}")


clip = clamp


def clamp_(input, min=None, max=None):  # noqa: A002
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        _check_bound_kinds("clamp_", input, min, max)
        return inplace(input, ClampTensor, min, max, saves_self=True)
    return inplace(input, Clamp, min, max, saves_self=True)


def clamp_min(input, min, *, out=None):  # noqa: A002
    if min is None:
        raise TypeError("clamp_min() received an invalid combination of arguments: min is None")
    return _clamp(input, min, None, out, ClampMin, ClampMinTensor)


def clamp_max(input, max, *, out=None):  # noqa: A002
    if max is None:
        raise TypeError("clamp_max() received an invalid combination of arguments: max is None")
    return _clamp(input, None, max, out, ClampMax, ClampMaxTensor)


class Where(Primitive, node_name="WhereBackward0"):
    """Takes the condition as an array: PyTorch's node has no edge for it, only for the two
    values (a Python number among them included)."""
    _node_saved = {"condition": 0}
    _scalar_edges = True

    @staticmethod
    def forward(ctx, cond, a, b):
        a, b = promote(a, b)
        ctx.save_for_backward(cond)
        return _where_arrays(_xp(cond), cond, a, b)

    @staticmethod
    def backward(ctx, grad):
        (cond,) = ctx.saved_tensors
        zero = zeros_like_(grad)
        ga = where(cond, grad, zero) if ctx.needs_input_grad[1] else None
        gb = where(cond, zero, grad) if ctx.needs_input_grad[2] else None
        return None, ga, gb


_PY_NUMBERS = (int, float, complex)  # bool is an int


def where(condition, input=None, other=None, *, out=None):
    """Elements of ``input`` where ``condition`` holds, else of ``other``; with one argument,
    the indices of the True elements (as ``nonzero(as_tuple=True)``)."""
    if input is None and other is None:
        from ember.ops.indexing import nonzero
        result = nonzero(condition, as_tuple=True)
        return result if out is None else write_result(out, result)
    if condition.dtype is not _dt.bool:
        if condition.dtype is not _dt.uint8:  # uint8 is PyTorch's deprecated legacy mask
            raise RuntimeError("where expected condition to be a boolean tensor, but got a "
                               f"tensor with dtype {scalar_name(condition.dtype)}")
        condition = condition.bool()
    if isinstance(input, _PY_NUMBERS) and isinstance(other, _PY_NUMBERS):
        # Two Python numbers give PyTorch's dtype for them (a float is the default dtype), not
        # NumPy's float64: make the first a 0-d tensor of its own dtype.
        input = _make(condition._xp.asarray(input, _dt.scalar_dtype(input).np_dtype))
    result = Where.apply(condition._data, input, other)
    return result if out is None else write_result(out, result)


class Maximum(Primitive, node_name="MaximumBackward0"):
    _node_saved = {"self": 0, "other": 1}

    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(a, b)
        out = _xp(a).maximum(a, b)
        if out.dtype.kind == "c":  # NumPy orders complex numbers lexicographically
            raise RuntimeError("maximum not implemented for complex tensors.")
        ctx.save_for_backward(a, b)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx._saved_arrays
        return _extreme_grads(ctx, grad, a < b, a > b, a == b)


class Minimum(Primitive, node_name="MinimumBackward0"):
    _node_saved = {"self": 0, "other": 1}

    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(a, b)
        out = _xp(a).minimum(a, b)
        if out.dtype.kind == "c":
            raise RuntimeError("minimum not implemented for complex tensors.")
        ctx.save_for_backward(a, b)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx._saved_arrays
        return _extreme_grads(ctx, grad, a > b, a < b, a == b)


def _extreme_grads(ctx, grad, a_loses, b_loses, tie):
    """maximum/minimum's gradients (of arrays ``a_loses`` ...): each side gets ``grad`` unless
    it loses, half on ties, selected exactly (an inf gradient of a loser gives 0). A NaN loses
    no comparison, so both sides of a NaN get it, as in PyTorch."""
    if tie.any():
        scale = tie.astype(grad._data.dtype)
        scale *= -0.5
        scale += 1  # 1, or 0.5 on ties: exact scalings of grad
        grad = grad * _make(scale)
    ga = select_grad(grad, drop=a_loses) if ctx.needs_input_grad[0] else None
    gb = select_grad(grad, drop=b_loses) if ctx.needs_input_grad[1] else None
    return ga, gb


def maximum(input, other, *, out=None):
    result = Maximum.apply(input, other)
    return result if out is None else write_result(out, result)


def minimum(input, other, *, out=None):
    result = Minimum.apply(input, other)
    return result if out is None else write_result(out, result)


def _refuse_complex_pair(name: str, input, other) -> None:
    if input.is_complex() or isinstance(other, Tensor) and other.is_complex():
        raise RuntimeError(f"{name} not implemented for complex tensors.")


@accepts_out
def fmax(input, other):
    _refuse_complex_pair("fmax", input, other)
    return where(isnan(other) | (input >= other), input, other)


@accepts_out
def fmin(input, other):
    _refuse_complex_pair("fmin", input, other)
    return where(isnan(other) | (input <= other), input, other)



def _half_of(input, *others):
    """float16 or bfloat16 when ``input`` has it and the other tensors too (numbers aside)."""
    dtype = input.dtype
    if dtype.itemsize != 2 or not dtype.is_floating_point:
        return None
    for o in others:
        if isinstance(o, Tensor) and o.dtype is not dtype:
            return None
    return dtype


def _in_float32(op, half, *args, out=None, **kwargs):
    """``op`` on float32 copies of the tensors, rounded once to ``half``, as PyTorch's kernels
    compute half types."""
    result = op(*(a.float() if isinstance(a, Tensor) else a for a in args), **kwargs).to(half)
    return result if out is None else write_result(out, result)


def _check_lerp(input, end, weight) -> None:
    """PyTorch's lerp wants one floating or complex dtype for input, end and a weight tensor
    (a 0-d weight excepted): a mix would silently promote, an integer result has no kernel."""
    dtype = input.dtype
    for name, t in (("end", end), ("weight", weight)):
        if isinstance(t, Tensor) and t.dtype is not dtype and (name == "end" or t.ndim):
            raise RuntimeError(f"expected dtype {c_type_name(dtype)} for `{name}` but got "
                               f"dtype {c_type_name(t.dtype)}")
    if not (dtype.is_floating_point or dtype.is_complex):
        kernel = "tensor" if isinstance(weight, Tensor) else "scalar"
        raise NotImplementedError(f'"lerp_kernel_{kernel}" not implemented for '
                                  f"'{scalar_name(dtype)}'")


def _lerp_scalar(weight, input):
    """A number weight in ``input``'s dtype where that is single or double precision, as
    PyTorch converts it before ``1 - weight`` (half types keep it weak: they compute wider)."""
    if isinstance(weight, Tensor) or input._data.dtype.itemsize <= 2:
        return weight
    return input._data.dtype.type(weight)


def lerp(input, end, weight, *, out=None):
    """``input + weight * (end - input)`` where ``|weight| < 0.5``, else ``end - (end - input) *
    (1 - weight)``, as PyTorch computes it: exact at weight 1, and an infinite ``input`` with a
    large weight gives an infinity, not NaN."""
    _check_lerp(input, end, weight)
    half = _half_of(input, end, weight)
    if half is not None:
        return _in_float32(lerp, half, input, end, weight, out=out)
    weight = _lerp_scalar(weight, input)
    try:
        diff = end - input
    except RuntimeError as exc:  # PyTorch names input tensor a
        raise broadcast_mismatch((input.shape, end.shape)) or exc from None
    if isinstance(weight, Tensor):
        result = where(weight.abs() < 0.5, input + weight * diff, end - diff * (1 - weight))
    elif abs(weight) < 0.5:
        result = input + weight * diff
    else:
        result = end - diff * (1 - weight)
    return result if out is None else write_result(out, result)


def lerp_(input, end, weight):
    _check_lerp(input, end, weight)
    if not needs_grad(input, end, weight):
        a, b, w = input._data, data_of(end), data_of(_lerp_scalar(weight, input))
        diff = b - a
        if isinstance(weight, Tensor):
            result = input._xp.where(abs(w) < 0.5, a + w * diff, b - diff * (1 - w))
        else:
            result = a + w * diff if abs(w) < 0.5 else b - diff * (1 - w)
        a[...] = result
        input._bump_version()
        return input
    return input.copy_(lerp(input, end, weight))


def _addc_operands(input, tensor1, tensor2, value, kernel: str):
    """addcmul/addcdiv's tensors in their common dtype and ``value`` cast to it, as PyTorch
    computes them (mixed operands are promoted before the product, not after)."""
    dtype = input.dtype
    if tensor1.dtype is not dtype or tensor2.dtype is not dtype:
        dtype = _dt.result_type(input, tensor1, tensor2)
        input, tensor1, tensor2 = input.to(dtype), tensor1.to(dtype), tensor2.to(dtype)
    if not (dtype.is_floating_point or dtype.is_complex):
        if dtype is _dt.bool:
            raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")
        if isinstance(value, float):
            value = int(value)  # PyTorch converts value to the integer result type
    return input, tensor1, tensor2, value


_INEXACT = frozenset((_dt.float16, _dt.bfloat16, _dt.float32, _dt.float64, _dt.complex64,
                      _dt.complex128))


def _plain_addc(input, tensor1, tensor2) -> bool:
    """Whether addcmul/addcdiv's operands share one floating or complex dtype: nothing to
    promote, cast or refuse (the common case, checked first)."""
    dtype = input.dtype
    return dtype in _INEXACT and tensor1.dtype is dtype and tensor2.dtype is dtype


def addcmul(input, tensor1, tensor2, *deprecated, value=1, out=None):
    """input + value * tensor1 * tensor2."""
    if deprecated:
        tensor1, tensor2, value = _scalar_first("addcmul", tensor1, (tensor2, *deprecated),
                                                "value")
    if not _plain_addc(input, tensor1, tensor2):
        input, tensor1, tensor2, value = _addc_operands(input, tensor1, tensor2, value,
                                                        "addcmul_cpu_out")
    half = _half_of(input, tensor1, tensor2)
    if half is not None:
        return _in_float32(addcmul, half, input, tensor1, tensor2, value=value, out=out)
    try:
        result = input + value * tensor1 * tensor2 if value != 1 else input + tensor1 * tensor2
    except RuntimeError as exc:  # PyTorch broadcasts input, tensor1, tensor2 in that order
        raise broadcast_mismatch((input.shape, tensor1.shape, tensor2.shape)) or exc from None
    return result if out is None else write_result(out, result)


def addcmul_(input, tensor1, tensor2, *deprecated, value=1):
    if deprecated:
        tensor1, tensor2, value = _scalar_first("addcmul_", tensor1, (tensor2, *deprecated),
                                                "value")
    if _plain_addc(input, tensor1, tensor2) and input.dtype.itemsize > 2 \
            and not needs_grad(input, tensor1, tensor2):
        prod = tensor1._data * tensor2._data
        if value != 1:
            prod *= value
        input._data += prod
        input._bump_version()
        return input
    return _addc_into(input, addcmul(input, tensor1, tensor2, value=value))


def _addc_into(input, result):
    """Write an addcmul/addcdiv result into ``input``, which must be able to hold its dtype."""
    check_castable(input, result._data.dtype)
    return input.copy_(result)


_ADDCDIV_INT = ("Integer division with addcdiv is no longer supported, and in a future  "
                "release addcdiv will perform a true division of tensor1 and tensor2. The "
                "historic addcdiv behavior can be implemented as (input + value * "
                "torch.trunc(tensor1 / tensor2)).to(input.dtype) for integer inputs and as "
                "(input + value * tensor1 / tensor2) for float inputs. The future addcdiv "
                "behavior is just the latter implementation: (input + value * tensor1 / "
                "tensor2), for all dtypes.")


def _check_addcdiv(tensor1, tensor2) -> None:
    """PyTorch refuses two integer (or bool) divisors: addcdiv once divided them as integers."""
    if not (tensor1.dtype.is_floating_point or tensor1.dtype.is_complex
            or tensor2.dtype.is_floating_point or tensor2.dtype.is_complex):
        raise RuntimeError(_ADDCDIV_INT)


@accepts_out
def addcdiv(input, tensor1, tensor2, *deprecated, value=1):
    """input + value * tensor1 / tensor2."""
    if deprecated:
        tensor1, tensor2, value = _scalar_first("addcdiv", tensor1, (tensor2, *deprecated),
                                                "value")
    _check_addcdiv(tensor1, tensor2)
    if not _plain_addc(input, tensor1, tensor2):
        input, tensor1, tensor2, value = _addc_operands(input, tensor1, tensor2, value,
                                                        "addcdiv_cpu")
    half = _half_of(input, tensor1, tensor2)
    if half is not None:
        return _in_float32(addcdiv, half, input, tensor1, tensor2, value=value)
    return input + value * tensor1 / tensor2 if value != 1 else input + tensor1 / tensor2


def addcdiv_(input, tensor1, tensor2, *deprecated, value=1):
    if deprecated:
        tensor1, tensor2, value = _scalar_first("addcdiv_", tensor1, (tensor2, *deprecated),
                                                "value")
    _check_addcdiv(tensor1, tensor2)
    if _plain_addc(input, tensor1, tensor2) and input.dtype.itemsize > 2 \
            and not needs_grad(input, tensor1, tensor2):
        # (value * tensor1) / tensor2, in PyTorch's order: the same bits as addcdiv
        q = tensor1._data * value if value != 1 else tensor1._data
        input._data += q / tensor2._data
        input._bump_version()
        return input
    return _addc_into(input, addcdiv(input, tensor1, tensor2, value=value))


class Real(Primitive, node_name="RealBackward0"):
    _is_view = True

    @staticmethod
    def forward(ctx, a):
        return a.real

    @staticmethod
    def backward(ctx, grad):
        return grad


def real(input):
    return Real.apply(input) if input.is_complex() else input


class Imag(Primitive, node_name="ImagBackward0"):
    _is_view = True

    @staticmethod
    def forward(ctx, a):
        return a.imag

    @staticmethod
    def backward(ctx, grad):
        # L's gradient in z = x + iy is dL/dx + i dL/dy (PyTorch's convention): i * grad
        return grad * 1j


def imag(input):
    if not input.is_complex():
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return Imag.apply(input)


class Conj(Primitive, node_name="ConjBackward0"):
    @staticmethod
    def forward(ctx, a):
        return a.conj()

    @staticmethod
    def backward(ctx, grad):
        return conj(grad)


@accepts_out
def conj(input):
    """The complex conjugate (``input`` itself for a real tensor)."""
    if not input.is_complex():
        return input
    return Conj.apply(input)


conj_physical = conj


def resolve_conj(input):
    return input


def resolve_neg(input):
    return input


class Angle(Primitive, node_name="AngleBackward0"):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        xp = get_array_module(a)
        if a.dtype.kind == "c":
            return xp.angle(a)
        f = float_array(a)  # real: pi below 0, else 0 (-0.0 included), NaN kept, as PyTorch
        kind = f.dtype.type
        return xp.where(f < 0, kind(math.pi), xp.where(f == f, kind(0), f)).astype(
            f.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        if not a.is_complex():  # 0 or pi: flat
            return grad * 0
        # atan2(y, x): d/dx = -y / |z|^2, d/dy = x / |z|^2, as dL/dx + i dL/dy
        return grad * (a * 1j) / (a.abs() ** 2)


def angle(input, *, out=None):
    """The argument of each element (0 or pi for real inputs)."""
    result = Angle.apply(input)
    return result if out is None else write_result(out, result)


def nan_to_num(input, nan=0.0, posinf=None, neginf=None, *, out=None):
    xp = input._xp
    d = input._data
    if d.dtype.kind == "V":  # bfloat16: no nan_to_num loop; its own extremes, set in float32
        top = float(_dt.finfo_np(input.dtype).max)
        posinf, neginf = (top if posinf is None else posinf), (-top if neginf is None else neginf)
        res = xp.nan_to_num(d.astype(np.float32), nan=nan, posinf=posinf,
                            neginf=neginf).astype(d.dtype)
    else:
        res = xp.nan_to_num(d, nan=nan, posinf=posinf, neginf=neginf)
    if not input.requires_grad:
        result = _make(res)
        return result if out is None else write_result(out, result)
    result = where(_make(xp.isfinite(d)), input, _make(res))
    return result if out is None else write_result(out, result)


def nan_to_num_(input, nan=0.0, posinf=None, neginf=None):
    return input.copy_(nan_to_num(input, nan, posinf, neginf))
