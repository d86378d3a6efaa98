"""``torch.special``: the special functions under PyTorch's names. Most are the ember ops of the
same meaning; the rest (erfcx, i0e, i1, i1e, ndtri, log_ndtr) wrap SciPy/CuPy's kernels with
their derivatives, the composites (ndtr, entr) are built on differentiable ops, and
the Bessel, Airy and zeta functions and the orthogonal polynomials (ember/ops/
orthogonal_polynomials.py) that PyTorch does not differentiate have no gradient here either."""
from __future__ import annotations

import math

from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive
from ember.backend.special import special as _backend
from ember.ops._util import accepts_out, float_array
from ember.ops.elementwise import _xp, where
from ember.ops.nn import log_softmax, softmax
from ember.ops.orthogonal_polynomials import (  # noqa: F401
    chebyshev_polynomial_t,
    chebyshev_polynomial_u,
    chebyshev_polynomial_v,
    chebyshev_polynomial_w,
    hermite_polynomial_h,
    hermite_polynomial_he,
    laguerre_polynomial_l,
    legendre_polynomial_p,
    shifted_chebyshev_polynomial_t,
    shifted_chebyshev_polynomial_u,
    shifted_chebyshev_polynomial_v,
    shifted_chebyshev_polynomial_w,
)
from ember.ops.pointwise_extra import I1, i0, igamma, igammac, mvlgamma, sinc
from ember.ops.reduce import logsumexp
from ember.ops.unary import (
    digamma,
    erf,
    erfc,
    erfinv,
    exp,
    exp2,
    expm1,
    lgamma,
    log,
    log1p,
    logit,
    polygamma,
    round,
    sigmoid,
    sign,
    xlog1py,
    xlogy,
)

__all__ = [
    "airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "digamma", "entr", "erf", "erfc",
    "erfcx", "erfinv", "exp2", "expit", "expm1", "gammainc", "gammaincc", "gammaln", "i0",
    "i0e", "i1", "i1e", "log1p", "log_ndtr", "log_softmax", "logit", "logsumexp",
    "modified_bessel_i0", "modified_bessel_i1", "modified_bessel_k0", "modified_bessel_k1",
    "multigammaln", "ndtr", "ndtri", "polygamma", "psi", "round", "scaled_modified_bessel_k0",
    "scaled_modified_bessel_k1", "sinc", "softmax", "spherical_bessel_j0", "xlog1py", "xlogy",
    "zeta",
    "chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
    "chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he",
    "laguerre_polynomial_l", "legendre_polynomial_p", "shifted_chebyshev_polynomial_t",
    "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
    "shifted_chebyshev_polynomial_w"]

expit = sigmoid
gammaln = lgamma
psi = digamma
multigammaln = mvlgamma
gammainc = igamma
gammaincc = igammac

_SQRT_2 = math.sqrt(2.0)
_SQRT_2PI = math.sqrt(2.0 * math.pi)


def _kernel(name: str, a):
    """SciPy's (or CuPy's) ``name`` on ``a``, keeping the input's floating dtype."""
    a = float_array(a)
    return getattr(_backend(_xp(a)), name)(a).astype(a.dtype, copy=False)


