"""Spatial and sequence layers against torch.nn with copied weights: outputs, input grads and
every parameter grad; reprs; functional forms (float64 throughout)."""
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402
import ember.nn as enn  # noqa: E402
import ember.nn.functional as EF  # noqa: E402
from ember.nn.utils import rnn as ernn  # noqa: E402

tnn = torch.nn
TF = torch.nn.functional


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [y for x in out for y in _flat(x)]
    if hasattr(out, "data") and hasattr(out, "batch_sizes"):  # PackedSequence
        return [out.data]
    return [] if out is None else [out]


def _copy_weights(em, tm):
    tparams = dict(tm.named_parameters())
    names = [n for n, _ in em.named_parameters()]
    assert names == list(tparams)
    with ember.no_grad():
        for n, p in em.named_parameters():
            assert tuple(p.shape) == tuple(tparams[n].shape), n
            p.copy_(ember.tensor(tparams[n].detach().numpy()))


def compare(em, tm, arrays, call=None, atol=1e-10):
    """Copy tm's weights into em, run both on the same float64 inputs and compare outputs,
    input grads and parameter grads of sum(out^2) (floating outputs only)."""
    em = em.double()
    tm = tm.double()
    _copy_weights(em, tm)
    e_in = [ember.tensor(a, requires_grad=a.dtype.kind == "f") if isinstance(a, np.ndarray)
            else a for a in arrays]
    t_in = [torch.tensor(a, requires_grad=a.dtype.kind == "f") if isinstance(a, np.ndarray)
            else a for a in arrays]
    call = call or (lambda m, *xs: m(*xs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e_out, t_out = _flat(call(em, *e_in)), _flat(call(tm, *t_in))
    assert len(e_out) == len(t_out)
    for a, b in zip(e_out, t_out):
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=atol,
                                   rtol=1e-8)
    e_loss = sum((o * o).sum() for o in e_out if o.is_floating_point())
    t_loss = sum((o * o).sum() for o in t_out if o.is_floating_point())
    e_loss.backward()
    t_loss.backward()
    for a, b in zip(e_in, t_in):
        if isinstance(b, torch.Tensor) and b.grad is not None:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=atol, rtol=1e-8)
    for (n, p), (_, q) in zip(em.named_parameters(), tm.named_parameters()):
        if q.grad is None:
            assert p.grad is None or not p.grad.abs().sum().item(), n
            continue
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), atol=atol, rtol=1e-8,
                                   err_msg=n)


