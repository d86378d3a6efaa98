"""Movement ops that copy rather than view: joining (cat, stack and their named forms), flip,
roll, rot90, repeat, tile, repeat_interleave, and clone/contiguous with the memory layouts
(channels-last) they lay data out in. Imported by ``movement``, which re-exports it, after its
views are defined."""

from __future__ import annotations

import builtins

from ember import _quantized
from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive
from ember.backend.device import get_array_module
from ember.ops._util import accepts_out, check_same_device, shape_arg, wrap_dim, wrap_dims
from ember.ops.movement import reshape, split, transpose, unsqueeze


class Cat(Primitive, node_name="CatBackward0"):
    @staticmethod
    def forward(ctx, dim, *arrays):
        xp = get_array_module(arrays[0])
        dtype = arrays[0].dtype
        for a in arrays[1:]:
            if a.dtype != dtype:
                dtype = None
        if dtype is None:
            from ember.dtypes import result_type
            from ember.ops._util import _Meta
            dtype = result_type(*[_Meta.of(a) for a in arrays]).np_dtype
            arrays = [a.astype(dtype) for a in arrays]
        # 1-d empty tensors join any shape by being left out (PyTorch's legacy rule).
        skip = [a.ndim == 1 and a.shape[0] == 0 for a in arrays]
        if builtins.all(skip):
            skip = [False] * len(arrays)
        ctx.sizes = [None if s else a.shape[dim] for a, s in zip(arrays, skip)]
        ctx.dim = dim
        return xp.concatenate([a for a, s in zip(arrays, skip) if not s], axis=dim)

    @staticmethod
    def backward(ctx, grad):
        pieces = iter(split(grad, [n for n in ctx.sizes if n is not None], ctx.dim))
        empty = None
        grads = []
        for n in ctx.sizes:
            if n is None:
                empty = empty or _make(grad._xp.zeros((0,), grad._data.dtype))
                grads.append(empty)
            else:
                grads.append(next(pieces))
        return (None,) + tuple(grads)


def cat(tensors, dim: int = 0, *, out=None, axis=None) -> Tensor:
    """Concatenate along an existing dim (1-d empty tensors are skipped, as in PyTorch)."""
    dim = dim if axis is None else axis
    if isinstance(tensors, Tensor):
        raise TypeError("cat(): argument 'tensors' (position 1) must be tuple of Tensors, not "
                        "Tensor")
    tensors = list(tensors)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    check_same_device("cat", *tensors)
    if tensors[0].__class__ is _quantized.QuantizedTensor:
        return _quantized.cat(tensors, wrap_dim(dim, tensors[0].ndim))
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be "
                               "concatenated")
    shaped = [t for t in tensors if not (t.ndim == 1 and t._data.shape[0] == 0)] or tensors
    ref = shaped[0]
    d = wrap_dim(dim, ref.ndim)
    for i, t in enumerate(shaped):
        if t.ndim != ref.ndim:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {ref.ndim} "
                               f"and {t.ndim}")
        for k in range(ref.ndim):
            if k != d and t._data.shape[k] != ref._data.shape[k]:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {d}. Expected size "
                    f"{ref._data.shape[k]} but got size {t._data.shape[k]} for tensor number "
                    f"{i} in the list.")
    result = Cat.apply(d, *tensors)
    if out is not None:
        from ember.ops.inplace import write_out
        return write_out(out, result)
    return result


concat = concatenate = cat


def stack(tensors, dim: int = 0, *, out=None, axis=None) -> Tensor:
    """Join tensors of one shape along a new dim."""
    dim = dim if axis is None else axis
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    shape = tensors[0]._data.shape
    for i, t in enumerate(tensors):
        if t._data.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(shape)} at entry 0 and {list(t._data.shape)} at entry {i}")
    d = wrap_dim(dim, len(shape) + 1)
    return cat([unsqueeze(t, d) for t in tensors], d, out=out)


@accepts_out
def hstack(tensors):
    return cat(tensors, 1 if tensors[0].ndim > 1 else 0)


