"""RetinaNet (torchvision's ``models.detection.retinanet``): a one-stage detector whose heads
predict, for every anchor of every FPN level, a sigmoid score per class and a box delta, trained
with the focal loss. The private helpers here are shared by FCOS and SSD (same input checks,
same per-level head layout, same top-k + NMS post-processing)."""
from __future__ import annotations

import math
from collections import OrderedDict
from functools import partial
from typing import Any, Callable

import ember
from ember import nn
from ember._tensor import Tensor
from ember.vision.models._api import Weights, WeightsEnum, register_model
from ember.vision.models._meta import _COCO_CATEGORIES
from ember.vision.models._presets import ObjectDetection
from ember.vision.models._utils import handle_legacy_interface
from ember.vision.models.detection import _utils as det_utils
from ember.vision.models.detection.anchor_utils import AnchorGenerator
from ember.vision.models.detection.backbone_utils import _detection_resnet50_fpn
from ember.vision.models.detection.image_list import ImageList
from ember.vision.models.detection.transform import GeneralizedRCNNTransform
from ember.vision.models.resnet import ResNet50_Weights
from ember.vision.ops import boxes as box_ops
from ember.vision.ops import sigmoid_focal_loss
from ember.vision.ops.feature_pyramid_network import LastLevelP6P7
from ember.vision.ops.misc import Conv2dNormActivation

__all__ = ["RetinaNet", "RetinaNetHead", "RetinaNetClassificationHead",
           "RetinaNetRegressionHead", "RetinaNet_ResNet50_FPN_Weights",
           "RetinaNet_ResNet50_FPN_V2_Weights", "retinanet_resnet50_fpn",
           "retinanet_resnet50_fpn_v2"]


# --- helpers shared by the one-stage detectors (RetinaNet, FCOS, SSD) ---------------------------

def _per_anchor_rows(x: Tensor, num_columns: int) -> Tensor:
    """A head's map ``(N, A * K, H, W)`` as rows ``(N, H * W * A, K)``, the anchors' order."""
    n, _, h, w = x.shape
    return x.view(n, -1, num_columns, h, w).permute(0, 3, 4, 1, 2).reshape(n, -1, num_columns)


def _check_training_targets(training: bool, targets: list[dict[str, Tensor]] | None) -> None:
    if not training:
        return
    if targets is None:
        raise AssertionError("targets should not be none when in training mode")
    for target in targets:
        boxes = target["boxes"]
        if not isinstance(boxes, Tensor):
            raise AssertionError(f"Expected target boxes to be of type Tensor, got {type(boxes)}.")
        if boxes.dim() != 2 or boxes.shape[-1] != 4:
            raise AssertionError(
                f"Expected target boxes to be a tensor of shape [N, 4], got {boxes.shape}.")


def _image_sizes(images: list[Tensor]) -> list[tuple[int, int]]:
    """Each image's ``(H, W)`` before the transform resizes it."""
    sizes = []
    for img in images:
        if img.dim() < 2:
            raise AssertionError("expecting the last two dimensions of the Tensor to be H and W "
                                 f"instead got {img.shape[-2:]}")
        sizes.append((img.shape[-2], img.shape[-1]))
    return sizes


def _check_degenerate_boxes(targets: list[dict[str, Tensor]] | None) -> None:
    if targets is None:
        return
    for target_idx, target in enumerate(targets):
        boxes = target["boxes"]
        degenerate = (boxes[:, 2:] <= boxes[:, :2]).any(dim=1)
        if degenerate.any():
            first = boxes[ember.where(degenerate)[0][0]].tolist()
            raise AssertionError("All bounding boxes should have positive height and width. "
                                 f"Found invalid box {first} for target at index {target_idx}.")


def _backbone_features(backbone: nn.Module, images: Tensor) -> list[Tensor]:
    features = backbone(images)
    if isinstance(features, Tensor):
        features = OrderedDict([("0", features)])
    return list(features.values())


