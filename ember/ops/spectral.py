"""Window functions and the short-time Fourier transform (``stft`` / ``istft``), with PyTorch's
conventions (frequency before time, centred frames, reflect padding). The transforms compose
differentiable ops (padding, framing, windowing, ``ember.fft``, overlap-add), so gradients of
any order flow to the signal, the spectrum and the window."""
from __future__ import annotations

import math

import numpy as np

from ember import dtypes as _dt
from ember._tensor import Tensor
from ember.autograd.function import Primitive
from ember.backend import kernels as K
from ember.backend.device import get_array_module
from ember.ops.fourier import fft, ifft, irfft, rfft
from ember.ops.reshaping import view_as_real
from ember.ops.resizing import pad

# ---------------------------------------------------------------------------------------------
# Windows: computed in float64 on the host, then made in the requested dtype and device.


def _window(name: str, values: np.ndarray, dtype, layout, device,
            requires_grad: bool) -> Tensor:
    from ember._creation import _finish, _np_dtype
    d = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    if not d.is_floating_point:
        raise RuntimeError(f"{name} expects floating point dtypes, got: {d}")
    return _finish(values.astype(_np_dtype(d)), device, requires_grad)


def _positions(name: str, window_length: int, periodic: bool):
    """(n, denominator) for a window of ``window_length`` points; a periodic window is the
    symmetric window one point longer, without its last point."""
    if window_length < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got "
                           f"window_length={window_length}")
    n = np.arange(window_length, dtype=np.float64)
    return n, float(window_length if periodic else window_length - 1)


def _cosine_sum(name: str, window_length: int, periodic: bool, coefs) -> np.ndarray:
    if window_length == 1:
        return np.ones(1)
    n, denom = _positions(name, window_length, periodic)
    out = np.zeros(window_length)
    for k, a in enumerate(coefs):
        out += (-1) ** k * a * np.cos(2 * math.pi * k * n / denom)
    return out


def hann_window(window_length: int, periodic: bool = True, *, dtype=None, layout=None,
                device=None, requires_grad: bool = False) -> Tensor:
    """The Hann window: 0.5 - 0.5 cos(2 pi n / N)."""
    return _window("hann_window", _cosine_sum("hann_window", window_length, periodic, (0.5, 0.5)),
                   dtype, layout, device, requires_grad)


