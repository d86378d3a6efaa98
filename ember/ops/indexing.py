"""Indexing: ``t[...]`` and ``t[...] = v`` (basic indexing gives views, advanced indexing
copies; index_put / put), the boolean-mask ops (masked_fill / masked_select / masked_scatter),
take and nonzero. The ops indexing along a dim live beside it: gather_scatter.py (one index per
element), index_along_dim.py (one index per slice) and sorting.py (sort, topk, unique)."""
from __future__ import annotations

import builtins
import warnings
from collections.abc import Sequence

import numpy as np

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive, broadcast_mismatch
from ember.autograd.grad_mode import _State
from ember.backend.device import MetaArray, get_array_module, to_device
from ember.backend.special import scatter_add as _scatter_add_arrays
from ember.backend.special import where as _where_arrays
from ember.ops._util import (
    accepts_out,
    c_type_name,
    cast,
    check_same_device,
    is_number,
    scalar_name,
    scalar_operand,
    write_result,
)
from ember.ops.fill import checked_fill, write_source
from ember.ops.inplace import check_inplace, inplace
from ember.ops.movement import (
    AliasIndex,
    BasicIndex,
    Select,
    UnsqueezeIndex,
    broadcast_shapes,
    expand,
    reshape,
)


def _sequence_as_tuple(index) -> bool:
    """PyTorch's legacy rule (NumPy's before 1.23): a short non-tuple sequence holding a
    sequence, tensor, slice, None or Ellipsis means the tuple of its items, so
    ``t[[rows, cols]]`` is ``t[rows, cols]``."""
    if index.__class__ is not list and (isinstance(index, (tuple, str, slice, Tensor))
                                        or not isinstance(index, Sequence)):
        return False  # (the common indices first: an abstract class check costs more)
    if len(index) >= 32:
        return False
    if not builtins.any(isinstance(item, (Sequence, Tensor, np.ndarray, slice)) or item is None
                        or item is Ellipsis for item in index):
        return False
    warnings.warn("Using a non-tuple sequence for multidimensional indexing is deprecated and "
                  "will be changed in pytorch 2.9; use x[tuple(seq)] instead of x[seq]. In "
                  "pytorch 2.9 this will be interpreted as tensor index, x[torch.tensor(seq)], "
                  "which will result either in an error or a different result", UserWarning,
                  stacklevel=5)
    return True


def _convert_index(index, xp):
    """A NumPy index from a PyTorch one, and whether it is basic (so the result is a view)."""
    if _sequence_as_tuple(index):
        index = tuple(index)
    elif not isinstance(index, tuple):
        index = (index,)
    out = []
    basic = True
    for item in index:
        if isinstance(item, Tensor):
            arr = item._data
            if arr.dtype == np.uint8:  # PyTorch's legacy masks
                warnings.warn("indexing with dtype torch.uint8 is now deprecated, please use a "
                              "dtype torch.bool instead.", UserWarning, stacklevel=4)
                arr = arr.astype(np.bool_)
            elif arr.ndim == 0 and arr.dtype.kind in "iu":
                # a 0-d integer tensor indexes as the integer, as in PyTorch: a view, and the
                # dimension goes as an int's does (not NumPy's advanced-index placement)
                out.append(int(arr))
                continue
            if arr.dtype != np.bool_:
                if arr.dtype.kind not in "iu":
                    raise IndexError("tensors used as indices must be long, int, byte or bool "
                                     "tensors")
                arr = arr.astype(np.int64, copy=False)
            if arr.__class__ is not xp.ndarray:
                arr = xp.asarray(_host(arr))
            out.append(arr)
            basic = False
        elif isinstance(item, (list, np.ndarray)) or (
                not isinstance(item, (int, slice, type(None), type(Ellipsis)))
                and hasattr(item, "__len__")):
            arr = xp.asarray(_flatten_tensors(item))
            if arr.size == 0 and not isinstance(item, np.ndarray):
                arr = arr.astype(np.int64)  # an empty list selects nothing, as PyTorch's does
            if _dt.np_kind(arr.dtype) == "f":
                raise IndexError("tensors used as indices must be long, int, byte or bool "
                                 "tensors")
            out.append(arr)
            basic = False
        elif isinstance(item, (bool, np.bool_)):
            out.append(xp.asarray(item))
            basic = False
        elif isinstance(item, (int, np.integer)):
            out.append(int(item))
        else:
            out.append(item)
    return tuple(out), basic


