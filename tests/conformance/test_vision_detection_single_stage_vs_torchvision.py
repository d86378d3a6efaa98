"""ember.vision's single-stage detectors (RetinaNet, FCOS, SSD, SSDlite) against real
torchvision: torchvision's model with random weights, its state_dict loaded into ember's (strict,
same keys in the same order), the same images and targets; eval detections, training losses and
the parameters' gradients compared in float64. These detectors sample nothing at random, so the
losses are compared exactly.

Tiny backbones keep it fast; the builders' key layouts are compared separately."""
from __future__ import annotations

from collections import OrderedDict
from functools import partial

import numpy as np
import pytest

import ember
from ember.vision.models.detection import anchor_utils as e_anchors
from ember.vision.models.detection import fcos as e_fcos
from ember.vision.models.detection import retinanet as e_retinanet
from ember.vision.models.detection import ssd as e_ssd
from ember.vision.models.detection import ssdlite as e_ssdlite
from ember.vision.models.vgg import make_layers as e_make_layers
from tests.conformance.real_torchvision import real_torchvision

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def tv():
    return real_torchvision()


def _e(t):
    return ember.tensor(t.detach().numpy())


def _close(ours, theirs, rtol=1e-9, atol=1e-9):
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol,
                               atol=atol)


def _tiny_backbone(nn, channels):
    """Three feature maps (strides 4, 8, 16) with ``channels`` channels each; one class body
    for both libraries."""
    class Backbone(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, channels, 3, stride=4, padding=1), nn.ReLU())
            self.down1 = nn.Sequential(nn.Conv2d(channels, channels, 3, stride=2, padding=1),
                                       nn.ReLU())
            self.down2 = nn.Conv2d(channels, channels, 3, stride=2, padding=1)
            self.out_channels = channels

        def forward(self, x):
            c1 = self.stem(x)
            c2 = self.down1(c1)
            return OrderedDict([("0", c1), ("1", c2), ("2", self.down2(c2))])
    return Backbone()


def _pair(build_torch, build_ember, scale=0.2):
    """torch's model with N(0, scale) weights (so that scores spread over [0, 1]) and ember's
    with the same state_dict, both in float64."""
    torch.manual_seed(0)
    theirs = build_torch().double()
    with torch.no_grad():
        for p in theirs.parameters():
            p.normal_(0, scale)
    ours = build_ember().double()
    state = {k: _e(v) for k, v in theirs.state_dict().items()}
    assert list(state) == list(ours.state_dict())
    ours.load_state_dict(state, strict=True)
    return ours, theirs


def _inputs():
    """Two images of one aspect ratio, so that (with ``size_divisible=1``) the batch has no
    padding: padded borders give exactly tied scores, whose order no implementation fixes."""
    gen = torch.Generator().manual_seed(1)
    images = [torch.rand(3, 60, 72, generator=gen, dtype=torch.float64),
              torch.rand(3, 50, 60, generator=gen, dtype=torch.float64)]
    targets = [
        {"boxes": torch.tensor([[4.0, 6.0, 40.0, 50.0], [30.0, 20.0, 70.0, 44.0]],
                               dtype=torch.float64), "labels": torch.tensor([1, 2])},
        {"boxes": torch.tensor([[10.0, 8.0, 30.0, 36.0]], dtype=torch.float64),
         "labels": torch.tensor([2])},
    ]
    return images, targets


def _compare(ours, theirs, loss_names, check_grads=True):
    images, targets = _inputs()
    e_images = [_e(i) for i in images]
    e_targets = [{k: _e(v) for k, v in t.items()} for t in targets]

    theirs.train()
    ours.train()
    their_losses = theirs(images, targets)
    our_losses = ours(e_images, e_targets)
    assert list(our_losses) == list(their_losses) == loss_names
    for name in loss_names:
        assert their_losses[name].item() > 0  # every loss has matched boxes to work on
        _close(our_losses[name], their_losses[name])
    if check_grads:
        sum(their_losses.values()).backward()
        sum(our_losses.values()).backward()
        our_params = dict(ours.named_parameters())
        for name, p in theirs.named_parameters():
            _close(our_params[name].grad, p.grad, rtol=1e-7, atol=1e-9)

    theirs.eval()
    ours.eval()
    with torch.no_grad():
        their_detections = theirs(images)
    with ember.no_grad():
        our_detections = ours(e_images)
    assert sum(len(d["boxes"]) for d in their_detections) > 0
    for our, their in zip(our_detections, their_detections):
        assert list(our) == list(their) == ["boxes", "scores", "labels"]
        for k in their:
            _close(our[k], their[k])


def test_retinanet_matches(tv):
    def build(lib, det):
        anchors = det.anchor_utils.AnchorGenerator(((8,), (16,), (32,)), ((0.5, 1.0, 2.0),) * 3)
        return det.retinanet.RetinaNet(_tiny_backbone(lib.nn, 8), 3, min_size=64, max_size=80,
                                       size_divisible=1, anchor_generator=anchors,
                                       score_thresh=0.3, topk_candidates=20,
                                       detections_per_img=15)

    ours, theirs = _pair(lambda: build(torch, tv.models.detection),
                         lambda: build(ember, _EmberDetection))
    _compare(ours, theirs, ["classification", "bbox_regression"])


