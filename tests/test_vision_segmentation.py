"""ember.vision.models.segmentation: FCN, DeepLabV3 and LR-ASPP.

Oracles: NumPy re-computations of the heads (ASPP's pooling and atrous branches, the LR-ASPP
gate), torchvision's documented facts (parameter counts of each weight, URLs, VOC categories,
presets, state_dict keys, defaults) and sequential evaluation for IntermediateLayerGetter.
"""
import inspect
import warnings

import numpy as np
import pytest

import ember
from ember import nn
from ember._tensor import Tensor
from ember.vision import models
from ember.vision.models import segmentation
from ember.vision.models._utils import IntermediateLayerGetter
from ember.vision.models.segmentation.deeplabv3 import ASPP, ASPPConv, ASPPPooling, DeepLabHead
from ember.vision.models.segmentation.fcn import FCNHead
from ember.vision.models.segmentation.lraspp import LRASPPHead

URL = "https://download.pytorch.org/models/"
# builder -> (weights enum, file, num_params with aux_loss=True (LR-ASPP: none))
WEIGHTS = {
    "fcn_resnet50": ("FCN_ResNet50_Weights", "fcn_resnet50_coco-1167a1af.pth", 35322218),
    "fcn_resnet101": ("FCN_ResNet101_Weights", "fcn_resnet101_coco-7ecb50ca.pth", 54314346),
    "deeplabv3_resnet50": ("DeepLabV3_ResNet50_Weights", "deeplabv3_resnet50_coco-cd0a2569.pth",
                           42004074),
    "deeplabv3_resnet101": ("DeepLabV3_ResNet101_Weights",
                            "deeplabv3_resnet101_coco-586e9e4e.pth", 60996202),
    "deeplabv3_mobilenet_v3_large": ("DeepLabV3_MobileNet_V3_Large_Weights",
                                     "deeplabv3_mobilenet_v3_large-fc3c493d.pth", 11029328),
    "lraspp_mobilenet_v3_large": ("LRASPP_MobileNet_V3_Large_Weights",
                                  "lraspp_mobilenet_v3_large-d234d4ea.pth", 3221538),
}
VOC = ["__background__", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat",
       "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
       "sheep", "sofa", "train", "tvmonitor"]


@pytest.fixture
def shapes_only(monkeypatch):
    """Skip the random fills of initialisation: counting parameters needs only shapes."""
    monkeypatch.setattr(Tensor, "uniform_", lambda self, *args, **kwargs: self)
    monkeypatch.setattr(Tensor, "normal_", lambda self, *args, **kwargs: self)
    monkeypatch.setattr(nn.init, "kaiming_normal_", lambda tensor, *args, **kwargs: tensor)


def _bn_eval(x, bn):
    """NumPy BatchNorm2d with running statistics, on (N, C, ...) arrays."""
    shape = (1, -1) + (1,) * (x.ndim - 2)
    scale = bn.weight.detach().numpy() / np.sqrt(bn.running_var.numpy() + bn.eps)
    return ((x - bn.running_mean.numpy().reshape(shape)) * scale.reshape(shape)
            + bn.bias.detach().numpy().reshape(shape))


def _conv(x, weight, dilation=1, padding=0):
    """NumPy Conv2d (stride 1, no bias): a sum over the kernel's taps of shifted inputs."""
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    k = weight.shape[-1]
    h = x.shape[2] - dilation * (k - 1)
    w = x.shape[3] - dilation * (k - 1)
    out = 0
    for i in range(k):
        for j in range(k):
            patch = x[:, :, i * dilation:i * dilation + h, j * dilation:j * dilation + w]
            out = out + np.einsum("nchw,oc->nohw", patch, weight[:, :, i, j])
    return out


def _randomize_batchnorms(module, rng):
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(ember.tensor(rng.normal(0, 0.5, c)))
            m.running_var.copy_(ember.tensor(rng.uniform(0.5, 2.0, c)))
            m.weight.data.copy_(ember.tensor(rng.normal(1, 0.2, c)))
            m.bias.data.copy_(ember.tensor(rng.normal(0, 0.2, c)))


