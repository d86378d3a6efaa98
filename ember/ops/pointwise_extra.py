"""Pointwise ops composed from the primitives of unary.py and elementwise.py (angle conversions,
sinc, ldexp, logaddexp2), a few primitives of their own (copysign, the Bessel function i0, the
incomplete gamma functions, and the bit-level nextafter and frexp, whose gradients are PyTorch's;
heaviside, recorded without a derivative as in PyTorch), and the integer ops gcd and lcm."""
from __future__ import annotations

import math

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive
from ember.backend.special import special
from ember.ops._util import (
    accepts_out,
    data_of,
    float_array,
    promote,
    result_dtype,
    scalar_name,
    write_result,
)
from ember.ops.compare import _broadcasting, isfinite
from ember.ops.elementwise import _xp, div, maximum, mul, pow, sub, where
from ember.ops.unary import _no_kernel, exp, exp2, inexact_pair, lgamma, log, log2, sin
from ember.return_types import _return_type

frexp_type = _return_type("frexp", ["mantissa", "exponent"])


def _floating(input: Tensor) -> Tensor:
    """Integer and bool tensors as the default float dtype (PyTorch's float ops do this)."""
    if input.is_floating_point() or input.is_complex():
        return input
    return input.to(_dt.get_default_dtype())


# PyTorch's NumPy-style names.
divide = div
multiply = mul
subtract = sub


def positive(input: Tensor) -> Tensor:
    """``input`` itself (PyTorch's unary plus); refuses bool tensors as PyTorch does."""
    if input.dtype is _dt.bool:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


def _real_floating(input: Tensor, name: str) -> Tensor:
    if input.dtype.is_complex:
        raise RuntimeError(f"{name} is not supported for complex tensors.")
    return _floating(input)


@accepts_out
def deg2rad(input: Tensor) -> Tensor:
    """Angles in degrees to radians."""
    return _real_floating(input, "deg2rad") * (math.pi / 180.0)


@accepts_out
def rad2deg(input: Tensor) -> Tensor:
    """Angles in radians to degrees."""
    return _real_floating(input, "rad2deg") * (180.0 / math.pi)


@accepts_out
def sinc(input: Tensor) -> Tensor:
    """The normalized sinc, sin(pi x) / (pi x), with sinc(0) = 1."""
    x = _floating(input)
    zero = x == 0
    # A safe denominator keeps the untaken branch (and its gradient) finite at 0.
    safe = where(zero, 1.0, x) * math.pi
    return where(zero, 1.0, sin(safe) / safe)


class Copysign(Primitive, node_name="CopysignBackward0"):
    """copysign(x, y): its derivative in x is sign(x) sign(result) (0 at x = 0); in y it is 0,
    a zero gradient as PyTorch gives."""

    @staticmethod
    def forward(ctx, a, b):
        out = _xp(a).copysign(a, b).astype(a.dtype, copy=False)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        gb = grad.new_zeros(grad.shape) if ctx.needs_input_grad[1] else None
        return grad * (a.sign() * out.sign()), gb


class CopysignScalar(Copysign, node_name="CopysignBackward1"):
    """copysign(x, number)."""


@accepts_out
def copysign(input: Tensor, other) -> Tensor:
    """|input| with the sign of ``other`` (a float result; -0.0 counts as negative)."""
    if not isinstance(other, Tensor):
        if input.dtype.is_complex or isinstance(other, complex):
            raise _no_kernel("copysign_cpu", _dt.result_type(input, other))
        return CopysignScalar.apply(_floating(input), float(other))
    dtype = _float_result(input, other, "copysign_cpu")
    return Copysign.apply(input.to(dtype), other)


def _float_result(input: Tensor, other: Tensor, kernel: str) -> _dt.dtype:
    """The promoted dtype of two tensors, made floating (an integer pair computes in the
    default dtype, an integer and a half tensor in the half type); no complex kernel."""
    dtype = result_dtype(input._data, other._data)
    if dtype.is_complex:
        raise _no_kernel(kernel, dtype)
    return dtype if dtype.is_floating_point else _dt.get_default_dtype()


@accepts_out
def ldexp(input, other) -> Tensor:
    """input * 2 ** other, in the two operands' promoted (floating) dtype: 2 ** other is
    float32 for an integer ``other``, which must not widen a half ``input``."""
    if not isinstance(other, Tensor):
        return _floating(input) * pow(2.0, other)
    dtype = result_dtype(input._data, other._data)
    if not (dtype.is_floating_point or dtype.is_complex):
        dtype = _dt.get_default_dtype()
    elif input.dtype.is_floating_point and other.dtype is _dt.bool:
        raise _no_kernel("ldexp_cpu_exp", other.dtype)  # PyTorch's float-by-int kernel
    elif dtype.is_complex:
        # PyTorch raises a complex 2 to ``other``: ComplexHalf for float16, which has no pow
        # kernel, and complex64 (not a rounded bfloat16 power) for bfloat16
        if other.dtype is _dt.float16:
            raise NotImplementedError("\"pow\" not implemented for 'ComplexHalf'")
        return input.to(dtype) * pow(2.0 + 0j, other.to(dtype))
    return input.to(dtype) * pow(2.0, other).to(dtype)


