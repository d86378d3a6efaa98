"""Order statistics: max, min, amax, amin, aminmax, argmax, argmin, median, nanmedian and mode.

Like the other reductions, each accepts NumPy's ``axis`` for ``dim`` and ``keepdims`` for
``keepdim``."""
from __future__ import annotations

import numpy as np

from ember import dtypes as _dt
from ember import return_types
from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive
from ember.backend.device import get_array_module
from ember.backend.host_tie_order import mode_indices
from ember.backend.special import sort_keys
from ember.ops._reduce_dims import _dims, _restore_dims
from ember.ops._util import refuse_complex, wrap_dim, write_result
from ember.ops.elementwise import select_grad, where


class MaxAll(Primitive, node_name="MaxBackward1"):
    """max()/min()/amax/amin over several dims: ties share the gradient evenly. max() and min()
    select it (NaNs share it, the others get 0 even from an inf gradient); amax and amin
    multiply it by the 0/1 ties, as PyTorch does: an inf gradient gives NaN to the others, and
    a NaN slice (no element equal to its NaN result) NaN throughout."""

    _node_saved = {"self": 0, "result": 1}

    @staticmethod
    def forward(ctx, a, dims, keepdim, largest, select=True):
        refuse_complex(a, f"{'max' if largest else 'min'}(): not implemented for complex "
                       "tensors")
        if a.size == 0 and dims is None:  # amax and amin check their dims before
            _check_empty_extreme(a.shape, None, "max" if largest else "min")
        xp = get_array_module(a)
        out = (xp.max if largest else xp.min)(a, axis=dims, keepdims=keepdim)
        ctx.save_for_backward(a, out)
        ctx.args = (dims, keepdim, select)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx._saved_arrays
        dims, keepdim, select = ctx.args
        dims = dims if dims is not None else tuple(range(a.ndim))
        xp = get_array_module(a)
        out_b = out if keepdim else xp.expand_dims(out, dims)
        hit = a == out_b
        if select and _dt.np_kind(a.dtype) == "f":  # a NaN result came from the NaNs
            hit |= xp.isnan(a) & xp.isnan(out_b)
        count = _make(hit.sum(axis=dims, keepdims=True).astype(grad._data.dtype))
        share = _restore_dims(grad, a.shape, dims, keepdim) / count
        if select:
            return select_grad(share.expand(a.shape), hit)
        return share * _make(hit.astype(grad._data.dtype))


class MinAll(MaxAll, node_name="MinBackward1"):
    """min() over all elements: MaxAll's smallest, under PyTorch's node name."""


class Amax(MaxAll, node_name="AmaxBackward0"):
    """amax: MaxAll multiplying the gradient by the ties, under PyTorch's node name."""


class Amin(MaxAll, node_name="AminBackward0"):
    """amin: MaxAll's smallest, multiplying the gradient by the ties."""


class MaxDim(Primitive, node_name="MaxBackward0"):
    @staticmethod
    def forward(ctx, a, dim, keepdim, largest):
        xp = get_array_module(a)
        if a.shape and a.shape[dim] == 0:
            raise IndexError("max(): Expected reduction dim " + str(dim) + " to have non-zero "
                             "size.")
        idx = (xp.argmax if largest else xp.argmin)(a, axis=dim, keepdims=True)
        if _dt.np_kind(a.dtype) == "f":  # NaN wins, as in PyTorch
            nan_idx = xp.argmax(xp.isnan(a), axis=dim, keepdims=True)
            has_nan = xp.isnan(a).any(axis=dim, keepdims=True)
            idx = xp.where(has_nan, nan_idx, idx)
        values = xp.take_along_axis(a, idx, dim)
        if not keepdim:
            idx = idx.squeeze(dim)
            values = values.squeeze(dim)
        ctx.save_for_backward(idx)
        ctx.args = (a.shape, dim, keepdim)
        return values, idx.astype(np.int64)

    @staticmethod
    def backward(ctx, grad, grad_idx=None):
        (idx,) = ctx.saved_tensors
        shape, dim, keepdim = ctx.args
        g = grad if keepdim else grad.unsqueeze(dim)
        i = idx if keepdim else idx.unsqueeze(dim)
        zeros = _make(grad._xp.zeros(shape, grad._data.dtype))
        from ember.ops.gather_scatter import scatter
        return scatter(zeros, dim, i, g)


class MinDim(MaxDim, node_name="MinBackward0"):
    pass


def _max_min(input, dim, keepdim, largest: bool, name: str, other=None):
    if isinstance(dim, Tensor):  # torch.max(a, b) is maximum
        from ember.ops.elementwise import maximum, minimum
        return (maximum if largest else minimum)(input, dim)
    if dim is None:  # MaxAll refuses complex inputs
        return (MaxAll if largest else MinAll).apply(input, None, False, largest, True)
    refuse_complex(input._data, f"{name}(): does not support complex input", RuntimeError)
    d = wrap_dim(dim, input.ndim)
    if input.ndim == 0:
        return getattr(return_types, name)(input.clone(), _make(input._xp.zeros((), np.int64)))
    values, indices = (MaxDim if largest else MinDim).apply(input, d, keepdim, largest)
    return getattr(return_types, name)(values, indices)


