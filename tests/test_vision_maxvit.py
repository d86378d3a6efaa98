"""ember.vision.models.maxvit: MaxViT-T.

Oracles: NumPy re-computations (window and grid partitions, the relative position index, the
partition attention) and torchvision's documented facts (parameter count, URL, preset,
state_dict keys, the size checks and stochastic depth schedule).
"""
import numpy as np
import pytest

import ember
from ember import nn
from ember._tensor import Tensor
from ember.vision import models
from ember.vision.models import maxvit


@pytest.fixture
def shapes_only(monkeypatch):
    """Skip the random fills of initialisation: counting parameters needs only shapes."""
    monkeypatch.setattr(Tensor, "normal_", lambda self, *args, **kwargs: self)
    monkeypatch.setattr(nn.init, "trunc_normal_", lambda tensor, *args, **kwargs: tensor)


def test_window_and_grid_partitions_match_numpy():
    x = np.arange(2 * 3 * 4 * 6, dtype=np.float64).reshape(2, 3, 4, 6)
    got = maxvit.WindowPartition()(ember.tensor(x), 2).numpy()
    assert got.shape == (2, 6, 4, 3)
    for wi, (r, c) in enumerate((r, c) for r in range(0, 4, 2) for c in range(0, 6, 2)):
        window = x[:, :, r:r + 2, c:c + 2].reshape(2, 3, 4).transpose(0, 2, 1)
        np.testing.assert_array_equal(got[:, wi], window)
    back = maxvit.WindowDepartition()(ember.tensor(got), 2, 2, 3).numpy()
    np.testing.assert_array_equal(back, x)
    # grid partition: partition by the number of partitions, then swap, so that each group
    # holds the tokens one stride (H / partitions) apart
    square = x[:, :, :4, :4]
    grid = maxvit.SwapAxes(-2, -3)(maxvit.WindowPartition()(ember.tensor(square), 2)).numpy()
    for gi, (r, c) in enumerate((r, c) for r in range(2) for c in range(2)):
        group = square[:, :, r::2, c::2].reshape(2, 3, 4).transpose(0, 2, 1)
        np.testing.assert_array_equal(grid[:, gi], group)


def test_relative_position_index_matches_numpy():
    ys, xs = np.divmod(np.arange(6), 3)
    expected = (ys[:, None] - ys[None] + 1) * 5 + (xs[:, None] - xs[None] + 2)
    np.testing.assert_array_equal(maxvit._get_relative_position_index(2, 3).numpy(), expected)


def test_attention_matches_numpy():
    rng = np.random.default_rng(0)
    attn = maxvit.RelativePositionalMultiHeadAttention(8, 4, 4).double()
    x = rng.normal(size=(2, 3, 4, 8))
    w = lambda m: (m.weight.detach().numpy(), m.bias.detach().numpy())  # noqa: E731
    (wq, bq), (wm, bm) = w(attn.to_qkv), w(attn.merge)
    q, k, v = np.split(x @ wq.T + bq, 3, -1)
    q, k, v = (a.reshape(2, 3, 4, 2, 4).transpose(0, 1, 3, 2, 4) for a in (q, k, v))
    table = attn.relative_position_bias_table.detach().numpy()
    bias = table[maxvit._get_relative_position_index(2, 2).numpy()].transpose(2, 0, 1)
    logits = q @ (k * 8 ** -0.5).transpose(0, 1, 2, 4, 3) + bias
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    expected = (p @ v).transpose(0, 1, 3, 2, 4).reshape(2, 3, 4, 8) @ wm.T + bm
    np.testing.assert_allclose(attn(ember.tensor(x)).detach().numpy(), expected, rtol=1e-10,
                               atol=1e-12)
    with pytest.raises(ValueError, match="divisible by head_dim"):
        maxvit.RelativePositionalMultiHeadAttention(6, 4, 4)


def test_maxvit_t_weights_keys_and_schedule(shapes_only):
    w = models.MaxVit_T_Weights.DEFAULT
    assert w.url == "https://download.pytorch.org/models/maxvit_t-bc5ab103.pth"
    assert w.meta["num_params"] == 30919624 and w.meta["min_size"] == (224, 224)
    preset = w.transforms()
    assert (preset.crop_size, preset.resize_size) == ([224], [224])
    assert preset.interpolation.value == "bicubic"
    net = models.get_model("maxvit_t")
    assert sum(p.numel() for p in net.parameters()) == 30919624
    sd = net.state_dict()
    for key, shape in {
        "stem.0.0.weight": (64, 3, 3, 3), "stem.1.0.bias": (64,),
        "blocks.0.layers.0.layers.MBconv.proj.1.weight": (64, 64, 1, 1),
        "blocks.0.layers.0.layers.MBconv.layers.pre_norm.running_mean": (64,),
        "blocks.1.layers.0.layers.MBconv.layers.squeeze_excitation.fc1.weight": (32, 512, 1, 1),
        "blocks.2.layers.4.layers.window_attention.attn_layer.1.relative_position_bias_table":
            (169, 8),
        "blocks.3.layers.1.layers.grid_attention.mlp_layer.1.weight": (2048, 512),
        "classifier.2.weight": (512,), "classifier.5.weight": (1000, 512),
    }.items():
        assert tuple(sd[key].shape) == shape, key
    assert "classifier.5.bias" not in sd
    depths = [layer.layers.grid_attention.stochastic_dropout.p
              for block in net.blocks for layer in block.layers]
    assert depths == np.linspace(0, 0.2, 11).tolist()
    assert [b.grid_size for b in net.blocks] == [(56, 56), (28, 28), (14, 14), (7, 7)]
    with pytest.raises(ValueError, match="not divisible by partition size"):
        models.maxvit_t(input_size=(200, 200))


def test_small_model_forward_and_backward():
    ember.manual_seed(0)
    net = maxvit.MaxVit((32, 32), 8, 2, [8, 16], [2, 1], 4, stochastic_depth_prob=0.5,
                        num_classes=3)
    out = net(ember.randn(2, 3, 32, 32))
    assert out.shape == (2, 3) and np.isfinite(out.detach().numpy()).all()
    out.square().sum().backward()
    assert not [k for k, p in net.named_parameters() if p.grad is None]
