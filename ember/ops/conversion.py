"""``Tensor.to``: dtype casts and device moves, differentiable."""
from __future__ import annotations

import warnings

import numpy as np

from ember import dtypes as _dt
from ember._float8 import to_float8
from ember._tensor import Tensor, _make
from ember.autograd.function import NULL_CTX, Primitive
from ember.backend import cuda_rows
from ember.backend.device import Device, array_device, convert, to_device


class ToCopy(Primitive, node_name="ToCopyBackward0"):
    @staticmethod
    def forward(ctx, a, np_dtype, device):
        if ctx.needs_input_grad:  # backward casts back, and moves back if this moved
            ctx.src = (a.dtype, None if device is None else array_device(a))
        out = a if device is None else to_device(a, device)
        if np_dtype is not None and out.dtype != np_dtype:
            if out.dtype.kind == "c" and np_dtype.kind not in "cb":
                out = out.real  # (``to`` warned that the imaginary part goes; NumPy would too)
            if np_dtype in _dt._FLOAT8_NP and out.__class__ is np.ndarray:
                out = to_float8(out, _dt._FROM_NP[np_dtype])  # PyTorch's rounding, saturation
            elif isinstance(out, np.ndarray):
                out = convert(out, np_dtype)
            else:
                out = cuda_rows.cast(out, np_dtype)
        elif out is a:
            out = a.copy()
        return out

    @staticmethod
    def backward(ctx, grad):
        np_dtype, device = ctx.src
        if grad._data.dtype.kind == "c" and np_dtype.kind != "c":
            grad = grad.real
        return ToCopy.apply(grad, np_dtype, device)


def _parse_to(args, kwargs):
    """``to``'s arguments as (dtype, device, copy, memory_format)."""
    dtype = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    memory_format = kwargs.pop("memory_format", None)
    flags = [a for a in args if isinstance(a, bool)]  # positional non_blocking, copy
    if len(flags) > 1:
        copy = flags[1]
    for a in args:
        if isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif isinstance(a, _dt.dtype):
            dtype = a
        elif isinstance(a, (str, Device, int)) and not isinstance(a, bool):
            device = a
        elif a is not None and not isinstance(a, bool):
            dtype = _dt.to_dtype(a)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    return (None if dtype is None else _dt.to_dtype(dtype),
            None if device is None else Device(device), copy, memory_format)


def to(input: Tensor, *args, **kwargs) -> Tensor:
    """A tensor with the requested dtype, device and/or memory format; ``input`` itself when
    nothing changes."""
    if not kwargs and len(args) == 1 and args[0].__class__ is _dt.dtype:
        return _to_dtype(input, args[0])  # ``.float()``, ``.to(torch.bfloat16)``: no parsing
    dtype, device, copy, memory_format = _parse_to(args, dict(kwargs))
    if memory_format is not None and getattr(memory_format, "name", None) != "preserve_format":
        return _to_format(input, dtype, device, copy, memory_format)
    if device is not None and device.type == "cuda" and device.index is None:
        from ember.backend import cuda
        device = Device("cuda", cuda.current_device_index())
    same_dtype = dtype is None or dtype.np_dtype == input._data.dtype
    same_device = device is None or device == input.device
    if same_dtype and same_device and not copy:
        return input
    return _copy(input, dtype, None if same_dtype else dtype.np_dtype,
                 None if same_device else device)


def _to_format(input: Tensor, dtype, device, copy, memory_format) -> Tensor:
    """``to`` with a memory format other than ``preserve_format``: as in PyTorch, ``input``
    itself when nothing else changes and the format is the one its strides suggest (so a
    transposed matrix stays as it is under ``contiguous_format``)."""
    from ember.ops.movement import _LAYOUTS, contiguous, laid_out
    suggested = "contiguous_format"
    if input.ndim in (4, 5) and not input._data.flags.c_contiguous:
        name = "channels_last" if input.ndim == 4 else "channels_last_3d"
        if laid_out(input._data, _LAYOUTS[name]):
            suggested = name
    if (memory_format.name == suggested and not copy and dtype in (None, input.dtype)
            and device in (None, input.device)):
        return input
    return contiguous(to(input, dtype=dtype, device=device, copy=copy), memory_format)


def _to_dtype(input: Tensor, dtype) -> Tensor:
    """``to(dtype)``: ``input`` itself when it has that dtype, else a cast."""
    np_dtype = dtype.np_dtype
    return input if np_dtype == input._data.dtype else _copy(input, dtype, np_dtype, None)


def _copy(input: Tensor, dtype, np_dtype, device) -> Tensor:
    if np_dtype is not None and np_dtype.kind not in "cb" and input._data.dtype.kind == "c":
        warnings.warn("Casting complex values to real discards the imaginary part", UserWarning,
                      stacklevel=3)
    if dtype is not None and not (dtype.is_floating_point or dtype.is_complex):
        # integer and bool results have no gradient: made outside the graph, as PyTorch does
        return _make(ToCopy.forward(NULL_CTX, input._data, np_dtype, device))
    return ToCopy.apply(input, np_dtype, device)


def detach(input: Tensor) -> Tensor:
    """A tensor sharing ``input``'s data, cut from the autograd graph (``torch.detach``)."""
    return input.detach()


def detach_(input: Tensor) -> Tensor:
    """Cut ``input`` from the autograd graph, in place."""
    return input.detach_()