def _host(arr):
    return arr if isinstance(arr, np.ndarray) else arr.get()


def _flatten_tensors(item):
    if isinstance(item, Tensor):
        return _host(item._data)
    if isinstance(item, (list, tuple)):
        return [_flatten_tensors(i) for i in item]
    return item


class Index(Primitive, node_name="IndexBackward0"):
    """Advanced (integer or bool array) indexing: a copy."""

    @staticmethod
    def forward(ctx, a, index):
        ctx.in_shape = a.shape
        ctx.index = index
        # PyTorch's result is a fresh row-major tensor; NumPy's can be laid out otherwise
        # (``a[:, mask]`` is column-major), and ``.view`` must then work on it as on PyTorch's.
        # (A 0-d result is left alone: ascontiguousarray would make it 1-d; so is a meta
        # array, which has no layout to fix and would become a plain one.)
        out = a[index]
        if out.ndim == 0 or out.__class__ is MetaArray:
            return out
        return get_array_module(a).ascontiguousarray(out)

    @staticmethod
    def backward(ctx, grad):
        return IndexAccumulate.apply(grad, ctx.in_shape, ctx.index)


class IndexAccumulate(Primitive, node_name="IndexPutBackward0"):
    """Zeros of ``shape`` with ``values`` summed in at ``index`` (repeated indices add)."""

    @staticmethod
    def forward(ctx, values, shape, index):
        ctx.index = index
        xp = get_array_module(values)
        out = xp.zeros(shape, values.dtype)
        _scatter_add_arrays(xp, out, index, values)
        return out

    @staticmethod
    def backward(ctx, grad):
        return Index.apply(grad, ctx.index)


def getitem(t: Tensor, index):
    """``t[index]``: basic indexing returns a view, advanced indexing a copy."""
    if isinstance(index, int) and t._data.ndim:
        n = t._data.shape[0]
        if index < -n or index >= n:
            raise IndexError(f"index {index} is out of bounds for dimension 0 with size {n}")
        return Select.apply(t, index)
    if t._data.ndim == 0 and index is not None and index is not Ellipsis and not (
            isinstance(index, tuple) and builtins.all(i is None or i is Ellipsis for i in index)):
        if not isinstance(index, (Tensor, list)) or isinstance(index, int):
            raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                             "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
    np_index, basic = _convert_index(index, t._xp)
    if not basic:
        np_index = _expand_ellipsis(np_index, t._data.ndim)
        split = _split_ints(np_index)
        if split is not None:  # PyTorch selects ints first; NumPy counts them as arrays
            return getitem(getitem(t, split[0]), split[1])
    try:
        if basic:
            if builtins.all(isinstance(i, int) for i in np_index):
                return Select.apply(t, np_index)
            return _view_node(index, np_index, t._data.shape).apply(t, np_index)
        return Index.apply(t, np_index)
    except IndexError as exc:
        raise _index_error(exc) from None


def _view_node(index, np_index, shape) -> type:
    """The node PyTorch names a basic-indexing view after: a bare slice slices; in a tuple the
    last step that changes something decides (an int selects, None unsqueezes, a slice short of
    its whole dimension slices), and a tuple that changes nothing is an alias."""
    if isinstance(index, slice):
        return BasicIndex
    items = np_index if isinstance(np_index, tuple) else (np_index,)
    n_dims = builtins.sum(1 for i in items if i is not None and i is not Ellipsis)
    node, dim = AliasIndex, 0
    for item in items:
        if item is Ellipsis:
            dim += len(shape) - n_dims
            continue
        if item is None:
            node = UnsqueezeIndex
            continue
        if not isinstance(item, slice):
            node = Select
        elif item.indices(shape[dim]) != (0, shape[dim], 1):
            node = BasicIndex
        dim += 1
    return node


