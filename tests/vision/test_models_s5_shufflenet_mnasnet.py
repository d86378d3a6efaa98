"""ShuffleNet V2 and MNASNet in ember.vision.models.

Oracles: torchvision's documented facts (each weight's ``num_params`` and URL, state_dict key
names and shapes, ``print(model)`` of its modules), and real PyTorch for one shuffle unit.
Nothing is downloaded: the hub's download function is replaced.
"""
import shutil

import numpy as np
import pytest

import ember
from ember import hub
from ember.vision import models

# torchvision's meta["num_params"] and checkpoint file of each model's IMAGENET1K_V1 weights
WEIGHTS = {
    "shufflenet_v2_x0_5": (1366792, "shufflenetv2_x0.5-f707e7126e.pth", 256),
    "shufflenet_v2_x1_0": (2278604, "shufflenetv2_x1-5666bf0f80.pth", 256),
    "shufflenet_v2_x1_5": (3503624, "shufflenetv2_x1_5-3c479a10.pth", 232),
    "shufflenet_v2_x2_0": (7393996, "shufflenetv2_x2_0-8be3c8ee.pth", 232),
    "mnasnet0_5": (2218512, "mnasnet0.5_top1_67.823-3ffadce67e.pth", 256),
    "mnasnet0_75": (3170208, "mnasnet0_75-7090bc5f.pth", 232),
    "mnasnet1_0": (4383312, "mnasnet1.0_top1_73.512-f206786ef8.pth", 256),
    "mnasnet1_3": (6282256, "mnasnet1_3-a4c69d6f.pth", 232),
}


@pytest.mark.parametrize("name", sorted(WEIGHTS))
def test_parameter_count_and_weights_record(name):
    num_params, file_name, resize = WEIGHTS[name]
    assert name in models.list_models(module=models)
    assert models.__dict__[name] is models.get_model_builder(name)
    assert sum(p.numel() for p in models.get_model(name).parameters()) == num_params
    weights = models.get_model_weights(name)
    default = weights.DEFAULT
    assert default is weights.IMAGENET1K_V1 and default.meta["num_params"] == num_params
    assert default.url == "https://download.pytorch.org/models/" + file_name
    assert len(default.meta["categories"]) == 1000 and default.meta["min_size"] == (1, 1)
    preset = default.transforms()
    assert preset.crop_size == [224] and preset.resize_size == [resize]
    assert models.get_weight(f"{weights.__name__}.IMAGENET1K_V1") is default


@pytest.mark.parametrize("name, entries", [
    ("shufflenet_v2_x1_0", {
        "conv1.0.weight": (24, 3, 3, 3), "conv1.1.running_var": (24,),
        "stage2.0.branch1.0.weight": (24, 1, 3, 3), "stage2.0.branch1.2.weight": (58, 24, 1, 1),
        "stage2.0.branch2.0.weight": (58, 24, 1, 1), "stage2.0.branch2.3.weight": (58, 1, 3, 3),
        "stage2.1.branch2.0.weight": (58, 58, 1, 1), "stage3.7.branch2.5.weight": (116, 116, 1, 1),
        "stage4.0.branch1.3.num_batches_tracked": (), "conv5.0.weight": (1024, 464, 1, 1),
        "fc.weight": (1000, 1024)}),
    ("shufflenet_v2_x2_0", {"stage4.3.branch2.6.weight": (488,), "fc.weight": (1000, 2048),
                            "stage4.3.branch2.7.weight": None}),  # None: a ReLU, no key
    ("mnasnet1_0", {
        "layers.0.weight": (32, 3, 3, 3), "layers.3.weight": (32, 1, 3, 3),
        "layers.6.weight": (16, 32, 1, 1), "layers.7.running_mean": (16,),
        "layers.8.0.layers.0.weight": (48, 16, 1, 1), "layers.8.2.layers.3.weight": (72, 1, 3, 3),
        "layers.9.0.layers.3.weight": (72, 1, 5, 5),
        "layers.12.3.layers.6.weight": (192, 1152, 1, 1),
        "layers.13.0.layers.6.weight": (320, 1152, 1, 1), "layers.14.weight": (1280, 320, 1, 1),
        "layers.15.running_var": (1280,), "classifier.1.weight": (1000, 1280)}),
    ("mnasnet0_5", {"layers.0.weight": (16, 3, 3, 3), "layers.6.weight": (8, 16, 1, 1),
                    "layers.13.0.layers.6.weight": (160, 576, 1, 1)}),
])
def test_state_dict_keys_and_shapes_match_torchvision(name, entries):
    sd = models.get_model(name).state_dict()
    for key, shape in entries.items():
        if shape is None:
            assert key not in sd, key
            continue
        assert key in sd, key
        assert tuple(sd[key].shape) == shape, key
    assert not any(k.startswith("stage2.1.branch1") for k in sd)  # stride-1 units: no branch1


