"""The op table's row type and sample-input makers (see op_table.py).

A row's ``fn(lib, *args, **kwargs)`` calls the op through ``lib`` (``ember`` or ``torch``) or
through Tensor methods and operators, so the same call runs on both libraries. A sample's
NumPy arrays become tensors (strides kept: transposed and sliced samples stay non-contiguous);
every other argument passes through. ``ref`` computes the same result on the NumPy arrays.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

F32, F64, I32, I64, U8, I8, BOOL = (np.dtype(n) for n in
                                    ("float32", "float64", "int32", "int64", "uint8", "int8",
                                     "bool"))
FLOAT = (F32, F64)
NUM = (F32, F64, I32, I64)
INT = (I32, I64, U8)
FIXED = (None,)  # the samples choose their own dtypes (promotion cases)


class S:
    """One sample: positional and keyword arguments (NumPy arrays become tensors)."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs

    def __repr__(self) -> str:
        def show(a):
            if isinstance(a, np.ndarray):
                c = "" if a.flags.c_contiguous else ",nc"
                return f"{a.dtype}{list(a.shape)}{c}"
            if isinstance(a, list):
                return "[" + ",".join(show(x) for x in a) + "]"
            return repr(a)
        return "(" + ", ".join([show(a) for a in self.args] +
                               [f"{k}={show(v)}" for k, v in self.kwargs.items()]) + ")"


@dataclass
class OpInfo:
    name: str
    fn: Callable
    ref: Callable | None
    samples: Callable  # (dtype, rng) -> list[S]
    dtypes: tuple = FLOAT
    grad: bool = True
    gradgrad: bool = True
    errors: Callable | None = None  # rng -> list[S] that PyTorch rejects
    rtol: float = 1e-5
    atol: float = 1e-6
    grad_samples: int = 99  # how many samples gradcheck sweeps (the first ones)
    gradcheck: bool = True  # False at kinks/ties: grads are conventions, compared with PyTorch
    check_dtype_vs_torch: bool = True
    tags: tuple = field(default_factory=tuple)


# ---------------------------------------------------------------------------------------------
# Input makers

def arr(rng, shape, dtype, domain=(-2.0, 2.0)):
    """Random values of ``dtype`` in ``domain`` (integers: the integers inside it)."""
    dtype = np.dtype(dtype)
    lo, hi = domain
    if dtype == BOOL:
        return np.asarray(rng.random(shape) < 0.5)
    if dtype.kind in "iu":
        ilo, ihi = math.ceil(lo), math.floor(hi)
        if dtype.kind == "u":
            ilo = max(ilo, 0)
        if ihi <= ilo:
            ihi = ilo + 3
        return rng.integers(ilo, ihi + 1, shape).astype(dtype)
    return rng.uniform(lo, hi, shape).astype(dtype)


def nc(rng, shape, dtype, domain=(-2.0, 2.0)):
    """A non-contiguous array of ``shape``: the transpose of a random one."""
    return arr(rng, tuple(reversed(shape)), dtype, domain).T


def sliced(rng, shape, dtype, domain=(-2.0, 2.0)):
    """A non-contiguous array of ``shape``: every other column of a wider one."""
    wide = shape[:-1] + (2 * shape[-1],)
    return arr(rng, wide, dtype, domain)[..., ::2]


def perm_index(rng, n, k):
    """``k`` distinct indices below ``n`` (unique, so scatter-like ops are deterministic)."""
    return rng.permutation(n)[:k].astype(np.int64)


def unary_samples(domain=(-2.0, 2.0)):
    def gen(dt, rng):
        return [S(arr(rng, (3, 4), dt, domain)),
                S(arr(rng, (), dt, domain)),
                S(nc(rng, (3, 4), dt, domain)),
                S(sliced(rng, (2, 3), dt, domain)),
                S(arr(rng, (0, 2), dt, domain))]
    return gen


def binary_samples(domain=(-2.0, 2.0), other_domain=None, scalar=1.5, int_scalar=2,
                   scalars=True):
    """Same shapes, broadcasting, 0-d either side, non-contiguous, and (unless ``scalars`` is
    False: ops whose PyTorch signature takes two tensors) a Python number as ``other``."""
    od = other_domain or domain

    def gen(dt, rng):
        out = [S(arr(rng, (3, 4), dt, domain), arr(rng, (3, 4), dt, od)),
               S(arr(rng, (3, 1), dt, domain), arr(rng, (1, 4), dt, od)),
               S(arr(rng, (2, 3, 4), dt, domain), arr(rng, (4,), dt, od)),
               S(arr(rng, (), dt, domain), arr(rng, (2, 3), dt, od)),
               S(arr(rng, (2, 3), dt, domain), arr(rng, (), dt, od)),
               S(nc(rng, (3, 4), dt, domain), sliced(rng, (3, 4), dt, od))]
        if scalars:
            out.append(S(arr(rng, (3, 4), dt, domain), int_scalar))
        if scalars and dt.kind == "f":
            out.append(S(arr(rng, (3, 4), dt, domain), scalar))
        return out
    return gen


def reflected_samples(domain=(-2.0, 2.0), scalar=1.5):
    """(number, tensor) pairs for the reflected operators ``2 + t`` etc."""
    def gen(dt, rng):
        out = [S(2, arr(rng, (3, 4), dt, domain)), S(3, nc(rng, (2, 3), dt, domain))]
        if dt.kind == "f":
            out.append(S(scalar, arr(rng, (), dt, domain)))
        return out
    return gen


def fixed(*samples_fn):
    """Samples that do not depend on the dtype (mixed-dtype promotion cases)."""
    def gen(dt, rng):
        return samples_fn[0](rng)
    return gen


def m(name):
    """``lib.name(*args, **kwargs)``."""
    def call(lib, *args, **kwargs):
        return getattr(lib, name)(*args, **kwargs)
    call.__name__ = name
    call.functional = name  # the method form x.name(...) is checked against it
    return call


def meth(name):
    """``args[0].name(*args[1:], **kwargs)``."""
    def call(lib, x, *args, **kwargs):
        return getattr(x, name)(*args, **kwargs)
    call.__name__ = name
    return call

