"""Recurrent layers vs NumPy step loops, PyTorch's parameter names and init, packed sequences
and float64 gradchecks."""
import math

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.autograd import gradcheck, gradgradcheck
from ember.nn.utils import rnn as rnn_utils


def sig(x):
    return 1 / (1 + np.exp(-x))


def np_step(mode, x, h, c, w_ih, w_hh, b_ih, b_hh):
    gi = x @ w_ih.T + b_ih
    gh = h @ w_hh.T + b_hh
    if mode == "LSTM":
        i, f, g, o = np.split(gi + gh, 4, axis=1)
        c = sig(f) * c + sig(i) * np.tanh(g)
        return sig(o) * np.tanh(c), c
    if mode == "GRU":
        r, z, n = np.split(gi, 3, axis=1)
        hr, hz, hn = np.split(gh, 3, axis=1)
        r, z = sig(r + hr), sig(z + hz)
        n = np.tanh(n + r * hn)
        return (1 - z) * n + z * h, None
    return np.tanh(gi + gh), None


def np_rnn(module, mode, x):
    """Layer by layer, direction by direction, as the documentation defines it."""
    p = {k: v.detach().numpy() for k, v in module.named_parameters()}
    dirs = 2 if module.bidirectional else 1
    hs, layer_in = [], x
    for layer in range(module.num_layers):
        outs = []
        for d in range(dirs):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            h = np.zeros((x.shape[1], module.hidden_size))
            c = np.zeros_like(h)
            seq = [None] * len(layer_in)
            order = range(len(layer_in) - 1, -1, -1) if d else range(len(layer_in))
            for t in order:
                h, c = np_step(mode, layer_in[t], h, c, p["weight_ih" + sfx],
                               p["weight_hh" + sfx], p["bias_ih" + sfx], p["bias_hh" + sfx])
                seq[t] = h
            outs.append(np.stack(seq))
            hs.append(h)
        layer_in = np.concatenate(outs, axis=2)
    return layer_in, np.stack(hs)


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_multilayer_bidirectional_matches_numpy(cls):
    m = getattr(nn, cls)(3, 4, num_layers=2, bidirectional=True, dtype=ember.float64)
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    out, hidden = m(ember.tensor(x))
    h_n = hidden[0] if cls == "LSTM" else hidden
    ref_out, ref_h = np_rnn(m, cls, x)
    np.testing.assert_allclose(out.detach().numpy(), ref_out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h_n.detach().numpy(), ref_h, rtol=1e-10, atol=1e-12)
    # batch_first and unbatched inputs give the same numbers
    m.batch_first = True
    out_bf, _ = m(ember.tensor(x.transpose(1, 0, 2)))
    np.testing.assert_allclose(out_bf.detach().numpy(), ref_out.transpose(1, 0, 2), atol=1e-12)
    m.batch_first = False
    out_1, _ = m(ember.tensor(x[:, 0]))
    np.testing.assert_allclose(out_1.detach().numpy(), ref_out[:, 0], atol=1e-12)


def test_parameter_names_shapes_init_and_repr():
    lstm = nn.LSTM(3, 5, num_layers=2, bidirectional=True)
    names = [n for n, _ in lstm.named_parameters()]
    assert names[:5] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                         "weight_ih_l0_reverse"]
    assert lstm.weight_ih_l1.shape == (20, 10) and lstm.weight_hh_l0_reverse.shape == (20, 5)
    bound = 1 / math.sqrt(5)
    assert all(p.abs().max().item() <= bound for p in lstm.parameters())
    assert repr(lstm) == "LSTM(3, 5, num_layers=2, bidirectional=True)"
    assert repr(nn.GRU(2, 3, bias=False, batch_first=True, dropout=0.5, num_layers=2)) == \
        "GRU(2, 3, num_layers=2, bias=False, batch_first=True, dropout=0.5)"
    proj = nn.LSTM(3, 5, proj_size=2)
    assert proj.weight_hr_l0.shape == (2, 5) and proj.weight_hh_l0.shape == (20, 2)
    out, (h, c) = proj(ember.randn(4, 2, 3))
    assert out.shape == (4, 2, 2) and h.shape == (1, 2, 2) and c.shape == (1, 2, 5)
    assert repr(nn.RNNCell(2, 3, nonlinearity="relu")) == "RNNCell(2, 3, nonlinearity=relu)"
    with pytest.raises(ValueError):
        nn.RNN(2, 3, nonlinearity="sigmoid")
    with pytest.raises(RuntimeError, match="input_size"):
        nn.GRU(3, 4)(ember.randn(2, 1, 5))


def test_initial_state_and_relu_rnn():
    m = nn.RNN(2, 3, nonlinearity="relu", dtype=ember.float64)
    x = np.random.default_rng(1).standard_normal((4, 2, 2))
    h0 = np.random.default_rng(2).standard_normal((1, 2, 3))
    out, h = m(ember.tensor(x), ember.tensor(h0))
    p = {k: v.detach().numpy() for k, v in m.named_parameters()}
    ref = h0[0]
    for t in range(4):
        ref = np.maximum(x[t] @ p["weight_ih_l0"].T + p["bias_ih_l0"]
                         + ref @ p["weight_hh_l0"].T + p["bias_hh_l0"], 0)
    np.testing.assert_allclose(h.detach().numpy()[0], ref, atol=1e-12)
    with pytest.raises(RuntimeError, match="Expected hidden size"):
        m(ember.tensor(x), ember.zeros(1, 3, 3, dtype=ember.float64))


