"""Factory functions: tensor, zeros, ones, arange, rand, randn, ... and their ``*_like`` forms."""
from __future__ import annotations

import builtins
import math
import numbers
import warnings

import numpy as np

from ember import dtypes as _dt
from ember._tensor import Tensor, _host, _make, _to_nested
from ember.backend.device import CPU, Device, as_dtype, convert, meta_array, to_device
from ember.ops._util import accepts_out, scalar_name, shape_arg, write_result
from ember.ops.fill import checked_fill, write_source
from ember.random import generator_for
from ember.runtime import _Flags


def _check_layout(op: str, layout) -> bool:
    """``layout=`` of a factory: False for strided, True for a sparse COO ``zeros``, ``empty``
    or ``zeros_like`` (built by ``_sparse_zeros``); other layouts raise what PyTorch raises."""
    name = getattr(layout, "name", None)
    if name == "strided":
        return False
    if name == "sparse_coo":
        if op in ("zeros", "empty", "zeros_like"):
            return True
        if op in ("ones", "full"):
            raise RuntimeError("full(...) is not implemented for sparse layout")
    raise NotImplementedError(f"{op}(): ember creates strided tensors only, not "
                              f"layout={layout!r}")


def _sparse_zeros(shape: tuple, dtype, device, requires_grad: bool):
    """The all-zero sparse COO tensor of ``shape`` (no stored values)."""
    from ember.sparse import sparse_coo_tensor
    d = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    return sparse_coo_tensor(zeros(len(shape), 0, dtype=_dt.int64), zeros(0, dtype=d), shape,
                             device=device, requires_grad=requires_grad)


def _checked_shape(size, op: str | None = None, size_kw=None) -> tuple:
    """``shape_arg(size)`` (or the ``size=`` keyword), with PyTorch's errors for negative
    sizes."""
    if size and size_kw is not None:
        raise TypeError(f"{op or 'factory'}() got multiple values for argument 'size'")
    shape = shape_arg(size if size_kw is None else (size_kw,))
    for s in shape:
        if s < 0:
            if op == "zeros":
                raise RuntimeError("zeros: Dimension size must be non-negative.")
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: "
                               f"{list(shape)}")
    return shape


def _check_requires_grad(data, requires_grad: bool) -> None:
    if requires_grad and _dt.np_kind(data.dtype) not in "fc":
        raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                           "gradients")


# The device factories allocate on when given no ``device=``; None means CPU.
_default_device: Device | None = None


def set_default_device(device) -> None:
    """Make factories called without ``device=`` allocate on ``device`` (None: back to CPU).

    Example: ``ember.set_default_device("cpu")``.
    """
    global _default_device
    _default_device = None if device is None else Device(device)


def get_default_device() -> Device:
    """The device factories allocate on when given no ``device=``."""
    return _default_device or CPU


# The defaults that ``with ember.device(...)`` blocks replaced, innermost last.
_outer_devices: list = []


def enter_device(device: Device) -> None:
    """Start a ``with ember.device(...)`` block: factories inside it default to ``device``."""
    _outer_devices.append(_default_device)
    set_default_device(device)


def exit_device() -> None:
    """End the innermost ``with ember.device(...)`` block, restoring the default before it."""
    global _default_device
    _default_device = _outer_devices.pop()


def _is_meta(device) -> bool:
    """Whether a factory given ``device`` makes a meta tensor: it then builds a data-free array
    of the right shape instead of computing values it would drop (a huge model built on meta
    must cost no memory)."""
    if device is None:
        device = _default_device
        if device is None:
            return False
    return (device if isinstance(device, Device) else Device(device)).type == "meta"


def _alloc(make, shape: tuple, np_dtype, device):
    """``make(shape, np_dtype)`` for a factory, or a meta array when it allocates on meta."""
    if device is None and _default_device is None:  # the common case, without a call
        return make(shape, np_dtype)
    return meta_array(shape, np_dtype) if _is_meta(device) else make(shape, np_dtype)


def _uninitialised(shape: tuple, np_dtype) -> np.ndarray:
    """Memory PyTorch leaves uninitialised, zeroed here (as a fresh allocation reads in
    practice: code that reads ``empty`` before writing it, such as a flop counter's dummy
    input, then sees no stale infinities); with deterministic algorithms on and
    ``torch.utils.deterministic.fill_uninitialized_memory`` set, filled as PyTorch fills it:
    NaN for floating and complex, the largest value for integers, True for bool."""
    data = np.zeros(shape, np_dtype)
    if _Flags.deterministic and _Flags.fill_uninitialized_memory:
        kind = data.dtype.kind
        data.fill(True if kind == "b" else np.iinfo(data.dtype).max if kind in "iu" else np.nan)
    return data


def _finish(data, device, requires_grad: bool, out=None) -> Tensor:
    _check_requires_grad(data, requires_grad)
    if device is None:
        device = _default_device
    if device is not None:
        device = Device(device)
        if device.type != "cpu":
            data = to_device(data, device)
    if out is not None:
        from ember.ops.inplace import write_out
        return write_out(out, _make(data))
    t = _make(data)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _np_dtype(dtype, default=None):
    if dtype is None:
        return (default or _dt.get_default_dtype()).np_dtype
    return _dt.to_dtype(dtype).np_dtype


def _infer_array(data):
    """A NumPy array from Python data, with PyTorch's dtype inference."""
    if isinstance(data, Tensor):
        return _host(data._data)
    if isinstance(data, np.ndarray):
        return data
    if isinstance(data, np.generic):
        return np.asarray(data)
    try:
        arr = np.array(_to_nested(data))
    except ValueError:
        _raise_ragged(data)
        raise
    except OverflowError:
        raise ValueError("Overflow when unpacking long long") from None
    if arr.dtype.kind in "uO" and _has_huge_int(data):
        raise ValueError("Overflow when unpacking long long")
    if arr.dtype == np.float64 and not _has_numpy_float64(data):
        arr = arr.astype(_dt.get_default_dtype().np_dtype)
    elif arr.dtype == np.complex128:
        arr = arr.astype(_dt.get_default_dtype().to_complex().np_dtype)
    elif arr.dtype.kind in "US" or arr.dtype == object:
        leaf = _first_bad_leaf(data)
        if isinstance(leaf, (str, bytes)):
            raise TypeError(f"new(): invalid data type '{type(leaf).__name__}'")
        raise RuntimeError(f"Could not infer dtype of {type(leaf).__name__}")
    return arr


