"""Shape ops composed from movement and indexing primitives: aliases (ravel, row_stack, the
split family), block_diag, combinations, vander, the *_scatter ops, complex/real views and
unravel_index."""
from __future__ import annotations

import itertools
import math
import numbers

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive
from ember.backend.device import get_array_module
from ember.ops._util import accepts_out, scalar_name, wrap_dim
from ember.ops.elementwise import where
from ember.ops.movement import (
    EmbedDiagonal,
    cat,
    check_split_dims,
    chunk,
    clone,
    diagonal,
    reshape,
    select,
    split,
    stack,
    tensor_split,
    vstack,
)


def ravel(input: Tensor) -> Tensor:
    """The elements of ``input`` as a 1-D tensor (a view when the layout allows)."""
    return reshape(input, -1)


@accepts_out
def row_stack(tensors) -> Tensor:
    """PyTorch's alias of ``vstack``."""
    return vstack(tensors)


def dsplit(input: Tensor, indices_or_sections):
    """Split a tensor of 3 or more dims along its third dim (depth)."""
    check_split_dims("dsplit", input, 3)
    return tensor_split(input, indices_or_sections, 2)


def split_with_sizes(input: Tensor, split_sizes, dim: int = 0):
    """Split ``input`` along ``dim`` into pieces of the given sizes (which must add up)."""
    d = wrap_dim(dim, input.ndim)
    if sum(split_sizes) != input.shape[d]:
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to "
                           f"{input.shape[d]} (input tensor's size at dimension {dim}), but "
                           f"got split_sizes={list(split_sizes)}")
    return split(input, list(split_sizes), d)


def unsafe_chunk(input: Tensor, chunks: int, dim: int = 0):
    """``chunk``; PyTorch's unsafe variant only skips view tracking."""
    return chunk(input, chunks, dim)


def unsafe_split(input: Tensor, split_size, dim: int = 0):
    """``split``; PyTorch's unsafe variant only skips view tracking."""
    return split(input, split_size, dim)


def unsafe_split_with_sizes(input: Tensor, split_sizes, dim: int = 0):
    return split_with_sizes(input, split_sizes, dim)


# ---------------------------------------------------------------------------------------------
# Building matrices


def block_diag(*tensors: Tensor) -> Tensor:
    """A block-diagonal matrix of the given 0-, 1- or 2-D tensors (in the promoted dtype)."""
    if not tensors:
        from ember._creation import zeros
        return zeros((1, 0))
    mats = []
    for i, t in enumerate(tensors):
        if t.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer "
                               f"dimensions. Input {i} has {t.ndim} dimensions")
        mats.append(t.reshape(1, -1) if t.ndim < 2 else t)
    dtype = mats[0].dtype
    for m in mats[1:]:
        dtype = _dt.promote_types(dtype, m.dtype)
    mats = [m.to(dtype) for m in mats]
    width = sum(m.shape[1] for m in mats)
    rows, left = [], 0
    for m in mats:
        r, c = m.shape
        pad_l = m.new_zeros((r, left))
        pad_r = m.new_zeros((r, width - left - c))
        rows.append(cat([pad_l, m, pad_r], 1))
        left += c
    return cat(rows, 0)


def combinations(input: Tensor, r: int = 2, with_replacement: bool = False) -> Tensor:
    """The length-``r`` combinations of the elements of a 1-D tensor, one per row (as
    itertools.combinations / combinations_with_replacement order them)."""
    if input.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return input.new_empty((0,))
    pick = itertools.combinations_with_replacement if with_replacement else \
        itertools.combinations
    index = list(pick(range(input.shape[0]), r))
    xp = input._xp
    idx = xp.asarray(index, dtype=xp.int64).reshape(len(index), r)
    return input[_make(idx)]


def _vander(x: Tensor, n: int) -> Tensor:
    """Powers x**0 .. x**(n-1) in a new last dim, by products (finite gradients at 0)."""
    cols = []
    power = x.new_ones(x.shape)
    for _ in range(n):
        cols.append(power)
        power = power * x
    if not cols:
        return x.new_zeros((*x.shape, 0))
    return stack(cols, -1)


def linalg_vander(x: Tensor, *, N: int | None = None) -> Tensor:
    """``linalg.vander``: powers x**0 .. x**(N-1) of the last dim of ``x`` in a new last dim
    (a 0-d ``x`` counts as shape (1,); integer inputs give int64, as PyTorch's)."""
    if x.dtype in (_dt.bool, _dt.float16, _dt.bfloat16):
        raise RuntimeError("linalg.vander supports floating point, complex, and integer "
                           f"tensors, but got {scalar_name(x.dtype)}")
    if x.ndim == 0:
        x = reshape(x, (1,))
    n = x.shape[-1] if N is None else N
    if n < 2:
        raise RuntimeError("N must be greater than 1.")
    return _vander(x if x.dtype.is_floating_point or x.is_complex() else x.long(), n)


def vander(x: Tensor, N: int | None = None, increasing: bool = False) -> Tensor:
    """The Vandermonde matrix of a 1-D ``x``: columns x**(N-1), ..., x**0 (or increasing);
    bool and integer inputs give int64, as PyTorch's."""
    if x.ndim != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = x.shape[0] if N is None else N
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    x = x if x.dtype.is_floating_point or x.is_complex() else x.long()
    out = _vander(x, n)
    return out if increasing else out.flip(-1)


# ---------------------------------------------------------------------------------------------
# Embedding a tensor into a copy of another


def select_scatter(input: Tensor, src: Tensor, dim: int, index: int) -> Tensor:
    """A copy of ``input`` with ``input.select(dim, index)`` replaced by ``src``."""
    out = clone(input)
    target = select(out, dim, index)
    _check_embed(target, src, "select_scatter")
    target.copy_(src)
    return out


