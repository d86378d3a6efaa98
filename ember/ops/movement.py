"""Shape and movement ops that view: reshapes, permutations, expand, squeeze, indexing by
select/narrow/diagonal/as_strided, unfold, split and unbind. View ops (``_is_view``) return
arrays that share the input's memory; their outputs share its version counter (see NOTE [ In-place
ops and autograd ]). Ops with a ``dim`` also take NumPy's ``axis`` keyword, as PyTorch's do.
The ops that copy (cat, stack, flip, roll, repeat, clone, ...) live in ``copying`` and are
re-exported here."""
from __future__ import annotations

import builtins
import math

import numpy as np

from ember import dtypes as _dt
from ember._quantized import QuantizedTensor
from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive, broadcast_mismatch
from ember.backend.cuda import leading_sum
from ember.backend.device import diagonal_view, get_array_module, reshape_view
from ember.backend.special import scatter_add as _scatter_add_arrays
from ember.ops._util import (
    promote,
    scalar_name,
    shape_arg,
    wrap_dim,
    wrap_dims,
)
from ember.ops.inplace import check_inplace


def _infer_shape(shape, numel: int, op: str = "view") -> tuple:
    if shape.__class__ is tuple and -1 not in shape and math.prod(shape) == numel and (
            not shape or min(shape) >= 0):
        return shape  # the common case: a full shape of the right size
    shape = list(shape)
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"invalid shape dimension {s}")
            known *= s
    if -1 in shape:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{_fmt(shape)}' is invalid for input of size {numel}")
        shape[shape.index(-1)] = numel // known
    elif known != numel:
        raise RuntimeError(f"shape '{_fmt(shape)}' is invalid for input of size {numel}")
    return tuple(shape)


