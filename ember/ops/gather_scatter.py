"""gather, scatter, scatter_add, scatter_reduce and take_along_dim: one index per element,
addressing its position along ``dim`` through open grids (``_scatter_index``), with PyTorch's
shape and bounds checks of such an index. Apart from indexing.py, whose subscripts NumPy's own
indexing reads; index_along_dim.py reuses the checks and ``ScatterReduce`` here."""
from __future__ import annotations

import numpy as np

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive
from ember.backend.device import get_array_module, is_host
from ember.backend.special import scatter_add as _scatter_add_arrays
from ember.backend.special import ufunc_at
from ember.ops._util import (
    cast,
    is_number,
    refuse_complex_grad,
    scalar_name,
    wrap_dim,
    write_result,
)
from ember.ops.fill import write_source
from ember.ops.indexing import check_out_dtype, masked_fill, where_
from ember.ops.inplace import inplace
from ember.ops.movement import (
    expand,
    reshape,
)


def _src_grad(grad: Tensor, dim: int, index: Tensor, src_shape) -> Tensor:
    """The gradient of a scatter's ``src``: gathered at ``index``, zero where ``src`` is larger
    than ``index`` (those elements are never read)."""
    return _pad_src(gather(grad, dim, index), src_shape)


def _scatter_index(xp, index, dim):
    """The full NumPy index addressing, for each element of ``index``, its target position."""
    grids = [xp.arange(n).reshape((1,) * d + (n,) + (1,) * (index.ndim - d - 1))
             for d, n in enumerate(index.shape)]  # open grids (CuPy's indices has no sparse=)
    grids[dim] = index
    return tuple(grids)


def _half(np_dtype):
    """float16 or bfloat16, else None: PyTorch's scatter kernels accumulate these in float32 and
    round once (index_put and a vector's index_add do not)."""
    return np_dtype if _dt.is_half(np_dtype) else None


def _check_index(index: Tensor, op: str, input: Tensor, dim: int, src=None) -> Tensor:
    """Index dtype, and PyTorch's shape rule: index no larger than src anywhere, nor than
    input outside ``dim``. Returns the index; an empty one PyTorch does not check (it reads
    nothing), so it comes back as int64 whatever its dtype."""
    d = wrap_dim(dim, input.ndim)
    if not index._data.size:
        return _make(index._data.astype(np.int64, copy=False))
    if index.dtype is not _dt.int64 and index.dtype is not _dt.int32:
        raise RuntimeError(f"{op}(): Expected dtype int32/int64 for index")
    shape, ishape = input._data.shape, index._data.shape
    sshape = src._data.shape if isinstance(src, Tensor) else None
    if index.ndim != input.ndim or (sshape is not None and len(sshape) != index.ndim):
        name = "input" if op == "gather" else "self"
        raise RuntimeError(f"Index tensor must have the same number of dimensions as {name} "
                           "tensor")
    if isinstance(src, Tensor) and src.dtype is not input.dtype and op.startswith("scatter"):
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    for k, n in enumerate(ishape):
        if (k != d and n > shape[k]) or (sshape is not None and n > sshape[k]):
            raise RuntimeError(f"Expected index {list(ishape)} to be no larger than self "
                               f"{list(shape)} apart from dimension {d} and to be no larger "
                               f"size than src {list(sshape or ())}")
    idx = index._data
    # NumPy wraps a negative index around where PyTorch raises; a too-large one NumPy reports
    # itself. On a GPU the question would stall the host: left to the device, as PyTorch does.
    if idx.size and is_host(index._xp) and idx.min() < 0:
        raise _out_of_bounds(idx, d, shape[d])
    return index


def _out_of_bounds(index, dim: int, size: int) -> RuntimeError:
    """PyTorch's error for the first element of ``index`` outside [0, size)."""
    bad = index[(index < 0) | (index >= size)]
    return RuntimeError(f"index {int(bad[0])} is out of bounds for dimension {dim} with size "
                        f"{size}")


class Gather(Primitive, node_name="GatherBackward0"):
    @staticmethod
    def forward(ctx, a, index, dim):
        ctx.save_for_backward(index)
        ctx.args = (a.shape, dim)
        xp = get_array_module(a)
        try:
            return a[_scatter_index(xp, index, dim)]
        except IndexError:
            raise _out_of_bounds(index, dim, a.shape[dim]) from None

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        shape, dim = ctx.args
        zeros = _make(grad._xp.zeros(shape, grad._data.dtype))
        return scatter_add(zeros, dim, index, grad), None, None


