"""ember.stft / ember.istft against PyTorch: values, gradients of the signal, spectrum and
window, ``align_to_window``, and the errors."""
import warnings

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)


def _leaves(a):
    return ember.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def _same(e, t, tol=1e-12):
    t = t.detach().numpy()
    e = e.detach().numpy()
    assert e.shape == t.shape and e.dtype == t.dtype
    np.testing.assert_allclose(e, t, rtol=tol, atol=tol)


def _backward(e_out, t_out):
    """Backpropagate one random real weighting of the (real, imag) parts from both outputs."""
    t_real = torch.view_as_real(t_out) if t_out.is_complex() else t_out
    weights = RNG.standard_normal(tuple(t_real.shape))
    (t_real * torch.tensor(weights)).sum().backward()
    e_real = ember.view_as_real(e_out) if e_out.is_complex() else e_out
    (e_real * ember.tensor(weights)).sum().backward()


STFT_CASES = [
    dict(n_fft=16, hop_length=4),
    dict(n_fft=16, hop_length=5, win_length=11, normalized=True),
    dict(n_fft=16, hop_length=4, center=False),
    dict(n_fft=16, hop_length=4, onesided=False, pad_mode="constant"),
    dict(n_fft=12, hop_length=3, pad_mode="replicate"),
    dict(n_fft=12, hop_length=3, pad_mode="circular"),
    dict(n_fft=16, hop_length=4, win_length=8, center=False, align_to_window=True),
    dict(n_fft=16, hop_length=4, win_length=7, center=False, align_to_window=True),
    dict(n_fft=16, hop_length=2, win_length=10, center=False, align_to_window=True),
    dict(n_fft=16, hop_length=4, center=False, align_to_window=False),
]


@pytest.mark.parametrize("case", STFT_CASES)
@pytest.mark.parametrize("shape", [(50,), (2, 50)])
@pytest.mark.parametrize("kind", ["real", "complex", "real, return_complex=False"])
def test_stft_values_and_gradients(case, shape, kind):
    x = RNG.standard_normal(shape)
    x = x + 1j * RNG.standard_normal(shape) if kind == "complex" else x
    ex, tx = _leaves(x)
    ew, tw = _leaves(RNG.random(case.get("win_length", case["n_fft"])) + 0.5)
    return_complex = kind != "real, return_complex=False"
    with warnings.catch_warnings():  # PyTorch's return_complex=False deprecation
        warnings.simplefilter("ignore")
        t_out = torch.stft(tx, window=tw, return_complex=return_complex, **case)
    e_out = ember.stft(ex, window=ew, return_complex=return_complex, **case)
    _same(e_out, t_out)
    _backward(e_out, t_out)
    _same(ex.grad, tx.grad)
    _same(ew.grad, tw.grad)


ISTFT_CASES = [
    dict(n_fft=16, hop_length=4),
    dict(n_fft=16, hop_length=4, length=40),
    dict(n_fft=16, hop_length=5, win_length=12, normalized=True, length=33),
    dict(n_fft=16, hop_length=4, center=False, window="ones", length=70),
    dict(n_fft=16, hop_length=4, onesided=False),
    dict(n_fft=16, hop_length=4, onesided=False, return_complex=True),
    dict(n_fft=16, hop_length=4, onesided=False, return_complex=True, window="complex"),
]


@pytest.mark.filterwarnings("ignore:The length of signal is shorter")
@pytest.mark.parametrize("case", ISTFT_CASES)
@pytest.mark.parametrize("batch", [(), (2,)])
def test_istft_values_and_gradients(case, batch):
    kw = {k: v for k, v in case.items() if k != "window"}
    win = case.get("win_length", case["n_fft"])
    window = {"ones": np.ones(win), "complex": RNG.random(win) + 0.5 + 0.3j * RNG.random(win)
              }.get(case.get("window"), RNG.random(win) + 0.5)
    n_freq = case["n_fft"] if case.get("onesided") is False else case["n_fft"] // 2 + 1
    shape = (*batch, n_freq, 12)  # a spectrum that is no signal's: Hermitian or not
    es, ts = _leaves(RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape))
    ew, tw = _leaves(window)
    e_out = ember.istft(es, window=ew, **kw)
    t_out = torch.istft(ts, window=tw, **kw)
    _same(e_out, t_out)
    _backward(e_out, t_out)
    _same(es.grad, ts.grad)
    _same(ew.grad, tw.grad)


