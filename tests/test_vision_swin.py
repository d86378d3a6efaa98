"""ember.vision.models.swin_transformer: Swin Transformer V1 and V2.

Oracles: NumPy re-computations (the shifted-window masks built by region slices as in the
paper, window attention with padding, cyclic shift and masks, the relative position index and
V2's log-spaced coordinate table, patch merging) and torchvision's documented facts (parameter
counts, URLs, presets, state_dict keys).
"""
import numpy as np
import pytest

import ember
from ember import nn
from ember._tensor import Tensor
from ember.vision import models
from ember.vision.models import swin_transformer as swin

URL = "https://download.pytorch.org/models/"
# builder -> (file, num_params, crop size, resize size)
WEIGHTS = {
    "swin_t": ("swin_t-704ceda3.pth", 28288354, 224, 232),
    "swin_s": ("swin_s-5e29d889.pth", 49606258, 224, 246),
    "swin_b": ("swin_b-68c6b09e.pth", 87768224, 224, 238),
    "swin_v2_t": ("swin_v2_t-b137f0e2.pth", 28351570, 256, 260),
    "swin_v2_s": ("swin_v2_s-637d8ceb.pth", 49737442, 256, 260),
    "swin_v2_b": ("swin_v2_b-781e5279.pth", 87930848, 256, 272),
}


@pytest.fixture
def shapes_only(monkeypatch):
    """Skip the random fills of initialisation: counting parameters needs only shapes."""
    monkeypatch.setattr(Tensor, "uniform_", lambda self, *args, **kwargs: self)
    monkeypatch.setattr(Tensor, "normal_", lambda self, *args, **kwargs: self)
    monkeypatch.setattr(nn.init, "trunc_normal_", lambda tensor, *args, **kwargs: tensor)
    monkeypatch.setattr(nn.init, "xavier_uniform_", lambda tensor, *args, **kwargs: tensor)


def _mask_by_slices(pad_h, pad_w, window, shift):
    """The paper's construction: label the regions cut by the slices [0, -w), [-w, -s),
    [-s, end) along each side, cut the label map into windows, -100 where labels differ."""
    labels = np.zeros((pad_h, pad_w))
    count = 0
    for hs in ((0, -window[0]), (-window[0], -shift[0]), (-shift[0], None)):
        for ws in ((0, -window[1]), (-window[1], -shift[1]), (-shift[1], None)):
            labels[hs[0]:hs[1], ws[0]:ws[1]] = count
            count += 1
    labels = labels.reshape(pad_h // window[0], window[0], pad_w // window[1], window[1])
    labels = labels.transpose(0, 2, 1, 3).reshape(-1, window[0] * window[1])
    diff = labels[:, None, :] - labels[:, :, None]
    return np.where(diff != 0, -100.0, 0.0)


@pytest.mark.parametrize("pad_h,pad_w,window,shift", [(6, 6, [3, 3], [1, 1]),
                                                      (8, 12, [4, 3], [2, 1]),
                                                      (14, 14, [7, 7], [3, 3])])
def test_shifted_window_mask_matches_slice_construction(pad_h, pad_w, window, shift):
    like = ember.zeros(1, dtype=ember.float64)
    got = swin._shifted_window_mask(pad_h, pad_w, window, shift, like)
    assert got.dtype == ember.float64
    np.testing.assert_array_equal(got.numpy(), _mask_by_slices(pad_h, pad_w, window, shift))


def _softmax(a):
    e = np.exp(a - a.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _window_attention_numpy(x, qkv_w, qkv_b, proj_w, proj_b, bias, window, heads, shift,
                            logit_scale=None):
    """Window attention written out with NumPy: pad, roll, one window at a time."""
    b, h, w, c = x.shape
    ph, pw = -h % window[0], -w % window[1]
    x = np.pad(x, ((0, 0), (0, ph), (0, pw), (0, 0)))
    hh, ww = x.shape[1:3]
    shift = [0 if win >= size else s for win, size, s in zip(window, (hh, ww), shift)]
    x = np.roll(x, (-shift[0], -shift[1]), axis=(1, 2))
    mask = _mask_by_slices(hh, ww, window, shift) if sum(shift) else None
    if logit_scale is not None:
        qkv_b = qkv_b.copy()
        qkv_b[c:2 * c] = 0
    out = np.zeros_like(x)
    d = c // heads
    for n in range(b):
        for wi, (r0, c0) in enumerate((r, q) for r in range(0, hh, window[0])
                                      for q in range(0, ww, window[1])):
            tokens = x[n, r0:r0 + window[0], c0:c0 + window[1]].reshape(-1, c)
            q, k, v = np.split(tokens @ qkv_w.T + qkv_b, 3, axis=-1)
            q, k, v = (a.reshape(-1, heads, d).transpose(1, 0, 2) for a in (q, k, v))
            if logit_scale is None:
                logits = (q * d ** -0.5) @ k.transpose(0, 2, 1)
            else:
                qn = q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), 1e-12)
                kn = k / np.maximum(np.linalg.norm(k, axis=-1, keepdims=True), 1e-12)
                logits = qn @ kn.transpose(0, 2, 1) * np.exp(np.minimum(logit_scale,
                                                                        np.log(100.0)))
            logits = logits + bias[0]
            if mask is not None:
                logits = logits + mask[wi]
            y = (_softmax(logits) @ v).transpose(1, 0, 2).reshape(-1, c) @ proj_w.T + proj_b
            out[n, r0:r0 + window[0], c0:c0 + window[1]] = y.reshape(window[0], window[1], c)
    out = np.roll(out, (shift[0], shift[1]), axis=(1, 2))
    return out[:, :h, :w]