def test_aspp_branches_and_projection_match_numpy():
    rng = np.random.default_rng(0)
    ember.manual_seed(0)
    aspp = ASPP(4, atrous_rates=(1, 2), out_channels=3).double().eval()
    _randomize_batchnorms(aspp, rng)
    assert [type(m) for m in aspp.convs] == [nn.Sequential, ASPPConv, ASPPConv, ASPPPooling]
    x = rng.normal(size=(2, 4, 5, 6))
    relu = lambda a: np.maximum(a, 0)  # noqa: E731
    branches = [relu(_bn_eval(_conv(x, aspp.convs[0][0].weight.detach().numpy()),
                              aspp.convs[0][1]))]
    for conv, rate in zip(aspp.convs[1:3], (1, 2)):
        assert conv[0].dilation == (rate, rate) and conv[0].padding == (rate, rate)
        branches.append(relu(_bn_eval(_conv(x, conv[0].weight.detach().numpy(), rate, rate),
                                      conv[1])))
    # the image-level branch: global mean, 1x1 conv, BN, ReLU, broadcast back to H x W
    pooled = x.mean(axis=(2, 3), keepdims=True)
    pooling = aspp.convs[3]
    pooled = relu(_bn_eval(_conv(pooled, pooling[1].weight.detach().numpy()), pooling[2]))
    branches.append(np.broadcast_to(pooled, (2, 3, 5, 6)))
    got_pool = pooling(ember.tensor(x)).detach().numpy()
    np.testing.assert_allclose(got_pool, branches[-1], rtol=1e-12, atol=1e-12)
    expected = relu(_bn_eval(_conv(np.concatenate(branches, 1),
                                   aspp.project[0].weight.detach().numpy()), aspp.project[1]))
    np.testing.assert_allclose(aspp(ember.tensor(x)).detach().numpy(), expected, rtol=1e-10,
                               atol=1e-12)
    assert isinstance(aspp.project[3], nn.Dropout) and aspp.project[3].p == 0.5


def test_heads_layout():
    head = DeepLabHead(8, 5, atrous_rates=(2, 3))
    assert [type(m).__name__ for m in head] == ["ASPP", "Conv2d", "BatchNorm2d", "ReLU",
                                                "Conv2d"]
    assert head[0].project[0].in_channels == 4 * 256 and head[4].out_channels == 5
    fcn = FCNHead(16, 3)
    assert [type(m).__name__ for m in fcn] == ["Conv2d", "BatchNorm2d", "ReLU", "Dropout",
                                               "Conv2d"]
    assert (fcn[0].out_channels, fcn[0].padding, fcn[3].p, fcn[4].out_channels) == (
        4, (1, 1), 0.1, 3)
    assert DeepLabHead(8, 5)[0].convs[1][0].dilation == (12, 12)


def test_lraspp_head_matches_numpy():
    rng = np.random.default_rng(1)
    ember.manual_seed(1)
    head = LRASPPHead(low_channels=3, high_channels=4, num_classes=2, inter_channels=5)
    head = head.double().eval()
    _randomize_batchnorms(head, rng)
    low, high = rng.normal(size=(2, 3, 4, 4)), rng.normal(size=(2, 4, 2, 2))
    w = lambda m: m.weight.detach().numpy()  # noqa: E731
    cbr = np.maximum(_bn_eval(_conv(high, w(head.cbr[0])), head.cbr[1]), 0)
    gate = 1 / (1 + np.exp(-_conv(high.mean(axis=(2, 3), keepdims=True), w(head.scale[1]))))
    x = ember.nn.functional.interpolate(ember.tensor(cbr * gate), size=(4, 4),
                                        mode="bilinear", align_corners=False).numpy()
    b = lambda m: m.bias.detach().numpy()[:, None, None]  # noqa: E731
    expected = (_conv(low, w(head.low_classifier)) + b(head.low_classifier)
                + _conv(x, w(head.high_classifier)) + b(head.high_classifier))
    got = head({"low": ember.tensor(low), "high": ember.tensor(high)})
    np.testing.assert_allclose(got.detach().numpy(), expected, rtol=1e-10, atol=1e-12)


