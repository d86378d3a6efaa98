"""ember.vision.models' catalogue (torchvision's architectures) and its weights API.

Oracles: torchvision's documented facts (``num_params`` of each weight, download URLs, state_dict
key names and shapes, the preset transforms' definition), and real PyTorch for one MobileNetV3
block. Downloads are mocked: the hub copies a state_dict saved here.
"""
import copy
import pickle
import shutil
import warnings

import numpy as np
import pytest

import ember
from ember import hub
from ember._tensor import Tensor
from ember.vision import models

# torchvision's documented num_params of each model's weights (1000 ImageNet classes).
NUM_PARAMS = {
    "alexnet": 61100840, "densenet121": 7978856, "densenet161": 28681000,
    "densenet169": 14149480, "densenet201": 20013928, "mobilenet_v2": 3504872,
    "mobilenet_v3_large": 5483032, "mobilenet_v3_small": 2542856, "resnet18": 11689512,
    "resnet34": 21797672, "resnet50": 25557032, "resnet101": 44549160, "resnet152": 60192808,
    "resnext50_32x4d": 25028904, "resnext101_32x8d": 88791336, "resnext101_64x4d": 83455272,
    "squeezenet1_0": 1248424, "squeezenet1_1": 1235496, "vgg11": 132863336,
    "vgg11_bn": 132868840, "vgg13": 133047848, "vgg13_bn": 133053736, "vgg16": 138357544,
    "vgg16_bn": 138365992, "vgg19": 143667240, "vgg19_bn": 143678248,
    "wide_resnet50_2": 68883240, "wide_resnet101_2": 126886696,
}


@pytest.fixture
def shapes_only(monkeypatch):
    """Skip the random fills of initialisation: counting parameters needs only their shapes,
    and filling VGG's 100M-weight linear layer takes seconds."""
    monkeypatch.setattr(Tensor, "uniform_", lambda self, *args, **kwargs: self)
    monkeypatch.setattr(Tensor, "normal_", lambda self, *args, **kwargs: self)


@pytest.fixture
def constant_init(monkeypatch):
    """A cheap deterministic initialisation for gradient checks of the big models."""
    monkeypatch.setattr(Tensor, "uniform_", lambda self, *args, **kwargs: self.fill_(0.01))
    monkeypatch.setattr(Tensor, "normal_", lambda self, *args, **kwargs: self.fill_(0.01))


@pytest.fixture
def fake_download(tmp_path, monkeypatch):
    """The hub caches under tmp_path; "downloading" a URL copies the file registered for it."""
    monkeypatch.setattr(hub, "_hub_dir", str(tmp_path / "hub"))
    served, fetched = {}, []

    def download(url, dst, hash_prefix=None, progress=True):
        fetched.append(url)
        shutil.copyfile(served[url], dst)

    monkeypatch.setattr(hub, "download_url_to_file", download)
    return served, fetched


def _n_params(net) -> int:
    return sum(p.numel() for p in net.parameters())


# ---------------------------------------------------------------------------------------------
# The catalogue


def test_every_torchvision_classification_model_is_registered_and_exported():
    # this file's table covers the first catalogue; the later families are checked, with
    # their parameter counts, in tests/vision/test_models_s5_*.py
    assert set(NUM_PARAMS) <= set(models.list_models())
    # module= keeps a package's own builders, as torchvision's (no segmentation models)
    classification = models.list_models(module=models)
    segmentation = models.list_models(module=models.segmentation)
    assert set(NUM_PARAMS) <= set(classification) and "fcn_resnet50" in segmentation
    assert not set(classification) & set(segmentation)
    assert set(classification) | set(segmentation) <= set(models.list_models())
    for name in NUM_PARAMS:
        assert models.__dict__[name] is models.get_model_builder(name)  # the imagenet example
    assert models.list_models(include="resnet*", exclude=["*101*", "*152*"]) == [
        "resnet18", "resnet34", "resnet50"]
    assert models.list_models(include=["vgg1[19]", "alexnet"]) == ["alexnet", "vgg11", "vgg19"]


def test_parameter_counts_match_torchvision(shapes_only):
    for name, expected in NUM_PARAMS.items():
        assert _n_params(models.get_model(name)) == expected, name
        assert models.get_model_weights(name).DEFAULT.meta["num_params"] == expected, name


