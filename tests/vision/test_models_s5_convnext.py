"""ConvNeXt in ember.vision.models, and the Permute layer.

Oracles: torchvision's documented facts (each weight's ``num_params``, URL and preset,
state_dict key names and shapes, ``print(model)`` of its blocks), and real PyTorch for
LayerNorm2d and one ConvNeXt block.
"""
import numpy as np
import pytest

import ember
from ember import nn
from ember._tensor import Tensor
from ember.vision import models
from ember.vision.models._ops import Permute
from ember.vision.models.convnext import CNBlock, CNBlockConfig, LayerNorm2d

# torchvision's meta["num_params"], checkpoint file and resize size (crop 224)
WEIGHTS = {
    "convnext_tiny": (28589128, "convnext_tiny-983f1562.pth", 236),
    "convnext_small": (50223688, "convnext_small-0c510722.pth", 230),
    "convnext_base": (88591464, "convnext_base-6075fbad.pth", 232),
    "convnext_large": (197767336, "convnext_large-ea097f82.pth", 232),
}


@pytest.fixture
def shapes_only(monkeypatch):
    """Skip the random fills of initialisation: counting parameters needs only shapes."""
    monkeypatch.setattr(Tensor, "uniform_", lambda self, *args, **kwargs: self)
    monkeypatch.setattr(nn.init, "trunc_normal_", lambda tensor, *args, **kwargs: tensor)


def test_parameter_counts_and_weights_records(shapes_only):
    for name, (num_params, file_name, resize) in WEIGHTS.items():
        assert models.__dict__[name] is models.get_model_builder(name)
        assert sum(p.numel() for p in models.get_model(name).parameters()) == num_params, name
        default = models.get_model_weights(name).DEFAULT
        assert default.meta["num_params"] == num_params and default.meta["min_size"] == (32, 32)
        assert default.url == "https://download.pytorch.org/models/" + file_name
        assert default.transforms().resize_size == [resize]
        assert default.transforms().crop_size == [224]


def test_state_dict_keys_and_shapes_match_torchvision(shapes_only):
    sd = models.convnext_tiny().state_dict()
    assert len(sd) == 182
    entries = {
        "features.0.0.weight": (96, 3, 4, 4), "features.0.0.bias": (96,),
        "features.0.1.weight": (96,), "features.1.0.layer_scale": (96, 1, 1),
        "features.1.0.block.0.weight": (96, 1, 7, 7), "features.1.0.block.2.bias": (96,),
        "features.1.0.block.3.weight": (384, 96), "features.1.2.block.5.weight": (96, 384),
        "features.2.0.weight": (96,), "features.2.1.weight": (192, 96, 2, 2),
        "features.5.8.block.3.bias": (1536,), "features.6.1.weight": (768, 384, 2, 2),
        "features.7.2.layer_scale": (768, 1, 1), "classifier.0.weight": (768,),
        "classifier.2.weight": (1000, 768),
    }
    for key, shape in entries.items():
        assert tuple(sd[key].shape) == shape, key
    assert list(sd)[:4] == ["features.0.0.weight", "features.0.0.bias", "features.0.1.weight",
                            "features.0.1.bias"]
    big = models.convnext_large().state_dict()
    assert tuple(big["features.5.26.block.3.weight"].shape) == (3072, 768)
    assert tuple(big["classifier.2.weight"].shape) == (1000, 1536)


def test_configuration(shapes_only):
    net = models.convnext_tiny()
    assert [len(net.features[i]) for i in (1, 3, 5, 7)] == [3, 3, 9, 3]
    probs = [b.stochastic_depth.p for i in (1, 3, 5, 7) for b in net.features[i]]
    assert probs == [0.1 * i / 17.0 for i in range(18)]  # 0 to 0.1 over the 18 blocks
    assert float(net.features[1][0].layer_scale.detach().numpy().max()) == pytest.approx(1e-6)
    assert models.convnext_base().features[7][2].stochastic_depth.p == 0.5
    assert models.convnext_tiny(stochastic_depth_prob=0.0).features[7][2].stochastic_depth.p == 0
    assert repr(CNBlockConfig(96, 192, 3)) == (
        "CNBlockConfig(input_channels=96, out_channels=192, num_layers=3)")
    with pytest.raises(ValueError, match="empty"):
        models.ConvNeXt([])
    with pytest.raises(TypeError):
        models.ConvNeXt([(96, None, 1)])