@accepts_out
def logaddexp2(input, other) -> Tensor:
    """log2(2 ** input + 2 ** other), without overflow."""
    input, other = inexact_pair(input, other, "logaddexp2_cpu")
    if input.dtype.is_complex or isinstance(other, Tensor) and other.dtype.is_complex:
        raise _no_kernel("logaddexp2_cpu", _dt.result_type(input, other))
    m = maximum(input, other).detach()
    m = where(isfinite(m), m, _make(m._xp.zeros((), m._data.dtype)))
    return m + log2(exp2(input - m) + exp2(other - m))


def mvlgamma(input: Tensor, p: int, *, out: Tensor | None = None) -> Tensor:
    """The multivariate log-gamma function of dimension ``p`` (defined for inputs above
    (p-1)/2; PyTorch 2.13 no longer refuses the others: their terms are log |gamma|)."""
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    if input.dtype is _dt.bool:
        raise RuntimeError("The input tensor may not be a boolean tensor.")
    if input.dtype.is_complex:  # PyTorch fails making the p offsets, before it looks at out
        raise _no_kernel("arange_cpu", input.dtype)
    x = _floating(input)
    if out is not None and x.dtype._category > out.dtype._category:
        # (PyTorch's message names the input's dtype, then the result's, not out's)
        raise RuntimeError(f"mvlgamma: result type {scalar_name(input.dtype)} can't be cast to "
                           f"the desired output type {scalar_name(x.dtype)}")
    # the p terms summed in one reduction: half types accumulate it in float32, as PyTorch does
    halves = _make((_xp(x._data).arange(p) / 2).astype(x._data.dtype))
    terms = lgamma(x.unsqueeze(-1) - halves)
    result = terms.sum(-1) + p * (p - 1) / 4 * math.log(math.pi)
    return result if out is None else write_result(out, result)


class I0(Primitive, node_name="I0Backward0"):
    @staticmethod
    def forward(ctx, a):
        a = float_array(a)
        if a.dtype.kind == "c":
            raise _no_kernel("i0_vml_cpu", a.dtype)
        ctx.save_for_backward(a)
        return special(_xp(a)).i0(a).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * I1.apply(a)


class I1(Primitive, node_name="SpecialI1Backward0"):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return special(_xp(a)).i1(a).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        # i1'(x) = i0(x) - i1(x) / x, with the limit 1/2 at 0.
        (a,) = ctx.saved_tensors
        zero = a == 0
        safe = where(zero, 1.0, a)
        return grad * where(zero, 0.5, I0.apply(a) - I1.apply(a) / safe)


@accepts_out
def i0(input: Tensor) -> Tensor:
    """The modified Bessel function of the first kind, order 0."""
    return I0.apply(input)


# ---------------------------------------------------------------------------------------------
# Without gradient: integer arithmetic and bit-level float ops


def _no_grad_binary(name: str, input, other) -> Tensor:
    a, b = promote(data_of(input), data_of(other))
    xp = _xp(a if hasattr(a, "dtype") else b)
    return _make(_broadcasting(getattr(xp, name), a, b))


@accepts_out
def gcd(input: Tensor, other: Tensor) -> Tensor:
    """Greatest common divisor, elementwise (integer tensors)."""
    _check_integer(input, other, "gcd_cpu")
    return _no_grad_binary("gcd", input, other)


@accepts_out
def lcm(input: Tensor, other: Tensor) -> Tensor:
    """Least common multiple, elementwise (integer tensors)."""
    _check_integer(input, other, "lcm_cpu")
    return _no_grad_binary("lcm", input, other)


def _check_integer(input: Tensor, other, kernel: str) -> None:
    """gcd and lcm have kernels for integer dtypes only (a bool pair has none)."""
    dtype = _dt.result_type(input, other)
    if dtype.is_floating_point or dtype.is_complex or dtype is _dt.bool:
        raise _no_kernel(kernel, dtype)


class Heaviside(Primitive, node_name="NotImplemented"):
    """PyTorch records heaviside in the graph but has no derivative for it: backward raises."""

    @staticmethod
    def forward(ctx, a, v):
        a, v = promote(a, v)
        # Not NumPy's heaviside: that gives float64 for integers and NaN for NaN (PyTorch: 0).
        return _xp(a if hasattr(a, "dtype") else v).where(a == 0, v, a > 0).astype(a.dtype)

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("derivative for aten::heaviside is not implemented")


@accepts_out
def heaviside(input: Tensor, values: Tensor) -> Tensor:
    """0 where input < 0, ``values`` where input == 0, 1 where input > 0."""
    if isinstance(values, Tensor) and values.dtype is not input.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different "
                           "dtypes")
    if input.dtype.is_complex:
        raise RuntimeError("heaviside is not yet implemented for complex tensors.")
    return Heaviside.apply(input, values)


