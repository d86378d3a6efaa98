"""ember.vision's single-stage detectors (RetinaNet, FCOS, SSD, SSDlite): heads' layouts and
losses against NumPy re-computations of their formulas, FCOS's location matching against a
brute-force loop, the builders' parameter counts against torchvision's published ones, training
steps that lower the loss, and the eval outputs' contract. Tiny backbones, no torch."""
from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest

import ember
from ember import nn
from ember.vision.models.detection.anchor_utils import AnchorGenerator, DefaultBoxGenerator
from ember.vision.models.detection.fcos import (
    FCOS,
    FCOS_ResNet50_FPN_Weights,
    FCOSHead,
    fcos_resnet50_fpn,
)
from ember.vision.models.detection.retinanet import (
    RetinaNet,
    RetinaNet_ResNet50_FPN_V2_Weights,
    RetinaNet_ResNet50_FPN_Weights,
    RetinaNetClassificationHead,
    RetinaNetHead,
    retinanet_resnet50_fpn,
    retinanet_resnet50_fpn_v2,
)
from ember.vision.models.detection.ssd import SSD, SSDHead
from ember.vision.models.detection.ssdlite import (
    SSDLite320_MobileNet_V3_Large_Weights,
    SSDLiteHead,
    ssdlite320_mobilenet_v3_large,
)


class TinyBackbone(nn.Module):
    """Three feature maps (strides 4, 8, 16) with ``channels`` channels each."""

    def __init__(self, channels: int) -> None:
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


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _focal_np(x, t, alpha=0.25, gamma=2.0):
    p = _sigmoid(x)
    ce = np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))
    p_t = p * t + (1 - p) * (1 - t)
    return ((alpha * t + (1 - alpha) * (1 - t)) * ce * (1 - p_t) ** gamma).sum()


def _giou_loss_np(a, b, eps=1e-7):
    area = lambda r: (r[:, 2] - r[:, 0]) * (r[:, 3] - r[:, 1])  # noqa: E731
    lt, rb = np.maximum(a[:, :2], b[:, :2]), np.minimum(a[:, 2:], b[:, 2:])
    inter = np.clip(rb - lt, 0, None).prod(1)
    union = area(a) + area(b) - inter
    hull = (np.maximum(a[:, 2:], b[:, 2:]) - np.minimum(a[:, :2], b[:, :2])).prod(1)
    iou = inter / (union + eps)
    return (1 - (iou - (hull - union) / (hull + eps))).sum()


def _rows_np(x, k):
    """(N, A*K, H, W) -> (N, H*W*A, K): anchor a at location (h, w) is row (h*W + w)*A + a."""
    n, _, h, w = x.shape
    return x.reshape(n, -1, k, h, w).transpose(0, 3, 4, 1, 2).reshape(n, -1, k)


def _np(t):
    return t.detach().numpy()


def test_retinanet_head_rows_follow_anchor_order():
    ember.manual_seed(0)
    head = RetinaNetHead(8, 3, 5)
    features = [ember.randn(2, 8, 4, 5), ember.randn(2, 8, 2, 3)]
    out = head(features)
    cls = head.classification_head
    reg = head.regression_head
    expected_cls = np.concatenate([_rows_np(_np(cls.cls_logits(cls.conv(f))), 5)
                                   for f in features], 1)
    expected_reg = np.concatenate([_rows_np(_np(reg.bbox_reg(reg.conv(f))), 4)
                                   for f in features], 1)
    assert list(out) == ["cls_logits", "bbox_regression"]
    np.testing.assert_allclose(_np(out["cls_logits"]), expected_cls, rtol=1e-6)
    np.testing.assert_allclose(_np(out["bbox_regression"]), expected_reg, rtol=1e-6)
    # the classification bias starts at the logit of the prior probability 0.01
    np.testing.assert_allclose(_np(cls.cls_logits.bias), math.log(0.01 / 0.99), rtol=1e-6)


