"""Reductions (sum, mean, max, var, norm, ...) and scans (cumsum, cumprod, ...).

Like PyTorch, each accepts NumPy's keyword names ``axis`` for ``dim`` and ``keepdims`` for
``keepdim``: explicit keyword-only parameters, so the usual call pays one comparison."""
from __future__ import annotations

import builtins
import math

import numpy as np

from ember import dtypes as _dt
from ember import return_types
from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive
from ember.autograd.grad_mode import _State
from ember.backend.cuda import leading_sum
from ember.backend.device import get_array_module
from ember.backend.special import cumulative, sort_keys
from ember.ops._util import (
    accepts_out,
    refuse_complex,
    scalar_name,
    wrap_dim,
    wrap_dims,
    write_result,
)
from ember.ops.elementwise import select_grad, where
from ember.ops.movement import Expand


def _dims(dim, ndim: int):
    """Normalised reduction dims; None and () mean all dims (PyTorch's convention)."""
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(ndim))
    return wrap_dims(dim, ndim)


def _restore_dims(grad: Tensor, in_shape, dims, keepdim: bool) -> Tensor:
    """Reshape a reduced gradient so that it broadcasts against the input."""
    if keepdim or not dims or grad.ndim == 0:  # a 0-d gradient broadcasts as it is
        return grad
    shape = list(in_shape)
    for d in dims:
        shape[d] = 1
    return grad.reshape(shape)


# Elements up to which writing a small gradient out costs less than broadcast_to's Python-level
# setup (about 2 us, the time to fill some 8k floats); above it a broadcast view saves memory.
_FILL_LIMIT = 4096


def _expand_grad(grad: Tensor, shape: tuple) -> Tensor:
    """A reduction's gradient (already ``_restore_dims``-ed) broadcast back to the input's
    ``shape``: a differentiable ``expand`` when a graph is recorded (``create_graph``), else a
    plain array, since nothing sees that the gradient of a sum is a view."""
    if _State.enabled and grad.requires_grad:
        return Expand.apply(grad, shape)
    data = grad._data
    if data.shape == shape:
        return grad
    xp = grad._xp
    if math.prod(shape) > _FILL_LIMIT:
        return _make(xp.broadcast_to(data, shape))
    out = xp.empty_like(data, shape=shape)  # of data's kind (a meta array stays meta)
    out[...] = data
    return _make(out)


class Sum(Primitive, node_name="SumBackward0"):
    _node_saved = {"self_sym_sizes": lambda ctx: ctx.args[0]}

    @staticmethod
    def forward(ctx, a, dims=None, keepdim=False, dtype=None):
        # The defaults are the full sum, applied as ``Sum.apply(x)``: the one-operand fast path.
        if ctx.needs_input_grad:
            ctx.args = (a.shape, dims, keepdim)
        if a.__class__ is not np.ndarray and dims and dtype is None:  # CUDA: a bias's grad
            out = leading_sum(a, dims, keepdim)
            if out is not None:
                return out
        if dtype is None:
            if a.dtype.kind in "biu":
                dtype = np.int64
            elif a.dtype.itemsize == 2:  # float16, bfloat16: see _half
                return a.sum(axis=dims, keepdims=keepdim, dtype=np.float32).astype(a.dtype)
        elif _dt.is_half(dtype):  # PyTorch casts to the half dtype, then sums in float32
            acc = a.astype(dtype, copy=False).sum(axis=dims, keepdims=keepdim, dtype=np.float32)
            return acc.astype(dtype)
        return a.sum(axis=dims, keepdims=keepdim, dtype=dtype)

    @staticmethod
    def backward(ctx, grad):
        shape, dims, keepdim = ctx.args
        if dims is not None:  # a full sum's 0-d gradient broadcasts as it is
            grad = _restore_dims(grad, shape, dims, keepdim)
        return _expand_grad(grad, shape)


class SumDim(Sum, node_name="SumBackward1"):
    """``sum`` over given dims: PyTorch names its node apart from the full sum's."""

    _node_saved = {"self_sym_sizes": lambda ctx: ctx.args[0],
                   "dim": lambda ctx: ctx.args[1],
                   "keepdim": lambda ctx: ctx.args[2]}


def sum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None, out=None,  # noqa: A001
        axis=None,
        keepdims=None):
    """Sum over ``dim`` (all dims by default). Integer and bool inputs sum to int64."""
    dim = dim if axis is None else axis
    keepdim = keepdim if keepdims is None else keepdims
    # All dims reduce as axis=None: no dims tuple to build, and none to restore in backward.
    dims = None if dim is None else _dims(dim, input.ndim)
    np_dtype = None if dtype is None else _dt.to_dtype(dtype).np_dtype
    if dims is None and not keepdim and np_dtype is None:
        result = Sum.apply(input)
    else:
        node = Sum if dim is None else SumDim
        result = node.apply(input, dims if input.ndim else None, keepdim, np_dtype)
    if out is not None:
        from ember.ops.inplace import write_out
        return write_out(out, result)
    return result


