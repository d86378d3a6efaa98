"""Counting into bins (bincount, histc) and the sorted-sequence searches behind bucketize
(searchsorted, bucketize)."""
from __future__ import annotations

import math

import numpy as np

from ember._tensor import Tensor, _make
from ember.ops._util import refuse_complex, scalar_name, write_result


def bincount(input: Tensor, weights=None, minlength: int = 0) -> Tensor:
    xp = input._xp
    w = None if weights is None else weights._data
    if input.dtype.is_floating_point or input.dtype.is_complex:
        raise NotImplementedError(f'"bincount_cpu" not implemented for '
                                  f"'{scalar_name(input.dtype)}'")
    try:
        out = xp.bincount(input._data, weights=w, minlength=minlength)
    except ValueError:  # negative, or not 1-d
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.") from None
    if w is None:
        out = out.astype(np.int64)
    elif w.dtype == np.float32:
        out = out.astype(np.float32)
    return _make(out)


def histc(input: Tensor, bins: int = 100, min=0, max=0, *, out=None) -> Tensor:  # noqa: A002
    xp = input._xp
    data = input._data
    refuse_complex(data, "histc(): not implemented for complex tensors")
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f'"histogram_cpu" not implemented for '
                                  f"'{scalar_name(input.dtype)}'")
    if bins <= 0:
        raise RuntimeError(f"torch.histc(): bins must be > 0, but got {bins}")
    lo, hi = float(min), float(max)
    if lo > hi:
        raise RuntimeError("torch.histc: max must be larger than min")
    if lo == hi and data.size:
        lo, hi = float(data.min()), float(data.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise RuntimeError(f"torch.histc: range of [{lo:g}, {hi:g}] is not finite")
    # PyTorch's bin of x, in x's dtype: (x - lo) * bins / (hi - lo), the last bin holding hi
    # (no search against the edges, as NumPy's histogram makes: they differ near an edge).
    x = data.reshape(-1)
    lo_t, hi_t = xp.asarray(lo, data.dtype), xp.asarray(hi, data.dtype)
    x = x[(x >= lo_t) & (x <= hi_t)]  # NaN neither
    pos = ((x - lo_t) * xp.asarray(bins, data.dtype) / (hi_t - lo_t)).astype(np.int64)
    hist = xp.bincount(xp.clip(pos, 0, bins - 1), minlength=bins)  # (0: a half's overflow)
    result = _make(hist.astype(data.dtype))
    return result if out is None else write_result(out, result)


def searchsorted(sorted_sequence: Tensor, values, *, out_int32: bool = False,
                 right: bool = False, side=None, sorter=None, out=None) -> Tensor:
    """For each of ``values``, the index in ``sorted_sequence`` (1-D, or sorted along its last
    dim with leading dims matching ``values``'s) where inserting it keeps the order: the first
    such index, or the last for ``right``/``side='right'``. ``sorter`` indexes the sequence
    into sorted order."""
    if side is not None and side not in ("left", "right"):
        raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got "
                           f"{side}")
    if side == "left" and right:
        raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, got "
                           "side of left while right was True")
    xp = sorted_sequence._xp
    side = side or ("right" if right else "left")
    seq = sorted_sequence._data
    vals = values._data if isinstance(values, Tensor) else xp.asarray(values)
    if seq.ndim != 1 and seq.shape[:-1] != vals.shape[:-1]:
        raise RuntimeError(f"torch.searchsorted(): boundaries tensor should be 1 dimension or "
                           f"the first N-1 dimensions of boundaries tensor and input value "
                           f"tensor must match, but we got boundaries tensor "
                           f"{list(seq.shape)} and input value tensor {list(vals.shape)}")
    if sorter is not None:
        if sorter.shape != sorted_sequence.shape:
            raise RuntimeError(f"torch.searchsorted(): boundary and sorter must have the same "
                               f"size, but got boundary tensor {list(seq.shape)}and got sorter "
                               f"tensor {list(sorter.shape)}")
        seq = xp.take_along_axis(seq, sorter._data, -1)
    if seq.ndim == 1:
        res = xp.searchsorted(seq, vals, side=side)
    else:  # one search per row of the sequence
        n = math.prod(seq.shape[:-1])  # explicit sizes: -1 cannot stand beside a 0
        rows = seq.reshape(n, seq.shape[-1])
        res = xp.empty(vals.shape, np.int64)
        flat = res.reshape(n, vals.shape[-1])
        for r, v in enumerate(vals.reshape(flat.shape)):
            flat[r] = xp.searchsorted(rows[r], v, side=side)
    result = _make(xp.asarray(res, np.int32 if out_int32 else np.int64))
    return result if out is None else write_result(out, result)


def bucketize(input, boundaries: Tensor, *, out_int32: bool = False, right: bool = False, out=None):
    if boundaries.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries.ndim})")
    result = searchsorted(boundaries, input, out_int32=out_int32, right=right)
    return result if out is None else write_result(out, result)
