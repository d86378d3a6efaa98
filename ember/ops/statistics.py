"""Statistics composed from differentiable primitives: covariance and correlation, quantiles,
trapezoidal integration, distances and renormalization; ``histogram`` (counts, no gradient).
``axis``/``keepdims`` are accepted for ``dim``/``keepdim``, as in PyTorch."""
from __future__ import annotations

import builtins
import math
import warnings

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.ops._util import accepts_out, wrap_dim, write_result
from ember.ops.compare import isnan
from ember.ops.elementwise import clamp, lerp, where
from ember.ops.indexing import gather, sort
from ember.ops.movement import movedim, narrow
from ember.ops.reduce import cumsum, diff, sum
from ember.ops.unary import sqrt
from ember.return_types import _return_type

histogram_type = _return_type("histogram", ["hist", "bin_edges"])
histogramdd_type = _return_type("histogramdd", ["hist", "bin_edges"])


def _floating(input: Tensor) -> Tensor:
    if input.is_floating_point() or input.is_complex():
        return input
    return input.to(_dt.get_default_dtype())


# ---------------------------------------------------------------------------------------------
# Covariance and correlation


def cov(input: Tensor, *, correction: int = 1, fweights: Tensor | None = None,
        aweights: Tensor | None = None) -> Tensor:
    """Covariance of the variables in the rows of ``input`` (columns are observations).

    Args:
        input: a 1-D (one variable) or 2-D tensor.
        correction: subtracted from the number of observations (1: Bessel's correction).
        fweights: integer frequency weight of each observation.
        aweights: importance weight of each observation.

    Returns a (rows x rows) matrix, or a 0-d tensor for one variable.

    Example::

        >>> ember.cov(ember.tensor([[0., 1., 2.], [2., 1., 0.]]))
        tensor([[ 1., -1.], [-1.,  1.]])
    """
    if input.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an "
                           f"input with {input.ndim} dimensions")
    x = _floating(input)
    x = x.reshape(1, -1) if x.ndim < 2 else x
    n = x.shape[1]
    w = None
    if fweights is not None:
        if fweights.is_floating_point() or fweights.is_complex():
            raise RuntimeError("cov(): expected fweights to have integral dtype")
        w = fweights
    if aweights is not None:
        w = aweights if w is None else w * aweights
    if w is None:
        avg = x.mean(1)
        w_sum = float(n)
        norm = float(n - correction)
    else:
        w = w.to(x.dtype)
        w_sum = w.sum()
        avg = (x * w).sum(1) / w_sum
        if aweights is None:
            norm = w_sum - correction
        else:
            norm = w_sum - correction * (w * aweights).sum() / w_sum
    if (norm if isinstance(norm, float) else norm.item()) <= 0:
        warnings.warn("cov(): degrees of freedom is <= 0. Correction should be strictly less "
                      "than the number of observations.", stacklevel=2)
        norm = 0.0 if isinstance(norm, float) else norm.clamp_min(0)
    xm = x - avg.unsqueeze(1)
    xw = xm if w is None else xm * w
    c = (xw @ xm.mT.conj()) / norm
    return c.squeeze() if input.ndim < 2 else c


def corrcoef(input: Tensor) -> Tensor:
    """Pearson correlation coefficients of the variables in the rows of ``input``."""
    c = cov(input)
    if c.ndim == 0:
        return c / c
    d = c.diagonal()
    std = sqrt(d.real if d.is_complex() else d)
    c = c / std.unsqueeze(1) / std.unsqueeze(0)
    return c if c.is_complex() else clamp(c, -1, 1)


# ---------------------------------------------------------------------------------------------
# Quantiles


