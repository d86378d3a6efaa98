"""``torch.masked``'s functional reductions and normalizations: each takes ``mask=``, a boolean
tensor broadcastable to ``input`` (True = specified), and treats masked-out elements as the
identity of the reduction, so they never change a result nor receive a gradient.

NOTE [ Masked identities ]
A masked-out element is replaced (``masked_fill``, differentiable) by the identity of the
reduction: 0 for sum, 1 for prod, the lowest value for amax/argmax, the highest for
amin/argmin, -inf for logsumexp and softmax, NaN for median (computed by ``nanmedian``). An
output whose inputs are all masked out is therefore the identity (sum 0, prod 1, amax -inf),
except where PyTorch divides by the count of specified elements: mean, var and std give NaN.
Everything composes ember ops, so gradients come from ember's autograd.
"""
from __future__ import annotations

import math
import sys

import ember
from ember import dtypes as _dt
from ember._tensor import Tensor


def _is_masked(x) -> bool:
    core = sys.modules.get("ember.masked._core")  # no MaskedTensor exists before it loads
    return core is not None and isinstance(x, core.MaskedTensor)


def _operands(input, mask) -> tuple:
    """``(input, mask)`` as a plain tensor and a boolean mask of ``input``'s shape (None for
    no mask); a MaskedTensor input brings its own mask."""
    if _is_masked(input):
        if mask is None:
            mask = input.get_mask()
        input = input.get_data()
    if mask is None:
        return input, None
    if not isinstance(mask, Tensor):
        mask = ember.tensor(mask, device=input.device)
    if mask.dtype is not _dt.bool:
        mask = mask.to(_dt.bool)
    if tuple(mask.shape) != tuple(input.shape):
        mask = ember.broadcast_to(mask, input.shape)
    return input, mask


def _dims(dim, ndim: int) -> tuple:
    """PyTorch's reduction dims: None or () means every dim; negatives count from the end."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    if not dims:
        return tuple(range(ndim))
    return tuple(sorted({d % max(ndim, 1) for d in dims}))


def _lowest(dtype: _dt.dtype, op: str):
    if dtype is _dt.bool:
        raise NotImplementedError(f"identity of {op} on torch.bool input")
    if dtype.is_floating_point:
        return -math.inf
    return ember.iinfo(dtype).min


def _highest(dtype: _dt.dtype, op: str):
    if dtype is _dt.bool:
        raise NotImplementedError(f"identity of {op} on torch.bool input")
    if dtype.is_floating_point:
        return math.inf
    return ember.iinfo(dtype).max


def _fill(input: Tensor, mask: Tensor | None, value) -> Tensor:
    """``input`` with its masked-out elements replaced by ``value`` (see NOTE [ Masked
    identities ])."""
    return input if mask is None else input.masked_fill(~mask, value)


def _count(input: Tensor, mask: Tensor | None, dims: tuple, keepdim: bool) -> Tensor:
    """How many specified elements each output reduces over."""
    if mask is None:
        mask = ember.ones(input.shape, dtype=_dt.bool, device=input.device)
    return mask.sum(dims, keepdim=keepdim)


def _over_dims(reduce, input: Tensor, dims: tuple, keepdim: bool) -> Tensor:
    """A reduction that takes one dim at a time (prod), applied over several."""
    out = input
    for d in dims:
        out = reduce(out, d)
    if not keepdim:
        for d in reversed(dims):
            out = out.squeeze(d)
    return out


def sum(input: Tensor, dim: int | tuple | None = None, *, keepdim: bool = False,
        dtype: _dt.dtype | None = None, mask: Tensor | None = None) -> Tensor:
    """The sum of the specified elements over ``dim`` (all dims when None); 0 where none is.

    Example::

        >>> ember.masked.sum(ember.tensor([[1., 2.], [3., 4.]]), 1,
        ...                  mask=ember.tensor([[True, False], [False, False]]))
        tensor([1., 0.])
    """
    input, mask = _operands(input, mask)
    return _fill(input, mask, 0).sum(_dims(dim, input.ndim), keepdim=keepdim, dtype=dtype)


def prod(input: Tensor, dim: int | tuple | None = None, *, keepdim: bool = False,
         dtype: _dt.dtype | None = None, mask: Tensor | None = None) -> Tensor:
    """The product of the specified elements over ``dim``; 1 where none is."""
    input, mask = _operands(input, mask)
    filled = _fill(input, mask, 1)
    if input.ndim == 0:
        return filled.prod(dtype=dtype)
    return _over_dims(lambda t, d: t.prod(d, keepdim=True, dtype=dtype), filled,
                      _dims(dim, input.ndim), keepdim)


def cumsum(input: Tensor, dim: int, *, dtype: _dt.dtype | None = None,
           mask: Tensor | None = None) -> Tensor:
    """The running sum along ``dim``, masked-out elements counting as 0."""
    input, mask = _operands(input, mask)
    return _fill(input, mask, 0).cumsum(dim, dtype=dtype or input.dtype)


def cumprod(input: Tensor, dim: int, *, dtype: _dt.dtype | None = None,
            mask: Tensor | None = None) -> Tensor:
    """The running product along ``dim``, masked-out elements counting as 1."""
    input, mask = _operands(input, mask)
    return _fill(input, mask, 1).cumprod(dim, dtype=dtype or input.dtype)


def _cast(out: Tensor, dtype: _dt.dtype | None) -> Tensor:
    return out if dtype is None or out.dtype is dtype else out.to(dtype)


def amax(input: Tensor, dim: int | tuple | None = None, *, keepdim: bool = False,
         dtype: _dt.dtype | None = None, mask: Tensor | None = None) -> Tensor:
    """The largest specified element over ``dim``; the dtype's lowest value (-inf) where none
    is."""
    input, mask = _operands(input, mask)
    filled = _fill(input, mask, _lowest(input.dtype, "amax"))
    return _cast(filled.amax(_dims(dim, input.ndim), keepdim=keepdim), dtype)


def amin(input: Tensor, dim: int | tuple | None = None, *, keepdim: bool = False,
         dtype: _dt.dtype | None = None, mask: Tensor | None = None) -> Tensor:
    """The smallest specified element over ``dim``; the dtype's highest value (inf) where none
    is."""
    input, mask = _operands(input, mask)
    filled = _fill(input, mask, _highest(input.dtype, "amin"))
    return _cast(filled.amin(_dims(dim, input.ndim), keepdim=keepdim), dtype)


def argmax(input: Tensor, dim: int | None = None, *, keepdim: bool = False,
           dtype: _dt.dtype | None = None, mask: Tensor | None = None) -> Tensor:
    """The index of the largest specified element along ``dim`` (of the flattened input when
    None), in ``dtype``, which defaults to the input's dtype as in PyTorch."""
    input, mask = _operands(input, mask)
    filled = _fill(input, mask, _lowest(input.dtype, "argmax"))
    return _cast(filled.argmax(dim, keepdim=keepdim), dtype or input.dtype)