def nansum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None, axis=None,
           keepdims=None, out=None):
    dim = dim if axis is None else axis
    keepdim = keepdim if keepdims is None else keepdims
    from ember.ops.compare import isnan
    if input.is_complex():
        raise RuntimeError("nansum does not support complex inputs")
    result = sum(where(isnan(input), _make(input._xp.zeros((), input._data.dtype)), input),
                 dim, keepdim, dtype=dtype)
    return result if out is None else write_result(out, result)


class Mean(Primitive, node_name="MeanBackward0"):
    _node_saved = {"self_sym_sizes": lambda ctx: ctx.args[0],
                   "self_sym_numel": lambda ctx: int(np.prod(ctx.args[0]))}

    @staticmethod
    def forward(ctx, a, dims, keepdim, dtype):
        if _dt.np_kind(dtype or a.dtype) not in "fc":
            which = "Input" if dtype is None else "Optional"
            raise RuntimeError(f"mean(): could not infer output dtype. {which} dtype must be "
                               "either a floating point or complex dtype. Got: "
                               f"{scalar_name(dtype or a.dtype)}")
        ctx.args = (a.shape, dims, keepdim)
        acc = dtype
        if _dt.is_half(dtype or a.dtype):  # cast to the half dtype, then accumulate in float32
            a = a.astype(dtype or a.dtype, copy=False)
            acc = np.float32
        if a.size:
            out = a.mean(axis=dims, keepdims=keepdim, dtype=acc)
        else:  # NumPy warns from inside np.mean; PyTorch gives nan quietly
            out = a.sum(axis=dims, keepdims=keepdim, dtype=acc) * float("nan")
        return out.astype(dtype or a.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        shape, dims, keepdim = ctx.args
        n = 1
        for d in (dims if dims is not None else range(len(shape))):
            n *= shape[d]
        # Scale before broadcasting: fewer elements.
        g = _restore_dims(grad, shape, dims, keepdim)
        return _expand_grad(g / n if n else g * float("nan"), shape)


class MeanDim(Mean, node_name="MeanBackward1"):
    """``mean`` over given dims: PyTorch names its node apart from the full mean's."""

    _node_saved = {"self_sym_sizes": lambda ctx: ctx.args[0],
                   "self_sym_numel": lambda ctx: int(np.prod(ctx.args[0])),
                   "dim": lambda ctx: ctx.args[1],
                   "keepdim": lambda ctx: ctx.args[2]}


def mean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None, out=None, axis=None,
         keepdims=None):
    """Mean over ``dim`` (all dims by default); floating-point inputs only."""
    dim = dim if axis is None else axis
    keepdim = keepdim if keepdims is None else keepdims
    dims = _dims(dim, input.ndim)
    np_dtype = None if dtype is None else _dt.to_dtype(dtype).np_dtype
    node = Mean if dim is None else MeanDim
    result = node.apply(input, dims if input.ndim else None, keepdim, np_dtype)
    if out is not None:
        from ember.ops.inplace import write_out
        return write_out(out, result)
    return result


def nanmean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None, axis=None,
            keepdims=None, out=None):
    dim = dim if axis is None else axis
    keepdim = keepdim if keepdims is None else keepdims
    if not (input.is_floating_point() or input.is_complex()):
        raise RuntimeError(f"nanmean(): expected input to have floating point or complex dtype "
                           f"but got {scalar_name(input.dtype)}")
    from ember.ops.compare import isnan
    count = sum(~isnan(input), dim, keepdim)
    result = nansum(input, dim, keepdim, dtype=dtype) / count
    return result if out is None else write_result(out, result)


class Prod(Primitive, node_name="ProdBackward0"):
    _node_saved = {"self": 0, "result": 1}

    @staticmethod
    def forward(ctx, a, dim, keepdim, dtype):
        if dtype is None and a.dtype.kind in "biu":
            dtype = np.int64
        out = a.prod(axis=dim, keepdims=keepdim, dtype=dtype)  # rounds per step, as PyTorch
        ctx.save_for_backward(a, out)
        ctx.args = (dim, keepdim)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        dim, keepdim = ctx.args
        if a._data.size == 0:  # nothing to differentiate (a product over an empty dim is 1)
            return _make(a._xp.zeros(a.shape, a._data.dtype))
        if a.is_complex():  # the adjoint multiplies by the conjugate derivative
            a = a.conj()
        if dim is None:
            flat = a.reshape(-1)
            return (grad * _prod_others(flat, 0)).reshape(a.shape)
        g = _restore_dims(grad, a.shape, (dim,), keepdim)
        return g * _prod_others(a, dim)