def test_retinanet_losses_match_numpy():
    rng = np.random.default_rng(0)
    head = RetinaNetHead(4, 1, 3)
    logits = rng.normal(size=(2, 6, 3))
    deltas = rng.normal(size=(2, 6, 4))
    anchors = [np.array([[0, 0, 10, 10], [5, 5, 20, 15], [2, 3, 8, 9], [10, 0, 30, 12],
                         [0, 10, 12, 30], [4, 4, 16, 16]], dtype=np.float64)] * 2
    targets = [{"boxes": np.array([[1.0, 1.0, 9.0, 11.0], [6.0, 4.0, 22.0, 16.0]]),
                "labels": np.array([2, 1])},
               {"boxes": np.array([[3.0, 2.0, 15.0, 18.0]]), "labels": np.array([0])}]
    matched = [np.array([0, 1, -1, -2, -1, 0]), np.array([-2, -1, 0, -1, -1, -1])]

    losses = head.compute_loss(
        [{k: ember.tensor(v) for k, v in t.items()} for t in targets],
        {"cls_logits": ember.tensor(logits), "bbox_regression": ember.tensor(deltas)},
        [ember.tensor(a) for a in anchors], [ember.tensor(m) for m in matched])

    cls_expected, reg_expected = 0.0, 0.0
    for x, d, a, t, m in zip(logits, deltas, anchors, targets, matched):
        fg = m >= 0
        one_hot = np.zeros_like(x)
        one_hot[np.where(fg)[0], t["labels"][m[fg]]] = 1
        valid = m != -2
        cls_expected += _focal_np(x[valid], one_hot[valid]) / max(1, fg.sum())
        gt, an = t["boxes"][m[fg]], a[fg]
        aw, ah = an[:, 2] - an[:, 0], an[:, 3] - an[:, 1]
        gw, gh = gt[:, 2] - gt[:, 0], gt[:, 3] - gt[:, 1]
        codes = np.stack([(gt[:, 0] + gw / 2 - an[:, 0] - aw / 2) / aw,
                          (gt[:, 1] + gh / 2 - an[:, 1] - ah / 2) / ah,
                          np.log(gw / aw), np.log(gh / ah)], 1)
        reg_expected += np.abs(d[fg] - codes).sum() / max(1, fg.sum())
    assert list(losses) == ["classification", "bbox_regression"]
    np.testing.assert_allclose(losses["classification"].item(), cls_expected / 2, rtol=1e-10)
    np.testing.assert_allclose(losses["bbox_regression"].item(), reg_expected / 2, rtol=1e-10)


def test_retinanet_head_loads_version_1_checkpoints():
    """Version-1 state dicts named the tower's convs ``conv.0, conv.2, ...``."""
    head = RetinaNetClassificationHead(4, 1, 2)
    old = OrderedDict()
    for i in range(4):
        old[f"conv.{2 * i}.weight"] = ember.full((4, 4, 3, 3), float(i))
        old[f"conv.{2 * i}.bias"] = ember.full((4,), float(i))
    old["cls_logits.weight"] = ember.zeros(2, 4, 3, 3)
    old["cls_logits.bias"] = ember.zeros(2)
    old._metadata = OrderedDict({"": {"version": 1}})
    head.load_state_dict(old, strict=True)
    assert head.conv[3][0].weight.detach().numpy().max() == 3.0
    assert head.state_dict()._metadata[""]["version"] == 2


