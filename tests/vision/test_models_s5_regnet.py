"""RegNetY and RegNetX in ember.vision.models.

Oracles: torchvision's documented facts (each weight's ``num_params``, URL and preset, the
published stage widths and depths, state_dict key names and shapes, ``print(model)``).
"""
import numpy as np
import pytest

import ember
from ember._tensor import Tensor
from ember.vision import models
from ember.vision.models.regnet import BlockParams

# torchvision's meta["num_params"] and (V1, V2) checkpoint hashes; regnet_y_128gf (644812894
# parameters, SWAG weights only) is too big to build in a unit test
WEIGHTS = {
    "regnet_y_400mf": (4344144, "c65dace8", "e6988f5f"),
    "regnet_y_800mf": (6432512, "1b27b58c", "58fc7688"),
    "regnet_y_1_6gf": (11202430, "b11a554e", "0d7bc02a"),
    "regnet_y_3_2gf": (19436338, "b5a9779c", "9180c971"),
    "regnet_y_8gf": (39381472, "d0d0e4a8", "dc2b1b54"),
    "regnet_y_16gf": (83590140, "9e6ed7dd", "3e4a00f9"),
    "regnet_y_32gf": (145046770, "4dee3f7a", "8db6d4b5"),
    "regnet_x_400mf": (5495976, "adf1edd5", "62229a5f"),
    "regnet_x_800mf": (7259656, "ad17e45c", "94a99ebd"),
    "regnet_x_1_6gf": (9190136, "e3633e7f", "a12f2b72"),
    "regnet_x_3_2gf": (15296552, "f342aeae", "7071aa85"),
    "regnet_x_8gf": (39572648, "03ceed89", "2b70d774"),
    "regnet_x_16gf": (54278536, "2007eb11", "ba3796d7"),
    "regnet_x_32gf": (107811560, "9d47f8d0", "6eb8fdc6"),
}


@pytest.fixture
def shapes_only(monkeypatch):
    """Skip the random fills of initialisation: counting parameters needs only shapes."""
    monkeypatch.setattr(Tensor, "uniform_", lambda self, *args, **kwargs: self)
    monkeypatch.setattr(Tensor, "normal_", lambda self, *args, **kwargs: self)


def test_parameter_counts_and_weights_records(shapes_only):
    url = "https://download.pytorch.org/models/{}-{}.pth"
    for name, (num_params, v1, v2) in WEIGHTS.items():
        assert models.__dict__[name] is models.get_model_builder(name)
        assert sum(p.numel() for p in models.get_model(name).parameters()) == num_params, name
        enum = models.get_model_weights(name)
        assert enum.DEFAULT is enum.IMAGENET1K_V2
        assert enum.IMAGENET1K_V1.url == url.format(name, v1)
        assert enum.IMAGENET1K_V2.url == url.format(name, v2)
        for member in (enum.IMAGENET1K_V1, enum.IMAGENET1K_V2):
            assert member.meta["num_params"] == num_params and member.meta["min_size"] == (1, 1)
        assert enum.IMAGENET1K_V1.transforms().resize_size == [256]
        assert enum.IMAGENET1K_V2.transforms().resize_size == [232]
    for name in ("regnet_y_16gf", "regnet_y_32gf", "regnet_y_128gf"):
        enum = models.get_model_weights(name)
        e2e, linear = enum.IMAGENET1K_SWAG_E2E_V1, enum.IMAGENET1K_SWAG_LINEAR_V1
        assert e2e.url == f"https://download.pytorch.org/models/{name}_swag-" + {
            "regnet_y_16gf": "43afe44d", "regnet_y_32gf": "04fdfa75",
            "regnet_y_128gf": "c8ce3e52"}[name] + ".pth"
        assert "_lc_swag-" in linear.url
        preset = e2e.transforms()
        assert (preset.crop_size, preset.resize_size) == ([384], [384])
        assert preset.interpolation.value == "bicubic"
        assert linear.transforms().crop_size == [224]
    big = models.RegNet_Y_128GF_Weights
    assert big.DEFAULT is big.IMAGENET1K_SWAG_E2E_V1 and big.DEFAULT.meta["num_params"] == 644812894


def test_block_params_match_the_published_designs():
    # RegNetY-400MF and RegNetX-400MF of the paper (and torchvision's builds)
    y = BlockParams.from_init_params(depth=16, w_0=48, w_a=27.89, w_m=2.09, group_width=8,
                                     se_ratio=0.25)
    assert (y.depths, y.widths, y.group_widths) == ([1, 3, 6, 6], [48, 104, 208, 440], [8] * 4)
    assert y.strides == [2] * 4 and y.se_ratio == 0.25
    x = BlockParams.from_init_params(depth=22, w_0=24, w_a=24.48, w_m=2.54, group_width=16)
    assert (x.depths, x.widths) == ([1, 2, 7, 12], [32, 64, 160, 400])
    big = BlockParams.from_init_params(depth=27, w_0=456, w_a=160.83, w_m=2.52,
                                       group_width=264, se_ratio=0.25)
    assert (big.depths, big.widths) == ([2, 7, 17, 1], [528, 1056, 2904, 7392])
    with pytest.raises(ValueError, match="Invalid RegNet settings"):
        BlockParams.from_init_params(depth=4, w_0=20, w_a=1.0, w_m=2.0, group_width=8)