def _fmt(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


class View(Primitive, node_name="ViewBackward0"):
    _is_view = True

    @staticmethod
    def forward(ctx, a, shape):
        out = reshape_view(a, shape)
        if out is None:
            raise RuntimeError("view size is not compatible with input tensor's size and stride "
                               "(at least one dimension spans across two contiguous subspaces). "
                               "Use .reshape(...) instead.")
        ctx.in_shape = a.shape
        return out

    @staticmethod
    def backward(ctx, grad):
        return _reshape(grad, ctx.in_shape)


class UnsafeView(Primitive, node_name="UnsafeViewBackward0"):
    """reshape's copying path: a fresh contiguous copy reshaped. No one else holds the copy,
    so the result is no view of anything (PyTorch's ``_unsafe_view``)."""

    @staticmethod
    def forward(ctx, a, shape):
        ctx.in_shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        return _reshape(grad, ctx.in_shape)


def view(input: Tensor, *shape) -> Tensor:
    """A view of ``input`` with a new shape (one dim may be -1); shares storage."""
    return View.apply(input, _infer_shape(shape_arg(shape), input._data.size))


def reshape(input: Tensor, *sizes, shape=None) -> Tensor:
    """Like ``view`` when the strides allow it, otherwise a reshaped copy."""
    if input.__class__ is QuantizedTensor:  # its integers relaid, as its methods do
        return input.reshape(*(sizes if shape is None else (shape,)))
    data = input._data
    shape = _infer_shape(shape_arg(sizes if shape is None else (shape,)), data.size)
    return _reshape(input, shape)


def _reshape(input: Tensor, shape: tuple) -> Tensor:
    """``reshape`` to a valid ``shape``: a view when the strides allow one (always, for a
    C-contiguous array), otherwise a reshaped copy."""
    data = input._data
    if data.flags.c_contiguous or reshape_view(data, shape) is not None:
        return View.apply(input, shape)
    return UnsafeView.apply(contiguous(input), shape)


def view_dtype(input: Tensor, dtype) -> Tensor:
    from ember.dtypes import to_dtype
    new = to_dtype(dtype)
    try:
        return _make(input._data.view(new.np_dtype))
    except ValueError:
        old_size, new_size = input._data.dtype.itemsize, new.np_dtype.itemsize
        if input.ndim == 0 or (new_size > old_size and
                               input._data.shape[-1] % (new_size // old_size)):
            raise RuntimeError(f"self.size(-1) must be divisible by {new_size // old_size} to "
                               f"view {scalar_name(input.dtype)} as {scalar_name(new)} "
                               f"(different element sizes), but got "
                               f"{input._data.shape[-1] if input.ndim else 0}") from None
        raise RuntimeError(f"self.stride(-1) must be 1 to view {scalar_name(input.dtype)} as "
                           f"{scalar_name(new)} (different element sizes)") from None


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    if input.__class__ is QuantizedTensor:
        return input.flatten(start_dim, end_dim)
    if input.ndim == 0:
        wrap_dim(start_dim, 0)
        wrap_dim(end_dim, 0)
        return reshape(input, 1)
    s = wrap_dim(start_dim, input.ndim)
    e = wrap_dim(end_dim, input.ndim)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    shape = input._data.shape
    if s == e:
        return input
    return _reshape(input, shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:])


def unflatten(input: Tensor, dim: int, sizes) -> Tensor:
    d = wrap_dim(dim, input.ndim)
    shape = input._data.shape
    if not len(sizes):
        raise RuntimeError("unflatten: sizes must be non-empty")
    try:
        inner = _infer_shape(sizes, shape[d])
    except RuntimeError as exc:
        if "is invalid for input of size" not in str(exc):
            raise
        raise RuntimeError(f"unflatten: Provided sizes {_fmt(sizes)} don't multiply up to the "
                           f"size of dim {d} ({shape[d]}) in the input tensor") from None
    return view(input, shape[:d] + inner + shape[d + 1:])


class Permute(Primitive, node_name="PermuteBackward0"):
    _is_view = True

    @staticmethod
    def forward(ctx, a, dims):
        ctx.dims = dims
        return a.transpose(dims)

    @staticmethod
    def backward(ctx, grad):
        return permute(grad, *np.argsort(ctx.dims).tolist())


def permute(input: Tensor, *order, dims=None) -> Tensor:
    """A view with the dims reordered (``dims`` as varargs, one sequence or a keyword)."""
    dims = order if dims is None else (dims,)
    dims = shape_arg(dims) if dims and isinstance(dims[0], (tuple, list)) else dims
    if input.__class__ is QuantizedTensor:
        return input.permute(*dims)
    if len(dims) != input.ndim:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                           f"not match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {input.ndim} is not equal to len(dims) = {len(dims)}")
    try:
        dims = wrap_dims(dims, input.ndim)
    except RuntimeError:
        raise RuntimeError("permute(): duplicate dims are not allowed.") from None
    return Permute.apply(input, dims)


class Transpose(Primitive, node_name="TransposeBackward0"):
    _is_view = True

    @staticmethod
    def forward(ctx, a, d0, d1):
        ctx.dims = (d0, d1)
        return a.swapaxes(d0, d1) if a.ndim else a[...]  # dims 0 / -1 of a 0-d tensor

    @staticmethod
    def backward(ctx, grad):
        return transpose(grad, *ctx.dims)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    if input.__class__ is QuantizedTensor:
        return input.transpose(dim0, dim1)
    n = input._data.ndim
    if not (0 <= dim0 < n and 0 <= dim1 < n):  # in range: no wrapping (nor checks) needed
        dim0, dim1 = wrap_dim(dim0, n), wrap_dim(dim1, n)
    return Transpose.apply(input, dim0, dim1)


swapdims = transpose


def swapaxes(input: Tensor, axis0: int, axis1: int) -> Tensor:
    """``transpose`` under NumPy's names."""
    return transpose(input, axis0, axis1)


class T(Primitive, node_name="TBackward0"):
    _is_view = True

    @staticmethod
    def forward(ctx, a):
        return a.T

    @staticmethod
    def backward(ctx, grad):
        return t(grad)


def t(input: Tensor) -> Tensor:
    """Transpose of a matrix (0-d and 1-d tensors come back as they are)."""
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                           f"{input.ndim}D")
    return T.apply(input)