def _first_bad_leaf(data):
    """The first element of nested sequences that is not a number (``data`` itself if none)."""
    if isinstance(data, (list, tuple)):
        for item in data:
            leaf = _first_bad_leaf(item)
            if leaf is not None:
                return leaf
        return None
    if isinstance(data, (builtins.int, builtins.float, builtins.complex, np.generic, Tensor)):
        return None
    return data


def _raise_ragged(data) -> None:
    """PyTorch's error for nested sequences of unequal lengths (or mixed with scalars): the
    expected shape is the one along the first elements, as PyTorch infers it."""
    shape = []
    item = data
    while isinstance(item, (list, tuple)):
        shape.append(len(item))
        if not item:
            break
        item = item[0]
    _check_ragged(data, shape, 0)


def _check_ragged(item, shape, dim: int) -> None:
    is_seq = isinstance(item, (list, tuple))
    if dim == len(shape):
        if is_seq:
            raise TypeError(f"'{type(item).__name__}' object cannot be interpreted as an "
                            "integer")
        return
    if not is_seq:
        raise TypeError("not a sequence")
    if len(item) != shape[dim]:
        raise ValueError(f"expected sequence of length {shape[dim]} at dim {dim} "
                         f"(got {len(item)})")
    for sub in item:
        _check_ragged(sub, shape, dim + 1)


def _has_huge_int(data) -> bool:
    """Python ints beyond int64, which NumPy keeps as objects but PyTorch refuses."""
    if isinstance(data, (list, tuple)):
        return builtins.any(_has_huge_int(d) for d in data)
    return isinstance(data, int) and not -2 ** 63 <= data < 2 ** 63


def _has_numpy_float64(data) -> bool:
    if isinstance(data, (np.ndarray, np.float64)):
        return True
    if isinstance(data, Tensor):
        return data.dtype is _dt.float64
    if isinstance(data, (list, tuple)) and data:
        return _has_numpy_float64(data[0])
    return False


