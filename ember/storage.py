"""Storages: the flat memory under tensors (``UntypedStorage``: bytes; ``TypedStorage``: elements).

A storage wraps a 1-D uint8 array (NumPy or CuPy). Tensors keep their own arrays and do not
hold a storage object; ``Tensor.untyped_storage()`` builds one over the memory the tensor views.
``ember.load`` hands storages to a ``map_location`` function, as PyTorch does.
"""
from __future__ import annotations

import warnings

import numpy as np

from ember import dtypes as _dt
from ember.backend.device import CPU, Device, array_device, to_device

_typed_storage_warned = False


def warn_typed_storage_removal() -> None:
    """PyTorch's deprecation warning for the TypedStorage API, given once per process."""
    global _typed_storage_warned
    if not _typed_storage_warned:
        _typed_storage_warned = True
        warnings.warn("TypedStorage is deprecated. It will be removed in the future and "
                      "UntypedStorage will be the only storage class. This should only matter "
                      "to you if you are using storages directly.  To access UntypedStorage "
                      "directly, use tensor.untyped_storage() instead of tensor.storage()",
                      UserWarning, stacklevel=3)


def root_array(array):
    """The array that owns the memory ``array`` views (itself when it owns its data)."""
    xp_ndarray = type(array).__mro__[-2]  # numpy.ndarray or cupy.ndarray, below ``object``
    while isinstance(array.base, xp_ndarray):
        array = array.base
    return array


def array_ptr(array) -> int:
    """The address of an array's first element."""
    if isinstance(array, np.ndarray):
        return array.__array_interface__["data"][0]
    return array.data.ptr


def root_bytes(root):
    """The memory of a contiguous root array as a flat uint8 view, in memory order."""
    return root.ravel(order="K").view(np.uint8)


class StorageBase:
    """``torch.StorageBase``: the base class of :class:`UntypedStorage` (not of the deprecated
    :class:`TypedStorage`), for ``isinstance`` checks."""

    __slots__ = ()


class UntypedStorage(StorageBase):
    """A flat block of bytes on one device, like ``torch.UntypedStorage``.

    Args:
        size: number of bytes (uninitialised) when no data is given.
        device: where the bytes live (default CPU).

    Example::

        >>> s = ember.zeros(3).untyped_storage()
        >>> s.nbytes()
        12
    """

    __slots__ = ("_array",)

    def __init__(self, size: int = 0, *, device=None):
        array = np.empty(int(size), np.uint8)
        if device is not None and Device(device).type != "cpu":
            array = to_device(array, Device(device))
        self._array = array

    @classmethod
    def _wrap(cls, array) -> "UntypedStorage":
        """A storage over a flat uint8 array (no copy)."""
        self = object.__new__(cls)
        self._array = array
        return self

    @classmethod
    def _of(cls, tensor) -> "UntypedStorage":
        """The storage a tensor views (the whole allocation, shared, not copied)."""
        root = root_array(tensor._data)
        if not (root.flags.c_contiguous or root.flags.f_contiguous):
            raise RuntimeError("untyped_storage: the tensor's memory is not one contiguous block")
        return cls._wrap(root_bytes(root))

    @classmethod
    def from_file(cls, filename: str, shared: bool = False, nbytes: int = 0) -> "UntypedStorage":
        """The first ``nbytes`` of a file, memory-mapped: with ``shared`` writes go to the file
        (and other processes mapping it see them); without, they stay in this storage."""
        if nbytes == 0:
            return cls._wrap(np.empty(0, np.uint8))
        mapped = np.memmap(filename, np.uint8, "r+" if shared else "c", shape=(nbytes,))
        return cls._wrap(mapped.view(np.ndarray))  # a plain array (the map stays its base)

    def nbytes(self) -> int:
        return self._array.size

    def __sizeof__(self) -> int:
        """The object and the bytes it holds, as PyTorch counts them for ``sys.getsizeof``."""
        return object.__sizeof__(self) + self.nbytes()

    def untyped(self) -> "UntypedStorage":
        """This storage (as ``TypedStorage.untyped()`` gives the bytes under elements)."""
        return self

    def size(self) -> int:
        return self._array.size

    def __len__(self) -> int:
        return self._array.size

    def element_size(self) -> int:
        return 1

    @property
    def device(self) -> Device:
        return array_device(self._array)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def data_ptr(self) -> int:
        return array_ptr(self._array)

    def cpu(self) -> "UntypedStorage":
        """This storage if it is on the CPU, else a copy there."""
        return self if isinstance(self._array, np.ndarray) else self.to(device=CPU)

    def cuda(self, device=None, non_blocking: bool = False) -> "UntypedStorage":
        """A copy on a CUDA device (this storage if it is already there)."""
        dev = Device("cuda", device) if isinstance(device, int) or device is None \
            else Device(device)
        return self.to(device=dev)

    def to(self, *, device=None, non_blocking: bool = False) -> "UntypedStorage":
        dev = Device(device)
        if dev == self.device:
            return self
        return UntypedStorage._wrap(to_device(self._array, dev))

    def tolist(self) -> list:
        return to_device(self._array, CPU).tolist()

    def __getitem__(self, index):
        """A byte (an int), or for a slice of step 1 a storage over those bytes (shared)."""
        if isinstance(index, slice):
            if index.step not in (None, 1):
                raise RuntimeError(f"UntypedStorage: slices of step {index.step} are not "
                                   f"supported, only step 1")
            return UntypedStorage._wrap(self._array[index])
        return int(self._array[index])

    def __iter__(self):
        return iter(self.tolist())

    def __repr__(self) -> str:
        return f"UntypedStorage(nbytes={self.nbytes()}, device='{self.device}')"


