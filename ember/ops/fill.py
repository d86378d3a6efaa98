"""Writing into a tensor: copy_, fill_, and the in-place random fills (uniform_, normal_, ...);
and how every write of a number checks it (``checked_fill``) and rounds it (``write_source``)
as PyTorch's Scalar conversion does (full, setitem, masked_fill, index_fill, scatter use them)."""
from __future__ import annotations

import math
import struct

import numpy as np

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive, broadcast_mismatch
from ember.autograd.grad_mode import _State
from ember.backend.device import cast_source, get_array_module, to_device
from ember.ops._util import c_type_name, cast, scalar_name
from ember.ops.inplace import _write, check_inplace, inplace
from ember.random import generator_for


def checked_fill(value, np_dtype, numel: int):
    """A fill ``value`` cast to ``np_dtype`` as PyTorch's checked cast does: a real dtype
    refuses a non-zero imaginary part, an integer dtype a value out of its range (an unsigned
    one takes negative integers down to minus its maximum, wrapped), float32 a finite value
    beyond its range."""
    kind = np_dtype.kind
    if kind == "f" and value.__class__ in _PLAIN and -65504.0 <= value <= 65504.0:
        return value  # within every float dtype's range: the common case, checked first
    if kind in "bc" or isinstance(value, (bool, np.bool_)):
        return value
    if isinstance(value, (complex, np.complexfloating)):
        if value.imag != 0:
            raise _overflow(np_dtype)
        value = value.real
    if kind in "iu":
        info = np.iinfo(np_dtype)
        if isinstance(value, (int, np.integer)):
            low = -info.max if kind == "u" else info.min
            ok = low <= value <= info.max
        else:  # compared as doubles; NaN never fits
            ok = float(info.min) <= value <= float(info.max)
        if not ok:
            raise _overflow(np_dtype)
        return cast(value, np_dtype)
    if abs(value) > 65504.0 and math.isfinite(value):  # beyond float16's range
        top = _FLOAT_MAX.get(np_dtype.name)
        # (PyTorch skips the check for half types when it fills a single element)
        if top is not None and abs(value) > top and (numel != 1 or np_dtype.itemsize == 4):
            raise _overflow(np_dtype)
        if np_dtype.itemsize == 2:  # to infinity, silently, through float32 as PyTorch
            with np.errstate(over="ignore"):
                return np_dtype.type(np.float32(value))
    return value


_PLAIN = (int, float)
_FLOAT_MAX = {"float32": 3.4028234663852886e38, "float16": 65504.0,
              "bfloat16": 3.3895313892515355e38}
_C_NAMES = {"float32": "float", "float16": "c10::Half", "bfloat16": "c10::BFloat16",
            "int32": "int"}


def _overflow(np_dtype) -> RuntimeError:
    name = _C_NAMES.get(np_dtype.name, f"{np_dtype.name}_t")
    return RuntimeError(f"value cannot be converted to type {name} without overflow")


def write_source(value, np_dtype):
    """``value`` (a number or an array) as it is written into an array of ``np_dtype``: PyTorch
    takes a Python float as a double and rounds a double through float32 on its way to float16
    (see :func:`~ember.backend.device.cast_source`), where NumPy would round it directly."""
    if np_dtype.itemsize != 2:
        return value
    if isinstance(value, float):  # np.float64 is a float too
        try:  # the float32 nearest, kept a Python float: NumPy then rounds it as PyTorch does
            return _FLOAT32.unpack(_FLOAT32.pack(value))[0]
        except OverflowError:  # beyond float32: infinite either way
            return value
    return cast_source(value, np_dtype) if hasattr(value, "dtype") else value


_FLOAT32 = struct.Struct("f")


class Copy(Primitive, node_name="CopyBackwards"):
    @staticmethod
    def forward(ctx, a, src):
        xp = get_array_module(a)
        if src.__class__ is not a.__class__:
            from ember.backend.device import array_device
            src = to_device(src, array_device(a))
        return xp.broadcast_to(src, a.shape).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        # PyTorch sends explicit zeros to the overwritten tensor, so its leaves get a .grad.
        return _make(grad._xp.zeros_like(grad._data)), grad


def copy_(self: Tensor, src, non_blocking: bool = False) -> Tensor:
    """Copy ``src`` (broadcast, cast, moved across devices) into ``self``."""
    if not isinstance(src, Tensor):
        src = _make(self._xp.asarray(write_source(src, self._data.dtype), self._data.dtype))
    if not (_State.enabled and (self.requires_grad or src.requires_grad)):
        data = src._data
        if data.__class__ is not self._data.__class__:
            data = to_device(data, self.device)
        try:
            _write(self, data)
        except RuntimeError as exc:
            raise broadcast_mismatch((self.shape, src.shape)) or exc from None
        return self
    return inplace(self, Copy, src)