def _match_anchors(matcher: Callable[[Tensor], Tensor], anchors: list[Tensor],
                   targets: list[dict[str, Tensor]]) -> list[Tensor]:
    """Per image, ``matcher`` on the IoU of its boxes with its anchors (each anchor's matched
    box, or a negative code); all anchors unmatched in an image without boxes."""
    matched_idxs = []
    for anchors_per_image, target in zip(anchors, targets):
        if target["boxes"].numel() == 0:
            matched_idxs.append(_unmatched(anchors_per_image))
            continue
        match_quality_matrix = box_ops.box_iou(target["boxes"], anchors_per_image)
        matched_idxs.append(matcher(match_quality_matrix))
    return matched_idxs


def _transform_and_run_head(model: nn.Module, images: list[Tensor],
                            targets: list[dict[str, Tensor]] | None
                            ) -> tuple[list[tuple[int, int]], ImageList,
                                       list[dict[str, Tensor]] | None, list[Tensor],
                                       dict[str, Tensor], list[Tensor]]:
    """The single-stage detectors' (RetinaNet, FCOS, SSD) forward up to the losses or the
    detections: the checks, ``model.transform``, the backbone, ``model.head`` and
    ``model.anchor_generator``. Returns the images' original sizes, the transformed images and
    targets, the feature maps, the head's outputs and the anchors."""
    _check_training_targets(model.training, targets)
    original_image_sizes = _image_sizes(images)
    images, targets = model.transform(images, targets)
    _check_degenerate_boxes(targets)
    features = _backbone_features(model.backbone, images.tensors)
    head_outputs = model.head(features)
    anchors = model.anchor_generator(images, features)
    return original_image_sizes, images, targets, features, head_outputs, anchors


def _split_levels(head_outputs: dict[str, Tensor], anchors: list[Tensor],
                  num_anchors_per_level: list[int]
                  ) -> tuple[dict[str, list[Tensor]], list[list[Tensor]]]:
    """Head outputs and anchors cut back into one piece per feature level."""
    split_outputs = {k: list(v.split(num_anchors_per_level, dim=1))
                     for k, v in head_outputs.items()}
    split_anchors = [list(a.split(num_anchors_per_level)) for a in anchors]
    return split_outputs, split_anchors


def _top_scores(scores: Tensor, score_thresh: float, topk_candidates: int
                ) -> tuple[Tensor, Tensor, Tensor]:
    """Of a level's ``(anchors, classes)`` scores, the best ``topk_candidates`` above
    ``score_thresh``: their scores, anchor indices and class labels."""
    num_classes = scores.shape[-1]
    scores = scores.flatten()
    keep = scores > score_thresh
    candidate_idxs = ember.where(keep)[0]
    num_topk = det_utils._topk_min(candidate_idxs, topk_candidates, 0)
    top, idxs = scores[keep].topk(num_topk)
    candidate_idxs = candidate_idxs[idxs]
    anchor_idxs = ember.div(candidate_idxs, num_classes, rounding_mode="floor")
    return top, anchor_idxs, candidate_idxs % num_classes


def _nms_detections(boxes: list[Tensor], scores: list[Tensor], labels: list[Tensor],
                    nms_thresh: float, detections_per_img: int) -> dict[str, Tensor]:
    """One image's candidates (one piece per level or class) after per-class NMS, best first."""
    boxes, scores, labels = ember.cat(boxes), ember.cat(scores), ember.cat(labels)
    keep = box_ops.batched_nms(boxes, scores, labels, nms_thresh)[:detections_per_img]
    return {"boxes": boxes[keep], "scores": scores[keep], "labels": labels[keep]}


def _unmatched(anchors_per_image: Tensor) -> Tensor:
    """Every anchor matched to no box (-1), for an image without targets."""
    return ember.full((anchors_per_image.shape[0],), -1, dtype=ember.int64,
                      device=anchors_per_image.device)