@accepts_out
def vstack(tensors):
    return cat([t.reshape(1, -1) if t.ndim == 1 else t for t in tensors], 0)


@accepts_out
def dstack(tensors):
    return cat([t.reshape(1, -1, 1) if t.ndim == 1 else t.unsqueeze(-1) if t.ndim == 2 else t
                for t in tensors], 2)


@accepts_out
def column_stack(tensors):
    return cat([t.reshape(-1, 1) if t.ndim <= 1 else t for t in tensors], 1)


class Flip(Primitive, node_name="FlipBackward0"):
    @staticmethod
    def forward(ctx, a, dims):
        ctx.dims = dims
        return get_array_module(a).flip(a, dims).copy()

    @staticmethod
    def backward(ctx, grad):
        return Flip.apply(grad, ctx.dims)


def flip(input: Tensor, *order, dims=None) -> Tensor:
    dims = order if dims is None else (dims,)
    dims = shape_arg(dims) if dims and isinstance(dims[0], (tuple, list)) else dims
    dims = wrap_dims(dims, input.ndim)
    return Flip.apply(input, dims if input.ndim else ())


def fliplr(input):
    if input.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, 1)


def flipud(input):
    if input.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, 0)


class Roll(Primitive, node_name="RollBackward0"):
    @staticmethod
    def forward(ctx, a, shifts, dims):
        ctx.args = (shifts, dims)
        xp = get_array_module(a)
        if dims is None:
            return xp.roll(a.reshape(-1), shifts).reshape(a.shape)
        return xp.roll(a, shifts, dims)

    @staticmethod
    def backward(ctx, grad):
        shifts, dims = ctx.args
        neg = tuple(-s for s in shifts) if isinstance(shifts, tuple) else -shifts
        return Roll.apply(grad, neg, dims)


def roll(input: Tensor, shifts, dims=None) -> Tensor:
    if isinstance(shifts, (list, tuple)):
        if not shifts:
            raise RuntimeError("`shifts` required")
        shifts = tuple(int(s) for s in shifts)
    if isinstance(dims, (list, tuple)):
        dims = tuple(wrap_dim(d, input.ndim) for d in dims)
    elif dims is not None:
        dims = wrap_dim(dims, input.ndim)
    n_shifts = len(shifts) if isinstance(shifts, tuple) else 1
    n_dims = len(dims) if isinstance(dims, tuple) else 1
    if dims is not None and n_shifts != n_dims:
        raise RuntimeError(f"shifts and dimensions must align. shifts: {n_shifts}, dims:{n_dims}")
    return Roll.apply(input, shifts, dims)


def rot90(input: Tensor, k: int = 1, dims=(0, 1)) -> Tensor:
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {input.ndim}")
    d0, d1 = dims
    if wrap_dim(d0, input.ndim) == wrap_dim(d1, input.ndim):
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and "
                           f"dim1 = {d1}")
    k %= 4
    if k == 1:
        return transpose(flip(input, d1), d0, d1)
    if k == 2:
        return flip(input, d0, d1)
    if k == 3:
        return flip(transpose(input, d0, d1), d1)
    return clone(input)


class Repeat(Primitive, node_name="RepeatBackward0"):
    @staticmethod
    def forward(ctx, a, repeats):
        xp = get_array_module(a)
        a = a.reshape((1,) * (len(repeats) - a.ndim) + a.shape)
        ctx.shape = a.shape
        ctx.repeats = repeats
        return xp.tile(a, repeats)

    @staticmethod
    def backward(ctx, grad):
        interleaved = []
        for r, s in zip(ctx.repeats, ctx.shape):
            interleaved += [r, s]
        g = reshape(grad, tuple(interleaved))
        from ember.ops.reduce import sum as _sum
        return _sum(g, tuple(range(0, len(interleaved), 2)))