def movedim(input: Tensor, source, destination) -> Tensor:
    source = list(source) if isinstance(source, (tuple, list)) else [source]
    destination = list(destination) if isinstance(destination, (tuple, list)) else [destination]
    if len(source) != len(destination):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({source} "
                           f"dims) should contain the same number of dims as destination "
                           f"({destination} dims)")
    src = tuple(wrap_dim(int(d), input.ndim) for d in source)
    dst = tuple(wrap_dim(int(d), input.ndim) for d in destination)
    for name, given, wrapped in (("source", source, src), ("destination", destination, dst)):
        if len(set(wrapped)) != len(wrapped):
            raise RuntimeError(f"movedim: repeated dim in `{name}` ({given})")
    if input.ndim == 0:
        return Permute.apply(input, ())
    order = [d for d in range(input.ndim) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(input, *order)


moveaxis = movedim


class Expand(Primitive, node_name="ExpandBackward0"):
    _is_view = True

    @staticmethod
    def forward(ctx, a, shape):
        ctx.in_shape = a.shape
        lead = len(shape) - a.ndim
        if shape[lead:] == a.shape and all(s == 1 for s in shape[:lead]):
            # no element repeats: a writable view, as PyTorch lets in-place ops write it
            return a[(None,) * lead]
        return get_array_module(a).broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, grad):
        return sum_to_size(grad, ctx.in_shape)


def expand(input: Tensor, *sizes) -> Tensor:
    """A broadcast view (size -1 keeps a dim); expanded elements share memory."""
    sizes = shape_arg(sizes)
    shape = input._data.shape
    if len(sizes) < len(shape):
        raise RuntimeError(f"expand({input.type()}{{{list(shape)}}}, size={list(sizes)}): the "
                           f"number of sizes provided ({len(sizes)}) must be greater or equal to "
                           f"the number of dimensions in the tensor ({len(shape)})")
    lead = len(sizes) - len(shape)
    target = []
    for i, s in enumerate(sizes):
        if s == -1:
            if i < lead:
                raise RuntimeError(f"The expanded size of the tensor (-1) isn't allowed in a "
                                   f"leading, non-existing dimension {i}")
            s = shape[i - lead]
        elif i >= lead and shape[i - lead] not in (1, s):
            raise RuntimeError(f"The expanded size of the tensor ({s}) must match the existing "
                               f"size ({shape[i - lead]}) at non-singleton dimension {i}.  "
                               f"Target sizes: {list(sizes)}.  Tensor sizes: {list(shape)}")
        target.append(s)
    return Expand.apply(input, tuple(target))


def broadcast_to(input: Tensor, size) -> Tensor:
    return expand(input, size)


def broadcast_shapes(*shapes):
    from ember._tensor import Size
    shapes = [tuple(s) if not isinstance(s, int) else (s,) for s in shapes]
    try:
        return Size(np.broadcast_shapes(*shapes))
    except ValueError as exc:
        raise broadcast_mismatch(shapes) or RuntimeError(str(exc)) from None


def broadcast_tensors(*tensors):
    shape = broadcast_shapes(*[t.shape for t in tensors])
    return tuple(expand(t, shape) for t in tensors)


class SumToSize(Primitive, node_name="SumBackward1"):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.in_shape = a.shape
        lead = a.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape)
                                          if s == 1 and a.shape[i + lead] != 1)
        if not axes:
            return a.reshape(shape)
        out = None if a.__class__ is np.ndarray else leading_sum(a, axes, True)
        if out is None:
            dtype = a.dtype
            if _dt.is_half(dtype):  # float16, bfloat16: as PyTorch,
                # accumulate in float32 (also several times faster than ml_dtypes' own sum)
                out = a.sum(axis=axes, keepdims=True, dtype=np.float32).astype(dtype)
            elif dtype.kind == "u":  # integers sum to int64 (NumPy: unsigned ones to uint64)
                out = a.sum(axis=axes, keepdims=True, dtype=np.int64)
            else:
                out = a.sum(axis=axes, keepdims=True)
        return out.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        return expand(grad, ctx.in_shape)


def sum_to_size(input: Tensor, *size) -> Tensor:
    shape = shape_arg(size)
    have = input._data.shape
    if have == shape:
        if shape or input.dtype.is_floating_point or input.dtype.is_complex:
            return input
        return input.sum()  # PyTorch sums to a 0-d size: integers and bools become int64
    lead = len(have) - len(shape)
    if lead < 0 or builtins.any(s != 1 and s != have[lead + i] for i, s in enumerate(shape)):
        raise RuntimeError(f"size {{{list(shape)}}} is not expandable to size {{{list(have)}}}.")
    return SumToSize.apply(input, shape)