def gather(input: Tensor, dim: int | None = None, index: Tensor | None = None, *,
           sparse_grad: bool = False, axis=None, out=None) -> Tensor:
    """out[i][j] = input[index[i][j]][j] along ``dim`` (for dim=0), and so on."""
    if axis is not None:
        dim = axis
    if out is not None:
        check_out_dtype(out, input.dtype)
        return write_result(out, gather(input, dim, index))
    if input.ndim == 0:  # dim 0 / -1 of a 0-d tensor: gather from its 1-element view
        wrap_dim(dim, 0)
        return reshape(gather(reshape(input, 1), 0, reshape(index, -1)), index.shape)
    if index.ndim == 0:  # read as one element, as PyTorch does; the result stays 0-d
        return reshape(gather(input, dim, reshape(index, 1)), ())
    index = _check_index(index, "gather", input, dim)
    d = wrap_dim(dim, input.ndim)
    if not index._data.size:  # of any shape: nothing is read
        return reshape(reshape(input, -1)[:0], index.shape)
    return Gather.apply(input, index, d)


def _scalars_as_1d(*tensors) -> list:
    """PyTorch's scatters read a 0-d ``index`` or ``src`` as 1-d with one element (so
    ``zeros(10).scatter_(0, tensor(label), value=1)`` one-hot encodes a label)."""
    return [reshape(t, 1) if isinstance(t, Tensor) and t.ndim == 0 else t for t in tensors]


def _lift_0d(fn, input: Tensor, dim: int, *args, **kwargs) -> Tensor:
    """An op along ``dim`` (0 or -1) of a 0-d tensor, run on its 1-element 1-d view."""
    wrap_dim(dim, 0)
    args = [reshape(a, -1) if isinstance(a, Tensor) else a for a in args]
    return reshape(fn(reshape(input, 1), 0, *args, **kwargs), ())


class ScatterAdd(Primitive, node_name="ScatterAddBackward0"):
    @staticmethod
    def forward(ctx, a, index, src, dim):
        ctx.save_for_backward(index)
        ctx.dim = dim
        ctx.src_shape = src.shape
        xp = get_array_module(a)
        half = _half(a.dtype)
        out = a.astype(np.float32) if half else a.copy()
        src = src[tuple(slice(0, s) for s in index.shape)]
        try:
            _scatter_add_arrays(xp, out, _scatter_index(xp, index, dim), src.astype(out.dtype))
        except IndexError:
            raise _out_of_bounds(index, dim, a.shape[dim]) from None
        return out.astype(half) if half else out

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        gsrc = None
        if ctx.needs_input_grad[2]:
            gsrc = _src_grad(grad, ctx.dim, index, ctx.src_shape)
        return grad, None, gsrc, None


def scatter_add(input: Tensor, dim: int | None = None, index: Tensor | None = None,
                src: Tensor | None = None, *, axis=None, out=None) -> Tensor:
    """A copy of ``input`` with ``src`` summed in at ``index`` along ``dim``."""
    if axis is not None:
        dim = axis
    if out is not None:
        return write_result(out, scatter_add(input, dim, index, src))
    if input.ndim == 0:
        return _lift_0d(scatter_add, input, dim, index, src)
    index, src = _scalars_as_1d(index, src)
    index = _check_index(index, "scatter_add", input, dim, src)
    return ScatterAdd.apply(input, index, src, wrap_dim(dim, input.ndim))