def tensor(data, *, dtype=None, device=None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """A new tensor that copies ``data`` (nested lists, numbers, arrays or tensors)."""
    if isinstance(data, Tensor) and data.is_meta:  # nothing to copy but the shape
        d = data.dtype if dtype is None else _dt.to_dtype(dtype)
        if device is not None and Device(device).type != "meta":
            to_device(data._data, Device(device))  # PyTorch's error: no data to copy out
        return _finish(meta_array(tuple(data.shape), d.np_dtype), "meta", requires_grad)
    if dtype is not None and not isinstance(data, (Tensor, np.ndarray, np.generic)):
        # Straight to the requested dtype: going through float32 first would round float64
        # data; float16 alone does, as PyTorch rounds a double to it.
        np_dtype = _dt.to_dtype(dtype).np_dtype
        arr = np.array(_to_nested(data), dtype=np.float32 if np_dtype == np.float16 else np_dtype)
        arr = as_dtype(arr, np_dtype)
    else:
        arr = _infer_array(data)
        arr = np.array(arr, copy=True) if dtype is None else \
            convert(np.asarray(arr), _dt.to_dtype(dtype).np_dtype)
    if device is None and isinstance(data, Tensor):
        device = data.device
    return _finish(arr, device, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with a tensor or NumPy array when it can."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype) if (dtype or device) else data
    if isinstance(data, np.ndarray) and (dtype is None or _dt.to_dtype(dtype).np_dtype ==
                                         data.dtype) and device in (None, "cpu", CPU):
        _dt.from_numpy_dtype(data.dtype)
        return _make(_plain(data))
    if dtype is not None and not isinstance(data, np.generic):
        return tensor(data, dtype=dtype, device=device)  # a copy anyway: straight to dtype
    arr = _infer_array(data)
    if dtype is not None:
        arr = as_dtype(arr, _dt.to_dtype(dtype).np_dtype)
    return _finish(arr, device, False)


def asarray(obj, *, dtype=None, device=None, copy: bool | None = None,
            requires_grad: bool | None = None) -> Tensor:
    """``obj`` as a tensor, sharing its memory where it can (``copy=None``), always
    (``copy=False``: an error where it cannot) or never (``copy=True``).

    ``obj`` may be a tensor (its autograd history is kept), a NumPy array or scalar, a storage
    or an object with the buffer protocol (its bytes read as ``dtype``, by default the default
    floating dtype), an object with ``__dlpack__``, a scalar or a sequence of them.

    Example::

        >>> a = np.arange(3.0)
        >>> ember.asarray(a)[0] = 7.0   # a[0] == 7.0
    """
    from ember.storage import TypedStorage, UntypedStorage
    want = None if dtype is None else _dt.to_dtype(dtype)
    if isinstance(obj, Tensor):
        t = obj
    elif isinstance(obj, (UntypedStorage, TypedStorage)):
        # the bytes read as ``dtype``; an untyped storage read without one as int64, as PyTorch
        elements = TypedStorage(wrap_storage=obj.untyped(), dtype=want or getattr(
            obj, "dtype", _dt.int64))
        t, want = _make(elements._array()), None
    elif isinstance(obj, np.ndarray):
        t = _make(_plain(obj)) if obj.dtype != object else None
    elif isinstance(obj, np.generic):  # a NumPy scalar: a 0-d copy
        t = None
    elif hasattr(obj, "__dlpack__"):
        from ember import from_dlpack
        t = from_dlpack(obj)
    elif isinstance(obj, (bytes, bytearray, memoryview)) or _has_buffer(obj):
        t, want = frombuffer(obj, dtype=want or _dt.get_default_dtype()), None
    else:
        t = None
    if t is None:  # numbers and sequences: a new tensor, on the default device
        if copy is False:
            raise ValueError("can't alias arbitrary sequence into a tensor.")
        return tensor(obj, dtype=dtype, device=device, requires_grad=bool(requires_grad))
    shares = (want is None or want == t.dtype) and (device is None or Device(device) == t.device)
    if copy is False and not shares:
        target = f"dtype '{want}'" if want not in (None, t.dtype) else f"device '{device}'"
        raise ValueError(f"can't alias tensor with dtype '{t.dtype}' on device '{t.device}' "
                         f"into {target}.")
    if copy or not shares:
        t = t.to(device=device, dtype=want, copy=True)
    if requires_grad is not None:
        if requires_grad and not t.requires_grad:
            t.requires_grad_(True)
        elif not requires_grad and t.requires_grad:
            t = t.detach()
    return t


def _has_buffer(obj) -> bool:
    try:
        memoryview(obj)
    except TypeError:
        return False
    return True


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``ndarray``: changes to one show in the other."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    _dt.from_numpy_dtype(ndarray.dtype)
    return _make(_plain(ndarray))


def _plain(array: np.ndarray) -> np.ndarray:
    """``array`` as a plain ndarray over the same memory: a subclass (``np.memmap``, say)
    would read as another device, since ops tell devices apart by array class."""
    return array if type(array) is np.ndarray else array.view(np.ndarray)


def scalar_tensor(s, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    np_dtype = _np_dtype(dtype)
    return _finish(np.asarray(write_source(s, np_dtype), np_dtype), device, requires_grad)


def empty(*shape, size=None, dtype=None, layout=None, device=None, requires_grad: bool = False,
          out=None, memory_format=None, pin_memory: bool = False) -> Tensor:
    """An uninitialised tensor of the given size (``empty(2, 3)`` or ``empty(size=(2, 3))``),
    laid out in ``memory_format`` (C order by default, or channels-last)."""
    if layout is not None and _check_layout("empty", layout):
        return _sparse_zeros(_checked_shape(shape, size_kw=size), dtype, device, requires_grad)
    t = _finish(_alloc(_uninitialised, _checked_shape(shape, size_kw=size), _np_dtype(dtype),
                       device), device, requires_grad, out)
    return t if memory_format is None or out is not None else _in_format(t, memory_format)


def empty_strided(size, stride, *, dtype=None, layout=None, device=None,
                  requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """An uninitialised tensor with the given size and strides (in elements), over a buffer
    just large enough for them."""
    size, stride = _checked_shape((tuple(size),)), tuple(stride)
    if len(size) != len(stride):
        raise RuntimeError("mismatch in length of strides and shape")
    np_dtype = np.dtype(_np_dtype(dtype))
    if _is_meta(device):  # meta tensors report contiguous strides whatever was asked
        return _finish(meta_array(size, np_dtype), device, requires_grad)
    extent = 1 + sum((n - 1) * st for n, st in zip(size, stride)) if all(size) else 0
    base = _uninitialised((extent,), np_dtype)
    data = np.lib.stride_tricks.as_strided(
        base, size, tuple(st * np_dtype.itemsize for st in stride), writeable=True)
    return _finish(data, device, requires_grad)


def frombuffer(buffer, *, dtype, count: int = -1, offset: int = 0,
               requires_grad: bool = False) -> Tensor:
    """A 1-D tensor sharing memory with an object that exposes the buffer protocol."""
    data = np.frombuffer(buffer, dtype=_np_dtype(dtype), count=count, offset=offset)
    if not data.flags.writeable:
        warnings.warn("The given buffer is not writable, and PyTorch does not support "
                      "non-writable tensors. This means you can write to the underlying "
                      "(supposedly non-writable) buffer using the tensor. You may want to copy "
                      "the buffer to protect its data or make it writable before converting it "
                      "to a tensor. This type of warning will be suppressed for the rest of "
                      "this program.", UserWarning, stacklevel=2)
    return _finish(data, None, requires_grad)


def zeros(*shape, size=None, dtype=None, layout=None, device=None, requires_grad: bool = False,
          out=None, pin_memory: bool = False) -> Tensor:
    """A tensor of zeros (``zeros(2, 3)``, ``zeros((2, 3))`` or ``zeros(size=(2, 3))``)."""
    if layout is not None and _check_layout("zeros", layout):
        return _sparse_zeros(_checked_shape(shape, "zeros", size), dtype, device, requires_grad)
    return _finish(_alloc(np.zeros, _checked_shape(shape, "zeros", size), _np_dtype(dtype),
                          device), device, requires_grad, out)


def ones(*shape, size=None, dtype=None, layout=None, device=None, requires_grad: bool = False,
         out=None, pin_memory: bool = False) -> Tensor:
    """A tensor of ones (``ones(2, 3)``, ``ones((2, 3))`` or ``ones(size=(2, 3))``)."""
    if layout is not None:
        _check_layout("ones", layout)
    return _finish(_alloc(np.ones, _checked_shape(shape, size_kw=size), _np_dtype(dtype),
                          device), device, requires_grad, out)


def full(size, fill_value, *, dtype=None, layout=None, device=None, requires_grad: bool = False,
         out=None, pin_memory: bool = False) -> Tensor:
    if layout is not None:
        _check_layout("full", layout)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    d = _dt.to_dtype(dtype) if dtype is not None else _dt.scalar_dtype(fill_value)
    shape = _checked_shape((size,) if isinstance(size, int) else tuple(size))
    fill_value = write_source(checked_fill(fill_value, d.np_dtype, math.prod(shape)), d.np_dtype)
    return _finish(_alloc(lambda s, t: np.full(s, fill_value, t), shape, d.np_dtype, device),
                   device, requires_grad, out)


def empty_permuted(size, physical_layout, *, dtype=None, layout=None, device=None,
                   requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """An uninitialised tensor of ``size`` laid out in memory with its dims in the order
    ``physical_layout`` (outermost first): ``empty_permuted((N, C, H, W), (0, 2, 3, 1))`` is
    channels-last."""
    from ember.ops.movement import _inverse
    size, order = tuple(size), tuple(physical_layout)
    if sorted(order) != list(builtins.range(len(size))):
        raise RuntimeError(f"empty_permuted: physical_layout {list(order)} is not a permutation "
                           f"of the {len(size)} dims")
    data = _alloc(_uninitialised, tuple(size[d] for d in order), _np_dtype(dtype), device) \
        .transpose(_inverse(order))
    return _finish(data, device, requires_grad)


def _like(input: Tensor, dtype, device):
    if not isinstance(input, Tensor):
        raise TypeError(f"argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    return (_dt.to_dtype(dtype) if dtype is not None else input.dtype,
            device if device is not None else input.device)


def _in_format(t: Tensor, memory_format, like: Tensor | None = None) -> Tensor:
    """The fresh tensor ``t`` laid out in ``memory_format``; ``preserve_format`` (the
    ``*_like`` default) keeps ``like``'s channels-last layout, as PyTorch does."""
    from ember.backend.kernels import is_channels_last
    from ember.ops.movement import laid_out, memory_order, relaid
    if getattr(memory_format, "name", None) in (None, "preserve_format"):
        if like is None or not is_channels_last(like._data):
            return t
        order = (0,) + tuple(builtins.range(2, like.ndim)) + (1,)  # like's channels-last layout
    else:
        order = memory_order(memory_format, t.ndim)
    if order is not None and t.device.type != "meta" and not laid_out(t._data, order):
        t._data = relaid(t._data, order)
    return t


def empty_like(input, *, dtype=None, layout=None, device=None, requires_grad: bool = False,
               memory_format=None, pin_memory: bool = False) -> Tensor:
    if layout is not None:
        _check_layout("empty_like", layout)
    d, dev = _like(input, dtype, device)
    return _in_format(empty(input.shape, dtype=d, device=dev, requires_grad=requires_grad),
                      memory_format, input)


def zeros_like(input, *, dtype=None, layout=None, device=None, requires_grad: bool = False,
               memory_format=None, pin_memory: bool = False) -> Tensor:
    d, dev = _like(input, dtype, device)
    if layout is not None and _check_layout("zeros_like", layout):
        return _sparse_zeros(tuple(input.shape), d, dev, requires_grad)
    return _in_format(zeros(input.shape, dtype=d, device=dev, requires_grad=requires_grad),
                      memory_format, input)


def ones_like(input, *, dtype=None, layout=None, device=None, requires_grad: bool = False,
              memory_format=None, pin_memory: bool = False) -> Tensor:
    if layout is not None:
        _check_layout("ones_like", layout)
    d, dev = _like(input, dtype, device)
    return _in_format(ones(input.shape, dtype=d, device=dev, requires_grad=requires_grad),
                      memory_format, input)


def full_like(input, fill_value, *, dtype=None, layout=None, device=None,
              requires_grad: bool = False, memory_format=None, pin_memory: bool = False) -> Tensor:
    if layout is not None:
        _check_layout("full_like", layout)
    d, dev = _like(input, dtype, device)
    return _in_format(full(input.shape, fill_value, dtype=d, device=dev,
                           requires_grad=requires_grad), memory_format, input)


def eye(n: int, m: int | None = None, *, dtype=None, layout=None, device=None,
        requires_grad: bool = False, out=None, pin_memory: bool = False) -> Tensor:
    """A 2-d tensor with ones on the diagonal (``n`` x ``m``, square by default)."""
    if layout is not None:
        _check_layout("eye", layout)
    if n < 0:
        raise RuntimeError(f"n must be greater or equal to 0, got {n}")
    if m is not None and m < 0:
        raise RuntimeError(f"m must be greater or equal to 0, got {m}")
    shape = (n, n if m is None else m)
    return _finish(_alloc(lambda s, t: np.eye(*s, dtype=t), shape, _np_dtype(dtype), device),
                   device, requires_grad, out)


def arange(start=0, end=None, step=1, *, dtype=None, layout=None, device=None,
           requires_grad: bool = False, out=None, pin_memory: bool = False) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive) by ``step``; int64 unless a bound is a
    float."""
    if layout is not None:
        _check_layout("arange", layout)
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    start, end, step = vals
    if not (math.isfinite(start) and math.isfinite(end)):
        raise RuntimeError(f"unsupported range: {start} -> {end}")
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) / step < 0:
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    if dtype is None and out is not None:  # the values are computed in out's dtype
        dtype = out.dtype
    if dtype is None:
        integral = builtins.all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                for v in vals)
        d = _dt.int64 if integral else _dt.get_default_dtype()
    else:
        d = _dt.to_dtype(dtype)
    n = builtins.max(0, math.ceil((end - start) / step))
    if not (d.is_floating_point or d.is_complex):  # values from the truncated start and step
        start, step = builtins.int(start), builtins.int(step)
        if d is _dt.int64:  # whose count is ceil((end - start) / step) on integers too
            if step == 0:  # (a ValueError here, as PyTorch raises)
                raise ValueError("step must be nonzero")
            span = builtins.int(end) - start
            n = builtins.max(0, -(-span // step) if span * step > 0 else 0)
    if _is_meta(device):
        return _finish(meta_array((n,), d.np_dtype), device, requires_grad, out)
    return _finish(_arange_values(start, step, n, d.np_dtype), device, requires_grad, out)


def _arange_values(start, step, n: int, np_dtype):
    """The ``n`` values of ``arange`` in ``np_dtype`` as PyTorch's CPU kernel computes them (in
    double, or int64 for integers). Its vectorized loop runs over pairs of 32-byte vectors:
    each vector starts at ``start + step * i`` rounded to the dtype, its lanes add ``step``
    times their lane number, fused; the elements left over after the last pair are
    ``start + step * i``, fused."""
    i = np.arange(n, dtype=np.int64)
    if np_dtype.kind in "iub":
        return (start + i * step).astype(np_dtype)
    exact = 2 ** 24 if np_dtype.itemsize > 2 else 2 ** 8  # integers every dtype holds
    if (builtins.float(start).is_integer() and builtins.float(step).is_integer()
            and abs(start) + n * abs(step) <= exact):  # nothing rounds
        return (start + i * step).astype(np_dtype)
    lanes = 32 // np_dtype.itemsize
    whole = n // (2 * lanes) * (2 * lanes)
    step_f = np.full(n, step, np.float64)
    lane = i % lanes
    base = convert(_fma(step_f, i - lane, np.float64(start)), np_dtype).astype(np.float64)
    vector = np.where(lane == 0, base, _fma(step_f, lane, base))
    return convert(np.where(i < whole, vector, _fma(step_f, i, np.float64(start))), np_dtype)


@accepts_out
def range(start=0, end=None, step=1, *, dtype=None, layout=None, device=None,  # noqa: A001
          requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """Deprecated inclusive range (``end`` included), float by default."""
    if layout is not None:
        _check_layout("range", layout)
    if end is None:
        start, end = 0, start
    n = int(math.floor((end - start) / step)) + 1
    data = start + np.arange(n, dtype=np.float64) * step
    return _finish(convert(data, _np_dtype(dtype)), device, requires_grad)


def linspace(start, end, steps: int, *, dtype=None, layout=None, device=None,
             requires_grad: bool = False, out=None, pin_memory: bool = False) -> Tensor:
    if layout is not None:
        _check_layout("linspace", layout)
    _check_steps("linspace", steps)
    start, end, np_dtype = _range_ends("linspace", start, end, dtype)
    if _dt.is_half(np_dtype):
        data = _half_ramp(start, end, int(steps))
    else:
        data = _ramp(start, end, int(steps), np_dtype).astype(np_dtype)
    return _finish(data, device, requires_grad, out)


def _check_steps(op: str, steps) -> None:
    if isinstance(steps, (float, np.floating)):
        raise TypeError(f"{op}(): argument 'steps' must be int, not float")
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")


def _range_ends(op: str, start, end, dtype, cast: bool = True):
    """linspace/logspace's ``start`` and ``end`` (numbers or 0-d tensors) cast to the result
    dtype as PyTorch casts them (an integer dtype truncates) unless not ``cast``, and that NumPy
    dtype: by default the default dtype, or its complex counterpart when an end is complex."""
    start = start.item() if isinstance(start, Tensor) else start
    end = end.item() if isinstance(end, Tensor) else end
    if dtype is None:
        dtype = _dt.get_default_dtype()
        if isinstance(start, builtins.complex) or isinstance(end, builtins.complex):
            dtype = dtype.to_complex()
    dtype = _dt.to_dtype(dtype)
    if dtype is _dt.bool:
        raise NotImplementedError(f'"{op}_cpu" not implemented for \'Bool\'')
    np_dtype = dtype.np_dtype
    if dtype.is_complex:
        return (np_dtype.type(start), np_dtype.type(end), np_dtype) if cast else \
            (start, end, np_dtype)
    if isinstance(start, builtins.complex) or isinstance(end, builtins.complex):
        raise RuntimeError(f"torch.{op}(): inferred dtype c10::complex<float> can't be safely "
                           f"cast to passed dtype {scalar_name(dtype)}")
    if not cast:
        return start, end, np_dtype
    low, high = checked_fill(start, np_dtype, 2), checked_fill(end, np_dtype, 2)
    if _dt.is_half(np_dtype):  # PyTorch's half from a double: via float
        low, high = np.float32(low), np.float32(high)
    return np_dtype.type(low), np_dtype.type(high), np_dtype


def _ramp(start, end, steps: int, np_dtype):
    """``steps`` values from ``start`` to ``end`` as PyTorch's linspace computes them: the step
    in the result dtype's arithmetic (double for integers), the first half counted up from
    ``start`` and the rest down from ``end`` (so both ends are exact), each value rounded once
    (a fused multiply-add). Returned in double (complex) precision, for the caller to round."""
    wide = np.complex128 if np_dtype.kind == "c" else np.float64
    if steps == 1:
        return np.array([start], wide)
    if np_dtype.kind in "iu":
        step = (wide(end) - wide(start)) / (steps - 1)
    else:
        step = wide((end - start) / np_dtype.type(steps - 1))
    idx = np.arange(steps)
    return np.where(idx < steps // 2, _fma(step, idx, wide(start)),
                    _fma(-step, steps - 1 - idx, wide(end)))


def _half_ramp(start, end, steps: int):
    """linspace in float16 or bfloat16 as PyTorch's CPU kernel computes it: each operation in
    the type's own arithmetic, rounded (the step, the index, its product and sum)."""
    if steps == 1:
        return np.array([start])
    half = start.dtype
    idx = np.arange(steps)
    with np.errstate(over="ignore", invalid="ignore"):
        step = (end - start) / half.type(steps - 1)
        return np.where(idx < steps // 2, start + step * idx.astype(half),
                        end - step * (steps - 1 - idx).astype(half))


def _fma(a, b, c):
    """``a * b + c`` for float64 arrays rounded once, as a fused multiply-add (which makes
    ``linspace(17, -102, 52, dtype=torch.long)[6]`` 2, not 3): the rounding errors of the
    product (Dekker's exact product) and of the sum, added back; the plain sum where they
    cannot be had (an infinite term, or one so large that the split overflows)."""
    if a.dtype.kind == "c":  # PyTorch's complex arithmetic fuses nothing
        return a * b + c
    b = np.asarray(b, np.float64)
    p = a * b
    a_hi, a_lo = _split(a)
    b_hi, b_lo = _split(b)
    p_err = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    total = p + c
    back = total - p
    s_err = (p - (total - back)) + (c - back)
    with np.errstate(invalid="ignore", over="ignore"):
        error = s_err + p_err
        return np.where(np.isfinite(error), total + error, total)


def _split(x):
    """Dekker's split of float64 ``x`` into two halves of 26 bits each, ``hi + lo == x``."""
    t = 134217729.0 * x  # 2 ** 27 + 1
    hi = t - (t - x)
    return hi, x - hi


@accepts_out
def logspace(start, end, steps: int, base: float = 10.0, *, dtype=None, layout=None, device=None,
             requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    if layout is not None:
        _check_layout("logspace", layout)
    _check_steps("logspace", steps)
    steps = int(steps)
    # PyTorch fills one step with base ** start, start neither rounded to the dtype nor checked
    start, end, np_dtype = _range_ends("logspace", start, end, dtype, cast=steps != 1)
    if np_dtype.kind == "c":
        data = np.power(base, _ramp(np_dtype.type(start), np_dtype.type(end), steps,
                                    np_dtype)).astype(np_dtype)
    elif steps == 1:
        data = np.array([checked_fill(_libm_pow(base, [float(start)])[0], np_dtype, 1)],
                        np_dtype)
    else:
        # the ends in the dtype, their difference in its arithmetic (C's for integers), the
        # exponents in double
        diff = float(end) - float(start) if np_dtype.kind in "iu" else float(end - start)
        step = diff / (steps - 1)
        idx = np.arange(steps)
        exponents = np.where(idx < steps // 2, float(start) + step * idx,
                             float(end) - step * (steps - 1 - idx))
        data = _libm_pow(base, exponents)
        with np.errstate(invalid="ignore"):  # NaN to an integer: PyTorch's cast is as loose
            data = convert(data, np_dtype)  # (a double to float16 through float32)
    return _finish(data, device, requires_grad)


def _libm_pow(base: float, exponents):
    """``base ** x`` for each x by C's pow, as PyTorch's kernel (NumPy's vectorised power can
    be an ulp apart), in double."""
    def one(x):
        try:
            return math.pow(base, x)
        except (ValueError, OverflowError):  # a negative base to a fractional power, overflow
            return float(np.power(np.float64(base), x))
    with np.errstate(all="ignore"):
        return np.fromiter((one(x) for x in np.asarray(exponents).tolist()), np.float64)


# ---------------------------------------------------------------------------------------------
# Random factories. Values are drawn on the target device's generator.

def _rng(device, generator):
    return generator_for(Device(device) if device is not None else get_default_device(),
                         generator)


def _xp_of(device):
    return Device(device).xp if device is not None else get_default_device().xp


def _random_finish(data, device, requires_grad):
    _check_requires_grad(data, requires_grad)
    t = _make(data)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _check_float_kernel(np_dtype, kernel: str) -> None:
    """PyTorch has no kernel drawing floating samples into an integer or bool tensor."""
    if np_dtype.kind in "biu":
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{scalar_name(np_dtype)}'")


def rand(*shape, size=None, generator=None, dtype=None, layout=None, device=None,
         requires_grad: bool = False, out=None, pin_memory: bool = False) -> Tensor:
    """Uniform samples on [0, 1) (for a complex dtype, in the real and the imaginary part)."""
    if layout is not None:
        _check_layout("rand", layout)
    d = _np_dtype(dtype)
    _check_float_kernel(d, "check_uniform_bounds")
    rng, shape = _rng(device, generator), _checked_shape(shape, size_kw=size)
    if d.kind == "c":  # drawn into the real view, as uniform_ draws
        real = np.dtype(d.char.lower())
        data = rng.uniform(shape + (2,), real).view(d)[..., 0]
    else:
        data = rng.uniform(shape, d)
    return _random_finish(data, device, requires_grad) if out is None else _finish(
        data, None, False, out)


def randn(*shape, size=None, generator=None, dtype=None, layout=None, device=None,
          requires_grad: bool = False, out=None, pin_memory: bool = False) -> Tensor:
    """Standard normal samples (for a complex dtype, unit variance split evenly between the
    real and the imaginary part, as in PyTorch)."""
    if layout is not None:
        _check_layout("randn", layout)
    d = _np_dtype(dtype)
    _check_float_kernel(d, "normal_kernel_cpu")
    rng, shape = _rng(device, generator), _checked_shape(shape, size_kw=size)
    if d.kind == "c":  # drawn into the real view, as normal_ draws
        real = np.dtype(d.char.lower())
        data = rng.normal(shape + (2,), real, 0.0, math.sqrt(0.5)).view(d)[..., 0]
    else:
        data = rng.normal(shape, d)
    return _random_finish(data, device, requires_grad) if out is None else _finish(
        data, None, False, out)


@accepts_out
def randint(low=0, high=None, size=None, *, generator=None, dtype=None, layout=None, device=None,
            requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """Integers uniform on [low, high); ``randint(high, size)`` and ``randint(high=h, size=s)``
    start at 0."""
    if layout is not None:
        _check_layout("randint", layout)
    if size is None and isinstance(high, (tuple, list)):
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} "
                           f">= to={high}")
    data = _rng(device, generator).integers(low, high, _checked_shape(tuple(size)),
                                            _np_dtype(dtype, _dt.int64))
    return _random_finish(data, device, requires_grad)


@accepts_out
def randperm(n: int, *, generator=None, dtype=None, layout=None, device=None,
             requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    if layout is not None:
        _check_layout("randperm", layout)
    _checked_shape((n,))
    np_dtype = _np_dtype(dtype, _dt.int64)
    _check_randperm_fits(n, np_dtype)
    data = _rng(device, generator).permutation(n)
    return _random_finish(data.astype(np_dtype), device, requires_grad)


# the integers a floating dtype holds exactly: PyTorch allows n one beyond them
_RANDPERM_FLOAT_LIMITS = {"float16": ("2049", 2049), "float32": ("2^24+1", 2 ** 24 + 1),
                          "float64": ("2^53+1", 2 ** 53 + 1)}


def _check_randperm_fits(n: int, np_dtype) -> None:
    """PyTorch's refusals: no bool or complex kernel, ``n - 1`` out of an integer dtype's
    range, or ``n`` beyond what a half, float or double counts exactly."""
    if np_dtype.kind in "bc":
        raise NotImplementedError(f'"randperm" not implemented for \'{scalar_name(np_dtype)}\'')
    checked_fill(max(n - 1, 0), np_dtype, 1)
    if np_dtype.name in _RANDPERM_FLOAT_LIMITS:
        text, limit = _RANDPERM_FLOAT_LIMITS[np_dtype.name]
        if n > limit:
            raise RuntimeError(f"n cannot be greater than {text} for {scalar_name(np_dtype)} "
                               "type.")


def rand_like(input, *, generator=None, dtype=None, layout=None, device=None,
              requires_grad: bool = False, memory_format=None, pin_memory: bool = False) -> Tensor:
    if layout is not None:
        _check_layout("rand_like", layout)
    d, dev = _like(input, dtype, device)
    return _in_format(rand(input.shape, generator=generator, dtype=d, device=dev,
                           requires_grad=requires_grad), memory_format, input)


def randn_like(input, *, generator=None, dtype=None, layout=None, device=None,
               requires_grad: bool = False, memory_format=None, pin_memory: bool = False) -> Tensor:
    if layout is not None:
        _check_layout("randn_like", layout)
    d, dev = _like(input, dtype, device)
    return _in_format(randn(input.shape, generator=generator, dtype=d, device=dev,
                            requires_grad=requires_grad), memory_format, input)


def randint_like(input, low=0, high=None, *, generator=None, dtype=None, layout=None,
                 device=None, requires_grad: bool = False, memory_format=None,
                 pin_memory: bool = False) -> Tensor:
    """Integers uniform on [low, high) shaped like ``input``; ``randint_like(input, high)`` and
    ``randint_like(input, high=h)`` start at 0."""
    if layout is not None:
        _check_layout("randint_like", layout)
    d, dev = _like(input, dtype, device)
    return _in_format(randint(low, high, input.shape, generator=generator, dtype=d, device=dev,
                              requires_grad=requires_grad), memory_format, input)


def normal(mean, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad: bool = False, out=None) -> Tensor:
    """Normal samples; ``mean`` and ``std`` may be tensors (broadcast) or numbers."""
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        ref = mean if isinstance(mean, Tensor) else std
        m = mean._data if isinstance(mean, Tensor) else mean
        s = std._data if isinstance(std, Tensor) else std
        if isinstance(std, Tensor) and std.numel() and bool((s < 0).any()):
            raise RuntimeError("normal expects all elements of std >= 0.0")
        if not isinstance(std, Tensor) and std < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")
        from ember.ops.movement import broadcast_shapes
        shape = broadcast_shapes(np.shape(m), np.shape(s))
        # PyTorch draws N(0, std) for a number std, else N(0, 1) times std, then adds mean
        rng, dtype = _rng(ref.device, generator), ref._data.dtype
        if isinstance(std, Tensor):
            return _make(rng.normal(shape, dtype) * s + m)
        return _make(rng.normal(shape, dtype, 0.0, s) + m)
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")
    data = _rng(device, generator).normal(tuple(size), _np_dtype(dtype), mean, std)
    return _random_finish(data, device, requires_grad)


@accepts_out
def bernoulli(input: Tensor, p=None, *, generator=None) -> Tensor:
    """1 with probability ``input`` (or ``p``) elementwise, else 0."""
    if p is not None and not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
    probs = input._data if p is None else p
    if p is None and probs.size and not (probs.min() >= 0 and probs.max() <= 1):
        raise RuntimeError("bernoulli expects all elements of input to be in [0, 1]")
    draws = _rng(input.device, generator).bernoulli(probs, input._data.shape)
    return _make(draws.astype(input._data.dtype))


def binomial(count: Tensor, prob: Tensor, generator=None) -> Tensor:
    """Draws of Binomial(``count``, ``prob``) elementwise (the two broadcast), in ``prob``'s
    dtype."""
    return _make(_rng(prob.device, generator).binomial(count._data, prob._data))


def poisson(input: Tensor, generator=None) -> Tensor:
    """Draws of Poisson(``input``) elementwise, in ``input``'s dtype."""
    return _make(_rng(input.device, generator).poisson(input._data))


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator=None, out: Tensor | None = None) -> Tensor:
    """Indices drawn from the rows of ``input`` (unnormalised probabilities)."""
    if out is not None:
        if out.dtype is not _dt.int64:
            raise RuntimeError("multinomial expects Long tensor out, got: "
                               f"{scalar_name(out.dtype)}")
        return write_result(out, multinomial(input, num_samples, replacement,
                                              generator=generator))
    if input.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if not input.is_floating_point():
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                           f"{scalar_name(input.dtype)}")
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    if input.device.type == "meta":
        return _finish(meta_array(tuple(input.shape[:-1]) + (num_samples,), np.int64), "meta",
                       False)
    if not replacement and num_samples > input.shape[-1]:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                           "replacement")
    probs = np.asarray(_host(input._data))
    wide = probs.astype(np.float64)
    if (wide < 0).any() or not np.isfinite(wide).all():
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    rows = probs.reshape(-1, probs.shape[-1])
    if (wide.reshape(rows.shape).sum(-1) <= 0).any():
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    out = _rng(CPU, generator).multinomial(rows, num_samples, replacement)
    out = out.reshape(probs.shape[:-1] + (num_samples,))
    return _finish(out, input.device, False)


# ---------------------------------------------------------------------------------------------
# Grids and index helpers

def meshgrid(*tensors, indexing: str | None = None):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing is None:  # PyTorch 2.x warns that the "ij" default will go
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the "
                      "indexing argument.", UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: '
                           f"{indexing}")
    for t in tensors:
        if t.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but "
                               f"got a tensor of shape {list(t.shape)}")
    shape = [t.numel() for t in tensors]
    if indexing == "xy" and len(tensors) >= 2:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, t in enumerate(tensors):
        view = [1] * len(tensors)
        pos = i
        if indexing == "xy" and len(tensors) >= 2 and i < 2:
            pos = 1 - i
        view[pos] = -1
        out.append(t.reshape(view).expand(shape))
    return tuple(out)


