"""EfficientNet B0-B7 and V2 S/M/L in ember.vision.models, and the StochasticDepth layer.

Oracles: torchvision's documented facts (each weight's ``num_params``, URL and preset,
state_dict key names and shapes, ``print(model)`` of its blocks), the definition of stochastic
depth, and real PyTorch for one MBConv block.
"""
import numpy as np
import pytest

import ember
from ember._tensor import Tensor
from ember.vision import models
from ember.vision.models._ops import StochasticDepth, stochastic_depth
from ember.vision.models.efficientnet import FusedMBConvConfig, MBConv, MBConvConfig

# torchvision's meta["num_params"], checkpoint file, crop and resize of each DEFAULT weight
WEIGHTS = {
    "efficientnet_b0": (5288548, "efficientnet_b0_rwightman-7f5810bc.pth", 224, 256),
    "efficientnet_b1": (7794184, "efficientnet_b1-c27df63c.pth", 240, 255),
    "efficientnet_b2": (9109994, "efficientnet_b2_rwightman-c35c1473.pth", 288, 288),
    "efficientnet_b3": (12233232, "efficientnet_b3_rwightman-b3899882.pth", 300, 320),
    "efficientnet_b4": (19341616, "efficientnet_b4_rwightman-23ab8bcd.pth", 380, 384),
    "efficientnet_b5": (30389784, "efficientnet_b5_lukemelas-1a07897c.pth", 456, 456),
    "efficientnet_b6": (43040704, "efficientnet_b6_lukemelas-24a108a5.pth", 528, 528),
    "efficientnet_b7": (66347960, "efficientnet_b7_lukemelas-c5b4e57e.pth", 600, 600),
    "efficientnet_v2_s": (21458488, "efficientnet_v2_s-dd5fe13b.pth", 384, 384),
    "efficientnet_v2_m": (54139356, "efficientnet_v2_m-dc08266a.pth", 480, 480),
    "efficientnet_v2_l": (118515272, "efficientnet_v2_l-59c71312.pth", 480, 480),
}


@pytest.fixture
def shapes_only(monkeypatch):
    """Skip the random fills of initialisation: counting parameters needs only shapes."""
    monkeypatch.setattr(Tensor, "uniform_", lambda self, *args, **kwargs: self)
    monkeypatch.setattr(Tensor, "normal_", lambda self, *args, **kwargs: self)


def test_parameter_counts_and_weights_records(shapes_only):
    for name, (num_params, file_name, crop, resize) in WEIGHTS.items():
        assert models.__dict__[name] is models.get_model_builder(name)
        assert sum(p.numel() for p in models.get_model(name).parameters()) == num_params, name
        default = models.get_model_weights(name).DEFAULT
        assert default.meta["num_params"] == num_params
        assert default.url == "https://download.pytorch.org/models/" + file_name
        preset = default.transforms()
        assert (preset.crop_size, preset.resize_size) == ([crop], [resize]), name
        v2 = "_v2_" in name
        assert default.meta["min_size"] == ((33, 33) if v2 else (1, 1))
        assert len(default.meta["categories"]) == 1000
    b1 = models.EfficientNet_B1_Weights
    assert b1.DEFAULT is b1.IMAGENET1K_V2
    assert b1.IMAGENET1K_V1.url.endswith("efficientnet_b1_rwightman-bac287d4.pth")
    assert b1.IMAGENET1K_V1.transforms().interpolation.value == "bicubic"
    assert b1.IMAGENET1K_V2.transforms().interpolation.value == "bilinear"
    v2l = models.EfficientNet_V2_L_Weights.DEFAULT.transforms()
    assert v2l.mean == [0.5, 0.5, 0.5] and v2l.std == [0.5, 0.5, 0.5]