def _arr(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _pair(name, *args, **kwargs):
    return getattr(enn, name)(*args, **kwargs), getattr(tnn, name)(*args, **kwargs)


CONV_CASES = [
    ("Conv1d", (3, 4, 3), {"stride": 2, "padding": 1, "dilation": 2}, (2, 3, 11)),
    ("Conv1d", (4, 4, 3), {"groups": 4, "padding": "same", "padding_mode": "circular"},
     (2, 4, 7)),
    ("Conv2d", (1, 6, 5), {}, (2, 1, 12, 12)),
    ("Conv2d", (4, 6, (3, 2)), {"stride": (2, 1), "padding": (1, 2), "groups": 2,
                                "bias": False}, (2, 4, 7, 6)),
    ("Conv2d", (2, 3, 3), {"padding": 2, "padding_mode": "reflect", "dilation": 2},
     (1, 2, 6, 7)),
    ("Conv2d", (2, 3, 3), {"padding": (1, 2), "padding_mode": "replicate"}, (1, 2, 5, 5)),
    ("Conv2d", (3, 6, 3), {"padding": "same", "dilation": (2, 1)}, (2, 3, 6, 6)),
    ("Conv3d", (2, 3, (2, 3, 2)), {"stride": (1, 2, 1), "padding": 1}, (1, 2, 4, 5, 3)),
    ("ConvTranspose1d", (3, 2, 3), {"stride": 2, "padding": 1, "output_padding": 1},
     (2, 3, 5)),
    ("ConvTranspose2d", (4, 6, 3), {"stride": 2, "groups": 2, "dilation": 2}, (1, 4, 3, 4)),
    ("ConvTranspose2d", (2, 3, (2, 3)), {"stride": (3, 2), "padding": (1, 0),
                                         "output_padding": (2, 1)}, (2, 2, 3, 3)),
    ("ConvTranspose3d", (2, 2, 2), {"stride": 2}, (1, 2, 2, 3, 2)),
    ("Conv2d", (2, 3, 3), {}, (2, 5, 5)),  # unbatched
]


@pytest.mark.parametrize("name,args,kwargs,shape", CONV_CASES)
def test_conv_modules(name, args, kwargs, shape):
    em, tm = _pair(name, *args, **kwargs)
    assert repr(em) == repr(tm)
    compare(em, tm, [_arr(*shape)])


def test_conv_transpose_output_size():
    em, tm = _pair("ConvTranspose2d", 2, 3, 3, stride=2, padding=1)
    compare(em, tm, [_arr(1, 2, 4, 4)], lambda m, x: m(x, output_size=[8, 8]))


POOL_CASES = [
    ("MaxPool1d", (3,), {"stride": 2, "padding": 1, "ceil_mode": True}, (2, 3, 10)),
    ("MaxPool2d", (2,), {}, (2, 3, 8, 8)),
    ("MaxPool2d", ((3, 2),), {"stride": (2, 1), "padding": 1, "dilation": (1, 2),
                              "ceil_mode": True}, (2, 2, 9, 8)),
    ("MaxPool2d", (3, 2, 1), {"return_indices": True}, (1, 2, 7, 7)),
    ("MaxPool3d", (2,), {"stride": 1, "padding": 1}, (1, 2, 3, 4, 3)),
    ("AvgPool1d", (3, 2, 1), {"ceil_mode": True, "count_include_pad": False}, (2, 2, 10)),
    ("AvgPool2d", (3, 2, 1), {"ceil_mode": True}, (2, 2, 8, 9)),
    ("AvgPool2d", (3, 2, 1), {"count_include_pad": False}, (2, 2, 8, 9)),
    ("AvgPool2d", (2,), {"divisor_override": 3}, (1, 2, 6, 6)),
    ("AvgPool3d", (2, 1, 1), {"ceil_mode": True, "count_include_pad": False},
     (1, 2, 3, 4, 5)),
    ("LPPool1d", (2, 3), {"stride": 2}, (2, 2, 9)),
    ("LPPool2d", (3, 2), {}, (1, 2, 6, 6)),
    ("AdaptiveAvgPool1d", (4,), {}, (2, 3, 10)),
    ("AdaptiveAvgPool2d", ((3, 5),), {}, (2, 2, 7, 9)),
    ("AdaptiveAvgPool2d", ((None, 2),), {}, (2, 2, 7, 8)),
    ("AdaptiveAvgPool3d", (2,), {}, (1, 2, 4, 5, 3)),
    ("AdaptiveMaxPool1d", (3, True), {}, (2, 3, 10)),
    ("AdaptiveMaxPool2d", ((4, 3),), {"return_indices": True}, (2, 2, 7, 9)),
]


@pytest.mark.parametrize("name,args,kwargs,shape", POOL_CASES)
def test_pool_modules(name, args, kwargs, shape):
    em, tm = _pair(name, *args, **kwargs)
    assert repr(em) == repr(tm)
    x = _arr(*shape)
    if name.startswith("LP"):
        x = np.abs(x) + 0.1
    compare(em, tm, [x])


@pytest.mark.parametrize("nd", [1, 2])
def test_max_unpool_modules(nd):
    pool = getattr(tnn, f"MaxPool{nd}d")(2, return_indices=True)
    out, idx = pool(torch.tensor(_arr(2, 3, *(6,) * nd)))
    em, tm = _pair(f"MaxUnpool{nd}d", 2)
    assert repr(em) == repr(tm)
    compare(em, tm, [out.numpy(), idx.numpy()])
    compare(em, tm, [out.numpy(), idx.numpy()],
            lambda m, a, b: m(a, b, output_size=(2, 3) + (7,) * nd))


UPSAMPLE_CASES = [
    ("Upsample", (), {"scale_factor": 2}, (1, 2, 3, 4)),
    ("Upsample", (), {"size": (5, 7), "mode": "bilinear"}, (1, 2, 3, 4)),
    ("Upsample", (), {"scale_factor": 1.7, "mode": "bilinear", "align_corners": True},
     (1, 2, 4, 3)),
    ("Upsample", (), {"size": 7, "mode": "linear"}, (2, 2, 4)),
    ("Upsample", (), {"size": (6, 5), "mode": "bicubic"}, (1, 1, 4, 4)),
    ("Upsample", (), {"scale_factor": (2, 1.5, 1), "mode": "trilinear"}, (1, 1, 2, 4, 3)),
    ("Upsample", (), {"size": (5, 7), "mode": "nearest-exact"}, (1, 2, 3, 4)),
    ("UpsamplingNearest2d", (), {"scale_factor": 3}, (1, 2, 2, 3)),
    ("UpsamplingBilinear2d", (), {"size": (5, 6)}, (1, 2, 2, 3)),
    ("PixelShuffle", (2,), {}, (2, 8, 3, 2)),
    ("PixelUnshuffle", (2,), {}, (2, 2, 4, 6)),
    ("Unfold", ((2, 3),), {"dilation": (2, 1), "padding": 1, "stride": (1, 2)}, (2, 3, 5, 6)),
    ("Fold", ((4, 5), (2, 2)), {"stride": 1}, (2, 8, 12)),
    ("ZeroPad2d", ((1, 2, 0, 3),), {}, (1, 2, 3, 3)),
    ("ConstantPad1d", (2, 1.5), {}, (2, 3, 4)),
    ("ConstantPad3d", ((1, 0, 2, 1, 0, 1), -1.0), {}, (1, 1, 2, 2, 2)),
    ("ReflectionPad1d", ((3, 1),), {}, (2, 3, 5)),
    ("ReflectionPad2d", (2,), {}, (1, 2, 4, 5)),
    ("ReplicationPad1d", (2,), {}, (2, 3, 4)),
    ("ReplicationPad2d", ((1, 3, 2, 0),), {}, (1, 2, 3, 3)),
    ("ReplicationPad3d", (1,), {}, (1, 1, 2, 3, 2)),
    ("CircularPad2d", ((1, 2, 2, 1),), {}, (1, 2, 3, 4)),
]


@pytest.mark.parametrize("name,args,kwargs,shape", UPSAMPLE_CASES)
def test_resampling_and_padding_modules(name, args, kwargs, shape):
    em, tm = _pair(name, *args, **kwargs)
    assert repr(em) == repr(tm)
    compare(em, tm, [_arr(*shape)])


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_recurrent_multilayer_bidirectional(cls, batch_first):
    em, tm = _pair(cls, 3, 5, num_layers=2, bidirectional=True, batch_first=batch_first)
    assert repr(em) == repr(tm)
    compare(em, tm, [_arr(4, 2, 3)])


def test_recurrent_initial_states_proj_and_relu():
    em, tm = _pair("LSTM", 3, 5, num_layers=2, proj_size=2, bidirectional=True)
    h0, c0 = _arr(4, 2, 2, seed=1), _arr(4, 2, 5, seed=2)
    compare(em, tm, [_arr(4, 2, 3), h0, c0], lambda m, x, h, c: m(x, (h, c)))
    em, tm = _pair("RNN", 3, 4, nonlinearity="relu", bias=False)
    assert repr(em) == repr(tm)
    compare(em, tm, [_arr(5, 3), _arr(1, 4, seed=3)])  # unbatched with h0
    em, tm = _pair("GRU", 3, 4, num_layers=3)
    compare(em, tm, [_arr(3, 2, 3), _arr(3, 2, 4, seed=4)])


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_recurrent_packed_sequences(cls):
    em, tm = _pair(cls, 3, 4, num_layers=2, bidirectional=True)

    def call(m, x):
        utils = ernn if isinstance(m, enn.Module) else tnn.utils.rnn
        packed = utils.pack_padded_sequence(x, [2, 5, 3], batch_first=True,
                                            enforce_sorted=False)
        out, hidden = m(packed)
        return utils.pad_packed_sequence(out, batch_first=True, total_length=6), hidden
    compare(em, tm, [_arr(3, 5, 3)], call)


@pytest.mark.parametrize("cls", ["RNNCell", "LSTMCell", "GRUCell"])
def test_recurrent_cells(cls):
    em, tm = _pair(cls, 3, 4)
    assert repr(em) == repr(tm)
    compare(em, tm, [_arr(2, 3)])
    hx = [_arr(2, 4, seed=1)] + ([_arr(2, 4, seed=2)] if cls == "LSTMCell" else [])
    if cls == "LSTMCell":
        compare(em, tm, [_arr(2, 3)] + hx, lambda m, x, h, c: m(x, (h, c)))
    else:
        compare(em, tm, [_arr(3)] + [hx[0][0]])


def test_rnn_utils_match_torch():
    seqs = [_arr(n, 2, seed=n) for n in (2, 4, 1)]
    e = ernn.pack_sequence([ember.tensor(s) for s in seqs], enforce_sorted=False)
    t = tnn.utils.rnn.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    np.testing.assert_array_equal(e.data.numpy(), t.data.numpy())
    assert e.batch_sizes.tolist() == t.batch_sizes.tolist()
    assert e.sorted_indices.tolist() == t.sorted_indices.tolist()
    assert e.unsorted_indices.tolist() == t.unsorted_indices.tolist()
    ep = ernn.pad_sequence([ember.tensor(s) for s in seqs], True, 2.0, "left")
    tp = tnn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs], True, 2.0, "left")
    np.testing.assert_array_equal(ep.numpy(), tp.numpy())


