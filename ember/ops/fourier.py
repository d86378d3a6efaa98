"""Discrete Fourier transforms (``ember.fft``) on SciPy's FFT (NumPy arrays) or cuFFT (CuPy's;
see ``backend.special.fft``), with PyTorch's argument names (``n``/``s``, ``dim``, ``norm``),
dtypes (float32 in, complex64 out; integer inputs as the default float dtype) and gradients.

Every transform is one of three differentiable primitives, as in PyTorch: complex-to-complex
(``fftn``/``ifftn``), real-to-complex (``rfftn``, the non-negative frequencies of the last
dim) and complex-to-real (``irfftn``); ``hfft*`` and ``ihfft*`` are these with a conjugate and
the opposite normalisation. Each backward is another transform (so gradients are
differentiable again): the adjoint of a transform scaled by c is the transform the other way
scaled by c, i.e. with the dual ``norm``; the real-to-complex adjoint fills the negative
frequencies with zeros, and the complex-to-real one doubles the bins it had mirrored.
``n``/``s`` crop or zero-pad the input first; backward undoes it on the gradient.
"""
from __future__ import annotations

import numpy as np

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive
from ember.backend.device import get_array_module
from ember.backend.special import fft as fft_of
from ember.ops._util import accepts_out, scalar_name, wrap_dim

_NORMS = (None, "backward", "ortho", "forward")
# The norm whose scale the adjoint (or the conjugate-symmetric twin) of a transform carries.
_DUAL = {None: "forward", "backward": "forward", "forward": "backward", "ortho": "ortho"}


def _host_dtype(data):
    if data.dtype.kind in "biu":
        return data.astype(_dt.get_default_dtype().np_dtype)
    return data


def _finish(out, like, real_out: bool = False):
    """Results in the precision of the input: complex64 (or float32) for 32-bit inputs."""
    single = like.dtype in (np.float32, np.complex64, np.float16)
    if real_out:
        dtype = np.float32 if single else np.float64
    else:
        dtype = np.complex64 if single else np.complex128
    return out.astype(dtype, copy=False)


def _resized(t: Tensor, axes: tuple, sizes: tuple) -> Tensor:
    """``t`` cropped or zero-padded at the end of each of ``axes`` to ``sizes``
    (differentiable: the adjoint of one resize is the resize back)."""
    from ember.nn.functional import pad
    for axis, size in zip(axes, sizes):
        have = t.shape[axis]
        if size < have:
            t = t.narrow(axis, 0, size)
        elif size > have:
            widths = [0, 0] * (t.ndim - 1 - axis) + [0, size - have]
            t = pad(t, widths)
    return t


class _C2C(Primitive, node_name="FftC2CBackward0"):
    @staticmethod
    def forward(ctx, x, axes, sizes, norm, inverse):
        xp = get_array_module(x)
        x = _host_dtype(x)
        transform = fft_of(xp).ifftn if inverse else fft_of(xp).fftn
        ctx.args = (axes, tuple(x.shape[a] for a in axes), norm, inverse, x.dtype.kind != "c")
        return _finish(transform(x, s=sizes, axes=axes, norm=norm), x)

    @staticmethod
    def backward(ctx, grad):
        axes, in_sizes, norm, inverse, real_in = ctx.args
        g = _C2C.apply(grad, axes, None, _DUAL.get(norm, norm), not inverse)
        g = _resized(g, axes, in_sizes)
        return (g.real if real_in else g), None, None, None, None


class _R2C(Primitive, node_name="FftR2CBackward0"):
    @staticmethod
    def forward(ctx, x, axes, sizes, norm):
        xp = get_array_module(x)
        x = _host_dtype(x)
        out = fft_of(xp).rfftn(x, s=sizes, axes=axes, norm=norm)
        in_sizes = tuple(x.shape[a] for a in axes)
        ctx.args = (axes, in_sizes, in_sizes if sizes is None else sizes, norm)
        return _finish(out, x)

    @staticmethod
    def backward(ctx, grad):
        axes, in_sizes, full, norm = ctx.args
        # the negative frequencies rfft dropped: zeros, then the complex adjoint's real part
        g = _resized(grad, axes[-1:], full[-1:])
        g = _C2C.apply(g, axes, None, _DUAL.get(norm, norm), True).real
        return _resized(g, axes, in_sizes), None, None, None