class Erfcx(Primitive, node_name="SpecialErfcxBackward0"):
    @staticmethod
    def forward(ctx, a):
        out = _kernel("erfcx", a)
        ctx.save_for_backward(float_array(a), out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        return grad * (2 * a * out - 2 / math.sqrt(math.pi))


class I0e(Primitive, node_name="SpecialI0EBackward0"):
    @staticmethod
    def forward(ctx, a):
        out = _kernel("i0e", a)
        ctx.save_for_backward(float_array(a), out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        return grad * (I1e.apply(a) - sign(a) * out)


class I1e(Primitive, node_name="SpecialI1EBackward0"):
    @staticmethod
    def forward(ctx, a):
        out = _kernel("i1e", a)
        ctx.save_for_backward(float_array(a), out)
        return out

    @staticmethod
    def backward(ctx, grad):
        # i1e'(x) = i0e(x) - i1e(x) * (sign(x) + 1/x), with the limit 1/2 at 0.
        a, out = ctx.saved_tensors
        zero = a == 0
        safe = where(zero, 1.0, a)
        return grad * where(zero, 0.5, I0e.apply(a) - out * (sign(a) + 1 / safe))


class Ndtri(Primitive, node_name="SpecialNdtriBackward0"):
    @staticmethod
    def forward(ctx, a):
        out = _kernel("ndtri", a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * _SQRT_2PI * exp(out * out / 2)


class LogNdtr(Primitive, node_name="SpecialLogNdtrBackward0"):
    @staticmethod
    def forward(ctx, a):
        out = _kernel("log_ndtr", a)
        ctx.save_for_backward(float_array(a), out)
        return out

    @staticmethod
    def backward(ctx, grad):
        # pdf(x) / ndtr(x), in log space so that it stays finite far in the left tail.
        a, out = ctx.saved_tensors
        return grad * exp(-a * a / 2 - out) / _SQRT_2PI


@accepts_out
def erfcx(input: Tensor) -> Tensor:
    """The scaled complementary error function exp(x**2) * erfc(x)."""
    return Erfcx.apply(input)


@accepts_out
def i0e(input: Tensor) -> Tensor:
    """The exponentially scaled modified Bessel function of order 0: exp(-|x|) * i0(x)."""
    return I0e.apply(input)


@accepts_out
def i1(input: Tensor) -> Tensor:
    """The modified Bessel function of the first kind, order 1."""
    if not input.is_floating_point():
        input = input.float()
    return I1.apply(input)


@accepts_out
def i1e(input: Tensor) -> Tensor:
    """The exponentially scaled modified Bessel function of order 1: exp(-|x|) * i1(x)."""
    return I1e.apply(input)


@accepts_out
def ndtr(input: Tensor) -> Tensor:
    """The standard normal CDF: the area under the Gaussian density from -inf to x."""
    if not input.is_floating_point():
        input = input.float()
    return erfc(-input / _SQRT_2) / 2


@accepts_out
def ndtri(input: Tensor) -> Tensor:
    """The inverse of ndtr: the x whose standard normal CDF is ``input``."""
    return Ndtri.apply(input)


@accepts_out
def log_ndtr(input: Tensor) -> Tensor:
    """log(ndtr(x)), accurate in the left tail where ndtr underflows."""
    return LogNdtr.apply(input)


@accepts_out
def entr(input: Tensor) -> Tensor:
    """Elementwise entropy: -x * log(x) for x > 0, 0 at 0, and -inf for x < 0."""
    if not input.is_floating_point():
        input = input.float()
    positive = input > 0
    safe = where(positive, input, 1.0)
    # input * 0 is 0 at 0 and NaN at NaN, in the input's dtype
    return where(positive, -input * log(safe), where(input < 0, -math.inf, input * 0))


def _no_grad(name: str, *inputs) -> Tensor:
    """SciPy's (or CuPy's) ``name`` on float inputs, without a gradient (as in PyTorch)."""
    arrays = [float_array(t._data if isinstance(t, Tensor) else t) for t in inputs]
    xp = _xp(next(a for a in arrays if hasattr(a, "dtype")))
    dtype = next(a for a in arrays if hasattr(a, "dtype")).dtype
    return _make(xp.asarray(getattr(_backend(xp), name)(*arrays), dtype=dtype))


@accepts_out
def bessel_j0(input: Tensor) -> Tensor:
    """The Bessel function of the first kind, order 0."""
    return _no_grad("j0", input)


@accepts_out
def bessel_j1(input: Tensor) -> Tensor:
    """The Bessel function of the first kind, order 1."""
    return _no_grad("j1", input)


@accepts_out
def bessel_y0(input: Tensor) -> Tensor:
    """The Bessel function of the second kind, order 0."""
    return _no_grad("y0", input)


@accepts_out
def bessel_y1(input: Tensor) -> Tensor:
    """The Bessel function of the second kind, order 1."""
    return _no_grad("y1", input)


@accepts_out
def modified_bessel_i0(input: Tensor) -> Tensor:
    """The modified Bessel function of the first kind, order 0."""
    return _no_grad("i0", input)


@accepts_out
def modified_bessel_i1(input: Tensor) -> Tensor:
    """The modified Bessel function of the first kind, order 1."""
    return _no_grad("i1", input)


@accepts_out
def modified_bessel_k0(input: Tensor) -> Tensor:
    """The modified Bessel function of the second kind, order 0."""
    return _no_grad("k0", input)


@accepts_out
def modified_bessel_k1(input: Tensor) -> Tensor:
    """The modified Bessel function of the second kind, order 1."""
    return _no_grad("k1", input)


@accepts_out
def scaled_modified_bessel_k0(input: Tensor) -> Tensor:
    """exp(x) * modified_bessel_k0(x)."""
    return _no_grad("k0e", input)


@accepts_out
def scaled_modified_bessel_k1(input: Tensor) -> Tensor:
    """exp(x) * modified_bessel_k1(x)."""
    return _no_grad("k1e", input)


@accepts_out
def zeta(input, other) -> Tensor:
    """The Hurwitz zeta function: the sum over k >= 0 of 1 / (k + other) ** input."""
    return _no_grad("zeta", input, other)


@accepts_out
def airy_ai(input: Tensor) -> Tensor:
    """The Airy function Ai, without a gradient (as in PyTorch)."""
    a = float_array(input._data)
    return _make(_backend(_xp(a)).airy(a)[0].astype(a.dtype, copy=False))


@accepts_out
def spherical_bessel_j0(input: Tensor) -> Tensor:
    """The spherical Bessel function of the first kind, order 0: sin(x) / x (1 at 0), without
    a gradient (as in PyTorch)."""
    a = float_array(input._data)
    xp = _xp(a)
    zero, infinite = a == 0, xp.isinf(a)
    safe = xp.where(zero | infinite, 1, a)
    # sin(x) / x tends to 0 at infinity (NaNs stay NaN)
    return _make(xp.where(zero, 1, xp.where(infinite, 0, xp.sin(safe) / safe)).astype(a.dtype))