MHA_CASES = [
    ({}, {}),
    ({"batch_first": True}, {"need_weights": True, "average_attn_weights": False}),
    ({"kdim": 3, "vdim": 5}, {}),
    ({"add_bias_kv": True, "add_zero_attn": True}, {}),
    ({"bias": False}, {"need_weights": False}),
]


@pytest.mark.parametrize("init,kw", MHA_CASES)
def test_multihead_attention(init, kw):
    em, tm = _pair("MultiheadAttention", 8, 2, **init)
    kdim, vdim = init.get("kdim", 8), init.get("vdim", 8)
    shape = (2, 4) if init.get("batch_first") else (4, 2)
    kshape = (2, 5) if init.get("batch_first") else (5, 2)
    arrays = [_arr(*shape, 8), _arr(*kshape, kdim, seed=1), _arr(*kshape, vdim, seed=2)]
    compare(em, tm, arrays, lambda m, q, k, v: m(q, k, v, **kw))


def test_multihead_attention_masks_and_self_attention():
    em, tm = _pair("MultiheadAttention", 8, 4)
    kpm = np.array([[False, False, True, True], [False] * 4])
    mask = _arr(4, 4, seed=3)
    bool_mask = np.triu(np.ones((4, 4), bool), 1)

    def call(m, x, kpm_, mask_):
        return m(x, x, x, key_padding_mask=kpm_, attn_mask=mask_)
    compare(em, tm, [_arr(4, 2, 8), kpm, mask], call)
    compare(em, tm, [_arr(4, 2, 8), kpm, bool_mask], call)
    compare(em, tm, [_arr(4, 2, 8), bool_mask], lambda m, x, c: m(x, x, x, attn_mask=c,
                                                                     is_causal=True))


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_transformer_layers_eval(norm_first, activation):
    em, tm = _pair("TransformerEncoderLayer", 8, 2, 16, norm_first=norm_first,
                   activation=activation)
    mask = tnn.Transformer.generate_square_subsequent_mask(5).numpy()
    compare(em.eval(), tm.eval(), [_arr(5, 2, 8), mask],
            lambda m, x, c: m(x, src_mask=c))
    em, tm = _pair("TransformerDecoderLayer", 8, 2, 16, norm_first=norm_first,
                   activation=activation, batch_first=True)
    kpm = np.array([[False] * 5, [False, False, False, True, True]])
    compare(em.eval(), tm.eval(), [_arr(2, 3, 8), _arr(2, 5, 8, seed=1), kpm],
            lambda m, t, s, k: m(t, s, memory_key_padding_mask=k))