# --- RetinaNet ------------------------------------------------------------------------------------

def _v1_to_v2_weights(state_dict: dict[str, Tensor], prefix: str) -> None:
    """Version-1 checkpoints kept the head's convs as ``conv.{0,2,4,6}`` (conv, relu, ...); they
    are ``conv.{i}.0`` inside Conv2dNormActivation blocks now."""
    for i in range(4):
        for kind in ("weight", "bias"):
            old_key = f"{prefix}conv.{2 * i}.{kind}"
            if old_key in state_dict:
                state_dict[f"{prefix}conv.{i}.0.{kind}"] = state_dict.pop(old_key)


def _conv_tower(in_channels: int, norm_layer: Callable[..., nn.Module] | None) -> nn.Sequential:
    """Four 3x3 conv (+ norm) + ReLU blocks, weights N(0, 0.01), biases zero."""
    tower = nn.Sequential(*[Conv2dNormActivation(in_channels, in_channels, norm_layer=norm_layer)
                            for _ in range(4)])
    for layer in tower.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.normal_(layer.weight, std=0.01)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
    return tower


def _sum_over_images(losses: list[Tensor]) -> Tensor:
    total = losses[0]
    for loss in losses[1:]:
        total = total + loss
    return total


class _ConvTowerHead(nn.Module):
    """What both RetinaNet heads share: version-2 state dicts, version-1 ones converted on
    load."""

    _version = 2

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        if local_metadata.get("version", None) is None or local_metadata["version"] < 2:
            _v1_to_v2_weights(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)


class RetinaNetClassificationHead(_ConvTowerHead):
    """Per anchor and class logits: a conv tower, then a 3x3 conv whose bias starts at the logit
    of ``prior_probability`` (so that training starts with few confident positives).

    Args:
        in_channels: channels of every feature level.
        num_anchors: anchors per location.
        num_classes: classes (including the background).
        prior_probability: initial foreground probability.
        norm_layer: normalisation in the tower (None: none).

    Shape:
        forward: a list of ``(N, in_channels, H_l, W_l)`` -> ``(N, sum_l H_l W_l A, num_classes)``.
    """

    def __init__(self, in_channels: int, num_anchors: int, num_classes: int,
                 prior_probability: float = 0.01,
                 norm_layer: Callable[..., nn.Module] | None = None) -> None:
        super().__init__()
        self.conv = _conv_tower(in_channels, norm_layer)
        self.cls_logits = nn.Conv2d(in_channels, num_anchors * num_classes, kernel_size=3,
                                    stride=1, padding=1)
        nn.init.normal_(self.cls_logits.weight, std=0.01)
        nn.init.constant_(self.cls_logits.bias,
                          -math.log((1 - prior_probability) / prior_probability))
        self.num_classes = num_classes
        self.num_anchors = num_anchors
        self.BETWEEN_THRESHOLDS = det_utils.Matcher.BETWEEN_THRESHOLDS

    def compute_loss(self, targets: list[dict[str, Tensor]], head_outputs: dict[str, Tensor],
                     matched_idxs: list[Tensor]) -> Tensor:
        """Sigmoid focal loss over the anchors not ignored by the matcher, summed and divided by
        the image's number of foreground anchors; averaged over images."""
        losses = []
        for target, cls_logits, matched in zip(targets, head_outputs["cls_logits"], matched_idxs):
            foreground = ember.where(matched >= 0)[0]
            gt_classes_target = ember.zeros_like(cls_logits)
            gt_classes_target[foreground, target["labels"][matched[foreground]]] = 1.0
            valid = matched != self.BETWEEN_THRESHOLDS
            loss = sigmoid_focal_loss(cls_logits[valid], gt_classes_target[valid],
                                      reduction="sum")
            losses.append(loss / max(1, foreground.numel()))
        return _sum_over_images(losses) / len(targets)

    def forward(self, x: list[Tensor]) -> Tensor:
        return ember.cat([_per_anchor_rows(self.cls_logits(self.conv(features)), self.num_classes)
                          for features in x], dim=1)