def scatter_add_(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    index, src = _scalars_as_1d(index, src)
    index = _check_index(index, "scatter_add_", input, dim, src)
    return inplace(input, ScatterAdd, index, src, wrap_dim(dim, input.ndim))


class Scatter(Primitive, node_name="ScatterBackward0"):
    @staticmethod
    def forward(ctx, a, index, src, dim, reduce):
        ctx.save_for_backward(index)
        ctx.dim = dim
        xp = get_array_module(a)
        out = a.copy()
        pos = _scatter_index(xp, index, dim)
        ctx.src_shape = getattr(src, "shape", ())
        if is_number(src):
            vals = write_source(cast(src, a.dtype), a.dtype)
        else:
            vals = src[tuple(slice(0, s) for s in index.shape)].astype(a.dtype)
        try:
            if reduce is None:
                out[pos] = vals
            elif reduce == "add":
                _scatter_add_arrays(xp, out, pos, xp.broadcast_to(vals, index.shape))
            elif reduce == "multiply":
                xp.multiply.at(out, pos, xp.broadcast_to(vals, index.shape))
            else:
                raise RuntimeError(f"reduce argument must be either add or multiply, got "
                                   f"{reduce}")
        except IndexError:
            raise _out_of_bounds(index, dim, a.shape[dim]) from None
        return out

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        grad_self = Scatter.apply(grad, index, 0.0, ctx.dim, None)
        gsrc = None
        if len(ctx.needs_input_grad) > 2 and ctx.needs_input_grad[2]:
            gsrc = _src_grad(grad, ctx.dim, index, ctx.src_shape)
        return grad_self, None, gsrc, None, None


def scatter(input: Tensor, dim: int | None = None, index: Tensor | None = None, src=None, *,
            value=None, reduce=None, axis=None, out=None):
    """Write ``src`` (or ``value``) into a copy of ``input`` at ``index`` along ``dim``."""
    if axis is not None:
        dim = axis
    if out is not None:
        return write_result(out, scatter(input, dim, index, src, value=value, reduce=reduce))
    if input.ndim == 0:
        return _lift_0d(scatter, input, dim, index, src, value=value, reduce=reduce)
    index, src = _scalars_as_1d(index, src)
    index = _check_index(index, "scatter", input, dim, src)
    s = value if src is None else src
    return Scatter.apply(input, index, s, wrap_dim(dim, input.ndim), reduce)


def scatter_(input: Tensor, dim: int, index: Tensor, src=None, *, value=None, reduce=None):
    index, src = _scalars_as_1d(index, src)
    index = _check_index(index, "scatter_", input, dim, src)
    s = value if src is None else src
    return inplace(input, Scatter, index, s, wrap_dim(dim, input.ndim), reduce)


def _scatter_reduce(ctx, a, index, src, dim, reduce, include_self, half):
    """ScatterReduce's forward; ``half``: the half type to compute in float32 and round to."""
    xp = get_array_module(a)
    pos = _scatter_index(xp, index, dim)
    src_in = src
    a_in, a = a, (a.astype(np.float32) if half else a)
    src = src[tuple(slice(0, s) for s in index.shape)].astype(a.dtype)
    out = a.copy()
    touched = xp.zeros(a.shape, bool)
    touched[pos] = True
    if not include_self:
        fill = {"sum": 0, "mean": 0, "prod": 1}.get(reduce)
        if fill is None:
            fill = _extreme(a.dtype, reduce == "amax")
        out[touched] = fill
    if reduce in ("sum", "mean"):
        _scatter_add_arrays(xp, out, pos, src)
    elif reduce == "prod":
        ufunc_at(xp, "multiply", out, pos, src)
    elif reduce == "amax":
        ufunc_at(xp, "maximum", out, pos, src)
    elif reduce == "amin":
        ufunc_at(xp, "minimum", out, pos, src)
    else:
        raise RuntimeError(f"reduce argument must be one of sum, prod, mean, amax, amin, "
                           f"got {reduce}")
    count = None
    if reduce == "mean":
        count = xp.zeros(a.shape, a.dtype)
        _scatter_add_arrays(xp, count, pos, xp.ones(index.shape, a.dtype))
        if include_self:
            count += 1
        count = xp.maximum(count, 1)
        out = out / count if _dt.np_kind(a.dtype) == "f" else out // count
    if half:
        out, count = out.astype(half), None if count is None else count.astype(half)
    ctx.save_for_backward(a_in, index, src_in, out)  # src as given: double backward
    ctx.args = (dim, reduce, include_self, count)
    return out


class ScatterReduce(Primitive, node_name="ScatterReduceBackward0"):
    @staticmethod
    def forward(ctx, a, index, src, dim, reduce, include_self):
        return _scatter_reduce(ctx, a, index, src, dim, reduce, include_self, _half(a.dtype))

    @staticmethod
    def backward(ctx, grad):
        a, index, src_in, out = ctx.saved_tensors
        dim, reduce, include_self, count = ctx.args
        src_shape = src_in.shape
        src = src_in[tuple(slice(0, n) for n in index.shape)]
        if reduce in ("sum", "mean"):
            g = grad / _make(count) if reduce == "mean" else grad
            gself = g if include_self else grad * _untouched(a, index, dim)
            return gself, None, _pad_src(gather(g, dim, index), src_shape)
        if reduce in ("amax", "amin"):
            # PyTorch counts self among the ties even when include_self=False (then its share
            # of the gradient is dropped), so do the same.
            self_hit = a == out
            src_hit = src == gather(out, dim, index)
            ties = scatter_add(self_hit.to(grad.dtype), dim, index, src_hit.to(grad.dtype))
            g = grad / ties
            if not include_self:
                self_hit = self_hit & _untouched(a, index, dim)
            return g * self_hit, None, _pad_src(gather(g, dim, index) * src_hit, src_shape)
        # prod: each factor's gradient is the product of the other factors, formed without
        # dividing by a zero (out / x is right only where x is nonzero).
        if include_self:
            a_one = masked_fill(a, a == 0, 1)
            gself = grad * scatter_reduce(a_one, dim, index, src, "prod") / a_one
        else:
            gself = grad * _untouched(a, index, dim)
        src_zero = src == 0
        zeros = _make(a._xp.zeros(a._data.shape, grad._data.dtype))
        zeros = gather(scatter_add(zeros, dim, index, src_zero.to(grad.dtype)), dim, index)
        lone = src_zero & (zeros == 1)  # the only zero of its group: the others' product
        others = where_(lone, gather(scatter_reduce(a, dim, index, masked_fill(src, lone, 1),
                                                    "prod", include_self=include_self),
                                     dim, index),
                        gather(out, dim, index) / masked_fill(src, src_zero, 1))
        return gself, None, _pad_src(gather(grad, dim, index) * others, src_shape)


def _pad_src(g: Tensor, src_shape) -> Tensor:
    """Zero-pad a gradient computed on ``src[:index.shape]`` to the whole of ``src``."""
    if tuple(g.shape) == tuple(src_shape):
        return g
    from ember.ops.movement import EmbedBasic
    return EmbedBasic.apply(g, tuple(src_shape), tuple(slice(0, n) for n in g.shape))


def _untouched(a: Tensor, index: Tensor, dim: int) -> Tensor:
    mask = a._xp.ones(a._data.shape, bool)
    mask[_scatter_index(a._xp, index._data, dim)] = False
    return _make(mask)


def _extreme(np_dtype, lowest: bool):
    if _dt.np_kind(np_dtype) == "f":
        return -np.inf if lowest else np.inf
    if np_dtype == np.bool_:
        return not lowest
    info = np.iinfo(np_dtype)
    return info.min if lowest else info.max


def _refuse_complex_reduce(input: Tensor, src, reduce: str) -> None:
    """PyTorch has no complex amax/amin, and no gradient for a complex scatter_reduce."""
    if not (input.is_complex() or isinstance(src, Tensor) and src.is_complex()):
        return
    if reduce in ("amax", "amin"):
        raise NotImplementedError(f"scatter_reduce: '{reduce}' not implemented for complex")
    refuse_complex_grad("scatter_reduce", input, src)


def scatter_reduce(input, dim=None, index=None, src=None, reduce=None, *,
                   include_self: bool = True, axis=None, out=None):
    """Reduce ``src`` into a copy of ``input`` at ``index`` ('sum', 'prod', 'mean', 'amax',
    'amin'), with or without the input's own values."""
    if axis is not None:
        dim = axis
    if out is not None:
        return write_result(out, scatter_reduce(input, dim, index, src, reduce,
                                                include_self=include_self))
    _refuse_complex_reduce(input, src, reduce)
    if input.ndim == 0:
        return _lift_0d(scatter_reduce, input, dim, index, src, reduce,
                        include_self=include_self)
    index, src = _scalars_as_1d(index, src)
    index = _check_index(index, "scatter_reduce", input, dim, src)
    return ScatterReduce.apply(input, index, src, wrap_dim(dim, input.ndim), reduce,
                               include_self)


def scatter_reduce_(input, dim, index, src, reduce, *, include_self: bool = True):
    _refuse_complex_reduce(input, src, reduce)
    index, src = _scalars_as_1d(index, src)
    return inplace(input, ScatterReduce, index, src, wrap_dim(dim, input.ndim), reduce,
                   include_self, saves_self=True)


def take_along_dim(input: Tensor, indices: Tensor, dim=None, *, axis=None, out=None) -> Tensor:
    if axis is not None:
        dim = axis
    if out is not None:
        return write_result(out, take_along_dim(input, indices, dim))
    if indices.dtype is not _dt.int64:
        raise RuntimeError(f"torch.take_along_dim(): dtype of indices should be Long but got "
                           f"{scalar_name(indices.dtype)}")
    if dim is None:  # no wrapping here: a negative index is out of bounds
        return gather(reshape(input, -1), 0, reshape(indices, -1))
    if input.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    d = wrap_dim(dim, input.ndim)
    shape_in = list(input.shape)
    shape_idx = list(indices.shape)
    shape_in[d] = shape_idx[d] = 1
    b = list(np.broadcast_shapes(tuple(shape_in), tuple(shape_idx)))
    bi = b.copy()
    bi[d] = input.shape[d]
    bx = b.copy()
    bx[d] = indices.shape[d]
    try:
        return gather(expand(input, bi), d, expand(indices, bx).contiguous())
    except RuntimeError:  # out of bounds (on the host; CuPy wraps by itself)
        if not input.shape[d]:
            raise
    # Along a dim, PyTorch takes each index modulo the size: the rare path, so that the common
    # one pays for no division.
    wrapped = _make(indices._xp.remainder(indices._data, input.shape[d]))
    return gather(expand(input, bi), d, expand(wrapped, bx).contiguous())