@pytest.mark.parametrize("cosine", [False, True])
@pytest.mark.parametrize("size,window,shift", [((5, 7), [3, 3], [1, 1]),
                                               ((4, 6), [2, 3], [1, 1]),
                                               ((3, 3), [4, 4], [2, 2]),
                                               ((6, 6), [3, 3], [0, 0])])
def test_shifted_window_attention_matches_numpy(size, window, shift, cosine):
    rng = np.random.default_rng(0)
    c, heads, n = 4, 2, window[0] * window[1]
    x = rng.normal(size=(2, *size, c))
    qkv_w, qkv_b = rng.normal(size=(3 * c, c)), rng.normal(size=3 * c)
    proj_w, proj_b = rng.normal(size=(c, c)), rng.normal(size=c)
    bias = rng.normal(size=(1, heads, n, n))
    scale = rng.normal(size=(heads, 1, 1)) + 1 if cosine else None
    t = ember.tensor
    got = swin.shifted_window_attention(
        t(x), t(qkv_w), t(proj_w), t(bias), window, heads, shift, qkv_bias=t(qkv_b),
        proj_bias=t(proj_b), logit_scale=None if scale is None else t(scale), training=False)
    expected = _window_attention_numpy(x, qkv_w, qkv_b, proj_w, proj_b, bias, window, heads,
                                       shift, scale)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-12)


def test_relative_position_index_and_v2_coordinates_match_numpy():
    window = [3, 4]
    attn = swin.ShiftedWindowAttention(8, window, [0, 0], num_heads=2)
    ys, xs = np.divmod(np.arange(12), 4)
    expected = (ys[:, None] - ys[None] + 2) * 7 + (xs[:, None] - xs[None] + 3)
    np.testing.assert_array_equal(attn.relative_position_index.numpy(), expected.ravel())
    assert attn.relative_position_index.dtype == ember.int64
    assert attn.relative_position_bias_table.shape == (5 * 7, 2)
    bias = attn.get_relative_position_bias().detach().numpy()
    table = attn.relative_position_bias_table.detach().numpy()
    np.testing.assert_array_equal(bias[0], table[expected].transpose(2, 0, 1))

    v2 = swin.ShiftedWindowAttentionV2(8, window, [0, 0], num_heads=2)
    dy = np.arange(-2, 3, dtype=np.float32) / 2 * 8
    dx = np.arange(-3, 4, dtype=np.float32) / 3 * 8
    grid = np.stack(np.meshgrid(dy, dx, indexing="ij"), -1)[None]
    coords = np.sign(grid) * np.log2(np.abs(grid) + 1) / 3
    got = v2.relative_coords_table
    assert got.dtype == ember.float32 and got.shape == (1, 5, 7, 2)
    np.testing.assert_allclose(got.numpy(), coords, rtol=1e-6)
    # the continuous bias: 16 * sigmoid(cpb_mlp(coords)) per (query, key) offset
    mlp = v2.cpb_mlp
    w0, b0 = mlp[0].weight.detach().numpy(), mlp[0].bias.detach().numpy()
    hidden = np.maximum(coords.reshape(-1, 2) @ w0.T + b0, 0) @ mlp[2].weight.detach().numpy().T
    expected_bias = 16 / (1 + np.exp(-hidden[expected]))
    np.testing.assert_allclose(v2.get_relative_position_bias().detach().numpy()[0],
                               expected_bias.transpose(2, 0, 1), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(v2.logit_scale.detach().numpy(), np.float32(np.log(10.0)))
    assert not v2.qkv.bias.detach().numpy()[8:16].any()


@pytest.mark.parametrize("merge", [swin.PatchMerging, swin.PatchMergingV2])
def test_patch_merging_matches_numpy(merge):
    rng = np.random.default_rng(0)
    layer = merge(3).double()
    x = rng.normal(size=(2, 5, 4, 3))
    padded = np.pad(x, ((0, 0), (0, 1), (0, 0), (0, 0)))
    cat = np.concatenate([padded[:, 0::2, 0::2], padded[:, 1::2, 0::2], padded[:, 0::2, 1::2],
                          padded[:, 1::2, 1::2]], -1)
    np.testing.assert_array_equal(swin._patch_merging_pad(ember.tensor(x)).numpy(), cat)
    w = layer.reduction.weight.detach().numpy()
    assert w.shape == (6, 12) and layer.reduction.bias is None

    def norm(a):
        return (a - a.mean(-1, keepdims=True)) / np.sqrt(a.var(-1, keepdims=True) + 1e-5)

    expected = norm(cat) @ w.T if merge is swin.PatchMerging else norm(cat @ w.T)
    got = layer(ember.tensor(x)).detach().numpy()
    assert got.shape == (2, 3, 2, 6)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(WEIGHTS))
