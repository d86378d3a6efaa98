"""Window functions and the short-time Fourier transform (``stft`` / ``istft``), with PyTorch's
conventions (frequency before time, centred frames, reflect padding). The transforms run on the
array module's FFT and record no gradient."""
from __future__ import annotations

import math

import numpy as np

from ember import dtypes as _dt
from ember._tensor import Tensor, _make

# ---------------------------------------------------------------------------------------------
# Windows: computed in float64 on the host, then made in the requested dtype and device.


def _window(values: np.ndarray, dtype, layout, device, requires_grad: bool) -> Tensor:
    from ember._creation import _finish, _np_dtype
    d = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    if not d.is_floating_point:
        raise RuntimeError(f"window functions expect a floating point dtype, got {d}")
    return _finish(values.astype(_np_dtype(d)), device, requires_grad)


def _positions(window_length: int, periodic: bool):
    """(n, denominator) for a window of ``window_length`` points; a periodic window is the
    symmetric window one point longer, without its last point."""
    if window_length < 0:
        raise RuntimeError(f"window_length must be non-negative, got {window_length}")
    n = np.arange(window_length, dtype=np.float64)
    return n, float(window_length if periodic else window_length - 1)


def _cosine_sum(window_length: int, periodic: bool, coefs) -> np.ndarray:
    if window_length == 1:
        return np.ones(1)
    n, denom = _positions(window_length, periodic)
    out = np.zeros(window_length)
    for k, a in enumerate(coefs):
        out += (-1) ** k * a * np.cos(2 * math.pi * k * n / denom)
    return out


def hann_window(window_length: int, periodic: bool = True, *, dtype=None, layout=None,
                device=None, requires_grad: bool = False) -> Tensor:
    """The Hann window: 0.5 - 0.5 cos(2 pi n / N)."""
    return _window(_cosine_sum(window_length, periodic, (0.5, 0.5)), dtype, layout, device,
                   requires_grad)


def hamming_window(window_length: int, periodic: bool = True, alpha: float = 0.54,
                   beta: float = 0.46, *, dtype=None, layout=None, device=None,
                   requires_grad: bool = False) -> Tensor:
    """The Hamming window: alpha - beta cos(2 pi n / N)."""
    return _window(_cosine_sum(window_length, periodic, (alpha, beta)), dtype, layout, device,
                   requires_grad)


def blackman_window(window_length: int, periodic: bool = True, *, dtype=None, layout=None,
                    device=None, requires_grad: bool = False) -> Tensor:
    """The Blackman window: 0.42 - 0.5 cos(2 pi n / N) + 0.08 cos(4 pi n / N)."""
    return _window(_cosine_sum(window_length, periodic, (0.42, 0.5, 0.08)), dtype, layout,
                   device, requires_grad)


def bartlett_window(window_length: int, periodic: bool = True, *, dtype=None, layout=None,
                    device=None, requires_grad: bool = False) -> Tensor:
    """The triangular Bartlett window: 1 - |2n / N - 1|."""
    if window_length == 1:
        values = np.ones(1)
    else:
        n, denom = _positions(window_length, periodic)
        values = 1.0 - np.abs(2.0 * n / denom - 1.0)
    return _window(values, dtype, layout, device, requires_grad)


def kaiser_window(window_length: int, periodic: bool = True, beta: float = 12.0, *,
                  dtype=None, layout=None, device=None, requires_grad: bool = False) -> Tensor:
    """The Kaiser window: I0(beta sqrt(1 - (2n / N - 1)^2)) / I0(beta)."""
    if window_length == 1:
        values = np.ones(1)
    else:
        n, denom = _positions(window_length, periodic)
        ratio = np.clip(1.0 - (2.0 * n / denom - 1.0) ** 2, 0.0, None)
        values = np.i0(beta * np.sqrt(ratio)) / np.i0(beta)
    return _window(values, dtype, layout, device, requires_grad)


# ---------------------------------------------------------------------------------------------
# Short-time Fourier transform

_PAD_MODES = {"reflect": "reflect", "constant": "constant", "replicate": "edge",
              "circular": "wrap"}


def _padded_window(window: Tensor | None, win_length: int, n_fft: int, like: Tensor):
    xp = like._xp
    real = like._data.real.dtype
    w = xp.ones(win_length, real) if window is None else window._data
    if w.shape[0] != win_length:
        raise RuntimeError(f"stft: expected a 1D window tensor of size equal to win_length="
                           f"{win_length}, but got window with size {list(w.shape)}")
    left = (n_fft - win_length) // 2
    return xp.pad(w, (left, n_fft - win_length - left))