def test_fcos_head_losses_match_numpy():
    rng = np.random.default_rng(1)
    head = FCOSHead(32, 1, 3)
    anchors = np.array([[0, 0, 8, 8], [8, 0, 16, 8], [0, 8, 8, 16], [8, 8, 16, 16]],
                       dtype=np.float64)
    logits = rng.normal(size=(1, 4, 3))
    distances = np.abs(rng.normal(size=(1, 4, 4))) + 0.5
    ctrness = rng.normal(size=(1, 4, 1))
    gt = np.array([[1.0, 2.0, 13.0, 11.0], [6.0, 5.0, 15.0, 15.0]])
    labels = np.array([1, 2])
    matched = np.array([0, 0, -1, 1])

    losses = head.compute_loss(
        [{"boxes": ember.tensor(gt), "labels": ember.tensor(labels)}],
        {"cls_logits": ember.tensor(logits), "bbox_regression": ember.tensor(distances),
         "bbox_ctrness": ember.tensor(ctrness)},
        [ember.tensor(anchors)], [ember.tensor(matched)])

    fg = matched >= 0
    one_hot = np.zeros((4, 3))
    one_hot[np.where(fg)[0], labels[matched[fg]]] = 1
    centers = (anchors[:, :2] + anchors[:, 2:]) / 2
    sizes = np.tile(anchors[:, 2:] - anchors[:, :2], 2)
    d = distances[0] * sizes
    pred = np.concatenate([centers - d[:, :2], centers + d[:, 2:]], 1)
    boxes = gt[matched[fg]]
    ltrb = np.concatenate([centers[fg] - boxes[:, :2], boxes[:, 2:] - centers[fg]], 1) / sizes[fg]
    lr, tb = ltrb[:, [0, 2]], ltrb[:, [1, 3]]
    center_target = np.sqrt(lr.min(1) / lr.max(1) * (tb.min(1) / tb.max(1)))
    x = ctrness[0, fg, 0]
    bce = (np.maximum(x, 0) - x * center_target + np.log1p(np.exp(-np.abs(x)))).sum()
    n = fg.sum()
    assert list(losses) == ["classification", "bbox_regression", "bbox_ctrness"]
    np.testing.assert_allclose(losses["classification"].item(), _focal_np(logits[0], one_hot) / n,
                               rtol=1e-10)
    np.testing.assert_allclose(losses["bbox_regression"].item(),
                               _giou_loss_np(pred[fg], boxes) / n, rtol=1e-10)
    np.testing.assert_allclose(losses["bbox_ctrness"].item(), bce / n, rtol=1e-10)


def _fcos_match_loop(anchors, boxes, per_level, radius):
    """FCOS's assignment, one location and one box at a time."""
    result = []
    for i, a in enumerate(anchors):
        cx, cy, size = (a[0] + a[2]) / 2, (a[1] + a[3]) / 2, a[2] - a[0]
        low = 0 if i < per_level[0] else 4 * size
        high = math.inf if i >= len(anchors) - per_level[-1] else 8 * size
        best, best_area = -1, math.inf
        for j, b in enumerate(boxes):
            sides = [cx - b[0], cy - b[1], b[2] - cx, b[3] - cy]
            near = max(abs(cx - (b[0] + b[2]) / 2), abs(cy - (b[1] + b[3]) / 2)) < radius * size
            area = (b[2] - b[0]) * (b[3] - b[1])
            if near and min(sides) > 0 and low < max(sides) < high and area < best_area:
                best, best_area = j, area
        result.append(best)
    return result


def test_fcos_matching_matches_a_loop():
    model = FCOS(TinyBackbone(32), 3, min_size=64, max_size=64,
                 anchor_generator=AnchorGenerator(((4,), (8,), (16,)), ((1.0,),) * 3))
    anchors, per_level = [], [16 * 16, 8 * 8, 4 * 4]
    for stride, n in zip([4, 8, 16], [16, 8, 4]):
        ys, xs = np.meshgrid(np.arange(n) * stride, np.arange(n) * stride, indexing="ij")
        centers = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float64)
        anchors.append(np.concatenate([centers - stride / 2, centers + stride / 2], 1))
    anchors = np.concatenate(anchors)
    boxes = np.array([[2.0, 3.0, 30.0, 40.0], [20.0, 18.0, 62.0, 60.0], [8.0, 8.0, 14.0, 15.0],
                      [0.0, 0.0, 63.0, 63.0]])
    matched = model._match(ember.tensor(anchors), ember.tensor(boxes), per_level)
    expected = _fcos_match_loop(anchors, boxes, per_level, model.center_sampling_radius)
    assert matched.tolist() == expected
    assert len(set(expected)) == 5  # every box and the background are assigned somewhere