def _dims_used(item) -> int:
    if item is None or item is Ellipsis:
        return 0
    return item.ndim if getattr(item, "dtype", None) == np.bool_ else 1


def _expand_ellipsis(np_index, ndim: int):
    """The index with its Ellipsis written out as slices: an Ellipsis that covers no dim then
    vanishes, so index arrays on both sides stay adjacent (PyTorch; NumPy separates them)."""
    if not builtins.any(i is Ellipsis for i in np_index):
        return np_index
    k = next(j for j, i in enumerate(np_index) if i is Ellipsis)
    fill = ndim - builtins.sum(_dims_used(i) for i in np_index)
    return np_index[:k] + (slice(None),) * builtins.max(fill, 0) + np_index[k + 1:]


def _split_ints(np_index):
    """(ints-only index, the rest) when an index (without Ellipsis) mixes ints with arrays.

    NumPy treats an int next to index arrays as one more array (which moves the result's dims
    when a slice separates them); PyTorch first selects with the ints, then indexes the rest.
    """
    if not builtins.any(isinstance(i, int) for i in np_index):
        return None
    first, rest = [], []
    for item in np_index:
        if isinstance(item, int):
            first.append(item)
        elif item is None:
            first.append(None)
            rest.append(slice(None))  # the new dim exists after the first pass
        else:  # slices and arrays (an Ellipsis was written out by _expand_ellipsis)
            first += [slice(None)] * _dims_used(item)
            rest.append(item)
    return tuple(first), tuple(rest)


def _is_mask(index) -> bool:
    if isinstance(index, tuple) and len(index) == 1:
        index = index[0]
    return isinstance(index, Tensor) and index.dtype is _dt.bool


def _index_error(exc: IndexError) -> IndexError:
    """NumPy's IndexError in PyTorch's words (tensors have dimensions, not axes)."""
    msg = str(exc)
    if msg.startswith("too many indices for array"):
        ndim = msg.split("array is ")[1].split("-")[0] if "array is " in msg else "?"
        return IndexError(f"too many indices for tensor of dimension {ndim}")
    return IndexError(msg.replace(" for axis ", " for dimension "))


def _without_leading_ones(value: Tensor) -> Tensor:
    """PyTorch drops a value's leading size-1 dimensions before writing it, so ``t[0] =
    tensor([x])`` fills a 0-d slot."""
    shape = value.shape
    ones = 0
    while ones < len(shape) and shape[ones] == 1:
        ones += 1
    return value.reshape(shape[ones:]) if ones else value