def test_intermediate_layer_getter_runs_children_in_order():
    ember.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.Tanh(), nn.Linear(2, 2))
    getter = IntermediateLayerGetter(net, {"0": "first", "2": "third"})
    assert list(getter) == ["0", "1", "2"]  # stops after the last layer asked for
    assert list(getter.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    x = ember.randn(5, 3)
    out = getter(x)
    assert list(out) == ["first", "third"]
    np.testing.assert_allclose(out["first"].detach().numpy(), net[0](x).detach().numpy())
    np.testing.assert_allclose(out["third"].detach().numpy(), net[:3](x).detach().numpy())
    with pytest.raises(ValueError, match="return_layers are not present"):
        IntermediateLayerGetter(net, {"layer9": "x"})


@pytest.mark.parametrize("name", sorted(WEIGHTS))
def test_weights_records_and_parameter_counts(shapes_only, name):
    enum_name, file_name, num_params = WEIGHTS[name]
    enum = getattr(segmentation, enum_name)
    assert models.get_model_weights(name) is enum
    assert models.get_weight(f"{enum_name}.COCO_WITH_VOC_LABELS_V1") is enum.DEFAULT
    w = enum.DEFAULT
    assert w is enum.COCO_WITH_VOC_LABELS_V1 and w.url == URL + file_name
    assert w.meta["categories"] == VOC and w.meta["num_params"] == num_params
    assert w.meta["min_size"] == (1, 1)
    preset = w.transforms()
    assert type(preset).__name__ == "SemanticSegmentation" and preset.resize_size == [520]
    kwargs = {} if name.startswith("lraspp") else {"aux_loss": True}
    net = models.get_model(name, weights_backbone=None, **kwargs)
    assert sum(p.numel() for p in net.parameters()) == num_params


def test_builder_defaults_and_weight_constraints():
    for name in WEIGHTS:
        params = inspect.signature(models.get_model_builder(name)).parameters
        backbone = "MobileNet_V3_Large_Weights" if "mobilenet" in name else (
            "ResNet101_Weights" if "101" in name else "ResNet50_Weights")
        assert repr(params["weights_backbone"].default) == f"{backbone}.IMAGENET1K_V1"
        assert params["weights"].default is None and params["num_classes"].default is None
    net = segmentation.deeplabv3_mobilenet_v3_large(weights_backbone=None)
    assert net.aux_classifier is None and net.classifier[4].out_channels == 21
    with pytest.raises(ValueError, match="num_classes"):
        segmentation.fcn_resnet50(weights="DEFAULT", num_classes=3)
    with pytest.raises(ValueError, match="aux_loss"):
        segmentation.deeplabv3_resnet50(weights="DEFAULT", aux_loss=False)
    with pytest.raises(NotImplementedError, match="auxiliary loss"):
        segmentation.lraspp_mobilenet_v3_large(weights_backbone=None, aux_loss=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net = segmentation.lraspp_mobilenet_v3_large(pretrained_backbone=False, num_classes=4)
    assert any("pretrained_backbone" in str(c.message) for c in caught)
    assert net.classifier.low_classifier.out_channels == 4


def test_mobilenet_models_layout_outputs_and_backward():
    ember.manual_seed(0)
    net = segmentation.deeplabv3_mobilenet_v3_large(weights_backbone=None, num_classes=3,
                                                    aux_loss=True)
    # C2 (stride 8, 40 channels) feeds the auxiliary head; the dilated last layer the main one
    assert net.backbone.return_layers == {"16": "out", "4": "aux"}
    assert net.aux_classifier[0].in_channels == 40
    assert net.classifier[0].convs[0][0].in_channels == 960
    sd = net.state_dict()
    for key in ["backbone.0.0.weight", "backbone.16.1.running_var",
                "classifier.0.convs.4.1.weight", "classifier.0.project.0.weight",
                "classifier.4.bias", "aux_classifier.4.weight"]:
        assert key in sd, key
    out = net(ember.randn(2, 3, 33, 35))
    assert list(out) == ["out", "aux"]
    assert out["out"].shape == (2, 3, 33, 35) and out["aux"].shape == (2, 3, 33, 35)
    (out["out"].sum() + out["aux"].square().sum()).backward()
    assert not [k for k, p in net.named_parameters() if p.grad is None]
    lraspp = segmentation.lraspp_mobilenet_v3_large(weights_backbone=None).eval()
    assert lraspp.backbone.return_layers == {"4": "low", "16": "high"}
    assert {"classifier.cbr.0.weight", "classifier.scale.1.weight",
            "classifier.low_classifier.bias", "classifier.high_classifier.weight"} <= set(
                lraspp.state_dict())
    out = lraspp(ember.randn(1, 3, 32, 32))
    assert list(out) == ["out"] and out["out"].shape == (1, 21, 32, 32)


def test_resnet_models_are_dilated(shapes_only):
    net = segmentation.fcn_resnet50(weights_backbone=None, aux_loss=True)
    assert list(net.backbone) == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2",
                                  "layer3", "layer4"]  # no avgpool / fc
    assert net.backbone.return_layers == {"layer4": "out", "layer3": "aux"}
    assert net.backbone.layer3[0].conv2.stride == (1, 1)
    assert net.backbone.layer4[1].conv2.dilation == (4, 4)
    assert "aux_classifier.0.weight" in net.state_dict()
    assert segmentation.deeplabv3_resnet101(weights_backbone=None).aux_classifier is None


def test_semantic_segmentation_preset_matches_numpy():
    from ember.vision.transforms._presets import SemanticSegmentation
    img = np.random.default_rng(0).integers(0, 256, (3, 6, 8), dtype=np.uint8)
    got = SemanticSegmentation(resize_size=None)(ember.tensor(img))
    mean = np.array([0.485, 0.456, 0.406])[:, None, None]
    std = np.array([0.229, 0.224, 0.225])[:, None, None]
    np.testing.assert_allclose(got.numpy(), (img / 255.0 - mean) / std, rtol=1e-5, atol=1e-6)
    assert got.dtype == ember.float32
    assert SemanticSegmentation(resize_size=4)(ember.tensor(img)).shape == (3, 4, 5)