@pytest.mark.parametrize("name, entries", [
    ("alexnet", {"features.0.weight": (64, 3, 11, 11), "features.10.weight": (256, 256, 3, 3),
                 "classifier.1.weight": (4096, 9216), "classifier.6.bias": (1000,)}),
    ("vgg16", {"features.0.weight": (64, 3, 3, 3), "features.28.weight": (512, 512, 3, 3),
               "classifier.0.weight": (4096, 25088), "classifier.6.weight": (1000, 4096)}),
    ("vgg16_bn", {"features.1.running_mean": (64,), "features.40.weight": (512, 512, 3, 3),
                  "features.41.running_var": (512,), "classifier.3.weight": (4096, 4096)}),
    ("squeezenet1_0", {"features.0.weight": (96, 3, 7, 7),
                       "features.3.squeeze.weight": (16, 96, 1, 1),
                       "features.12.expand3x3.weight": (256, 64, 3, 3),
                       "classifier.1.weight": (1000, 512, 1, 1)}),
    ("squeezenet1_1", {"features.0.weight": (64, 3, 3, 3),
                       "features.12.expand1x1.bias": (256,)}),
    ("densenet121", {"features.conv0.weight": (64, 3, 7, 7),
                     "features.denseblock1.denselayer1.norm1.running_mean": (64,),
                     "features.denseblock1.denselayer1.conv2.weight": (32, 128, 3, 3),
                     "features.transition1.conv.weight": (128, 256, 1, 1),
                     "features.denseblock4.denselayer16.conv1.weight": (128, 992, 1, 1),
                     "features.norm5.weight": (1024,), "classifier.weight": (1000, 1024)}),
    ("densenet161", {"features.conv0.weight": (96, 3, 7, 7), "classifier.weight": (1000, 2208)}),
    ("mobilenet_v2", {"features.0.0.weight": (32, 3, 3, 3), "features.0.1.running_mean": (32,),
                      "features.1.conv.0.0.weight": (32, 1, 3, 3),
                      "features.1.conv.1.weight": (16, 32, 1, 1),
                      "features.2.conv.0.0.weight": (96, 16, 1, 1),
                      "features.18.0.weight": (1280, 320, 1, 1),
                      "classifier.1.weight": (1000, 1280)}),
    ("mobilenet_v3_large", {"features.0.0.weight": (16, 3, 3, 3),
                            "features.4.block.2.fc1.weight": (24, 72, 1, 1),
                            "features.4.block.2.fc2.bias": (72,),
                            "features.16.0.weight": (960, 160, 1, 1),
                            "classifier.0.weight": (1280, 960),
                            "classifier.3.weight": (1000, 1280)}),
    ("mobilenet_v3_small", {"features.1.block.1.fc1.weight": (8, 16, 1, 1),
                            "features.1.block.2.1.num_batches_tracked": (),
                            "classifier.0.weight": (1024, 576)}),
    ("resnet101", {"layer3.22.conv3.weight": (1024, 256, 1, 1), "fc.weight": (1000, 2048)}),
    ("resnext50_32x4d", {"layer1.0.conv2.weight": (128, 4, 3, 3),
                         "layer4.2.conv1.weight": (1024, 2048, 1, 1)}),
    ("resnext101_64x4d", {"layer1.0.conv2.weight": (256, 4, 3, 3)}),
    ("wide_resnet50_2", {"layer1.0.conv2.weight": (128, 128, 3, 3),
                         "layer1.0.conv3.weight": (256, 128, 1, 1)}),
])
def test_state_dict_keys_and_shapes_match_torchvision(shapes_only, name, entries):
    sd = models.get_model(name).state_dict()
    for key, shape in entries.items():
        assert key in sd, key
        assert tuple(sd[key].shape) == shape, key


def test_alexnet_and_vgg_forward_and_backward(constant_init):
    net = models.alexnet(num_classes=7)
    out = net(ember.randn(1, 3, 64, 64))
    assert out.shape == (1, 7)
    out.sum().backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in net.parameters())
    # VGG's 100M-weight classifier makes its backward slow; its forward is checked in eval
    vgg = models.vgg11_bn(num_classes=7).eval()
    with ember.no_grad():
        assert vgg(ember.randn(1, 3, 32, 32)).shape == (1, 7)


@pytest.mark.parametrize("name, size", [("squeezenet1_0", 64), ("squeezenet1_1", 48),
                                        ("densenet121", 32), ("mobilenet_v2", 32),
                                        ("mobilenet_v3_large", 32), ("mobilenet_v3_small", 32)])