def argmin(input: Tensor, dim: int | None = None, *, keepdim: bool = False,
           dtype: _dt.dtype | None = None, mask: Tensor | None = None) -> Tensor:
    """The index of the smallest specified element along ``dim``, in ``dtype`` (by default
    the input's dtype)."""
    input, mask = _operands(input, mask)
    filled = _fill(input, mask, _highest(input.dtype, "argmin"))
    return _cast(filled.argmin(dim, keepdim=keepdim), dtype or input.dtype)


def mean(input: Tensor, dim: int | tuple | None = None, *, keepdim: bool = False,
         dtype: _dt.dtype | None = None, mask: Tensor | None = None) -> Tensor:
    """The mean of the specified elements over ``dim``; NaN where none is."""
    input, mask = _operands(input, mask)
    if dtype is None:
        dtype = input.dtype
        if not (dtype.is_floating_point or dtype.is_complex):
            raise ValueError("mean(): Could not infer output dtype. Input dtype must be either "
                             f"a floating point or complex dtype. Got: {dtype}")
    dims = _dims(dim, input.ndim)
    # (no dtype= for the input's own: a half sum then accumulates in float32)
    total = _fill(input, mask, 0).sum(dims, keepdim=keepdim,
                                      dtype=None if dtype is input.dtype else dtype)
    return total / _count(input, mask, dims, keepdim)


def median(input: Tensor, dim: int = -1, *, keepdim: bool = False,
           dtype: _dt.dtype | None = None, mask: Tensor | None = None) -> Tensor:
    """The (lower) median of the specified elements along ``dim``; NaN where none is (an
    error for non-floating dtypes, which have no NaN)."""
    input, mask = _operands(input, mask)
    dtype = dtype or input.dtype
    dim = 0 if dim is None else dim  # PyTorch reduces the first dim for dim=None
    if not input.dtype.is_floating_point:
        if mask is not None and not bool(mask.any(dim).all()):
            raise ValueError("masked median expects no fully masked out rows if dtype is not "
                             "floating point")
        input = input.to(_dt.float64)
    filled = _fill(input, mask, math.nan)
    return filled.nanmedian(dim, keepdim=keepdim).values.to(dtype)


