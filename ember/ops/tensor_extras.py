"""Tensor methods on memory and Python callables: ``set_`` / ``is_set_to`` (re-pointing a tensor
at another's memory or at a storage), ``resize_`` with PyTorch's storage semantics, ``apply_`` /
``map_`` / ``map2_`` (a Python function applied element by element, as PyTorch does on CPU
tensors), ``module_load`` and ``storage_type`` with the legacy typed storages
(``FloatStorage``, ...)."""
from __future__ import annotations

import numpy as np

from ember import dtypes as _dt
from ember._tensor import Tensor
from ember.autograd.grad_mode import is_grad_enabled
from ember.storage import TypedStorage, UntypedStorage, root_array

# ---------------------------------------------------------------------------------------------
# set_ / is_set_to


def _storage_bytes(source):
    """The flat uint8 array of a storage (or of the memory a tensor views)."""
    if isinstance(source, Tensor):
        return UntypedStorage._of(source)._array
    if isinstance(source, TypedStorage):
        return source._untyped_storage._array
    if isinstance(source, UntypedStorage):
        return source._array
    raise TypeError(f"set_(): expected a Tensor or a Storage as source, got "
                    f"{type(source).__name__}")


def _check_in_place(t: Tensor, op: str) -> None:
    if t.requires_grad and t.grad_fn is None and is_grad_enabled():
        raise RuntimeError(f"{op}: a leaf Variable that requires grad is being used in an "
                           "in-place operation.")


def set_(self: Tensor, source=None, storage_offset: int = 0, size=None, stride=None) -> Tensor:
    """Point ``self`` at other memory: no source gives an empty tensor; a tensor source shares
    that tensor's data (shape and strides too); a storage (or a tensor with ``size``) is viewed
    from element ``storage_offset`` with ``size`` and ``stride`` (contiguous by default; the
    whole storage when ``size`` is None)."""
    _check_in_place(self, "set_")
    xp = self._xp
    if source is None:
        self._data = xp.empty(0, self._data.dtype)
    elif isinstance(source, Tensor) and size is None:
        if source.dtype != self.dtype:
            raise RuntimeError(f"Could not set tensor of type {source.dtype} to a tensor of "
                               f"type {self.dtype}")
        self._data = source._data
    else:
        if isinstance(source, TypedStorage) and source.dtype != self.dtype:
            raise RuntimeError(f"Expected a Storage of type {self.dtype} but got type "
                               f"{source.dtype} for argument #1 'source'")
        raw = _storage_bytes(source)
        itemsize = self._data.dtype.itemsize
        elements = raw[:raw.size - raw.size % itemsize].view(self._data.dtype)
        if size is None:
            size = (elements.size - storage_offset,)
        size = tuple(int(s) for s in size)
        if stride is None or len(stride) == 0:
            stride = tuple(int(np.prod(size[i + 1:])) for i in range(len(size)))
        extent = storage_offset + sum((s - 1) * st for s, st in zip(size, stride)) + 1
        if min(size, default=1) > 0 and extent > elements.size:
            raise RuntimeError(f"set_(): the view needs {extent} elements but the storage "
                               f"holds {elements.size}")
        base = elements[storage_offset:]
        self._data = xp.lib.stride_tricks.as_strided(
            base, size, tuple(st * itemsize for st in stride))
    self._bump_version()
    return self


def _bytes_from_start(t: Tensor):
    """The bytes of ``t``'s storage from its first element on (None for an empty tensor; a
    copy of the elements where the memory is not one block)."""
    if not t._data.size:
        return None
    try:
        raw = UntypedStorage._of(t)._array
    except RuntimeError:
        return t._xp.ascontiguousarray(t._data).reshape(-1).view(np.uint8)
    return raw[t.data_ptr() - UntypedStorage._wrap(raw).data_ptr():]


def resize_(self: Tensor, *sizes, memory_format=None) -> Tensor:
    """Make ``self`` a C-contiguous tensor of ``sizes`` over its storage, from its storage
    offset, as PyTorch does: the elements are the storage's (in memory order, so a transposed
    tensor's order changes) and the tensor goes on sharing them with other views while the
    storage is large enough. A larger size moves the tensor to a new buffer holding the old
    storage's elements first; the new elements, uninitialised in PyTorch, are zeros here (and
    other views no longer see the tensor's memory, where PyTorch grows the shared storage)."""
    from ember.ops._util import shape_arg
    if self.requires_grad:
        raise RuntimeError("cannot resize variables that require grad")
    shape = shape_arg(sizes)
    if any(s < 0 for s in shape):
        raise RuntimeError(f"Trying to create tensor with negative dimension: {list(shape)}")
    n = int(np.prod(shape))
    data = self._data
    itemsize = data.dtype.itemsize
    raw = _bytes_from_start(self)
    available = 0 if raw is None else raw.size // itemsize
    if n <= available:
        self._data = raw[:n * itemsize].view(data.dtype).reshape(shape)
    else:
        flat = self._xp.zeros(n, data.dtype)
        if available:
            flat[:available] = raw[:available * itemsize].view(data.dtype)
        self._data = flat.reshape(shape)
    self._bump_version()
    return self


