"""Discrete Fourier transforms (``ember.fft``) on the array module's FFT, with PyTorch's
argument names (``n``/``s``, ``dim``, ``norm``) and dtypes (float32 in, complex64 out; integer
inputs as the default float dtype). They record no gradient."""
from __future__ import annotations

import numpy as np

from ember import dtypes as _dt
from ember._tensor import Tensor, _make

_NORMS = (None, "backward", "ortho", "forward")


def _prepare(input: Tensor, norm):
    if norm not in _NORMS:
        raise RuntimeError(f"Invalid normalization mode: {norm}")
    data = input._data
    if data.dtype.kind in "biu":
        data = data.astype(_dt.get_default_dtype().np_dtype)
    return input._xp, data


def _finish(out, like, real_out: bool = False) -> Tensor:
    """Results in the precision of the input: complex64 (or float32) for 32-bit inputs."""
    single = like.dtype in (np.float32, np.complex64, np.float16)
    if real_out:
        dtype = np.float32 if single else np.float64
    else:
        dtype = np.complex64 if single else np.complex128
    return _make(out.astype(dtype, copy=False))


def _one_dim(kind: str, input: Tensor, n, dim: int, norm, real_out: bool = False) -> Tensor:
    xp, data = _prepare(input, norm)
    return _finish(getattr(xp.fft, kind)(data, n=n, axis=dim, norm=norm), data, real_out)


def _many_dims(kind: str, input: Tensor, s, dim, norm, real_out: bool = False) -> Tensor:
    xp, data = _prepare(input, norm)
    axes = None if dim is None else ((dim,) if isinstance(dim, int) else tuple(dim))
    if s is not None and axes is None:
        axes = tuple(range(-len(s), 0))
    return _finish(getattr(xp.fft, kind)(data, s=s, axes=axes, norm=norm), data, real_out)


def fft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None):
    """The 1-D discrete Fourier transform along ``dim`` (``n``: crop or zero-pad first)."""
    return _one_dim("fft", input, n, dim, norm)


def ifft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None):
    return _one_dim("ifft", input, n, dim, norm)


def rfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None):
    """The FFT of a real signal: the n // 2 + 1 non-negative frequencies."""
    if input.is_complex():
        raise RuntimeError("rfft expects a real input tensor, but got ComplexFloat")
    return _one_dim("rfft", input, n, dim, norm)


def irfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None):
    """The inverse of ``rfft``: a real signal of length ``n`` (2 * (m - 1) by default)."""
    return _one_dim("irfft", input, n, dim, norm, real_out=True)


def hfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None):
    """The FFT of a Hermitian-symmetric signal given by its first half: a real result."""
    return _one_dim("hfft", input, n, dim, norm, real_out=True)


def ihfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None):
    return _one_dim("ihfft", input, n, dim, norm)


def fft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None):
    return _many_dims("fftn", input, s, dim, norm)


def ifft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None):
    return _many_dims("ifftn", input, s, dim, norm)


def rfft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None):
    return _many_dims("rfftn", input, s, dim, norm)


def irfft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None):
    return _many_dims("irfftn", input, s, dim, norm, real_out=True)


def fftn(input: Tensor, s=None, dim=None, norm: str | None = None):
    """The N-D FFT over ``dim`` (all dims by default, or the last len(s))."""
    return _many_dims("fftn", input, s, dim, norm)


def ifftn(input: Tensor, s=None, dim=None, norm: str | None = None):
    return _many_dims("ifftn", input, s, dim, norm)


def rfftn(input: Tensor, s=None, dim=None, norm: str | None = None):
    return _many_dims("rfftn", input, s, dim, norm)


def irfftn(input: Tensor, s=None, dim=None, norm: str | None = None):
    return _many_dims("irfftn", input, s, dim, norm, real_out=True)


def _frequencies(values: np.ndarray, dtype, device, requires_grad: bool) -> Tensor:
    from ember._creation import _finish as _make_on
    from ember._creation import _np_dtype
    return _make_on(values.astype(_np_dtype(dtype)), device, requires_grad)


def fftfreq(n: int, d: float = 1.0, *, dtype=None, layout=None, device=None,
            requires_grad: bool = False) -> Tensor:
    """The sample frequencies of an ``n``-point FFT with sample spacing ``d``."""
    return _frequencies(np.fft.fftfreq(n, d), dtype, device, requires_grad)


def rfftfreq(n: int, d: float = 1.0, *, dtype=None, layout=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """The non-negative sample frequencies of ``rfft`` of ``n`` points."""
    return _frequencies(np.fft.rfftfreq(n, d), dtype, device, requires_grad)


def fftshift(input: Tensor, dim=None) -> Tensor:
    """Move the zero frequency to the centre (a roll by half of each dim)."""
    from ember.ops.movement import roll
    dims = tuple(range(input.ndim)) if dim is None else ((dim,) if isinstance(dim, int)
                                                          else tuple(dim))
    return roll(input, tuple(input.shape[d] // 2 for d in dims), dims)


def ifftshift(input: Tensor, dim=None) -> Tensor:
    """The inverse of ``fftshift``."""
    from ember.ops.movement import roll
    dims = tuple(range(input.ndim)) if dim is None else ((dim,) if isinstance(dim, int)
                                                          else tuple(dim))
    return roll(input, tuple(-(input.shape[d] // 2) for d in dims), dims)