class Fill(Primitive, node_name="FillBackward1"):
    @staticmethod
    def forward(ctx, a, value):
        return get_array_module(a).full(a.shape, write_source(value, a.dtype), a.dtype)

    @staticmethod
    def backward(ctx, grad):
        return _make(grad._xp.zeros_like(grad._data)), grad.sum()


def fill_(self: Tensor, value) -> Tensor:
    """Fill ``self`` with ``value``, in place: a number checked against the dtype's range as
    PyTorch's Scalar is, a 0-d tensor cast unchecked as tensors are."""
    dtype = self._data.dtype
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError("fill_ only supports 0-dimension value tensor but got tensor "
                               f"with {value.ndim} dimensions.")
    else:
        value = checked_fill(value, dtype, self._data.size)
    if not (_State.enabled and (self.requires_grad or isinstance(value, Tensor)
                                and value.requires_grad)):
        v = value
        if isinstance(value, Tensor):
            v = value._data
            if v.__class__ is not self._data.__class__:
                v = to_device(v, self.device)
        self._data[...] = write_source(v, dtype)
        self._bump_version()
        return self
    return inplace(self, Fill, value)


def fill(input: Tensor, value) -> Tensor:
    """A new tensor shaped like ``input`` filled with ``value`` (``torch.fill``)."""
    return fill_(input.clone(), value)


def zero_(input: Tensor) -> Tensor:
    """Fill ``input`` with zeros, in place."""
    return fill_(input, 0)