def test_cells_match_numpy():
    x = np.random.default_rng(3).standard_normal((2, 3))
    for cls, mode in [("RNNCell", "RNN"), ("LSTMCell", "LSTM"), ("GRUCell", "GRU")]:
        cell = getattr(nn, cls)(3, 4, dtype=ember.float64)
        p = {k: v.detach().numpy() for k, v in cell.named_parameters()}
        h, c = np_step(mode, x, np.zeros((2, 4)), np.zeros((2, 4)), p["weight_ih"],
                       p["weight_hh"], p["bias_ih"], p["bias_hh"])
        out = cell(ember.tensor(x))
        got = out[0] if mode == "LSTM" else out
        np.testing.assert_allclose(got.detach().numpy(), h, atol=1e-12)
        single = cell(ember.tensor(x[0]))
        assert (single[0] if mode == "LSTM" else single).shape == (4,)


def test_pack_pad_roundtrip_and_pad_sequence():
    seqs = [ember.tensor([[1.0], [2.0]]), ember.tensor([[3.0], [4.0], [5.0]]),
            ember.tensor([[6.0]])]
    padded = rnn_utils.pad_sequence(seqs)
    assert padded.shape == (3, 3, 1)
    np.testing.assert_array_equal(padded.numpy()[:, :, 0],
                                  [[1, 3, 6], [2, 4, 0], [0, 5, 0]])
    assert rnn_utils.pad_sequence(seqs, batch_first=True, padding_value=-1).numpy()[2, 1, 0] == -1
    packed = rnn_utils.pack_sequence(seqs, enforce_sorted=False)
    assert packed.batch_sizes.tolist() == [3, 2, 1]
    assert packed.data.numpy()[:, 0].tolist() == [3, 1, 6, 4, 2, 5]
    assert packed.sorted_indices.tolist() == [1, 0, 2]
    back, lengths = rnn_utils.pad_packed_sequence(packed, batch_first=True)
    assert lengths.tolist() == [2, 3, 1]
    np.testing.assert_array_equal(back.numpy(), padded.numpy().transpose(1, 0, 2))
    assert [s.numpy().tolist() for s in rnn_utils.unpack_sequence(packed)] == \
        [s.numpy().tolist() for s in seqs]
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        rnn_utils.pack_sequence(seqs)


@pytest.mark.parametrize("cls", ["LSTM", "GRU", "RNN"])
def test_packed_input_equals_per_sequence_runs(cls):
    m = getattr(nn, cls)(2, 3, num_layers=2, bidirectional=True, dtype=ember.float64)
    rng = np.random.default_rng(4)
    seqs = [rng.standard_normal((n, 2)) for n in (3, 5, 2)]
    padded = rnn_utils.pad_sequence([ember.tensor(s) for s in seqs])
    packed = rnn_utils.pack_padded_sequence(padded, [3, 5, 2], enforce_sorted=False)
    out, hidden = m(packed)
    h_n = hidden[0] if cls == "LSTM" else hidden
    out, lengths = rnn_utils.pad_packed_sequence(out)
    for b, s in enumerate(seqs):
        ref_out, ref_h = m(ember.tensor(s[:, None]))
        ref_h = ref_h[0] if cls == "LSTM" else ref_h
        np.testing.assert_allclose(out.detach().numpy()[:len(s), b],
                                   ref_out.detach().numpy()[:, 0], atol=1e-12)
        np.testing.assert_allclose(h_n.detach().numpy()[:, b], ref_h.detach().numpy()[:, 0],
                                   atol=1e-12)
        assert np.all(out.detach().numpy()[len(s):, b] == 0)


@pytest.mark.parametrize("cls", ["LSTM", "GRU", "RNN"])
def test_gradcheck_input_hidden_and_weights(cls):
    m = getattr(nn, cls)(2, 2, num_layers=2, bidirectional=True, dtype=ember.float64)
    rng = np.random.default_rng(5)
    x = ember.tensor(rng.standard_normal((3, 2, 2)), requires_grad=True)
    h0 = ember.tensor(rng.standard_normal((4, 2, 2)), requires_grad=True)
    w = m.weight_hh_l0_reverse.detach().requires_grad_()

    def run(x, h0, w):
        # one recurrent weight swapped for a plain leaf, so gradcheck perturbs it
        old = m._parameters["weight_hh_l0_reverse"]
        m._parameters["weight_hh_l0_reverse"] = w
        try:
            hx = (h0, h0 * 0.5) if cls == "LSTM" else h0
            out, _ = m(x, hx)
        finally:
            m._parameters["weight_hh_l0_reverse"] = old
        return out
    assert gradcheck(run, (x, h0, w))


def test_dropout_between_layers_only_in_training():
    m = nn.GRU(2, 3, num_layers=2, dropout=0.9)
    x = ember.randn(4, 1, 2)
    m.eval()
    a, _ = m(x)
    b, _ = m(x)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    m.train()
    outs = {tuple(np.round(m(x)[0].detach().numpy().ravel(), 6)) for _ in range(4)}
    assert len(outs) > 1


@pytest.mark.parametrize("bias", [True, False])
def test_lstm_cell_fused_step_gradients(bias):
    """The fused LSTMCell node: gradients through h', c' or both, and double backward."""
    cell = nn.LSTMCell(3, 4, bias=bias).double()
    x, h, c = (ember.randn(2, n, dtype=ember.float64, requires_grad=True) for n in (3, 4, 4))
    assert type(cell(x, (h, c))[0].grad_fn).__name__ == "ThnnFusedLstmCellBackward0"
    assert gradcheck(lambda x, h, c: cell(x, (h, c)), (x, h, c))
    assert gradcheck(lambda x, h, c: cell(x, (h, c))[0], (x, h, c))
    assert gradcheck(lambda x, h, c: cell(x, (h, c))[1], (x, h, c))
    assert gradgradcheck(lambda x, h, c: cell(x, (h, c)), (x, h, c))