def _check_floating(a, b, kernel: str) -> None:
    """Operands promoted to one dtype: these kernels take real floating dtypes only."""
    dtype = (a if hasattr(a, "dtype") else b).dtype
    if dtype.kind not in "fV":  # V: bfloat16
        raise _no_kernel(kernel, dtype)


class Nextafter(Primitive, node_name="NextafterBackward0"):
    """The step to the next float counts as no change: PyTorch's gradient is ``grad`` for
    ``input`` and 0 for ``other``."""

    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(a, b)
        _check_floating(a, b, "nextafter_cpu")
        return _xp(a if hasattr(a, "dtype") else b).nextafter(a, b)

    @staticmethod
    def backward(ctx, grad):
        return grad, grad.new_zeros(grad.shape) if ctx.needs_input_grad[1] else None


@accepts_out
def nextafter(input: Tensor, other: Tensor) -> Tensor:
    """The next representable float after ``input`` towards ``other``."""
    return Nextafter.apply(input, other)


def _gamma_density(ctx, grad, name: str) -> Tensor:
    """x^(a-1) e^(-x) / Gamma(a), the derivative of P(a, x) in x; PyTorch has none in a."""
    if ctx.needs_input_grad[0]:
        raise NotImplementedError(f"the derivative for '{name}: input' is not implemented.")
    a, x = ctx.saved_tensors
    return grad * exp((a - 1) * log(x) - x - lgamma(a))


def _infinite_edges(xp, p, a, x, lower: bool):
    """PyTorch's P (``lower``) or Q at an infinite argument, even when the other is NaN:
    a = inf gives P = 0, x = inf gives P = 1 (SciPy: NaN with a NaN partner)."""
    a, x = xp.asarray(a), xp.asarray(x)
    a_inf, x_inf = a == math.inf, x == math.inf
    if not (a_inf.any() or x_inf.any()):
        return p
    p = xp.where(a_inf & ~xp.isinf(x), 0.0 if lower else 1.0, p)
    return xp.where(x_inf & ~xp.isinf(a), 1.0 if lower else 0.0, p).astype(p.dtype, copy=False)


class Igamma(Primitive, node_name="IgammaBackward0"):
    _node_saved = {"self": 0, "other": 1}

    @staticmethod
    def forward(ctx, a, x):
        a, x = promote(a, x)
        _check_floating(a, x, "igamma_cpu")
        ctx.save_for_backward(a, x)
        xp = _xp(a)
        p = special(xp).gammainc(a, x).astype(a.dtype, copy=False)  # half types widen
        return _infinite_edges(xp, p, a, x, True)

    @staticmethod
    def backward(ctx, grad):
        return None, _gamma_density(ctx, grad, "igamma")


class Igammac(Primitive, node_name="IgammacBackward0"):
    _node_saved = {"self": 0, "other": 1}

    @staticmethod
    def forward(ctx, a, x):
        a, x = promote(a, x)
        _check_floating(a, x, "igammac_cpu")
        ctx.save_for_backward(a, x)
        xp = _xp(a)
        q = special(xp).gammaincc(a, x).astype(a.dtype, copy=False)  # half types widen
        return _infinite_edges(xp, q, a, x, False)

    @staticmethod
    def backward(ctx, grad):
        return None, -_gamma_density(ctx, grad, "igammac")


@accepts_out
def igamma(input: Tensor, other: Tensor) -> Tensor:
    """The regularized lower incomplete gamma function P(input, other); differentiable in
    ``other`` only, as in PyTorch."""
    return Igamma.apply(input, other)


@accepts_out
def igammac(input: Tensor, other: Tensor) -> Tensor:
    """The regularized upper incomplete gamma function Q(input, other) = 1 - P."""
    return Igammac.apply(input, other)


class Frexp(Primitive, node_name="FrexpBackward0"):
    """mantissa = input / 2 ** exponent with the exponent held constant: PyTorch's gradient is
    grad / 2 ** exponent (0 where 2 ** exponent overflows, inf where it is subnormal)."""

    @staticmethod
    def forward(ctx, a):
        mantissa, exponent = _xp(a).frexp(a)
        exponent = exponent.astype("int32", copy=False)
        ctx.save_for_backward(exponent)
        return mantissa, exponent

    @staticmethod
    def backward(ctx, grad, gexponent=None):
        (exponent,) = ctx.saved_tensors
        xp = _xp(grad._data)
        return grad / _make(xp.ldexp(xp.ones((), grad._data.dtype), exponent._data))


@accepts_out
def frexp(input: Tensor):
    """(mantissa, exponent) with input = mantissa * 2 ** exponent, |mantissa| in [0.5, 1)."""
    if not input.is_floating_point():
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    return frexp_type(*Frexp.apply(input))