def test_retinanet_v2_head_giou_matches(tv):
    """The v2 configuration: GroupNorm in the heads and the GIoU box loss."""
    def build(lib, det):
        anchors = det.anchor_utils.AnchorGenerator(((8,), (16,), (32,)), ((0.5, 1.0, 2.0),) * 3)
        head = det.retinanet.RetinaNetHead(32, 3, 3, norm_layer=partial(lib.nn.GroupNorm, 32))
        head.regression_head._loss_type = "giou"
        return det.retinanet.RetinaNet(_tiny_backbone(lib.nn, 32), 3, min_size=64, max_size=80,
                                       size_divisible=1, anchor_generator=anchors, head=head,
                                       score_thresh=0.3)

    ours, theirs = _pair(lambda: build(torch, tv.models.detection),
                         lambda: build(ember, _EmberDetection), scale=0.1)
    _compare(ours, theirs, ["classification", "bbox_regression"])


def test_fcos_matches(tv):
    def build(lib, det):
        anchors = det.anchor_utils.AnchorGenerator(((4,), (8,), (16,)), ((1.0,),) * 3)
        return det.fcos.FCOS(_tiny_backbone(lib.nn, 32), 3, min_size=64, max_size=80,
                             size_divisible=1, anchor_generator=anchors,
                             center_sampling_radius=3.0, score_thresh=0.3, topk_candidates=25)

    ours, theirs = _pair(lambda: build(torch, tv.models.detection),
                         lambda: build(ember, _EmberDetection), scale=0.1)
    _compare(ours, theirs, ["classification", "bbox_regression", "bbox_ctrness"])


def _ssd_backbone(lib):
    backbone = _tiny_backbone(lib.nn, 8)
    backbone.out_channels = [8, 8, 8]
    return backbone


def test_ssd_matches(tv):
    def build(lib, det):
        anchors = det.anchor_utils.DefaultBoxGenerator([[2], [2, 3], [2]], steps=[4, 8, 16])
        return det.ssd.SSD(_ssd_backbone(lib), anchors, (64, 64), 4, score_thresh=0.3,
                           topk_candidates=10, detections_per_img=20)

    ours, theirs = _pair(lambda: build(torch, tv.models.detection),
                         lambda: build(ember, _EmberDetection))
    _compare(ours, theirs, ["bbox_regression", "classification"])


def test_ssdlite_head_matches(tv):
    def build(lib, det):
        anchors = det.anchor_utils.DefaultBoxGenerator([[2, 3]] * 3, min_ratio=0.2,
                                                       max_ratio=0.95)
        head = det.ssdlite.SSDLiteHead([8, 8, 8], anchors.num_anchors_per_location(), 3,
                                       partial(lib.nn.BatchNorm2d, eps=0.001, momentum=0.03))
        return det.ssd.SSD(_ssd_backbone(lib), anchors, (64, 64), 3, head=head,
                           score_thresh=0.3, nms_thresh=0.55)

    ours, theirs = _pair(lambda: build(torch, tv.models.detection),
                         lambda: build(ember, _EmberDetection))
    _compare(ours, theirs, ["bbox_regression", "classification"])


def test_ssd_vgg_feature_extractor_matches(tv):
    """SSD300's VGG extractor on a VGG whose first stages are narrow (conv4_3 and conv5 keep
    SSD's 512 channels)."""
    cfg = [4, "M", 4, "M", 4, "M", 512, "M", 512, "M"]

    def build(extractor, make_layers, lib):
        vgg = lib.nn.Module()
        vgg.features = make_layers(cfg)
        return extractor(vgg, False, 3)

    from torchvision.models.detection.ssd import _vgg_extractor
    from torchvision.models.vgg import make_layers
    ours, theirs = _pair(lambda: build(_vgg_extractor, make_layers, torch),
                         lambda: build(e_ssd._vgg_extractor, e_make_layers, ember), scale=0.05)
    assert [n for n, p in ours.named_parameters() if p.requires_grad] == \
        [n for n, p in theirs.named_parameters() if p.requires_grad]
    x = torch.rand(1, 3, 300, 300, generator=torch.Generator().manual_seed(2),
                   dtype=torch.float64)
    with torch.no_grad():
        their_maps = theirs(x)
    with ember.no_grad():
        our_maps = ours(_e(x))
    assert list(our_maps) == list(their_maps) == [str(i) for i in range(6)]
    for k in their_maps:
        _close(our_maps[k], their_maps[k], rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("name", ["retinanet_resnet50_fpn", "retinanet_resnet50_fpn_v2",
                                  "fcos_resnet50_fpn", "ssdlite320_mobilenet_v3_large"])
def test_builders_state_dict_layout(tv, name):
    """The builders (random weights) have torchvision's keys, shapes and frozen parameters."""
    modules = {"retinanet": (tv.models.detection.retinanet, e_retinanet),
               "fcos": (tv.models.detection.fcos, e_fcos),
               "ssdlite320": (tv.models.detection.ssdlite, e_ssdlite)}
    theirs_module, ours_module = modules[name.split("_")[0]]
    theirs = getattr(theirs_module, name)(weights_backbone=None, num_classes=5)
    ours = getattr(ours_module, name)(weights_backbone=None, num_classes=5)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    assert [n for n, p in ours.named_parameters() if p.requires_grad] == \
        [n for n, p in theirs.named_parameters() if p.requires_grad]


class _EmberDetection:
    """ember's detection modules under torchvision's attribute names."""
    anchor_utils = e_anchors
    retinanet = e_retinanet
    fcos = e_fcos
    ssd = e_ssd
    ssdlite = e_ssdlite