@pytest.mark.filterwarnings("ignore:enable_nested_tensor")
def test_transformer_stacks_eval():
    em, tm = _pair("Transformer", 8, 2, 2, 2, 16)
    mask = tnn.Transformer.generate_square_subsequent_mask(3).numpy()
    compare(em.eval(), tm.eval(), [_arr(5, 2, 8), _arr(3, 2, 8, seed=1), mask],
            lambda m, s, t, c: m(s, t, tgt_mask=c))
    layer_e = enn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
    layer_t = tnn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
    em = enn.TransformerEncoder(layer_e, 2, norm=enn.LayerNorm(8))
    tm = tnn.TransformerEncoder(layer_t, 2, norm=tnn.LayerNorm(8), enable_nested_tensor=False)
    compare(em.eval(), tm.eval(), [_arr(2, 5, 8)])
    np.testing.assert_array_equal(enn.Transformer.generate_square_subsequent_mask(4).numpy(),
                                  tnn.Transformer.generate_square_subsequent_mask(4).numpy())


def _fn_compare(efn, tfn, *arrays):
    e_in = [ember.tensor(a, requires_grad=True) for a in arrays]
    t_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    e_out, t_out = efn(*e_in), tfn(*t_in)
    np.testing.assert_allclose(e_out.detach().numpy(), t_out.detach().numpy(), atol=1e-10)
    g = _arr(*t_out.shape, seed=7)
    e_out.backward(ember.tensor(g))
    t_out.backward(torch.tensor(g))
    for a, b in zip(e_in, t_in):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-10)


