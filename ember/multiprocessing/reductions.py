"""How tensors cross process boundaries: by value in plain pickles, by shared memory in queues.

# NOTE [ Shared tensors ]
A shared tensor's array lives in an anonymous shared mapping (``memfd_create``; an unlinked
file on systems without it), so no named segment exists that could outlive its users: the
memory is freed when the last process holding the mapping drops it. Sending a tensor through
``ember.multiprocessing`` (any ``multiprocessing`` Queue, Pipe, or spawn argument: the reducers
are registered on the stdlib ``ForkingPickler``) first moves it into shared memory in place,
then passes the file descriptor with ``SCM_RIGHTS`` (``multiprocessing.reduction.DupFd``); the
receiver maps the same pages, so each side sees the other's later in-place writes, as with
``torch.multiprocessing``. As there, the sending process must stay alive until the receiver
has unpickled the tensor (the descriptor is handed over by the sender's resource-sharer
thread). A plain ``pickle.dumps`` or ``copy.copy`` goes through
``Tensor.__reduce_ex__`` instead and carries the values (``copy.copy`` shares the array, as
PyTorch's shares the storage).
"""
from __future__ import annotations

import mmap
import os
import tempfile
import weakref
from multiprocessing.reduction import DupFd, ForkingPickler

import numpy as np

from ember._tensor import Tensor, _init_like, _make


class _Segment(mmap.mmap):
    """A shared mapping that keeps the file descriptor other processes can map."""

    fd: int


# Mappings already open in this process, by inode, so a tensor received twice maps once.
_segments: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def _new_fd(nbytes: int) -> int:
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("ember-shared", os.MFD_CLOEXEC)
    else:
        with tempfile.TemporaryFile(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as f:
            fd = os.dup(f.fileno())
    os.ftruncate(fd, nbytes)
    return fd


def _map(fd: int, nbytes: int) -> _Segment:
    """Map ``fd`` (taking ownership of it), reusing an existing mapping of the same file."""
    key = os.fstat(fd).st_ino
    seg = _segments.get(key)
    if seg is not None and len(seg) == nbytes:
        os.close(fd)
        return seg
    seg = _Segment(fd, nbytes)
    seg.fd = fd
    weakref.finalize(seg, os.close, fd)
    _segments[key] = seg
    return seg


def _segment_of(array) -> _Segment | None:
    base = array
    while isinstance(base, (np.ndarray, memoryview)):
        base = base.base if isinstance(base, np.ndarray) else base.obj
    return base if isinstance(base, _Segment) else None


def empty_shared(shape, dtype) -> np.ndarray:
    """An uninitialised NumPy array of ``shape``/``dtype`` in a fresh shared segment."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    seg = _map(_new_fd(max(nbytes, 1)), max(nbytes, 1))
    return np.ndarray(tuple(shape), dtype, buffer=seg)


def share_memory_(tensor: Tensor) -> Tensor:
    """Move ``tensor``'s data into shared memory in place (a no-op if shared or on CUDA).

    The tensor keeps its identity (modules and optimizers hold it). Views taken before the
    call keep the old memory, as its data is copied into the new segment.
    """
    data = tensor._data
    if not isinstance(data, np.ndarray) or _segment_of(data) is not None:
        return tensor
    shared = empty_shared(data.shape, data.dtype)
    shared[...] = data
    tensor._data = shared
    return tensor


def is_shared(tensor: Tensor) -> bool:
    """Whether ``tensor``'s data lives in a shared segment (CUDA tensors count as shared)."""
    data = tensor._data
    return not isinstance(data, np.ndarray) or _segment_of(data) is not None


# ---------------------------------------------------------------------------------------------
# Plain pickling (by value)

def reduce_tensor_for_pickle(tensor: Tensor):
    """``Tensor.__reduce_ex__``: values, dtype, device, requires_grad and instance attributes."""
    data = tensor._data
    device = None
    if not isinstance(data, np.ndarray):
        device = str(tensor.device)
        from ember.backend.device import CPU, to_device
        data = to_device(data, CPU)
    state = dict(tensor.__dict__) if tensor.__dict__ else None
    return (_rebuild_tensor, (type(tensor), data, tensor.requires_grad, device, state))


def _rebuild_tensor(cls, data, requires_grad: bool, device, state) -> Tensor:
    if device is not None:
        from ember.backend.device import Device, to_device
        data = to_device(data, Device(device))
    t = object.__new__(cls)
    _init_like(t, data, requires_grad)
    if state:
        t.__dict__.update(state)
    return t


# ---------------------------------------------------------------------------------------------
# Multiprocessing pickling (by shared memory)

def _reduce_shared(tensor: Tensor):
    if not isinstance(tensor._data, np.ndarray):
        return reduce_tensor_for_pickle(tensor)
    if tensor.requires_grad and tensor.grad_fn is not None:
        raise RuntimeError(
            "Cowardly refusing to serialize non-leaf tensor which requires_grad, since "
            "autograd does not support crossing process boundaries.  If you just want to "
            "transfer the data, call detach() on the tensor before serializing (e.g., putting "
            "it on the queue).")
    share_memory_(tensor)
    data = tensor._data
    seg = _segment_of(data)
    offset = data.__array_interface__["data"][0] - _address(seg)
    meta = (len(seg), offset, data.shape, data.strides, data.dtype.str)
    state = dict(tensor.__dict__) if tensor.__dict__ else None
    return (_rebuild_shared, (type(tensor), DupFd(seg.fd), meta, tensor.requires_grad, state))


def _address(seg: _Segment) -> int:
    return np.ndarray((1,), np.uint8, buffer=seg).__array_interface__["data"][0]


def _rebuild_shared(cls, dupfd, meta, requires_grad: bool, state) -> Tensor:
    nbytes, offset, shape, strides, dtype = meta
    seg = _map(dupfd.detach(), nbytes)
    data = np.ndarray(shape, np.dtype(dtype), buffer=seg, offset=offset, strides=strides)
    from ember.nn.parameter import Parameter
    if issubclass(cls, Parameter):
        return cls(_make(data), requires_grad)
    t = object.__new__(cls)
    _init_like(t, data, requires_grad)
    if state:
        t.__dict__.update(state)
    return t


def init_reductions() -> None:
    """Register the shared-memory reducers on ``multiprocessing``'s pickler (idempotent)."""
    from ember.nn.parameter import Buffer, Parameter
    for cls in (Tensor, Parameter, Buffer):
        ForkingPickler.register(cls, _reduce_shared)
