"""FCOS (torchvision's ``models.detection.fcos``): an anchor-free one-stage detector. Each
location of each FPN level predicts class logits, its distances to the four sides of a box, and a
"center-ness" that down-weights predictions far from an object's center."""
from __future__ import annotations

import math
from functools import partial
from typing import Any, Callable

import ember
from ember import nn
from ember._tensor import Tensor
from ember.nn import functional as F
from ember.vision.models._api import WeightsEnum, register_model
from ember.vision.models._utils import handle_legacy_interface
from ember.vision.models.detection import _utils as det_utils
from ember.vision.models.detection.anchor_utils import AnchorGenerator
from ember.vision.models.detection.backbone_utils import _detection_resnet50_fpn
from ember.vision.models.detection.retinanet import (
    _coco_box_weights,
    _nms_detections,
    _per_anchor_rows,
    _split_levels,
    _top_scores,
    _transform_and_run_head,
    _unmatched,
)
from ember.vision.models.detection.transform import GeneralizedRCNNTransform
from ember.vision.models.resnet import ResNet50_Weights
from ember.vision.ops import boxes as box_ops
from ember.vision.ops import generalized_box_iou_loss, sigmoid_focal_loss
from ember.vision.ops.feature_pyramid_network import LastLevelP6P7

__all__ = ["FCOS", "FCOSHead", "FCOSClassificationHead", "FCOSRegressionHead",
           "FCOS_ResNet50_FPN_Weights", "fcos_resnet50_fpn"]


def _conv_norm_relu_tower(in_channels: int, num_convs: int,
                          norm_layer: Callable[..., nn.Module] | None) -> nn.Sequential:
    """``num_convs`` x (3x3 conv, norm (GroupNorm(32) by default), ReLU) as one flat Sequential
    (keys ``conv.0``, ``conv.1``, ...), convs N(0, 0.01) with zero biases."""
    norm_layer = partial(nn.GroupNorm, 32) if norm_layer is None else norm_layer
    layers = []
    for _ in range(num_convs):
        conv = nn.Conv2d(in_channels, in_channels, kernel_size=3, stride=1, padding=1)
        nn.init.normal_(conv.weight, std=0.01)
        nn.init.zeros_(conv.bias)
        layers += [conv, norm_layer(in_channels), nn.ReLU()]
    return nn.Sequential(*layers)


class FCOSClassificationHead(nn.Module):
    """Per location and class logits: a conv tower, then a 3x3 conv whose bias starts at the
    logit of ``prior_probability``.

    Args:
        in_channels: channels of every feature level.
        num_anchors: locations' anchors (1 for FCOS).
        num_classes: classes (including the background).
        num_convs: convs in the tower.
        prior_probability: initial foreground probability.
        norm_layer: the tower's normalisation (default GroupNorm with 32 groups).

    Shape:
        forward: a list of ``(N, in_channels, H_l, W_l)`` -> ``(N, sum_l H_l W_l A, num_classes)``.
    """

    def __init__(self, in_channels: int, num_anchors: int, num_classes: int, num_convs: int = 4,
                 prior_probability: float = 0.01,
                 norm_layer: Callable[..., nn.Module] | None = None) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.num_anchors = num_anchors
        self.conv = _conv_norm_relu_tower(in_channels, num_convs, norm_layer)
        self.cls_logits = nn.Conv2d(in_channels, num_anchors * num_classes, kernel_size=3,
                                    stride=1, padding=1)
        nn.init.normal_(self.cls_logits.weight, std=0.01)
        nn.init.constant_(self.cls_logits.bias,
                          -math.log((1 - prior_probability) / prior_probability))

    def forward(self, x: list[Tensor]) -> Tensor:
        return ember.cat([_per_anchor_rows(self.cls_logits(self.conv(features)), self.num_classes)
                          for features in x], dim=1)