def setitem(t: Tensor, index, value) -> None:
    """``t[index] = value`` for every index kind, differentiable (see inplace.py)."""
    record = _State.enabled and (t.requires_grad or (isinstance(value, Tensor)
                                                     and value.requires_grad))
    xp = t._xp
    np_index, basic = _convert_index(index, xp)
    if isinstance(value, Tensor):
        value = _without_leading_ones(value)
        # A 0-d value under one bool mask is a masked_fill, which casts; index_put does not.
        if not basic and value.dtype is not t.dtype and not (value.ndim == 0
                                                             and _is_mask(index)):
            raise RuntimeError("Index put requires the source and destination dtypes match, got "
                               f"{scalar_name(t.dtype)} for the destination and "
                               f"{scalar_name(value.dtype)} for the source.")
    elif not is_number(value):
        kind = type(value)
        name = kind.__name__ if kind.__module__ == "builtins" else \
            f"{kind.__module__.split('.')[0]}.{kind.__name__}"
        raise TypeError(f"can't assign a {name} to a {t.type()}")
    if not basic:
        np_index = _expand_ellipsis(np_index, t._data.ndim)
        split = _split_ints(np_index)
        if split is not None:
            setitem(getitem(t, split[0]), split[1], value)
            return
    if not record:
        if isinstance(value, Tensor):
            v = value._data
            if v.__class__ is not t._data.__class__:
                v = to_device(v, t.device)
        elif t._data.dtype.kind in "iu":  # PyTorch checks a number against the int range
            v = checked_fill(value, t._data.dtype, 2)
        else:
            v = value
        try:
            t._data[np_index] = write_source(v, t._data.dtype)
        except IndexError as exc:
            raise _index_error(exc) from None
        except ValueError:
            # PyTorch expands the value to the indexed shape; let expand word the error.
            expand(value if isinstance(value, Tensor) else _make(xp.asarray(v)),
                   t._data[np_index].shape)
            raise
        t._bump_version()
        return
    if basic:  # copy_ into the view checks it (a view of a leaf, in PyTorch's words)
        from ember.ops.fill import copy_
        copy_(BasicIndex.apply(t, np_index), value)
        return
    check_inplace(t)
    _index_put_(t, np_index, value)


class IndexPut(Primitive, node_name="IndexPutBackward0"):
    @staticmethod
    def forward(ctx, a, values, index, accumulate):
        ctx.index = index
        ctx.accumulate = accumulate
        xp = get_array_module(a)
        out = a.copy()
        values = write_source(cast(values, a.dtype) if is_number(values) else values, a.dtype)
        if hasattr(values, "astype"):
            values = values.astype(a.dtype, copy=False)
        try:
            if accumulate:
                target_shape = out[index].shape
                _scatter_add_arrays(xp, out, index, xp.broadcast_to(values, target_shape))
            else:
                out[index] = values
        except IndexError as exc:
            raise _index_error(exc) from None
        return out

    @staticmethod
    def backward(ctx, grad):
        grad_self = grad
        if not ctx.accumulate:
            mask = _make(grad._xp.ones(grad._data.shape, bool))
            mask._data[ctx.index] = False
            grad_self = grad * mask
        grad_values = Index.apply(grad, ctx.index) if ctx.needs_input_grad[1] else None
        return grad_self, grad_values


def _index_tuple(t: Tensor, indices):
    return _convert_index(tuple(indices) if isinstance(indices, list) else indices, t._xp)[0]


def _check_put_dtype(input: Tensor, values) -> None:
    if isinstance(values, Tensor) and values.dtype is not input.dtype:
        raise RuntimeError("Index put requires the source and destination dtypes match, got "
                           f"{scalar_name(input.dtype)} for the destination and "
                           f"{scalar_name(values.dtype)} for the source.")