class _C2R(Primitive, node_name="FftC2RBackward0"):
    @staticmethod
    def forward(ctx, x, axes, sizes, norm):
        xp = get_array_module(x)
        x = _host_dtype(x)
        out = fft_of(xp).irfftn(x, s=sizes, axes=axes, norm=norm)
        half = tuple(out.shape[a] for a in axes[:-1]) + (out.shape[axes[-1]] // 2 + 1,)
        ctx.args = (axes, tuple(x.shape[a] for a in axes), half, norm)
        return _finish(out, x, real_out=True)

    @staticmethod
    def backward(ctx, grad):
        axes, in_sizes, half, norm = ctx.args
        g = _R2C.apply(grad, axes, None, _DUAL.get(norm, norm))
        # bins 1 .. n - (n // 2 + 1) stood for themselves and their mirror images
        last = axes[-1]
        doubled = grad.shape[last] - half[-1]
        if doubled > 0:
            weight = np.ones(half[-1], grad._data.dtype)
            weight[1:1 + doubled] = 2
            shape = [1] * g.ndim
            shape[last] = half[-1]
            g = g * _make(g._xp.asarray(weight.reshape(shape)))
        return _resized(g, axes, in_sizes), None, None, None


def _axes(input: Tensor, s, dim, default_all: bool) -> tuple:
    """The transform's dims, wrapped: ``dim``; else the last ``len(s)`` with ``s``; else all
    (``default_all``, the N-D transforms) or the last two."""
    if dim is None:
        if s is None:
            return tuple(range(input.ndim)) if default_all else \
                _axes(input, None, (-2, -1), default_all)
        if len(s) > input.ndim:
            raise RuntimeError(f"Got shape with {len(s)} values but input tensor only has "
                               f"{input.ndim} dimensions.")
        return tuple(range(input.ndim - len(s), input.ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    if s is not None and len(s) != len(dims):
        raise RuntimeError("When given, dim and shape arguments must have the same length")
    if dims and not input.ndim:
        raise IndexError(f"Dimension specified as {dims[0]} but tensor has no dimensions")
    axes = tuple(wrap_dim(d, input.ndim) for d in dims)
    if len(set(axes)) != len(axes):
        raise RuntimeError("FFT dims must be unique")
    return axes


def _check(input: Tensor, norm) -> None:
    if norm not in _NORMS:
        raise RuntimeError(f'Invalid normalization mode: "{norm}"')
    if input.dtype is _dt.float16 or input.dtype is _dt.bfloat16:  # as PyTorch's CPU kernels
        raise RuntimeError(f"Unsupported dtype {scalar_name(input.dtype)}")


def _sizes(input: Tensor, s, axes: tuple, real_out: bool) -> tuple | None:
    """``s`` as ints, checked: every transformed length (``s``'s, or the input's where ``s`` is
    None or -1; a complex-to-real transform's last one 2 * (m - 1)) at least 1."""
    sizes = None if s is None else tuple(int(v) for v in s)
    lengths = [input.shape[a] if sizes is None or sizes[i] == -1 else sizes[i]
               for i, a in enumerate(axes)]
    if real_out and axes and (sizes is None or sizes[-1] == -1):
        lengths[-1] = 2 * (lengths[-1] - 1)
    for v in lengths:
        if v < 1:
            raise RuntimeError(f"Invalid number of data points ({v}) specified")
    return sizes


def _c2c(input, s, dim, norm, inverse: bool, default_all: bool = True) -> Tensor:
    _check(input, norm)
    axes = _axes(input, s, dim, default_all)
    return _C2C.apply(input, axes, _sizes(input, s, axes, False), norm, inverse)


# PyTorch's words for a complex input to a real-to-complex transform
_REAL_ONLY = {"rfft": "rfft expects a real input tensor, but got",
              "ihfft": "ihfft expects a real input tensor, but got",
              "rfftn": "rfftn expects a real-valued input tensor, but got",
              "ihfftn": "Only supports floating-point dtypes, but found:"}


def _r2c(input, s, dim, norm, name: str, default_all: bool = True) -> Tensor:
    _check(input, norm)
    if input.is_complex():
        raise RuntimeError(f"{_REAL_ONLY[name]} {scalar_name(input.dtype)}")
    axes = _axes(input, s, dim, default_all)
    if not axes:
        raise RuntimeError(f"{name} must transform at least one axis")
    return _R2C.apply(input, axes, _sizes(input, s, axes, False), norm)


def _c2r(input, s, dim, norm, name: str, default_all: bool = True) -> Tensor:
    _check(input, norm)
    axes = _axes(input, s, dim, default_all)
    if not axes:
        raise RuntimeError(f"{name} must transform at least one axis")
    if name[-1] == "n":  # the N-D transforms check the input's lengths first, as PyTorch's
        _sizes(input, s, axes, False)
    return _C2R.apply(input, axes, _sizes(input, s, axes, True), norm)


def _n(n) -> tuple | None:
    if n is not None and n < 1:
        raise RuntimeError(f"Invalid number of data points ({n}) specified")
    return None if n is None else (n,)


@accepts_out
def fft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None):
    """The 1-D discrete Fourier transform along ``dim`` (``n``: crop or zero-pad first)."""
    return _c2c(input, _n(n), dim, norm, False)


@accepts_out
def ifft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None):
    return _c2c(input, _n(n), dim, norm, True)


@accepts_out
def rfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None):
    """The FFT of a real signal: the n // 2 + 1 non-negative frequencies."""
    return _r2c(input, _n(n), dim, norm, "rfft")


