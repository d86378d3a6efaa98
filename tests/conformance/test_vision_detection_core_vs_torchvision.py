"""ember.vision's detection machinery (box coders, matchers, anchor generators, RPN, RoIHeads)
against real torchvision: same weights, same inputs, same seeds.

ember's RNG reproduces torch's stream for the same seed (randperm included), so the sampled
training losses are compared exactly, not only their shapes."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import ember
from ember.vision.models.detection import _utils as e_utils
from ember.vision.models.detection.anchor_utils import AnchorGenerator, DefaultBoxGenerator
from ember.vision.models.detection.image_list import ImageList
from ember.vision.models.detection.roi_heads import (
    RoIHeads,
    heatmaps_to_keypoints,
    paste_masks_in_image,
)
from ember.vision.models.detection.rpn import RegionProposalNetwork, RPNHead
from ember.vision.ops import MultiScaleRoIAlign
from tests.conformance.real_torchvision import real_torchvision

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def tv():
    return real_torchvision()


def _e(t):
    """A torch tensor (or a nest of them) as ember."""
    if isinstance(t, dict):
        return {k: _e(v) for k, v in t.items()}
    if isinstance(t, (list, tuple)):
        return type(t)(_e(v) for v in t)
    return ember.tensor(t.detach().numpy())


def _np(t):
    return np.asarray(t.detach().numpy() if hasattr(t, "detach") else t)


def _close(ours, theirs, rtol=1e-10, atol=1e-10):
    theirs = _np(theirs)
    if theirs.dtype == np.float32:  # float32 results (some even from float64 inputs)
        rtol, atol = max(rtol, 1e-5), max(atol, 1e-5)
    np.testing.assert_allclose(_np(ours), theirs, rtol=rtol, atol=atol)


def _copy_weights(ember_module, torch_module) -> None:
    state = {k: ember.tensor(v.detach().numpy()) for k, v in torch_module.state_dict().items()}
    assert list(state) == list(ember_module.state_dict())
    ember_module.load_state_dict(state, strict=True)


def _random_boxes(gen, n, size=64.0):
    """Boxes inside ``[0, size)``: torchvision's Python RoIAlign (the oracle's fallback on CPU)
    extrapolates samples beyond the feature map, which its C++ kernel and ember zero."""
    xy = torch.rand(n, 2, generator=gen, dtype=torch.float64) * size * 0.7
    wh = torch.rand(n, 2, generator=gen, dtype=torch.float64) * size * 0.25 + 2
    return torch.cat([xy, xy + wh], 1)


def test_box_coder_matches(tv):
    from torchvision.models.detection import _utils as t_utils
    gen = torch.Generator().manual_seed(0)
    ref, prop = _random_boxes(gen, 7), _random_boxes(gen, 7)
    for weights in [(1.0, 1.0, 1.0, 1.0), (10.0, 10.0, 5.0, 5.0)]:
        ours, theirs = e_utils.BoxCoder(weights), t_utils.BoxCoder(weights)
        for a, b in zip(ours.encode([_e(ref[:3]), _e(ref[3:])], [_e(prop[:3]), _e(prop[3:])]),
                        theirs.encode([ref[:3], ref[3:]], [prop[:3], prop[3:]])):
            _close(a, b)
        codes = torch.randn(7, 12, generator=gen, dtype=torch.float64) * 3
        _close(ours.decode(_e(codes), [_e(prop)]), theirs.decode(codes, [prop]))
    linear_ours, linear_theirs = e_utils.BoxLinearCoder(True), t_utils.BoxLinearCoder(True)
    _close(linear_ours.encode(_e(ref), _e(prop)), linear_theirs.encode(ref, prop))
    _close(linear_ours.decode(_e(codes[:, :4]), _e(prop)), linear_theirs.decode(codes[:, :4], prop))


def test_matchers_match(tv):
    from torchvision.models.detection import _utils as t_utils
    gen = torch.Generator().manual_seed(1)
    iou = tv.ops.box_iou(_random_boxes(gen, 5), _random_boxes(gen, 40))
    iou[2, 7] = iou[2].max()  # a tie for the low-quality rule
    for low_quality in (False, True):
        ours = e_utils.Matcher(0.5, 0.3, low_quality)(_e(iou))
        _close(ours, t_utils.Matcher(0.5, 0.3, low_quality)(iou), 0, 0)
    _close(e_utils.SSDMatcher(0.5)(_e(iou)), t_utils.SSDMatcher(0.5)(iou), 0, 0)


def test_sampler_matches_with_same_seed(tv):
    from torchvision.models.detection import _utils as t_utils
    labels = torch.randint(-1, 3, (200,), generator=torch.Generator().manual_seed(2))
    torch.manual_seed(5)
    theirs = t_utils.BalancedPositiveNegativeSampler(32, 0.25)([labels, labels[:50]])
    ember.manual_seed(5)
    ours = e_utils.BalancedPositiveNegativeSampler(32, 0.25)([_e(labels), _e(labels[:50])])
    for a, b in zip(ours[0] + ours[1], theirs[0] + theirs[1]):
        _close(a, b, 0, 0)


def test_anchor_generators_match(tv):
    from torchvision.models.detection import anchor_utils as t_anchor
    from torchvision.models.detection.image_list import ImageList as TImageList
    images = torch.zeros(2, 3, 64, 80)
    fmaps = [torch.zeros(2, 4, 16, 20), torch.zeros(2, 4, 8, 10), torch.zeros(2, 4, 3, 4)]
    sizes, ratios = ((16, 24), (32,), (64, 96)), ((0.5, 1.0, 2.0),) * 3
    t_list = TImageList(images, [(64, 80), (60, 70)])
    e_list = ImageList(_e(images), [(64, 80), (60, 70)])
    for dtype in (torch.float32, torch.float64):
        fm = [f.to(dtype) for f in fmaps]
        ours = AnchorGenerator(sizes, ratios)(e_list, _e(fm))
        theirs = t_anchor.AnchorGenerator(sizes, ratios)(t_list, fm)
        for a, b in zip(ours, theirs):
            assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
            _close(a, b, 0, 0)
        for kwargs in [{}, {"steps": [4, 8, 20], "clip": False}, {"scales": [0.1, 0.3, 0.6, 0.9]}]:
            ours = DefaultBoxGenerator([[2], [2, 3], [2]], **kwargs)(e_list, _e(fm))
            theirs = t_anchor.DefaultBoxGenerator([[2], [2, 3], [2]], **kwargs)(t_list, fm)
            for a, b in zip(ours, theirs):
                _close(a, b, 1e-6 if dtype == torch.float32 else 1e-12, 1e-5)


def _rpn_pair(tv, dtype, training):
    from torchvision.models.detection import rpn as t_rpn
    torch.manual_seed(0)
    sizes, ratios = ((16,), (32,)), ((0.5, 1.0, 2.0),) * 2
    kwargs = dict(fg_iou_thresh=0.7, bg_iou_thresh=0.3, batch_size_per_image=64,
                  positive_fraction=0.5, pre_nms_top_n={"training": 200, "testing": 100},
                  post_nms_top_n={"training": 50, "testing": 30}, nms_thresh=0.7)
    head = t_rpn.RPNHead(6, 3, conv_depth=2)
    for p in head.parameters():  # larger weights than the 0.01 init, so scores spread out
        torch.nn.init.normal_(p, std=0.3)
    theirs = t_rpn.RegionProposalNetwork(t_rpn.AnchorGenerator(sizes, ratios), head,
                                         **kwargs).to(dtype)
    ours = RegionProposalNetwork(AnchorGenerator(sizes, ratios), RPNHead(6, 3, conv_depth=2),
                                 **kwargs)
    _copy_weights(ours, theirs)
    ours.to(getattr(ember, str(dtype).split(".")[-1]))
    theirs.train(training)
    ours.train(training)
    return ours, theirs


def _rpn_inputs(dtype):
    gen = torch.Generator().manual_seed(3)
    features = OrderedDict([("0", torch.randn(2, 6, 16, 16, generator=gen, dtype=dtype)),
                            ("1", torch.randn(2, 6, 8, 8, generator=gen, dtype=dtype))])
    targets = [{"boxes": _random_boxes(gen, 3).to(dtype)},
               {"boxes": _random_boxes(gen, 2).to(dtype)}]
    return torch.zeros(2, 3, 64, 64, dtype=dtype), [(64, 64), (60, 50)], features, targets


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rpn_eval_matches(tv, dtype):
    from torchvision.models.detection.image_list import ImageList as TImageList
    dtype = getattr(torch, dtype)
    ours, theirs = _rpn_pair(tv, dtype, training=False)
    images, sizes, features, _ = _rpn_inputs(dtype)
    with torch.no_grad():
        t_boxes, t_losses = theirs(TImageList(images, sizes), features)
    e_boxes, e_losses = ours(ImageList(_e(images), sizes), _e(features))
    assert e_losses == {} and t_losses == {}
    tol = 1e-5 if dtype == torch.float32 else 1e-10
    for a, b in zip(e_boxes, t_boxes):
        assert a.shape == tuple(b.shape) and len(b) > 0
        _close(a, b, tol, tol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rpn_training_losses_and_grads_match(tv, dtype):
    from torchvision.models.detection.image_list import ImageList as TImageList
    dtype = getattr(torch, dtype)
    ours, theirs = _rpn_pair(tv, dtype, training=True)
    images, sizes, features, targets = _rpn_inputs(dtype)
    torch.manual_seed(11)
    t_boxes, t_losses = theirs(TImageList(images, sizes), features, targets)
    ember.manual_seed(11)
    e_boxes, e_losses = ours(ImageList(_e(images), sizes), _e(features), _e(targets))
    assert list(e_losses) == ["loss_objectness", "loss_rpn_box_reg"] == list(t_losses)
    tol = 1e-5 if dtype == torch.float32 else 1e-10
    for key in t_losses:
        _close(e_losses[key], t_losses[key], tol, tol)
    for a, b in zip(e_boxes, t_boxes):
        _close(a, b, tol, tol)
    sum(t_losses.values()).backward()
    sum(e_losses.values()).backward()
    t_grads = dict(theirs.named_parameters())
    for name, param in ours.named_parameters():
        _close(param.grad, t_grads[name].grad, tol, tol)




def _heads(nn, with_mask, with_keypoint):
    """The same tiny box, mask and keypoint heads written in ``nn`` (torch.nn or ember.nn)."""

    class BoxPredictor(nn.Module):
        def __init__(self):
            super().__init__()
            self.cls_score = nn.Linear(16, 4)
            self.bbox_pred = nn.Linear(16, 16)

        def forward(self, x):
            return self.cls_score(x), self.bbox_pred(x)

    parts = {"box_head": nn.Sequential(nn.Flatten(), nn.Linear(6 * 7 * 7, 16), nn.ReLU()),
             "box_predictor": BoxPredictor()}
    if with_mask:
        parts["mask_head"] = nn.Sequential(nn.Conv2d(6, 8, 3, padding=1), nn.ReLU())
        parts["mask_predictor"] = nn.Sequential(nn.ConvTranspose2d(8, 8, 2, 2), nn.ReLU(),
                                                nn.Conv2d(8, 4, 1))
    if with_keypoint:
        parts["keypoint_head"] = nn.Sequential(nn.Conv2d(6, 8, 3, padding=1), nn.ReLU())
        parts["keypoint_predictor"] = nn.ConvTranspose2d(8, 3, 4, stride=2, padding=1)
    return parts


def _roi_heads_pair(tv, dtype, with_mask, with_keypoint, training):
    from torchvision.models.detection.roi_heads import RoIHeads as TRoIHeads
    torch.manual_seed(0)
    kwargs = dict(fg_iou_thresh=0.5, bg_iou_thresh=0.5, batch_size_per_image=32,
                  positive_fraction=0.25, bbox_reg_weights=None, score_thresh=0.05,
                  nms_thresh=0.5, detections_per_img=20)
    pools = {}
    for lib, pool in (("torch", tv.ops.MultiScaleRoIAlign), ("ember", MultiScaleRoIAlign)):
        pools[lib] = {"box_roi_pool": pool(["0", "1"], 7, 2)}
        if with_mask:
            pools[lib]["mask_roi_pool"] = pool(["0", "1"], 7, 2)
        if with_keypoint:
            pools[lib]["keypoint_roi_pool"] = pool(["0", "1"], 7, 2)
    theirs = TRoIHeads(**_heads(torch.nn, with_mask, with_keypoint), **pools["torch"], **kwargs)
    ours = RoIHeads(**_heads(ember.nn, with_mask, with_keypoint), **pools["ember"], **kwargs)
    theirs.to(dtype)
    _copy_weights(ours, theirs)
    ours.to(getattr(ember, str(dtype).split(".")[-1]))
    theirs.train(training)
    ours.train(training)
    return ours, theirs


def _roi_inputs(dtype):
    gen = torch.Generator().manual_seed(4)
    features = OrderedDict([("0", torch.randn(2, 6, 16, 16, generator=gen, dtype=dtype)),
                            ("1", torch.randn(2, 6, 8, 8, generator=gen, dtype=dtype))])
    proposals = [_random_boxes(gen, 30).to(dtype), _random_boxes(gen, 25).to(dtype)]
    targets = []
    for n in (3, 2):
        boxes = _random_boxes(gen, n).to(dtype)
        keypoints = torch.cat([boxes[:, None, :2] + torch.rand(n, 3, 2, generator=gen) * 8,
                               torch.randint(0, 3, (n, 3, 1), generator=gen)], 2).float()
        targets.append({"boxes": boxes, "labels": torch.randint(1, 4, (n,), generator=gen),
                        "masks": (torch.rand(n, 64, 64, generator=gen) > 0.5).to(torch.uint8),
                        "keypoints": keypoints})
    # proposals near the ground truths, so that the heads see positives
    proposals = [torch.cat([p, t["boxes"] + 1.0]) for p, t in zip(proposals, targets)]
    return features, proposals, [(64, 64), (60, 56)], targets


@pytest.mark.parametrize("branch", ["box", "mask", "keypoint"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_roi_heads_eval_matches(tv, branch, dtype):
    dtype = getattr(torch, dtype)
    ours, theirs = _roi_heads_pair(tv, dtype, branch == "mask", branch == "keypoint", False)
    features, proposals, sizes, _ = _roi_inputs(dtype)
    with torch.no_grad():
        t_result, t_losses = theirs(features, proposals, sizes)
    e_result, e_losses = ours(_e(features), _e(proposals), sizes)
    assert e_losses == {} == t_losses
    tol = 1e-4 if dtype == torch.float32 else 1e-9
    for ours_image, theirs_image in zip(e_result, t_result):
        assert list(ours_image) == list(theirs_image)
        assert len(theirs_image["boxes"]) > 0
        for key, value in theirs_image.items():
            assert str(ours_image[key].dtype) == str(value.dtype)
            _close(ours_image[key], value, tol, tol)


@pytest.mark.parametrize("branch", ["box", "mask", "keypoint"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_roi_heads_training_losses_and_grads_match(tv, branch, dtype):
    dtype = getattr(torch, dtype)
    ours, theirs = _roi_heads_pair(tv, dtype, branch == "mask", branch == "keypoint", True)
    features, proposals, sizes, targets = _roi_inputs(dtype)
    torch.manual_seed(7)
    _, t_losses = theirs(features, proposals, sizes, targets)
    ember.manual_seed(7)
    _, e_losses = ours(_e(features), _e(proposals), sizes, _e(targets))
    assert list(e_losses) == list(t_losses)
    tol = 1e-5 if dtype == torch.float32 else 1e-10
    for key in t_losses:
        assert float(t_losses[key].detach()) > 0
        _close(e_losses[key], t_losses[key], tol, tol)
    sum(t_losses.values()).backward()
    sum(e_losses.values()).backward()
    t_grads = dict(theirs.named_parameters())
    for name, param in ours.named_parameters():
        _close(param.grad, t_grads[name].grad, tol, tol)


def test_mask_pasting_and_keypoint_decoding_match(tv):
    from torchvision.models.detection import roi_heads as t_roi
    gen = torch.Generator().manual_seed(6)
    masks = torch.rand(4, 1, 14, 14, generator=gen, dtype=torch.float64)
    boxes = torch.tensor([[3.2, 4.7, 30.1, 22.9], [-5.0, 10.0, 12.0, 70.0],
                          [40.0, 40.0, 41.0, 41.0], [0.0, 0.0, 63.0, 47.0]], dtype=torch.float64)
    _close(paste_masks_in_image(_e(masks), _e(boxes), (48, 64)),
           t_roi.paste_masks_in_image(masks, boxes, (48, 64)))
    maps = torch.randn(4, 5, 14, 14, generator=gen, dtype=torch.float64)
    for a, b in zip(heatmaps_to_keypoints(_e(maps), _e(boxes)),
                    t_roi.heatmaps_to_keypoints(maps, boxes)):
        assert str(a.dtype) == str(b.dtype)
        _close(a, b, 1e-6, 1e-6)
