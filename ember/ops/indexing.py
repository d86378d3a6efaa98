"""Indexing: ``t[...]`` and ``t[...] = v``, gather/scatter, index_*, masked_*, sort/topk."""
from __future__ import annotations

import builtins

import numpy as np

from ember import dtypes as _dt
from ember import return_types
from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive, broadcast_mismatch
from ember.autograd.grad_mode import _State
from ember.backend.device import get_array_module, is_host, to_device
from ember.backend.special import scatter_add as _scatter_add_arrays
from ember.backend.special import sort_keys, ufunc_at
from ember.backend.special import where as _where_arrays
from ember.ops._util import (
    accepts_out,
    c_type_name,
    cast,
    check_same_device,
    is_number,
    promote,
    refuse_complex,
    refuse_complex_grad,
    scalar_name,
    scalar_operand,
    wrap_dim,
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


def _convert_index(index, xp):
    """A NumPy index from a PyTorch one, and whether it is basic (so the result is a view)."""
    if not isinstance(index, tuple):
        index = (index,)
    out = []
    basic = True
    for item in index:
        if isinstance(item, Tensor):
            arr = item._data
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
        return a[index]

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


def setitem(t: Tensor, index, value) -> None:
    """``t[index] = value`` for every index kind, differentiable (see inplace.py)."""
    record = _State.enabled and (t.requires_grad or (isinstance(value, Tensor)
                                                     and value.requires_grad))
    xp = t._xp
    np_index, basic = _convert_index(index, xp)
    if isinstance(value, Tensor):
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
# gather / scatter

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


# ---------------------------------------------------------------------------------------------
# index_* along one dim

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


# ---------------------------------------------------------------------------------------------
# sorting

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
    idx = _make(_argsort(input._data, d, descending, input._xp).astype(np.int64))
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
    values, indices = sort(input, d, descending=largest, stable=True)
    return return_types.topk(values.narrow(d, 0, k) if input.ndim else values,
                             indices.narrow(d, 0, k) if input.ndim else indices)


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
    if input.ndim == 0:
        return return_types.kthvalue(input.clone(), _make(input._xp.zeros((), np.int64)))
    if input.dtype is _dt.bool:
        raise NotImplementedError('"kthvalue_cpu" not implemented for \'Bool\'')
    values, indices = sort(input, d, stable=True)
    v = values.select(d, k - 1)
    i = indices.select(d, k - 1)
    if keepdim:
        v, i = v.unsqueeze(d), i.unsqueeze(d)
    return return_types.kthvalue(v, i)


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


del promote