def logsumexp(input: Tensor, dim: int | tuple | None = None, *, keepdim: bool = False,
              dtype: _dt.dtype | None = None, mask: Tensor | None = None) -> Tensor:
    """``log(sum(exp(x)))`` over the specified elements; -inf where none is."""
    input, mask = _operands(input, mask)
    filled = _fill(input, mask, _lowest(input.dtype, "logsumexp"))
    return _cast(ember.logsumexp(filled, _dims(dim, input.ndim), keepdim=keepdim),
                 dtype or input.dtype)


def logaddexp(input: Tensor, other: Tensor, *, dtype: _dt.dtype | None = None,
              input_mask: Tensor | None = None, other_mask: Tensor | None = None) -> Tensor:
    """``log(exp(input) + exp(other))`` elementwise, a masked-out operand counting as
    ``exp(x) = 0``."""
    input, input_mask = _operands(input, input_mask)
    other, other_mask = _operands(other, other_mask)
    a = _fill(input, input_mask, _lowest(input.dtype, "logaddexp"))
    b = _fill(other, other_mask, _lowest(other.dtype, "logaddexp"))
    return _cast(ember.logaddexp(a, b), dtype)


def norm(input: Tensor, ord: float | None = 2.0, dim: int | tuple | None = None, *,
         keepdim: bool = False, dtype: _dt.dtype | None = None,
         mask: Tensor | None = None) -> Tensor:
    """The vector ``ord``-norm of the specified elements over ``dim`` (``linalg.vector_norm``);
    0 where none is (inf for ``ord=-inf``)."""
    input, mask = _operands(input, mask)
    filled = _fill(input, mask, math.inf if ord == -math.inf else 0)
    return ember.linalg.vector_norm(filled, ord, _dims(dim, input.ndim), keepdim, dtype=dtype)


def var(input: Tensor, dim: int | tuple | None = None, unbiased: bool | None = None, *,
        correction: float | None = None, keepdim: bool = False,
        dtype: _dt.dtype | None = None, mask: Tensor | None = None) -> Tensor:
    """The variance of the specified elements over ``dim``, dividing by ``count -
    correction`` (``correction`` defaults to 1, or 0 when ``unbiased=False``); NaN where no
    element is specified."""
    input, mask = _operands(input, mask)
    if correction is None:
        correction = 0 if unbiased is False else 1
    if dtype is not None:
        input = input.to(dtype)
    dims = _dims(dim, input.ndim)
    count = _count(input, mask, dims, True)
    centred = input - _fill(input, mask, 0).sum(dims, keepdim=True) / count
    squares = _fill(centred * centred.conj() if input.is_complex() else centred * centred,
                    mask, 0)
    out = squares.sum(dims, keepdim=True) / (count - correction).clamp_min(0)
    return out if keepdim else out.squeeze(dims)


def std(input: Tensor, dim: int | tuple | None = None, unbiased: bool | None = None, *,
        correction: float | None = None, keepdim: bool = False,
        dtype: _dt.dtype | None = None, mask: Tensor | None = None) -> Tensor:
    """The standard deviation of the specified elements: ``sqrt`` of :func:`var`."""
    return var(input, dim, unbiased, correction=correction, keepdim=keepdim, dtype=dtype,
               mask=mask).sqrt()


def softmax(input: Tensor, dim: int, *, dtype: _dt.dtype | None = None,
            mask: Tensor | None = None) -> Tensor:
    """Softmax along ``dim`` over the specified elements: masked-out ones get 0, and a slice
    with none specified gets NaN."""
    input, mask = _operands(_cast(input, dtype), mask)
    return ember.softmax(_fill(input, mask, _lowest(input.dtype, "softmax")), dim)


def log_softmax(input: Tensor, dim: int, *, dtype: _dt.dtype | None = None,
                mask: Tensor | None = None) -> Tensor:
    """Log-softmax along ``dim`` over the specified elements: masked-out ones get -inf, and a
    slice with none specified gets NaN."""
    input, mask = _operands(_cast(input, dtype), mask)
    return ember.log_softmax(_fill(input, mask, _lowest(input.dtype, "log_softmax")), dim)


def softmin(input: Tensor, dim: int, *, dtype: _dt.dtype | None = None,
            mask: Tensor | None = None) -> Tensor:
    """Softmin along ``dim`` over the specified elements: ``softmax(-input)``."""
    input, mask = _operands(_cast(input, dtype), mask)
    return softmax(-input, dim, mask=mask)


def normalize(input: Tensor, ord: float, dim: int, *, eps: float = 1e-12,
              dtype: _dt.dtype | None = None, mask: Tensor | None = None) -> Tensor:
    """``input`` divided by its masked ``ord``-norm along ``dim`` (at least ``eps``);
    masked-out elements become 0."""
    input, mask = _operands(_cast(input, dtype), mask)
    denom = norm(input, ord, dim, keepdim=True, mask=mask).clamp_min(eps)
    return _fill(input, mask, 0) / denom