def slice_scatter(input: Tensor, src: Tensor, dim: int = 0, start: int | None = None,
                  end: int | None = None, step: int = 1) -> Tensor:
    """A copy of ``input`` with the slice ``start:end:step`` along ``dim`` replaced by ``src``."""
    d = wrap_dim(dim, input.ndim)
    out = clone(input)
    target = out[(slice(None),) * d + (slice(start, end, step),)]
    _check_embed(target, src, "slice_scatter")
    target.copy_(src)
    return out


def as_strided_scatter(input: Tensor, src: Tensor, size, stride,
                       storage_offset: int | None = None) -> Tensor:
    """A copy of ``input`` (contiguous) with its ``as_strided(size, stride, storage_offset)``
    view replaced by ``src``."""
    out = clone(input).contiguous()
    target = out.as_strided(size, stride, storage_offset)
    _check_embed(target, src, "as_strided_scatter")
    target.copy_(src)
    return out


def diagonal_scatter(input: Tensor, src: Tensor, offset: int = 0, dim1: int = 0,
                     dim2: int = 1) -> Tensor:
    """A copy of ``input`` with its diagonal (``offset``, ``dim1``, ``dim2``) replaced by
    ``src``."""
    n = input.ndim
    d1, d2 = wrap_dim(dim1, n), wrap_dim(dim2, n)
    _check_embed(diagonal(input, offset, d1, d2), src, "diagonal_scatter")
    # NumPy's diagonal views are read-only: embed src in zeros and pick it on the diagonal.
    shape = tuple(input.shape)
    embedded = EmbedDiagonal.apply(src.to(input.dtype), shape, offset, d1, d2)
    mask = EmbedDiagonal.apply(_make(input._xp.ones(src.shape, bool)), shape, offset, d1, d2)
    return where(mask, embedded, input)


def _check_embed(target: Tensor, src: Tensor, op: str) -> None:
    if tuple(target.shape) != tuple(src.shape):
        raise RuntimeError(f"{op}: expected src to have a size equal to the slice of self. src "
                           f"size = {list(src.shape)}, slice size = {list(target.shape)}")


# ---------------------------------------------------------------------------------------------
# Complex numbers as pairs of reals


class ViewAsReal(Primitive, node_name="ViewAsRealBackward0"):
    _is_view = True

    @staticmethod
    def forward(ctx, a):
        real = a.real  # a view of the real parts, with ``a``'s strides
        if a.ndim and a.strides[-1] == a.itemsize:
            return a.view(real.dtype).reshape(*a.shape, 2)
        # a 0-d or strided complex array: the (real, imaginary) axis by strides, as PyTorch's
        # view (NumPy's dtype view needs a contiguous last axis)
        strided = get_array_module(a).lib.stride_tricks.as_strided
        return strided(real, a.shape + (2,), a.strides + (real.itemsize,))

    @staticmethod
    def backward(ctx, grad):
        return view_as_complex(grad.contiguous())


class ViewAsComplex(Primitive, node_name="ViewAsComplexBackward0"):
    _is_view = True

    @staticmethod
    def forward(ctx, a):
        complex_dtype = get_array_module(a).result_type(a.dtype, 1j)
        return a.view(complex_dtype)[..., 0]

    @staticmethod
    def backward(ctx, grad):
        return view_as_real(grad.contiguous())


def view_as_real(input: Tensor) -> Tensor:
    """A real view of a complex tensor, with a last dimension of size 2 (real, imaginary)."""
    if not input.is_complex():
        raise RuntimeError("view_as_real is only supported for complex tensors")
    return ViewAsReal.apply(input)


def view_as_complex(input: Tensor) -> Tensor:
    """A complex view of a float tensor whose last dimension has size 2 and stride 1."""
    if input.dtype not in (_dt.float32, _dt.float64):
        raise RuntimeError(f"view_as_complex is only supported for float and double tensors, "
                           f"but got a tensor of scalar type: {input.dtype}")
    if input.ndim == 0 or input.shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    if input.stride(-1) != 1 and input._data.size:  # (NumPy gives empty arrays any strides)
        raise RuntimeError("Tensor must have a last dimension with stride 1")
    return ViewAsComplex.apply(input)


# ---------------------------------------------------------------------------------------------
# Index arithmetic


def unravel_index(indices: Tensor, shape) -> tuple:
    """The coordinates, in an array of ``shape``, of flat ``indices``: one int64 tensor per dim,
    computed in int64 whatever the integer dtype of ``indices`` (as PyTorch's; an index out of
    range wraps around, also as PyTorch's, which does not check)."""
    if not isinstance(indices, Tensor):
        from ember._creation import tensor
        indices = tensor(indices)
    if indices.is_floating_point() or indices.is_complex() or indices.dtype is _dt.bool:
        raise TypeError("expected 'indices' to be integer dtype, but got "
                        f"{indices.dtype}")
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    for s in shape:
        if not isinstance(s, numbers.Integral):
            raise TypeError(f"expected 'shape' sequence to only contain ints, but got {type(s)}")
    if any(s < 0 for s in shape):
        raise ValueError(f"'shape' cannot have negative values, but got {shape}")
    data = indices._data.astype("int64", copy=False)
    if 0 in shape:
        if data.size:
            raise RuntimeError("ZeroDivisionError")
        return tuple(_make(data.copy()) for _ in shape)
    coords, stride = [], math.prod(shape)
    for s in shape:
        stride //= s
        coords.append(_make(data // stride % s))
    return tuple(coords)