class RetinaNetRegressionHead(_ConvTowerHead):
    """Per anchor box deltas: a conv tower, then a 3x3 conv to ``4 * num_anchors`` channels;
    trained with an L1 loss on the encoded deltas (``_loss_type = "l1"``; ``"giou"`` and the
    other losses of ``_box_loss`` decode first).

    Args:
        in_channels: channels of every feature level.
        num_anchors: anchors per location.
        norm_layer: normalisation in the tower (None: none).

    Shape:
        forward: a list of ``(N, in_channels, H_l, W_l)`` -> ``(N, sum_l H_l W_l A, 4)``.
    """

    def __init__(self, in_channels: int, num_anchors: int,
                 norm_layer: Callable[..., nn.Module] | None = None) -> None:
        super().__init__()
        self.conv = _conv_tower(in_channels, norm_layer)
        self.bbox_reg = nn.Conv2d(in_channels, num_anchors * 4, kernel_size=3, stride=1,
                                  padding=1)
        nn.init.normal_(self.bbox_reg.weight, std=0.01)
        nn.init.zeros_(self.bbox_reg.bias)
        self.box_coder = det_utils.BoxCoder(weights=(1.0, 1.0, 1.0, 1.0))
        self._loss_type = "l1"

    def compute_loss(self, targets: list[dict[str, Tensor]], head_outputs: dict[str, Tensor],
                     anchors: list[Tensor], matched_idxs: list[Tensor]) -> Tensor:
        """The box loss over the foreground anchors, divided by their number; averaged over
        images."""
        losses = []
        for target, bbox_regression, anchors_per_image, matched in zip(
                targets, head_outputs["bbox_regression"], anchors, matched_idxs):
            foreground = ember.where(matched >= 0)[0]
            matched_gt_boxes = target["boxes"][matched[foreground]]
            loss = det_utils._box_loss(self._loss_type, self.box_coder,
                                       anchors_per_image[foreground, :], matched_gt_boxes,
                                       bbox_regression[foreground, :])
            losses.append(loss / max(1, foreground.numel()))
        return _sum_over_images(losses) / max(1, len(targets))

    def forward(self, x: list[Tensor]) -> Tensor:
        return ember.cat([_per_anchor_rows(self.bbox_reg(self.conv(features)), 4)
                          for features in x], dim=1)


class RetinaNetHead(nn.Module):
    """RetinaNet's classification and regression heads, run on every FPN level.

    Args:
        in_channels: channels of every feature level.
        num_anchors: anchors per location.
        num_classes: classes (including the background).
        norm_layer: normalisation in the conv towers (None: none).

    Example::

        >>> head = RetinaNetHead(8, 9, 3)
        >>> {k: v.shape for k, v in head([ember.rand(1, 8, 4, 4)]).items()}
        {'cls_logits': torch.Size([1, 144, 3]), 'bbox_regression': torch.Size([1, 144, 4])}
    """

    def __init__(self, in_channels: int, num_anchors: int, num_classes: int,
                 norm_layer: Callable[..., nn.Module] | None = None) -> None:
        super().__init__()
        self.classification_head = RetinaNetClassificationHead(in_channels, num_anchors,
                                                               num_classes, norm_layer=norm_layer)
        self.regression_head = RetinaNetRegressionHead(in_channels, num_anchors,
                                                       norm_layer=norm_layer)

    def compute_loss(self, targets: list[dict[str, Tensor]], head_outputs: dict[str, Tensor],
                     anchors: list[Tensor], matched_idxs: list[Tensor]) -> dict[str, Tensor]:
        return {
            "classification": self.classification_head.compute_loss(targets, head_outputs,
                                                                    matched_idxs),
            "bbox_regression": self.regression_head.compute_loss(targets, head_outputs, anchors,
                                                                 matched_idxs),
        }

    def forward(self, x: list[Tensor]) -> dict[str, Tensor]:
        return {"cls_logits": self.classification_head(x),
                "bbox_regression": self.regression_head(x)}


