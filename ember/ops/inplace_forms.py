"""In-place forms (``cos_``, ``eq_``, ``lcm_``, ...) of ops whose out-of-place form is a
composition or lives in a module that defines no in-place variant: the result is computed out
of place and written into ``input`` through ``inplace`` (NOTE [ In-place ops and autograd ])."""
from __future__ import annotations

from ember import dtypes as _dt
from ember import ops as _ops
from ember._tensor import Tensor
from ember.ops import pointwise_extra as _pw
from ember.ops._util import scalar_name
from ember.ops.inplace import inplace


class _Composite:
    """Lets ``inplace`` run a composed function where it expects a primitive."""

    __slots__ = ("apply",)

    def __init__(self, fn):
        self.apply = fn


class _Comparison(_Composite):
    """A comparison's 0/1 result is written in ``input``'s dtype whatever the operands promote
    to: a refusal is the comparison's own, never a cast's (see ``inplace``)."""

    __slots__ = ()
    promotes = False


def inplace_of(input: Tensor, fn, *args, **kwargs) -> Tensor:
    """input <- fn(input, *args, **kwargs), keeping autograd history as in-place ops do.
    A composition may save its input for backward, so the old values are kept (a copy made
    only when the graph is recorded)."""
    if kwargs:
        return inplace(input, _Composite(lambda *a: fn(*a, **kwargs)), *args, saves_self=True)
    return inplace(input, _Composite(fn), *args, saves_self=True)


# ---------------------------------------------------------------------------------------------
# Unary


def absolute_(input: Tensor) -> Tensor:
    return _ops.abs_(input)


def acos_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.acos)


def acosh_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.acosh)


def arccos_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.arccos)


def arccosh_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.arccosh)


def arcsin_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.arcsin)


def arcsinh_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.arcsinh)


def arctan_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.arctan)


def arctanh_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.arctanh)


def asin_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.asin)


def asinh_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.asinh)


def atan_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.atan)


def atanh_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.atanh)


def bitwise_not_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.bitwise_not)


def conj_physical_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.conj_physical)


def cos_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.cos)


def cosh_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.cosh)


def deg2rad_(input: Tensor) -> Tensor:
    return inplace_of(input, _pw.deg2rad)


def digamma_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.digamma)


def erf_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.erf)


def erfc_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.erfc)


def erfinv_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.erfinv)


def exp2_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.exp2)


def expm1_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.expm1)


def fix_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.fix)


def frac_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.frac)


def i0_(input: Tensor) -> Tensor:
    return inplace_of(input, _pw.i0)


def lgamma_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.lgamma)


def log10_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.log10)


def log1p_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.log1p)


def log2_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.log2)


def logical_not_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.logical_not)


def negative_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.negative)


def rad2deg_(input: Tensor) -> Tensor:
    return inplace_of(input, _pw.rad2deg)


def reciprocal_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.reciprocal)


def rsqrt_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.rsqrt)


def sgn_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.sgn)


def sign_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.sign)


def sin_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.sin)


def sinc_(input: Tensor) -> Tensor:
    return inplace_of(input, _pw.sinc)


def sinh_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.sinh)


def square_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.square)


def tan_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.tan)


def trunc_(input: Tensor) -> Tensor:
    return inplace_of(input, _ops.trunc)


# ---------------------------------------------------------------------------------------------
# Binary


def arctan2_(input: Tensor, other) -> Tensor:
    return inplace_of(input, _ops.arctan2, other)


def atan2_(input: Tensor, other) -> Tensor:
    return inplace_of(input, _ops.atan2, other)


def bitwise_left_shift_(input: Tensor, other) -> Tensor:
    return inplace_of(input, _ops.bitwise_left_shift, other)


def bitwise_right_shift_(input: Tensor, other) -> Tensor:
    return inplace_of(input, _ops.bitwise_right_shift, other)


def copysign_(input: Tensor, other) -> Tensor:
    return inplace_of(input, _pw.copysign, other)


def float_power_(input: Tensor, other) -> Tensor:
    # no downcast: the base must already have the result's double-precision dtype
    complex_ = input.is_complex() or isinstance(other, complex) or (
        isinstance(other, Tensor) and other.is_complex())
    dtype = _dt.complex128 if complex_ else _dt.float64
    if input.dtype != dtype:
        raise RuntimeError(f"the base given to float_power_ has dtype {scalar_name(input.dtype)} "
                           f"but the operation's result requires dtype {scalar_name(dtype)}")
    return inplace_of(input, _ops.float_power, other)


def floor_divide_(input: Tensor, other) -> Tensor:
    return inplace_of(input, _ops.floor_divide, other)


def fmod_(input: Tensor, other) -> Tensor:
    return inplace_of(input, _ops.fmod, other)


def gcd_(input: Tensor, other) -> Tensor:
    return inplace_of(input, _pw.gcd, other)


def heaviside_(input: Tensor, other) -> Tensor:
    return inplace_of(input, _pw.heaviside, other)


