"""Devices, and the array module (``xp``) behind each one."""
from __future__ import annotations

import numbers

import numpy as np


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
        if type not in ("cpu", "cuda", "meta"):
            raise RuntimeError(
                f"Expected one of cpu, cuda, meta device type at start of device string: {type}")
        self.type = type
        self.index = index

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            other = Device(other)
        return isinstance(other, Device) and self.type == other.type and self.index == other.index

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __reduce__(self):
        return (Device, (self.type, self.index))

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    @property
    def xp(self):
        """The array module of this device: numpy for the CPU, cupy for CUDA."""
        if self.type == "cuda":
            from ember.backend import cuda
            return cuda.cupy()
        return np


CPU = Device("cpu")
META = Device("meta")


class MetaArray(np.ndarray):
    """An array of the ``meta`` device: shape, dtype and strides but no data. It is a read-only
    zero-stride view of a single zero, so a meta tensor of any size costs no memory; NumPy
    keeps the subclass through ops, so what is computed from meta tensors is meta too (shape
    inference, as PyTorch's meta kernels give; the values are meaningless)."""


def _meta_array(array) -> MetaArray:
    return np.broadcast_to(np.zeros((), dtype=array.dtype), array.shape).view(MetaArray)


def array_device(array) -> Device:
    """The device an array lives on."""
    if isinstance(array, MetaArray):
        return META
    if isinstance(array, np.ndarray):
        return CPU
    from ember.backend import cuda
    return cuda.device_of(array)


def is_host(xp) -> bool:
    """Whether array module ``xp`` is the CPU's (NumPy): asking a GPU array a question about
    its values stalls the host until the GPU catches up, so some ops take another path there."""
    return xp is np


def get_array_module(array):
    """numpy or cupy, whichever owns ``array``."""
    if array.__class__ is np.ndarray:  # the common case, before the tuple isinstance
        return np
    if isinstance(array, (np.ndarray, np.generic, numbers.Number)):
        return np
    from ember.backend import cuda
    return cuda.cupy()


def to_device(array, device: Device):
    """A copy of ``array`` on ``device`` (the array itself if it is already there)."""
    if device.type == "meta":
        return array if isinstance(array, MetaArray) else _meta_array(array)
    if isinstance(array, MetaArray):
        raise NotImplementedError("Cannot copy out of meta tensor; no data!")
    if device.type == "cpu":
        if isinstance(array, np.ndarray):
            return array
        return array.get()
    if device.type == "cuda":
        from ember.backend import cuda
        return cuda.to_device(array, device)
    raise RuntimeError(f"ember has no arrays on device {device}")


def reshape_view(array, shape):
    """``array`` reshaped without copying, or None when its strides do not allow it."""
    view = array.view()
    try:
        view.shape = shape
    except AttributeError:
        return None
    return view