def _bn(c, momentum="0.1"):
    return (f"BatchNorm2d({c}, eps=1e-05, momentum={momentum}, affine=True, bias=True, "
            "track_running_stats=True)")


def _unit(c_in, c, stride, indent):
    pad = " " * indent
    dw = (f"Conv2d({c}, {c}, kernel_size=(3, 3), stride=({stride}, {stride}), "
          f"padding=(1, 1), groups={c}, bias=False)")
    lines = ["InvertedResidual("]
    if stride == 2:
        lines += ["  (branch1): Sequential(",
                  f"    (0): Conv2d({c_in}, {c_in}, kernel_size=(3, 3), stride=(2, 2), "
                  f"padding=(1, 1), groups={c_in}, bias=False)",
                  f"    (1): {_bn(c_in)}",
                  f"    (2): Conv2d({c_in}, {c}, kernel_size=(1, 1), stride=(1, 1), bias=False)",
                  f"    (3): {_bn(c)}", "    (4): ReLU(inplace=True)", "  )"]
    else:
        lines += ["  (branch1): Sequential()"]
    first_in = c_in if stride == 2 else c
    lines += ["  (branch2): Sequential(",
              f"    (0): Conv2d({first_in}, {c}, kernel_size=(1, 1), stride=(1, 1), bias=False)",
              f"    (1): {_bn(c)}", "    (2): ReLU(inplace=True)", f"    (3): {dw}",
              f"    (4): {_bn(c)}",
              f"    (5): Conv2d({c}, {c}, kernel_size=(1, 1), stride=(1, 1), bias=False)",
              f"    (6): {_bn(c)}", "    (7): ReLU(inplace=True)", "  )", ")"]
    return ("\n" + pad).join(lines)


def test_shufflenet_print_layout():
    net = models.ShuffleNetV2([1, 2, 1], [4, 8, 16, 32, 64], num_classes=3)
    expected = "\n".join([
        "ShuffleNetV2(",
        "  (conv1): Sequential(",
        "    (0): Conv2d(3, 4, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=False)",
        f"    (1): {_bn(4)}",
        "    (2): ReLU(inplace=True)",
        "  )",
        "  (maxpool): MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False)",
        "  (stage2): Sequential(",
        f"    (0): {_unit(4, 4, 2, 4)}",
        "  )",
        "  (stage3): Sequential(",
        f"    (0): {_unit(8, 8, 2, 4)}",
        f"    (1): {_unit(16, 8, 1, 4)}",
        "  )",
        "  (stage4): Sequential(",
        f"    (0): {_unit(16, 16, 2, 4)}",
        "  )",
        "  (conv5): Sequential(",
        "    (0): Conv2d(32, 64, kernel_size=(1, 1), stride=(1, 1), bias=False)",
        f"    (1): {_bn(64)}",
        "    (2): ReLU(inplace=True)",
        "  )",
        "  (fc): Linear(in_features=64, out_features=3, bias=True)",
        ")"])
    assert repr(net) == expected
    with pytest.raises(ValueError, match="stages_repeats"):
        models.ShuffleNetV2([1, 1], [4, 8, 16, 32, 64])
    with pytest.raises(ValueError, match="Invalid combination"):
        models.shufflenetv2.InvertedResidual(8, 32, 1)


def test_mnasnet_print_layout():
    net = models.MNASNet(0.5, num_classes=3)
    m = "0.00029999999999996696"  # 1 - 0.9997 in float64, as torchvision prints it
    assert repr(net.layers[9][1]) == "\n".join([
        "_InvertedResidual(",
        "  (layers): Sequential(",
        "    (0): Conv2d(24, 72, kernel_size=(1, 1), stride=(1, 1), bias=False)",
        f"    (1): {_bn(72, m)}",
        "    (2): ReLU(inplace=True)",
        "    (3): Conv2d(72, 72, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2), groups=72, "
        "bias=False)",
        f"    (4): {_bn(72, m)}",
        "    (5): ReLU(inplace=True)",
        "    (6): Conv2d(72, 24, kernel_size=(1, 1), stride=(1, 1), bias=False)",
        f"    (7): {_bn(24, m)}",
        "  )",
        ")"])
    assert [type(x).__name__ for x in net.layers] == (
        ["Conv2d", "BatchNorm2d", "ReLU"] * 2 + ["Conv2d", "BatchNorm2d"]
        + ["Sequential"] * 6 + ["Conv2d", "BatchNorm2d", "ReLU"])
    assert [len(s) for s in net.layers[8:14]] == [3, 3, 3, 2, 4, 1]
    assert repr(net.classifier) == ("Sequential(\n  (0): Dropout(p=0.2, inplace=True)\n"
                                    "  (1): Linear(in_features=1280, out_features=3, bias=True)\n)")
    assert net.layers[8][0].apply_residual is False and net.layers[8][1].apply_residual is True
    with pytest.raises(ValueError, match="alpha"):
        models.MNASNet(0.0)


