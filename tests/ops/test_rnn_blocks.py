"""The fused layers' per-step products in column blocks (NOTE [ Recurrent products in column
blocks ] in ember/ops/rnn.py): with the panel limit shrunk so that every product splits, a ragged
last block included, values and gradients still match the layer composed of ember ops."""
import numpy as np
import pytest

import ember
from ember.ops import rnn
from ember.ops.rnn import _composed_layer, _step_product, gru_layer, gru_step, lstm_layer, lstm_step

T, B, H = 3, 5, 20  # 4H = 80 columns: blocks of 16; H = 20: a block of 16 and one of 4


@pytest.fixture
def small_panels(monkeypatch):
    monkeypatch.setattr(rnn, "_PANEL_BYTES", 16 * 8)  # the 16-column minimum for any K


def _tensors(gates: int, dtype, seed: int = 0):
    rng = np.random.default_rng(seed)

    def t(*shape):
        return ember.tensor(rng.standard_normal(shape) * 0.5, dtype=dtype, requires_grad=True)
    return t(T, B, gates * H), t(B, H), t(B, H), t(gates * H, H), t(gates * H)


@pytest.mark.parametrize("scale", [False, True])
def test_step_product_blocks(small_panels, scale):
    rng = np.random.default_rng(1)
    h = rng.standard_normal((B, H))
    w = rng.standard_normal((4 * H, H)).T  # a transposed view, as the forward passes it
    factors = rng.standard_normal(4 * H)
    out = np.empty((B, 4 * H))
    pairs = _step_product(np, w, out, 64, scale=factors if scale else None)
    assert len(pairs) == 5 and all(block.flags.c_contiguous for block, _ in pairs)
    rnn._run_product(h, pairs)
    np.testing.assert_allclose(out, h @ (w * factors if scale else w), atol=1e-12)


def test_step_product_whole_for_one_row_and_large_batches(small_panels):
    w = np.ones((H, 4 * H))
    assert len(_step_product(np, w, np.empty((1, 4 * H)), 64)) == 1
    assert len(_step_product(np, w, np.empty((64, 4 * H)), 64)) == 1


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("dtype", [ember.float64, ember.float32])
def test_blocked_layer_matches_composed(small_panels, kind, reverse, dtype):
    xw, h0, c0, w, b = _tensors(4 if kind == "LSTM" else 3, dtype)
    if kind == "LSTM":
        args = (xw, h0, c0, w, b)
        fused = lstm_layer(*args, reverse)
        out, (h, c) = _composed_layer(lambda x, s: lstm_step(x, s, w, b, None), xw, (h0, c0),
                                      reverse)
        ref = (out, h, c)
    else:
        args = (xw, h0, w, b)
        fused = gru_layer(*args, reverse)
        ref = _composed_layer(lambda x, s: gru_step(x, s, w, b), xw, h0, reverse)
    tol = 1e-12 if dtype is ember.float64 else 1e-5
    weights = [ember.tensor(np.linspace(-1, 1, o.numel()).reshape(o.shape), dtype=dtype)
               for o in ref]
    grads = []
    for outs in (fused, ref):
        loss = sum((o * g).sum() for o, g in zip(outs, weights))
        grads.append(ember.autograd.grad(loss, args))
    for f, r in zip(fused, ref):
        np.testing.assert_allclose(f.detach().numpy(), r.detach().numpy(), atol=tol)
    for f, r in zip(*grads):
        np.testing.assert_allclose(f.numpy(), r.numpy(), atol=tol, rtol=tol)