def resized(self: Tensor, sizes) -> Tensor:
    """The non-inplace ``resize``: the contiguous ``self`` viewed as ``sizes``, which must hold
    as many elements (autograd's resize changes only the shape)."""
    from ember.ops._util import shape_arg
    shape = shape_arg(sizes)
    n = int(np.prod(shape))
    if n != self.numel():
        raise RuntimeError(
            f"requested resize to {'x'.join(map(str, shape))} ({n} elements in total), but the "
            f"given tensor has a size of {'x'.join(map(str, self.shape))} ({self.numel()} "
            "elements). autograd's resize can only change the shape of a given tensor, while "
            "preserving the number of elements. ")
    return self.contiguous().view(shape)


def is_set_to(self: Tensor, tensor: Tensor) -> bool:
    """True when both tensors view the same memory with the same offset, sizes and strides."""
    a, b = self._data, tensor._data
    return (root_array(a) is root_array(b) and self.data_ptr() == tensor.data_ptr()
            and a.shape == b.shape and a.strides == b.strides)


# ---------------------------------------------------------------------------------------------
# Python callables element by element


def _elementwise(self: Tensor, op: str, fn, *others: Tensor) -> Tensor:
    if self.device.type != "cpu":
        raise TypeError(f"{op} is only implemented on CPU tensors")
    if self.requires_grad and is_grad_enabled():
        raise RuntimeError(f"Can't call {op}() on Variable that requires grad. Use "
                           f"var.detach().{op}() instead.")
    columns = [self._data.reshape(-1).tolist()]
    for other in others:
        columns.append(np.broadcast_to(other._data, self._data.shape).reshape(-1).tolist())
    values = [fn(*args) for args in zip(*columns)]
    self._data[...] = np.asarray(values, dtype=self._data.dtype).reshape(self._data.shape)
    self._bump_version()
    return self


def apply_(self: Tensor, callable) -> Tensor:
    """Replace each element x by ``callable(x)`` (a Python function on Python numbers)."""
    return _elementwise(self, "apply_", callable)


def map_(self: Tensor, tensor: Tensor, callable) -> Tensor:
    """Replace each element x by ``callable(x, y)``, y the matching element of ``tensor``
    (broadcast to this tensor's shape)."""
    return _elementwise(self, "map_", callable, tensor)


def map2_(self: Tensor, x: Tensor, y: Tensor, callable) -> Tensor:
    """Replace each element a by ``callable(a, b, c)``, b and c from ``x`` and ``y``."""
    return _elementwise(self, "map2_", callable, x, y)


# ---------------------------------------------------------------------------------------------
# Loading and legacy storages


def module_load(self: Tensor, other: Tensor, assign: bool = False) -> Tensor:
    """What ``Module.load_state_dict`` puts in place of ``self`` when it swaps parameters:
    ``other`` detached with ``assign``, else ``self`` with ``other`` copied in (detached)."""
    if not isinstance(other, Tensor):
        raise TypeError(f"module_load: expected a Tensor, got {type(other).__name__}")
    if assign:
        return other.detach()
    return self.copy_(other).detach()


def _legacy_storage(name: str, dtype: _dt.dtype, module: str = "ember",
                    default_device=None) -> type:
    """A ``TypedStorage`` of fixed ``dtype``, as PyTorch's ``FloatStorage`` and its kin
    (``ember.cuda``'s made on the GPU)."""
    def __init__(self, *args, wrap_storage=None, device=default_device):
        TypedStorage.__init__(self, *args, wrap_storage=wrap_storage, dtype=dtype,
                              device=device)
    return type(name, (TypedStorage,), {"__slots__": (), "__init__": __init__,
                                        "__module__": module})


DoubleStorage = _legacy_storage("DoubleStorage", _dt.float64)
FloatStorage = _legacy_storage("FloatStorage", _dt.float32)
HalfStorage = _legacy_storage("HalfStorage", _dt.float16)
BFloat16Storage = _legacy_storage("BFloat16Storage", _dt.bfloat16)
LongStorage = _legacy_storage("LongStorage", _dt.int64)
IntStorage = _legacy_storage("IntStorage", _dt.int32)
ShortStorage = _legacy_storage("ShortStorage", _dt.int16)
CharStorage = _legacy_storage("CharStorage", _dt.int8)
ByteStorage = _legacy_storage("ByteStorage", _dt.uint8)
BoolStorage = _legacy_storage("BoolStorage", _dt.bool)
ComplexFloatStorage = _legacy_storage("ComplexFloatStorage", _dt.complex64)
ComplexDoubleStorage = _legacy_storage("ComplexDoubleStorage", _dt.complex128)
_LEGACY_STORAGES = {cls().dtype: cls for cls in (
    DoubleStorage, FloatStorage, HalfStorage, BFloat16Storage, LongStorage, IntStorage,
    ShortStorage, CharStorage, ByteStorage, BoolStorage, ComplexFloatStorage,
    ComplexDoubleStorage)}


CUDA_LEGACY_STORAGES = {cls.__name__: _legacy_storage(cls.__name__, dtype, "ember.cuda", "cuda")
                        for dtype, cls in _LEGACY_STORAGES.items()}


def storage_type(self: Tensor) -> type:
    """The legacy storage class of this tensor's dtype (``ember.FloatStorage`` for float32)."""
    try:
        return _LEGACY_STORAGES[self.dtype]
    except KeyError:
        raise RuntimeError(f"storage_type: no legacy storage type for {self.dtype}") from None