@pytest.mark.parametrize("name, size", [("shufflenet_v2_x0_5", 32), ("mnasnet0_5", 32)])
def test_forward_shape_and_every_parameter_gets_a_gradient(name, size):
    ember.manual_seed(0)
    net = models.get_model(name, num_classes=5)
    out = net(ember.randn(2, 3, size, size))
    assert out.shape == (2, 5) and np.isfinite(out.detach().numpy()).all()
    out.square().sum().backward()
    assert not [k for k, p in net.named_parameters() if p.grad is None]
    net.eval()
    with ember.no_grad():
        assert net(ember.randn(1, 3, 17, 23)).shape == (1, 5)


def test_shuffle_units_match_torch():
    torch = pytest.importorskip("torch")
    from ember.vision.models.shufflenetv2 import InvertedResidual
    tnn = torch.nn

    def pw(cin, cout):
        return [tnn.Conv2d(cin, cout, 1, bias=False), tnn.BatchNorm2d(cout), tnn.ReLU()]

    def dw(c, stride):
        return [tnn.Conv2d(c, c, 3, stride, 1, groups=c, bias=False), tnn.BatchNorm2d(c)]

    class Unit(tnn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            half = cout // 2
            self.stride = stride
            self.branch1 = tnn.Sequential(*(dw(cin, stride) + pw(cin, half)) if stride > 1
                                          else [])
            self.branch2 = tnn.Sequential(*pw(cin if stride > 1 else half, half),
                                          *dw(half, stride), *pw(half, half))

        def forward(self, x):
            if self.stride == 1:
                a, b = x.chunk(2, dim=1)
                out = torch.cat((a, self.branch2(b)), 1)
            else:
                out = torch.cat((self.branch1(x), self.branch2(x)), 1)
            n, c, h, w = out.shape
            return out.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)

    rng = np.random.default_rng(0)
    for cin, cout, stride in ((6, 10, 2), (10, 10, 1)):
        ember.manual_seed(0)
        ours = InvertedResidual(cin, cout, stride)
        ref = Unit(cin, cout, stride)
        ref.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                             for k, v in ours.state_dict().items()})
        x = rng.standard_normal((2, cin, 7, 7)).astype(np.float32)
        xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ye, yt = ours(xe), ref(xt)
        np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), rtol=1e-4,
                                   atol=1e-5)
        (ye * ember.tensor(np.arange(ye.numel(), dtype=np.float32).reshape(ye.shape))).sum() \
            .backward()
        (yt * torch.arange(yt.numel(), dtype=torch.float32).reshape(yt.shape)).sum().backward()
        np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-3, atol=1e-3)


def test_mnasnet_loads_a_version_1_checkpoint():
    # version 1 kept a 32/16 stem at every alpha; such a checkpoint rebuilds the stem
    source = models.MNASNet(0.5)
    v1 = models.MNASNet(1.0).layers
    for i in range(8):
        source.layers[i] = v1[i]
    source.layers[8] = models.mnasnet._stack(16, 16, 3, 2, 3, 3, 0.1)
    sd = source.state_dict()
    for key in sd._metadata:
        sd._metadata[key]["version"] = 1
    net = models.MNASNet(0.5)
    with pytest.warns(UserWarning, match="previous version"):
        net.load_state_dict(sd)
    assert net.layers[0].weight.shape == (32, 3, 3, 3)
    assert net.layers[8][0].layers[0].weight.shape == (48, 16, 1, 1)
    assert net.state_dict()._metadata[""]["version"] == 1
    np.testing.assert_array_equal(net.layers[6].weight.detach().numpy(),
                                  v1[6].weight.detach().numpy())


def test_weights_download_through_the_hub_with_hash_check(tmp_path, monkeypatch):
    monkeypatch.setattr(hub, "_hub_dir", str(tmp_path / "hub"))
    source = models.shufflenet_v2_x0_5()
    saved = tmp_path / "saved.pth"
    ember.save(source.state_dict(), saved)
    calls = []

    def download(url, dst, hash_prefix=None, progress=True):
        calls.append((url, hash_prefix))
        shutil.copyfile(saved, dst)

    monkeypatch.setattr(hub, "download_url_to_file", download)
    net = models.shufflenet_v2_x0_5(weights="DEFAULT")
    assert calls == [(models.ShuffleNet_V2_X0_5_Weights.DEFAULT.url, "f707e7126e")]
    np.testing.assert_array_equal(net.fc.weight.detach().numpy(),
                                  source.fc.weight.detach().numpy())
    with pytest.raises(ValueError, match="num_classes"):
        models.mnasnet1_3(weights="DEFAULT", num_classes=10)
