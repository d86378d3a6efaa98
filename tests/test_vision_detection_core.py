"""torchvision's detection machinery in ember (box coders, matchers, sampler, anchors, RPN,
RoIHeads) against NumPy oracles and closed forms; tiny sizes, no torch."""
from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest

import ember
from ember import nn
from ember.autograd import gradcheck
from ember.vision.models.detection import _utils as det_utils
from ember.vision.models.detection.anchor_utils import AnchorGenerator, DefaultBoxGenerator
from ember.vision.models.detection.image_list import ImageList
from ember.vision.models.detection.roi_heads import (
    RoIHeads,
    expand_boxes,
    expand_masks,
    fastrcnn_loss,
    heatmaps_to_keypoints,
    keypointrcnn_loss,
    keypoints_to_heatmap,
    maskrcnn_inference,
    maskrcnn_loss,
    paste_masks_in_image,
)
from ember.vision.models.detection.rpn import (
    RegionProposalNetwork,
    RPNHead,
    concat_box_prediction_layers,
)
from ember.vision.ops import FrozenBatchNorm2d, MultiScaleRoIAlign


def _boxes(rng, n, size=64.0):
    xy = rng.uniform(0, size * 0.7, (n, 2))
    return np.concatenate([xy, xy + rng.uniform(2, size * 0.25, (n, 2))], 1)


def _t(a, dtype=ember.float64):
    return ember.tensor(np.asarray(a), dtype=dtype)


def _f(t) -> float:
    return float(t.detach())


# ---- box coders -------------------------------------------------------------------------------

def test_box_coder_encode_is_the_rcnn_closed_form_and_decode_inverts_it():
    rng = np.random.default_rng(0)
    ref, prop = _boxes(rng, 6), _boxes(rng, 6)
    weights = (10.0, 10.0, 5.0, 5.0)
    coder = det_utils.BoxCoder(weights)
    pw, ph = prop[:, 2] - prop[:, 0], prop[:, 3] - prop[:, 1]
    rw, rh = ref[:, 2] - ref[:, 0], ref[:, 3] - ref[:, 1]
    want = np.stack([10 * ((ref[:, 0] + rw / 2) - (prop[:, 0] + pw / 2)) / pw,
                     10 * ((ref[:, 1] + rh / 2) - (prop[:, 1] + ph / 2)) / ph,
                     5 * np.log(rw / pw), 5 * np.log(rh / ph)], 1)
    codes = coder.encode_single(_t(ref), _t(prop))
    np.testing.assert_allclose(codes.numpy(), want, rtol=1e-12)
    per_image = coder.encode([_t(ref[:2]), _t(ref[2:])], [_t(prop[:2]), _t(prop[2:])])
    np.testing.assert_allclose(ember.cat(per_image).numpy(), want, rtol=1e-12)
    np.testing.assert_allclose(coder.decode_single(codes, _t(prop)).numpy(), ref, rtol=1e-12)
    decoded = coder.decode(codes.repeat(1, 3), [_t(prop[:4]), _t(prop[4:])])
    assert decoded.shape == (6, 3, 4)
    np.testing.assert_allclose(decoded[:, 2].numpy(), ref, rtol=1e-12)


def test_box_coder_clamps_log_sizes_before_exp():
    coder = det_utils.BoxCoder((1.0, 1.0, 1.0, 1.0), bbox_xform_clip=math.log(4.0))
    box = _t([[0.0, 0.0, 2.0, 2.0]])
    decoded = coder.decode_single(_t([[0.0, 0.0, 50.0, -math.log(2.0)]]), box)
    np.testing.assert_allclose(decoded.numpy(), [[-3.0, 0.5, 5.0, 1.5]])


