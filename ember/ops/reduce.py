"""Reductions to a value per slice: sum, mean, prod, var, std, norm, logsumexp, and the logical
all, any and count_nonzero. The other families live beside it and are re-exported here:
order statistics (max, argmax, median, ...) in ``extrema``, scans and differences in ``scan``,
counting into bins and sorted searches in ``binning``.

Like PyTorch, each accepts NumPy's keyword names ``axis`` for ``dim`` and ``keepdims`` for
``keepdim``: explicit keyword-only parameters, so the usual call pays one comparison."""
from __future__ import annotations

import builtins
import math

import numpy as np

from ember import dtypes as _dt
from ember._quantized import QuantizedTensor
from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive
from ember.autograd.grad_mode import _State
from ember.backend.cuda import leading_sum
from ember.backend.device import get_array_module
from ember.ops._reduce_dims import _dims, _restore_dims
from ember.ops._util import scalar_name, wrap_dim, write_result
from ember.ops.binning import bincount, bucketize, histc, searchsorted  # noqa: F401  (re-exported)
from ember.ops.elementwise import where
from ember.ops.extrema import (  # noqa: F401  (re-exported)
    MaxAll,
    MaxDim,
    MedianAll,
    MinDim,
    amax,
    amin,
    aminmax,
    argmax,
    argmin,
    max,
    median,
    min,
    mode,
    nanmedian,
)
from ember.ops.movement import Expand
from ember.ops.scan import (  # noqa: F401  (re-exported)
    Cumprod,
    Cumsum,
    cummax,
    cummin,
    cumprod,
    cumsum,
    diff,
    gradient,
    logcumsumexp,
)

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
    if input.__class__ is QuantizedTensor:  # requantized with its own qparams
        return input.mean(dim, keepdim)
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