def fill_diagonal_(input: Tensor, fill_value, wrap: bool = False) -> Tensor:
    """Write ``fill_value`` on the main diagonal, in place (all dims equal when more than 2;
    ``wrap`` restarts the diagonal every cols + 1 rows of a tall matrix)."""
    if input.ndim < 2:
        raise RuntimeError("dimensions must larger than 1")
    if input.ndim > 2 and len(set(input.shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    xp = input._xp
    if input.ndim == 2:
        rows, cols = input.shape
        end = rows * cols if wrap else min(rows, cols) * cols
        flat = xp.arange(0, end, cols + 1)
        index = (_make(flat // cols), _make(flat % cols))
    else:
        index = (_make(xp.arange(input.shape[0])),) * input.ndim
    dtype = input._data.dtype
    return input.index_put_(index, _make(xp.asarray(write_source(fill_value, dtype), dtype)))


def _random_write(self: Tensor, values) -> Tensor:
    check_inplace(self)
    # ``_write`` casts while it copies: no second full-size array in the tensor's dtype (for a
    # large layer's initialisation that temporary cost more than drawing the numbers).
    _write(self, values)
    return self


def _draws(self: Tensor, draw, probs=None):
    """``draw(shape, dtype[, probs])`` for ``self``, drawn in the order of ``self``'s memory (as
    PyTorch's kernels walk a strided tensor) and returned in its logical shape; for a complex
    tensor, drawn into its real view (real and imaginary parts interleaved), as PyTorch draws
    into ``view_as_real``. ``probs`` (an array broadcasting to ``self``) follows that order."""
    strides = self.stride()
    order = sorted(range(self.ndim), key=lambda d: -abs(strides[d]))  # outermost first
    shape = tuple(self.shape[d] for d in order)
    args = () if probs is None else (
        self._xp.broadcast_to(probs, tuple(self.shape)).transpose(order),)
    if self.dtype.is_complex:
        real = self.dtype.to_real().np_dtype
        pairs = draw(shape + (2,), real, *args)
        values = pairs.view(np.result_type(real, np.complex64))[..., 0]
    else:
        values = draw(shape, self._data.dtype, *args)
    return values if order == sorted(order) else values.transpose(np.argsort(order))


def _not_for(self: Tensor, kernel: str) -> NotImplementedError:
    return NotImplementedError(f'"{kernel}" not implemented for \'{scalar_name(self.dtype)}\'')


def _continuous_only(self: Tensor, name: str, cpp_names: bool) -> None:
    if not self.dtype.is_floating_point:
        kind = c_type_name(self.dtype) if cpp_names else scalar_name(self.dtype)
        raise RuntimeError(f"{name} distribution is a continuous probability distribution. dtype "
                           f"must be a floating point but you specified {kind}")


def uniform_(self: Tensor, from_=0.0, to=1.0, *, generator=None) -> Tensor:
    dtype = self.dtype
    if not (dtype.is_floating_point or dtype.is_complex):
        raise _not_for(self, "check_uniform_bounds")
    real = dtype.to_real() if dtype.is_complex else dtype
    top = float(_dt.finfo_np(real).max)
    for name, bound in (("from", from_), ("to", to)):
        if not -top <= bound <= top:  # NaN too
            raise RuntimeError(f"{name} is out of bounds for {c_type_name(real)}")
    if from_ > to:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found "
                           f"from={from_:g} > to={to:g}")
    rng = generator_for(self.device, generator)
    return _random_write(self, _draws(self, lambda shape, dtype: rng.uniform(shape, dtype,
                                                                            from_, to)))


def normal_(self: Tensor, mean=0.0, std=1.0, *, generator=None) -> Tensor:
    """Fill with draws from N(mean, std²); a complex tensor gets N(mean, std²/2) in each of its
    real and imaginary parts (a total variance of std²), as in PyTorch."""
    if not std >= 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")
    if not (self.dtype.is_floating_point or self.dtype.is_complex):
        raise _not_for(self, "normal_kernel_cpu")
    rng = generator_for(self.device, generator)
    if self.dtype.is_complex:
        std = std / 2 ** 0.5
    contiguous = self.is_contiguous()
    return _random_write(self, _draws(self, lambda shape, dtype: rng.normal(
        shape, dtype, mean, std, contiguous)))


def bernoulli_(self: Tensor, p=0.5, *, generator=None) -> Tensor:
    if not isinstance(p, Tensor) and not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p:g}")
    if self.dtype.is_complex:
        raise _not_for(self, "bernoulli_scalar_cpu_")
    rng = generator_for(self.device, generator)
    if isinstance(p, Tensor):
        return _random_write(self, _draws(self, lambda shape, _, probs: rng.bernoulli(
            probs, shape), p._data))
    return _random_write(self, _draws(self, lambda shape, _: rng.bernoulli(p, shape)))


def random_(self: Tensor, from_=0, to=None, *, generator=None) -> Tensor:
    if to is not None and from_ >= to:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={from_} "
                           f">= to={to}")
    if self.dtype.is_complex:
        if from_ == 0 and to is None:
            raise _not_for(self, "random_kernel_cpu")
        raise RuntimeError("check_random_bounds handles only integral, floating-point and "
                           "boolean types")
    whole = from_ == 0 and to is None  # random_(): the dtype's whole range
    if to is None:
        from_, to = 0, (from_ if from_ else _max_for(self._data.dtype))
    if not self.dtype.is_floating_point:
        low, high = (0, 1) if self.dtype is _dt.bool else (int(np.iinfo(self._data.dtype).min),
                                                          int(np.iinfo(self._data.dtype).max))
        if from_ < low:
            raise RuntimeError(f"from is out of bounds for {c_type_name(self.dtype)}")
        if to - 1 > high:
            raise RuntimeError(f"to - 1 is out of bounds for {c_type_name(self.dtype)}")
    rng = generator_for(self.device, generator)
    wide = self._data.dtype in (np.int64, np.float64) if whole else None
    return _random_write(self, _draws(self, lambda shape, dtype: rng.integers(
        from_, to, shape, dtype, wide)))


def _max_for(np_dtype) -> int:
    if _dt.np_kind(np_dtype) == "f":
        return 2 ** (_dt.finfo_np(_dt.from_numpy_dtype(np_dtype)).nmant + 1) + 1
    if np_dtype == np.bool_:
        return 2
    return int(np.iinfo(np_dtype).max) + 1


def exponential_(self: Tensor, lambd=1.0, *, generator=None) -> Tensor:
    if not lambd > 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd:g}")
    _continuous_only(self, "Exponential", False)
    rng = generator_for(self.device, generator)
    return _random_write(self, _draws(self, lambda shape, dtype: rng.exponential(shape, dtype,
                                                                                lambd)))


def geometric_(self: Tensor, p, *, generator=None) -> Tensor:
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p:g}")
    if self.dtype.is_complex or self.dtype is _dt.bool:
        raise _not_for(self, "geometric_cpu")
    rng = generator_for(self.device, generator)
    return _random_write(self, _draws(self, lambda shape, dtype: rng.geometric(shape, dtype,
                                                                              p)))


def log_normal_(self: Tensor, mean=1.0, std=2.0, *, generator=None) -> Tensor:
    if not std > 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std:g}")
    if not self.dtype.is_floating_point:
        raise _not_for(self, "log_normal_cpu")
    rng = generator_for(self.device, generator)
    return _random_write(self, _draws(self, lambda shape, dtype: rng.lognormal(
        shape, dtype, mean, std)))


def cauchy_(self: Tensor, median=0.0, sigma=1.0, *, generator=None) -> Tensor:
    if not sigma > 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma:g}")
    _continuous_only(self, "Cauchy", True)
    rng = generator_for(self.device, generator)
    return _random_write(self, _draws(self, lambda shape, dtype: rng.cauchy(
        shape, dtype, median, sigma)))