def test_forward_shape_and_every_parameter_gets_a_gradient(name, size):
    ember.manual_seed(0)
    net = models.get_model(name, num_classes=5)
    out = net(ember.randn(2, 3, size, size))
    assert out.shape == (2, 5) and np.isfinite(out.detach().numpy()).all()
    out.square().sum().backward()
    missing = [k for k, p in net.named_parameters() if p.grad is None]
    assert not missing
    net.eval()
    with ember.no_grad():
        assert net(ember.randn(1, 3, size, size)).shape == (1, 5)


def test_resnext_and_wide_resnet_forward_shape(constant_init):
    for net in (models.resnext50_32x4d(num_classes=3), models.wide_resnet50_2(num_classes=3)):
        assert net(ember.randn(2, 3, 32, 32)).shape == (2, 3)


def test_densenet_memory_efficient_gives_the_same_gradients():
    ember.manual_seed(0)
    plain = models.DenseNet(8, (2, 2), 16, num_classes=3)
    saving = models.DenseNet(8, (2, 2), 16, num_classes=3, memory_efficient=True)
    saving.load_state_dict(plain.state_dict())
    x = ember.randn(2, 3, 32, 32)
    for net in (plain, saving):
        net(x).sum().backward()
    for (k, a), (_, b) in zip(plain.named_parameters(), saving.named_parameters()):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-6,
                                   err_msg=k)


def test_default_initialisations_follow_torchvision():
    ember.manual_seed(0)
    sq = models.squeezenet1_1()
    w = sq.classifier[1].weight.detach().numpy()  # final conv: N(0, 0.01)
    assert abs(w.std() - 0.01) < 5e-4 and not sq.classifier[1].bias.detach().numpy().any()
    first = sq.features[0].weight.detach().numpy()  # kaiming_uniform_ (a=0): bound sqrt(6 / fan_in)
    assert np.abs(first).max() <= np.sqrt(6 / 27) and np.abs(first).max() > 0.9 * np.sqrt(6 / 27)

    mb = models.mobilenet_v2()
    head = mb.features[18][0].weight.detach().numpy()  # kaiming_normal_ fan_out: std sqrt(2 / 1280)
    assert abs(head.std() / np.sqrt(2 / 1280) - 1) < 0.02
    assert abs(mb.classifier[1].weight.detach().numpy().std() - 0.01) < 5e-4
    assert not mb.classifier[1].bias.detach().numpy().any()
    assert (mb.features[0][1].weight.detach().numpy() == 1).all()

    v3 = models.mobilenet_v3_small()
    bn = v3.features[0][1]
    assert bn.eps == 0.001 and bn.momentum == 0.01

    dn = models.DenseNet(8, (2, 2), 16, num_classes=3)
    assert not dn.classifier.bias.detach().numpy().any()
    assert (dn.features.norm0.weight.detach().numpy() == 1).all()


def test_mobilenet_v3_block_matches_torch():
    torch = pytest.importorskip("torch")
    from ember.vision.models.mobilenetv3 import InvertedResidual, InvertedResidualConfig
    tnn = torch.nn

    def cna(cin, cout, k, groups=1, act=True):
        layers = [tnn.Conv2d(cin, cout, k, padding=(k - 1) // 2, groups=groups, bias=False),
                  tnn.BatchNorm2d(cout, eps=0.001, momentum=0.01)]
        return tnn.Sequential(*layers, *([tnn.Hardswish()] if act else []))

    class SE(tnn.Module):
        def __init__(self, c, s):
            super().__init__()
            self.avgpool = tnn.AdaptiveAvgPool2d(1)
            self.fc1, self.fc2 = tnn.Conv2d(c, s, 1), tnn.Conv2d(s, c, 1)
            self.activation, self.scale_activation = tnn.ReLU(), tnn.Hardsigmoid()

        def forward(self, x):
            scale = self.fc2(self.activation(self.fc1(self.avgpool(x))))
            return self.scale_activation(scale) * x

    class Block(tnn.Module):
        def __init__(self):
            super().__init__()
            self.block = tnn.Sequential(cna(40, 240, 1), cna(240, 240, 5, groups=240),
                                        SE(240, 64), cna(240, 40, 1, act=False))

        def forward(self, x):
            return self.block(x) + x

    ember.manual_seed(0)
    cnf = InvertedResidualConfig(40, 5, 240, 40, True, "HS", 1, 1, width_mult=1.0)
    ours = InvertedResidual(cnf, lambda c: ember.nn.BatchNorm2d(c, eps=0.001, momentum=0.01))
    for name, buf in ours.named_buffers():  # non-trivial running statistics for eval mode
        if name.endswith("running_mean"):
            buf.copy_(ember.randn(buf.shape) * 0.1)
        elif name.endswith("running_var"):
            buf.copy_(ember.rand(buf.shape) + 0.5)
    ref = Block()
    ref.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                         for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 40, 9, 9)).astype(np.float32)
    for train in (False, True):
        ours.train(train)
        ref.train(train)
        xe = ember.tensor(x, requires_grad=True)
        xt = torch.tensor(x, requires_grad=True)
        ye, yt = ours(xe), ref(xt)
        np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), rtol=1e-4,
                                   atol=1e-5)
        ye.square().sum().backward()
        yt.square().sum().backward()
        np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-3, atol=1e-4)