def test_weights_records_and_parameter_counts(shapes_only, name):
    file_name, num_params, crop, resize = WEIGHTS[name]
    enum = models.get_model_weights(name)
    assert models.__dict__[name] is models.get_model_builder(name)
    w = enum.DEFAULT
    assert w is enum.IMAGENET1K_V1 and w.url == URL + file_name
    assert w.meta["num_params"] == num_params and w.meta["min_size"] == (crop, crop)
    assert len(w.meta["categories"]) == 1000
    preset = w.transforms()
    assert (preset.crop_size, preset.resize_size) == ([crop], [resize])
    assert preset.interpolation.value == "bicubic"
    net = models.get_model(name)
    assert sum(p.numel() for p in net.parameters()) == num_params


def test_state_dict_keys_and_stochastic_depth_schedule(shapes_only):
    net = swin.swin_t()
    sd = net.state_dict()
    for key, shape in {
        "features.0.0.weight": (96, 3, 4, 4), "features.0.2.weight": (96,),
        "features.1.0.norm1.weight": (96,), "features.1.0.attn.qkv.weight": (288, 96),
        "features.1.0.attn.relative_position_bias_table": (169, 3),
        "features.1.1.attn.relative_position_index": (2401,),
        "features.1.1.mlp.0.weight": (384, 96), "features.1.1.mlp.3.bias": (96,),
        "features.2.reduction.weight": (192, 384), "features.2.norm.weight": (384,),
        "features.5.5.attn.proj.weight": (384, 384), "features.7.1.norm2.bias": (768,),
        "norm.weight": (768,), "head.weight": (1000, 768),
    }.items():
        assert tuple(sd[key].shape) == shape, key
    assert len(sd) == 4 + 12 * 14 + 3 * 3 + 4  # stem, blocks, mergings, norm and head
    blocks = [b for stage in net.features[1::2] for b in stage]
    assert [b.stochastic_depth.p for b in blocks] == pytest.approx(
        [0.2 * i / 11 for i in range(12)])
    assert [b.attn.shift_size for b in net.features[5]] == [[0, 0], [3, 3]] * 3
    v2 = swin.swin_v2_t().state_dict()
    assert "features.1.0.attn.logit_scale" in v2 and "features.1.0.attn.cpb_mlp.2.weight" in v2
    assert tuple(v2["features.1.0.attn.relative_coords_table"].shape) == (1, 15, 15, 2)
    assert tuple(v2["features.2.norm.weight"].shape) == (192,)


@pytest.mark.parametrize("version", [1, 2])
def test_small_model_forward_and_backward(version):
    ember.manual_seed(0)
    extra = {} if version == 1 else {"block": swin.SwinTransformerBlockV2,
                                     "downsample_layer": swin.PatchMergingV2}
    net = swin.SwinTransformer([2, 2], 8, [2, 2], [2, 4], [3, 3], num_classes=3,
                               stochastic_depth_prob=0.5, dropout=0.1, **extra)
    out = net(ember.randn(2, 3, 10, 14))
    assert out.shape == (2, 3) and np.isfinite(out.detach().numpy()).all()
    out.square().sum().backward()
    assert not [k for k, p in net.named_parameters() if p.grad is None]
    if version == 2:  # V2 has no key bias: it receives no gradient
        assert not net.features[1][0].attn.qkv.bias.grad.numpy()[8:16].any()
    net.eval()
    x = ember.randn(1, 3, 10, 14)
    np.testing.assert_array_equal(net(x).detach().numpy(), net(x).detach().numpy())
