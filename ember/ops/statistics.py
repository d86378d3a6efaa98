"""Statistics composed from differentiable primitives: covariance and correlation, quantiles,
trapezoidal integration, distances and renormalization; ``histogram`` (counts, no gradient).
``axis``/``keepdims`` are accepted for ``dim``/``keepdim``, as in PyTorch."""
from __future__ import annotations

import builtins
import math
import warnings

import numpy as np

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.ops._util import accepts_out, wrap_dim, write_result
from ember.ops.compare import isnan
from ember.ops.elementwise import clamp, lerp, where
from ember.ops.gather_scatter import gather
from ember.ops.movement import movedim, narrow
from ember.ops.reduce import cumsum, sum
from ember.ops.sorting import sort
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


def _check_weights(w: Tensor, name: str, n: int) -> None:
    """PyTorch's checks of a cov() weight vector against ``n`` observations."""
    if w.ndim > 1:
        raise RuntimeError(f"cov(): expected {name} to have one or fewer dimensions but got "
                           f"{name} with {w.ndim} dimensions")
    if w.numel() != n:
        raise RuntimeError(f"cov(): expected {name} to have the same numel as there are "
                           f"observations in the input but got {w.numel()} != {n}")
    if bool((w._data < 0).any()):
        raise RuntimeError(f"cov(): {name} cannot be negative")


