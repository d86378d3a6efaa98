"""Small top-level functions of PyTorch's namespace: ``from_file``, ``hash_tensor``, the
symbolic-shape helpers ``sym_*`` (plain Python semantics: ember traces nothing), the eager forms
of the control-flow operators ``cond`` and ``while_loop``, ``is_distributed`` and
``get_device_module``."""
from __future__ import annotations

import builtins
import math
import os
import sys

import numpy as np

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.ops._util import wrap_dims

# ---------------------------------------------------------------------------------------------
# Files and hashes


def from_file(filename, shared: bool | None = None, size: int = 0, *, dtype=None, layout=None,
              device=None, pin_memory: bool = False, requires_grad: bool = False) -> Tensor:
    """A 1-D tensor of ``size`` elements of ``dtype`` read from the raw bytes at the start of
    ``filename``. With ``shared=True`` the tensor maps the file, so that writes to the tensor
    change the file, and a missing or shorter file is created or extended with zeros to fit;
    otherwise it holds a private copy. Nothing in the file is executed."""
    from ember._creation import _finish
    d = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    path = os.fspath(filename)
    needed = size * d.itemsize
    if shared:
        with open(path, "ab") as f:  # creates a missing file, never truncates one
            if f.tell() < needed:
                f.truncate(needed)
    if not os.path.exists(path):
        raise RuntimeError(f"unable to open file <{path}> in read-only mode: No such file or "
                           "directory (2)")
    available = os.path.getsize(path)
    if needed > available:
        raise RuntimeError(f"file <{path}> size <{available}> is smaller than the required "
                           f"mapping size <{needed}>")
    if shared and size:
        # a plain ndarray over the mapping (which it keeps alive): see _plain
        data = np.memmap(path, dtype=d.np_dtype, mode="r+", shape=(size,)).view(np.ndarray)
    else:
        data = np.fromfile(path, dtype=d.np_dtype, count=size)
    return _finish(data, device, requires_grad)


def hash_tensor(input: Tensor, dim=(), *, keepdim: bool = False, mode: int = 0) -> Tensor:
    """A uint64 hash of ``input``'s elements over ``dim`` (all dims by default): each element
    widened to 64 bits (float64 or int64) and reinterpreted as uint64, then xor-reduced."""
    if mode != 0:
        raise RuntimeError(f"Unknown hash_tensor mode: {mode}")
    xp = input._xp
    data = input.detach()._data
    wide = data.astype(xp.float64 if _dt.np_kind(data.dtype) == "f" else xp.int64)  # bfloat16 too
    wide = wide.view(xp.uint64)
    if dim is None or isinstance(dim, (tuple, list)) and not dim:
        axes = None  # all dims
    else:
        axes = wrap_dims(dim, builtins.max(data.ndim, 1))  # a 0-d input accepts dim 0 and -1
        if not data.ndim:
            axes = None
    return _make(xp.asarray(xp.bitwise_xor.reduce(wide, axis=axes, keepdims=keepdim)))


# ---------------------------------------------------------------------------------------------
# Symbolic shapes, plain


def sym_int(a) -> int:
    """int(a), truncating toward zero (a SymInt-aware ``int`` in PyTorch)."""
    return math.trunc(a) if isinstance(a, float) else int(a)


def sym_float(a) -> float:
    """float(a)."""
    return float(a)


def _widen(a, b, result):
    """``result`` as a float when either operand is a float (as PyTorch's sym_max does)."""
    return float(result) if isinstance(a, float) or isinstance(b, float) else result


def sym_max(a, b):
    """max(a, b), a float if either is a float."""
    return _widen(a, b, builtins.max(a, b))


def sym_min(a, b):
    """min(a, b), a float if either is a float."""
    return _widen(a, b, builtins.min(a, b))


def sym_not(a) -> bool:
    """not a."""
    return not a


def sym_sqrt(a) -> float:
    """math.sqrt(a)."""
    return math.sqrt(a)


def sym_ite(b: bool, t, f):
    """t if b else f (an if-then-else expression; ``b`` must be a bool)."""
    if not isinstance(b, bool):
        raise AssertionError(f"expected SymBool or bool, got {type(b)}")
    return t if b else f


def sym_sum(args):
    """The sum of the numbers in ``args``."""
    return builtins.sum(args)


def _constrain(size, low: int, high: int) -> None:
    if not low <= size <= high:
        raise RuntimeError(f"Invalid value range for {size} between [{low}, {high}].")


def sym_constrain_range(size, *, min: int | None = None, max: int | None = None) -> None:
    """Check that the integer ``size`` lies in [min, max] (PyTorch records the bound on a
    symbolic size; with plain ints it checks it)."""
    _constrain(size, -sys.maxsize - 1 if min is None else min, sys.maxsize if max is None else max)


def sym_constrain_range_for_size(size, *, min: int | None = None,
                                 max: int | None = None) -> None:
    """``sym_constrain_range`` for a size: [0, max] unless ``min`` is given."""
    _constrain(size, 0 if min is None else min, sys.maxsize if max is None else max)


# ---------------------------------------------------------------------------------------------
# Control flow, eagerly


def cond(pred, true_fn, false_fn, operands: tuple | list = ()):
    """``true_fn(*operands)`` if ``pred`` else ``false_fn(*operands)``; ``pred`` is a bool, a
    number or a one-element tensor (run eagerly: ember compiles nothing)."""
    if isinstance(pred, Tensor) and pred.numel() != 1:
        raise RuntimeError("Expected pred to be bool or single-element tensor, but got "
                           f"{pred}.")
    if not isinstance(operands, (tuple, list)):
        raise RuntimeError(f"Expect operands to be a tuple or list, got {type(operands)}")
    if not (callable(true_fn) and callable(false_fn)):
        raise RuntimeError("Expect both branches to be callable.")
    return true_fn(*operands) if bool(pred) else false_fn(*operands)


def while_loop(cond_fn, body_fn, carried_inputs):
    """Run ``carried = body_fn(*carried)`` while ``cond_fn(*carried)`` holds, from the tuple
    ``carried_inputs``; returns the final carried values as a tuple (run eagerly)."""
    if not isinstance(carried_inputs, (tuple, list)):
        raise RuntimeError(f"carried_inputs must be a tuple or list, got {type(carried_inputs)}")
    carried = tuple(carried_inputs)
    while bool(cond_fn(*carried)):
        out = body_fn(*carried)
        carried = tuple(out) if isinstance(out, (tuple, list)) else (out,)
        if len(carried) != len(carried_inputs):
            raise RuntimeError("body_fn should return as many values as carried_inputs holds, "
                               f"got {len(carried)} for {len(carried_inputs)}")
    return carried


# ---------------------------------------------------------------------------------------------
# Devices


def is_distributed(input: Tensor) -> bool:
    """False: ember tensors live on one device."""
    return False


def get_device_module(device=None):
    """The module of a device type (``ember.cuda`` for "cuda", ``ember.cpu`` for "cpu", ...);
    ``ember.cpu`` when none is given (no accelerator is current by default)."""
    import importlib

    from ember.backend.device import Device
    if device is None:
        name = "cpu"
    elif isinstance(device, Device):
        name = device.type
    elif isinstance(device, str):
        name = Device(device).type
    else:
        raise RuntimeError(f"Invalid value of device '{device}', expect torch.device, str, or "
                           "None")
    try:
        return importlib.import_module(f"ember.{name}")
    except ModuleNotFoundError:
        raise RuntimeError(f"Device '{name}' does not have a corresponding module registered "
                           f"as 'ember.{name}'.") from None