class TypedStorage:
    """Elements of one dtype over an ``UntypedStorage`` (PyTorch's legacy ``FloatStorage`` ...)."""

    __slots__ = ("_untyped_storage", "dtype")

    def __init__(self, *args, wrap_storage: UntypedStorage | None = None, dtype=None,
                 device=None):
        """``TypedStorage(size)`` (uninitialised), ``TypedStorage(sequence)``, or a view of
        ``wrap_storage``'s bytes; ``dtype`` defaults to the default dtype."""
        self.dtype = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
        if wrap_storage is None:
            data = args[0] if args else 0
            if isinstance(data, int):
                array = np.empty(data, self.dtype.np_dtype)
            else:
                array = np.asarray(list(data), self.dtype.np_dtype)
            raw = array.view(np.uint8).reshape(-1)
            if device is not None and Device(device).type != "cpu":
                raw = to_device(raw, Device(device))
            wrap_storage = UntypedStorage._wrap(raw)
        self._untyped_storage = wrap_storage

    def untyped(self) -> UntypedStorage:
        return self._untyped_storage

    def _array(self):
        """The elements as a flat array (a view of the bytes)."""
        raw = self._untyped_storage._array
        return raw[:raw.size - raw.size % self.dtype.itemsize].view(self.dtype.np_dtype)

    def size(self) -> int:
        return self._untyped_storage.nbytes() // self.dtype.itemsize

    def __len__(self) -> int:
        return self.size()

    def nbytes(self) -> int:
        return self._untyped_storage.nbytes()

    def __sizeof__(self) -> int:
        """The object and the bytes under it, as PyTorch counts them for ``sys.getsizeof``."""
        return object.__sizeof__(self) + self.nbytes()

    def element_size(self) -> int:
        return self.dtype.itemsize

    @property
    def device(self) -> Device:
        return self._untyped_storage.device

    def tolist(self) -> list:
        return to_device(self._array(), CPU).tolist()

    def __getitem__(self, index):
        return self._array()[index].item()

    def __setitem__(self, index, value) -> None:
        self._array()[index] = value

    def __iter__(self):
        return iter(self.tolist())

    def data_ptr(self) -> int:
        return self._untyped_storage.data_ptr()

    def __repr__(self) -> str:
        return f"TypedStorage(dtype={self.dtype}, size={self.size()}, device='{self.device}')"


__all__ = ["StorageBase", "UntypedStorage", "TypedStorage"]