def _prod_others(a: Tensor, dim: int) -> Tensor:
    """For each element, the product of the others along ``dim`` (exact with zeros)."""
    ones_shape = list(a.shape)
    ones_shape[dim] = 1
    one = _make(a._xp.ones(ones_shape, a._data.dtype))
    from ember.ops.movement import cat
    before = cumprod(cat([one, a.narrow(dim, 0, a.shape[dim] - 1)], dim), dim)
    rev = a.flip(dim)
    after = cumprod(cat([one, rev.narrow(dim, 0, a.shape[dim] - 1)], dim), dim).flip(dim)
    return before * after


def prod(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None, axis=None, keepdims=None,
         out=None):
    dim = dim if axis is None else axis
    keepdim = keepdim if keepdims is None else keepdims
    np_dtype = None if dtype is None else _dt.to_dtype(dtype).np_dtype
    d = None if dim is None else wrap_dim(dim, input.ndim)
    if input.ndim == 0:  # dim 0 / -1 of a 0-d tensor is the tensor itself
        d = None
    result = Prod.apply(input, d, keepdim, np_dtype)
    return result if out is None else write_result(out, result)


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
        from ember.ops.indexing import scatter
        return scatter(zeros, dim, i, g)


class MinDim(MaxDim, node_name="MinBackward0"):
    pass


def _max_min(input, dim, keepdim, largest: bool, name: str, other=None):
    if isinstance(dim, Tensor):  # torch.max(a, b) is maximum
        from ember.ops.elementwise import maximum, minimum
        return (maximum if largest else minimum)(input, dim)
    if dim is None:  # MaxAll refuses complex inputs
        return MaxAll.apply(input, None, False, largest, True)
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
    result = MaxAll.apply(input, _all_or_dims(dim, input, "amax"), keepdim, True, False)
    return result if out is None else write_result(out, result)


def amin(input: Tensor, dim=(), keepdim: bool = False, *, axis=None, keepdims=None,
         out=None) -> Tensor:
    """The smallest values over ``dim`` (all dims by default); ties share the gradient."""
    dim = dim if axis is None else axis
    keepdim = keepdim if keepdims is None else keepdims
    result = MaxAll.apply(input, _all_or_dims(dim, input, "amin"), keepdim, False, False)
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


def _correction(unbiased, correction) -> float:
    if correction is not None:
        return correction
    if unbiased is None:
        return 1
    return 1 if unbiased else 0


def var(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None,
        axis=None, keepdims=None, out=None):
    """Variance over ``dim`` with Bessel's ``correction`` (1 by default)."""
    dim = dim if axis is None else axis
    keepdim = keepdim if keepdims is None else keepdims
    if isinstance(dim, bool):  # var(input, unbiased)
        unbiased, dim = dim, None
    if _dt.is_half(input._data.dtype):  # computed in float32, as PyTorch does
        result = var(input.float(), dim, unbiased, keepdim, correction=correction).to(input.dtype)
        return result if out is None else write_result(out, result)
    c = _correction(unbiased, correction)
    dims = _dims(dim, input.ndim)
    n = 1
    for d in dims:
        n *= input._data.shape[d] if input.ndim else 1
    centered = input - mean(input, dims, keepdim=True)
    # |x - mean|^2: a complex input has a real variance, as in PyTorch.
    sq = (centered * centered.conj()).real if input.is_complex() else centered * centered
    total = sum(sq, dims, keepdim)
    result = total / builtins.max(n - c, 0) if n - c > 0 else total * float("nan")
    return result if out is None else write_result(out, result)


def std(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None,
        axis=None, keepdims=None, out=None):
    """Standard deviation over ``dim`` (square root of ``var``)."""
    dim = dim if axis is None else axis
    keepdim = keepdim if keepdims is None else keepdims
    if _dt.is_half(input._data.dtype):  # the float32 root rounded once, as PyTorch does
        result = std(input.float(), dim, unbiased, keepdim, correction=correction)
        result = result.to(input.dtype)
        return result if out is None else write_result(out, result)
    result = StdSqrt.apply(var(input, dim, unbiased, keepdim, correction=correction))
    return result if out is None else write_result(out, result)