class Squeeze(Primitive, node_name="SqueezeBackward0"):
    _is_view = True

    @staticmethod
    def forward(ctx, a, dims):
        ctx.in_shape = a.shape
        return a.reshape(tuple(s for i, s in enumerate(a.shape) if i not in dims))

    @staticmethod
    def backward(ctx, grad):
        return _reshape(grad, ctx.in_shape)


def squeeze(input: Tensor, dim=None, *, axis=None) -> Tensor:
    """Remove dims of size 1 (all of them, or those in ``dim``)."""
    dim = dim if axis is None else axis
    if input.__class__ is QuantizedTensor:
        return input.squeeze() if dim is None else input.squeeze(dim)
    shape = input._data.shape
    if dim is None:
        dims = tuple(i for i, s in enumerate(shape) if s == 1)
    else:
        dims = tuple(d for d in wrap_dims(dim, input.ndim) if input.ndim and shape[d] == 1)
    return Squeeze.apply(input, dims)


class Unsqueeze(Primitive, node_name="UnsqueezeBackward0"):
    _is_view = True

    @staticmethod
    def forward(ctx, a, dim):
        ctx.in_shape = a.shape
        return a[(slice(None),) * dim + (None,)]  # xp.expand_dims's view, without its overhead

    @staticmethod
    def backward(ctx, grad):
        return _reshape(grad, ctx.in_shape)


def unsqueeze(input: Tensor, dim=None, *, axis=None) -> Tensor:
    dim = dim if axis is None else axis
    if input.__class__ is QuantizedTensor:
        return input.unsqueeze(dim)
    return Unsqueeze.apply(input, wrap_dim(dim, input.ndim + 1))


class BasicIndex(Primitive, node_name="SliceBackward0"):
    """Indexing with ints, slices, None and Ellipsis: a view."""
    _is_view = True

    @staticmethod
    def forward(ctx, a, index):
        ctx.in_shape = a.shape
        ctx.index = index
        out = a[index]
        if out.__class__ is not a.__class__:  # all ints: NumPy gives a scalar, PyTorch a view
            index = index if isinstance(index, tuple) else (index,)
            out = a[tuple(i for i in index if i is not Ellipsis) + (Ellipsis,)]
        return out

    @staticmethod
    def backward(ctx, grad):
        return EmbedBasic.apply(grad, ctx.in_shape, ctx.index)


class Select(BasicIndex, node_name="SelectBackward0"):
    _is_view = True


class UnsqueezeIndex(BasicIndex, node_name="UnsqueezeBackward0"):
    _is_view = True


class AliasIndex(BasicIndex, node_name="AliasBackward0"):
    _is_view = True


class EmbedBasic(Primitive, node_name="SliceBackwardBackward0"):
    """The gradient of basic indexing: zeros of the input's shape with ``grad`` at ``index``."""

    @staticmethod
    def forward(ctx, g, shape, index):
        ctx.index = index
        out = get_array_module(g).zeros(shape, g.dtype)
        out[index] = g
        return out

    @staticmethod
    def backward(ctx, grad):
        return BasicIndex.apply(grad, ctx.index)


def select(input: Tensor, dim: int | None = None, index: int | None = None, *,
           axis=None) -> Tensor:
    if input.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim if axis is None else axis, input.ndim)
    size = input._data.shape[d]
    if index < -size or index >= size:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(input._data.shape)} at dimension {d}")
    return Select.apply(input, (slice(None),) * d + (index,))


def narrow(input: Tensor, dim: int | None = None, start: int | None = None,
           length: int | None = None, *, axis=None) -> Tensor:
    if input.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim if axis is None else axis, input.ndim)
    if isinstance(start, Tensor) and (start.ndim != 0 or start.is_floating_point()
                                      or start.is_complex() or start.dtype is _dt.bool):
        raise RuntimeError("start must be an 0-dim integral Tensor.")
    start = int(start)
    size = input._data.shape[d]
    if not -size <= start <= size:
        raise IndexError(f"start out of range (expected to be in range of [{-size}, {size}], "
                         f"but got {start})")
    if start < 0:
        start += size
    if start + length > size or length < 0:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size "
                           f"({size}).")
    return BasicIndex.apply(input, (slice(None),) * d + (slice(start, start + length),))