def test_box_linear_coder_distances_and_round_trip():
    rng = np.random.default_rng(1)
    ref, prop = _boxes(rng, 5), _boxes(rng, 5)
    cx, cy = (ref[:, 0] + ref[:, 2]) / 2, (ref[:, 1] + ref[:, 3]) / 2
    dist = np.stack([cx - prop[:, 0], cy - prop[:, 1], prop[:, 2] - cx, prop[:, 3] - cy], 1)
    for normalize in (False, True):
        coder = det_utils.BoxLinearCoder(normalize)
        codes = coder.encode(_t(ref), _t(prop))
        scale = np.stack([ref[:, 2] - ref[:, 0], ref[:, 3] - ref[:, 1]] * 2, 1)
        np.testing.assert_allclose(codes.numpy(), dist / scale if normalize else dist, rtol=1e-12)
        np.testing.assert_allclose(coder.decode(codes, _t(ref)).numpy(), prop, rtol=1e-12)


# ---- matchers and sampler ---------------------------------------------------------------------

def test_matcher_thresholds_and_low_quality_matches_with_ties():
    quality = _t([[0.1, 0.5, 0.8, 0.2, 0.2],
                  [0.25, 0.25, 0.1, 0.0, 0.6]])
    plain = det_utils.Matcher(0.7, 0.3)(quality)
    np.testing.assert_array_equal(plain.numpy(), [-1, -2, 0, -1, -2])
    # ground truth 0's best is prediction 2 (already matched); ground truth 1's best (0.6) is
    # prediction 4, restored; ties (ground truth 0 below) restore every tied prediction
    low = det_utils.Matcher(0.7, 0.3, allow_low_quality_matches=True)(quality)
    np.testing.assert_array_equal(low.numpy(), [-1, -2, 0, -1, 1])
    tied = _t([[0.2, 0.2, 0.1], [0.05, 0.0, 0.15]])
    np.testing.assert_array_equal(det_utils.Matcher(0.7, 0.3, True)(tied).numpy(), [0, 0, 1])


def test_ssd_matcher_gives_every_ground_truth_its_best_prediction():
    quality = _t([[0.6, 0.3, 0.1], [0.7, 0.2, 0.4]])
    np.testing.assert_array_equal(det_utils.SSDMatcher(0.5)(quality).numpy(), [1, -1, -1])
    quality = _t([[0.6, 0.3, 0.1], [0.1, 0.2, 0.4]])
    np.testing.assert_array_equal(det_utils.SSDMatcher(0.5)(quality).numpy(), [0, -1, 1])


def test_matcher_rejects_empty_inputs_and_bad_thresholds():
    with pytest.raises(ValueError, match="No ground-truth"):
        det_utils.Matcher(0.5, 0.4)(ember.zeros(0, 3))
    with pytest.raises(ValueError, match="No proposal"):
        det_utils.Matcher(0.5, 0.4)(ember.zeros(2, 0))
    with pytest.raises(ValueError):
        det_utils.Matcher(0.3, 0.5)


@pytest.mark.parametrize("num_pos,num_neg", [(40, 200), (3, 200), (40, 10), (0, 5)])
def test_sampler_counts_and_picks_only_labelled_examples(num_pos, num_neg):
    labels = np.array([1] * num_pos + [0] * num_neg + [-1] * 7)
    np.random.default_rng(2).shuffle(labels)
    pos, neg = det_utils.BalancedPositiveNegativeSampler(64, 0.25)([_t(labels, ember.int64)])
    pos, neg = pos[0].numpy(), neg[0].numpy()
    assert pos.dtype == np.uint8 and neg.dtype == np.uint8
    want_pos = min(num_pos, 16)
    assert pos.sum() == want_pos and neg.sum() == min(num_neg, 64 - want_pos)
    assert (labels[pos == 1] >= 1).all() and (labels[neg == 1] == 0).all()


# ---- anchors ----------------------------------------------------------------------------------