# ---------------------------------------------------------------------------------------------
# The weights API


def test_weights_resolution():
    W = models.ResNet18_Weights
    v1 = W.IMAGENET1K_V1
    assert W.DEFAULT is v1 and W["DEFAULT"] is v1
    for spec in (v1, "IMAGENET1K_V1", "DEFAULT", "ResNet18_Weights.IMAGENET1K_V1"):
        assert W.verify(spec) is v1
    assert W.verify(None) is None
    with pytest.raises(KeyError):
        W.verify("IMAGENET1K_V9")
    with pytest.raises(TypeError, match="expected ResNet18_Weights"):
        W.verify(models.ResNet34_Weights.DEFAULT)
    with pytest.raises(TypeError):
        models.resnet18(weights=models.VGG16_Weights.DEFAULT)
    assert repr(v1) == "ResNet18_Weights.IMAGENET1K_V1"
    assert pickle.loads(pickle.dumps(v1)) is v1 and copy.deepcopy(W.DEFAULT) is v1
    assert v1.url == "https://download.pytorch.org/models/resnet18-f37072fd.pth"
    assert models.ResNet50_Weights.DEFAULT is models.ResNet50_Weights.IMAGENET1K_V2
    assert models.MobileNet_V3_Large_Weights.DEFAULT.url.endswith("mobilenet_v3_large-5c1a4163.pth")
    assert models.VGG16_Weights.IMAGENET1K_FEATURES.meta["categories"] is None
    assert models.AlexNet_Weights.DEFAULT.meta["min_size"] == (63, 63)
    cats = v1.meta["categories"]
    assert len(cats) == 1000 and cats[0] == "tench" and cats[207] == "golden retriever"
    assert cats[281] == "tabby" and cats[999] == "toilet tissue" and len(set(cats)) == 1000


def test_get_model_and_get_weight():
    net = models.get_model("mobilenet_v3_small", weights=None, num_classes=10)
    assert isinstance(net, models.MobileNetV3) and net.classifier[3].out_features == 10
    assert isinstance(models.get_model("SqueezeNet1_1"), models.SqueezeNet)
    with pytest.raises(ValueError, match="Unknown model"):
        models.get_model("resnet19")
    assert models.get_model_weights("resnet50") is models.ResNet50_Weights
    assert models.get_model_weights(models.densenet121) is models.DenseNet121_Weights
    assert models.get_weight("ResNet50_Weights.IMAGENET1K_V2") is models.ResNet50_Weights.DEFAULT
    assert models.get_weight("VGG16_Weights.DEFAULT").url.endswith("vgg16-397923af.pth")
    with pytest.raises(ValueError):
        models.get_weight("ResNet50_Weights")
    with pytest.raises(ValueError):
        models.get_weight("NoSuch_Weights.DEFAULT")


