"""Unary math: exp/log family, roots, trig and hyperbolic functions, sigmoid, relu, abs, the
special functions (erf, lgamma, ...) and the piecewise-constant rounding ops, plus the binary
ones of that kind (hypot, xlogy, xlog1py, logaddexp). Forward on arrays, backward in ember
ops beside it."""
from __future__ import annotations

import math

import numpy as np

from ember import dtypes as _dt
from ember._quantized import QuantizedTensor
from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive
from ember.autograd.grad_mode import _State
from ember.backend.special import exp as backend_exp
from ember.backend.special import grad_where_positive, round_half_even, special
from ember.backend.special import where as _where_arrays
from ember.ops._util import (
    accepts_out,
    apply_out,
    float_array,
    in_float32,
    promote,
    refuse_cast_first,
    scalar_name,
    write_result,
    zero_of,
)
from ember.ops.compare import isfinite
from ember.ops.elementwise import (  # noqa: F401
    _xp,
    clamp,
    clip_array,
    conj,
    conj_derivative,
    maximum,
    neg,
    pow,
    select_grad,
    where,
    with_saved_edge,
    zeros_like_,
)
from ember.ops.inplace import inplace, write_out

# ---------------------------------------------------------------------------------------------
# Unary math. Integer inputs of floating ops compute in the default float dtype.

class Exp(Primitive, node_name="ExpBackward0"):
    _node_saved = {"result": 0}

    @staticmethod
    def forward(ctx, a):
        out = backend_exp(float_array(a))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * out.conj() if out.is_complex() else grad * out


def exp(input, *, out=None):
    return write_out(out, Exp.apply(input)) if out is not None else Exp.apply(input)


def exp_(input):
    return inplace(input, Exp)


class Exp2(Primitive, node_name="Exp2Backward0"):
    _node_saved = {"result": 0}

    @staticmethod
    def forward(ctx, a):
        out = _xp(a).exp2(float_array(a))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * conj_derivative(out) * math.log(2.0)


@accepts_out
def exp2(input):
    return Exp2.apply(input)


class Expm1(Primitive, node_name="Expm1Backward0"):
    _node_saved = {"result": 0}

    @staticmethod
    def forward(ctx, a):
        out = _xp(a).expm1(float_array(a))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * conj_derivative(out + 1)


def expm1(input, *, out=None):
    result = Expm1.apply(input)
    return result if out is None else write_result(out, result)