@accepts_out
def irfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None):
    """The inverse of ``rfft``: a real signal of length ``n`` (2 * (m - 1) by default)."""
    return _c2r(input, _n(n), dim, norm, "irfft")


@accepts_out
def hfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None):
    """The FFT of a Hermitian-symmetric signal given by its first half: a real result."""
    return _c2r(input.conj(), _n(n), dim, _DUAL.get(norm, norm), "hfft")


@accepts_out
def ihfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None):
    """The inverse of ``hfft``: the first half of the inverse FFT of a real signal."""
    return _r2c(input, _n(n), dim, _DUAL.get(norm, norm), "ihfft").conj()


@accepts_out
def fft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None):
    return _c2c(input, s, dim, norm, False, default_all=False)


@accepts_out
def ifft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None):
    return _c2c(input, s, dim, norm, True, default_all=False)


@accepts_out
def rfft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None):
    return _r2c(input, s, dim, norm, "rfftn", default_all=False)


@accepts_out
def irfft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None):
    return _c2r(input, s, dim, norm, "irfftn", default_all=False)


@accepts_out
def hfft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None):
    return _c2r(input.conj(), s, dim, _DUAL.get(norm, norm), "hfftn", default_all=False)


@accepts_out
def ihfft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None):
    return _r2c(input, s, dim, _DUAL.get(norm, norm), "ihfftn", default_all=False).conj()


@accepts_out
def fftn(input: Tensor, s=None, dim=None, norm: str | None = None):
    """The N-D FFT over ``dim`` (all dims by default, or the last len(s))."""
    return _c2c(input, s, dim, norm, False)


@accepts_out
def ifftn(input: Tensor, s=None, dim=None, norm: str | None = None):
    return _c2c(input, s, dim, norm, True)


@accepts_out
def rfftn(input: Tensor, s=None, dim=None, norm: str | None = None):
    return _r2c(input, s, dim, norm, "rfftn")


@accepts_out
def irfftn(input: Tensor, s=None, dim=None, norm: str | None = None):
    return _c2r(input, s, dim, norm, "irfftn")


@accepts_out
def hfftn(input: Tensor, s=None, dim=None, norm: str | None = None):
    """The N-D FFT of a Hermitian-symmetric signal given by its first half in the last dim."""
    return _c2r(input.conj(), s, dim, _DUAL.get(norm, norm), "hfftn")


@accepts_out
def ihfftn(input: Tensor, s=None, dim=None, norm: str | None = None):
    return _r2c(input, s, dim, _DUAL.get(norm, norm), "ihfftn").conj()


def _frequencies(name: str, values, n: int, d: float, dtype, device,
                 requires_grad: bool) -> Tensor:
    """``values`` / (n * d) as a tensor of a floating ``dtype`` (0 / 0 is NaN, as PyTorch's)."""
    from ember._creation import _finish as _make_on
    from ember._creation import _np_dtype
    if dtype is not None and not (dtype.is_floating_point or dtype.is_complex):
        raise RuntimeError(f"{name} requires a floating point or complex dtype")
    with np.errstate(divide="ignore", invalid="ignore"):
        values = np.asarray(values, np.float64) / (n * d)
    return _make_on(values.astype(_np_dtype(dtype)), device, requires_grad)


@accepts_out
def fftfreq(n: int, d: float = 1.0, *, dtype=None, layout=None, device=None,
            requires_grad: bool = False) -> Tensor:
    """The sample frequencies of an ``n``-point FFT with sample spacing ``d``."""
    values = [*range((n + 1) // 2), *range(-(n // 2), 0)]
    return _frequencies("fftfreq", values, n, d, dtype, device, requires_grad)


@accepts_out
def rfftfreq(n: int, d: float = 1.0, *, dtype=None, layout=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """The non-negative sample frequencies of ``rfft`` of ``n`` points."""
    return _frequencies("rfftfreq", range(n // 2 + 1), n, d, dtype, device, requires_grad)


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