def max(input: Tensor, dim=None, keepdim: bool = False, *, out=None, axis=None,  # noqa: A001
        keepdims=None):
    """The largest element, or (values, indices) along ``dim``, or ``maximum`` of two tensors."""
    dim = dim if axis is None else axis
    keepdim = keepdim if keepdims is None else keepdims
    result = _max_min(input, dim, keepdim, True, "max")
    return result if out is None else write_result(out, result)


def min(input: Tensor, dim=None, keepdim: bool = False, *, out=None, axis=None,  # noqa: A001
        keepdims=None):
    dim = dim if axis is None else axis
    keepdim = keepdim if keepdims is None else keepdims
    result = _max_min(input, dim, keepdim, False, "min")
    return result if out is None else write_result(out, result)


def _all_or_dims(dim, input: Tensor, name: str):
    """None for a reduction over every dim (``dim`` None or ()), else the wrapped dims; a 0-d
    tensor's dims are checked (0 and -1) and reduce nothing."""
    if not input._data.size:
        _check_empty_extreme(input.shape, dim, name)
    if dim is None or (isinstance(dim, (tuple, list)) and not dim):
        return None
    dims = _dims(dim, input.ndim)
    return dims if input.ndim else None


def _check_empty_extreme(shape, dim, name: str) -> None:
    """PyTorch's errors for max or min over an empty tensor: before any other check of the
    dims, each dim in the order written, named as written."""
    dims = () if dim is None else (dim,) if isinstance(dim, (int, np.integer)) else dim
    if not dims:
        raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() "
                           "== 0. Specify the reduction dim with the 'dim' argument.")
    for d in dims:
        if shape[wrap_dim(d, len(shape))] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")


def amax(input: Tensor, dim=(), keepdim: bool = False, *, axis=None, keepdims=None,
         out=None) -> Tensor:
    """The largest values over ``dim`` (all dims by default); ties share the gradient."""
    dim = dim if axis is None else axis
    keepdim = keepdim if keepdims is None else keepdims
    result = Amax.apply(input, _all_or_dims(dim, input, "amax"), keepdim, True, False)
    return result if out is None else write_result(out, result)


def amin(input: Tensor, dim=(), keepdim: bool = False, *, axis=None, keepdims=None,
         out=None) -> Tensor:
    """The smallest values over ``dim`` (all dims by default); ties share the gradient."""
    dim = dim if axis is None else axis
    keepdim = keepdim if keepdims is None else keepdims
    result = Amin.apply(input, _all_or_dims(dim, input, "amin"), keepdim, False, False)
    return result if out is None else write_result(out, result)


def aminmax(input: Tensor, *, dim=None, keepdim: bool = False, axis=None, keepdims=None, out=None):
    dim = dim if axis is None else axis
    keepdim = keepdim if keepdims is None else keepdims
    if dim is None:
        d = ()
        if not input._data.size:
            raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the "
                               "operation has no identity.")
    elif isinstance(dim, (int, np.integer)) and not isinstance(dim, bool):
        d = wrap_dim(dim, input.ndim)
        if input.ndim and not input.shape[d]:
            raise IndexError(f"aminmax: Expected reduction dim {d} to have non-zero size.")
    else:
        raise TypeError(f"aminmax(): argument 'dim' must be int, not {type(dim).__name__}")
    result = return_types.aminmax(amin(input, d, keepdim), amax(input, d, keepdim))
    if out is None:
        return result
    from ember.ops.indexing import check_out_dtype
    for o in out:
        check_out_dtype(o, input.dtype)
    return write_result(out, result)


def _arg_extreme(input: Tensor, dim, keepdim: bool, largest: bool) -> Tensor:
    name = "argmax" if largest else "argmin"
    kind = input._data.dtype.kind
    if kind in "bc":
        raise RuntimeError(f"{name}(): does not support {'bool' if kind == 'b' else 'complex'} "
                           "input")
    xp = input._xp
    if dim is None:
        if input._data.size == 0:
            raise IndexError(f"{name}(): Expected reduction dim to be specified for "
                             "input.numel() == 0.")
        flat = (xp.argmax if largest else xp.argmin)(input._data.reshape(-1))
        return _make(xp.asarray(flat, np.int64).reshape((1,) * input.ndim if keepdim else ()))
    if not input.ndim:
        wrap_dim(dim, 0)
        return _make(xp.zeros((), np.int64))
    return (max if largest else min)(input, dim, keepdim).indices


def argmax(input: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None,
           out=None) -> Tensor:
    """The index of the largest element (of the flattened input, or along ``dim``)."""
    dim = dim if axis is None else axis
    keepdim = keepdim if keepdims is None else keepdims
    result = _arg_extreme(input, dim, keepdim, True)
    return result if out is None else write_result(out, result)


def argmin(input: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None,
           out=None) -> Tensor:
    """The index of the smallest element (of the flattened input, or along ``dim``)."""
    dim = dim if axis is None else axis
    keepdim = keepdim if keepdims is None else keepdims
    result = _arg_extreme(input, dim, keepdim, False)
    return result if out is None else write_result(out, result)