class FCOSRegressionHead(nn.Module):
    """Per location box distances (ReLU, so never negative) and center-ness logit, both from one
    conv tower.

    Args:
        in_channels: channels of every feature level.
        num_anchors: locations' anchors (1 for FCOS).
        num_convs: convs in the tower.
        norm_layer: the tower's normalisation (default GroupNorm with 32 groups).

    Shape:
        forward: a list of ``(N, in_channels, H_l, W_l)`` -> ``(N, R, 4)`` and ``(N, R, 1)``,
        ``R = sum_l H_l W_l A``.
    """

    def __init__(self, in_channels: int, num_anchors: int, num_convs: int = 4,
                 norm_layer: Callable[..., nn.Module] | None = None) -> None:
        super().__init__()
        self.conv = _conv_norm_relu_tower(in_channels, num_convs, norm_layer)
        self.bbox_reg = nn.Conv2d(in_channels, num_anchors * 4, kernel_size=3, stride=1,
                                  padding=1)
        self.bbox_ctrness = nn.Conv2d(in_channels, num_anchors * 1, kernel_size=3, stride=1,
                                      padding=1)
        for layer in (self.bbox_reg, self.bbox_ctrness):
            nn.init.normal_(layer.weight, std=0.01)
            nn.init.zeros_(layer.bias)

    def forward(self, x: list[Tensor]) -> tuple[Tensor, Tensor]:
        all_bbox_regression, all_bbox_ctrness = [], []
        for features in x:
            bbox_feature = self.conv(features)
            bbox_regression = F.relu(self.bbox_reg(bbox_feature))
            all_bbox_regression.append(_per_anchor_rows(bbox_regression, 4))
            all_bbox_ctrness.append(_per_anchor_rows(self.bbox_ctrness(bbox_feature), 1))
        return ember.cat(all_bbox_regression, dim=1), ember.cat(all_bbox_ctrness, dim=1)


def _centerness(ltrb: Tensor) -> Tensor:
    """sqrt(min(l, r) / max(l, r) * min(t, b) / max(t, b)) of ``(..., 4)`` side distances."""
    left_right = ltrb[..., [0, 2]]
    top_bottom = ltrb[..., [1, 3]]
    return ember.sqrt(left_right.min(dim=-1)[0] / left_right.max(dim=-1)[0]
                      * (top_bottom.min(dim=-1)[0] / top_bottom.max(dim=-1)[0]))


