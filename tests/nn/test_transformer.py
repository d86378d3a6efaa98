"""Attention and transformer layers: scaled_dot_product_attention and MultiheadAttention vs
NumPy, float64 gradchecks, PyTorch's parameter names, masks and modes."""
import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd import gradcheck


def np_softmax(s):
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_sdpa(q, k, v, mask=None, causal=False, scale=None):
    s = q @ np.swapaxes(k, -1, -2) * (scale if scale is not None else 1 / np.sqrt(q.shape[-1]))
    if causal:
        mask = np.tril(np.ones((q.shape[-2], k.shape[-2]), bool))
    if mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == bool else s + mask
    return np_softmax(s) @ v


def _arr(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("kind", ["none", "bool", "float", "causal", "scale"])
def test_sdpa_matches_numpy(kind):
    q, k, v = _arr(2, 3, 4, 5), _arr(2, 3, 6, 5, seed=1), _arr(2, 3, 6, 2, seed=2)
    mask = None
    if kind == "bool":
        mask = _arr(4, 6, seed=3) > -0.5
        mask[:, 0] = True
    elif kind == "float":
        mask = _arr(2, 1, 4, 6, seed=3)
    kwargs = {"is_causal": kind == "causal", "scale": 0.3 if kind == "scale" else None}
    out = F.scaled_dot_product_attention(
        ember.tensor(q), ember.tensor(k), ember.tensor(v),
        attn_mask=None if mask is None else ember.tensor(mask), **kwargs)
    ref = np_sdpa(q, k, v, mask, kwargs["is_causal"], kwargs["scale"])
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-10, atol=1e-12)


def test_sdpa_gradcheck_dropout_and_errors():
    ts = tuple(ember.tensor(_arr(1, 2, 3, 4, seed=i), requires_grad=True) for i in range(3))
    mask = ember.tensor(_arr(3, 3, seed=9))
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, mask), ts)
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                     ts)
    q = ember.ones(1, 8, 16)
    out = F.scaled_dot_product_attention(q, q, ember.ones(1, 8, 16), dropout_p=0.5)
    vals = np.unique(np.round(out.numpy(), 5))
    assert len(vals) > 1  # some weights dropped, the rest scaled up
    with pytest.raises(RuntimeError, match="is_causal"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=ember.ones(8, 8), is_causal=True)