def index_put(input: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    _check_put_dtype(input, values)
    index = _index_tuple(input, indices)
    if not isinstance(values, Tensor):
        values = _make(input._xp.asarray(write_source(values, input._data.dtype),
                                         input._data.dtype))
    return IndexPut.apply(input, values, index, accumulate)


def index_put_(input: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    _check_put_dtype(input, values)
    return _index_put_(input, indices, values, accumulate)


def _index_put_(input: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    """``index_put_`` without its dtype check (``t[mask] = 0-d tensor`` casts)."""
    index = _index_tuple(input, indices)
    if not isinstance(values, Tensor):
        values = _make(input._xp.asarray(write_source(values, input._data.dtype),
                                         input._data.dtype))
    return inplace(input, IndexPut, values, index, accumulate)


def put_(input: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    """Write (or add) ``source`` at the flat row-major positions ``index`` of a contiguous
    ``input``, in place."""
    if not input.is_contiguous():
        raise RuntimeError("put_: expected a contiguous tensor")
    if source.dtype is not input.dtype:
        raise RuntimeError(f"put_(): self and source expected to have the same dtype, but got "
                           f"self.dtype = {scalar_name(input.dtype)} and source.dtype = "
                           f"{scalar_name(source.dtype)}")
    index_put_(input.view(-1), (index.reshape(-1),), source.reshape(-1), accumulate)
    return input


def put(input: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    """``put_`` on a copy of ``input``."""
    return put_(input.clone(), index, source, accumulate)


# ---------------------------------------------------------------------------------------------
# masks

class MaskedFill(Primitive, node_name="MaskedFillBackward0"):
    @staticmethod
    def forward(ctx, a, mask, value):
        ctx.save_for_backward(mask)
        xp = get_array_module(a)
        v = write_source(scalar_operand(value, a) if is_number(value) else value, a.dtype)
        if hasattr(v, "astype"):  # an array, or the float32 a float16's double goes through
            v = v.astype(a.dtype, copy=False)
        return _where_arrays(xp, mask, v, a)

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        zero = _make(grad._xp.zeros((), grad._data.dtype))
        gself = where_(mask, zero, grad)
        gval = None
        if len(ctx.needs_input_grad) > 2 and ctx.needs_input_grad[2]:
            gval = where_(mask, grad, zero).sum()
        return gself, None, gval


def where_(cond, a, b):
    from ember.ops.elementwise import where
    return where(cond, a, b)


def _check_mask(mask: Tensor, op: str) -> None:
    if mask.dtype is not _dt.bool:
        if mask.dtype is _dt.uint8:
            return
        raise RuntimeError(f"{op} only supports boolean masks, but got mask with dtype "
                           f"{mask.dtype}")


def _check_fill_value(input: Tensor, value) -> None:
    """PyTorch refuses a complex value for a real tensor (and a Python number out of an
    integer dtype's range) as an overflow."""
    complex_value = isinstance(value, complex) or isinstance(value, Tensor) and value.is_complex()
    if complex_value and not input.is_complex():
        raise RuntimeError(f"value cannot be converted to type {_c_name(input.dtype)} without "
                           "overflow")
    if isinstance(value, int) and not -128 <= value <= 127 \
            and input._data.dtype.kind in "iu":
        info = np.iinfo(input._data.dtype)
        if not info.min <= value <= info.max:
            raise RuntimeError(f"value cannot be converted to type {_c_name(input.dtype)} "
                               "without overflow")


def _c_name(d) -> str:
    """The C type name that PyTorch's conversion errors quote."""
    name = d.name
    if name in ("float32", "float64"):
        return "float" if name == "float32" else "double"
    if name.startswith(("int", "uint")):
        return name + "_t"
    return {"float16": "c10::Half", "bfloat16": "c10::BFloat16", "bool": "bool"}.get(name, name)


def check_out_dtype(out: Tensor, dtype) -> None:
    """The ``out=`` of ops that write their result's dtype unconverted must have it."""
    if out.dtype is not dtype:
        raise RuntimeError(f"Expected out tensor to have dtype {c_type_name(dtype)}, but "
                           f"got {c_type_name(out.dtype)} instead")


def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:
    """``input`` with ``value`` where ``mask`` is True (mask broadcasts)."""
    _check_mask(mask, "masked_fill_")
    if not isinstance(value, float):
        _check_fill_value(input, value)
    if isinstance(value, Tensor) and value.ndim:
        raise RuntimeError("masked_fill_ only supports a 0-dimensional value tensor, but got "
                           f"tensor with {value.ndim} dimension(s).")
    check_same_device("masked_fill", input, mask)
    try:
        return MaskedFill.apply(input, mask.bool() if mask.dtype is not _dt.bool else mask, value)
    except RuntimeError as exc:  # PyTorch names the mask tensor a
        raise broadcast_mismatch((mask.shape, input.shape)) or exc from None


def masked_fill_(input: Tensor, mask: Tensor, value) -> Tensor:
    _check_mask(mask, "masked_fill_")
    if not isinstance(value, float):
        _check_fill_value(input, value)
    mask = mask.bool() if mask.dtype is not _dt.bool else mask
    if not (_State.enabled and (input.requires_grad or isinstance(value, Tensor)
                                and value.requires_grad)):
        v = value._data if isinstance(value, Tensor) else value
        xp = input._xp
        v = write_source(v, input._data.dtype)
        xp.copyto(input._data, xp.asarray(v, input._data.dtype), where=mask._data)
        input._bump_version()
        return input
    return inplace(input, MaskedFill, mask, value)


def masked_select(input: Tensor, mask: Tensor, *, out=None) -> Tensor:
    if out is not None:
        return write_result(out, masked_select(input, mask))
    _check_mask(mask, "masked_select")
    shape = broadcast_shapes(mask.shape, input.shape)
    return getitem(expand(input, shape), expand(mask.bool(), shape))


class MaskedScatter(IndexPut, node_name="MaskedScatterBackward0"):
    """``index_put`` of ``source``'s leading values at a boolean mask, under PyTorch's name."""


def _scatter_values(mask: Tensor, source: Tensor) -> Tensor:
    """The leading elements of ``source``, one per True in ``mask``."""
    k = int(mask._data.sum())
    if source.numel() < k:
        raise RuntimeError("masked_scatter: expected source to have at least as many elements "
                           "as ones in mask")
    return reshape(source, -1)[:k]


def _check_bool_mask(mask: Tensor) -> None:
    if mask.dtype is not _dt.bool:
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with "
                           f"dtype {scalar_name(mask.dtype)}")


def masked_scatter(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """``input`` (broadcast with ``mask``) with the leading elements of ``source``, in order,
    written where ``mask`` is True."""
    _check_bool_mask(mask)
    shape = broadcast_shapes(mask.shape, input.shape)
    input = expand(input, shape)
    mask = expand(mask.bool(), shape)
    values = _scatter_values(mask, source)
    return MaskedScatter.apply(input, values, _index_tuple(input, (mask,)), False)


def masked_scatter_(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """``masked_scatter`` in place (``mask`` broadcasts to ``input``'s shape)."""
    _check_bool_mask(mask)
    mask = expand(mask.bool(), tuple(input.shape))
    values = _scatter_values(mask, source)
    return inplace(input, MaskedScatter, values, _index_tuple(input, (mask,)), False)


def take(input: Tensor, index: Tensor, *, out=None) -> Tensor:
    if out is not None:
        return write_result(out, take(input, index))
    try:
        return getitem(reshape(input, -1), index)
    except IndexError:
        n = input.numel()
        idx = index._data
        bad = int(idx[(idx < -n) | (idx >= n)].reshape(-1)[0])
        raise IndexError(f"out of range: tried to access index {bad} on a tensor of {n} "
                         "elements.") from None


@accepts_out
def nonzero(input: Tensor, *, as_tuple: bool = False):
    xp = input._xp
    idx = xp.nonzero(input._data) if input.ndim else xp.nonzero(input._data.reshape(1))
    if as_tuple:
        return tuple(_make(i.astype(np.int64)) for i in idx)
    if input.ndim == 0:  # one (or no) match, with no coordinates
        return _make(xp.zeros((int(bool(input._data)), 0), np.int64))
    return _make(xp.stack(idx, axis=1).astype(np.int64))


def nonzero_static(input: Tensor, *, size: int, fill_value: int = -1) -> Tensor:
    """``nonzero`` with exactly ``size`` rows: the first ``size`` matches, then rows of
    ``fill_value``."""
    if size < 0:
        raise RuntimeError(f"nonzero_static: 'size' must be an non-negative integer, but got "
                           f"{size}")
    found = nonzero(input)._data[:size]
    out = input._xp.full((size, max(input.ndim, 1) if input.ndim else 0), fill_value, np.int64)
    out[:found.shape[0]] = found
    return _make(out)


def argwhere(input: Tensor) -> Tensor:
    return nonzero(input)