def test_print_layout():
    net = models.ConvNeXt([CNBlockConfig(8, 16, 1), CNBlockConfig(16, None, 1)], num_classes=2)
    assert repr(net.features[1][0]) == "\n".join([
        "CNBlock(",
        "  (block): Sequential(",
        "    (0): Conv2d(8, 8, kernel_size=(7, 7), stride=(1, 1), padding=(3, 3), groups=8)",
        "    (1): Permute()",
        "    (2): " + repr(nn.LayerNorm(8, eps=1e-6)),
        "    (3): Linear(in_features=8, out_features=32, bias=True)",
        "    (4): GELU(approximate='none')",
        "    (5): Linear(in_features=32, out_features=8, bias=True)",
        "    (6): Permute()",
        "  )",
        "  (stochastic_depth): StochasticDepth(p=0.0, mode=row)",
        ")"])
    ln = repr(nn.LayerNorm(8, eps=1e-6)).replace("LayerNorm", "LayerNorm2d")
    assert repr(net.features[0]) == "\n".join([
        "Conv2dNormActivation(",
        "  (0): Conv2d(3, 8, kernel_size=(4, 4), stride=(4, 4))",
        "  (1): " + ln,
        ")"])
    assert repr(net.features[2]) == "\n".join([
        "Sequential(",
        "  (0): " + ln,
        "  (1): Conv2d(8, 16, kernel_size=(2, 2), stride=(2, 2))",
        ")"])
    assert repr(net.classifier[1]) == "Flatten(start_dim=1, end_dim=-1)"
    assert len(net.features) == 4


def test_forward_and_backward_small_input():
    ember.manual_seed(0)
    net = models.ConvNeXt([CNBlockConfig(16, 32, 2), CNBlockConfig(32, 48, 1),
                           CNBlockConfig(48, None, 2)], 0.2, layer_scale=0.5, num_classes=3)
    out = net(ember.randn(2, 3, 32, 32))
    assert out.shape == (2, 3) and np.isfinite(out.detach().numpy()).all()
    out.square().sum().backward()
    assert not [k for k, p in net.named_parameters() if p.grad is None]
    net.eval()
    with ember.no_grad():
        assert net(ember.randn(1, 3, 40, 48)).shape == (1, 3)


def test_permute():
    x = ember.randn(2, 3, 4, 5)
    np.testing.assert_array_equal(Permute([0, 2, 3, 1])(x).numpy(), x.numpy().transpose(0, 2, 3, 1))


def test_layernorm2d_and_block_match_torch():
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 8, 6, 5)).astype(np.float32)

    ember.manual_seed(0)
    ln = LayerNorm2d(8, eps=1e-6)
    ln.weight.data.copy_(ember.randn(8))
    ln.bias.data.copy_(ember.randn(8))
    ref = torch.nn.functional.layer_norm(
        torch.tensor(x).permute(0, 2, 3, 1), (8,), torch.from_numpy(ln.weight.detach().numpy()),
        torch.from_numpy(ln.bias.detach().numpy()), 1e-6).permute(0, 3, 1, 2)
    np.testing.assert_allclose(ln(ember.tensor(x)).detach().numpy(), ref.numpy(), rtol=1e-5,
                               atol=1e-5)

    class Block(tnn.Module):
        def __init__(self):
            super().__init__()
            self.layer_scale = tnn.Parameter(torch.ones(8, 1, 1))
            self.block = tnn.Sequential(tnn.Conv2d(8, 8, 7, padding=3, groups=8), tnn.Identity(),
                                        tnn.LayerNorm(8, eps=1e-6), tnn.Linear(8, 32),
                                        tnn.GELU(), tnn.Linear(32, 8))

        def forward(self, x):
            b = self.block
            y = b[0](x).permute(0, 2, 3, 1)
            y = b[5](b[4](b[3](b[2](y)))).permute(0, 3, 1, 2)
            return self.layer_scale * y + x

    ours = CNBlock(8, 0.5, 0.3).eval()  # eval: stochastic depth is the identity
    ref_block = Block()
    ref_block.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                               for k, v in ours.state_dict().items()})
    xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ye, yt = ours(xe), ref_block(xt)
    np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), rtol=1e-4, atol=1e-5)
    ye.square().sum().backward()
    yt.square().sum().backward()
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(ours.layer_scale.grad.numpy(),
                               ref_block.layer_scale.grad.numpy(), rtol=1e-3, atol=1e-4)