class Diagonal(Primitive, node_name="DiagonalBackward0"):
    _is_view = True

    @staticmethod
    def forward(ctx, a, offset, d1, d2):
        ctx.args = (a.shape, offset, d1, d2)
        return diagonal_view(get_array_module(a), a, offset, d1, d2)

    @staticmethod
    def backward(ctx, grad):
        shape, offset, d1, d2 = ctx.args
        return EmbedDiagonal.apply(grad, shape, offset, d1, d2)


class EmbedDiagonal(Primitive, node_name="DiagonalBackwardBackward0"):
    @staticmethod
    def forward(ctx, g, shape, offset, d1, d2):
        ctx.args = (offset, d1, d2)
        xp = get_array_module(g)
        out = xp.zeros(shape, g.dtype)
        i = xp.arange(g.shape[-1])
        # With the two dims moved last, [..., rows, cols] addresses the diagonal in g's order.
        xp.moveaxis(out, (d1, d2), (-2, -1))[..., i + builtins.max(-offset, 0),
                                             i + builtins.max(offset, 0)] = g
        return out

    @staticmethod
    def backward(ctx, grad):
        return Diagonal.apply(grad, *ctx.args)


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    n = input.ndim
    d1, d2 = wrap_dim(dim1, n), wrap_dim(dim2, n)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return Diagonal.apply(input, offset, d1, d2)


