"""Vision Transformers in ember.vision.models, and the MLP layer.

Oracles: torchvision's documented facts (each weight's ``num_params``, URL, preset and input
size, state_dict key names and shapes, ``print(model)``, the version-1 MLP key names), and real
PyTorch for one encoder block.
"""
import numpy as np
import pytest

import ember
from ember import nn
from ember._tensor import Tensor
from ember.vision import models
from ember.vision.models._ops import MLP
from ember.vision.models.vision_transformer import ConvStemConfig, EncoderBlock, MLPBlock

URL = "https://download.pytorch.org/models/"
# torchvision's weights: (member, file, num_params, crop/input size, resize size, interpolation)
WEIGHTS = {
    "vit_b_16": [("IMAGENET1K_V1", "vit_b_16-c867db91.pth", 86567656, 224, 256, "bilinear"),
                 ("IMAGENET1K_SWAG_E2E_V1", "vit_b_16_swag-9ac1b537.pth", 86859496, 384, 384,
                  "bicubic"),
                 ("IMAGENET1K_SWAG_LINEAR_V1", "vit_b_16_lc_swag-4e70ced5.pth", 86567656, 224,
                  224, "bicubic")],
    "vit_b_32": [("IMAGENET1K_V1", "vit_b_32-d86f8d99.pth", 88224232, 224, 256, "bilinear")],
    "vit_l_16": [("IMAGENET1K_V1", "vit_l_16-852ce7e3.pth", 304326632, 224, 242, "bilinear"),
                 ("IMAGENET1K_SWAG_E2E_V1", "vit_l_16_swag-4f3808c9.pth", 305174504, 512, 512,
                  "bicubic"),
                 ("IMAGENET1K_SWAG_LINEAR_V1", "vit_l_16_lc_swag-4d563306.pth", 304326632, 224,
                  224, "bicubic")],
    "vit_l_32": [("IMAGENET1K_V1", "vit_l_32-c7638314.pth", 306535400, 224, 256, "bilinear")],
    "vit_h_14": [("IMAGENET1K_SWAG_E2E_V1", "vit_h_14_swag-80465313.pth", 633470440, 518, 518,
                  "bicubic"),
                 ("IMAGENET1K_SWAG_LINEAR_V1", "vit_h_14_lc_swag-c1eb923e.pth", 632045800, 224,
                  224, "bicubic")],
}


@pytest.fixture
def shapes_only(monkeypatch):
    """Skip the random fills of initialisation: counting parameters needs only shapes."""
    monkeypatch.setattr(Tensor, "uniform_", lambda self, *args, **kwargs: self)
    monkeypatch.setattr(Tensor, "normal_", lambda self, *args, **kwargs: self)
    monkeypatch.setattr(nn.init, "trunc_normal_", lambda tensor, *args, **kwargs: tensor)


@pytest.mark.parametrize("name", sorted(WEIGHTS))
def test_parameter_counts_and_weights_records(shapes_only, name):
    enum = models.get_model_weights(name)
    assert models.__dict__[name] is models.get_model_builder(name)
    for member, file_name, num_params, size, resize, interpolation in WEIGHTS[name]:
        w = enum[member]
        assert w.url == URL + file_name and w.meta["num_params"] == num_params
        assert w.meta["min_size"] == (size, size)
        preset = w.transforms()
        assert (preset.crop_size, preset.resize_size) == ([size], [resize])
        assert preset.interpolation.value == interpolation
        # the weights fix the input size, which sets the position embeddings' length
        net = models.get_model(name, image_size=size)
        assert sum(p.numel() for p in net.parameters()) == num_params, (name, member)
    assert enum.DEFAULT is enum[WEIGHTS[name][0][0]]


def test_state_dict_keys_and_shapes_match_torchvision(shapes_only):
    sd = models.vit_b_16().state_dict()
    assert len(sd) == 4 + 12 * 12 + 4
    assert list(sd)[:4] == ["class_token", "conv_proj.weight", "conv_proj.bias",
                            "encoder.pos_embedding"]
    for key, shape in {
        "class_token": (1, 1, 768), "conv_proj.weight": (768, 3, 16, 16),
        "encoder.pos_embedding": (1, 197, 768),
        "encoder.layers.encoder_layer_0.ln_1.weight": (768,),
        "encoder.layers.encoder_layer_0.self_attention.in_proj_weight": (2304, 768),
        "encoder.layers.encoder_layer_0.self_attention.in_proj_bias": (2304,),
        "encoder.layers.encoder_layer_5.self_attention.out_proj.weight": (768, 768),
        "encoder.layers.encoder_layer_11.mlp.0.weight": (3072, 768),
        "encoder.layers.encoder_layer_11.mlp.3.bias": (768,),
        "encoder.ln.bias": (768,), "heads.head.weight": (1000, 768),
    }.items():
        assert tuple(sd[key].shape) == shape, key
    h = models.vit_h_14(image_size=518).state_dict()
    assert tuple(h["encoder.pos_embedding"].shape) == (1, 37 * 37 + 1, 1280)
    assert "encoder.layers.encoder_layer_31.mlp.0.weight" in h