def np_mha(m, q, k, v, kpm=None, mask=None):
    p = {n: t.detach().numpy() for n, t in m.named_parameters()}
    e, h = m.embed_dim, m.num_heads
    wq, wk, wv = np.split(p["in_proj_weight"], 3)
    bq, bk, bv = np.split(p["in_proj_bias"], 3)
    qp, kp, vp = q @ wq.T + bq, k @ wk.T + bk, v @ wv.T + bv  # (L, N, E)

    def heads(t):  # (L, N, E) -> (N, H, L, d)
        return t.reshape(t.shape[0], t.shape[1], h, e // h).transpose(1, 2, 0, 3)
    s = heads(qp) @ heads(kp).transpose(0, 1, 3, 2) / np.sqrt(e // h)
    if mask is not None:
        s = s + mask
    if kpm is not None:
        s = np.where(kpm[:, None, None, :], -np.inf, s)
    w = np_softmax(s)
    o = (w @ heads(vp)).transpose(2, 0, 1, 3).reshape(q.shape[0], q.shape[1], e)
    return o @ p["out_proj.weight"].T + p["out_proj.bias"], w.mean(1)


def test_multihead_attention_matches_numpy():
    m = nn.MultiheadAttention(6, 2, dtype=ember.float64)
    with ember.no_grad():  # non-zero biases so the test sees them
        m.in_proj_bias.copy_(ember.tensor(_arr(18, seed=5)))
        m.out_proj.bias.copy_(ember.tensor(_arr(6, seed=6)))
    q, k = _arr(4, 2, 6), _arr(5, 2, 6, seed=1)
    kpm = np.array([[False, False, False, True, True], [False] * 5])
    mask = _arr(4, 5, seed=2)
    out, w = m(ember.tensor(q), ember.tensor(k), ember.tensor(k),
               key_padding_mask=ember.tensor(kpm), attn_mask=ember.tensor(mask))
    ref_out, ref_w = np_mha(m, q, k, k, kpm, mask)
    np.testing.assert_allclose(out.detach().numpy(), ref_out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w.detach().numpy(), ref_w, rtol=1e-10, atol=1e-12)
    out_bf, w_heads = nn.MultiheadAttention(6, 3, batch_first=True)(
        ember.randn(2, 4, 6), ember.randn(2, 5, 6), ember.randn(2, 5, 6),
        average_attn_weights=False)
    assert out_bf.shape == (2, 4, 6) and w_heads.shape == (2, 3, 4, 5)
    _, none = m(ember.tensor(q), ember.tensor(q), ember.tensor(q), need_weights=False)
    assert none is None


def test_multihead_attention_parameters_and_options():
    m = nn.MultiheadAttention(8, 2)
    assert [n for n, _ in m.named_parameters()] == \
        ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    assert m.in_proj_bias.abs().sum().item() == 0 and m.out_proj.bias.abs().sum().item() == 0
    assert repr(m.out_proj) == \
        "NonDynamicallyQuantizableLinear(in_features=8, out_features=8, bias=True)"
    kv = nn.MultiheadAttention(8, 2, kdim=3, vdim=5, add_bias_kv=True, add_zero_attn=True)
    assert [n for n, _ in kv.named_parameters()] == \
        ["q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias", "bias_k",
         "bias_v", "out_proj.weight", "out_proj.bias"]
    out, w = kv(ember.randn(4, 2, 8), ember.randn(6, 2, 3), ember.randn(6, 2, 5))
    assert out.shape == (4, 2, 8) and w.shape == (2, 4, 8)  # 6 keys + bias_k + zero
    unbatched, w1 = m(ember.randn(3, 8), ember.randn(3, 8), ember.randn(3, 8))
    assert unbatched.shape == (3, 8) and w1.shape == (3, 3)
    with pytest.raises(AssertionError):
        nn.MultiheadAttention(7, 2)


def test_multihead_attention_gradcheck():
    m = nn.MultiheadAttention(4, 2, dtype=ember.float64)
    q = ember.tensor(_arr(3, 1, 4), requires_grad=True)
    kv = ember.tensor(_arr(2, 1, 4, seed=1), requires_grad=True)
    causal = nn.Transformer.generate_square_subsequent_mask(3).to(ember.float64)
    assert gradcheck(lambda a, b: m(a, b, b)[0], (q, kv))
    assert gradcheck(lambda a: m(a, a, a, attn_mask=causal)[0], (q,))


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_post_and_pre_norm_reference(norm_first):
    layer = nn.TransformerEncoderLayer(6, 2, 10, dropout=0.0, norm_first=norm_first,
                                       dtype=ember.float64).eval()
    x = ember.tensor(_arr(4, 2, 6))

    def sa(t):
        return layer.self_attn(t, t, t)[0]

    def ff(t):
        return layer.linear2(F.relu(layer.linear1(t)))
    if norm_first:
        y = x + sa(layer.norm1(x))
        ref = y + ff(layer.norm2(y))
    else:
        y = layer.norm1(x + sa(x))
        ref = layer.norm2(y + ff(y))
    np.testing.assert_allclose(layer(x).detach().numpy(), ref.detach().numpy(), atol=1e-12)


def test_transformer_stack_names_masks_and_shapes():
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, activation="gelu"), 2,
                                norm=nn.LayerNorm(8))
    names = [n for n, _ in enc.named_parameters()]
    assert names[:4] == ["layers.0.self_attn.in_proj_weight", "layers.0.self_attn.in_proj_bias",
                         "layers.0.self_attn.out_proj.weight", "layers.0.self_attn.out_proj.bias"]
    assert "layers.1.linear1.weight" in names and "norm.bias" in names
    assert enc.layers[0].linear1.weight is not enc.layers[1].linear1.weight
    mask = nn.Transformer.generate_square_subsequent_mask(3)
    np.testing.assert_array_equal(mask.numpy(), [[0, -np.inf, -np.inf], [0, 0, -np.inf],
                                                 [0, 0, 0]])
    model = nn.Transformer(8, 2, 1, 1, 16, batch_first=True).eval()
    out = model(ember.randn(2, 5, 8), ember.randn(2, 3, 8), tgt_mask=mask,
                src_key_padding_mask=ember.tensor([[False] * 4 + [True]] * 2))
    assert out.shape == (2, 3, 8)
    dec = nn.TransformerDecoderLayer(8, 2, 16, norm_first=True).eval()
    assert dec(ember.randn(3, 2, 8), ember.randn(5, 2, 8), tgt_is_causal=True).shape == (3, 2, 8)
    custom = nn.TransformerEncoderLayer(8, 2, 16, activation=F.silu)
    assert custom.activation is F.silu
    with pytest.raises(RuntimeError, match="relu/gelu"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")


@pytest.mark.parametrize("masks", ["none", "attn2d", "attn3d", "padding", "both", "causal"])
def test_packed_self_attention_matches_composed_path(masks):
    # need_weights=False runs self-attention as one primitive; need_weights=True composes ops:
    # outputs and gradients agree, dropout included (both draw the same noise from one seed)
    m = nn.MultiheadAttention(8, 2, dropout=0.3, dtype=ember.float64)
    x = _arr(5, 3, 8)
    kw = {}
    if masks in ("attn2d", "both"):
        kw["attn_mask"] = ember.tensor(_arr(5, 5, seed=2))
    if masks == "attn3d":
        kw["attn_mask"] = ember.tensor(_arr(6, 5, 5, seed=2))
    if masks in ("padding", "both"):
        kw["key_padding_mask"] = ember.tensor(np.array([[0, 0, 0, 1, 1], [0] * 5, [1, 0, 0, 0, 0]],
                                                        bool))
    if masks == "causal":
        kw["attn_mask"] = nn.Transformer.generate_square_subsequent_mask(5).to(ember.float64)
        kw["is_causal"] = True
    results = []
    for need_weights in (False, True):
        a = ember.tensor(x, requires_grad=True)
        ember.manual_seed(3)
        out = m(a, a, a, need_weights=need_weights, **kw)[0]
        out.backward(ember.tensor(_arr(5, 3, 8, seed=4)))
        results.append((out.detach().numpy(), a.grad.numpy(), m.in_proj_weight.grad.numpy()))
        m.zero_grad()
    for fused, composed in zip(*results):
        np.testing.assert_allclose(fused, composed, atol=1e-12)


def test_packed_self_attention_gradcheck_and_double_backward():
    from ember.autograd import gradgradcheck
    m = nn.MultiheadAttention(4, 2, dtype=ember.float64, batch_first=True)
    x = ember.tensor(_arr(2, 3, 4), requires_grad=True)
    kpm = ember.tensor(np.array([[0, 0, 1], [0, 0, 0]], bool))

    def attend(a):
        return m(a, a, a, key_padding_mask=kpm, need_weights=False)[0]
    assert attend(x).grad_fn is not None
    assert gradcheck(attend, (x,))
    assert gradgradcheck(attend, (x,))