class AsStrided(Primitive, node_name="AsStridedBackward0"):
    """A view of the input's storage (its root array) with any sizes and element strides."""
    _is_view = True

    @staticmethod
    def forward(ctx, a, size, stride, offset, a_offset):
        root = a
        while isinstance(root.base, type(a)):
            root = root.base
        if not (root.flags.c_contiguous or root.flags.f_contiguous):
            raise RuntimeError("as_strided: ember needs the tensor's storage to be contiguous")
        reach = offset + builtins.sum((n - 1) * s for n, s in zip(size, stride)) + 1 \
            if builtins.all(size) else 0
        if offset < 0 or reach > root.size:
            raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage "
                               f"offset {offset}, and itemsize {a.itemsize} requiring a storage "
                               f"size of {reach * a.itemsize} are out of bounds for storage of "
                               f"size {root.size * a.itemsize}")
        ctx.args = (a.shape, tuple(s // a.itemsize for s in a.strides), a_offset, root.size,
                    size, stride, offset)
        storage = root.reshape(-1) if root.flags.c_contiguous else root.T.reshape(-1)
        return get_array_module(a).lib.stride_tricks.as_strided(
            storage[offset:], size, tuple(s * a.itemsize for s in stride))

    @staticmethod
    def backward(ctx, grad):
        shape, strides, a_offset, n_storage, size, stride, offset = ctx.args
        xp = grad._xp
        n = int(np.prod(shape))
        # Storage position -> flat index into the input (n: storage the input does not cover).
        owner = xp.full(n_storage, n, np.int64)
        owner[_positions(xp, shape, strides, a_offset).reshape(-1)] = xp.arange(n)
        index = owner[_positions(xp, size, stride, offset)]
        flat = ScatterFlat.apply(grad, _make(index), (n + 1,))
        return reshape(narrow(flat, 0, 0, n), shape)


def _positions(xp, shape, strides, offset: int):
    """The storage position of every element of a strided view, as an int64 array."""
    pos = xp.full(shape, offset, np.int64)
    for k, (n, s) in enumerate(zip(shape, strides)):
        pos += xp.arange(n, dtype=np.int64).reshape((-1,) + (1,) * (len(shape) - k - 1)) * s
    return pos


class ScatterFlat(Primitive, node_name="IndexPutBackward0"):
    """Sum ``values`` into a zero tensor of ``shape`` at flat positions ``index`` (repeats add)."""

    @staticmethod
    def forward(ctx, values, index, shape):
        xp = get_array_module(values)
        ctx.save_for_backward(index)
        out = xp.zeros(int(np.prod(shape)), values.dtype)
        _scatter_add_arrays(xp, out, index.reshape(-1), values.reshape(-1))
        return out.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        from ember.ops.indexing import take
        return take(grad, index), None, None


def as_strided(input: Tensor, size, stride, storage_offset=None) -> Tensor:
    """A view of ``input``'s storage with the given sizes and element strides, starting at
    ``storage_offset`` (counted from the storage's start; ``input``'s own offset by default)."""
    own = input.storage_offset()
    offset = own if storage_offset is None else int(storage_offset)
    return AsStrided.apply(input, tuple(int(n) for n in size), tuple(int(s) for s in stride),
                           offset, own)


def unfold(input: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """All windows of ``size`` along ``dimension``, ``step`` apart, as a new last dim."""
    if input.ndim == 0:
        if size > 1:
            raise RuntimeError(f"maximum size for tensor at dimension 0 is 1 but size is {size}")
        return reshape(input, 1)
    d = wrap_dim(dimension, input.ndim)
    shape = input._data.shape
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    n = (shape[d] - size) // step + 1
    if size > shape[d]:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {shape[d]} but size "
                           f"is {size}")
    strides = [1] * len(shape)  # element strides of the C-contiguous source
    for k in range(len(shape) - 2, -1, -1):
        strides[k] = strides[k + 1] * shape[k + 1]
    out_shape = shape[:d] + (n,) + shape[d + 1:] + (size,)
    out_strides = tuple(strides[:d]) + (strides[d] * step,) + tuple(strides[d + 1:]) + (
        strides[d],)
    return as_strided(contiguous(input), out_shape, out_strides)  # from input's own offset


class Split(Primitive, node_name="SplitWithSizesBackward0"):
    _is_view = True

    @staticmethod
    def forward(ctx, a, sizes, dim):
        ctx.dim = dim
        lead = (slice(None),) * dim
        pieces = []  # basic slices: cheaper than xp.split, a Python-level function
        start = 0
        for size in sizes:
            pieces.append(a[lead + (slice(start, start + size),)])
            start += size
        return tuple(pieces)

    @staticmethod
    def backward(ctx, *grads):
        return cat(list(grads), ctx.dim)


def split(tensor: Tensor, split_size_or_sections, dim: int = 0):
    """Pieces of ``split_size`` (the last may be smaller) or of the listed sizes, as views."""
    if tensor.__class__ is QuantizedTensor:
        return tensor.split(split_size_or_sections, dim)
    if tensor.ndim == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    d = wrap_dim(dim, tensor.ndim)
    n = tensor._data.shape[d]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0 and n:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got "
                               f"dimension size of {n}")
        sizes = [builtins.min(step, n - i) for i in range(0, n, step)] if n else [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if builtins.sum(sizes) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} "
                               f"(input tensor's size at dimension {d}), but got "
                               f"split_sizes={sizes}")
    return Split.apply(tensor, tuple(sizes), d)