@pytest.mark.parametrize("name, entries", [
    ("regnet_y_400mf", {
        "stem.0.weight": (32, 3, 3, 3), "stem.1.running_mean": (32,),
        "trunk_output.block1.block1-0.proj.0.weight": (48, 32, 1, 1),
        "trunk_output.block1.block1-0.f.a.0.weight": (48, 32, 1, 1),
        "trunk_output.block1.block1-0.f.b.0.weight": (48, 8, 3, 3),
        "trunk_output.block1.block1-0.f.se.fc1.weight": (8, 48, 1, 1),
        "trunk_output.block1.block1-0.f.se.fc2.bias": (48,),
        "trunk_output.block2.block2-1.f.se.fc1.weight": (26, 104, 1, 1),
        "trunk_output.block4.block4-5.f.c.0.weight": (440, 440, 1, 1),
        "trunk_output.block4.block4-5.f.c.1.num_batches_tracked": (),
        "fc.weight": (1000, 440)}),
    ("regnet_x_400mf", {
        "trunk_output.block3.block3-6.f.b.0.weight": (160, 16, 3, 3),
        "trunk_output.block4.block4-0.proj.1.running_var": (400,), "fc.bias": (1000,)}),
])
def test_state_dict_keys_and_shapes_match_torchvision(name, entries):
    sd = models.get_model(name).state_dict()
    for key, shape in entries.items():
        assert key in sd, key
        assert tuple(sd[key].shape) == shape, key
    assert "trunk_output.block1.block1-1.proj.0.weight" not in sd  # same shape: no projection
    if name.startswith("regnet_x"):
        assert not any(".se." in k for k in sd)


def test_print_layout():
    net = models.RegNet(BlockParams([1], [16], [8], [1.0], [2], 0.25), num_classes=2)
    bn = ("BatchNorm2d({}, eps=1e-05, momentum=0.1, affine=True, bias=True, "
          "track_running_stats=True)")
    assert repr(net) == "\n".join([
        "RegNet(",
        "  (stem): SimpleStemIN(",
        "    (0): Conv2d(3, 32, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=False)",
        "    (1): " + bn.format(32),
        "    (2): ReLU(inplace=True)",
        "  )",
        "  (trunk_output): Sequential(",
        "    (block1): AnyStage(",
        "      (block1-0): ResBottleneckBlock(",
        "        (proj): Conv2dNormActivation(",
        "          (0): Conv2d(32, 16, kernel_size=(1, 1), stride=(2, 2), bias=False)",
        "          (1): " + bn.format(16),
        "        )",
        "        (f): BottleneckTransform(",
        "          (a): Conv2dNormActivation(",
        "            (0): Conv2d(32, 16, kernel_size=(1, 1), stride=(1, 1), bias=False)",
        "            (1): " + bn.format(16),
        "            (2): ReLU(inplace=True)",
        "          )",
        "          (b): Conv2dNormActivation(",
        "            (0): Conv2d(16, 16, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), "
        "groups=2, bias=False)",
        "            (1): " + bn.format(16),
        "            (2): ReLU(inplace=True)",
        "          )",
        "          (se): SqueezeExcitation(",
        "            (avgpool): AdaptiveAvgPool2d(output_size=1)",
        "            (fc1): Conv2d(16, 8, kernel_size=(1, 1), stride=(1, 1))",
        "            (fc2): Conv2d(8, 16, kernel_size=(1, 1), stride=(1, 1))",
        "            (activation): ReLU()",
        "            (scale_activation): Sigmoid()",
        "          )",
        "          (c): Conv2dNormActivation(",
        "            (0): Conv2d(16, 16, kernel_size=(1, 1), stride=(1, 1), bias=False)",
        "            (1): " + bn.format(16),
        "          )",
        "        )",
        "        (activation): ReLU(inplace=True)",
        "      )",
        "    )",
        "  )",
        "  (avgpool): AdaptiveAvgPool2d(output_size=(1, 1))",
        "  (fc): Linear(in_features=16, out_features=2, bias=True)",
        ")"])


@pytest.mark.parametrize("name", ["regnet_y_400mf", "regnet_x_400mf"])
def test_forward_and_backward_small_input(name):
    ember.manual_seed(0)
    net = models.get_model(name, num_classes=4)
    out = net(ember.randn(2, 3, 32, 32))
    assert out.shape == (2, 4) and np.isfinite(out.detach().numpy()).all()
    out.square().sum().backward()
    assert not [k for k, p in net.named_parameters() if p.grad is None]
    net.eval()
    with ember.no_grad():
        assert net(ember.randn(1, 3, 20, 28)).shape == (1, 4)


def test_residual_block_is_relu_of_shortcut_plus_transform():
    from ember.vision.models.regnet import ResBottleneckBlock
    ember.manual_seed(0)
    block = ResBottleneckBlock(8, 8, 1, ember.nn.BatchNorm2d, ember.nn.ReLU, 4, 1.0, 0.25).eval()
    x = ember.randn(2, 8, 5, 5)
    with ember.no_grad():
        expected = np.maximum(x.numpy() + block.f(x).numpy(), 0)
        np.testing.assert_allclose(block(x).numpy(), expected, rtol=1e-6, atol=1e-6)
    assert block.proj is None
