"""Faster / Mask / Keypoint R-CNN (ember.vision.models.detection): the transform against NumPy
(resized sizes, bilinear values, normalization, padding, target scaling), the backbones'
freezing and outputs, the builders' state_dict layout (recorded from torchvision 0.28), a few
SGD steps on a synthetic image, and the eval outputs."""
import warnings

import numpy as np
import pytest

import ember
from ember.vision.models import get_model_weights, list_models, resnet
from ember.vision.models.detection.anchor_utils import AnchorGenerator
from ember.vision.models.detection.backbone_utils import (
    BackboneWithFPN,
    _validate_trainable_layers,
    mobilenet_backbone,
    resnet_fpn_backbone,
)
from ember.vision.models.detection.faster_rcnn import (
    FasterRCNN,
    FasterRCNN_MobileNet_V3_Large_320_FPN_Weights,
    FasterRCNN_ResNet50_FPN_Weights,
    FastRCNNPredictor,
    fasterrcnn_mobilenet_v3_large_320_fpn,
    fasterrcnn_resnet50_fpn,
)
from ember.vision.models.detection.keypoint_rcnn import (
    KeypointRCNN,
    KeypointRCNN_ResNet50_FPN_Weights,
    KeypointRCNNHeads,
    KeypointRCNNPredictor,
    keypointrcnn_resnet50_fpn,
)
from ember.vision.models.detection.mask_rcnn import (
    MaskRCNN,
    MaskRCNN_ResNet50_FPN_V2_Weights,
    MaskRCNN_ResNet50_FPN_Weights,
    MaskRCNNHeads,
    MaskRCNNPredictor,
    maskrcnn_resnet50_fpn,
)
from ember.vision.models.detection.transform import (
    GeneralizedRCNNTransform,
    resize_boxes,
    resize_keypoints,
)
from ember.vision.ops.misc import FrozenBatchNorm2d
from ember.vision.ops.poolers import MultiScaleRoIAlign

MEAN = [0.4, 0.5, 0.6]
STD = [0.2, 0.3, 0.25]


# ---------------------------------------------------------------------------------------------
# transform

def _np_bilinear_rows(src_len: int, dst_len: int) -> np.ndarray:
    """(dst, src) interpolation matrix: align_corners=False with scale src/dst, negative source
    coordinates clamped to 0 (PyTorch's rule)."""
    scale = src_len / dst_len
    mat = np.zeros((dst_len, src_len))
    for d in range(dst_len):
        s = max((d + 0.5) * scale - 0.5, 0.0)
        i0 = int(np.floor(s))
        i1 = min(i0 + 1, src_len - 1)
        mat[d, i0] += 1 - (s - i0)
        mat[d, i1] += s - i0
    return mat


@pytest.mark.parametrize("hw,min_size,max_size", [((30, 40), 64, 100), ((50, 20), 64, 100),
                                                  ((37, 53), 41, 1000)])