class Log(Primitive, node_name="LogBackward0"):
    _node_saved = {"self": 0}

    @staticmethod
    def forward(ctx, a):
        a = float_array(a)
        ctx.save_for_backward(a)
        return _xp(a).log(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / (a.conj() if a.is_complex() else a)


def log(input, *, out=None):
    return write_out(out, Log.apply(input)) if out is not None else Log.apply(input)


def log_(input):
    return inplace(input, Log, saves_self=True)


class Log2(Primitive, node_name="Log2Backward0"):
    _node_saved = {"self": 0}

    @staticmethod
    def forward(ctx, a):
        a = float_array(a)
        ctx.save_for_backward(a)
        return _xp(a).log2(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / conj_derivative(a * math.log(2.0))


def log2(input, *, out=None):
    result = Log2.apply(input)
    return result if out is None else write_result(out, result)


class Log10(Primitive, node_name="Log10Backward0"):
    _node_saved = {"self": 0}

    @staticmethod
    def forward(ctx, a):
        a = float_array(a)
        ctx.save_for_backward(a)
        return _xp(a).log10(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / conj_derivative(a * math.log(10.0))


def log10(input, *, out=None):
    result = Log10.apply(input)
    return result if out is None else write_result(out, result)


class Log1p(Primitive, node_name="Log1PBackward0"):
    _node_saved = {"self": 0}

    @staticmethod
    def forward(ctx, a):
        a = float_array(a)
        ctx.save_for_backward(a)
        return _xp(a).log1p(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / conj_derivative(a + 1)


def log1p(input, *, out=None):
    result = Log1p.apply(input)
    return result if out is None else write_result(out, result)


class Sqrt(Primitive, node_name="SqrtBackward0"):
    _node_saved = {"result": 0}

    @staticmethod
    def forward(ctx, a):
        out = _xp(a).sqrt(float_array(a))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad / conj_derivative(out * 2)


def sqrt(input, *, out=None):
    return write_out(out, Sqrt.apply(input)) if out is not None else Sqrt.apply(input)


def sqrt_(input):
    return inplace(input, Sqrt)


class Rsqrt(Primitive, node_name="RsqrtBackward0"):
    _node_saved = {"result": 0}

    @staticmethod
    def forward(ctx, a):
        sqrt = _xp(a).sqrt
        out = in_float32(lambda x: 1 / sqrt(x), float_array(a))  # half types: rounded once
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return -0.5 * grad * conj_derivative(pow(out, 3))  # PyTorch's order of the products


def rsqrt(input, *, out=None):
    result = Rsqrt.apply(input)
    return result if out is None else write_result(out, result)


class Sin(Primitive, node_name="SinBackward0"):
    _node_saved = {"self": 0}

    @staticmethod
    def forward(ctx, a):
        a = float_array(a)
        ctx.save_for_backward(a)
        return _xp(a).sin(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * conj_derivative(cos(a))


def sin(input, *, out=None):
    result = Sin.apply(input)
    return result if out is None else write_result(out, result)


class Cos(Primitive, node_name="CosBackward0"):
    _node_saved = {"self": 0}

    @staticmethod
    def forward(ctx, a):
        a = float_array(a)
        ctx.save_for_backward(a)
        return _xp(a).cos(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * conj_derivative(neg(sin(a)))


def cos(input, *, out=None):
    result = Cos.apply(input)
    return result if out is None else write_result(out, result)


class Tan(Primitive, node_name="TanBackward0"):
    _node_saved = {"result": 0}

    @staticmethod
    def forward(ctx, a):
        out = _xp(a).tan(float_array(a))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * conj_derivative(out * out + 1)


@accepts_out
def tan(input):
    return Tan.apply(input)


class Asin(Primitive, node_name="AsinBackward0"):
    _node_saved = {"self": 0}

    @staticmethod
    def forward(ctx, a):
        a = float_array(a)
        ctx.save_for_backward(a)
        return _xp(a).arcsin(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * conj_derivative(rsqrt(1 - a * a))


def asin(input, *, out=None):
    result = Asin.apply(input)
    return result if out is None else write_result(out, result)


arcsin = asin


class Acos(Primitive, node_name="AcosBackward0"):
    _node_saved = {"self": 0}

    @staticmethod
    def forward(ctx, a):
        a = float_array(a)
        ctx.save_for_backward(a)
        return _xp(a).arccos(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return neg(grad) * conj_derivative(rsqrt(1 - a * a))


def acos(input, *, out=None):
    result = Acos.apply(input)
    return result if out is None else write_result(out, result)


arccos = acos


class Atan(Primitive, node_name="AtanBackward0"):
    _node_saved = {"self": 0}

    @staticmethod
    def forward(ctx, a):
        a = float_array(a)
        ctx.save_for_backward(a)
        return _xp(a).arctan(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / conj_derivative(a * a + 1)


def atan(input, *, out=None):
    result = Atan.apply(input)
    return result if out is None else write_result(out, result)


arctan = atan


class Atan2(Primitive, node_name="Atan2Backward0"):
    _node_saved = {"self": 0, "other": 1}

    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(a, b)
        if a.dtype.kind == "c":
            raise _no_kernel("atan2_cpu", a.dtype)
        a, b = float_array(a), float_array(b)
        ctx.save_for_backward(a, b)
        return _xp(a).arctan2(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        recip = (a * a + b * b).reciprocal()
        recip = recip.masked_fill(recip.isinf(), 0)  # at the origin: no gradient, as PyTorch
        return grad * b * recip, neg(grad) * a * recip


def atan2(input, other, *, out=None):
    return apply_out(Atan2, input, other, out)


arctan2 = atan2


class Sinh(Primitive, node_name="SinhBackward0"):
    _node_saved = {"self": 0}

    @staticmethod
    def forward(ctx, a):
        a = float_array(a)
        ctx.save_for_backward(a)
        return _xp(a).sinh(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * conj_derivative(cosh(a))


@accepts_out
def sinh(input):
    return Sinh.apply(input)


class Cosh(Primitive, node_name="CoshBackward0"):
    _node_saved = {"self": 0}

    @staticmethod
    def forward(ctx, a):
        a = float_array(a)
        ctx.save_for_backward(a)
        return _xp(a).cosh(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * conj_derivative(sinh(a))


@accepts_out
def cosh(input):
    return Cosh.apply(input)


class Tanh(Primitive, node_name="TanhBackward0"):
    _node_saved = {"result": 0}

    @staticmethod
    def forward(ctx, a):
        out = _xp(a).tanh(float_array(a))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        if _dt.is_half(out.dtype):  # PyTorch's kernel: in float32, rounded once
            wide = out.float()
            return (grad.float() * (1 - wide * wide)).to(out.dtype)
        return grad * conj_derivative(1 - out * out)


def tanh(input, *, out=None):
    return write_out(out, Tanh.apply(input)) if out is not None else Tanh.apply(input)


def tanh_(input):
    return inplace(input, Tanh)


class Asinh(Primitive, node_name="AsinhBackward0"):
    _node_saved = {"self": 0}

    @staticmethod
    def forward(ctx, a):
        a = float_array(a)
        ctx.save_for_backward(a)
        return _xp(a).arcsinh(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * conj_derivative(rsqrt(a * a + 1))


def asinh(input, *, out=None):
    result = Asinh.apply(input)
    return result if out is None else write_result(out, result)


arcsinh = asinh


class Acosh(Primitive, node_name="AcoshBackward0"):
    _node_saved = {"self": 0}

    @staticmethod
    def forward(ctx, a):
        a = float_array(a)
        ctx.save_for_backward(a)
        return _xp(a).arccosh(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * conj_derivative(rsqrt(a - 1) * rsqrt(a + 1))  # right on every branch


def acosh(input, *, out=None):
    result = Acosh.apply(input)
    return result if out is None else write_result(out, result)


arccosh = acosh


class Atanh(Primitive, node_name="AtanhBackward0"):
    _node_saved = {"self": 0}

    @staticmethod
    def forward(ctx, a):
        a = float_array(a)
        ctx.save_for_backward(a)
        return _xp(a).arctanh(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / conj_derivative(1 - a * a)


def atanh(input, *, out=None):
    result = Atanh.apply(input)
    return result if out is None else write_result(out, result)


arctanh = atanh


class Sigmoid(Primitive, node_name="SigmoidBackward0"):
    _node_saved = {"result": 0}

    @staticmethod
    def forward(ctx, a):
        a = float_array(a)
        xp = _xp(a)
        if a.dtype.kind == "c":
            out = 1 / (1 + xp.exp(-a))
        else:
            # exp of -|a| never overflows; the two branches agree where both are finite. Half
            # types compute in float32 and round once, as PyTorch: bfloat16's own rounding
            # makes sigmoid(6) 1, whose zero slope would turn an inf gradient into NaN.
            wide = a.astype(np.float32) if a.dtype.itemsize == 2 else a
            e = xp.exp(-xp.abs(wide))
            out = xp.where(wide >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        if out.dtype is _dt.bfloat16:  # PyTorch's kernel: in float32, rounded once (float16
            wide = out.float()           # it computes in float16)
            return (grad.float() * (1 - wide) * wide).to(out.dtype)
        if out.is_complex():
            return grad * conj_derivative((1 - out) * out)
        return grad * (1 - out) * out  # PyTorch's order of the products, which float16 rounds


def sigmoid(input, *, out=None):
    return write_out(out, Sigmoid.apply(input)) if out is not None else Sigmoid.apply(input)


def sigmoid_(input):
    return inplace(input, Sigmoid)


@accepts_out
def logit(input, eps=None):
    if not input.is_floating_point():
        if input.is_complex():
            raise _no_kernel("logit_cpu", input.dtype)
        input = input.to(_dt.get_default_dtype())  # integers and bools compute in float
    if eps is not None:
        input = clamp(input, eps, 1 - eps)
    return log(input / (1 - input))


class Relu(Primitive, node_name="ReluBackward0"):
    _node_saved = {"result": 0}

    @staticmethod
    def forward(ctx, a):
        if a.dtype.kind in "bc":
            raise (RuntimeError("Boolean inputs not supported for relu") if a.dtype.kind == "b"
                   else NotImplementedError("clamp is not supported for complex types"))
        out = clip_array(a, zero_of(a.dtype), None)  # relu(-0.0) is -0.0, as in PyTorch
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx._saved_arrays
        if _State.enabled:  # create_graph
            return with_saved_edge(select_grad(grad, drop=out <= zero_of(out.dtype)), ctx)
        return _make(grad_where_positive(grad._data, out))


def relu(input):
    """max(x, 0); a quantized tensor stays quantized, as through PyTorch's dispatch."""
    if input.__class__ is QuantizedTensor:
        return input.relu()
    return Relu.apply(input)


def relu_(input):
    if input.__class__ is QuantizedTensor:
        return input.relu_()
    return inplace(input, Relu)


class Abs(Primitive, node_name="AbsBackward0"):
    _node_saved = {"self": 0}

    @staticmethod
    def forward(ctx, a):
        if a.dtype.kind == "b":
            raise _no_kernel("abs_cpu", a.dtype)
        ctx.save_for_backward(a)
        return _xp(a).abs(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * sgn(a)


def abs(input, *, out=None):  # noqa: A001
    return write_out(out, Abs.apply(input)) if out is not None else Abs.apply(input)


absolute = abs


def abs_(input):
    if input.dtype.is_complex:  # the magnitude is real: PyTorch writes no complex result
        raise RuntimeError("In-place abs is not supported for complex tensors.")
    return inplace(input, Abs, saves_self=True)


def _real_float(a, kernel: str):
    """``float_array(a)``, refusing complex arrays as PyTorch's real-only kernels do."""
    a = float_array(a)
    if a.dtype.kind == "c":
        raise _no_kernel(kernel, a.dtype)
    return a


class Erf(Primitive, node_name="ErfBackward0"):
    _node_saved = {"self": 0}

    @staticmethod
    def forward(ctx, a):
        a = _real_float(a, "erf_vml_cpu")
        ctx.save_for_backward(a)
        return special(_xp(a)).erf(a).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * exp(neg(a * a)) * (2 / math.sqrt(math.pi))


def erf(input, *, out=None):
    result = Erf.apply(input)
    return result if out is None else write_result(out, result)


class Erfc(Primitive, node_name="ErfcBackward0"):
    _node_saved = {"self": 0}

    @staticmethod
    def forward(ctx, a):
        a = _real_float(a, "erfc_vml_cpu")
        ctx.save_for_backward(a)
        return special(_xp(a)).erfc(a).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * exp(neg(a * a)) * (-2 / math.sqrt(math.pi))


@accepts_out
def erfc(input):
    return Erfc.apply(input)


class Erfinv(Primitive, node_name="ErfinvBackward0"):
    @staticmethod
    def forward(ctx, a):
        a = _real_float(a, "erfinv_vml_cpu")
        out = special(_xp(a)).erfinv(a).astype(a.dtype, copy=False)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * exp(out * out) * (math.sqrt(math.pi) / 2)


@accepts_out
def erfinv(input):
    return Erfinv.apply(input)


class Lgamma(Primitive, node_name="LgammaBackward0"):
    _node_saved = {"self": 0}

    @staticmethod
    def forward(ctx, a):
        a = _real_float(a, "lgamma_vml_cpu")
        ctx.save_for_backward(a)
        out = special(_xp(a)).gammaln(a)
        # C's lgamma(-inf) is +inf, as PyTorch gives; SciPy's gammaln gives -inf
        return _xp(a).where(a == -math.inf, math.inf, out).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * digamma(a)


@accepts_out
def lgamma(input):
    return Lgamma.apply(input)


class Digamma(Primitive, node_name="DigammaBackward0"):
    _node_saved = {"self": 0}

    @staticmethod
    def forward(ctx, a):
        a = _real_float(a, "digamma")
        ctx.save_for_backward(a)
        return special(_xp(a)).digamma(a).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * polygamma(1, a)


@accepts_out
def digamma(input):
    return Digamma.apply(input)


class Polygamma(Primitive, node_name="PolygammaBackward0"):
    @staticmethod
    def forward(ctx, a, n):
        a = _real_float(a, "trigamma" if n == 1 else "polygamma")
        ctx.save_for_backward(a)
        ctx.n = n
        xp = _xp(a)  # n as an array: CuPy's polygamma needs one
        return special(xp).polygamma(xp.full_like(a, n), a).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * polygamma(ctx.n + 1, a), None


@accepts_out
def polygamma(n: int, input):
    """The n-th derivative of digamma (n = 0 is digamma itself)."""
    if n == 0:
        return digamma(input)
    return Polygamma.apply(input, n)


# Piecewise-constant functions: their gradient is zero (PyTorch still records them).

class _ZeroGrad(Primitive):
    @staticmethod
    def backward(ctx, grad):
        return zeros_like_(grad)  # not grad * 0: an inf or NaN gradient gives 0 too


def _to_whole(a, name: str, decimals: int = 0):
    """floor/ceil/trunc/round of an array: integers are whole already; bools and complex
    numbers PyTorch refuses (NumPy would round their parts, or raise a TypeError)."""
    kind = a.dtype.kind
    if kind in "iu":
        return a
    if kind == "b":
        raise _no_kernel(f"{name}_vml_cpu", a.dtype)
    if kind == "c":
        raise NotImplementedError(f"{name} is not supported for complex inputs")
    xp = _xp(a)
    return round_half_even(xp, a, decimals) if name == "round" else getattr(xp, name)(a)


class Floor(_ZeroGrad, node_name="FloorBackward0"):
    @staticmethod
    def forward(ctx, a):
        return _to_whole(a, "floor")


class Ceil(_ZeroGrad, node_name="CeilBackward0"):
    @staticmethod
    def forward(ctx, a):
        return _to_whole(a, "ceil")


class Trunc(_ZeroGrad, node_name="TruncBackward0"):
    @staticmethod
    def forward(ctx, a):
        return _to_whole(a, "trunc")


class Round(_ZeroGrad, node_name="RoundBackward0"):
    @staticmethod
    def forward(ctx, a, decimals=0):
        return _to_whole(a, "round", decimals)


class Sign(_ZeroGrad, node_name="SignBackward0"):
    @staticmethod
    def forward(ctx, a):
        if a.dtype.kind == "c":
            raise NotImplementedError("Unlike NumPy, torch.sign is not intended to support "
                                      "complex numbers. Please use torch.sgn instead.")
        if a.dtype == np.bool_:
            return a.copy()
        out = _xp(a).sign(a)
        if _dt.np_kind(a.dtype) == "f":  # sign(NaN) is 0 in PyTorch, and sign(-0.0) is 0.0
            out = _xp(a).where(out == out, out, 0).astype(a.dtype, copy=False)
            out += 0  # -0.0 + 0 is 0.0 (bfloat16's sign keeps -0.0)
        return out


def floor(input, *, out=None):
    result = Floor.apply(input)
    return result if out is None else write_result(out, result)


def floor_(input):
    return inplace(input, Floor)


def ceil(input, *, out=None):
    result = Ceil.apply(input)
    return result if out is None else write_result(out, result)


def ceil_(input):
    return inplace(input, Ceil)


def trunc(input, *, out=None):
    result = Trunc.apply(input)
    return result if out is None else write_result(out, result)


fix = trunc


def _no_kernel(kernel: str, dtype) -> NotImplementedError:
    """PyTorch's error for a dtype its kernel was not built for."""
    return NotImplementedError(f'"{kernel}" not implemented for \'{scalar_name(dtype)}\'')


def _check_round(input, decimals: int) -> None:
    """Integers are whole already, but PyTorch rounds them to decimals only with a float
    kernel, and has no bool or complex kernel at all."""
    dtype = input.dtype
    if not dtype.is_floating_point and (decimals or dtype.is_complex or dtype is _dt.bool):
        raise _no_kernel("round_cpu" if decimals else "round_vml_cpu", dtype)


def round(input, *, decimals: int = 0, out=None):  # noqa: A001
    _check_round(input, decimals)
    result = Round.apply(input, decimals)
    return result if out is None else write_result(out, result)


def round_(input, *, decimals: int = 0):
    _check_round(input, decimals)
    return inplace(input, Round, decimals)


def sign(input, *, out=None):
    result = Sign.apply(input)
    return result if out is None else write_result(out, result)


@accepts_out
def sgn(input):
    if input.is_complex():
        mag = abs(input)
        zero = mag == 0  # divided by 1 there, so that no NaN reaches a gradient through where
        return where(zero, zeros_like_(input), input / where(zero, 1.0, mag))
    return sign(input)


def frac(input, *, out=None):
    if not input.dtype.is_floating_point:
        raise _no_kernel("frac_cpu", input.dtype)
    result = input - trunc(input)
    return result if out is None else write_result(out, result)

class Hypot(Primitive, node_name="HypotBackward0"):
    _node_saved = {"self": 0, "other": 1, "result": 2}

    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(a, b)
        dtype = (a if hasattr(a, "dtype") else b).dtype
        if dtype.kind not in "fV":  # no integer, bool or complex kernel (V: bfloat16)
            raise _no_kernel("hypot_cpu", _dt._FROM_NP[dtype])
        out = _xp(a).hypot(a, b)  # scaled: no overflow for huge, no underflow for tiny sides
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved_tensors
        return grad * a / out, grad * b / out


def hypot(input, other, *, out=None):
    """sqrt(input^2 + other^2), without intermediate overflow (inf if either side is inf)."""
    return apply_out(Hypot, input, other, out)


def _float_pair(a, b, kernel: str):
    """Operands promoted together, then made float: a float32 ``b`` keeps a float64 ``a``'s
    digits, because the log is taken in the common dtype. No complex kernel."""
    a, b = promote(a, b)
    dtype = (a if hasattr(a, "dtype") else b).dtype
    if dtype.kind == "c":
        raise _no_kernel(kernel, dtype)
    a, b = float_array(a), float_array(b)
    # A Python number becomes a 0-d array of the other's dtype: its log is not a float64 scalar
    if not hasattr(a, "dtype"):
        a = _xp(b).full((), a, b.dtype)
    elif not hasattr(b, "dtype"):
        b = _xp(a).full((), b, a.dtype)
    return a, b


def _x_times_log(a, b, log_name: str):
    """a * log_fn(b) on float arrays of one dtype, and 0 where a is 0 (unless b is NaN)."""
    xp = _xp(b if hasattr(b, "dtype") else a)
    out = xp.multiply(a, getattr(xp, log_name)(b))
    return _where_arrays(xp, xp.logical_and(xp.equal(a, 0), xp.logical_not(xp.isnan(b))),
                         xp.zeros((), out.dtype), out)


def _x_times_log_backward(ctx, grad, cls, log_name: str, edge: float):
    """Gradients of a * log_fn(b), log_fn(edge) = -inf: xlogy(grad, log_fn(b)) for a, and 0
    where a == 0 and b <= edge (no neighbourhood where the function is defined: PyTorch's
    choice, the derivative along a = 0); grad * a / (b - edge) for b."""
    a, b = ctx.saved_tensors
    if _State.enabled:  # create_graph: differentiable in grad, a and b
        grad_a = cls.apply(grad, b).masked_fill((a == 0) & (b <= edge), 0)
        return grad_a, grad * a / (b - edge if edge else b)
    g, av, bv = grad._data, a._data, b._data
    xp = _xp(g)
    grad_a = grad_b = None
    if ctx.needs_input_grad[0]:
        log_b = getattr(xp, log_name)(bv)
        grad_a = g * log_b
        if not xp.isfinite(log_b).all():  # only b <= edge or b = inf need the zeros
            zero = ((g == 0) & ~xp.isnan(bv)) | ((av == 0) & (bv <= edge))
            grad_a = xp.where(zero, xp.zeros((), grad_a.dtype), grad_a)
        grad_a = _make(grad_a)
    if ctx.needs_input_grad[1]:
        grad_b = _make(g * av / (bv - edge if edge else bv))
    return grad_a, grad_b


class Xlogy(Primitive, node_name="XlogyBackward0"):
    _node_saved = {"self": 0, "other": 1}

    @staticmethod
    def forward(ctx, a, b):
        a, b = _float_pair(a, b, "xlogy_cpu")
        ctx.save_for_backward(a, b)
        return _x_times_log(a, b, "log")

    @staticmethod
    def backward(ctx, grad):
        return _x_times_log_backward(ctx, grad, Xlogy, "log", 0.0)


class Xlog1py(Primitive, node_name="SpecialXlog1PyBackward0"):
    _node_saved = {"self": 0, "other": 1}

    @staticmethod
    def forward(ctx, a, b):
        a, b = _float_pair(a, b, "xlog1py_cpu")
        ctx.save_for_backward(a, b)
        return _x_times_log(a, b, "log1p")

    @staticmethod
    def backward(ctx, grad):
        return _x_times_log_backward(ctx, grad, Xlog1py, "log1p", -1.0)


def xlogy(input, other, *, out=None):
    """input * log(other), and 0 where input is 0 (unless other is NaN)."""
    return apply_out(Xlogy, input, other, out)


@accepts_out
def xlog1py(input, other) -> Tensor:
    """input * log1p(other), and 0 where input is 0 (unless other is NaN)."""
    return Xlog1py.apply(input, other)


def _inexact(x) -> bool:
    """Whether ``x`` is a floating or complex tensor, or a Python float."""
    if isinstance(x, Tensor):
        return x.dtype.is_floating_point or x.dtype.is_complex
    return isinstance(x, (float, complex))


def _ordered(x):
    """A complex tensor's real part, which bounds its exponential's magnitude."""
    return x.real if isinstance(x, Tensor) and x.is_complex() else x


def _logaddexp_complex(input, other):
    """PyTorch's complex branch: ``hi + log1p(exp(lo - hi))``, ``hi`` the operand with the larger
    real part (``input`` on a tie), so the imaginary part follows ``hi``'s, unwrapped; equal
    infinite real parts give ``lo`` (-inf) or ``log(exp(lo) + exp(hi))`` (+inf)."""
    if not isinstance(other, Tensor):
        other = input.new_tensor(other)
    first = input.real >= other.real
    hi = where(first, input, other)
    lo = where(first, other, input)
    result = hi + log1p(exp(lo - hi))
    both_inf = (lo.real == hi.real) & lo.real.isinf()
    if both_inf.any():
        result = where(both_inf, where(lo.real < 0, lo, log(exp(lo) + exp(hi))), result)
    return result


def inexact_pair(input, other, kernel: str):
    """logaddexp's operands: floating (or complex) in their common dtype, where one was an
    integer or bool tensor; two of those have no kernel."""
    if not _inexact(input) or not _inexact(other):
        dtype = _dt.result_type(input, other)
        if not (dtype.is_floating_point or dtype.is_complex):
            raise _no_kernel(kernel, dtype)
        input, other = (x.to(dtype) if isinstance(x, Tensor) else x for x in (input, other))
    return input, other


def logaddexp(input, other, *, out=None):
    """log(exp(input) + exp(other)), without overflow."""
    try:
        input, other = inexact_pair(input, other, "logaddexp_cpu")
    except (NotImplementedError, TypeError):
        refuse_cast_first(out, (input, other))
        raise
    if input.is_complex() or isinstance(other, Tensor) and other.is_complex():
        result = _logaddexp_complex(input, other)
        return result if out is None else write_result(out, result)
    m = maximum(_ordered(input), _ordered(other)).detach()
    m = where(isfinite(m), m, _make(m._xp.zeros((), m._data.dtype)))
    result = m + log(exp(input - m) + exp(other - m))
    return result if out is None else write_result(out, result)