def test_preset_transforms_match_their_definition():
    Image = pytest.importorskip("PIL.Image")
    preset = models.ResNet18_Weights.DEFAULT.transforms()
    assert preset.crop_size == [224] and preset.resize_size == [256]
    assert models.ResNet50_Weights.IMAGENET1K_V2.transforms().resize_size == [232]
    # a flat-coloured image: resize and crop keep the colour, then (c / 255 - mean) / std
    colour = np.array([200, 100, 30], np.uint8)
    img = Image.fromarray(np.broadcast_to(colour, (300, 400, 3)).copy())
    out = preset(img)
    assert out.shape == (3, 224, 224) and out.dtype == ember.float32
    expected = (colour / 255.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(out.numpy()[:, 100, 100], expected, rtol=1e-5)
    # resize the short side to 256 and take the centre 224 crop of an image with a gradient
    ramp = np.tile(np.arange(300, dtype=np.uint8)[None, :, None], (280, 1, 3))
    tensor_out = preset(ember.tensor(ramp.transpose(2, 0, 1).copy()))
    assert tensor_out.shape == (3, 224, 224)
    batched = preset(ember.stack([ember.tensor(ramp.transpose(2, 0, 1).copy())] * 2))
    np.testing.assert_allclose(batched.numpy()[1], tensor_out.numpy())
    assert "crop_size=[224]" in repr(preset)


def test_pretrained_weights_load_through_the_hub(tmp_path, fake_download):
    served, fetched = fake_download
    ember.manual_seed(1)
    source = models.squeezenet1_1()
    url = models.SqueezeNet1_1_Weights.IMAGENET1K_V1.url
    assert url == "https://download.pytorch.org/models/squeezenet1_1-b8a52dc0.pth"
    served[url] = tmp_path / "saved.pth"
    ember.save(source.state_dict(), served[url])

    net = models.squeezenet1_1(weights="DEFAULT")
    assert fetched == [url]
    assert (tmp_path / "hub" / "checkpoints" / "squeezenet1_1-b8a52dc0.pth").exists()
    for (k, a), b in zip(net.state_dict().items(), source.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
    again = models.squeezenet1_1(weights=models.SqueezeNet1_1_Weights.IMAGENET1K_V1)
    assert fetched == [url]  # served from the cache the second time
    np.testing.assert_array_equal(again.features[0].weight.detach().numpy(),
                                  source.features[0].weight.detach().numpy())
    with pytest.raises(ValueError, match="num_classes"):
        models.squeezenet1_1(weights="DEFAULT", num_classes=10)


def test_pretrained_true_is_deprecated_but_works(tmp_path, fake_download):
    served, fetched = fake_download
    source = models.mobilenet_v3_small()
    url = models.MobileNet_V3_Small_Weights.IMAGENET1K_V1.url
    served[url] = tmp_path / "saved.pth"
    ember.save(source.state_dict(), served[url])
    with pytest.warns(UserWarning) as record:
        net = models.mobilenet_v3_small(pretrained=True)
    messages = [str(w.message) for w in record]
    assert any("'pretrained' is deprecated" in m for m in messages)
    assert any("weights=MobileNet_V3_Small_Weights.IMAGENET1K_V1" in m
               and "MobileNet_V3_Small_Weights.DEFAULT" in m for m in messages)
    assert fetched == [url]
    np.testing.assert_array_equal(net.classifier[3].weight.detach().numpy(),
                                  source.classifier[3].weight.detach().numpy())
    with pytest.warns(UserWarning) as record:
        models.squeezenet1_0(pretrained=False)
    assert any("`weights=None`" in str(w.message) for w in record)
    assert fetched == [url]
    with pytest.raises(ValueError, match="not both"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models.squeezenet1_0(pretrained=True, weights="DEFAULT")


def test_densenet_loads_torchvision_checkpoint_key_names(tmp_path, fake_download):
    served, _ = fake_download
    source = models.densenet121()
    # torchvision's DenseNet files name the layers "norm.1", "conv.2", ..., and predate
    # num_batches_tracked
    old = {k.replace(".norm1.", ".norm.1.").replace(".conv2.", ".conv.2."): v
           for k, v in source.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert "features.denseblock1.denselayer1.norm.1.weight" in old
    url = models.DenseNet121_Weights.DEFAULT.url
    served[url] = tmp_path / "old.pth"
    ember.save(old, served[url])
    loaded = models.densenet121(weights=models.DenseNet121_Weights.IMAGENET1K_V1)
    np.testing.assert_array_equal(
        loaded.features.denseblock4.denselayer16.conv2.weight.detach().numpy(),
        source.features.denseblock4.denselayer16.conv2.weight.detach().numpy())


def test_torch_saved_checkpoint_loads_strictly(tmp_path, fake_download):
    torch = pytest.importorskip("torch")
    served, _ = fake_download
    source = models.mobilenet_v2(num_classes=1000)
    url = models.MobileNet_V2_Weights.IMAGENET1K_V1.url
    served[url] = tmp_path / "torch.pth"
    torch.save({k: torch.from_numpy(v.numpy().copy()) for k, v in source.state_dict().items()},
               served[url])
    net = models.mobilenet_v2(weights=models.MobileNet_V2_Weights.IMAGENET1K_V1).eval()
    source.eval()
    x = ember.randn(1, 3, 32, 32)
    with ember.no_grad():
        np.testing.assert_allclose(net(x).numpy(), source(x).numpy(), rtol=1e-5, atol=1e-6)