def stft(input: Tensor, n_fft: int, hop_length: int | None = None,
         win_length: int | None = None, window: Tensor | None = None, center: bool = True,
         pad_mode: str = "reflect", normalized: bool = False, onesided: bool | None = None,
         return_complex: bool | None = None) -> Tensor:
    """The STFT of a 1-D signal or a batch of them: (batch?, frequencies, frames) complex
    values (or a trailing (real, imag) pair without ``return_complex``).

    Example::

        >>> spec = ember.stft(signal, 400, hop_length=160, window=ember.hann_window(400),
        ...                   return_complex=True)
    """
    if return_complex is None:
        if not (input.is_complex() or (window is not None and window.is_complex())):
            raise RuntimeError("stft requires the return_complex parameter be given for real "
                               "inputs, and will further require that return_complex=True in "
                               "a future PyTorch release.")
        return_complex = True
    if input.ndim not in (1, 2):
        raise RuntimeError(f"stft: expected a 1D or 2D tensor, but got {input.ndim}D")
    hop = n_fft // 4 if hop_length is None else hop_length
    win_length = n_fft if win_length is None else win_length
    if not 0 < win_length <= n_fft:
        raise RuntimeError(f"stft: expected 0 < win_length <= n_fft, but got "
                           f"win_length={win_length}")
    if hop <= 0:
        raise RuntimeError(f"stft: expected hop_length > 0, but got hop_length={hop}")
    xp = input._xp
    x = input._data if input.ndim == 2 else input._data[None]
    if center:
        pad = n_fft // 2
        x = xp.pad(x, ((0, 0), (pad, pad)), mode=_PAD_MODES[pad_mode])
    length = x.shape[-1]
    if not 0 < n_fft <= length:
        raise RuntimeError(f"stft: expected 0 < n_fft <= {length}, but got n_fft={n_fft}")
    n_frames = 1 + (length - n_fft) // hop
    starts = xp.arange(n_frames) * hop
    frames = x[:, starts[:, None] + xp.arange(n_fft)]  # (batch, frames, n_fft)
    frames = frames * _padded_window(window, win_length, n_fft, input)
    complex_in = input.is_complex() or (window is not None and window.is_complex())
    onesided = (not complex_in) if onesided is None else onesided
    spec = xp.fft.rfft(frames, axis=-1) if onesided else xp.fft.fft(frames, axis=-1)
    if normalized:
        spec = spec / math.sqrt(n_fft)
    ctype = np.result_type(x.dtype, np.complex64)
    spec = spec.swapaxes(-1, -2).astype(ctype, copy=False)
    spec = spec if input.ndim == 2 else spec[0]
    out = _make(xp.ascontiguousarray(spec))
    if return_complex:
        return out
    from ember.ops.reshaping import view_as_real
    return view_as_real(out)


def istft(input: Tensor, n_fft: int, hop_length: int | None = None,
          win_length: int | None = None, window: Tensor | None = None, center: bool = True,
          normalized: bool = False, onesided: bool | None = None, length: int | None = None,
          return_complex: bool = False) -> Tensor:
    """The inverse of ``stft``: overlap-add of the inverse transforms of the frames, divided by
    the summed squared window (which must not vanish anywhere inside the output)."""
    if not input.is_complex():
        raise RuntimeError("istft requires a complex-valued input tensor")
    if input.ndim not in (2, 3):
        raise RuntimeError(f"istft: expected a tensor with 2 or 3 dimensions of complex values,"
                           f" but got {input.ndim}")
    hop = n_fft // 4 if hop_length is None else hop_length
    win_length = n_fft if win_length is None else win_length
    xp = input._xp
    spec = input._data if input.ndim == 3 else input._data[None]
    n_freq, n_frames = spec.shape[-2:]
    onesided = (n_freq != n_fft) if onesided is None else onesided
    if normalized:
        spec = spec * math.sqrt(n_fft)
    spec = spec.swapaxes(-1, -2)  # (batch, frames, freq)
    if onesided:
        frames = xp.fft.irfft(spec, n=n_fft, axis=-1)
    else:
        frames = xp.fft.ifft(spec, n=n_fft, axis=-1)
        frames = frames if return_complex else frames.real
    w = _padded_window(window, win_length, n_fft, input)
    frames = frames * w
    total = n_fft + hop * (n_frames - 1)
    signal = xp.zeros((spec.shape[0], total), frames.dtype)
    envelope = xp.zeros(total, w.dtype)
    for t in range(n_frames):
        signal[:, t * hop:t * hop + n_fft] += frames[:, t]
        envelope[t * hop:t * hop + n_fft] += w * w
    start = n_fft // 2 if center else 0
    end = total - (n_fft // 2 if center else 0) if length is None else start + length
    end = min(end, total)
    if (xp.abs(envelope[start:end]) < 1e-11).any():
        raise RuntimeError("istft: window overlap add min: 0 (the window's squared overlap-add "
                           "must not vanish)")
    signal = signal[:, start:end] / envelope[start:end]
    if length is not None and signal.shape[-1] < length:
        signal = xp.pad(signal, ((0, 0), (0, length - signal.shape[-1])))
    signal = signal if input.ndim == 3 else signal[0]
    return _make(xp.ascontiguousarray(signal))

