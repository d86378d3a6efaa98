"""ember.stft / ember.istft: values against a NumPy reference, and first and second derivatives
(float64 gradcheck / gradgradcheck) through the signal, the spectrum and the window. Complex
tensors enter and leave the checked functions as (real, imag) pairs."""
import math
import re

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(0)
_NP_PAD = {"reflect": "reflect", "constant": "constant", "replicate": "edge",
           "circular": "wrap"}


def _np_stft(x, n_fft, hop, win_length=None, window=None, center=True, pad_mode="reflect",
             normalized=False, onesided=None, align_to_window=False):
    win_length = n_fft if win_length is None else win_length
    w = np.ones(win_length) if window is None else window
    onesided = not (np.iscomplexobj(x) or np.iscomplexobj(w)) if onesided is None else onesided
    batch = np.atleast_2d(x)
    if center:
        batch = np.pad(batch, ((0, 0), (n_fft // 2, n_fft // 2)), mode=_NP_PAD[pad_mode])
    left = (n_fft - win_length) // 2
    span = win_length if align_to_window else n_fft
    frames = []
    for s in range(0, batch.shape[-1] - span + 1, hop):
        frame = np.zeros((batch.shape[0], n_fft), np.result_type(batch, w))
        if align_to_window:
            frame[:, left:left + win_length] = batch[:, s:s + win_length] * w
        else:
            frame[:, left:left + win_length] = batch[:, s + left:s + left + win_length] * w
        frames.append(frame)
    spec = np.fft.fft(np.stack(frames, -1), axis=-2)  # (batch, freq, frames)
    spec = spec[:, :n_fft // 2 + 1] if onesided else spec
    spec = spec / math.sqrt(n_fft) if normalized else spec
    return spec if np.ndim(x) == 2 else spec[0]


def _np_istft(spec, n_fft, hop, win_length=None, window=None, center=True, normalized=False,
              length=None, return_complex=False):
    win_length = n_fft if win_length is None else win_length
    batch = spec if spec.ndim == 3 else spec[None]
    batch = batch * math.sqrt(n_fft) if normalized else batch
    if return_complex:
        frames = np.fft.ifft(batch, axis=-2)
    else:
        frames = np.fft.irfft(batch[:, :n_fft // 2 + 1], n=n_fft, axis=-2)
    left = (n_fft - win_length) // 2
    w = np.zeros(n_fft, np.result_type(float, window))
    w[left:left + win_length] = 1 if window is None else window
    n_frames = batch.shape[-1]
    total = n_fft + hop * (n_frames - 1)
    signal = np.zeros((batch.shape[0], total), frames.dtype)
    envelope = np.zeros(total, w.dtype)
    for t in range(n_frames):
        signal[:, t * hop:t * hop + n_fft] += frames[..., t] * w
        envelope[t * hop:t * hop + n_fft] += w * w
    start = n_fft // 2 if center else 0
    end = total - start if length is None else min(start + length, total)
    signal = signal[:, start:end] / envelope[start:end]
    if length is not None:
        signal = np.pad(signal, ((0, 0), (0, length - signal.shape[-1])))
    return signal if spec.ndim == 3 else signal[0]


def _leaf(a):
    return ember.tensor(a, requires_grad=True)


def _pair(shape):
    """A float64 (real, imag) pair array of a complex tensor of ``shape``."""
    return RNG.standard_normal((*shape, 2))


def _complex(a):
    return a[..., 0] + 1j * a[..., 1]


STFT_CASES = [
    dict(n_fft=8, hop_length=3),
    dict(n_fft=8, hop_length=2, center=False),
    dict(n_fft=8, hop_length=3, win_length=5, normalized=True, pad_mode="constant"),
    dict(n_fft=8, hop_length=3, onesided=False, pad_mode="replicate"),
    dict(n_fft=6, hop_length=4, pad_mode="circular"),
    dict(n_fft=8, hop_length=3, win_length=5, center=False, align_to_window=True),
    dict(n_fft=8, hop_length=9, center=False),
]


def _stft_kwargs(case):
    return {k: v for k, v in case.items() if k not in ("n_fft", "hop_length")}


@pytest.mark.parametrize("case", STFT_CASES)
@pytest.mark.parametrize("shape", [(20,), (2, 20)])
@pytest.mark.parametrize("complex_input", [False, True])
def test_stft_values_and_gradients(case, shape, complex_input):
    win = case.get("win_length", case["n_fft"])
    window = RNG.random(win) + 0.5
    kw = _stft_kwargs(case)
    n_fft, hop = case["n_fft"], case["hop_length"]
    x = _pair(shape) if complex_input else RNG.standard_normal(shape)
    signal = (lambda a: ember.view_as_complex(a)) if complex_input else (lambda a: a)

    def f(a, w):
        return ember.stft(signal(a), n_fft, hop, window=w, return_complex=False, **kw)

    got = f(ember.tensor(x), ember.tensor(window))
    want = _np_stft(_complex(x) if complex_input else x, n_fft, hop, window=window, **kw)
    np.testing.assert_allclose(_complex(got.numpy()), want, rtol=1e-12, atol=1e-12)
    assert gradcheck(f, (_leaf(x), _leaf(window)))


@pytest.mark.parametrize("case", [STFT_CASES[0], STFT_CASES[2], STFT_CASES[5]])
def test_stft_second_derivatives(case):
    win = case.get("win_length", case["n_fft"])
    n_fft, hop, kw = case["n_fft"], case["hop_length"], _stft_kwargs(case)

    def f(a, w):
        return ember.stft(a, n_fft, hop, window=w, return_complex=False, **kw)
    assert gradgradcheck(f, (_leaf(RNG.standard_normal(14)), _leaf(RNG.random(win) + 0.5)))

    window = ember.tensor(RNG.random(win) + 0.5)

    def g(a):  # complex input, through |spectrum|^2 so that the second derivative is not 0
        return ember.stft(ember.view_as_complex(a), n_fft, hop, window=window, **kw).abs() ** 2
    assert gradgradcheck(g, (_leaf(_pair((12,))),))


ISTFT_CASES = [
    dict(n_fft=8, hop_length=2),
    dict(n_fft=8, hop_length=2, length=17),
    dict(n_fft=8, hop_length=3, win_length=6, normalized=True, length=20),
    dict(n_fft=8, hop_length=2, center=False, window="ones", length=24),
    dict(n_fft=8, hop_length=2, onesided=False),
    dict(n_fft=8, hop_length=2, onesided=False, return_complex=True),
    dict(n_fft=6, hop_length=3, window="none"),
]


def _istft_setup(case, batch):
    n_fft, hop = case["n_fft"], case["hop_length"]
    kw = {k: v for k, v in case.items() if k not in ("n_fft", "hop_length", "window")}
    win = case.get("win_length", n_fft)
    window = {"ones": np.ones(win), "none": None}.get(case.get("window"),
                                                      RNG.random(win) + 0.5)
    n_freq = n_fft if case.get("onesided") is False else n_fft // 2 + 1
    spec = _pair((*batch, n_freq, 7))
    return n_fft, hop, kw, window, spec


@pytest.mark.parametrize("case", ISTFT_CASES)
@pytest.mark.parametrize("batch", [(), (2,)])
def test_istft_values_and_gradients(case, batch):
    n_fft, hop, kw, window, spec = _istft_setup(case, batch)

    def f(s, *w):
        out = ember.istft(ember.view_as_complex(s), n_fft, hop, window=w[0] if w else None,
                          **kw)
        return ember.view_as_real(out) if out.is_complex() else out

    args = () if window is None else (ember.tensor(window),)
    got = f(ember.tensor(spec), *args).numpy()
    got = _complex(got) if kw.get("return_complex") else got
    want = _np_istft(_complex(spec), n_fft, hop, window=window,
                     **{k: v for k, v in kw.items() if k != "onesided"})
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    leaves = () if window is None else (_leaf(window),)
    assert gradcheck(f, (_leaf(spec), *leaves))


@pytest.mark.parametrize("case", [ISTFT_CASES[0], ISTFT_CASES[3], ISTFT_CASES[5]])
def test_istft_second_derivatives(case):
    n_fft, hop, kw, window, spec = _istft_setup(case, ())

    def f(s, w):  # squared, so that the second derivative in the spectrum is not 0
        out = ember.istft(ember.view_as_complex(s), n_fft, hop, window=w, **kw)
        return out.abs() ** 2
    # NOTE: complex * real drops the real factor's second derivatives (Mul saves its promoted
    # operands), so the window is a constant where the frames are complex
    w = ember.tensor(window) if kw.get("return_complex") else _leaf(window)
    assert gradgradcheck(f, (_leaf(spec[:, :4]), w))


def test_round_trip_gradient_is_identity():
    # istft(stft(x)) = x for a window whose squared overlap-add does not vanish
    x = _leaf(RNG.standard_normal(64))
    w = ember.hann_window(16, dtype=ember.float64)
    spec = ember.stft(x, 16, 4, window=w, return_complex=True)
    assert spec.requires_grad and spec.grad_fn is not None
    y = ember.istft(spec, 16, 4, window=w, length=64)
    np.testing.assert_allclose(y.detach().numpy(), x.detach().numpy(), atol=1e-12)
    weights = RNG.standard_normal(64)
    (y * ember.tensor(weights)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), weights, atol=1e-12)


def test_tensor_method_takes_align_to_window():
    x = ember.tensor(RNG.standard_normal(40))
    w = ember.tensor(RNG.random(8) + 0.5)
    got = x.stft(16, 4, 8, w, center=False, return_complex=True, align_to_window=True)
    np.testing.assert_allclose(got.numpy(), _np_stft(x.numpy(), 16, 4, 8, w.numpy(), False,
                                                     align_to_window=True), atol=1e-12)
    assert got.shape == (9, 1 + (40 - 8) // 4)


def test_float32_results_and_promotion():
    x32 = ember.tensor(RNG.standard_normal(50), dtype=ember.float32)
    assert ember.stft(x32, 16, return_complex=True).dtype is ember.complex64
    w64 = ember.hann_window(16, dtype=ember.float64)
    spec = ember.stft(x32, 16, window=w64, return_complex=True)
    assert spec.dtype is ember.complex128  # PyTorch's promotion of input and window
    assert ember.istft(spec.to(ember.complex64), 16, window=w64).dtype is ember.float64


@pytest.mark.parametrize("call, message", [
    (lambda x, s: ember.stft(x, 16, return_complex=True, align_to_window=False),
     "align_to_window should only be set when center = false"),
    (lambda x, s: ember.stft(x.to(ember.int64), 16, return_complex=True),
     "floating point or complex"),
    (lambda x, s: ember.stft(x.to(ember.complex128), 16, onesided=True),
     "Cannot have onesided output"),
    (lambda x, s: ember.stft(x, 16, window=ember.ones(4, 4), return_complex=True),
     "1D window tensor of size equal to win_length=16"),
    (lambda x, s: ember.stft(x[:10], 16, 4, 8, center=False, align_to_window=True,
                             return_complex=True), "expected 0 < n_fft <= 10, but got n_fft=16"),
    (lambda x, s: ember.istft(s[:5], 16, 4), "n_fft / 2 + 1 when onesided=True, but got 5"),
    (lambda x, s: ember.istft(s, 16, 4, onesided=False), "match n_fft when onesided=False"),
    (lambda x, s: ember.istft(s, 16, 4, return_complex=True), "Cannot have onesided output"),
    (lambda x, s: ember.istft(s, 16, 20), "expected 0 < hop_length <= win_length"),
    (lambda x, s: ember.istft(s, 16, 4, window=ember.ones(16, dtype=ember.complex128)),
     "Complex windows are incompatible with return_complex=False"),
    (lambda x, s: ember.istft(s, 16, 4, window=ember.hann_window(16), center=False),
     "window overlap add min"),
])
def test_errors(call, message):
    x = ember.tensor(RNG.standard_normal(50))
    s = ember.stft(x, 16, 4, return_complex=True)
    with pytest.raises(RuntimeError, match=re.escape(message)):
        call(x, s)