class StdSqrt(Primitive, node_name="StdBackward0"):
    """The square root that turns a variance into ``std``: where the deviation is 0 (a
    constant slice) the gradient is 0, as in PyTorch, not sqrt's infinite slope."""

    @staticmethod
    def forward(ctx, v):
        out = get_array_module(v).sqrt(v)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return (grad / (2 * out)).masked_fill(out == 0, 0)


def var_mean(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None, axis=None,
             keepdims=None):
    dim = dim if axis is None else axis
    keepdim = keepdim if keepdims is None else keepdims
    if isinstance(dim, bool):  # var_mean(input, unbiased)
        unbiased, dim = dim, None
    # A plain tuple, as PyTorch returns (torch.return_types has no var_mean).
    return (var(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim))


def std_mean(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None, axis=None,
             keepdims=None):
    dim = dim if axis is None else axis
    keepdim = keepdim if keepdims is None else keepdims
    if isinstance(dim, bool):  # std_mean(input, unbiased)
        unbiased, dim = dim, None
    return (std(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim))


class Norm(Primitive, node_name="NormBackward1"):
    @staticmethod
    def forward(ctx, a, p, dims, keepdim):
        xp = get_array_module(a)
        x = xp.abs(a)
        real_dtype = x.dtype
        if _dt.is_half(real_dtype):  # accumulate in float32, as PyTorch
            x = x.astype(np.float32)
        if p == float("inf") or p == float("-inf"):
            out = (x.max if p > 0 else x.min)(axis=dims, keepdims=keepdim)
        elif p == 0:
            out = (x != 0).sum(axis=dims, keepdims=keepdim).astype(x.dtype)
        elif p == 1:
            out = x.sum(axis=dims, keepdims=keepdim)
        elif p == 2:
            out = xp.sqrt((x * x).sum(axis=dims, keepdims=keepdim))
        else:
            out = (x ** p).sum(axis=dims, keepdims=keepdim) ** (1.0 / p)
        out = out.astype(real_dtype, copy=False)
        ctx.save_for_backward(a, out)  # the returned object, so double backward reaches it
        ctx.args = (p, dims, keepdim)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        p, dims, keepdim = ctx.args
        if p == 0:  # a count of nonzeros: no gradient, as in PyTorch
            return None
        g = _restore_dims(grad, a.shape, dims, keepdim)
        n = _restore_dims(out, a.shape, dims, keepdim)
        if p == 1:
            return g * a.sgn()
        if p in (float("inf"), float("-inf")):
            hit = (a.abs() == n).to(g.dtype)  # none for a NaN norm: no gradient, as PyTorch
            return g * a.sgn() * hit / hit.sum(dims, keepdim=True).clamp(min=1)
        safe = n.masked_fill(n == 0, 1)
        if p == 2:
            return (g * a / safe).masked_fill(n == 0, 0)
        scale = a * a.abs().pow(p - 2) / safe.pow(p - 1)
        return (g * scale).masked_fill(n == 0, 0)


def check_empty_norm(shape, ord, dim) -> None:
    """PyTorch's error for a negative or infinite norm over an empty dim, which reduces by min
    or max (no identity). Dims are named as the caller wrote them."""
    name = f"{float(ord):g}"
    dims = (dim,) if isinstance(dim, (int, np.integer)) else dim
    if not dims:
        raise RuntimeError(f"linalg.vector_norm cannot compute the {name} norm on an empty "
                           "tensor because the operation does not have an identity")
    for d in dims:
        if shape[wrap_dim(d, len(shape))] == 0:
            raise RuntimeError(f"linalg.vector_norm cannot compute the {name} norm on the "
                               f"dimension {d}because this dimension is empty and the "
                               "operation does not have an identity")


def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False, dtype=None, out=None):
    """Vector p-norm over ``dim`` (all elements by default); 'fro' is the 2-norm."""
    if p is None or p == "fro" and (dim is None or isinstance(dim, int) or len(dim) <= 2):
        p = 2
    elif isinstance(p, str):  # 'nuc', or 'fro' over more dims: a matrix norm checks the dims
        from ember.ops.decomposition import matrix_norm
        dims = tuple(range(input.ndim)) if dim is None else [dim] if isinstance(dim, int) else dim
        result = matrix_norm(input, p, dims, keepdim, dtype=dtype)
        return result if out is None else write_result(out, result)
    if isinstance(dim, int):
        dim = (dim,)
    dims = _dims(dim, input.ndim)
    if dtype is not None:
        input = input.to(dtype)
    if not (input.is_floating_point() or input.is_complex()):
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as "
                           f"input. Got {input.dtype.name.capitalize()}")
    if not input._data.size and (p < 0 or p == math.inf):
        check_empty_norm(input.shape, p, dim)
    result = Norm.apply(input, float(p), dims if input.ndim else None, keepdim)
    return result if out is None else write_result(out, result)