@pytest.mark.parametrize("kw", [{}, {"is_causal": True}, {"scale": 0.2}])
def test_scaled_dot_product_attention(kw):
    q, k, v = _arr(2, 2, 4, 3), _arr(2, 2, 4, 3, seed=1), _arr(2, 2, 4, 5, seed=2)
    _fn_compare(lambda *t: EF.scaled_dot_product_attention(*t, **kw),
                lambda *t: TF.scaled_dot_product_attention(*t, **kw), q, k, v)
    mask = _arr(4, 4, seed=3)
    _fn_compare(lambda *t: EF.scaled_dot_product_attention(*t[:3], attn_mask=t[3]),
                lambda *t: TF.scaled_dot_product_attention(*t[:3], attn_mask=t[3]),
                q, k, v, mask)


@pytest.mark.parametrize("name,args,kwargs", [
    ("max_pool2d", (3, 2, 1), {"ceil_mode": True}),
    ("avg_pool2d", (3, 2, 1), {"ceil_mode": True, "count_include_pad": False}),
    ("adaptive_avg_pool2d", ((3, 4),), {}),
    ("adaptive_max_pool2d", ((4, 3),), {}),
    ("interpolate", (), {"scale_factor": 2.5, "mode": "bicubic"}),
    ("interpolate", (), {"size": (4, 4), "mode": "area"}),
    ("pad", ((2, 1, 1, 2), "reflect"), {}),
    ("pad", ((2, -1, 3, 0),), {"value": 0.5}),
    ("unfold", ((2, 2),), {"stride": 2}),
])
def test_functional_forms(name, args, kwargs):
    _fn_compare(lambda x: getattr(EF, name)(x, *args, **kwargs),
                lambda x: getattr(TF, name)(x, *args, **kwargs), _arr(2, 3, 7, 6))