def hypot_(input: Tensor, other) -> Tensor:
    return inplace_of(input, _ops.hypot, other)


def igamma_(input: Tensor, other) -> Tensor:
    return inplace_of(input, _pw.igamma, other)


def igammac_(input: Tensor, other) -> Tensor:
    return inplace_of(input, _pw.igammac, other)


def lcm_(input: Tensor, other) -> Tensor:
    return inplace_of(input, _pw.lcm, other)


def ldexp_(input: Tensor, other) -> Tensor:
    return inplace_of(input, _pw.ldexp, other)


def logical_and_(input: Tensor, other) -> Tensor:
    return inplace_of(input, _ops.logical_and, other)


def logical_or_(input: Tensor, other) -> Tensor:
    return inplace_of(input, _ops.logical_or, other)


def logical_xor_(input: Tensor, other) -> Tensor:
    return inplace_of(input, _ops.logical_xor, other)


def multiply_(input: Tensor, other) -> Tensor:
    return inplace_of(input, _pw.multiply, other)


def nextafter_(input: Tensor, other) -> Tensor:
    return inplace_of(input, _pw.nextafter, other)


def remainder_(input: Tensor, other) -> Tensor:
    return inplace_of(input, _ops.remainder, other)


def true_divide_(input: Tensor, other) -> Tensor:
    return inplace_of(input, _ops.true_divide, other)


def xlogy_(input: Tensor, other) -> Tensor:
    return inplace_of(input, _ops.xlogy, other)


# ---------------------------------------------------------------------------------------------
# Comparisons: the 0/1 result is written in ``input``'s dtype


def _compare_inplace(input: Tensor, fn, other) -> Tensor:
    return inplace(input, _Comparison(fn), other, saves_self=True)


def eq_(input: Tensor, other) -> Tensor:
    return _compare_inplace(input, _ops.eq, other)


def ge_(input: Tensor, other) -> Tensor:
    return _compare_inplace(input, _ops.ge, other)


def greater_(input: Tensor, other) -> Tensor:
    return _compare_inplace(input, _ops.greater, other)


def greater_equal_(input: Tensor, other) -> Tensor:
    return _compare_inplace(input, _ops.greater_equal, other)


def gt_(input: Tensor, other) -> Tensor:
    return _compare_inplace(input, _ops.gt, other)


def le_(input: Tensor, other) -> Tensor:
    return _compare_inplace(input, _ops.le, other)


def less_(input: Tensor, other) -> Tensor:
    return _compare_inplace(input, _ops.less, other)


def less_equal_(input: Tensor, other) -> Tensor:
    return _compare_inplace(input, _ops.less_equal, other)


def lt_(input: Tensor, other) -> Tensor:
    return _compare_inplace(input, _ops.lt, other)


def ne_(input: Tensor, other) -> Tensor:
    return _compare_inplace(input, _ops.ne, other)


def not_equal_(input: Tensor, other) -> Tensor:
    return _compare_inplace(input, _ops.not_equal, other)


# ---------------------------------------------------------------------------------------------
# With more arguments


def addbmm_(input: Tensor, batch1, batch2, *, beta=1, alpha=1) -> Tensor:
    return inplace_of(input, _ops.addbmm, batch1, batch2, beta=beta, alpha=alpha)


def addmv_(input: Tensor, mat, vec, *, beta=1, alpha=1) -> Tensor:
    return inplace_of(input, _ops.addmv, mat, vec, beta=beta, alpha=alpha)


def addr_(input: Tensor, vec1, vec2, *, beta=1, alpha=1) -> Tensor:
    return inplace_of(input, _ops.addr, vec1, vec2, beta=beta, alpha=alpha)


def baddbmm_(input: Tensor, batch1, batch2, *, beta=1, alpha=1) -> Tensor:
    return inplace_of(input, _ops.baddbmm, batch1, batch2, beta=beta, alpha=alpha)


def clamp_min_(input: Tensor, min) -> Tensor:  # noqa: A002
    return inplace_of(input, _ops.clamp_min, min)


def clamp_max_(input: Tensor, max) -> Tensor:  # noqa: A002
    return inplace_of(input, _ops.clamp_max, max)


def logit_(input: Tensor, eps=None) -> Tensor:
    return inplace_of(input, _ops.logit, eps=eps)


def mvlgamma_(input: Tensor, p: int) -> Tensor:
    return inplace_of(input, _pw.mvlgamma, p=p)


def polygamma_(input: Tensor, n: int) -> Tensor:
    return inplace_of(input, lambda x: _ops.polygamma(n, x))


def renorm_(input: Tensor, p: float, dim: int, maxnorm: float) -> Tensor:
    from ember.ops.statistics import renorm
    return inplace_of(input, renorm, p, dim, maxnorm)


def clip_(input: Tensor, min=None, max=None) -> Tensor:  # noqa: A002
    return _ops.clamp_(input, min, max)