class LogSumExp(Primitive, node_name="LogsumexpBackward0"):
    _node_saved = {"self": 0,
                   "result": 1,
                   "dim": lambda ctx: ctx.args[0],
                   "keepdim": lambda ctx: ctx.args[1]}

    @staticmethod
    def forward(ctx, a, dims, keepdim):
        xp = get_array_module(a)
        if a.dtype.kind in "biu":
            a = a.astype(_dt.get_default_dtype().np_dtype)
        x = a.astype(np.float32) if _dt.is_half(a.dtype) else a  # accumulate as PyTorch does
        # A complex input shifts by its largest real part: a real shift keeps log's branch.
        ref = x.real if x.dtype.kind == "c" else x
        m = ref.max(axis=dims, keepdims=True) if x.size else xp.zeros((1,) * x.ndim, ref.dtype)
        m = xp.where(xp.isfinite(m), m, 0)
        out = xp.log(xp.exp(x - m).sum(axis=dims, keepdims=True)) + m
        out = (out if keepdim else out.squeeze(dims)).astype(a.dtype, copy=False)
        ctx.save_for_backward(a, out)  # the returned object, so double backward reaches it
        ctx.args = (dims, keepdim)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        dims, keepdim = ctx.args
        g = _restore_dims(grad, a.shape, dims, keepdim)
        softmax = (a - _restore_dims(out, a.shape, dims, keepdim)).exp()
        return g * (softmax.conj() if softmax.is_complex() else softmax)


def logsumexp(input: Tensor, dim=None, keepdim: bool = False, *, axis=None,
              keepdims=None, out=None) -> Tensor:
    """log(sum(exp(input))) over ``dim``, computed stably."""
    dim = dim if axis is None else axis
    keepdim = keepdim if keepdims is None else keepdims
    if dim is None:
        raise TypeError('logsumexp() missing 1 required positional arguments: "dim"')
    result = LogSumExp.apply(input, _dims(dim, input.ndim) if input.ndim else None, keepdim)
    return result if out is None else write_result(out, result)


def _axis_arg(dim, input: Tensor):
    """A NumPy axis for ``dim``: None for all dims (a 0-d tensor accepts dim 0 and -1)."""
    if dim is None:
        return None
    axis = _dims(dim, input.ndim)
    return axis if input.ndim else None


def all(input: Tensor, dim=None, keepdim: bool = False, *, axis=None,  # noqa: A001
        keepdims=None, out=None) -> Tensor:
    dim = dim if axis is None else axis
    keepdim = keepdim if keepdims is None else keepdims
    result = _logical_reduce(input._xp.all, input, dim, keepdim)
    return result if out is None else write_result(out, result)


def _logical_reduce(fn, input: Tensor, dim, keepdim: bool) -> Tensor:
    # An empty dim list reduces nothing here (unlike sum's): each element's truth value.
    axis = () if isinstance(dim, (tuple, list)) and not dim else _axis_arg(dim, input)
    res = fn(input._data, axis=axis, keepdims=keepdim)
    # uint8 keeps its dtype, as in PyTorch; everything else gives bool.
    return _make(res.astype(np.uint8) if input._data.dtype == np.uint8 else res)


def any(input: Tensor, dim=None, keepdim: bool = False, *, axis=None,  # noqa: A001
        keepdims=None, out=None) -> Tensor:
    dim = dim if axis is None else axis
    keepdim = keepdim if keepdims is None else keepdims
    result = _logical_reduce(input._xp.any, input, dim, keepdim)
    return result if out is None else write_result(out, result)


def count_nonzero(input: Tensor, dim=None, *, axis=None) -> Tensor:
    dim = dim if axis is None else axis
    axis = _axis_arg(dim, input)
    return _make(input._xp.asarray(input._xp.count_nonzero(input._data, axis=axis), np.int64))


class Cumsum(Primitive, node_name="CumsumBackward0"):
    _node_saved = {"dim": lambda ctx: ctx.dim}

    @staticmethod
    def forward(ctx, a, dim, dtype):
        ctx.dim = dim
        if dtype is None and a.dtype.kind in "biu":
            dtype = np.int64
        out_dtype = a.dtype if dtype is None else np.dtype(dtype)
        if _dt.is_half(out_dtype):  # cast to the half dtype, accumulated in float32 (PyTorch)
            return cumulative(get_array_module(a), "cumsum", a.astype(out_dtype, copy=False),
                              dim, np.float32).astype(out_dtype)
        return cumulative(get_array_module(a), "cumsum", a, dim, dtype)

    @staticmethod
    def backward(ctx, grad):
        return cumsum(grad.flip(ctx.dim), ctx.dim).flip(ctx.dim)