def test_transform_eval_resizes_normalizes_and_pads_like_numpy(hw, min_size, max_size):
    h, w = hw
    image = np.random.default_rng(0).uniform(size=(3, h, w))
    t = GeneralizedRCNNTransform(min_size, max_size, MEAN, STD, size_divisible=32).eval()
    batch, targets = t([ember.tensor(image)])
    assert targets is None
    scale = min(min_size / min(h, w), max_size / max(h, w))
    new_h, new_w = int(np.floor(h * scale)), int(np.floor(w * scale))
    assert batch.image_sizes == [(new_h, new_w)]
    assert tuple(batch.tensors.shape) == (1, 3, -(-new_h // 32) * 32, -(-new_w // 32) * 32)
    normalized = (image - np.array(MEAN)[:, None, None]) / np.array(STD)[:, None, None]
    resized = np.einsum("yh,chw,xw->cyx", _np_bilinear_rows(h, new_h), normalized,
                        _np_bilinear_rows(w, new_w))
    got = batch.tensors.numpy()[0]
    np.testing.assert_allclose(got[:, :new_h, :new_w], resized, rtol=1e-12, atol=1e-12)
    assert not got[:, new_h:, :].any() and not got[:, :, new_w:].any()


def test_transform_batches_images_of_different_sizes_and_scales_targets():
    t = GeneralizedRCNNTransform(64, 100, MEAN, STD).eval()
    masks = np.zeros((1, 30, 40), np.uint8)
    masks[0, 5:20, 10:30] = 1
    target = {"boxes": ember.tensor([[10.0, 5.0, 30.0, 20.0]]), "labels": ember.tensor([1]),
              "masks": ember.tensor(masks),
              "keypoints": ember.tensor([[[12.0, 6.0, 1.0], [20.0, 10.0, 0.0]]])}
    images = [ember.rand(3, 30, 40), ember.rand(3, 50, 20)]
    batch, targets = t(images, [target, dict(target)])
    assert batch.image_sizes == [(64, 85), (100, 40)]
    assert tuple(batch.tensors.shape) == (2, 3, 128, 96)
    ratio_h, ratio_w = np.float32(64) / np.float32(30), np.float32(85) / np.float32(40)
    np.testing.assert_allclose(targets[0]["boxes"].numpy(),
                               [[10 * ratio_w, 5 * ratio_h, 30 * ratio_w, 20 * ratio_h]],
                               rtol=1e-6)
    np.testing.assert_allclose(targets[0]["keypoints"].numpy(),
                               [[[12 * ratio_w, 6 * ratio_h, 1], [20 * ratio_w, 10 * ratio_h, 0]]],
                               rtol=1e-6)
    # masks: nearest, source index floor(dst * src / dst_len)
    rows = np.floor(np.arange(64) * 30 / 64).astype(int)
    cols = np.floor(np.arange(85) * 40 / 85).astype(int)
    got = targets[0]["masks"]
    assert got.dtype == ember.uint8
    np.testing.assert_array_equal(got.numpy()[0], masks[0][np.ix_(rows, cols)])
    assert target["boxes"].numpy().tolist() == [[10.0, 5.0, 30.0, 20.0]]  # inputs untouched


def test_transform_fixed_size_training_choice_and_errors():
    t = GeneralizedRCNNTransform(64, 100, MEAN, STD, fixed_size=(48, 40)).eval()
    assert t([ember.rand(3, 30, 70)])[0].image_sizes == [(40, 48)]
    t = GeneralizedRCNNTransform((32, 48, 64), 1000, MEAN, STD).train()
    sizes = {t([ember.rand(3, 20, 20)])[0].image_sizes[0][0] for _ in range(30)}
    assert sizes <= {32, 48, 64} and len(sizes) > 1
    assert t.eval()([ember.rand(3, 20, 20)])[0].image_sizes == [(64, 64)]
    with pytest.raises(TypeError, match="floating type"):
        t([ember.zeros(3, 8, 8, dtype=ember.uint8)])
    with pytest.raises(ValueError, match="3d tensors"):
        t([ember.rand(8, 8)])
    assert "Resize(min_size=(32, 48, 64), max_size=1000, mode='bilinear')" in repr(t)


def test_resize_boxes_keypoints_and_postprocess_map_back():
    boxes = ember.tensor([[4.0, 8.0, 20.0, 16.0]])
    np.testing.assert_allclose(resize_boxes(boxes, (20, 40), (10, 10)).numpy(),
                               [[1.0, 4.0, 5.0, 8.0]])
    keypoints = ember.tensor([[[4.0, 8.0, 1.0]]])
    np.testing.assert_allclose(resize_keypoints(keypoints, (20, 40), (10, 10)).numpy(),
                               [[[1.0, 4.0, 1.0]]])
    t = GeneralizedRCNNTransform(64, 100, MEAN, STD).eval()
    result = [{"boxes": ember.tensor([[8.0, 8.0, 40.0, 24.0]]), "labels": ember.tensor([1]),
               "scores": ember.tensor([0.9]), "masks": ember.ones(1, 1, 28, 28),
               "keypoints": ember.tensor([[[16.0, 16.0, 1.0]]])}]
    out = t.postprocess(result, [(64, 64)], [(32, 16)])[0]
    np.testing.assert_allclose(out["boxes"].numpy(), [[2.0, 4.0, 10.0, 12.0]])
    np.testing.assert_allclose(out["keypoints"].numpy(), [[[4.0, 8.0, 1.0]]])
    assert tuple(out["masks"].shape) == (1, 1, 32, 16)
    assert out["masks"].numpy()[0, 0, 5:11, 3:9].min() > 0.5  # pasted inside the box
    assert out["masks"].numpy()[0, 0, 20:, :].max() == 0
    assert t.train().postprocess(result, [(64, 64)], [(32, 16)]) is result


# ---------------------------------------------------------------------------------------------
# backbones

@pytest.mark.parametrize("trainable", [0, 3, 5])
def test_resnet_fpn_backbone_freezes_all_but_the_last_layers(trainable):
    m = resnet_fpn_backbone(backbone_name="resnet18", weights=None, trainable_layers=trainable)
    trained = {name.split(".")[0] for name, p in m.body.named_parameters() if p.requires_grad}
    assert trained == set(["layer4", "layer3", "layer2", "layer1", "conv1"][:trainable])
    assert all(p.requires_grad for p in m.fpn.parameters())
    assert isinstance(m.body.bn1, FrozenBatchNorm2d) and m.out_channels == 256
    out = m(ember.rand(1, 3, 64, 64))
    assert [(k, tuple(v.shape)) for k, v in out.items()] == [
        ("0", (1, 256, 16, 16)), ("1", (1, 256, 8, 8)), ("2", (1, 256, 4, 4)),
        ("3", (1, 256, 2, 2)), ("pool", (1, 256, 1, 1))]
    assert "fc.weight" not in str(list(m.state_dict()))  # the classifier is cut off


def test_backbone_with_fpn_returned_layers_and_errors():
    m = resnet_fpn_backbone(backbone_name="resnet18", weights=None, returned_layers=[2, 4])
    assert list(m.body.return_layers.items()) == [("layer2", "0"), ("layer4", "1")]
    assert [blk[0].in_channels for blk in m.fpn.inner_blocks] == [128, 512]
    with pytest.raises(ValueError, match=r"range \[1,4\]"):
        resnet_fpn_backbone(backbone_name="resnet18", weights=None, returned_layers=[0, 1])
    with pytest.raises(ValueError, match=r"range \[0,5\]"):
        resnet_fpn_backbone(backbone_name="resnet18", weights=None, trainable_layers=6)
    custom = BackboneWithFPN(resnet.resnet18(), {"layer3": "a", "layer4": "b"}, [256, 512], 8)
    assert [(k, tuple(v.shape)) for k, v in custom(ember.rand(1, 3, 64, 64)).items()] == [
        ("a", (1, 8, 4, 4)), ("b", (1, 8, 2, 2)), ("pool", (1, 8, 1, 1))]


def test_mobilenet_backbone_with_and_without_fpn():
    m = mobilenet_backbone(backbone_name="mobilenet_v3_large", weights=None, fpn=True,
                           trainable_layers=2)
    assert list(m.body.return_layers.items()) == [("13", "0"), ("16", "1")]
    frozen = {name.split(".")[0] for name, p in m.body.named_parameters() if not p.requires_grad}
    assert frozen == {str(i) for i in range(13)}
    out = m(ember.rand(1, 3, 64, 64))
    assert [(k, tuple(v.shape)) for k, v in out.items()] == [
        ("0", (1, 256, 2, 2)), ("1", (1, 256, 2, 2)), ("pool", (1, 256, 1, 1))]
    plain = mobilenet_backbone(backbone_name="mobilenet_v2", weights=None, fpn=False)
    assert plain.out_channels == 256
    assert tuple(plain(ember.rand(1, 3, 64, 64)).shape) == (1, 256, 2, 2)


def test_validate_trainable_layers():
    assert _validate_trainable_layers(True, None, 5, 3) == 3
    assert _validate_trainable_layers(True, 1, 5, 3) == 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert _validate_trainable_layers(False, 1, 6, 3) == 6
    assert "has no effect" in str(caught[0].message)
    with pytest.raises(ValueError, match=r"range \[0,5\]"):
        _validate_trainable_layers(True, 7, 5, 3)


# ---------------------------------------------------------------------------------------------
# builders and weights

# Recorded from torchvision 0.28: every key outside the ResNet body, in order.
_FASTER_KEYS = (
    " ".join(f"backbone.fpn.{b}.{i}.0.{p}" for b in ("inner_blocks", "layer_blocks")
             for i in range(4) for p in ("weight", "bias"))
    + " rpn.head.conv.0.0.weight rpn.head.conv.0.0.bias rpn.head.cls_logits.weight"
    " rpn.head.cls_logits.bias rpn.head.bbox_pred.weight rpn.head.bbox_pred.bias"
    " roi_heads.box_head.fc6.weight roi_heads.box_head.fc6.bias roi_heads.box_head.fc7.weight"
    " roi_heads.box_head.fc7.bias roi_heads.box_predictor.cls_score.weight"
    " roi_heads.box_predictor.cls_score.bias roi_heads.box_predictor.bbox_pred.weight"
    " roi_heads.box_predictor.bbox_pred.bias").split()
_MASK_KEYS = (
    "roi_heads.mask_head.0.0.weight roi_heads.mask_head.0.0.bias roi_heads.mask_head.1.0.weight"
    " roi_heads.mask_head.1.0.bias roi_heads.mask_head.2.0.weight roi_heads.mask_head.2.0.bias"
    " roi_heads.mask_head.3.0.weight roi_heads.mask_head.3.0.bias"
    " roi_heads.mask_predictor.conv5_mask.weight roi_heads.mask_predictor.conv5_mask.bias"
    " roi_heads.mask_predictor.mask_fcn_logits.weight"
    " roi_heads.mask_predictor.mask_fcn_logits.bias").split()
_KEYPOINT_KEYS = [f"roi_heads.keypoint_head.{i}.{p}" for i in range(0, 16, 2)
                  for p in ("weight", "bias")] + [
    "roi_heads.keypoint_predictor.kps_score_lowres.weight",
    "roi_heads.keypoint_predictor.kps_score_lowres.bias"]


@pytest.mark.parametrize("builder,extra", [(fasterrcnn_resnet50_fpn, []),
                                           (maskrcnn_resnet50_fpn, _MASK_KEYS),
                                           (keypointrcnn_resnet50_fpn, _KEYPOINT_KEYS)])
def test_builder_state_dict_layout_is_torchvisions(builder, extra):
    model = builder(weights=None, weights_backbone=None)
    keys = list(model.state_dict())
    body = resnet.resnet50().state_dict()
    expected_body = ["backbone.body." + k for k in body if not k.startswith("fc.")]
    assert keys[:len(expected_body)] == expected_body
    assert keys[len(expected_body):] == _FASTER_KEYS + extra
    num_classes = 2 if builder is keypointrcnn_resnet50_fpn else 91
    assert model.roi_heads.box_predictor.cls_score.out_features == num_classes
    assert isinstance(model.backbone.body.bn1, ember.nn.BatchNorm2d)  # nothing pretrained
    assert all(p.requires_grad for p in model.parameters())


def test_weights_enums_and_builder_checks():
    w = FasterRCNN_ResNet50_FPN_Weights.DEFAULT
    assert w.url == "https://download.pytorch.org/models/fasterrcnn_resnet50_fpn_coco-258fb6c6.pth"
    assert len(w.meta["categories"]) == 91 and w.meta["categories"][:2] == ["__background__",
                                                                             "person"]
    assert w.meta["num_params"] == 41755286
    assert w.meta["_metrics"]["COCO-val2017"]["box_map"] == 37.0
    assert repr(w.transforms()) == "ObjectDetection()"
    assert MaskRCNN_ResNet50_FPN_V2_Weights.COCO_V1.meta["_metrics"]["COCO-val2017"] == {
        "box_map": 47.4, "mask_map": 41.8}
    kp = KeypointRCNN_ResNet50_FPN_Weights
    assert list(kp.__members__) == ["COCO_LEGACY", "COCO_V1", "DEFAULT"]
    assert kp.DEFAULT.meta["categories"] == ["no person", "person"]
    assert len(kp.DEFAULT.meta["keypoint_names"]) == 17
    assert FasterRCNN_MobileNet_V3_Large_320_FPN_Weights.COCO_V1.url.endswith("-907ea3f9.pth")
    with pytest.raises(ValueError, match="num_classes"):
        fasterrcnn_resnet50_fpn(weights="DEFAULT", num_classes=5)
    assert get_model_weights("maskrcnn_resnet50_fpn") is MaskRCNN_ResNet50_FPN_Weights
    assert "keypointrcnn_resnet50_fpn" in list_models()
    with pytest.warns(UserWarning, match="'pretrained_backbone' is deprecated"):
        legacy = keypointrcnn_resnet50_fpn(pretrained=False, pretrained_backbone=False)
    assert isinstance(legacy.backbone.body.bn1, ember.nn.BatchNorm2d)  # nothing pretrained
    model = fasterrcnn_mobilenet_v3_large_320_fpn(weights=None, weights_backbone=None,
                                                  num_classes=4)
    assert (model.transform.min_size, model.transform.max_size) == ((320,), 640)
    assert model.rpn._post_nms_top_n["testing"] == 150 and model.rpn.score_thresh == 0.05
    assert model.rpn.anchor_generator.num_anchors_per_location() == [15, 15, 15]


def test_model_argument_checks():
    backbone = BackboneWithFPN(resnet.resnet18(), {"layer4": "0"}, [512], 8)
    with pytest.raises(ValueError, match="num_classes should not be None"):
        FasterRCNN(backbone)
    with pytest.raises(ValueError, match="num_classes should be None"):
        FasterRCNN(backbone, 3, box_predictor=FastRCNNPredictor(1024, 3))
    with pytest.raises(ValueError, match="out_channels"):
        FasterRCNN(resnet.resnet18(), 3)
    with pytest.raises(TypeError, match="box_roi_pool"):
        FasterRCNN(backbone, 3, box_roi_pool=object())


def test_mask_head_loads_version_1_checkpoint_names():
    head = MaskRCNNHeads(4, (3, 3), 1)
    old = {f"mask_fcn{i + 1}.{p}": ember.full(tuple(v.shape), float(i))
           for i, blk in enumerate(head) for p, v in blk[0].named_parameters()}
    head.load_state_dict(old)  # no version metadata: the old names
    assert head[1][0].weight.detach().numpy().max() == 1.0


def test_predictor_shapes():
    scores, deltas = FastRCNNPredictor(6, 3)(ember.rand(5, 6, 1, 1))
    assert tuple(scores.shape) == (5, 3) and tuple(deltas.shape) == (5, 12)
    assert tuple(MaskRCNNPredictor(4, 5, 3)(ember.rand(2, 4, 7, 7)).shape) == (2, 3, 14, 14)
    assert tuple(KeypointRCNNPredictor(4, 6)(ember.rand(2, 4, 7, 7)).shape) == (2, 6, 28, 28)
    assert len(KeypointRCNNHeads(4, (8, 8))) == 4


# ---------------------------------------------------------------------------------------------
# training and inference of tiny models

def _tiny(kind):
    ember.manual_seed(0)
    backbone = BackboneWithFPN(resnet.resnet18(), {f"layer{i + 1}": str(i) for i in range(4)},
                               [64, 128, 256, 512], 16)
    kwargs = dict(min_size=64, max_size=96, box_detections_per_img=10,
                  rpn_post_nms_top_n_test=50, rpn_post_nms_top_n_train=100,
                  rpn_batch_size_per_image=64, box_batch_size_per_image=32)
    if kind == "faster":
        return FasterRCNN(backbone, num_classes=3, **kwargs)
    kwargs["box_predictor"] = FastRCNNPredictor(1024, 3)
    if kind == "mask":
        return MaskRCNN(backbone, mask_head=MaskRCNNHeads(16, (8,), 1),
                        mask_predictor=MaskRCNNPredictor(8, 8, 3), **kwargs)
    return KeypointRCNN(backbone, keypoint_head=KeypointRCNNHeads(16, (8,)),
                        keypoint_predictor=KeypointRCNNPredictor(8, 4), **kwargs)


def _sample():
    image = np.random.default_rng(0).uniform(0, 0.3, size=(3, 60, 80)).astype(np.float32)
    image = ember.tensor(image)
    image[:, 12:50, 10:40] += 0.6
    masks = np.zeros((1, 60, 80), np.uint8)
    masks[0, 12:50, 10:40] = 1
    keypoints = np.array([[[15, 20, 1], [30, 20, 1], [20, 40, 1], [35, 45, 0]]], np.float32)
    return image, {"boxes": ember.tensor([[10.0, 12.0, 40.0, 50.0]]), "labels": ember.tensor([1]),
                   "masks": ember.tensor(masks), "keypoints": ember.tensor(keypoints)}


def test_mask_rcnn_sgd_steps_reduce_the_finite_losses():
    model = _tiny("mask").train()
    for p in model.backbone.body.parameters():  # a frozen body (trainable_layers=0): faster
        p.requires_grad_(False)
    image, target = _sample()
    optimizer = ember.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01,
                                momentum=0.9)
    totals = []
    for _ in range(3):
        ember.manual_seed(1)
        losses = model([image], [target])
        assert list(losses) == ["loss_classifier", "loss_box_reg", "loss_mask",
                                "loss_objectness", "loss_rpn_box_reg"]
        assert all(np.isfinite(v.item()) for v in losses.values())
        total = sum(losses.values())
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        totals.append(total.item())
    assert totals[-1] < totals[0]


def test_keypoint_rcnn_training_losses():
    model = _tiny("keypoint").train()
    image, target = _sample()
    losses = model([image], [target])
    assert list(losses) == ["loss_classifier", "loss_box_reg", "loss_keypoint",
                            "loss_objectness", "loss_rpn_box_reg"]
    assert all(np.isfinite(v.item()) for v in losses.values())
    with pytest.raises(AssertionError, match="targets should not be none"):
        model([image])
    bad = dict(target, boxes=ember.tensor([[10.0, 12.0, 10.0, 50.0]]))
    with pytest.raises(AssertionError, match="positive height and width"):
        model([image], [bad])


@pytest.mark.parametrize("kind,keys", [
    ("faster", ["boxes", "labels", "scores"]),
    ("mask", ["boxes", "labels", "scores", "masks"]),
    ("keypoint", ["boxes", "labels", "scores", "keypoints", "keypoints_scores"])])
def test_eval_outputs_in_original_coordinates(kind, keys):
    model = _tiny(kind).eval()
    images = [ember.rand(3, 60, 80), ember.rand(3, 45, 30)]
    with ember.no_grad():
        out = model(images)
    assert len(out) == 2
    for detections, (h, w) in zip(out, [(60, 80), (45, 30)]):
        assert list(detections) == keys
        n = len(detections["boxes"])
        assert 0 < n <= 10
        boxes = detections["boxes"].numpy()
        assert boxes.min() >= 0 and (boxes[:, 2] <= w).all() and (boxes[:, 3] <= h).all()
        assert detections["labels"].dtype == ember.int64
        assert set(detections["labels"].tolist()) <= {1, 2}
        scores = detections["scores"].numpy()
        assert (np.diff(scores) <= 0).all() and scores.min() > 0.05
        if kind == "mask":
            assert tuple(detections["masks"].shape) == (n, 1, h, w)
        if kind == "keypoint":
            assert tuple(detections["keypoints"].shape) == (n, 4, 3)
            assert tuple(detections["keypoints_scores"].shape) == (n, 4)


def test_backbone_returning_one_tensor():
    # the tutorial's custom backbone: one feature map, used as level "0"
    backbone = mobilenet_backbone(backbone_name="mobilenet_v3_small", weights=None, fpn=False)
    model = FasterRCNN(backbone, num_classes=2, min_size=64, max_size=64,
                       rpn_anchor_generator=AnchorGenerator(((16, 32),), ((0.5, 1.0, 2.0),)),
                       box_roi_pool=MultiScaleRoIAlign(["0"], 7, 2), box_detections_per_img=4)
    ember.manual_seed(0)
    image, target = _sample()
    losses = model.train()([image], [target])
    assert all(np.isfinite(v.item()) for v in losses.values())
    with ember.no_grad():
        out = model.eval()([image])[0]
    assert list(out) == ["boxes", "labels", "scores"] and len(out["boxes"]) <= 4