@pytest.mark.parametrize("name, entries", [
    ("efficientnet_b0", {
        "features.0.0.weight": (32, 3, 3, 3), "features.1.0.block.0.0.weight": (32, 1, 3, 3),
        "features.1.0.block.1.fc1.weight": (8, 32, 1, 1),
        "features.1.0.block.2.0.weight": (16, 32, 1, 1),
        "features.2.0.block.0.0.weight": (96, 16, 1, 1),
        "features.2.0.block.2.fc1.weight": (4, 96, 1, 1),
        "features.2.0.block.2.fc2.bias": (96,), "features.3.1.block.1.0.weight": (240, 1, 5, 5),
        "features.6.3.block.3.1.running_var": (192,),
        "features.7.0.block.3.0.weight": (320, 1152, 1, 1),
        "features.8.0.weight": (1280, 320, 1, 1), "classifier.1.weight": (1000, 1280)}),
    ("efficientnet_b7", {"features.0.0.weight": (64, 3, 3, 3),
                         "features.1.3.block.0.0.weight": (32, 1, 3, 3),
                         "features.6.12.block.3.0.weight": (384, 2304, 1, 1),
                         "features.8.0.weight": (2560, 640, 1, 1),
                         "classifier.1.weight": (1000, 2560)}),
    ("efficientnet_v2_s", {
        "features.0.0.weight": (24, 3, 3, 3), "features.1.0.block.0.0.weight": (24, 24, 3, 3),
        "features.1.1.block.0.1.num_batches_tracked": (),
        "features.2.0.block.0.0.weight": (96, 24, 3, 3),
        "features.2.0.block.1.0.weight": (48, 96, 1, 1),
        "features.4.0.block.0.0.weight": (256, 64, 1, 1),
        "features.4.0.block.2.fc1.weight": (16, 256, 1, 1),
        "features.6.14.block.3.0.weight": (256, 1536, 1, 1),
        "features.7.0.weight": (1280, 256, 1, 1), "classifier.1.bias": (1000,)}),
])
def test_state_dict_keys_and_shapes_match_torchvision(shapes_only, name, entries):
    sd = models.get_model(name).state_dict()
    for key, shape in entries.items():
        assert key in sd, key
        assert tuple(sd[key].shape) == shape, key
    assert "features.1.0.block.1.0.weight" not in models.efficientnet_v2_s().state_dict()


def test_norm_layers_and_stochastic_depth_schedule(shapes_only):
    b0, b7, v2 = models.efficientnet_b0(), models.efficientnet_b7(), models.efficientnet_v2_m()
    assert (b0.features[0][1].eps, b0.features[0][1].momentum) == (1e-5, 0.1)
    assert (b7.features[0][1].eps, b7.features[0][1].momentum) == (0.001, 0.01)
    assert (v2.features[0][1].eps, v2.features[0][1].momentum) == (0.001, 0.1)
    # block i of n drops with probability 0.2 * i / n (16 blocks in B0)
    probs = [blk.stochastic_depth.p for stage in b0.features[1:8] for blk in stage]
    assert probs == [0.2 * i / 16 for i in range(16)]
    assert [len(s) for s in b0.features[1:8]] == [1, 2, 2, 3, 3, 4, 1]
    assert [len(s) for s in b7.features[1:8]] == [4, 7, 7, 10, 10, 13, 4]
    assert repr(b0.classifier[0]) == "Dropout(p=0.2, inplace=True)"
    assert repr(b7.classifier[0]) == "Dropout(p=0.5, inplace=True)"
    assert repr(v2.classifier[0]) == "Dropout(p=0.3, inplace=True)"
    with pytest.raises(ValueError, match="empty"):
        models.EfficientNet([], 0.2)
    with pytest.raises(TypeError):
        models.EfficientNet([object()], 0.2)


def _bn(c):
    return (f"BatchNorm2d({c}, eps=1e-05, momentum=0.1, affine=True, bias=True, "
            "track_running_stats=True)")


def test_print_layout():
    net = models.EfficientNet([FusedMBConvConfig(2, 3, 2, 8, 8, 1),
                               MBConvConfig(4, 5, 1, 8, 8, 2)], 0.1, num_classes=2)
    assert repr(net.features[1][0]) == "\n".join([
        "FusedMBConv(",
        "  (block): Sequential(",
        "    (0): Conv2dNormActivation(",
        "      (0): Conv2d(8, 16, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=False)",
        f"      (1): {_bn(16)}",
        "      (2): SiLU(inplace=True)",
        "    )",
        "    (1): Conv2dNormActivation(",
        "      (0): Conv2d(16, 8, kernel_size=(1, 1), stride=(1, 1), bias=False)",
        f"      (1): {_bn(8)}",
        "    )",
        "  )",
        "  (stochastic_depth): StochasticDepth(p=0.0, mode=row)",
        ")"])
    assert repr(net.features[2][1]) == "\n".join([
        "MBConv(",
        "  (block): Sequential(",
        "    (0): Conv2dNormActivation(",
        "      (0): Conv2d(8, 32, kernel_size=(1, 1), stride=(1, 1), bias=False)",
        f"      (1): {_bn(32)}",
        "      (2): SiLU(inplace=True)",
        "    )",
        "    (1): Conv2dNormActivation(",
        "      (0): Conv2d(32, 32, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2), "
        "groups=32, bias=False)",
        f"      (1): {_bn(32)}",
        "      (2): SiLU(inplace=True)",
        "    )",
        "    (2): SqueezeExcitation(",
        "      (avgpool): AdaptiveAvgPool2d(output_size=1)",
        "      (fc1): Conv2d(32, 2, kernel_size=(1, 1), stride=(1, 1))",
        "      (fc2): Conv2d(2, 32, kernel_size=(1, 1), stride=(1, 1))",
        "      (activation): SiLU(inplace=True)",
        "      (scale_activation): Sigmoid()",
        "    )",
        "    (3): Conv2dNormActivation(",
        "      (0): Conv2d(32, 8, kernel_size=(1, 1), stride=(1, 1), bias=False)",
        f"      (1): {_bn(8)}",
        "    )",
        "  )",
        f"  (stochastic_depth): StochasticDepth(p={0.2 * 2 / 3}, mode=row)",
        ")"])
    assert [type(m).__name__ for m in net.features] == [
        "Conv2dNormActivation", "Sequential", "Sequential", "Conv2dNormActivation"]
    assert repr(net.features[3][0]) == ("Conv2d(8, 32, kernel_size=(1, 1), stride=(1, 1), "
                                        "bias=False)")
    assert repr(net.classifier[1]) == "Linear(in_features=32, out_features=2, bias=True)"