def test_ssd_loss_matches_numpy_with_hard_negative_mining():
    rng = np.random.default_rng(2)
    backbone = TinyBackbone(8)
    backbone.out_channels = [8, 8, 8]
    model = SSD(backbone, DefaultBoxGenerator([[2]] * 3), (64, 64), 4)
    anchors = [np.concatenate([xy, xy + rng.uniform(4, 20, size=(12, 2))], 1)
               for xy in rng.uniform(0, 40, size=(2, 12, 2))]
    logits = rng.normal(size=(2, 12, 4)) * 2
    deltas = rng.normal(size=(2, 12, 4))
    targets = [{"boxes": np.array([[1.0, 2.0, 20.0, 25.0], [10.0, 12.0, 40.0, 30.0]]),
                "labels": np.array([3, 1])},
               {"boxes": np.array([[5.0, 5.0, 35.0, 45.0]]), "labels": np.array([2])}]
    matched = [np.array([0, -1, 1, -1, -1, 0, -1, -1, -1, -1, -1, -1]),
               np.array([-1, -1, -1, 0, -1, -1, -1, -1, -1, -1, -1, -1])]

    losses = model.compute_loss(
        [{k: ember.tensor(v) for k, v in t.items()} for t in targets],
        {"bbox_regression": ember.tensor(deltas), "cls_logits": ember.tensor(logits)},
        [ember.tensor(a) for a in anchors], [ember.tensor(m) for m in matched])

    box_sum, cls_sum, positives = 0.0, 0.0, 0
    for x, d, a, t, m in zip(logits, deltas, anchors, targets, matched):
        fg = m >= 0
        gt, an = t["boxes"][m[fg]], a[fg]
        aw, ah = an[:, 2] - an[:, 0], an[:, 3] - an[:, 1]
        gw, gh = gt[:, 2] - gt[:, 0], gt[:, 3] - gt[:, 1]
        codes = np.stack([10 * (gt[:, 0] + gw / 2 - an[:, 0] - aw / 2) / aw,
                          10 * (gt[:, 1] + gh / 2 - an[:, 1] - ah / 2) / ah,
                          5 * np.log(gw / aw), 5 * np.log(gh / ah)], 1)
        diff = np.abs(d[fg] - codes)
        box_sum += np.where(diff < 1, 0.5 * diff ** 2, diff - 0.5).sum()
        classes = np.zeros(12, dtype=np.int64)
        classes[fg] = t["labels"][m[fg]]
        ce = np.log(np.exp(x).sum(1)) - x[np.arange(12), classes]
        hardest_negatives = np.sort(ce[~fg])[::-1][:3 * fg.sum()]
        cls_sum += ce[fg].sum() + hardest_negatives.sum()
        positives += fg.sum()
    assert list(losses) == ["bbox_regression", "classification"]
    np.testing.assert_allclose(losses["bbox_regression"].item(), box_sum / positives, rtol=1e-10)
    np.testing.assert_allclose(losses["classification"].item(), cls_sum / positives, rtol=1e-10)


def test_ssd_heads_shapes():
    features = [ember.randn(1, 16, 4, 4), ember.randn(1, 8, 2, 2)]
    for head in (SSDHead([16, 8], [4, 6], 3), SSDLiteHead([16, 8], [4, 6], 3, nn.BatchNorm2d)):
        out = head(features)
        assert list(out) == ["bbox_regression", "cls_logits"]
        assert out["bbox_regression"].shape == (1, 16 * 4 + 4 * 6, 4)
        assert out["cls_logits"].shape == (1, 16 * 4 + 4 * 6, 3)


def _synthetic_batch():
    ember.manual_seed(3)
    image = ember.rand(3, 64, 64) * 0.1
    image[:, 10:40, 8:36] += 0.8
    target = {"boxes": ember.tensor([[8.0, 10.0, 36.0, 40.0]]), "labels": ember.tensor([1])}
    return [image], [target]


def _tiny_models():
    ember.manual_seed(0)
    retinanet = RetinaNet(TinyBackbone(8), 2, min_size=64, max_size=64,
                          anchor_generator=AnchorGenerator(((8,), (16,), (32,)),
                                                           ((0.5, 1.0, 2.0),) * 3))
    fcos = FCOS(TinyBackbone(32), 2, min_size=64, max_size=64, center_sampling_radius=3.0,
                anchor_generator=AnchorGenerator(((4,), (8,), (16,)), ((1.0,),) * 3))
    ssd_backbone = TinyBackbone(8)
    ssd_backbone.out_channels = [8, 8, 8]
    ssd = SSD(ssd_backbone, DefaultBoxGenerator([[2], [2, 3], [2]], steps=[4, 8, 16]), (64, 64),
              2)
    return {"retinanet": retinanet, "fcos": fcos, "ssd": ssd}