def _default_anchorgen() -> AnchorGenerator:
    """Three sizes (an octave in thirds) by three aspect ratios on each of the five levels."""
    anchor_sizes = tuple((x, int(x * 2 ** (1.0 / 3)), int(x * 2 ** (2.0 / 3)))
                         for x in [32, 64, 128, 256, 512])
    aspect_ratios = ((0.5, 1.0, 2.0),) * len(anchor_sizes)
    return AnchorGenerator(anchor_sizes, aspect_ratios)


class RetinaNet(nn.Module):
    """RetinaNet (`Focal Loss for Dense Object Detection <https://arxiv.org/abs/1708.02002>`_).

    Takes a list of ``(C, H, W)`` images in [0, 1] (sizes may differ). In training mode, also
    ``targets`` (one dict per image: ``boxes`` ``(N, 4)`` x1y1x2y2, ``labels`` ``(N,)`` int64) and
    returns the losses ``{"classification", "bbox_regression"}``; in eval mode returns one dict
    per image with ``boxes``, ``scores`` and ``labels`` in the input image's coordinates.

    Args:
        backbone: returns a Tensor or an OrderedDict of feature maps, all with
            ``backbone.out_channels`` channels.
        num_classes: classes (including the background).
        min_size, max_size: the transform's resizing (shorter edge to ``min_size``, longer edge at
            most ``max_size``).
        image_mean, image_std: the transform's normalisation (ImageNet's by default).
        anchor_generator: an :class:`AnchorGenerator` (default: 9 anchors per location).
        head: default :class:`RetinaNetHead`.
        proposal_matcher: default ``Matcher(fg_iou_thresh, bg_iou_thresh,
            allow_low_quality_matches=True)``.
        score_thresh: minimum score of a detection.
        nms_thresh: IoU threshold of the per-class NMS.
        detections_per_img: detections kept after NMS.
        fg_iou_thresh, bg_iou_thresh: IoU above which an anchor is foreground, below which
            background (in between: ignored).
        topk_candidates: candidates kept per level before NMS.
        kwargs: more arguments of :class:`GeneralizedRCNNTransform`.

    Example::

        >>> model = retinanet_resnet50_fpn(weights_backbone=None, num_classes=3, min_size=64)
        >>> model.eval()
        >>> sorted(model([ember.rand(3, 64, 80)])[0])
        ['boxes', 'labels', 'scores']
    """

    def __init__(self, backbone: nn.Module, num_classes: int, min_size: int = 800,
                 max_size: int = 1333, image_mean: list[float] | None = None,
                 image_std: list[float] | None = None,
                 anchor_generator: AnchorGenerator | None = None, head: nn.Module | None = None,
                 proposal_matcher: det_utils.Matcher | None = None, score_thresh: float = 0.05,
                 nms_thresh: float = 0.5, detections_per_img: int = 300,
                 fg_iou_thresh: float = 0.5, bg_iou_thresh: float = 0.4,
                 topk_candidates: int = 1000, **kwargs: Any) -> None:
        super().__init__()
        if not hasattr(backbone, "out_channels"):
            raise ValueError("backbone should contain an attribute out_channels specifying the "
                             "number of output channels (assumed to be the same for all the "
                             "levels)")
        self.backbone = backbone
        if not isinstance(anchor_generator, (AnchorGenerator, type(None))):
            raise TypeError("anchor_generator should be of type AnchorGenerator or None instead "
                            f"of {type(anchor_generator)}")
        if anchor_generator is None:
            anchor_generator = _default_anchorgen()
        self.anchor_generator = anchor_generator
        if head is None:
            head = RetinaNetHead(backbone.out_channels,
                                 anchor_generator.num_anchors_per_location()[0], num_classes)
        self.head = head
        if proposal_matcher is None:
            proposal_matcher = det_utils.Matcher(fg_iou_thresh, bg_iou_thresh,
                                                 allow_low_quality_matches=True)
        self.proposal_matcher = proposal_matcher
        self.box_coder = det_utils.BoxCoder(weights=(1.0, 1.0, 1.0, 1.0))
        image_mean = [0.485, 0.456, 0.406] if image_mean is None else image_mean
        image_std = [0.229, 0.224, 0.225] if image_std is None else image_std
        self.transform = GeneralizedRCNNTransform(min_size, max_size, image_mean, image_std,
                                                  **kwargs)
        self.score_thresh = score_thresh
        self.nms_thresh = nms_thresh
        self.detections_per_img = detections_per_img
        self.topk_candidates = topk_candidates

    def eager_outputs(self, losses: dict[str, Tensor], detections: list[dict[str, Tensor]]):
        """The losses in training mode, else the detections."""
        return losses if self.training else detections

    def compute_loss(self, targets: list[dict[str, Tensor]], head_outputs: dict[str, Tensor],
                     anchors: list[Tensor]) -> dict[str, Tensor]:
        """Match each image's anchors to its boxes by IoU, then the head's losses."""
        matched_idxs = _match_anchors(self.proposal_matcher, anchors, targets)
        return self.head.compute_loss(targets, head_outputs, anchors, matched_idxs)

    def postprocess_detections(self, head_outputs: dict[str, list[Tensor]],
                               anchors: list[list[Tensor]], image_shapes: list[tuple[int, int]]
                               ) -> list[dict[str, Tensor]]:
        """Per image: on each level the best sigmoid scores, their decoded and clipped boxes;
        then per-class NMS over the levels."""
        detections = []
        for index, image_shape in enumerate(image_shapes):
            image_boxes, image_scores, image_labels = [], [], []
            for box_regression, logits, level_anchors in zip(
                    head_outputs["bbox_regression"], head_outputs["cls_logits"], anchors[index]):
                scores, anchor_idxs, labels = _top_scores(ember.sigmoid(logits[index]),
                                                          self.score_thresh, self.topk_candidates)
                boxes = self.box_coder.decode_single(box_regression[index][anchor_idxs],
                                                     level_anchors[anchor_idxs])
                image_boxes.append(box_ops.clip_boxes_to_image(boxes, image_shape))
                image_scores.append(scores)
                image_labels.append(labels)
            detections.append(_nms_detections(image_boxes, image_scores, image_labels,
                                              self.nms_thresh, self.detections_per_img))
        return detections

    def forward(self, images: list[Tensor], targets: list[dict[str, Tensor]] | None = None):
        """Losses (training) or detections (eval); see the class docstring."""
        original_image_sizes, images, targets, features, head_outputs, anchors = (
            _transform_and_run_head(self, images, targets))

        losses, detections = {}, []
        if self.training:
            losses = self.compute_loss(targets, head_outputs, anchors)
        else:
            num_locations = [f.shape[2] * f.shape[3] for f in features]
            anchors_per_location = head_outputs["cls_logits"].shape[1] // sum(num_locations)
            split_outputs, split_anchors = _split_levels(
                head_outputs, anchors, [hw * anchors_per_location for hw in num_locations])
            detections = self.postprocess_detections(split_outputs, split_anchors,
                                                     images.image_sizes)
            detections = self.transform.postprocess(detections, images.image_sizes,
                                                    original_image_sizes)
        return self.eager_outputs(losses, detections)