def test_round_trip_of_a_float32_signal():
    x = RNG.standard_normal((2, 16000)).astype(np.float32)
    ew, tw = ember.hann_window(400), torch.hann_window(400)
    e_spec = ember.stft(ember.tensor(x), 400, 160, window=ew, return_complex=True)
    t_spec = torch.stft(torch.tensor(x), 400, 160, window=tw, return_complex=True)
    _same(e_spec, t_spec, tol=2e-3)
    _same(ember.istft(e_spec, 400, 160, window=ew, length=16000),
          torch.istft(t_spec, 400, 160, window=tw, length=16000), tol=1e-5)


def _error(fn, lib):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fn(lib)
        except Exception as exc:  # noqa: BLE001 - the type is what is compared
            return exc
    raise AssertionError("no error")


@pytest.mark.parametrize("call, shared_message", [
    (lambda m: m.stft(m.ones(50), 16, return_complex=True, align_to_window=True),
     "stft align_to_window should only be set when center = false"),
    (lambda m: m.stft(m.ones(50), 16, return_complex=True, align_to_window=False),
     "stft align_to_window should only be set when center = false"),
    (lambda m: m.ones(50).stft(16, return_complex=True, align_to_window=True),
     "stft align_to_window should only be set when center = false"),
    (lambda m: m.stft(m.ones(12), 16, 4, 8, center=False, align_to_window=True,
                      return_complex=True), "expected 0 < n_fft"),
    (lambda m: m.stft(m.ones(50), 16), "stft requires the return_complex parameter"),
    (lambda m: m.stft(m.ones(1, 2, 50), 16, return_complex=True), "expected a 1D or 2D tensor"),
    (lambda m: m.stft(m.arange(50), 16, return_complex=True), "floating point or complex"),
    (lambda m: m.stft(m.ones(50, dtype=m.complex128), 16, onesided=True),
     "Cannot have onesided output if window or input is complex"),
    (lambda m: m.stft(m.ones(5), 16, return_complex=True),
     "Padding size should be less than the corresponding input dimension, but got: padding "
     "(8, 8) at dimension 2 of input [1, 1, 5]"),
    (lambda m: m.stft(m.ones(50), 16, pad_mode="foo", return_complex=True),
     "Unrecognised padding mode foo"),
    (lambda m: m.stft(m.ones(50), 16, window=m.ones(10), return_complex=True),
     "expected a 1D window tensor of size equal to win_length=16, but got window with size "
     "[10]"),
    (lambda m: m.stft(m.ones(50), 16, 0, return_complex=True),
     "expected hop_length > 0, but got hop_length=0"),
    (lambda m: m.stft(m.ones(50), 16, 4, 20, return_complex=True),
     "expected 0 < win_length <= n_fft, but got win_length=20"),
    (lambda m: m.istft(m.ones(9, 13), 16, 4),
     "istft requires a complex-valued input tensor"),
    (lambda m: m.istft(m.ones(5, 13, dtype=m.complex128), 16, 4),
     "expected the frequency dimension (3rd to the last) of the input tensor to match n_fft / "
     "2 + 1 when onesided=True, but got 5"),
    (lambda m: m.istft(m.ones(9, 13, dtype=m.complex128), 16, 4, onesided=False),
     "to match n_fft when onesided=False, but got 9"),
    (lambda m: m.istft(m.ones(9, 13, dtype=m.complex128), 16, 4, return_complex=True),
     "Cannot have onesided output if window or input is complex"),
    (lambda m: m.istft(m.ones(16, 13, dtype=m.complex128), 16, 4,
                       window=m.ones(16, dtype=m.complex128)),
     "Complex windows are incompatible with return_complex=False"),
    (lambda m: m.istft(m.ones(9, 13, dtype=m.complex128), 16, 20),
     "expected 0 < hop_length <= win_length"),
    (lambda m: m.istft(m.ones(9, 13, dtype=m.complex128), 16, 4, 20),
     "expected 0 < win_length <= n_fft"),
    (lambda m: m.istft(m.ones(9, 13, dtype=m.complex128), 16, 4,
                       window=m.hann_window(16, dtype=m.float64), center=False),
     "window overlap add min"),
])
def test_errors_match_torch(call, shared_message):
    e_err, t_err = _error(call, ember), _error(call, torch)
    assert type(e_err) is type(t_err)
    assert shared_message in str(e_err) and shared_message in str(t_err)
