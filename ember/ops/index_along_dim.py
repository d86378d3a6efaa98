"""index_select, index_add, index_copy, index_fill and index_reduce: whole slices along one
dim, picked by an index vector (one index per slice, where gather_scatter.py has one per
element; index_reduce is a ScatterReduce with the vector spread over the source)."""
from __future__ import annotations

import numpy as np

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive
from ember.backend.device import get_array_module
from ember.backend.special import scatter_add as _scatter_add_arrays
from ember.ops._util import (
    cast,
    scalar_name,
    wrap_dim,
    write_result,
)
from ember.ops.fill import write_source
from ember.ops.gather_scatter import (
    ScatterReduce,
    _half,
    _lift_0d,
    _out_of_bounds,
    _scatter_reduce,
)
from ember.ops.indexing import _index_error
from ember.ops.inplace import inplace
from ember.ops.movement import (
    reshape,
)


def has_negative(index) -> bool:
    """Whether a host index array holds a negative index, which PyTorch's index_select and
    embedding refuse where NumPy counts from the end (one reduction: 1-2 us for a batch of
    tokens). On a GPU the kernels' own bounds are all that is checked: finding out would wait
    for the device."""
    return index.__class__ is np.ndarray and index.size > 0 and index.dtype.kind == "i" and \
        index.min() < 0


def _bad_index(index, dim: int, size: int, scalar_kernel: bool) -> Exception:
    """PyTorch's error for an index outside its dim in index_select and index_add: IndexError
    from the kernels that check index by index (index_select along dim 0, index_add of a
    vector), a RuntimeError from the others."""
    if scalar_kernel:
        return IndexError("index out of range in self")
    return _out_of_bounds(index, dim, size)


class IndexSelect(Primitive, node_name="IndexSelectBackward0"):
    @staticmethod
    def forward(ctx, a, index, dim):
        ctx.save_for_backward(index)
        ctx.args = (a.shape, dim)
        try:
            if has_negative(index):  # NumPy would count it from the end
                raise IndexError
            return get_array_module(a).take(a, index, axis=dim)
        except IndexError:
            raise _bad_index(index, dim, a.shape[dim], dim == 0) from None

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        shape, dim = ctx.args
        zeros = _make(grad._xp.zeros(shape, grad._data.dtype))
        return index_add(zeros, dim, index, grad), None, None


def index_select(input: Tensor, dim: int | None = None, index: Tensor | None = None, *,
                 axis=None, out=None) -> Tensor:
    """The slices of ``input`` at ``index`` (a vector) along ``dim``."""
    if axis is not None:
        dim = axis
    if out is not None:
        return write_result(out, index_select(input, dim, index))
    if input.ndim == 0:
        if index.numel() != 1:
            raise RuntimeError("index_select(): Index to scalar can have only 1 value, got "
                               f"{index.numel()} value(s)")
        return _lift_0d(index_select, input, dim, index)
    if index.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    if index.dtype.is_floating_point:
        raise RuntimeError("index_select(): Expected dtype int32 or int64 for index")
    return IndexSelect.apply(input, index.reshape(-1), wrap_dim(dim, input.ndim))


class IndexAdd(Primitive, node_name="IndexAddBackward0"):
    @staticmethod
    def forward(ctx, a, index, source, dim, alpha):
        ctx.save_for_backward(index)
        ctx.args = (dim, alpha)
        xp = get_array_module(a)
        half = _half(a.dtype) if a.ndim > 1 else None
        out = a.astype(np.float32) if half else a.copy()
        src = source * cast(alpha, source.dtype) if alpha != 1 else source  # uint8 wraps -1
        try:
            _scatter_add_arrays(xp, out, (slice(None),) * dim + (index,), src.astype(out.dtype))
        except IndexError:
            raise _bad_index(index, dim, a.shape[dim], a.ndim <= 1) from None
        return out.astype(half) if half else out

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        dim, alpha = ctx.args
        gsrc = index_select(grad, dim, index) if ctx.needs_input_grad[2] else None
        if gsrc is not None and alpha != 1:
            gsrc = gsrc * alpha
        return grad, None, gsrc