def _anchors_oracle(sizes, ratios, grid, stride):
    base = []
    for r in ratios:
        for s in sizes:
            w, h = s / math.sqrt(r), s * math.sqrt(r)
            base.append(np.round([-w / 2, -h / 2, w / 2, h / 2]))
    ys, xs = np.meshgrid(np.arange(grid[0]) * stride[0], np.arange(grid[1]) * stride[1],
                         indexing="ij")
    shifts = np.stack([xs.ravel(), ys.ravel()] * 2, 1)
    return (shifts[:, None, :] + np.array(base)[None]).reshape(-1, 4)


def test_anchor_generator_matches_the_formula():
    gen = AnchorGenerator(((16, 32), (64,)), ((0.5, 1.0, 2.0), (1.0, 2.0)))
    assert gen.num_anchors_per_location() == [6, 2]
    images = ImageList(ember.zeros(2, 3, 48, 64), [(48, 64), (40, 50)])
    anchors = gen(images, [ember.zeros(2, 4, 12, 16), ember.zeros(2, 4, 3, 4)])
    want = np.concatenate([_anchors_oracle((16, 32), (0.5, 1.0, 2.0), (12, 16), (4, 4)),
                           _anchors_oracle((64,), (1.0, 2.0), (3, 4), (16, 16))])
    assert len(anchors) == 2 and anchors[0].dtype == ember.float32
    for per_image in anchors:
        np.testing.assert_array_equal(per_image.numpy(), want)
    flat = AnchorGenerator((32, 64), (1.0,))
    assert flat.sizes == ((32,), (64,)) and flat.aspect_ratios == ((1.0,), (1.0,))


def test_default_box_generator_matches_the_ssd_formula():
    gen = DefaultBoxGenerator([[2], [2, 3]], min_ratio=0.2, max_ratio=0.8)
    np.testing.assert_allclose(gen.scales, [0.2, 0.8, 1.0])
    assert gen.num_anchors_per_location() == [4, 6]
    images = ImageList(ember.zeros(1, 3, 40, 60), [(40, 60)])
    boxes = gen(images, [ember.zeros(1, 2, 4, 6, dtype=ember.float64),
                         ember.zeros(1, 2, 2, 3, dtype=ember.float64)])[0].numpy()
    want = []
    for k, (grid, ratios) in enumerate([((4, 6), [2]), ((2, 3), [2, 3])]):
        s, s_next = gen.scales[k], gen.scales[k + 1]
        wh = [(s, s), (math.sqrt(s * s_next),) * 2]
        for ar in ratios:
            wh += [(s * math.sqrt(ar), s / math.sqrt(ar)), (s / math.sqrt(ar), s * math.sqrt(ar))]
        for i in range(grid[0]):
            for j in range(grid[1]):
                cx, cy = (j + 0.5) / grid[1], (i + 0.5) / grid[0]
                for w, h in wh:
                    w, h = min(w, 1.0), min(h, 1.0)
                    want.append([(cx - w / 2) * 60, (cy - h / 2) * 40,
                                 (cx + w / 2) * 60, (cy + h / 2) * 40])
    np.testing.assert_allclose(boxes, want, rtol=1e-6, atol=1e-5)


# ---- RPN --------------------------------------------------------------------------------------

def test_concat_box_prediction_layers_orders_rows_like_the_anchors():
    cls = ember.arange(2 * 3 * 2 * 2, dtype=ember.float64).reshape(2, 3, 2, 2)
    reg = ember.arange(2 * 12 * 2 * 2, dtype=ember.float64).reshape(2, 12, 2, 2)
    flat_cls, flat_reg = concat_box_prediction_layers([cls], [reg])
    assert flat_cls.shape == (24, 1) and flat_reg.shape == (24, 4)
    # row = (image, y, x, anchor)
    want = cls.numpy().transpose(0, 2, 3, 1).reshape(-1, 1)
    np.testing.assert_array_equal(flat_cls.numpy(), want)
    want_reg = reg.numpy().reshape(2, 3, 4, 2, 2).transpose(0, 3, 4, 1, 2).reshape(-1, 4)
    np.testing.assert_array_equal(flat_reg.numpy(), want_reg)