def test_print_layout_and_heads():
    net = models.VisionTransformer(32, 16, 1, 2, 8, 16, num_classes=3)
    ln = repr(nn.LayerNorm(8, eps=1e-6))
    assert repr(net) == "\n".join([
        "VisionTransformer(",
        "  (conv_proj): Conv2d(3, 8, kernel_size=(16, 16), stride=(16, 16))",
        "  (encoder): Encoder(",
        "    (dropout): Dropout(p=0.0, inplace=False)",
        "    (layers): Sequential(",
        "      (encoder_layer_0): EncoderBlock(",
        f"        (ln_1): {ln}",
        "        (self_attention): MultiheadAttention(",
        "          (out_proj): NonDynamicallyQuantizableLinear(in_features=8, out_features=8, "
        "bias=True)",
        "        )",
        "        (dropout): Dropout(p=0.0, inplace=False)",
        f"        (ln_2): {ln}",
        "        (mlp): MLPBlock(",
        "          (0): Linear(in_features=8, out_features=16, bias=True)",
        "          (1): GELU(approximate='none')",
        "          (2): Dropout(p=0.0, inplace=False)",
        "          (3): Linear(in_features=16, out_features=8, bias=True)",
        "          (4): Dropout(p=0.0, inplace=False)",
        "        )",
        "      )",
        "    )",
        f"    (ln): {ln}",
        "  )",
        "  (heads): Sequential(",
        "    (head): Linear(in_features=8, out_features=3, bias=True)",
        "  )",
        ")"])
    assert not net.heads.head.weight.detach().numpy().any()  # zero-initialised head
    rep = models.VisionTransformer(32, 16, 1, 2, 8, 16, num_classes=3, representation_size=5)
    assert [n for n, _ in rep.heads.named_children()] == ["pre_logits", "act", "head"]
    stem = models.VisionTransformer(32, 16, 1, 2, 8, 16, conv_stem_configs=[
        ConvStemConfig(4, 3, 4), ConvStemConfig(6, 3, 4)])
    assert list(stem.conv_proj._modules) == ["conv_bn_relu_0", "conv_bn_relu_1", "conv_last"]
    assert stem(ember.randn(1, 3, 32, 32)).shape == (1, 1000)
    with pytest.raises(AssertionError, match="Wrong image height"):
        net(ember.randn(1, 3, 48, 48))
    with pytest.raises(AssertionError, match="indivisible"):
        models.VisionTransformer(30, 16, 1, 2, 8, 16)


def test_forward_and_backward_small_input():
    ember.manual_seed(0)
    net = models.VisionTransformer(32, 8, 2, 2, 16, 32, dropout=0.1, num_classes=4)
    nn.init.normal_(net.heads.head.weight)  # the zero head would pass no gradient back
    out = net(ember.randn(3, 3, 32, 32))
    assert out.shape == (3, 4) and np.isfinite(out.detach().numpy()).all()
    out.square().sum().backward()
    assert not [k for k, p in net.named_parameters() if p.grad is None]
    assert float(net.class_token.grad.abs().sum().item()) > 0


def test_mlp_and_version_1_keys():
    mlp = MLP(4, [8, 6, 2], norm_layer=nn.LayerNorm, activation_layer=nn.ReLU, inplace=False,
              dropout=0.5)
    assert [type(m).__name__ for m in mlp] == ["Linear", "LayerNorm", "ReLU", "Dropout"] * 2 + [
        "Linear", "Dropout"]
    assert mlp(ember.randn(3, 4)).shape == (3, 2)
    block = MLPBlock(4, 8, 0.0)
    old = {"linear_1.weight": ember.randn(8, 4), "linear_1.bias": ember.randn(8),
           "linear_2.weight": ember.randn(4, 8), "linear_2.bias": ember.randn(4)}
    block.load_state_dict(old)  # no version metadata: torchvision's pre-0.13 names
    np.testing.assert_array_equal(block[3].weight.detach().numpy(),
                                  old["linear_2.weight"].numpy())


def test_encoder_block_matches_torch():
    torch = pytest.importorskip("torch")
    tnn = torch.nn

    class Block(tnn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = tnn.LayerNorm(8, eps=1e-6)
            self.self_attention = tnn.MultiheadAttention(8, 2, batch_first=True)
            self.ln_2 = tnn.LayerNorm(8, eps=1e-6)
            self.mlp = tnn.Sequential(tnn.Linear(8, 16), tnn.GELU(), tnn.Dropout(0.0),
                                      tnn.Linear(16, 8))

        def forward(self, x):
            y = self.ln_1(x)
            x = self.self_attention(y, y, y, need_weights=False)[0] + x
            return x + self.mlp(self.ln_2(x))

    ember.manual_seed(0)
    ours = EncoderBlock(2, 8, 16, 0.0, 0.0).eval()
    ref = Block().eval()
    ref.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                         for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 5, 8)).astype(np.float32)
    xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ye, yt = ours(xe), ref(xt)
    np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), rtol=1e-4, atol=1e-5)
    ye.square().sum().backward()
    yt.square().sum().backward()
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-3, atol=1e-4)