_COMMON_META = {"categories": _COCO_CATEGORIES, "min_size": (1, 1)}
_URL = "https://download.pytorch.org/models/"


def _coco_box_weights(file_name: str, num_params: int, box_map: float) -> Weights:
    """The record of a single-stage detector's COCO weights (RetinaNet, FCOS, SSD, SSDlite)."""
    return Weights(url=_URL + file_name, transforms=ObjectDetection,
                   meta={**_COMMON_META, "num_params": num_params,
                         "_metrics": {"COCO-val2017": {"box_map": box_map}}})


class RetinaNet_ResNet50_FPN_Weights(WeightsEnum):
    COCO_V1 = _coco_box_weights("retinanet_resnet50_fpn_coco-eeacb38b.pth", 34014999, 36.4)
    DEFAULT = COCO_V1


class RetinaNet_ResNet50_FPN_V2_Weights(WeightsEnum):
    COCO_V1 = _coco_box_weights("retinanet_resnet50_fpn_v2_coco-5905b1c5.pth", 38198935, 41.5)
    DEFAULT = COCO_V1


@register_model()
@handle_legacy_interface(RetinaNet_ResNet50_FPN_Weights.COCO_V1,
                         ResNet50_Weights.IMAGENET1K_V1)
def retinanet_resnet50_fpn(*, weights: RetinaNet_ResNet50_FPN_Weights | None = None,
                           progress: bool = True, num_classes: int | None = None,
                           weights_backbone: ResNet50_Weights | None =
                           ResNet50_Weights.IMAGENET1K_V1,
                           trainable_backbone_layers: int | None = None,
                           **kwargs: Any) -> RetinaNet:
    """RetinaNet with a ResNet-50-FPN backbone (levels P3-P7, P6/P7 from P5).

    Args:
        weights: COCO weights (None: random).
        progress: show download progress.
        num_classes: classes including the background (default 91).
        weights_backbone: ImageNet weights of the ResNet-50 (with weights, its BatchNorms are
            frozen).
        trainable_backbone_layers: trainable ResNet stages counted from the last, 0-5 (default 3
            when pretrained, else 5).
        kwargs: more :class:`RetinaNet` arguments.
    """
    # no P2: it would add too many anchors (the paper's choice)
    weights, num_classes, backbone = _detection_resnet50_fpn(
        RetinaNet_ResNet50_FPN_Weights, weights, weights_backbone, progress, num_classes,
        trainable_backbone_layers, returned_layers=[2, 3, 4],
        extra_blocks=LastLevelP6P7(256, 256))
    model = RetinaNet(backbone, num_classes, **kwargs)
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True))
        if weights == RetinaNet_ResNet50_FPN_Weights.COCO_V1:
            det_utils.overwrite_eps(model, 0.0)
    return model