def repeat(input: Tensor, *sizes) -> Tensor:
    sizes = shape_arg(sizes)
    if len(sizes) < input.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number "
                           "of dimensions of tensor")
    try:
        return Repeat.apply(input, sizes)
    except ValueError:  # a negative repeat count
        lead = len(sizes) - input.ndim
        out = [r * (input.shape[i - lead] if i >= lead else 1) for i, r in enumerate(sizes)]
        raise RuntimeError(f"Trying to create tensor with negative dimension "
                           f"{min(out)}: {out}") from None


def tile(input: Tensor, dims) -> Tensor:
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    return repeat(input, (1,) * (input.ndim - len(dims)) + dims)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None, axis=None):
    dim = dim if axis is None else axis
    from ember.ops.index_along_dim import index_select
    if repeats is None:  # repeat_interleave(repeats_tensor)
        counts = input._data
        return _make(get_array_module(counts).repeat(
            get_array_module(counts).arange(len(counts)), counts))
    if dim is None:
        input = reshape(input, -1)
        dim = 0
    d = wrap_dim(dim, input.ndim)
    xp = input._xp
    reps = repeats._data if isinstance(repeats, Tensor) else repeats
    n = input._data.shape[d]
    if isinstance(repeats, Tensor) and repeats.ndim == 1 and repeats.shape[0] not in (1, n):
        raise RuntimeError(f"repeats must have the same size as input along dim, but got "
                           f"repeats.size(0) = {repeats.shape[0]} and input.size({d}) = {n}")
    idx = xp.repeat(xp.arange(input._data.shape[d]), reps)
    return index_select(input, d, _make(idx))


class Clone(Primitive, node_name="CloneBackward0"):
    @staticmethod
    def forward(ctx, a, order="K"):
        """A copy in NumPy's ``order`` ("K": the strides' order, "C"), or with the dims laid
        out outermost to innermost in the tuple ``order`` (channels-last layouts)."""
        # ``ndarray.copy`` (NumPy and CuPy alike) keeps subclasses: a meta array stays meta.
        return relaid(a, order) if isinstance(order, tuple) else a.copy(order=order)

    @staticmethod
    def backward(ctx, grad):
        return grad


def relaid(array, order: tuple):
    """A copy of ``array`` whose dims lie outermost to innermost in memory as ``order`` says
    (the shape is unchanged)."""
    return array.transpose(order).copy(order="C").transpose(_inverse(order))


def _inverse(order: tuple) -> tuple:
    out = [0] * len(order)
    for i, d in enumerate(order):
        out[d] = i
    return tuple(out)


# The dims from outermost to innermost in memory of PyTorch's channels-last formats.
_LAYOUTS = {"channels_last": (0, 2, 3, 1), "channels_last_3d": (0, 2, 3, 4, 1)}


def memory_order(memory_format, ndim: int) -> tuple | None:
    """The dims' order in memory for a channels-last ``memory_format`` (None for the others);
    RuntimeError, as in PyTorch, when the rank does not fit it."""
    name = getattr(memory_format, "name", None)
    order = _LAYOUTS.get(name)
    if order is not None and ndim != len(order):
        raise RuntimeError(f"required rank {len(order)} tensor to use {name} format")
    return order


def laid_out(array, order: tuple) -> bool:
    """Whether ``array`` is dense in the layout ``order`` (dims of size 1 may have any stride)."""
    return array.transpose(order).flags.c_contiguous


def clone(input: Tensor, *, memory_format=None) -> Tensor:
    """A copy with its own storage (differentiable), in ``memory_format``: the strides' order
    by default (``preserve_format``), C order for ``contiguous_format``, or channels-last."""
    name = getattr(memory_format, "name", None)
    if name == "contiguous_format":
        return Clone.apply(input, "C")
    order = memory_order(memory_format, input.ndim)
    return Clone.apply(input, "K" if order is None else order)


def contiguous(input: Tensor, memory_format=None) -> Tensor:
    """``input`` itself when dense in ``memory_format`` (C order by default, or a
    channels-last layout), else a copy laid out so (differentiable)."""
    order = memory_order(memory_format, input.ndim)
    if order is None:
        return input if input._data.flags.c_contiguous else Clone.apply(input, "C")
    return input if laid_out(input._data, order) else Clone.apply(input, order)