def cumsum(input: Tensor, dim=None, *, dtype=None, axis=None, out=None) -> Tensor:
    dim = dim if axis is None else axis
    np_dtype = None if dtype is None else _dt.to_dtype(dtype).np_dtype
    if input.ndim == 0:  # on the 1-element view: the dtype rules still apply
        wrap_dim(dim, 0)
        result = Cumsum.apply(input.reshape(1), 0, np_dtype).reshape(())
        return result if out is None else write_result(out, result)
    result = Cumsum.apply(input, wrap_dim(dim, input.ndim), np_dtype)
    return result if out is None else write_result(out, result)


class Cumprod(Primitive, node_name="CumprodBackward0"):
    @staticmethod
    def forward(ctx, a, dim, dtype):
        if dtype is None and a.dtype.kind in "biu":
            dtype = np.int64
        out_dtype = a.dtype if dtype is None else np.dtype(dtype)
        if _dt.is_half(out_dtype):  # as cumsum: cast to the half dtype, accumulated in float32
            out = cumulative(get_array_module(a), "cumprod", a.astype(out_dtype, copy=False),
                             dim, np.float32).astype(out_dtype)
        else:
            out = cumulative(get_array_module(a), "cumprod", a, dim, dtype)
        ctx.save_for_backward(a, out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        d = ctx.dim
        if a.is_complex():  # the adjoint multiplies by conjugate derivatives
            a, out = a.conj(), out.conj()
        if not bool((a._data == 0).any()):
            # d out_j / d a_i = out_j / a_i for j >= i.
            return cumsum((grad * out).flip(d), d).flip(d) / a
        return _cumprod_grad_with_zeros(a, grad, d)


def _cumprod_grad_with_zeros(a: Tensor, grad: Tensor, d: int) -> Tensor:
    """Exact cumprod gradient when ``a`` has zeros: grad_i = sum_{j >= i} g_j prod_{k <= j,
    k != i} a_k, from an (n, n) matrix per row whose row i is ``a`` with a_i set to 1."""
    x = a.movedim(d, -1)
    g = grad.movedim(d, -1)
    n = x.shape[-1]
    xp = a._xp
    rows = x.unsqueeze(-2).expand(*x.shape[:-1], n, n).masked_fill(
        _make(xp.eye(n, dtype=bool)), 1)
    upper = _make(xp.triu(xp.ones((n, n), a._data.dtype)))  # keeps j >= i
    return (cumprod(rows, -1) * upper * g.unsqueeze(-2)).sum(-1).movedim(-1, d)


def cumprod(input: Tensor, dim=None, *, dtype=None, axis=None, out=None) -> Tensor:
    dim = dim if axis is None else axis
    np_dtype = None if dtype is None else _dt.to_dtype(dtype).np_dtype
    if input.ndim == 0:  # on the 1-element view: the dtype rules still apply
        wrap_dim(dim, 0)
        result = Cumprod.apply(input.reshape(1), 0, np_dtype).reshape(())
        return result if out is None else write_result(out, result)
    result = Cumprod.apply(input, wrap_dim(dim, input.ndim), np_dtype)
    return result if out is None else write_result(out, result)


def _cum_extreme(input: Tensor, dim: int, largest: bool, name: str):
    d = wrap_dim(dim, input.ndim)
    xp = input._xp
    refuse_complex(input._data, f"{name}(): not implemented for complex tensors")
    if input.ndim == 0:
        return getattr(return_types, name)(input.clone(), _make(xp.zeros((), np.int64)))
    a = xp.moveaxis(input._data, d, -1)
    n = a.shape[-1]
    idx = xp.zeros(a.shape, np.int64)
    best = a[..., :1].copy()
    best_idx = xp.zeros(a.shape[:-1] + (1,), np.int64)
    for i in range(n):
        cur = a[..., i:i + 1]
        better = (cur >= best) if largest else (cur <= best)
        if _dt.np_kind(a.dtype) == "f":
            better = better | xp.isnan(cur)
        best = xp.where(better, cur, best)
        best_idx = xp.where(better, i, best_idx)
        idx[..., i:i + 1] = best_idx
    indices = _make(xp.ascontiguousarray(xp.moveaxis(idx, -1, d)))
    from ember.ops.indexing import gather
    return getattr(return_types, name)(gather(input, d, indices), indices)


def cummax(input: Tensor, dim=None, *, axis=None, out=None):
    dim = dim if axis is None else axis
    result = _cum_extreme(input, dim, True, "cummax")
    return result if out is None else write_result(out, result)


@accepts_out
def cummin(input: Tensor, dim=None, *, axis=None):
    dim = dim if axis is None else axis
    return _cum_extreme(input, dim, False, "cummin")


def logcumsumexp(input: Tensor, dim=None, *, axis=None, out=None) -> Tensor:
    dim = dim if axis is None else axis
    d = wrap_dim(dim, input.ndim)
    if not (input.is_floating_point() or input.is_complex()):
        raise NotImplementedError(f'"logcumsumexp_out_cpu" not implemented for '
                                  f"'{scalar_name(input.dtype)}'")
    if input.numel() == 0 or input.ndim == 0:
        result = input.clone()
        return result if out is None else write_result(out, result)
    if _dt.is_half(input._data.dtype):  # computed in float32, as PyTorch does
        result = logcumsumexp(input.float(), d).to(input.dtype)
        return result if out is None else write_result(out, result)
    # The largest real part bounds the magnitudes (complex inputs have no order themselves).
    m = amax((input.real if input.is_complex() else input).detach(), d, keepdim=True)
    m = m.masked_fill(~m.isfinite(), 0)  # all -inf (or an inf) must not give inf - inf
    result = cumsum((input - m).exp(), d).log() + m
    if input.is_complex():
        result = result + _log_add_exp_branch(input.detach()._data, result.detach()._data, d)
    return result if out is None else write_result(out, result)


def _log_add_exp_branch(x, out, d: int) -> Tensor:
    """The multiples of 2*pi*i that move ``out``'s imaginary parts (each in (-pi, pi]) to the
    branch PyTorch's running log-add-exp lands on: out_i = max + log1p(exp(min - max)) of x_i
    and out_{i-1} ordered by real part, within pi/2 of the larger one's imaginary part."""
    xp = get_array_module(x)
    x, out = xp.moveaxis(x, d, 0), xp.moveaxis(out, d, 0)
    turns = xp.empty(out.shape, out.real.dtype)
    turns[0] = xp.round((x[0].imag - out[0].imag) / (2 * math.pi))
    prev_real, prev_imag = x[0].real, x[0].imag  # the first output is x_0 exactly
    for i in range(1, x.shape[0]):
        larger = x[i].real >= prev_real  # ties go to x_i, as in PyTorch
        turns[i] = xp.round((xp.where(larger, x[i].imag, prev_imag) - out[i].imag) /
                            (2 * math.pi))
        prev_real, prev_imag = out[i].real, out[i].imag + 2 * math.pi * turns[i]
    turns = xp.nan_to_num(turns, nan=0, posinf=0, neginf=0)  # non-finite outputs stay as they are
    return _make(xp.moveaxis(turns, 0, d) * (2j * math.pi))


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
    from ember.ops.indexing import kthvalue
    d = wrap_dim(dim, input.ndim)
    _check_reduced_dim(input, d, "median")
    _refuse_bool(input, "median_out")
    k = (input.shape[d] - 1) // 2 + 1 if input.ndim else 1
    v, i = kthvalue(input, k, d, keepdim)
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
    """The most frequent value along ``dim`` (the smallest on ties) and its last index;
    the gradient flows to that index."""
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
    indices = np.empty(rows.shape[0], np.int64)
    for r, row in enumerate(rows):
        # each NaN counts once, as in PyTorch (no NaN equals another); ties: the smallest value
        uniq, counts = np.unique(row, return_counts=True, equal_nan=False)
        v = uniq[np.argmax(counts)]
        indices[r] = np.nonzero(row != row if v != v else row == v)[0][-1]
    i = _make(indices.reshape(host.shape[:-1])).to(input.device).unsqueeze(d)
    from ember.ops.indexing import gather
    v = gather(input, d, i)
    if not keepdim:
        v, i = v.squeeze(d), i.squeeze(d)
    result = return_types.mode(v, i)
    return result if out is None else write_result(out, result)


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


def diff(input: Tensor, n: int = 1, dim: int = -1, prepend=None, append=None, *,
         axis=None, out=None) -> Tensor:
    """The ``n``-th forward difference along ``dim`` (after concatenating ``prepend`` and
    ``append``); bool inputs differ by xor. ``n`` = 0 gives a copy of ``input`` alone, and an
    ``n`` past the dim's size an empty result, as in PyTorch."""
    dim = dim if axis is None else axis
    from ember.ops.movement import cat
    if input.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    d = wrap_dim(dim, input.ndim)
    if n == 0:
        result = input.clone()
        return result if out is None else write_result(out, result)
    if prepend is not None or append is not None:
        parts = ([prepend] if prepend is not None else []) + [input] + (
            [append] if append is not None else [])
        input = cat(parts, d)
    for _ in range(builtins.min(n, input.shape[d])):
        size = input.shape[d]
        later, earlier = input.narrow(d, 1, size - 1), input.narrow(d, 0, size - 1)
        input = later ^ earlier if input.dtype is _dt.bool else later - earlier
    result = input
    return result if out is None else write_result(out, result)


def gradient(input: Tensor, *, spacing=1, dim=None, edge_order: int = 1) -> tuple:
    """d input / dx along each of ``dim`` (all dims by default): central differences inside,
    one-sided ones of order ``edge_order`` (1 or 2) at the edges, as NumPy's ``gradient``.
    ``spacing``: one step for every dim (1 by default), one per dim, or per dim the sample
    coordinates (1-D tensors). Returns one tensor per dim."""
    dims = range(input.ndim) if dim is None else [dim] if isinstance(dim, int) else dim
    dims = [wrap_dim(d, input.ndim) for d in dims]
    if len(set(dims)) != len(dims):
        repeated = next(d for d in dims if dims.count(d) > 1)
        raise RuntimeError(f"dim {repeated} appears multiple times in the list of dims")
    if spacing is None:
        spacing = 1
    if isinstance(spacing, (int, float)) or (isinstance(spacing, Tensor) and not spacing.ndim):
        spacing = [spacing] * len(dims)
    if len(spacing) != len(dims):
        raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar or "
                           f"it's spacing and dim arguments to have the same length, but got "
                           f"a spacing argument of length {len(spacing)} and a dim argument of "
                           f"length {len(dims)}.")
    if edge_order not in (1, 2):
        raise RuntimeError("torch.gradient only supports edge_order=1 and edge_order=2.")
    for h in spacing:
        if isinstance(h, Tensor) and h.device != input.device:
            raise RuntimeError(f"torch.gradient expected each tensor to be on the same device, "
                               f"but got devices {input.device} and {h.device}!")
    if not (input.dtype.is_floating_point or input.dtype.is_complex):
        input = input.to(_dt.get_default_dtype())
    return tuple(_gradient_along(input, d, h, edge_order) for d, h in zip(dims, spacing))