def cov(input: Tensor, *, correction: int = 1, fweights: Tensor | None = None,
        aweights: Tensor | None = None) -> Tensor:
    """Covariance of the variables in the rows of ``input`` (columns are observations).

    Args:
        input: a 1-D (one variable) or 2-D tensor.
        correction: subtracted from the number of observations (1: Bessel's correction).
        fweights: integer frequency weight of each observation.
        aweights: importance weight of each observation.

    Returns a (rows x rows) matrix, squeezed: a 0-d tensor for one variable.

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
        _check_weights(fweights, "fweights", n)
        w = fweights
    if aweights is not None:
        _check_weights(aweights, "aweights", n)
        w = aweights if w is None else w * aweights
    if w is None:
        avg = x.mean(1)
        w_sum = float(n)
        norm = float(n - correction)
    else:  # real weights stay real, so that the degrees of freedom are (a complex x's too)
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
    c = (xm @ xw.mT.conj()) / norm
    return c.squeeze()  # one variable (a 1-D input, or a single row) gives a 0-d tensor


def corrcoef(input: Tensor) -> Tensor:
    """Pearson correlation coefficients of the variables in the rows of ``input``."""
    c = cov(input)
    if c.ndim == 0:
        return c / c
    d = c.diagonal()
    std = sqrt(d.real if d.is_complex() else d)
    c = c / std.unsqueeze(1) / std.unsqueeze(0)
    if c.is_complex():  # each part clipped, as PyTorch does
        from ember._creation import complex
        return complex(clamp(c.real, -1, 1), clamp(c.imag, -1, 1))
    return clamp(c, -1, 1)


# ---------------------------------------------------------------------------------------------
# Quantiles


_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(input: Tensor, q, dim, keepdim: bool, interpolation: str,
              ignore_nan: bool) -> Tensor:
    """quantile and nanquantile (PyTorch words the errors of both as quantile()'s, in this
    order)."""
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(f"quantile() interpolation must be one of linear, lower, higher, "
                           f"midpoint or nearest, but got {interpolation}")
    if not isinstance(q, Tensor) and not 0 <= q <= 1:
        raise RuntimeError(f"quantile() q must be in the range [0, 1] but got {q}")
    if input.numel() == 0:
        raise RuntimeError("quantile() input tensor must be non-empty")
    if not input.is_floating_point():
        raise RuntimeError("quantile() input tensor must be either float or double dtype")
    if isinstance(q, Tensor):
        if q.ndim > 1:
            raise RuntimeError("quantile() q must be a scalar or 1D tensor")
        if q.dtype is not input.dtype:
            raise RuntimeError("quantile() q tensor must be same dtype as the input tensor")
        if bool(((q < 0) | (q > 1)).any()):
            raise RuntimeError("quantile() q values must be in the range [0, 1]")
        qt = q.reshape(-1)  # differentiable: the interpolation weights depend on q
    else:
        qt = _make(input._xp.asarray([q], input._data.dtype))
    scalar_q = not isinstance(q, Tensor) or q.ndim == 0  # no quantile dim in the result
    if dim is None or input.ndim == 0:  # a 0-d input accepts dim 0 and -1
        if dim is not None:
            wrap_dim(dim, 0)
        x = input.reshape(-1)
    else:
        x = movedim(input, wrap_dim(dim, input.ndim), -1)
    n = x.shape[-1]
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
        if dim is None or input.ndim == 0:
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
    result = _quantile(input, q, dim, keepdim, interpolation, False)
    return result if out is None else write_result(out, result)


def nanquantile(input: Tensor, q, dim: int | None = None, keepdim: bool = False, *,
                interpolation: str = "linear", axis=None, keepdims=None, out=None) -> Tensor:
    """``quantile`` ignoring NaN values (NaN only for slices that are all NaN)."""
    dim = dim if axis is None else axis
    keepdim = keepdim if keepdims is None else keepdims
    result = _quantile(input, q, dim, keepdim, interpolation, True)
    return result if out is None else write_result(out, result)


# ---------------------------------------------------------------------------------------------
# Trapezoidal rule


def _ends(t: Tensor, d: int):
    """``t[:-1]`` and ``t[1:]`` along dim ``d`` (both empty for an empty dim)."""
    n = builtins.max(t.shape[d] - 1, 0)
    return narrow(t, d, 0, n), narrow(t, d, t.shape[d] - n, n)


def _steps(y: Tensor, x: Tensor, d: int, op: str) -> Tensor:
    """The steps between the sample points ``x`` along dim ``d`` of ``y``: a 1-D ``x`` lies
    along ``d``, one of fewer dims than ``y`` gains leading ones (the steps then broadcast
    against the trapezoids, as in NumPy)."""
    if x.dtype is _dt.bool:
        raise RuntimeError(f"{op}: received a bool input for `x` or `y`, but bool is not "
                           "supported")
    if x.ndim == 1:
        if x.shape[0] != y.shape[d]:
            raise RuntimeError(f"{op}: There must be one `x` value for each sample point")
        shape = [1] * y.ndim
        shape[d] = x.shape[0]
        x = x.reshape(shape)
    elif x.ndim < y.ndim:
        x = x.reshape((1,) * (y.ndim - x.ndim) + tuple(x.shape))
    left, right = _ends(x, d)
    return right - left


def _check_samples(y: Tensor, dim: int, op: str) -> int:
    if y.dtype is _dt.bool:
        raise RuntimeError(f"{op}: received a bool input for `y`, but bool is not supported")
    return wrap_dim(dim, y.ndim)


def trapezoid(y: Tensor, x=None, *, dx=None, dim: int = -1, axis=None) -> Tensor:
    """Integral of ``y`` along ``dim`` by the trapezoidal rule, with sample points ``x`` (a
    tensor) or a constant spacing ``x``/``dx`` (1 by default). Integer samples are added in
    their own dtype (they can wrap, as in PyTorch)."""
    dim = dim if axis is None else axis
    d = _check_samples(y, dim, "trapezoid")
    if y.shape[d] == 0:  # no samples: 0, as in NumPy
        return _make(y._xp.zeros(y.shape[:d] + y.shape[d + 1:], y._data.dtype))
    if isinstance(x, Tensor):
        left, right = _ends(y, d)
        return sum((left + right) * _steps(y, x, d, "trapezoid"), d) / 2.0
    h = (1.0 if dx is None else dx) if x is None else x
    # equal steps: h * (all samples, less half of each end)
    return (sum(y, d) - (y.select(d, 0) + y.select(d, -1)) * 0.5) * h


def trapz(y: Tensor, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """PyTorch's older name of ``trapezoid``."""
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y: Tensor, x=None, *, dx=None, dim: int = -1, axis=None) -> Tensor:
    """The running trapezoidal integral along ``dim`` (one element shorter than ``y``)."""
    dim = dim if axis is None else axis
    d = _check_samples(y, dim, "cumulative_trapezoid")
    left, right = _ends(y, d)
    if isinstance(x, Tensor):
        return cumsum((left + right) * _steps(y, x, d, "cumulative_trapezoid"), d) / 2.0
    h = (1.0 if dx is None else dx) if x is None else x
    return cumsum(h / 2.0 * (left + right), d)


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
    if input.ndim < 2:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {input.ndim} "
                           f"dimensions")
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
    if isinstance(bins, (list, tuple)) and len(bins) != d:
        raise RuntimeError("histogramdd: The size of bins must be equal to the innermost "
                           "dimension of the input.")
    points = input._data.reshape(-1, d)
    weights = None if weight is None else weight._data.reshape(-1)
    if isinstance(bins, (list, tuple)) and bins and isinstance(bins[0], Tensor):
        edges = [b._data for b in bins]
        hist = _count_in_edges(xp, points, edges, weights, density)
    else:
        pairs = None if range is None else [tuple(range[2 * i:2 * i + 2])
                                            for i in builtins.range(d)]
        hist, edges = xp.histogramdd(points, bins=bins, range=pairs, density=density,
                                     weights=weights)
    dtype = input._data.dtype
    return histogramdd_type(_make(hist.astype(dtype)),
                            tuple(_make(e.astype(dtype)) for e in edges))



def _count_in_edges(xp, points, edges, weights, density: bool):
    """PyTorch's histogram of ``points`` (N, D) over given bin ``edges`` (one array per dim),
    taken as they are (NumPy refuses edges that do not increase): a point outside [first edge,
    last edge] (or NaN) is dropped, the others go to the bin a binary search finds, the last
    bin holding its right edge."""
    keep = xp.ones(points.shape[0], bool)
    flat = xp.zeros(points.shape[0], np.int64)
    for k, e in enumerate(edges):
        col = points[:, k]
        keep &= (col >= e[0]) & (col <= e[-1])
        pos = xp.clip(xp.searchsorted(e, col, side="right") - 1, 0, e.size - 2)
        flat = flat * (e.size - 1) + pos
    shape = tuple(e.size - 1 for e in edges)
    hist = xp.bincount(flat[keep], None if weights is None else weights[keep],
                       minlength=math.prod(shape)).reshape(shape).astype(points.dtype)
    if density:
        hist /= hist.sum()
        for k, e in enumerate(edges):
            hist /= xp.diff(e).reshape((1,) * k + (-1,) + (1,) * (len(edges) - k - 1))
    return hist
