"""Devices, and the array module (``xp``) behind each one."""
from __future__ import annotations

import numbers

import numpy as np

# PyTorch's device types: each names a device (libraries compare with ``device("mps")``), but
# ember holds arrays only on the first three.
DEVICE_TYPES = ("cpu", "cuda", "meta", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip",
                "ve", "fpga", "maia", "xla", "lazy", "vulkan", "mps", "hpu", "mtia",
                "privateuseone")


class Device:
    """Where a tensor lives: ``ember.device("cpu")``, ``ember.device("cuda", 0)``, ``"cuda:1"``."""

    __slots__ = ("type", "index")

    def __init__(self, type, index: int | None = None):  # noqa: A002 - PyTorch's name
        if isinstance(type, Device):
            type, index = type.type, type.index if index is None else index
        elif isinstance(type, int):
            type, index = "cuda", type
        elif ":" in type:
            type, _, idx = type.partition(":")
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}:{idx}'")
            index = int(idx)
        if type not in DEVICE_TYPES:
            raise RuntimeError(f"Expected one of {', '.join(DEVICE_TYPES)} device type at start "
                               f"of device string: {type}")
        self.type = type
        self.index = index

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:
        # Devices equal only devices, as in PyTorch: ``device("cpu") == "cpu"`` is False, and a
        # string naming another backend (accelerate tests ``device == "npu"``) is no error.
        if not isinstance(other, Device):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __reduce__(self):
        return (Device, (self.type, self.index))

    def __enter__(self):
        """``with ember.device("meta"):`` makes factories (and so module construction) inside
        the block allocate on this device, as ``set_default_device`` does, until it ends."""
        from ember import _creation  # the factories live above the backend
        _creation.enter_device(self)
        return self

    def __exit__(self, *exc) -> None:
        from ember import _creation
        _creation.exit_device()

    @property
    def xp(self):
        """The array module of this device: numpy for the CPU, cupy for CUDA."""
        if self.type == "cuda":
            from ember.backend import cuda
            return cuda.cupy()
        if self.type not in ("cpu", "meta"):
            raise _no_arrays_on(self)
        return np


CPU = Device("cpu")
META = Device("meta")