def _gradient_along(f: Tensor, d: int, h, edge_order: int) -> Tensor:
    """NumPy's second-order-accurate differences for samples ``h`` apart (a number) or at
    coordinates ``h`` (a 1-D tensor), along dim ``d``."""
    from ember.ops.movement import cat
    n = f.shape[d]
    if n < edge_order + 1:
        raise RuntimeError(f"torch.gradient expected each dimension size to be at least "
                           f"edge_order+1, got size {n} for dim {d}")

    def at(start: int, stop: int = 0):  # f[start:stop] along d (stop <= 0 counts from the end)
        return f.narrow(d, start, n + stop - start if stop <= 0 else stop - start)

    if isinstance(h, Tensor) and h.ndim == 1:  # coordinates: the steps between samples
        shape = [1] * f.ndim
        shape[d] = -1
        steps = (h[1:] - h[:-1]).to(f.dtype).reshape(shape)
        h1, h2 = steps.narrow(d, 0, n - 2), steps.narrow(d, 1, n - 2)
        first, second = steps.narrow(d, 0, 1), steps.narrow(d, builtins.min(1, n - 2), 1)
        penultimate, last = steps.narrow(d, builtins.max(n - 3, 0), 1), steps.narrow(d, n - 2, 1)
    else:  # one step for the whole dim
        h1 = h2 = first = second = penultimate = last = float(h)
    inner = (-h2 / (h1 * (h1 + h2))) * at(0, -2) + ((h2 - h1) / (h1 * h2)) * at(1, -1) \
        + (h1 / (h2 * (h1 + h2))) * at(2)
    if edge_order == 1:
        left = (at(1, 2) - at(0, 1)) / first
        right = (at(n - 1) - at(n - 2, n - 1)) / last
    else:  # second-order one-sided differences
        a, b = first, second
        left = (-(2 * a + b) / (a * (a + b))) * at(0, 1) + ((a + b) / (a * b)) * at(1, 2) \
            + (-a / (b * (a + b))) * at(2, 3)
        a, b = penultimate, last
        right = (b / (a * (a + b))) * at(n - 3, n - 2) + (-(a + b) / (a * b)) * at(n - 2, n - 1) \
            + ((2 * b + a) / (b * (a + b))) * at(n - 1)
    return cat([left, inner, right], d)