class FCOSHead(nn.Module):
    """FCOS's classification and regression (+ center-ness) heads and their losses.

    Args:
        in_channels: channels of every feature level.
        num_anchors: locations' anchors (1 for FCOS).
        num_classes: classes (including the background).
        num_convs: convs in each tower.

    Example::

        >>> head = FCOSHead(32, 1, 3)
        >>> {k: v.shape for k, v in head([ember.rand(1, 32, 4, 4)]).items()}
        {'cls_logits': torch.Size([1, 16, 3]), 'bbox_regression': torch.Size([1, 16, 4]), \
'bbox_ctrness': torch.Size([1, 16, 1])}
    """

    def __init__(self, in_channels: int, num_anchors: int, num_classes: int,
                 num_convs: int | None = 4) -> None:
        super().__init__()
        self.box_coder = det_utils.BoxLinearCoder(normalize_by_size=True)
        self.classification_head = FCOSClassificationHead(in_channels, num_anchors, num_classes,
                                                          num_convs)
        self.regression_head = FCOSRegressionHead(in_channels, num_anchors, num_convs)

    def compute_loss(self, targets: list[dict[str, Tensor]], head_outputs: dict[str, Tensor],
                     anchors: list[Tensor], matched_idxs: list[Tensor]) -> dict[str, Tensor]:
        """Focal loss on the classes, GIoU on the decoded foreground boxes, BCE on the
        foreground center-ness; each summed over the batch and divided by its foreground count."""
        cls_logits = head_outputs["cls_logits"]  # (N, R, C)
        bbox_regression = head_outputs["bbox_regression"]  # (N, R, 4)
        bbox_ctrness = head_outputs["bbox_ctrness"]  # (N, R, 1)

        all_gt_classes, all_gt_boxes = [], []
        for target, matched in zip(targets, matched_idxs):
            if len(target["labels"]) == 0:
                gt_classes = target["labels"].new_zeros((len(matched),))
                gt_boxes = target["boxes"].new_zeros((len(matched), 4))
            else:
                gt_classes = target["labels"][matched.clip(min=0)]
                gt_boxes = target["boxes"][matched.clip(min=0)]
            gt_classes[matched < 0] = -1  # background
            all_gt_classes.append(gt_classes)
            all_gt_boxes.append(gt_boxes)
        gt_boxes, gt_classes = ember.stack(all_gt_boxes), ember.stack(all_gt_classes)
        anchors = ember.stack(anchors)

        foreground = gt_classes >= 0
        num_foreground = max(1, int(foreground.sum().item()))

        images, locations = ember.where(foreground)
        gt_classes_targets = ember.zeros_like(cls_logits)
        gt_classes_targets[images, locations, gt_classes[foreground]] = 1.0
        loss_cls = sigmoid_focal_loss(cls_logits, gt_classes_targets, reduction="sum")

        pred_boxes = self.box_coder.decode(bbox_regression, anchors)
        loss_bbox_reg = generalized_box_iou_loss(pred_boxes[foreground], gt_boxes[foreground],
                                                 reduction="sum")

        bbox_reg_targets = self.box_coder.encode(anchors, gt_boxes)
        if len(bbox_reg_targets) == 0:
            gt_ctrness_targets = bbox_reg_targets.new_zeros(bbox_reg_targets.shape[:-1])
        else:
            gt_ctrness_targets = _centerness(bbox_reg_targets)
        pred_centerness = bbox_ctrness.squeeze(dim=2)
        loss_bbox_ctrness = F.binary_cross_entropy_with_logits(
            pred_centerness[foreground], gt_ctrness_targets[foreground], reduction="sum")

        return {"classification": loss_cls / num_foreground,
                "bbox_regression": loss_bbox_reg / num_foreground,
                "bbox_ctrness": loss_bbox_ctrness / num_foreground}

    def forward(self, x: list[Tensor]) -> dict[str, Tensor]:
        cls_logits = self.classification_head(x)
        bbox_regression, bbox_ctrness = self.regression_head(x)
        return {"cls_logits": cls_logits, "bbox_regression": bbox_regression,
                "bbox_ctrness": bbox_ctrness}


