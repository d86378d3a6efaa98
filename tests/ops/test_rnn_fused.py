"""The fused LSTM/GRU layer primitives (ember/ops/rnn.py) vs the same layer composed of ember
ops step by step: values, float64 gradchecks, and double backward through the recomputation."""
import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck
from ember.ops.rnn import _composed_layer, gru_layer, gru_step, lstm_layer, lstm_step

T, B, H = 4, 2, 3


def _inputs(gates: int, bias: bool, seed: int = 0):
    rng = np.random.default_rng(seed)

    def t(*shape):
        return ember.tensor(rng.standard_normal(shape), requires_grad=True)
    return t(T, B, gates * H), t(B, H), t(B, H), t(gates * H, H), t(gates * H) if bias else None


def _fused(kind, reverse):
    if kind == "LSTM":
        return lambda xw, h0, c0, w, b: lstm_layer(xw, h0, c0, w, b, reverse)
    return lambda xw, h0, w, b: gru_layer(xw, h0, w, b, reverse)


def _composed(kind, reverse):
    if kind == "LSTM":
        def run(xw, h0, c0, w, b):
            out, (h, c) = _composed_layer(lambda x, s: lstm_step(x, s, w, b, None), xw,
                                          (h0, c0), reverse)
            return out, h, c
        return run

    def run_gru(xw, h0, w, b):
        return _composed_layer(lambda x, s: gru_step(x, s, w, b), xw, h0, reverse)
    return run_gru


def _args(kind, bias):
    xw, h0, c0, w, b = _inputs(4 if kind == "LSTM" else 3, bias)
    return (xw, h0, c0, w, b) if kind == "LSTM" else (xw, h0, w, b)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_fused_matches_composed_values_and_grads(kind, reverse, bias):
    args = _args(kind, bias)
    tensors = [a for a in args if a is not None]
    fused = _fused(kind, reverse)(*args)
    ref = _composed(kind, reverse)(*args)
    weights = [np.linspace(-1, 1, o.numel()).reshape(o.shape) for o in ref]
    grads = []
    for outs in (fused, ref):
        for o, w in zip(outs, weights):
            assert o.shape == tuple(w.shape)
        loss = sum((o * ember.tensor(w)).sum() for o, w in zip(outs, weights))
        grads.append(ember.autograd.grad(loss, tensors))
    for f, r in zip(fused, ref):
        np.testing.assert_allclose(f.detach().numpy(), r.detach().numpy(), atol=1e-12)
    for f, r in zip(*grads):
        np.testing.assert_allclose(f.numpy(), r.numpy(), atol=1e-12)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_fused_gradcheck_and_double_backward(kind):
    args = _args(kind, True)
    fn = _fused(kind, True)
    assert gradcheck(fn, args)
    assert gradgradcheck(fn, args)