def test_rpn_head_state_dict_keys_and_old_checkpoints():
    head = RPNHead(4, 3)
    assert list(head.state_dict()) == ["conv.0.0.weight", "conv.0.0.bias", "cls_logits.weight",
                                       "cls_logits.bias", "bbox_pred.weight", "bbox_pred.bias"]
    old = {k.replace("conv.0.0.", "conv."): v + 1 for k, v in head.state_dict().items()}
    fresh = RPNHead(4, 3)
    fresh.load_state_dict(OrderedDict(old), strict=True)
    np.testing.assert_array_equal(fresh.conv[0][0].weight.detach().numpy(),
                                  head.conv[0][0].weight.detach().numpy() + 1)


def _rpn(training):
    ember.manual_seed(0)
    head = RPNHead(4, 3)
    for p in head.parameters():
        nn.init.normal_(p, std=0.3)
    rpn = RegionProposalNetwork(
        AnchorGenerator(((16,), (32,)), ((0.5, 1.0, 2.0),) * 2), head, 0.7, 0.3, 64, 0.5,
        {"training": 100, "testing": 50}, {"training": 40, "testing": 20}, 0.7)
    return rpn.double().train(training)


def _rpn_inputs(rng):
    features = OrderedDict([("0", _t(rng.standard_normal((2, 4, 8, 8)))),
                            ("1", _t(rng.standard_normal((2, 4, 4, 4))))])
    targets = [{"boxes": _t(_boxes(rng, 2, 32.0))}, {"boxes": _t(_boxes(rng, 3, 32.0))}]
    return ImageList(ember.zeros(2, 3, 32, 32), [(32, 32), (30, 28)]), features, targets


def test_rpn_eval_proposals_are_clipped_and_bounded():
    rpn = _rpn(training=False)
    images, features, _ = _rpn_inputs(np.random.default_rng(3))
    boxes, losses = rpn(images, features)
    assert losses == {}
    for per_image, (h, w) in zip(boxes, images.image_sizes):
        b = per_image.numpy()
        assert 0 < len(b) <= 20
        assert (b[:, 0] >= 0).all() and (b[:, 2] <= w).all() and (b[:, 3] <= h).all()


def test_rpn_training_losses_train_the_head():
    rpn = _rpn(training=True)
    images, features, targets = _rpn_inputs(np.random.default_rng(4))
    optimizer = ember.optim.SGD(rpn.parameters(), lr=0.05)
    totals = []
    for step in range(4):
        ember.manual_seed(step)
        _, losses = rpn(images, features, targets)
        assert list(losses) == ["loss_objectness", "loss_rpn_box_reg"]
        total = sum(losses.values())
        assert np.isfinite(_f(total))
        optimizer.zero_grad()
        total.backward()
        assert all(p.grad is not None for p in rpn.parameters())
        optimizer.step()
        totals.append(_f(total))
    assert totals[-1] < totals[0]


def test_rpn_compute_loss_gradcheck():
    rpn = _rpn(training=True)
    rng = np.random.default_rng(5)
    labels = [_t(rng.choice([-1.0, 0.0, 1.0], 12)), _t(rng.choice([-1.0, 0.0, 1.0], 12))]
    targets = [_t(rng.standard_normal((12, 4))), _t(rng.standard_normal((12, 4)))]

    def loss(objectness, deltas):
        ember.manual_seed(0)  # the same sample on every evaluation
        return sum(rpn.compute_loss(objectness, deltas, labels, targets))

    objectness = _t(rng.standard_normal((24, 1))).requires_grad_()
    deltas = _t(rng.standard_normal((24, 4)) * 0.05).requires_grad_()
    assert gradcheck(loss, (objectness, deltas))


# ---- RoIHeads losses and post-processing ------------------------------------------------------