class FCOS(nn.Module):
    """FCOS (`FCOS: Fully Convolutional One-Stage Object Detection
    <https://arxiv.org/abs/1904.01355>`_).

    Inputs and outputs as :class:`RetinaNet`; the training losses are ``classification``,
    ``bbox_regression`` and ``bbox_ctrness``. A location is matched to a box that contains it,
    whose center lies within ``center_sampling_radius`` strides of it, and whose size suits the
    location's level; among several, the smallest box.

    Args:
        backbone: returns a Tensor or an OrderedDict of feature maps, all with
            ``backbone.out_channels`` channels.
        num_classes: classes (including the background).
        min_size, max_size, image_mean, image_std: the transform's resizing and normalisation.
        anchor_generator: one square anchor per location whose side is the level's stride
            (default: sizes 8, 16, 32, 64, 128).
        head: default :class:`FCOSHead`.
        center_sampling_radius: in strides.
        score_thresh: minimum of sqrt(class probability * center-ness).
        nms_thresh: IoU threshold of the per-class NMS.
        detections_per_img: detections kept after NMS.
        topk_candidates: candidates kept per level before NMS.
        kwargs: more arguments of :class:`GeneralizedRCNNTransform`.
    """

    def __init__(self, backbone: nn.Module, num_classes: int, min_size: int = 800,
                 max_size: int = 1333, image_mean: list[float] | None = None,
                 image_std: list[float] | None = None,
                 anchor_generator: AnchorGenerator | None = None, head: nn.Module | None = None,
                 center_sampling_radius: float = 1.5, score_thresh: float = 0.2,
                 nms_thresh: float = 0.6, detections_per_img: int = 100,
                 topk_candidates: int = 1000, **kwargs: Any) -> None:
        super().__init__()
        if not hasattr(backbone, "out_channels"):
            raise ValueError("backbone should contain an attribute out_channels specifying the "
                             "number of output channels (assumed to be the same for all the "
                             "levels)")
        self.backbone = backbone
        if not isinstance(anchor_generator, (AnchorGenerator, type(None))):
            raise TypeError("anchor_generator should be of type AnchorGenerator or None, instead "
                            f" got {type(anchor_generator)}")
        if anchor_generator is None:
            anchor_sizes = ((8,), (16,), (32,), (64,), (128,))  # the levels' strides
            anchor_generator = AnchorGenerator(anchor_sizes, ((1.0,),) * len(anchor_sizes))
        self.anchor_generator = anchor_generator
        if self.anchor_generator.num_anchors_per_location()[0] != 1:
            raise ValueError("anchor_generator.num_anchors_per_location()[0] should be 1 instead "
                             f"of {anchor_generator.num_anchors_per_location()[0]}")
        if head is None:
            head = FCOSHead(backbone.out_channels, anchor_generator.num_anchors_per_location()[0],
                            num_classes)
        self.head = head
        self.box_coder = det_utils.BoxLinearCoder(normalize_by_size=True)
        image_mean = [0.485, 0.456, 0.406] if image_mean is None else image_mean
        image_std = [0.229, 0.224, 0.225] if image_std is None else image_std
        self.transform = GeneralizedRCNNTransform(min_size, max_size, image_mean, image_std,
                                                  **kwargs)
        self.center_sampling_radius = center_sampling_radius
        self.score_thresh = score_thresh
        self.nms_thresh = nms_thresh
        self.detections_per_img = detections_per_img
        self.topk_candidates = topk_candidates

    def eager_outputs(self, losses: dict[str, Tensor], detections: list[dict[str, Tensor]]):
        """The losses in training mode, else the detections."""
        return losses if self.training else detections

    def _match(self, anchors_per_image: Tensor, gt_boxes: Tensor,
               num_anchors_per_level: list[int]) -> Tensor:
        """Each location's box index (-1: background)."""
        gt_centers = (gt_boxes[:, :2] + gt_boxes[:, 2:]) / 2  # (M, 2)
        anchor_centers = (anchors_per_image[:, :2] + anchors_per_image[:, 2:]) / 2  # (R, 2)
        anchor_sizes = anchors_per_image[:, 2] - anchors_per_image[:, 0]
        # center sampling: the location is near the box's center
        center_dist = (anchor_centers[:, None, :] - gt_centers[None, :, :]).abs().max(dim=2)[0]
        match = center_dist < self.center_sampling_radius * anchor_sizes[:, None]
        # ... and inside the box
        x, y = anchor_centers.unsqueeze(dim=2).unbind(dim=1)  # (R, 1) each
        x0, y0, x1, y1 = gt_boxes.unsqueeze(dim=0).unbind(dim=2)  # (1, M) each
        sides = ember.stack([x - x0, y - y0, x1 - x, y1 - y], dim=2)  # (R, M, 4)
        match = match & (sides.min(dim=2)[0] > 0)
        # ... and the box's extent suits the level (first level: no lower, last: no upper bound)
        lower_bound = anchor_sizes * 4
        lower_bound[: num_anchors_per_level[0]] = 0
        upper_bound = anchor_sizes * 8
        upper_bound[-num_anchors_per_level[-1]:] = float("inf")
        extent = sides.max(dim=2)[0]
        match = match & (extent > lower_bound[:, None]) & (extent < upper_bound[:, None])
        # several candidate boxes: the smallest one
        gt_areas = (gt_boxes[:, 2] - gt_boxes[:, 0]) * (gt_boxes[:, 3] - gt_boxes[:, 1])
        preference = match.to(ember.float32) * (1e8 - gt_areas[None, :])
        best, matched_idx = preference.max(dim=1)
        matched_idx[best < 1e-5] = -1
        return matched_idx

    def compute_loss(self, targets: list[dict[str, Tensor]], head_outputs: dict[str, Tensor],
                     anchors: list[Tensor], num_anchors_per_level: list[int]
                     ) -> dict[str, Tensor]:
        """Match each image's locations to its boxes, then the head's losses."""
        matched_idxs = []
        for anchors_per_image, target in zip(anchors, targets):
            if target["boxes"].numel() == 0:
                matched_idxs.append(_unmatched(anchors_per_image))
            else:
                matched_idxs.append(self._match(anchors_per_image, target["boxes"],
                                                num_anchors_per_level))
        return self.head.compute_loss(targets, head_outputs, anchors, matched_idxs)

    def postprocess_detections(self, head_outputs: dict[str, list[Tensor]],
                               anchors: list[list[Tensor]], image_shapes: list[tuple[int, int]]
                               ) -> list[dict[str, Tensor]]:
        """Per image: on each level the best sqrt(class probability * center-ness), their
        decoded and clipped boxes; then per-class NMS over the levels."""
        detections = []
        for index, image_shape in enumerate(image_shapes):
            image_boxes, image_scores, image_labels = [], [], []
            for box_regression, logits, ctrness, level_anchors in zip(
                    head_outputs["bbox_regression"], head_outputs["cls_logits"],
                    head_outputs["bbox_ctrness"], anchors[index]):
                probabilities = ember.sqrt(ember.sigmoid(logits[index])
                                           * ember.sigmoid(ctrness[index]))
                scores, anchor_idxs, labels = _top_scores(probabilities, self.score_thresh,
                                                          self.topk_candidates)
                boxes = self.box_coder.decode(box_regression[index][anchor_idxs],
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
        num_anchors_per_level = [f.shape[2] * f.shape[3] for f in features]

        losses, detections = {}, []
        if self.training:
            losses = self.compute_loss(targets, head_outputs, anchors, num_anchors_per_level)
        else:
            split_outputs, split_anchors = _split_levels(head_outputs, anchors,
                                                         num_anchors_per_level)
            detections = self.postprocess_detections(split_outputs, split_anchors,
                                                     images.image_sizes)
            detections = self.transform.postprocess(detections, images.image_sizes,
                                                    original_image_sizes)
        return self.eager_outputs(losses, detections)


class FCOS_ResNet50_FPN_Weights(WeightsEnum):
    COCO_V1 = _coco_box_weights("fcos_resnet50_fpn_coco-99b0c9b7.pth", 32269600, 39.2)
    DEFAULT = COCO_V1


@register_model()
@handle_legacy_interface(FCOS_ResNet50_FPN_Weights.COCO_V1, ResNet50_Weights.IMAGENET1K_V1)
def fcos_resnet50_fpn(*, weights: FCOS_ResNet50_FPN_Weights | None = None,
                      progress: bool = True, num_classes: int | None = None,
                      weights_backbone: ResNet50_Weights | None = ResNet50_Weights.IMAGENET1K_V1,
                      trainable_backbone_layers: int | None = None, **kwargs: Any) -> FCOS:
    """FCOS with a ResNet-50-FPN backbone (levels P3-P7, P6/P7 from P5).

    Args:
        weights: COCO weights (None: random).
        progress: show download progress.
        num_classes: classes including the background (default 91).
        weights_backbone: ImageNet weights of the ResNet-50 (with weights, its BatchNorms are
            frozen).
        trainable_backbone_layers: trainable ResNet stages counted from the last, 0-5 (default 3
            when pretrained, else 5).
        kwargs: more :class:`FCOS` arguments.
    """
    weights, num_classes, backbone = _detection_resnet50_fpn(
        FCOS_ResNet50_FPN_Weights, weights, weights_backbone, progress, num_classes,
        trainable_backbone_layers, returned_layers=[2, 3, 4],
        extra_blocks=LastLevelP6P7(256, 256))
    model = FCOS(backbone, num_classes, **kwargs)
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True))
    return model