def chunk(input: Tensor, chunks: int, dim: int = 0, *, axis=None):
    """Split into ``chunks`` pieces of ceil(size / chunks) (fewer if the size runs out)."""
    dim = dim if axis is None else axis
    if input.__class__ is QuantizedTensor:
        return input.chunk(chunks, dim)
    if input.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    if chunks <= 0:
        raise RuntimeError("chunk expects `chunks` to be greater than 0, got: " + str(chunks))
    n = input._data.shape[wrap_dim(dim, input.ndim)]
    step = -(-n // chunks) if n else 1
    return split(input, step, dim)


def tensor_split(input: Tensor, indices_or_sections, dim: int = 0, *, axis=None):
    dim = dim if axis is None else axis
    d = wrap_dim(dim, input.ndim)
    n = input._data.shape[d]
    if isinstance(indices_or_sections, Tensor):
        indices_or_sections = _sections_of(indices_or_sections)
    if isinstance(indices_or_sections, int):
        k = indices_or_sections
        if k <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {k}")
        sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
    else:  # pieces input[i:j] between consecutive indices, sliced as Python slices
        idx = [0] + [int(i) for i in indices_or_sections] + [None]
        bounds = [slice(a, b).indices(n)[:2] for a, b in zip(idx[:-1], idx[1:])]
        bounds = [(a, builtins.max(a, b)) for a, b in bounds]
        if builtins.any(b[0] != a[1] for a, b in zip(bounds, bounds[1:])):  # not a partition
            lead = (slice(None),) * d
            return tuple(BasicIndex.apply(input, lead + (slice(a, b),)) for a, b in bounds)
        sizes = [b - a for a, b in bounds]
    return Split.apply(input, tuple(sizes), d)


def _sections_of(t: Tensor):
    """A tensor ``indices_or_sections``: a 0-d one is a number of sections, a 1-d one indices."""
    if t.dtype != _dt.int64:
        raise RuntimeError("tensor_split expected tensor_indices_or_sections to have dtype of "
                           f"long, but got {scalar_name(t.dtype)}")
    if t.ndim > 1:
        raise RuntimeError("tensor_split expected tensor_indices_or_sections to be a "
                           "zero-dimensional or one-dimensional tensor, but got a tensor with "
                           f"{t.ndim} dims")
    return t.item() if t.ndim == 0 else t.tolist()


def check_split_dims(name: str, input: Tensor, needed: int) -> None:
    """hsplit/vsplit/dsplit's refusal of a tensor with too few dims."""
    if input.ndim < needed:
        raise RuntimeError(f"torch.{name} requires a tensor with at least {needed} dimension, "
                           f"but got a tensor with {input.ndim} dimensions!")


def hsplit(input, sections):
    check_split_dims("hsplit", input, 1)
    return tensor_split(input, sections, 1 if input.ndim > 1 else 0)


def vsplit(input, sections):
    check_split_dims("vsplit", input, 2)
    return tensor_split(input, sections, 0)


class Unbind(Primitive, node_name="UnbindBackward0"):
    _is_view = True

    @staticmethod
    def forward(ctx, a, dim):
        ctx.dim = dim
        return tuple(a[(slice(None),) * dim + (i,)] for i in range(a.shape[dim]))

    @staticmethod
    def backward(ctx, *grads):
        return stack(list(grads), ctx.dim)


def unbind(input: Tensor, dim: int = 0, *, axis=None):
    dim = dim if axis is None else axis
    if input.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    return Unbind.apply(input, wrap_dim(dim, input.ndim))


def set_view_inplace_(input: Tensor, result: Tensor) -> Tensor:
    """squeeze_/unsqueeze_/t_/transpose_: ``input`` takes the new shape as its own."""
    check_inplace(input)
    input._data = result._data
    if result.grad_fn is not None:
        input._set_history(result.grad_fn, result._output_nr)
    return input


def atleast_1d(*tensors):
    out = [t.reshape(1) if t.ndim == 0 else t for t in _flat(tensors)]
    return out[0] if len(out) == 1 else tuple(out)


def atleast_2d(*tensors):
    out = [t.reshape(1, -1) if t.ndim < 2 else t for t in _flat(tensors)]
    return out[0] if len(out) == 1 else tuple(out)


def atleast_3d(*tensors):
    out = []
    for t in _flat(tensors):
        if t.ndim == 0:
            t = t.reshape(1, 1, 1)
        elif t.ndim == 1:
            t = t.reshape(1, -1, 1)
        elif t.ndim == 2:
            t = t.unsqueeze(-1)
        out.append(t)
    return out[0] if len(out) == 1 else tuple(out)


def _flat(tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return list(tensors[0])
    return list(tensors)


# The copying family lives in ``copying``, which builds on the views above: re-exported here,
# last, so that ``from ember.ops.movement import cat`` (and this module's own calls) find it.
from ember.ops.copying import (  # noqa: E402,F401  (re-exported)
    _LAYOUTS,
    Cat,
    Clone,
    Flip,
    Repeat,
    Roll,
    _inverse,
    cat,
    clone,
    column_stack,
    concat,
    concatenate,
    contiguous,
    dstack,
    flip,
    fliplr,
    flipud,
    hstack,
    laid_out,
    memory_order,
    relaid,
    repeat,
    repeat_interleave,
    roll,
    rot90,
    stack,
    tile,
    vstack,
)

del promote
