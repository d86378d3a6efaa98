"""``make_tensor``: PyTorch's random test tensors, drawn from the same generator stream."""
from __future__ import annotations

import collections.abc
import math
import warnings

from ember import dtypes as _dt
from ember import finfo, iinfo
from ember._creation import empty, randint
from ember._tensor import Tensor
from ember.ops.reshaping import view_as_real

_INTEGRAL_TYPES = (_dt.uint8, _dt.int8, _dt.int16, _dt.int32, _dt.int64, _dt.uint16, _dt.uint32,
                   _dt.uint64)
_BOOLEAN_OR_INTEGRAL_TYPES = (_dt.bool, *_INTEGRAL_TYPES)
_FLOATING_OR_COMPLEX_TYPES = (_dt.float16, _dt.bfloat16, _dt.float32, _dt.float64, _dt.complex32,
                              _dt.complex64, _dt.complex128)
# float8_e8m0fnu is left out, as in PyTorch: it has no sign and no zero to draw around.
_FLOATING_8BIT_TYPES = (_dt.float8_e4m3fn, _dt.float8_e5m2, _dt.float8_e4m3fnuz,
                        _dt.float8_e5m2fnuz)


def _bounds(low, high, dtype, *, lowest_inclusive, highest_exclusive, default_low, default_high):
    """The user's [low, high) with the dtype's defaults, checked and clamped to its range;
    integer bounds are ceiled (``randint``'s high is exclusive)."""
    low = default_low if low is None else low
    high = default_high if high is None else high
    if any(isinstance(value, float) and math.isnan(value) for value in (low, high)):
        raise ValueError(f"`low` and `high` cannot be NaN, but got {low=} and {high=}")
    if low == high and dtype in _FLOATING_OR_COMPLEX_TYPES:
        warnings.warn("Passing `low==high` to `torch.testing.make_tensor` for floating or "
                      "complex types is deprecated since 2.1 and will be removed in 2.3. "
                      "Use `torch.full(...)` instead.", FutureWarning, stacklevel=3)
    elif low >= high:
        raise ValueError(f"`low` must be less than `high`, but got {low} >= {high}")
    elif high < lowest_inclusive or low >= highest_exclusive:
        raise ValueError(f"The value interval specified by `low` and `high` is [{low}, {high}), "
                         f"but {dtype} only supports [{lowest_inclusive}, {highest_exclusive})")
    low = min(max(low, lowest_inclusive), highest_exclusive)
    high = min(max(high, lowest_inclusive), highest_exclusive)
    if dtype in _BOOLEAN_OR_INTEGRAL_TYPES:
        return math.ceil(low), math.ceil(high)
    return low, high


def _float_bounds(low, high, dtype):
    info = finfo(dtype)
    return _bounds(low, high, dtype, lowest_inclusive=float(info.min),
                   highest_exclusive=float(info.max), default_low=-9, default_high=9)


def _uniform_fill_(t: Tensor, low: float, high: float) -> Tensor:
    # uniform_ needs high - low to be finite in t's dtype: draw half the range, then double it.
    if high - low >= float(finfo(t.dtype).max):
        return t.uniform_(low / 2, high / 2).mul_(2)
    return t.uniform_(low, high)


def make_tensor(*shape, dtype: _dt.dtype, device, low: float | None = None,
                high: float | None = None, requires_grad: bool = False,
                noncontiguous: bool = False, exclude_zero: bool = False,
                memory_format=None) -> Tensor:
    """A tensor of ``shape`` on ``device`` with values drawn uniformly from ``[low, high)``,
    from the default generator, so ``ember.manual_seed(s)`` then ``make_tensor`` gives
    PyTorch's values after ``torch.manual_seed(s)``.

    Args:
        shape: integers, or one sequence of them.
        dtype: bool, an integer, floating, complex or float8 dtype.
        device: where the tensor lives.
        low, high: the range, clamped to the dtype's finite values. Defaults: bool [0, 2),
            unsigned [0, 10), signed integers [-9, 10), floating and complex [-9, 9).
        requires_grad: whether autograd records operations on it (floating and complex only).
        noncontiguous: make it a strided view (when it has two elements or more).
        exclude_zero: replace zeros by 1 (bool and integers) or ``finfo(dtype).tiny``.
        memory_format: its layout, e.g. ``ember.channels_last``; excludes ``noncontiguous``.

    Raises:
        ValueError: ``requires_grad`` with an integral dtype, ``low >= high``, a NaN bound, a
            range outside the dtype, or both ``noncontiguous`` and ``memory_format``.
        TypeError: a dtype it cannot draw.

    Example:
        >>> make_tensor(2, 3, dtype=ember.float32, device="cpu", low=-1, high=1).shape
        torch.Size([2, 3])
    """
    if len(shape) == 1 and isinstance(shape[0], collections.abc.Sequence):
        shape = shape[0]
    shape = tuple(shape)
    if noncontiguous and memory_format is not None:
        raise ValueError(f"The parameters `noncontiguous` and `memory_format` are mutually "
                         f"exclusive, but got {noncontiguous=} and {memory_format=}")
    if requires_grad and dtype in _BOOLEAN_OR_INTEGRAL_TYPES:
        raise ValueError(f"`requires_grad=True` is not supported for boolean and integral "
                         f"dtypes, but got {dtype=}")

    noncontiguous = noncontiguous and math.prod(shape) > 1
    if noncontiguous:  # draw twice the last dimension and keep every other column
        shape = (*shape[:-1], 2 * shape[-1])

    if dtype is _dt.bool:
        low, high = _bounds(low, high, dtype, lowest_inclusive=0, highest_exclusive=2,
                            default_low=0, default_high=2)
        result = randint(low, high, shape, device=device, dtype=dtype)
    elif dtype in _INTEGRAL_TYPES:
        # randint reads its bounds as int64, so int64's exclusive bound stays at its max.
        info = iinfo(dtype)
        low, high = _bounds(low, high, dtype, lowest_inclusive=int(info.min),
                            highest_exclusive=int(info.max) + (dtype is not _dt.int64),
                            default_low=-9, default_high=10)
        result = randint(low, high, shape, device=device, dtype=dtype)
    elif dtype in _FLOATING_OR_COMPLEX_TYPES:
        low, high = _float_bounds(low, high, dtype)
        result = empty(shape, device=device, dtype=dtype)
        _uniform_fill_(view_as_real(result) if dtype.is_complex else result, low, high)
    elif dtype in _FLOATING_8BIT_TYPES:  # drawn in float32, as float8 has no uniform_
        low, high = _float_bounds(low, high, dtype)
        result = _uniform_fill_(empty(shape, device=device, dtype=_dt.float32), low, high)
        result = result.to(dtype)
    else:
        raise TypeError(f"The requested dtype '{dtype}' is not supported by "
                        f"torch.testing.make_tensor(). To request support, file an issue at: "
                        f"https://github.com/pytorch/pytorch/issues")

    if noncontiguous:
        result = result[..., 1::2]  # offset by one to catch offset bugs too
    elif memory_format is not None:
        result = result.clone(memory_format=memory_format)
    if exclude_zero:
        nonzero = 1 if dtype in _BOOLEAN_OR_INTEGRAL_TYPES else float(finfo(dtype).tiny)
        result[result == 0] = nonzero
    if dtype in _FLOATING_OR_COMPLEX_TYPES:
        result.requires_grad = requires_grad
    return result