def cartesian_prod(*tensors):
    grids = meshgrid(*tensors, indexing="ij")
    from ember.ops.movement import stack
    return stack([g.reshape(-1) for g in grids], 1) if len(tensors) > 1 else tensors[0]


def _check_rows_cols(row: int, col: int) -> None:
    for name, n in (("row", row), ("col", col)):
        if n < 0:
            raise RuntimeError(f"{name} must be non-negative, got{n}")


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None, layout=None,
                 device=None, pin_memory: bool = False) -> Tensor:
    if layout is not None:
        _check_layout("tril_indices", layout)
    _check_rows_cols(row, col)
    r, c = np.tril_indices(row, offset, col)
    return _finish(np.stack([r, c]).astype(_np_dtype(dtype, _dt.int64)), device, False)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None, layout=None,
                 device=None, pin_memory: bool = False) -> Tensor:
    if layout is not None:
        _check_layout("triu_indices", layout)
    _check_rows_cols(row, col)
    r, c = np.triu_indices(row, offset, col)
    return _finish(np.stack([r, c]).astype(_np_dtype(dtype, _dt.int64)), device, False)


def complex(real: Tensor, imag: Tensor, *, out: Tensor | None = None) -> Tensor:  # noqa: A001
    """``real + imag * 1j`` of two floating tensors of one dtype (``out`` of the matching
    complex dtype)."""
    floating = (_dt.float16, _dt.float32, _dt.float64)
    if real.dtype not in floating or imag.dtype not in floating:
        raise RuntimeError(f"Expected both inputs to be Half, Float or Double tensors but got "
                           f"{scalar_name(real.dtype)} and {scalar_name(imag.dtype)}")
    if real.dtype != imag.dtype:
        raise RuntimeError(f"Expected object of scalar type {scalar_name(real.dtype)} but got "
                           f"scalar type {scalar_name(imag.dtype)} for second argument")
    # Paired as (real, imag) rather than computed as real + imag * 1j, which makes NaNs of
    # infinite parts (inf * 1j is nan + inf j).
    from ember.ops.movement import broadcast_tensors, stack
    from ember.ops.reshaping import view_as_complex
    real, imag = broadcast_tensors(real, imag)
    if real.dtype is _dt.float16:  # no complex32 arrays: as complex64, as before
        real, imag = real.float(), imag.float()
    result = view_as_complex(stack([real, imag], -1))
    if out is None:
        return result
    if out.dtype is not result.dtype:
        raise RuntimeError(f"Expected object of scalar type {scalar_name(result.dtype)} but got "
                           f"scalar type {scalar_name(out.dtype)} for argument 'out'")
    return write_result(out, result)