def test_forward_and_backward_small_input():
    ember.manual_seed(0)
    net = models.efficientnet_b0(num_classes=5)
    out = net(ember.randn(2, 3, 32, 32))
    assert out.shape == (2, 5) and np.isfinite(out.detach().numpy()).all()
    out.square().sum().backward()
    assert not [k for k, p in net.named_parameters() if p.grad is None]
    tiny = models.EfficientNet([FusedMBConvConfig(1, 3, 1, 8, 8, 2),
                                FusedMBConvConfig(4, 3, 2, 8, 16, 1),
                                MBConvConfig(4, 3, 2, 16, 16, 2)], 0.2, num_classes=3)
    out = tiny(ember.randn(2, 3, 33, 33))
    assert out.shape == (2, 3)
    out.sum().backward()
    assert not [k for k, p in tiny.named_parameters() if p.grad is None]
    tiny.eval()
    with ember.no_grad():
        assert tiny(ember.randn(1, 3, 16, 20)).shape == (1, 3)


def test_stochastic_depth_definition():
    x = ember.randn(64, 3, 2, 2)
    ember.manual_seed(0)
    y = stochastic_depth(x, 0.25, "row").numpy()
    ratio = y / x.numpy()
    kept = np.isclose(ratio, 1 / 0.75).all(axis=(1, 2, 3))
    dropped = (y == 0).all(axis=(1, 2, 3))
    assert (kept | dropped).all() and 0 < dropped.sum() < 64  # whole samples, both outcomes
    y = stochastic_depth(x, 0.5, "batch").numpy()
    assert (y == 0).all() or np.allclose(y, 2 * x.numpy())
    assert stochastic_depth(x, 0.5, "row", training=False) is x
    assert stochastic_depth(x, 0.0, "row") is x
    assert (stochastic_depth(x, 1.0, "row").numpy() == 0).all()
    with pytest.raises(ValueError, match="drop probability"):
        stochastic_depth(x, 1.5, "row")
    with pytest.raises(ValueError, match="mode"):
        stochastic_depth(x, 0.5, "col")
    layer = StochasticDepth(0.3, "batch")
    assert repr(layer) == "StochasticDepth(p=0.3, mode=batch)"
    assert layer.eval()(x) is x


def test_mbconv_block_matches_torch():
    torch = pytest.importorskip("torch")
    tnn = torch.nn

    def cna(cin, cout, k, groups=1, act=True):
        layers = [tnn.Conv2d(cin, cout, k, padding=(k - 1) // 2, groups=groups, bias=False),
                  tnn.BatchNorm2d(cout)]
        return tnn.Sequential(*layers, *([tnn.SiLU()] if act else []))

    class SE(tnn.Module):
        def __init__(self, c, s):
            super().__init__()
            self.fc1, self.fc2 = tnn.Conv2d(c, s, 1), tnn.Conv2d(s, c, 1)

        def forward(self, x):
            scale = self.fc2(torch.nn.functional.silu(self.fc1(x.mean((2, 3), keepdim=True))))
            return torch.sigmoid(scale) * x

    class Block(tnn.Module):
        def __init__(self):
            super().__init__()
            self.block = tnn.Sequential(cna(16, 64, 1), cna(64, 64, 5, groups=64), SE(64, 4),
                                        cna(64, 16, 1, act=False))

        def forward(self, x):
            return self.block(x) + x

    ember.manual_seed(0)
    ours = MBConv(MBConvConfig(4, 5, 1, 16, 16, 1), 0.5, ember.nn.BatchNorm2d).eval()
    for name, buf in ours.named_buffers():  # non-trivial running statistics
        if name.endswith("running_mean"):
            buf.copy_(ember.randn(buf.shape) * 0.1)
        elif name.endswith("running_var"):
            buf.copy_(ember.rand(buf.shape) + 0.5)
    ref = Block().eval()
    ref.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                         for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 16, 7, 7)).astype(np.float32)
    xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ye, yt = ours(xe), ref(xt)  # eval: stochastic depth is the identity
    np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), rtol=1e-4, atol=1e-5)
    ye.square().sum().backward()
    yt.square().sum().backward()
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-3, atol=1e-4)