def _refuse_bool(input: Tensor, kernel: str) -> None:
    if input.dtype is _dt.bool:
        raise NotImplementedError(f'"{kernel}" not implemented for \'Bool\'')


def _check_reduced_dim(input: Tensor, d: int, name: str) -> None:
    """PyTorch's error for a selection (median, mode, ...) along an empty dim."""
    if input.ndim and input.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")


def median(input: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None, out=None):
    """The lower median (of all elements, or (values, indices) along ``dim``)."""
    refuse_complex(input._data, "median(): not implemented for complex tensors")
    dim = dim if axis is None else axis
    keepdim = keepdim if keepdims is None else keepdims
    if dim is None:
        _refuse_bool(input, "median_cpu")
        result = MedianAll.apply(input)
        return result if out is None else write_result(out, result)
    from ember.ops.sorting import kth_smallest
    d = wrap_dim(dim, input.ndim)
    _check_reduced_dim(input, d, "median")
    _refuse_bool(input, "median_out")
    k = (input.shape[d] - 1) // 2 + 1 if input.ndim else 1
    v, i = kth_smallest(input, k, d, keepdim, torch_ties=False)
    if input.is_floating_point() and input.ndim:
        # a slice holding NaN has median NaN, at its first NaN (without a sync: always picked)
        nan = input.detach().isnan()
        first = nan.to(_dt.uint8).argmax(d, keepdim=True)
        i = where(nan.any(d, keepdim=True), first, i if keepdim else i.unsqueeze(d))
        v = input.gather(d, i)
        if not keepdim:
            v, i = v.squeeze(d), i.squeeze(d)
    result = return_types.median(v, i)
    return result if out is None else write_result(out, result)


class MedianAll(MaxAll, node_name="MedianBackward0"):
    """The lower median of all elements (NaN if any is NaN); ties share the gradient."""

    @staticmethod
    def forward(ctx, a):
        xp = get_array_module(a)
        flat = xp.sort(sort_keys(a.reshape(-1))).astype(a.dtype, copy=False)
        if flat.size == 0 or (_dt.np_kind(a.dtype) == "f" and xp.isnan(flat[-1])):
            out = xp.full((), xp.nan, a.dtype)
        else:
            out = flat[(flat.size - 1) // 2].reshape(())
        ctx.save_for_backward(a, out)
        ctx.args = (None, False, True)
        return out


def nanmedian(input: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
    """``median`` ignoring NaNs: the lower median of the other values (NaN where there are
    none); along ``dim``, (values, indices)."""
    refuse_complex(input._data, "nanmedian(): not implemented for complex tensors")
    dim = dim if axis is None else axis
    keepdim = keepdim if keepdims is None else keepdims
    if dim is None:
        flat = input.reshape(-1)
        flat = flat[~flat.isnan()]
        return median(flat)
    d = wrap_dim(dim, input.ndim)
    _check_reduced_dim(input, d, "median")  # PyTorch's name, for nanmedian too
    _refuse_bool(input, "median_out")
    if input.ndim == 0:
        return return_types.nanmedian(input, _make(input._xp.zeros((), np.int64)))
    data = input.detach()
    order = data.argsort(dim=d, stable=True)  # NaNs sort last
    count = (~data.isnan()).sum(d, keepdim=True)
    index = order.gather(d, (count - 1).clamp(min=0) // 2)
    values = input.gather(d, index)
    if not keepdim:
        values, index = values.squeeze(d), index.squeeze(d)
    return return_types.nanmedian(values, index)


def mode(input: Tensor, dim: int = -1, keepdim: bool = False, *, axis=None, keepdims=None,
         out=None):
    """The most frequent value along ``dim`` (the smallest on ties) and the index PyTorch's
    CPU kernel reports among its occurrences; the gradient flows to that index."""
    refuse_complex(input._data, "mode(): not implemented for complex tensors")
    dim = dim if axis is None else axis
    keepdim = keepdim if keepdims is None else keepdims
    d = wrap_dim(dim, input.ndim)
    _check_reduced_dim(input, d, "mode")
    if input.ndim == 0:
        result = return_types.mode(input.clone(), _make(input._xp.zeros((), np.int64)))
        return result if out is None else write_result(out, result)
    host = np.moveaxis(np.asarray(input.detach().cpu()._data), d, -1)
    rows = host.reshape(-1, host.shape[-1])
    values = np.empty(rows.shape[0], rows.dtype)
    for r, row in enumerate(rows):
        # each NaN counts once, as in PyTorch (no NaN equals another); ties: the smallest value
        uniq, counts = np.unique(row, return_counts=True, equal_nan=False)
        values[r] = uniq[np.argmax(counts)]
    indices = mode_indices(rows, values)
    i = _make(indices.reshape(host.shape[:-1])).to(input.device).unsqueeze(d)
    from ember.ops.gather_scatter import gather
    v = gather(input, d, i)
    if not keepdim:
        v, i = v.squeeze(d), i.squeeze(d)
    result = return_types.mode(v, i)
    return result if out is None else write_result(out, result)