_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(input: Tensor, q, dim, keepdim: bool, interpolation: str, ignore_nan: bool,
              op: str) -> Tensor:
    if not input.is_floating_point():
        raise RuntimeError(f"{op}() input tensor must be either float or double dtype")
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"{op}() interpolation must be one of linear, lower, higher, midpoint "
                         f"or nearest. Got {interpolation}")
    scalar_q = not isinstance(q, Tensor)
    if not scalar_q and q.dtype is not input.dtype:
        raise RuntimeError(f"{op}() q tensor must be same dtype as the input tensor")
    qt = _make(input._xp.asarray([q] if scalar_q else q._data, input._data.dtype))
    if qt.ndim > 1:
        raise RuntimeError(f"{op}() q must be a scalar or 1D tensor")
    if bool(((qt < 0) | (qt > 1)).any()):
        if scalar_q:
            raise RuntimeError(f"{op}() q must be in the range [0, 1] but got {q}")
        raise RuntimeError(f"{op}() q values must be in the range [0, 1]")
    x = input.reshape(-1) if dim is None else movedim(input, wrap_dim(dim, input.ndim), -1)
    n = x.shape[-1]
    if n == 0:
        raise RuntimeError(f"{op}() input tensor must be non-empty")
    values = sort(x, -1).values  # NaN sorts last
    nans = isnan(x)
    count = (~nans).sum(-1, keepdim=True) if ignore_nan else None
    last = (count - 1).to(x.dtype) if ignore_nan else float(n - 1)
    rank = (qt * last).expand(*x.shape[:-1], qt.shape[0])  # (..., Q)
    lo = clamp(rank.floor(), 0, n - 1)
    hi = clamp(rank.ceil(), 0, n - 1)
    if interpolation == "nearest":
        lo = hi = clamp(rank.round(), 0, n - 1)
    elif interpolation == "lower":
        hi = lo
    elif interpolation == "higher":
        lo = hi
    v_lo = gather(values, -1, lo.long())
    v_hi = gather(values, -1, hi.long())
    if interpolation == "linear":
        out = lerp(v_lo, v_hi, rank - lo)  # PyTorch's lerp: an infinite end stays infinite
    elif interpolation == "midpoint":
        out = (v_lo + v_hi) * 0.5
    else:
        out = v_lo
    if not ignore_nan:
        out = where(nans.any(-1, keepdim=True), math.nan, out)
    out = out.squeeze(-1) if scalar_q else movedim(out, -1, 0)
    if keepdim:
        lead = 0 if scalar_q else 1
        if dim is None:
            for _ in range(input.ndim):
                out = out.unsqueeze(lead)
        else:
            out = out.unsqueeze(lead + wrap_dim(dim, input.ndim))
    return out


def quantile(input: Tensor, q, dim: int | None = None, keepdim: bool = False, *,
             interpolation: str = "linear", axis=None, keepdims=None, out=None) -> Tensor:
    """The ``q``-th quantiles of ``input`` (over all elements, or along ``dim``); NaN where a
    slice holds NaN. A 1-D ``q`` puts one result per quantile in a new leading dimension."""
    dim = dim if axis is None else axis
    keepdim = keepdim if keepdims is None else keepdims
    result = _quantile(input, q, dim, keepdim, interpolation, False, "quantile")
    return result if out is None else write_result(out, result)


def nanquantile(input: Tensor, q, dim: int | None = None, keepdim: bool = False, *,
                interpolation: str = "linear", axis=None, keepdims=None, out=None) -> Tensor:
    """``quantile`` ignoring NaN values (NaN only for slices that are all NaN)."""
    dim = dim if axis is None else axis
    keepdim = keepdim if keepdims is None else keepdims
    result = _quantile(input, q, dim, keepdim, interpolation, True, "nanquantile")
    return result if out is None else write_result(out, result)


# ---------------------------------------------------------------------------------------------
# Trapezoidal rule


def _spacing(y: Tensor, x, dx, d: int):
    if x is None:
        return 1.0 if dx is None else dx
    if not isinstance(x, Tensor):
        return x
    if x.ndim == 1:
        shape = [1] * y.ndim
        shape[d] = x.shape[0] - 1
        return diff(x).reshape(shape)
    return diff(x, dim=d if x.ndim == y.ndim else -1)