def test_fastrcnn_loss_closed_form_and_gradcheck():
    rng = np.random.default_rng(6)
    logits = _t(rng.standard_normal((5, 3))).requires_grad_()
    regression = _t(rng.standard_normal((5, 12)) * 0.05).requires_grad_()
    labels = [_t([0, 2, 1], ember.int64), _t([1, 0], ember.int64)]
    targets = [_t(rng.standard_normal((3, 4)) * 0.05), _t(rng.standard_normal((2, 4)) * 0.05)]
    cls_loss, box_loss = fastrcnn_loss(logits, regression, labels, targets)
    lab = np.array([0, 2, 1, 1, 0])
    z = logits.detach().numpy()
    want_cls = np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(5), lab])
    diff = np.abs(regression.detach().numpy().reshape(5, 3, 4)[np.arange(5), lab]
                  - np.concatenate([t.numpy() for t in targets]))[lab > 0]
    smooth = np.where(diff < 1 / 9, 0.5 * diff ** 2 * 9, diff - 0.5 / 9)
    np.testing.assert_allclose(_f(cls_loss), want_cls, rtol=1e-12)
    np.testing.assert_allclose(_f(box_loss), smooth.sum() / 5, rtol=1e-12)
    assert gradcheck(lambda a, b: sum(fastrcnn_loss(a, b, labels, targets)), (logits, regression))


def test_mask_loss_targets_and_gradcheck():
    # a full ground-truth mask projects to all ones on any box inside it
    masks = [ember.ones(2, 16, 16, dtype=ember.uint8)]
    proposals = [_t([[2.0, 2.0, 10.0, 10.0], [4.0, 1.0, 12.0, 9.0]])]
    logits = _t(np.random.default_rng(7).standard_normal((2, 3, 4, 4))).requires_grad_()
    gt_labels = [_t([2, 1], ember.int64)]
    matched = [_t([1, 0], ember.int64)]
    loss = maskrcnn_loss(logits, proposals, masks, gt_labels, matched)
    z = logits.detach().numpy()[[0, 1], [1, 2]]
    np.testing.assert_allclose(_f(loss), np.mean(np.log1p(np.exp(-z))), rtol=1e-12)
    assert gradcheck(lambda x: maskrcnn_loss(x, proposals, masks, gt_labels, matched), (logits,))
    empty = maskrcnn_loss(logits, [proposals[0][:0]], masks, gt_labels, [matched[0][:0]])
    assert _f(empty) == 0 and empty.requires_grad


def test_maskrcnn_inference_picks_the_labelled_class():
    x = _t(np.random.default_rng(8).standard_normal((3, 4, 2, 2)))
    probs = maskrcnn_inference(x, [_t([3, 1], ember.int64), _t([2], ember.int64)])
    assert [p.shape for p in probs] == [(2, 1, 2, 2), (1, 1, 2, 2)]
    want = 1 / (1 + np.exp(-x.numpy()[[0, 1, 2], [3, 1, 2]]))
    np.testing.assert_allclose(ember.cat(probs)[:, 0].numpy(), want, rtol=1e-12)


def test_keypoints_to_heatmap_cells_and_validity():
    rois = _t([[0.0, 0.0, 8.0, 8.0]])
    keypoints = _t([[[1.5, 2.5, 1], [8.0, 8.0, 2], [3.0, 9.0, 1], [4.0, 4.0, 0]]])
    heatmaps, valid = keypoints_to_heatmap(keypoints, rois, 4)
    # (1.5, 2.5) -> cell (x 0, y 1); the far corner maps to the last cell; outside or invisible
    # keypoints are invalid and index 0
    np.testing.assert_array_equal(heatmaps.numpy(), [[4, 15, 0, 0]])
    np.testing.assert_array_equal(valid.numpy(), [[1, 1, 0, 0]])