@register_model()
@handle_legacy_interface(RetinaNet_ResNet50_FPN_V2_Weights.COCO_V1,
                         ResNet50_Weights.IMAGENET1K_V1)
def retinanet_resnet50_fpn_v2(*, weights: RetinaNet_ResNet50_FPN_V2_Weights | None = None,
                              progress: bool = True, num_classes: int | None = None,
                              weights_backbone: ResNet50_Weights | None = None,
                              trainable_backbone_layers: int | None = None,
                              **kwargs: Any) -> RetinaNet:
    """The improved RetinaNet (`ATSS paper's recipe <https://arxiv.org/abs/1912.02424>`_):
    P6/P7 from C5, GroupNorm in the heads, a GIoU box loss. Arguments as
    :func:`retinanet_resnet50_fpn` (``weights_backbone`` defaults to None)."""
    weights, num_classes, backbone = _detection_resnet50_fpn(
        RetinaNet_ResNet50_FPN_V2_Weights, weights, weights_backbone, progress, num_classes,
        trainable_backbone_layers, frozen_bn=False, returned_layers=[2, 3, 4],
        extra_blocks=LastLevelP6P7(2048, 256))
    anchor_generator = _default_anchorgen()
    head = RetinaNetHead(backbone.out_channels, anchor_generator.num_anchors_per_location()[0],
                         num_classes, norm_layer=partial(nn.GroupNorm, 32))
    head.regression_head._loss_type = "giou"
    model = RetinaNet(backbone, num_classes, anchor_generator=anchor_generator, head=head,
                      **kwargs)
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True))
    return model