def index_add(input, dim=None, index=None, source=None, *, alpha=1, axis=None, out=None):
    """A copy of ``input`` with ``alpha * source`` added at ``index`` along ``dim``."""
    if axis is not None:
        dim = axis
    if out is not None:
        return write_result(out, index_add(input, dim, index, source, alpha=alpha))
    if input.ndim == 0:
        return _lift_0d(index_add, input, dim, index, source, alpha=alpha)
    d = wrap_dim(dim, input.ndim)
    _check_index_add_source(input, d, index, source)
    return IndexAdd.apply(input, index, source, d, alpha)


def index_add_(input, dim, index, source, *, alpha=1):
    d = wrap_dim(dim, input.ndim)
    if input.ndim:
        _check_index_add_source(input, d, index, source)
    return inplace(input, IndexAdd, index, source, d, alpha)


def _check_index_add_source(input: Tensor, d: int, index: Tensor, source: Tensor) -> None:
    """PyTorch's shape checks of ``source``: ``input``'s shape but along ``d``, where it has
    one slice per index."""
    shape, src_shape = input.shape, source.shape
    if len(src_shape) != len(shape) or src_shape[:d] != shape[:d] \
            or src_shape[d + 1:] != shape[d + 1:]:
        raise RuntimeError("source tensor shape must match self tensor shape, excluding the "
                           f"specified dimension. Got self.shape = {list(shape)} "
                           f"source.shape = {list(src_shape)}")
    if index.numel() != src_shape[d]:
        raise RuntimeError(f"index_add_(): Number of indices ({index.numel()}) should be equal "
                           f"to source.size(dim): ({src_shape[d]}), for dim: {d}")


class IndexCopy(Primitive, node_name="IndexCopyBackward0"):
    @staticmethod
    def forward(ctx, a, index, source, dim):
        ctx.save_for_backward(index)
        ctx.dim = dim
        out = a.copy()
        try:
            out[(slice(None),) * dim + (index,)] = source
        except IndexError as exc:
            raise IndexError(f"index_copy_(): {_index_error(exc)}") from None
        return out

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        gsrc = index_select(grad, ctx.dim, index) if ctx.needs_input_grad[2] else None
        return index_fill(grad, ctx.dim, index, 0), None, gsrc


def index_copy(input, dim, index, source):
    """A copy of ``input`` with the slices of ``source`` written at ``index`` along ``dim``."""
    if input.ndim == 0:
        return _lift_0d(index_copy, input, dim, index, source)
    return IndexCopy.apply(input, index, source, wrap_dim(dim, input.ndim))


def index_copy_(input, dim, index, source):
    return inplace(input, IndexCopy, index, source, wrap_dim(dim, input.ndim))


class IndexReduce(ScatterReduce, node_name="IndexReduceBackward0"):
    """``index_reduce``: ``ScatterReduce`` with the index vector spread over ``source``'s shape
    along ``dim`` (gradients the same; half types accumulate in their own precision here)."""

    @staticmethod
    def forward(ctx, a, index, src, dim, reduce, include_self):
        return _scatter_reduce(ctx, a, index, src, dim, reduce, include_self, None)


_INDEX_REDUCTIONS = ("prod", "mean", "amax", "amin")