@pytest.mark.parametrize("name", ["retinanet", "fcos", "ssd"])
def test_sgd_steps_lower_the_loss(name):
    model = _tiny_models()[name]
    images, targets = _synthetic_batch()
    optimizer = ember.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    totals = []
    for _ in range(6):
        losses = model(images, targets)
        total = sum(losses.values())
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        totals.append(total.item())
    assert all(math.isfinite(t) for t in totals)
    assert totals[-1] < totals[0]


@pytest.mark.parametrize("name", ["retinanet", "fcos", "ssd"])
def test_eval_outputs(name):
    model = _tiny_models()[name].eval()
    model.score_thresh = 0.0
    model.detections_per_img = 7
    images = [ember.rand(3, 50, 70), ember.rand(3, 64, 40)]
    with ember.no_grad():
        detections = model(images)
    assert len(detections) == 2
    for image, d in zip(images, detections):
        assert list(d) == ["boxes", "scores", "labels"]
        n = len(d["scores"])
        assert 0 < n <= 7
        assert d["boxes"].shape == (n, 4) and d["labels"].shape == (n,)
        assert d["labels"].dtype == ember.int64
        boxes = d["boxes"].numpy()
        height, width = image.shape[-2:]
        # clipped to the resized image, then scaled back (in float32)
        assert (boxes >= 0).all() and (boxes[:, [0, 2]] <= width + 1e-4).all()
        assert (boxes[:, [1, 3]] <= height + 1e-4).all()
        scores = d["scores"].numpy()
        assert (np.diff(scores) <= 0).all()  # best first
        assert set(d["labels"].tolist()) <= ({0, 1} if name != "ssd" else {1})


def test_training_requires_targets_and_valid_boxes():
    model = _tiny_models()["retinanet"].train()
    with pytest.raises(AssertionError, match="targets should not be none"):
        model([ember.rand(3, 64, 64)])
    bad = [{"boxes": ember.tensor([[10.0, 10.0, 5.0, 20.0]]), "labels": ember.tensor([1])}]
    with pytest.raises(AssertionError, match="positive height and width"):
        model([ember.rand(3, 64, 64)], bad)


@pytest.mark.parametrize("builder, weights, frozen_norms", [
    (retinanet_resnet50_fpn, RetinaNet_ResNet50_FPN_Weights.COCO_V1, True),
    (retinanet_resnet50_fpn_v2, RetinaNet_ResNet50_FPN_V2_Weights.COCO_V1, False),
    (fcos_resnet50_fpn, FCOS_ResNet50_FPN_Weights.COCO_V1, True),
    (ssdlite320_mobilenet_v3_large, SSDLite320_MobileNet_V3_Large_Weights.COCO_V1, False),
])
def test_builders_match_published_parameter_counts(builder, weights, frozen_norms):
    """The COCO architectures, built without downloading, have their checkpoints' parameter
    counts. SSDlite's checkpoint has the reduced tail of a backbone without ImageNet weights;
    where the pretrained model freezes the backbone's BatchNorms (buffers, not parameters),
    the trainable BatchNorms built here are left out of the count."""
    model = builder(weights_backbone=None)
    frozen = {id(p) for m in model.backbone.modules() if isinstance(m, nn.BatchNorm2d)
              for p in m.parameters()} if frozen_norms else set()
    count = sum(p.numel() for p in model.parameters() if id(p) not in frozen)
    assert count == weights.meta["num_params"]
    assert len(weights.meta["categories"]) == 91


def test_ssdlite_builder_passes_detector_arguments_through_the_backbone():
    """Like torchvision's, the builder hands its kwargs to both mobilenet_v3_large (which
    ignores those it does not know) and SSD."""
    model = ssdlite320_mobilenet_v3_large(weights_backbone=None, num_classes=3,
                                          score_thresh=0.5, detections_per_img=10)
    assert (model.score_thresh, model.detections_per_img, model.nms_thresh) == (0.5, 10, 0.55)
    assert model.head.classification_head.num_columns == 3