@accepts_out
def polar(abs: Tensor, angle: Tensor) -> Tensor:  # noqa: A002
    return complex(abs * angle.cos(), abs * angle.sin())


# ---------------------------------------------------------------------------------------------
# Legacy typed constructors: ember.FloatTensor(2, 3), ember.LongTensor([1, 2]), ...

class _LegacyTensorType(type):
    """``isinstance(t, ember.LongTensor)`` checks dtype and device, as PyTorch's typed classes
    do; calling the class makes a Tensor of that dtype (on the GPU for ``ember.cuda.*``)."""

    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, Tensor) and obj.dtype is cls.dtype and \
            obj.device.type == ("cuda" if cls.is_cuda else "cpu")

    def __call__(cls, *args, device=None) -> Tensor:
        if device is None and cls.is_cuda:
            device = "cuda"
        return Tensor(*args, dtype=cls.dtype, device=device)

    def __repr__(cls) -> str:
        return f"<class 'torch.{'cuda.' if cls.is_cuda else ''}{cls.__name__}'>"


def _legacy_type(name: str, dtype, is_cuda: bool = False) -> type:
    return _LegacyTensorType(name, (), {"dtype": dtype, "is_cuda": is_cuda})


FloatTensor = _legacy_type("FloatTensor", _dt.float32)
DoubleTensor = _legacy_type("DoubleTensor", _dt.float64)
HalfTensor = _legacy_type("HalfTensor", _dt.float16)
BFloat16Tensor = _legacy_type("BFloat16Tensor", _dt.bfloat16)
ByteTensor = _legacy_type("ByteTensor", _dt.uint8)
CharTensor = _legacy_type("CharTensor", _dt.int8)
ShortTensor = _legacy_type("ShortTensor", _dt.int16)
IntTensor = _legacy_type("IntTensor", _dt.int32)
LongTensor = _legacy_type("LongTensor", _dt.int64)
BoolTensor = _legacy_type("BoolTensor", _dt.bool)

# ember.cuda.FloatTensor and the rest, by name.
CUDA_LEGACY_TYPES = {t.__name__: _legacy_type(t.__name__, t.dtype, is_cuda=True) for t in (
    FloatTensor, DoubleTensor, HalfTensor, BFloat16Tensor, ByteTensor, CharTensor, ShortTensor,
    IntTensor, LongTensor, BoolTensor)}

del numbers