def _spread_index(input: Tensor, dim: int, index: Tensor, source: Tensor, reduce: str):
    """PyTorch's checks of ``index_reduce``, and its index as a scatter index shaped like
    ``source`` (``index[i]`` at every position ``i`` along ``dim``)."""
    op = "index_reduce_()"
    if reduce not in _INDEX_REDUCTIONS:
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or "
                           f"amin but got {reduce}.")
    if index.ndim > 1:
        raise IndexError(f"{op}: Index is supposed to be a vector, but got dim: {index.ndim} "
                         f"with type: {scalar_name(index.dtype)} and size: {list(index.shape)}")
    if index.dtype is not _dt.int64 and index.dtype is not _dt.int32:
        raise RuntimeError(f"{op}: Expected dtype int32/int64 for index but got: "
                           f"{scalar_name(index.dtype)}")
    if source.dtype != input.dtype:
        raise RuntimeError(f"{op}: self ({scalar_name(input.dtype)}) and source "
                           f"({scalar_name(source.dtype)}) must have the same scalar type")
    d = wrap_dim(dim, input.ndim)
    shape, sshape = tuple(input.shape), tuple(source.shape)
    if len(sshape) != len(shape) or sshape[:d] + sshape[d + 1:] != shape[:d] + shape[d + 1:]:
        raise RuntimeError(f"source tensor shape must match self tensor shape, excluding the "
                           f"specified dimension. Got self.shape = {list(shape)} "
                           f"source.shape = {list(sshape)}")
    if index.numel() != sshape[d]:
        raise RuntimeError(f"{op}: Number of indices ({index.numel()}) should be equal to "
                           f"source.size(dim): ({sshape[d]}), for dim: {d}")
    xp = input._xp
    spread = index._data.astype(np.int64, copy=False).reshape((1,) * d + (-1,) + (1,) * (
        len(shape) - d - 1))
    return d, xp.broadcast_to(spread, sshape)


def index_reduce(input: Tensor, dim: int, index: Tensor, source: Tensor, reduce: str, *,
                 include_self: bool = True) -> Tensor:
    """A copy of ``input`` where slice ``index[i]`` along ``dim`` is reduced ('prod', 'mean',
    'amax', 'amin') with slice ``i`` of ``source``, and with itself if ``include_self``.

    Example::

        >>> x = ember.ones(3, 2)
        >>> x.index_reduce(0, ember.tensor([0, 2, 0]), ember.tensor([[2., 3], [4, 5], [6, 7]]),
        ...                'prod').tolist()
        [[12.0, 21.0], [1.0, 1.0], [4.0, 5.0]]
    """
    if input.ndim == 0:
        return _lift_0d(index_reduce, input, dim, index, source, reduce,
                        include_self=include_self)
    d, spread = _spread_index(input, dim, index, source, reduce)
    return IndexReduce.apply(input, spread, source, d, reduce, include_self)


def index_reduce_(input: Tensor, dim: int, index: Tensor, source: Tensor, reduce: str, *,
                  include_self: bool = True) -> Tensor:
    if input.ndim == 0:  # through a copy: the reduction saves the input it reads
        return input.copy_(index_reduce(input.clone(), dim, index, source, reduce,
                                        include_self=include_self))
    d, spread = _spread_index(input, dim, index, source, reduce)
    return inplace(input, IndexReduce, spread, source, d, reduce, include_self, saves_self=True)


class IndexFill(Primitive, node_name="IndexFillBackward0"):
    @staticmethod
    def forward(ctx, a, index, value, dim):
        ctx.save_for_backward(index)
        ctx.dim = dim
        out = a.copy()
        try:
            out[(slice(None),) * dim + (index,)] = write_source(value, out.dtype)
        except IndexError as exc:
            raise _index_error(exc) from None
        return out

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        gself = IndexFill.apply(grad, index, 0, ctx.dim)
        # A tensor value receives the sum of the gradient over the filled positions.
        gval = (grad - gself).sum() if ctx.needs_input_grad[2] else None
        return gself, None, gval


def index_fill(input, dim=None, index=None, value=None, *, axis=None):
    """A copy of ``input`` with ``value`` (a number or a 0-d tensor) at ``index`` along ``dim``."""
    if axis is not None:
        dim = axis
    if input.ndim == 0:  # on the 1-element view; a 0-d value tensor stays 0-d
        wrap_dim(dim, 0)
        return reshape(index_fill(reshape(input, 1), 0, reshape(index, -1), value), ())
    return IndexFill.apply(input, index, _fill_value(value), wrap_dim(dim, input.ndim))


def index_fill_(input, dim, index, value):
    if input.ndim == 0:
        return input.copy_(index_fill(input, dim, index, value))
    return inplace(input, IndexFill, index, _fill_value(value), wrap_dim(dim, input.ndim))


def _fill_value(value):
    if isinstance(value, Tensor) and value.ndim:
        raise RuntimeError("index_fill_ only supports a 0-dimensional value tensor, but got "
                           f"tensor with {value.ndim} dimension(s).")
    return value