def hamming_window(window_length: int, periodic: bool = True, alpha: float = 0.54,
                   beta: float = 0.46, *, dtype=None, layout=None, device=None,
                   requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """The Hamming window: alpha - beta cos(2 pi n / N) (``pin_memory`` is accepted and
    ignored, as the factories do)."""
    values = _cosine_sum("hamming_window", window_length, periodic, (alpha, beta))
    return _window("hamming_window", values, dtype, layout, device, requires_grad)


def blackman_window(window_length: int, periodic: bool = True, *, dtype=None, layout=None,
                    device=None, requires_grad: bool = False) -> Tensor:
    """The Blackman window: 0.42 - 0.5 cos(2 pi n / N) + 0.08 cos(4 pi n / N)."""
    values = _cosine_sum("blackman_window", window_length, periodic, (0.42, 0.5, 0.08))
    return _window("blackman_window", values, dtype, layout, device, requires_grad)


def bartlett_window(window_length: int, periodic: bool = True, *, dtype=None, layout=None,
                    device=None, requires_grad: bool = False) -> Tensor:
    """The triangular Bartlett window: 1 - |2n / N - 1|."""
    if window_length == 1:
        values = np.ones(1)
    else:
        n, denom = _positions("bartlett_window", window_length, periodic)
        values = 1.0 - np.abs(2.0 * n / denom - 1.0)
    return _window("bartlett_window", values, dtype, layout, device, requires_grad)


def kaiser_window(window_length: int, periodic: bool = True, beta: float = 12.0, *,
                  dtype=None, layout=None, device=None, requires_grad: bool = False) -> Tensor:
    """The Kaiser window: I0(beta sqrt(1 - (2n / N - 1)^2)) / I0(beta)."""
    if window_length == 1:
        values = np.ones(1)
    else:
        n, denom = _positions("kaiser_window", window_length, periodic)
        ratio = np.clip(1.0 - (2.0 * n / denom - 1.0) ** 2, 0.0, None)
        values = np.i0(beta * np.sqrt(ratio)) / np.i0(beta)
    return _window("kaiser_window", values, dtype, layout, device, requires_grad)


# ---------------------------------------------------------------------------------------------
# Framing and overlap-add: each is the other's adjoint, so each backward is the other op and
# gradients of any order follow. (``Tensor.unfold``'s backward scatters element by element and
# ``F.fold`` adds one slice per kernel offset; these add one slice per hop-long block.)


class _Frames(Primitive, node_name="UnfoldBackward0"):
    """``n`` frames of ``size`` samples, ``hop`` apart, along the last dim: (..., L) ->
    (..., n, size), a strided view like ``Tensor.unfold``'s."""

    _is_view = True

    @staticmethod
    def forward(ctx, x, size, hop, n):
        ctx.args = (hop, x.shape[-1])
        return K.windows(x, (size,), (hop,), (1,))[..., :n, :]

    @staticmethod
    def backward(ctx, grad):
        hop, length = ctx.args
        return _OverlapAdd.apply(grad, hop, length), None, None, None


class _OverlapAdd(Primitive, node_name="UnfoldBackwardBackward0"):
    """Frames (..., n, size) summed into a signal of ``length`` samples, frame t at t * hop."""

    @staticmethod
    def forward(ctx, frames, hop, length):
        xp = get_array_module(frames)
        *lead, n, size = frames.shape
        ctx.args = (size, hop, n)
        blocks = -(-size // hop)  # the hop-long blocks one frame covers
        rows = max(n + blocks - 1, -(-length // hop))
        out = xp.zeros((*lead, rows, hop), frames.dtype)
        for j in range(blocks):  # block j of frame t lands in row t + j: all frames at once
            width = min(hop, size - j * hop)
            out[..., j:j + n, :width] += frames[..., j * hop:j * hop + width]
        return out.reshape(*lead, rows * hop)[..., :length]

    @staticmethod
    def backward(ctx, grad):
        size, hop, n = ctx.args
        return _Frames.apply(grad, size, hop, n), None, None


# ---------------------------------------------------------------------------------------------
# Short-time Fourier transform


def _padded_window(window: Tensor | None, win_length: int, n_fft: int, like: Tensor) -> Tensor:
    """The window (ones without one), zero-padded on both sides to ``n_fft`` samples."""
    if window is None:
        from ember._creation import ones
        window = ones(win_length, dtype=like.dtype.to_real(), device=like.device)
    elif window.ndim != 1 or window.shape[0] != win_length:
        raise RuntimeError(f"stft: expected a 1D window tensor of size equal to win_length="
                           f"{win_length}, but got window with size {list(window.shape)}")
    left = (n_fft - win_length) // 2
    return pad(window, (left, n_fft - win_length - left)) if win_length < n_fft else window


def _lengths(n_fft: int, hop_length: int | None, win_length: int | None) -> tuple[int, int]:
    return (n_fft // 4 if hop_length is None else hop_length,
            n_fft if win_length is None else win_length)


def stft(input: Tensor, n_fft: int, hop_length: int | None = None,
         win_length: int | None = None, window: Tensor | None = None, center: bool = True,
         pad_mode: str = "reflect", normalized: bool = False, onesided: bool | None = None,
         return_complex: bool | None = None, align_to_window: bool | None = None) -> Tensor:
    """The STFT of a 1-D signal or a batch of them: (batch?, frequencies, frames) complex
    values (or a trailing (real, imag) pair without ``return_complex``).

    Frame t holds ``n_fft`` samples from ``t * hop_length`` of the signal (padded by
    ``n_fft // 2`` on both sides with ``pad_mode`` when ``center``), times the window
    zero-padded to ``n_fft`` in the middle. ``align_to_window`` (only with ``center=False``)
    starts each frame's window, not its ``n_fft`` span, at ``t * hop_length``.

    Example::

        >>> spec = ember.stft(signal, 400, hop_length=160, window=ember.hann_window(400),
        ...                   return_complex=True)
    """
    complex_in = input.is_complex() or (window is not None and window.is_complex())
    if return_complex is None:
        if not complex_in:
            raise RuntimeError("stft requires the return_complex parameter be given for real "
                               "inputs, and will further require that return_complex=True in "
                               "a future PyTorch release.")
        return_complex = True
    if align_to_window is not None and center:
        raise RuntimeError("stft align_to_window should only be set when center = false")
    if input.ndim not in (1, 2):
        raise RuntimeError(f"stft: expected a 1D or 2D tensor, but got {input.ndim}D")
    if not (input.is_floating_point() or input.is_complex()):
        raise RuntimeError(f"stft: expected a tensor of floating point or complex values, but "
                           f"got {input.dtype}")
    hop, win_length = _lengths(n_fft, hop_length, win_length)
    if not 0 < win_length <= n_fft:
        raise RuntimeError(f"stft: expected 0 < win_length <= n_fft, but got "
                           f"win_length={win_length}")
    if hop <= 0:
        raise RuntimeError(f"stft: expected hop_length > 0, but got hop_length={hop}")
    onesided = (not complex_in) if onesided is None else onesided
    if onesided and complex_in:
        raise RuntimeError("Cannot have onesided output if window or input is complex")
    x = input if input.ndim == 2 else input.unsqueeze(0)
    if center:
        half = n_fft // 2
        # padded as (1, batch, time), as PyTorch does, so that errors name the same shape
        x = pad(x.unsqueeze(0), (half, half), mode=pad_mode).squeeze(0)
    length = x.shape[-1]
    if not 0 < n_fft <= length:  # PyTorch asks this of align_to_window's shorter frames too
        raise RuntimeError(f"stft: expected 0 < n_fft <= {length}, but got n_fft={n_fft}")
    if align_to_window and win_length < n_fft:
        left = (n_fft - win_length) // 2  # the window's place in the frame: shift the signal
        x = pad(x, (left, n_fft - win_length - left))
    n_frames = 1 + (x.shape[-1] - n_fft) // hop
    frames = _Frames.apply(x, n_fft, hop, n_frames) * _padded_window(window, win_length,
                                                                        n_fft, input)
    norm = "ortho" if normalized else None
    spec = rfft(frames, norm=norm) if onesided else fft(frames, norm=norm)
    # contiguous (PyTorch returns the transposed view): ember's view_as_real needs that
    spec = spec.transpose(-1, -2).contiguous()
    spec = spec if input.ndim == 2 else spec.squeeze(0)
    return spec if return_complex else view_as_real(spec)


def istft(input: Tensor, n_fft: int, hop_length: int | None = None,
          win_length: int | None = None, window: Tensor | None = None, center: bool = True,
          normalized: bool = False, onesided: bool | None = None, length: int | None = None,
          return_complex: bool = False) -> Tensor:
    """The inverse of ``stft``: overlap-add of the windowed inverse transforms of the frames,
    divided by the overlap-added squared window (which must not vanish anywhere inside the
    output), trimmed (or zero-padded) to ``length``."""
    if not input.is_complex():
        raise RuntimeError("istft requires a complex-valued input tensor")
    if input.ndim not in (2, 3):
        raise RuntimeError(f"istft: expected a tensor with 2 or 3 dimensions of complex values,"
                           f" but got {input.ndim}")
    hop, win_length = _lengths(n_fft, hop_length, win_length)
    if not 0 < win_length <= n_fft:
        raise RuntimeError(f"istft: expected 0 < win_length <= n_fft, but got "
                           f"win_length={win_length}")
    if not 0 < hop <= win_length:
        raise RuntimeError("istft: expected 0 < hop_length <= win_length")
    spec = input if input.ndim == 3 else input.unsqueeze(0)
    n_freq, n_frames = spec.shape[-2:]
    onesided = (n_freq != n_fft) if onesided is None else onesided
    if onesided and n_freq != n_fft // 2 + 1:
        raise RuntimeError("istft: expected the frequency dimension (3rd to the last) of the "
                           "input tensor to match n_fft / 2 + 1 when onesided=True, but got "
                           f"{n_freq}")
    if not onesided and n_freq != n_fft:
        raise RuntimeError("istft: expected the frequency dimension (3rd to the last) of the "
                           f"input tensor to match n_fft when onesided=False, but got {n_freq}")
    if return_complex and onesided:
        raise RuntimeError("Cannot have onesided output if window or input is complex")
    if not return_complex and window is not None and window.is_complex():
        raise RuntimeError("Complex windows are incompatible with return_complex=False")
    spec = spec.transpose(-1, -2)  # (batch, frames, freq)
    norm = "ortho" if normalized else None
    if return_complex:
        frames = ifft(spec, n=n_fft, norm=norm)
    else:  # a two-sided spectrum is taken as Hermitian: only its first half is read
        frames = irfft(spec.narrow(-1, 0, n_fft // 2 + 1), n=n_fft, norm=norm)
    w = _padded_window(window, win_length, n_fft, input)
    total = n_fft + hop * (n_frames - 1)
    signal = _OverlapAdd.apply(frames * w, hop, total)
    envelope = _OverlapAdd.apply((w * w).expand(n_frames, n_fft), hop, total)
    start = n_fft // 2 if center else 0
    end = min(total - start if length is None else start + length, total)
    envelope = envelope[start:end]
    if (envelope._xp.abs(envelope._data) < 1e-11).any():
        raise RuntimeError("istft: window overlap add min: 0 (the window's squared overlap-add "
                           "must not vanish)")
    signal = signal[..., start:end] / envelope
    if length is not None and signal.shape[-1] < length:
        signal = pad(signal, (0, length - signal.shape[-1]))
    return signal if input.ndim == 3 else signal.squeeze(0)