class MetaArray(np.ndarray):
    """An array of the ``meta`` device: shape, dtype and strides but no data. It is a read-only
    zero-stride view of a single zero, so a meta tensor of any size costs no memory.

    NumPy hands every ufunc and array function that meets one to the overrides below, which
    work out the result's shape and dtype without computing values (PyTorch's meta kernels),
    so ops written against ``xp`` run on meta arrays unchanged and plain arrays pay nothing.
    Anything that needs the values (``item``, boolean masks, ``nonzero``) raises as PyTorch
    does; checks of the values that ember makes internally find nothing wrong."""

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        if out is not None:  # writing into meta arrays: nothing to write
            if not all(isinstance(o, MetaArray) for o in out):
                raise NotImplementedError("Cannot copy out of meta tensor; no data!")
            return out[0] if len(out) == 1 else out
        if method == "at":  # in-place scatter into a meta array
            return None
        rule = _UFUNC_RULES.get(method)
        if rule is not None and (ufunc.signature is None or ufunc is np.matmul):
            return rule(ufunc, inputs, kwargs)
        return _via_plain(getattr(ufunc, method), inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        if func in _NEEDS_VALUES:
            raise NotImplementedError(
                f"{func.__name__}: attempted to run this operator with Meta tensors, but its "
                "output depends on the values, which meta tensors do not hold")
        rule = _FUNCTION_RULES.get(func)
        if rule is not None:
            return rule(*args, **kwargs)
        return _via_plain(func, args, kwargs)

    def __getitem__(self, key):
        if any(_is_mask(k) for k in (key if isinstance(key, tuple) else (key,))):
            raise NotImplementedError("The register_meta function for torch.nonzero() raises "
                                      "unimplemented by default, as a correct data-independent "
                                      "implementation does not exist.")
        # The plain result is a view of the one zero, or (advanced indexing) an array of the
        # result's size, dropped at once: writes to meta store nothing, so views need no base.
        result = np.ndarray.__getitem__(self.view(np.ndarray), _plain(key))
        return meta_array(np.shape(result), result.dtype)

    def __setitem__(self, key, value) -> None:
        """Writing into a meta array stores nothing; only the shapes are checked."""
        target = self[key].shape
        if np.broadcast_shapes(np.shape(value), target) != target:
            raise ValueError(f"could not broadcast input array from shape {np.shape(value)} "
                             f"into shape {target}")

    def view(self, *args, **kwargs):
        """NumPy's ``view``; one to a dtype of another size rescales the last dim, which a
        zero-stride array could not do in place."""
        dtype = kwargs.get("dtype", args[0] if args else None)
        if dtype is not None and not (isinstance(dtype, type) and issubclass(dtype, np.ndarray)):
            dtype = np.dtype(dtype)
            if dtype.itemsize != self.itemsize and self.ndim:
                if self.shape[-1] * self.itemsize % dtype.itemsize:
                    raise ValueError("When changing to a smaller dtype, its size must be a "
                                     "divisor of the size of original dtype")
                return meta_array(self.shape[:-1] + (self.shape[-1] * self.itemsize //
                                                     dtype.itemsize,), dtype)
        return np.ndarray.view(self, *args, **kwargs)

    def astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
        return meta_array(self.shape, np.dtype(dtype))

    def copy(self, order="C"):
        return meta_array(self.shape, self.dtype)

    def __copy__(self):
        return meta_array(self.shape, self.dtype)

    def __deepcopy__(self, memo):
        return meta_array(self.shape, self.dtype)

    def __reduce__(self):  # pickled as its shape and dtype: there are no values to write
        return meta_array, (self.shape, self.dtype)

    def item(self, *args):
        raise RuntimeError("Tensor.item() cannot be called on meta tensors")

    def tolist(self):
        raise NotImplementedError("Cannot copy out of meta tensor; no data!")

    get = tolist  # what ``_host`` asks a non-NumPy array for

    def __bool__(self) -> bool:
        # Only ember's own checks ask an array for its truth (a NaN seen? an index out of
        # range?); on meta, like PyTorch's meta kernels, they find nothing. ``Tensor.__bool__``
        # goes through ``item`` and raises as PyTorch does.
        return False


def meta_array(shape, dtype) -> MetaArray:
    """A data-free meta array of ``shape`` and ``dtype``."""
    return np.broadcast_to(np.zeros((), dtype=dtype), shape).view(MetaArray)


def zeros_as(xp, ref, shape, dtype):
    """``xp.zeros(shape, dtype)`` on ``ref``'s device: a meta ``ref`` gives a meta array
    (``xp.zeros`` alone cannot see it; ``zeros_like`` would cost a fill on the CPU)."""
    if ref.__class__ is MetaArray:
        return meta_array(shape, dtype)
    return xp.zeros(shape, dtype)


def empty_as(xp, ref, shape, dtype):
    """``xp.empty(shape, dtype)`` on ``ref``'s device: a meta ``ref`` gives a meta array."""
    if ref.__class__ is MetaArray:
        return meta_array(shape, dtype)
    return xp.empty(shape, dtype)


def diagonal_view(xp, a, offset: int, axis1: int, axis2: int):
    """``xp.diagonal`` as a view that writes through, as PyTorch's does: NumPy marks its
    diagonal read-only though it shares the (writable) input's memory; CuPy's writes already."""
    view = xp.diagonal(a, offset, axis1, axis2)
    if xp is np and a.flags.writeable:
        view.flags.writeable = True
    return view


def contiguous_strides(shape: tuple) -> tuple:
    """The strides, in elements, of a C-contiguous array of ``shape`` (what a meta tensor
    reports: its storage is a zero-stride view)."""
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


def _is_mask(k) -> bool:
    return isinstance(k, np.ndarray) and k.dtype == np.bool_ and k.ndim > 0


def _plain(x):
    """``x`` with its meta arrays (also inside lists and tuples) seen as plain NumPy arrays."""
    if isinstance(x, MetaArray):
        return x.view(np.ndarray)
    if isinstance(x, (list, tuple)):
        return type(x)(_plain(v) for v in x)
    return x


def _wrap(x):
    """Results computed on plain views, made meta (and data-free) again."""
    if isinstance(x, (np.ndarray, np.generic)):
        return meta_array(np.shape(x), x.dtype)
    if isinstance(x, (list, tuple)):
        return type(x)(_wrap(v) for v in x)
    return x


def _via_plain(func, args, kwargs):
    """The generic rule: run ``func`` on the zero-stride views (the inputs cost no memory;
    the result, made meta, is dropped), for the ops no cheaper rule covers."""
    with np.errstate(all="ignore"):
        return _wrap(func(*_plain(args), **_plain(kwargs)))


def _probe(x):
    """A one-element stand-in of ``x``'s dtype: it gives an op's result dtype, as NumPy's
    promotion depends only on the dtypes (Python scalars stay weak)."""
    if isinstance(x, np.ndarray):
        return np.ones((1,) * x.ndim, x.dtype)
    return x


def _probe_call(func, inputs, kwargs):
    kwargs = {k: v for k, v in kwargs.items() if k != "where"}
    with np.errstate(all="ignore"):
        return func(*(_probe(x) for x in inputs), **kwargs)


def _meta_results(probe, shape):
    if isinstance(probe, tuple):
        return tuple(meta_array(shape, np.result_type(p)) for p in probe)
    return meta_array(shape, np.result_type(probe))


def _ufunc_call(ufunc, inputs, kwargs):
    probe = _probe_call(ufunc, inputs, kwargs)
    if ufunc is np.matmul:
        shape = _matmul_shape(*(np.shape(x) for x in inputs))
    else:
        shape = np.broadcast_shapes(*(np.shape(x) for x in inputs))
    return _meta_results(probe, shape)


def _matmul_shape(a: tuple, b: tuple) -> tuple:
    if not a or not b:
        raise ValueError("matmul: Input operand does not have enough dimensions")
    a2 = (1,) + a if len(a) == 1 else a
    b2 = b + (1,) if len(b) == 1 else b
    if a2[-1] != b2[-2]:
        raise ValueError(f"matmul: Input operand 1 has a mismatch in its core dimension 0 "
                         f"(size {b2[-2]} is different from {a2[-1]})")
    batch = np.broadcast_shapes(a2[:-2], b2[:-2])
    return batch + a2[-2:-1] * (len(a) > 1) + b2[-1:] * (len(b) > 1)


def _ufunc_reduce(ufunc, inputs, kwargs):
    a = inputs[0]
    probe = _probe_call(ufunc.reduce, inputs, kwargs)
    axis = kwargs.get("axis", 0)
    axes = range(a.ndim) if axis is None else np.lib.array_utils.normalize_axis_tuple(
        axis, a.ndim)
    keep = kwargs.get("keepdims", False)
    shape = tuple(1 if i in axes else n for i, n in enumerate(a.shape)
                  if keep or i not in axes)
    return _meta_results(probe, shape)


def _ufunc_accumulate(ufunc, inputs, kwargs):
    return _meta_results(_probe_call(ufunc.accumulate, inputs, kwargs), inputs[0].shape)


_UFUNC_RULES = {"__call__": _ufunc_call, "reduce": _ufunc_reduce,
                "accumulate": _ufunc_accumulate}


def _like_rule(prototype, dtype=None, *args, shape=None, **kwargs):
    return meta_array(prototype.shape if shape is None else shape,
                      prototype.dtype if dtype is None else dtype)


def _full_like_rule(prototype, fill_value, dtype=None, *args, shape=None, **kwargs):
    return _like_rule(prototype, dtype, shape=shape)


def _copy_rule(a, *args, **kwargs):
    return meta_array(a.shape, a.dtype)


def _concatenate_rule(arrays, axis=0, out=None, dtype=None, casting="same_kind"):
    probe = np.concatenate([_probe(a) for a in arrays], axis=axis, dtype=dtype)
    shapes = [a.shape for a in arrays]
    if axis is None:
        return meta_array((sum(int(np.prod(s)) for s in shapes),), probe.dtype)
    axis = np.lib.array_utils.normalize_axis_index(axis, len(shapes[0]))
    for s in shapes[1:]:
        if len(s) != len(shapes[0]) or \
                s[:axis] + s[axis + 1:] != shapes[0][:axis] + shapes[0][axis + 1:]:
            raise ValueError("all the input array dimensions except for the concatenation "
                             "axis must match exactly")
    shape = list(shapes[0])
    shape[axis] = sum(s[axis] for s in shapes)
    return meta_array(tuple(shape), probe.dtype)


def _stack_rule(arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError("all input arrays must have the same shape")
    shape = list(shapes.pop())
    shape.insert(np.lib.array_utils.normalize_axis_index(axis, len(shape) + 1), len(arrays))
    return meta_array(tuple(shape), np.concatenate([_probe(a) for a in arrays],
                                                   dtype=dtype).dtype)


def _small(x):
    """``x`` shrunk to one element along every dim (a probe that still broadcasts)."""
    return np.ones(tuple(min(n, 1) for n in np.shape(x)), np.result_type(x)) \
        if isinstance(x, np.ndarray) else x


def _einsum_rule(*operands, **kwargs):
    """einsum's shape from the subscripts, on operands whose every dim is 1 or the true size
    only where the output keeps it: the probe does no real work."""
    spec, arrays = operands[0], operands[1:]
    if not isinstance(spec, str):
        return _via_plain(np.einsum, operands, kwargs)
    ins, _, out = spec.replace(" ", "").partition("->")
    sizes = {}
    for sub, a in zip(ins.split(","), arrays):
        if "." in sub:
            return _via_plain(np.einsum, operands, kwargs)
        for c, n in zip(sub, np.shape(a)):
            sizes[c] = max(sizes.get(c, 1), n)
    if not _:
        out = "".join(sorted(c for c in sizes if ins.count(c) == 1))
    probe = np.einsum(spec, *(_small(a) for a in arrays),
                      **{k: v for k, v in kwargs.items() if k != "optimize"})
    return meta_array(tuple(sizes[c] for c in out), probe.dtype)


def _tensordot_rule(a, b, axes=2):
    if isinstance(axes, int):
        axes_a, axes_b = list(range(a.ndim - axes, a.ndim)), list(range(axes))
    else:
        axes_a, axes_b = ([x] if isinstance(x, int) else list(x) for x in axes)
    axes_a = [x % a.ndim for x in axes_a]
    axes_b = [x % b.ndim for x in axes_b]
    if [a.shape[i] for i in axes_a] != [b.shape[i] for i in axes_b]:
        raise ValueError("shape-mismatch for sum")
    shape = tuple(n for i, n in enumerate(a.shape) if i not in axes_a) + \
        tuple(n for i, n in enumerate(b.shape) if i not in axes_b)
    return meta_array(shape, np.result_type(a, b))


def _copyto_rule(dst, src, casting="same_kind", where=True):
    if not isinstance(dst, MetaArray):
        raise NotImplementedError("Cannot copy out of meta tensor; no data!")
    dst[...] = src  # checks the shapes; stores nothing


def _where_rule(condition, *xy):
    if not xy:
        raise NotImplementedError("nonzero: attempted to run this operator with Meta tensors, "
                                  "but its output depends on the values, which meta tensors "
                                  "do not hold")
    shape = np.broadcast_shapes(*(np.shape(v) for v in (condition,) + xy))
    return meta_array(shape, np.where(True, *(_probe(v) for v in xy)).dtype)


_FUNCTION_RULES = {
    np.empty_like: _like_rule, np.zeros_like: _like_rule, np.ones_like: _like_rule,
    np.full_like: _full_like_rule, np.copy: _copy_rule, np.ascontiguousarray: _copy_rule,
    np.asfortranarray: _copy_rule, np.concatenate: _concatenate_rule, np.stack: _stack_rule,
    np.einsum: _einsum_rule, np.tensordot: _tensordot_rule, np.where: _where_rule,
    np.copyto: _copyto_rule,
}
_NEEDS_VALUES = {np.nonzero, np.argwhere, np.flatnonzero, np.unique, np.extract,
                 np.array_equal, np.allclose, np.count_nonzero}


def array_device(array) -> Device:
    """The device an array lives on."""
    if array.__class__ is np.ndarray:
        return CPU
    if isinstance(array, MetaArray):
        return META
    if isinstance(array, np.ndarray):
        return CPU
    from ember.backend import cuda
    return cuda.device_of(array)


def device_type(array) -> str:
    """The type of the device ``array`` lives on ("cpu", "cuda" or "meta"): one lookup by its
    class, where ``array_device`` would build a Device."""
    kind = _TYPE_OF.get(array.__class__)
    if kind is None:
        kind = _TYPE_OF[array.__class__] = array_device(array).type
    return kind


_TYPE_OF: dict = {}  # array class -> its device type


def is_host(xp) -> bool:
    """Whether array module ``xp`` is the CPU's (NumPy): asking a GPU array a question about
    its values stalls the host until the GPU catches up, so some ops take another path there."""
    return xp is np


def get_array_module(array):
    """numpy or cupy, whichever owns ``array``."""
    if array.__class__ is np.ndarray:  # the common case, before any lookup
        return np
    xp = _MODULE_OF.get(array.__class__)
    return _module_of(array) if xp is None else xp


_MODULE_OF: dict = {}  # class -> array module, for the classes other than ndarray met so far


def _module_of(array):
    if isinstance(array, (np.ndarray, np.generic, numbers.Number)):
        xp = np
    else:
        from ember.backend import cuda
        xp = cuda.cupy()
    _MODULE_OF[array.__class__] = xp
    return xp


def to_device(array, device: Device):
    """A copy of ``array`` on ``device`` (the array itself if it is already there)."""
    if device.type == "meta":
        return array if isinstance(array, MetaArray) else meta_array(array.shape, array.dtype)
    if isinstance(array, MetaArray):
        raise NotImplementedError("Cannot copy out of meta tensor; no data!")
    if device.type == "cpu":
        if isinstance(array, np.ndarray):
            return array
        from ember.backend import cuda
        host = array.get()
        if cuda._deferred:  # see NOTE [ Deferred device checks ]
            cuda.raise_deferred()
        return host
    if device.type == "cuda":
        from ember.backend import cuda
        return cuda.to_device(array, device)
    raise _no_arrays_on(device)


def _no_arrays_on(device: Device) -> RuntimeError:
    return RuntimeError(f"ember has no arrays on device {device}")


def as_dtype(array, dtype):
    """``array`` in ``dtype``: itself where it already is (``astype(copy=False)`` also returns
    it then, but costs CuPy's host tens of microseconds a call), else a converted copy."""
    return array if array.dtype == dtype else convert(array, dtype)


_FLOAT16, _FLOAT32, _FLOAT64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)


def convert(array, dtype):
    """``array.astype(dtype)``, rounding as PyTorch's casts do (see :func:`cast_source`)."""
    return cast_source(array, dtype).astype(dtype)


def cast_source(array, dtype):
    """``array``, or the float32 that PyTorch's casts round float64 through on the way to
    float16 (a direct rounding differs from theirs in about 4 values in 100,000)."""
    if dtype == _FLOAT16 and array.dtype == _FLOAT64:
        return array.astype(_FLOAT32)
    return array


def reshape_view(array, shape):
    """``array`` reshaped without copying, or None when its strides do not allow it."""
    view = array.view()
    try:
        view.shape = shape
    except AttributeError:
        return None
    return view
