"""Sorting along a dim: sort, argsort, msort, topk, kthvalue, and unique / unique_consecutive.
sort, topk and kthvalue order indices stably (NaN last), put equal elements in PyTorch's CPU
order (backend/host_tie_order.py) and gather the values with them; the rest build on sort."""
from __future__ import annotations

import numpy as np

from ember import dtypes as _dt
from ember import return_types
from ember._tensor import Tensor, _make
from ember.backend.host_tie_order import kthvalue_ties, sort_ties, topk_ties
from ember.backend.special import sort_keys
from ember.ops._util import (
    refuse_complex,
    wrap_dim,
    write_result,
)
from ember.ops.gather_scatter import gather


def _argsort(a, dim: int, descending: bool, xp):
    a = sort_keys(a)
    if not descending:
        return xp.argsort(a, axis=dim, kind="stable")
    # Stable descending order: sort the reversed array, reverse, and map positions back.
    n = a.shape[dim]
    rev = xp.flip(a, dim)
    order = xp.flip(xp.argsort(rev, axis=dim, kind="stable"), dim)
    return (n - 1) - order


_SORT_COMPLEX = "Sort does not support complex dtypes"


def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False, *,
         axis=None, out=None):
    """(values, indices) sorted along ``dim``; NaN counts as the largest value."""
    if axis is not None:
        dim = axis
    if out is not None:
        return write_result(out, sort(input, dim, descending, stable))
    refuse_complex(input._data, _SORT_COMPLEX, RuntimeError)
    if input.ndim == 0:
        return return_types.sort(input.clone(), _make(input._xp.zeros((), np.int64)))
    d = wrap_dim(dim, input.ndim)
    order = _argsort(input._data, d, descending, input._xp)
    if not stable:
        order = sort_ties(input._data, order, d, descending)
    idx = _make(order.astype(np.int64))
    return return_types.sort(gather(input, d, idx), idx)


def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False, *,
            axis=None, out=None) -> Tensor:
    indices = sort(input, dim if axis is None else axis, descending, stable).indices
    return indices if out is None else write_result(out, indices)


def msort(input: Tensor, *, out=None) -> Tensor:
    values = sort(input, 0).values
    return values if out is None else write_result(out, values)


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True, *,
         axis=None, out=None):
    """The k largest (or smallest) elements along ``dim`` and their indices; NaN is the
    largest value."""
    if axis is not None:
        dim = axis
    if out is not None:
        return write_result(out, topk(input, k, dim, largest, sorted))
    refuse_complex(input._data, "topk does not support complex dtypes", RuntimeError)
    if input.dtype is _dt.bool:
        raise RuntimeError("topk does not support bool dtypes on CPU")
    d = wrap_dim(dim, input.ndim)
    n = input._data.shape[d] if input.ndim else 1
    if k > n or k < 0:
        raise RuntimeError("selected index k out of range")
    if input.ndim == 0:
        return return_types.topk(*sort(input))
    order = _argsort(input._data, d, largest, input._xp)
    idx = _make(topk_ties(input._data, order, d, k).astype(np.int64))
    return return_types.topk(gather(input, d, idx), idx)


def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False, *, axis=None,
             keepdims=None, out=None):
    """The k-th smallest values along ``dim`` and their indices."""
    if axis is not None:
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    if out is not None:
        return write_result(out, kthvalue(input, k, dim, keepdim))
    refuse_complex(input._data, "kthvalue not implemented for complex")
    d = wrap_dim(dim, input.ndim)
    n = input._data.shape[d] if input.ndim else 1
    if n == 0:
        raise IndexError(f"kthvalue(): Expected reduction dim {d} to have non-zero size.")
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    if input.dtype is _dt.bool and input.ndim:
        raise NotImplementedError('"kthvalue_cpu" not implemented for \'Bool\'')
    return return_types.kthvalue(*kth_smallest(input, k, d, keepdim))


def kth_smallest(input: Tensor, k: int, d: int, keepdim: bool, torch_ties: bool = True):
    """(values, indices) of the k-th smallest along ``d``; among equal values the one
    kthvalue's quickselect picks, or without ``torch_ties`` the k-th in stable order (as
    median's std::nth_element, which orders ties by index, picks it)."""
    if input.ndim == 0:
        return input.clone(), _make(input._xp.zeros((), np.int64))
    order = _argsort(input._data, d, False, input._xp)
    if torch_ties:
        i = kthvalue_ties(input._data, order, d, k)
    else:
        i = order[(slice(None),) * d + (k - 1,)]
    i = _make(i.astype(np.int64)).unsqueeze(d)
    v = gather(input, d, i)
    if not keepdim:
        v, i = v.squeeze(d), i.squeeze(d)
    return v, i


def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False,
           return_counts: bool = False, dim=None):
    xp = input._xp
    res = xp.unique(input._data, return_inverse=True, return_counts=True,
                    axis=None if dim is None else wrap_dim(dim, input.ndim),
                    equal_nan=False)  # each NaN apart, as in PyTorch
    values, inverse, counts = res
    out = [_make(values)]
    if return_inverse:
        out.append(_make(inverse.reshape(input._data.shape if dim is None else -1)
                         .astype(np.int64)))
    if return_counts:
        out.append(_make(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def unique_consecutive(input: Tensor, return_inverse: bool = False,
                       return_counts: bool = False, dim=None):
    """``input`` with each run of equal consecutive elements (or, along ``dim``, of equal
    consecutive slices) kept once; optionally the run each element falls in and the run
    lengths."""
    xp = input._xp
    data = input._data
    if dim is None:
        flat = data.reshape(-1)
        n = flat.size
        keep = xp.ones(n, bool)  # where a run starts
        keep[1:] = flat[1:] != flat[:-1]
        out = [_make(flat[keep])]
    else:
        if input.ndim == 0:
            raise IndexError("Dimension specified as 0 but tensor has no dimensions")
        d = wrap_dim(dim, input.ndim)
        moved = xp.moveaxis(data, d, 0)
        n = moved.shape[0]
        rows = moved.reshape(n, moved[:1].size)  # one row per slice along d
        if n and not rows.shape[1]:
            raise RuntimeError("There are 0 sized dimensions, and they aren't selected, so "
                               "unique cannot be applied")
        keep = xp.ones(n, bool)
        keep[1:] = (rows[1:] != rows[:-1]).any(axis=1)
        out = [_make(xp.compress(keep, data, axis=d))]
    if return_inverse:
        inverse = (xp.cumsum(keep) - 1).astype(np.int64)
        out.append(_make(inverse.reshape(data.shape) if dim is None else inverse))
    if return_counts:
        starts = xp.nonzero(keep)[0]
        out.append(_make(xp.diff(xp.append(starts, n)).astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)