def test_keypoint_loss_and_decoding():
    rng = np.random.default_rng(9)
    logits = _t(rng.standard_normal((1, 2, 4, 4))).requires_grad_()
    rois = [_t([[0.0, 0.0, 8.0, 8.0]])]
    gt = [_t([[[1.5, 2.5, 1], [5.0, 7.0, 1]]], ember.float32)]
    loss = keypointrcnn_loss(logits, rois, gt, [_t([0], ember.int64)])
    z = logits.detach().numpy().reshape(2, 16)
    want = np.mean(np.log(np.exp(z).sum(1)) - z[[0, 1], [4, 14]])
    np.testing.assert_allclose(_f(loss), want, rtol=1e-12)
    assert gradcheck(lambda x: keypointrcnn_loss(x, rois, gt, [_t([0], ember.int64)]), (logits,))
    # a heatmap as large as its RoI is not resized: the peak cell d decodes to offset + d + 0.5
    maps = np.zeros((1, 2, 6, 6))
    maps[0, 0, 4, 1] = 5.0
    maps[0, 1, 0, 5] = 3.0
    xy, scores = heatmaps_to_keypoints(_t(maps), _t([[10.0, 20.0, 16.0, 26.0]]))
    np.testing.assert_allclose(xy.numpy(), [[[11.5, 24.5, 1.0], [15.5, 20.5, 1.0]]])
    np.testing.assert_allclose(scores.numpy(), [[5.0, 3.0]])
    assert xy.dtype == ember.float32


def test_expand_and_paste_masks():
    boxes = _t([[2.0, 4.0, 6.0, 10.0]])
    np.testing.assert_allclose(expand_boxes(boxes, 1.5).numpy(), [[1.0, 2.5, 7.0, 11.5]])
    padded, scale = expand_masks(ember.ones(1, 1, 4, 4), padding=1)
    assert padded.shape == (1, 1, 6, 6) and scale == 1.5 and float(padded.sum()) == 16
    # with no padding a constant mask pastes as that constant on the (inclusive) box
    pasted = paste_masks_in_image(ember.full((1, 1, 4, 4), 0.7, dtype=ember.float64),
                                  _t([[2.0, 1.0, 5.0, 6.0]]), (8, 7), padding=0)
    want = np.zeros((8, 7))
    want[1:7, 2:6] = 0.7
    np.testing.assert_allclose(pasted.numpy()[0, 0], want)
    assert paste_masks_in_image(ember.zeros(0, 1, 4, 4), ember.zeros(0, 4), (5, 5)).shape == (
        0, 1, 5, 5)


class _BoxPredictor(nn.Module):
    def __init__(self):
        super().__init__()
        self.cls_score = nn.Linear(16, 3)
        self.bbox_pred = nn.Linear(16, 12)

    def forward(self, x):
        return self.cls_score(x), self.bbox_pred(x)


def _roi_heads(training):
    ember.manual_seed(0)
    heads = RoIHeads(
        MultiScaleRoIAlign(["0"], 4, 2), nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU()),
        _BoxPredictor(), 0.5, 0.5, 16, 0.25, None, 0.05, 0.5, 10,
        mask_roi_pool=MultiScaleRoIAlign(["0"], 4, 2),
        mask_head=nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.ReLU()),
        mask_predictor=nn.Conv2d(4, 3, 1),
        keypoint_roi_pool=MultiScaleRoIAlign(["0"], 4, 2),
        keypoint_head=nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.ReLU()),
        keypoint_predictor=nn.Conv2d(4, 2, 1))
    return heads.double().train(training)


def _roi_inputs(rng):
    features = OrderedDict([("0", _t(rng.standard_normal((2, 4, 8, 8))))])
    targets = []
    proposals = []
    for n in (2, 1):
        boxes = _boxes(rng, n, 32.0)
        keypoints = np.concatenate([boxes[:, None, :2] + [[1.0, 1.0], [2.0, 3.0]],
                                    np.ones((n, 2, 1))], 2)
        targets.append({"boxes": _t(boxes), "labels": _t(rng.integers(1, 3, n), ember.int64),
                        "masks": _t(rng.random((n, 32, 32)) > 0.5, ember.uint8),
                        "keypoints": _t(keypoints, ember.float32)})
        proposals.append(_t(np.concatenate([_boxes(rng, 6, 32.0), boxes + 0.5])))
    return features, proposals, [(32, 32), (30, 28)], targets