def trapezoid(y: Tensor, x=None, *, dx=None, dim: int = -1, axis=None) -> Tensor:
    """Integral of ``y`` along ``dim`` by the trapezoidal rule, with sample points ``x`` (a
    tensor) or a constant spacing ``x``/``dx`` (1 by default)."""
    dim = dim if axis is None else axis
    d = wrap_dim(dim, y.ndim)
    n = y.shape[d]
    if n == 0:
        return _floating(y).sum(d) * 0.0
    y = _floating(y)
    mid = (narrow(y, d, 1, n - 1) + narrow(y, d, 0, n - 1)) * 0.5
    return sum(mid * _spacing(y, x, dx, d), d)


def trapz(y: Tensor, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """PyTorch's older name of ``trapezoid``."""
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y: Tensor, x=None, *, dx=None, dim: int = -1, axis=None) -> Tensor:
    """The running trapezoidal integral along ``dim`` (one element shorter than ``y``)."""
    dim = dim if axis is None else axis
    d = wrap_dim(dim, y.ndim)
    n = y.shape[d]
    y = _floating(y)
    if n == 0:
        return y
    mid = (narrow(y, d, 1, n - 1) + narrow(y, d, 0, n - 1)) * 0.5
    return cumsum(mid * _spacing(y, x, dx, d), d)


# ---------------------------------------------------------------------------------------------
# Distances and renormalization


def dist(input: Tensor, other: Tensor, p: float = 2) -> Tensor:
    """The ``p``-norm of ``input - other``."""
    return (input - other).norm(p)


@accepts_out
def renorm(input: Tensor, p: float, dim: int, maxnorm: float) -> Tensor:
    """Each slice along ``dim`` with ``p``-norm above ``maxnorm`` scaled to norm ``maxnorm``."""
    if p <= 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    d = wrap_dim(dim, input.ndim)
    others = tuple(i for i in builtins.range(input.ndim) if i != d)
    norms = input.norm(p, others, keepdim=True) if others else input.abs()
    factor = where(norms > maxnorm, maxnorm / (norms + 1e-7), 1.0)
    return input * factor


# ---------------------------------------------------------------------------------------------
# Histogram (counts only)


@accepts_out
def histogram(input: Tensor, bins=100, *, range=None, weight: Tensor | None = None,  # noqa: A002
              density: bool = False):
    """Counts of ``input`` in ``bins`` (a number of equal bins over ``range`` or the data's
    span, or a 1-D tensor of increasing edges). Returns (hist, bin_edges)."""
    if not input.is_floating_point():
        raise RuntimeError(f"torch.histogram: input tensor and bins tensors should have the "
                           f"same dtype, but got input {input.dtype} and bins float")
    xp = input._xp
    edges = bins._data if isinstance(bins, Tensor) else bins
    data = input._data.reshape(-1)
    if range is None and not isinstance(bins, Tensor) and data.size == 0:
        range = (0.0, 1.0)  # noqa: A001
    hist, bin_edges = xp.histogram(data, bins=edges, range=range,
                                   weights=None if weight is None else weight._data.reshape(-1),
                                   density=density)
    dtype = input._data.dtype
    return histogram_type(_make(hist.astype(dtype)), _make(bin_edges.astype(dtype)))


def histogramdd(input: Tensor, bins=10, *, range=None, weight: Tensor | None = None,  # noqa: A002
                density: bool = False):
    """The D-dimensional histogram of the points in the last dim of ``input`` (..., D):
    ``bins`` an int or one per dim (a count, or a tensor of increasing edges), ``range`` a flat
    (min_0, max_0, min_1, ...). Returns (hist, bin_edges) with one edge tensor per dim."""
    if not input.is_floating_point():
        raise RuntimeError(f"torch.histogramdd: input tensor should be floating point, but got "
                           f"{input.dtype}")
    xp = input._xp
    d = input.shape[-1]
    points = input._data.reshape(-1, d)
    if isinstance(bins, (list, tuple)):
        bins = [b._data if isinstance(b, Tensor) else b for b in bins]
    pairs = None if range is None else [tuple(range[2 * i:2 * i + 2]) for i in builtins.range(d)]
    hist, edges = xp.histogramdd(points, bins=bins, range=pairs, density=density,
                                 weights=None if weight is None else weight._data.reshape(-1))
    dtype = input._data.dtype
    return histogramdd_type(_make(hist.astype(dtype)),
                            tuple(_make(e.astype(dtype)) for e in edges))