def test_roi_heads_eval_outputs():
    heads = _roi_heads(training=False)
    features, proposals, sizes, _ = _roi_inputs(np.random.default_rng(10))
    result, losses = heads(features, proposals, sizes)
    assert losses == {} and len(result) == 2
    for r in result:
        assert list(r) == ["boxes", "labels", "scores", "masks", "keypoints", "keypoints_scores"]
        n = len(r["boxes"])
        assert 0 < n <= 10
        assert r["masks"].shape == (n, 1, 4, 4) and r["keypoints"].shape == (n, 2, 3)
        assert r["labels"].dtype == ember.int64 and (r["labels"].numpy() >= 1).all()
        assert (r["scores"].detach().numpy() > 0.05).all()


def test_roi_heads_training_losses_decrease():
    heads = _roi_heads(training=True)
    features, proposals, sizes, targets = _roi_inputs(np.random.default_rng(11))
    optimizer = ember.optim.SGD(heads.parameters(), lr=0.1)
    totals = []
    for step in range(5):
        ember.manual_seed(step)
        _, losses = heads(features, proposals, sizes, targets)
        assert list(losses) == ["loss_classifier", "loss_box_reg", "loss_mask", "loss_keypoint"]
        total = sum(losses.values())
        assert np.isfinite(_f(total))
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        totals.append(_f(total))
    assert totals[-1] < totals[0]


def test_roi_heads_checks_target_types():
    heads = _roi_heads(training=True)
    features, proposals, sizes, targets = _roi_inputs(np.random.default_rng(12))
    targets[0]["labels"] = targets[0]["labels"].int()
    with pytest.raises(TypeError, match="int64"):
        heads(features, proposals, sizes, targets)


# ---- small helpers ----------------------------------------------------------------------------

def test_image_list_overwrite_eps_retrieve_out_channels_and_topk_min():
    images = ImageList(ember.zeros(1, 3, 4, 4), [(4, 3)])
    moved = images.to("cpu")
    assert moved.image_sizes == [(4, 3)] and moved.tensors.shape == (1, 3, 4, 4)
    model = nn.Sequential(nn.Conv2d(3, 5, 1), FrozenBatchNorm2d(5))
    det_utils.overwrite_eps(model, 0.0)
    assert model[1].eps == 0.0
    model.train()
    assert det_utils.retrieve_out_channels(model, (8, 6)) == [5] and model.training
    assert det_utils._topk_min(ember.zeros(2, 7), 10, 1) == 7
    assert det_utils._topk_min(ember.zeros(2, 7), 3, 1) == 3


@pytest.mark.parametrize("kind", ["l1", "smooth_l1", "giou"])
def test_box_loss_kinds(kind):
    rng = np.random.default_rng(13)
    anchors, gt = _boxes(rng, 4), _boxes(rng, 4)
    coder = det_utils.BoxCoder((1.0, 1.0, 1.0, 1.0))
    target = coder.encode_single(_t(gt), _t(anchors)).numpy()
    pred = target + rng.normal(0, 0.3, target.shape)
    loss = float(det_utils._box_loss(kind, coder, _t(anchors), _t(gt), _t(pred), {"beta": 0.5}))
    diff = np.abs(pred - target)
    if kind == "l1":
        np.testing.assert_allclose(loss, diff.sum(), rtol=1e-12)
    elif kind == "smooth_l1":
        want = np.where(diff < 0.5, 0.5 * diff ** 2 / 0.5, diff - 0.25).sum()
        np.testing.assert_allclose(loss, want, rtol=1e-12)
    else:
        assert 0 < loss < 8
    with pytest.raises(ValueError):
        det_utils._box_loss("l2", coder, _t(anchors), _t(gt), _t(pred))
