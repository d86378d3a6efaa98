"""SSD (torchvision's ``models.detection.ssd``): a one-stage detector on a fixed input size whose
default boxes cover several feature maps of decreasing resolution; softmax classification with
hard negative mining and a smooth-L1 box loss."""
from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import Any, Callable

import ember
from ember import nn
from ember._tensor import Tensor
from ember.nn import functional as F
from ember.vision.models._api import WeightsEnum, register_model
from ember.vision.models._utils import handle_legacy_interface
from ember.vision.models.detection import _utils as det_utils
from ember.vision.models.detection.anchor_utils import DefaultBoxGenerator
from ember.vision.models.detection.backbone_utils import (
    _freeze_early_stages,
    _num_classes_for,
    _validate_trainable_layers,
)
from ember.vision.models.detection.retinanet import (
    _coco_box_weights,
    _match_anchors,
    _nms_detections,
    _per_anchor_rows,
    _transform_and_run_head,
)
from ember.vision.models.detection.transform import GeneralizedRCNNTransform
from ember.vision.models.vgg import VGG16_Weights, vgg16
from ember.vision.ops import boxes as box_ops

__all__ = ["SSD", "SSDHead", "SSDScoringHead", "SSDClassificationHead", "SSDRegressionHead",
           "SSDFeatureExtractorVGG", "SSD300_VGG16_Weights", "ssd300_vgg16"]


def _init_convs(module: nn.Module, init_weight: Callable[[Tensor], Tensor]) -> None:
    """``init_weight`` on the weight of every Conv2d in ``module``, zeros on its bias."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            init_weight(layer.weight)
            if layer.bias is not None:
                nn.init.constant_(layer.bias, 0.0)


def _xavier_init(module: nn.Module) -> None:
    _init_convs(module, nn.init.xavier_uniform_)


def _per_map_predictors(in_channels: list[int], num_anchors: list[int], num_columns: int,
                        block: Callable[[int, int], nn.Module],
                        init: Callable[[nn.Module], None]) -> nn.ModuleList:
    """``block(channels, num_columns * anchors)`` for each feature map, then ``init`` on all."""
    predictors = nn.ModuleList(block(channels, num_columns * anchors)
                               for channels, anchors in zip(in_channels, num_anchors))
    init(predictors)
    return predictors


def _conv3x3(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)


class SSDScoringHead(nn.Module):
    """One predictor per feature map (``module_list[i]`` runs on map ``i``), its outputs as
    rows ``(N, H * W * A, num_columns)`` concatenated over the maps.

    Args:
        module_list: the per-map predictors.
        num_columns: values per default box (classes, or 4 box deltas).
    """

    def __init__(self, module_list: nn.ModuleList, num_columns: int) -> None:
        super().__init__()
        self.module_list = module_list
        self.num_columns = num_columns

    def forward(self, x: list[Tensor]) -> Tensor:
        return ember.cat([_per_anchor_rows(module(features), self.num_columns)
                          for module, features in zip(self.module_list, x)], dim=1)


class SSDClassificationHead(SSDScoringHead):
    """A 3x3 conv per feature map to ``num_classes * num_anchors[i]`` logits (Xavier init).

    Args:
        in_channels: channels of each feature map.
        num_anchors: default boxes per location of each map.
        num_classes: classes (including the background, class 0).
    """

    def __init__(self, in_channels: list[int], num_anchors: list[int], num_classes: int) -> None:
        super().__init__(_per_map_predictors(in_channels, num_anchors, num_classes, _conv3x3,
                                             _xavier_init), num_classes)


class SSDRegressionHead(SSDScoringHead):
    """A 3x3 conv per feature map to ``4 * num_anchors[i]`` box deltas (Xavier init).

    Args:
        in_channels: channels of each feature map.
        num_anchors: default boxes per location of each map.
    """

    def __init__(self, in_channels: list[int], num_anchors: list[int]) -> None:
        super().__init__(_per_map_predictors(in_channels, num_anchors, 4, _conv3x3,
                                             _xavier_init), 4)


class SSDHead(nn.Module):
    """SSD's classification and regression heads.

    Args:
        in_channels: channels of each feature map.
        num_anchors: default boxes per location of each map.
        num_classes: classes (including the background).

    Example::

        >>> head = SSDHead([8, 4], [4, 6], 3)
        >>> {k: v.shape for k, v in head([ember.rand(1, 8, 4, 4), ember.rand(1, 4, 2, 2)]).items()}
        {'bbox_regression': torch.Size([1, 88, 4]), 'cls_logits': torch.Size([1, 88, 3])}
    """

    def __init__(self, in_channels: list[int], num_anchors: list[int], num_classes: int) -> None:
        super().__init__()
        self.classification_head = SSDClassificationHead(in_channels, num_anchors, num_classes)
        self.regression_head = SSDRegressionHead(in_channels, num_anchors)

    def forward(self, x: list[Tensor]) -> dict[str, Tensor]:
        return {"bbox_regression": self.regression_head(x),
                "cls_logits": self.classification_head(x)}


class SSD(nn.Module):
    """SSD (`SSD: Single Shot MultiBox Detector <https://arxiv.org/abs/1512.02325>`_).

    Takes a list of ``(C, H, W)`` images in [0, 1], resized to ``size`` (so any sizes). In
    training mode, also ``targets`` (``boxes`` x1y1x2y2, ``labels`` with 0 the background) and
    returns the losses ``{"bbox_regression", "classification"}``; in eval mode one dict per image
    with ``boxes``, ``scores`` and ``labels``.

    Args:
        backbone: returns a Tensor or an OrderedDict of feature maps; its ``out_channels`` (a
            list) is measured on a dummy image when absent.
        anchor_generator: a :class:`DefaultBoxGenerator`.
        size: ``(width, height)`` the images are resized to.
        num_classes: classes (including the background).
        image_mean, image_std: the transform's normalisation (ImageNet's by default).
        head: default :class:`SSDHead`.
        score_thresh: minimum softmax score of a detection.
        nms_thresh: IoU threshold of the per-class NMS.
        detections_per_img: detections kept after NMS.
        iou_thresh: IoU at which a default box is matched to a box.
        topk_candidates: candidates kept per class before NMS.
        positive_fraction: the share of positives among the boxes the classification loss
            counts (the hardest negatives fill the rest).
        kwargs: more arguments of :class:`GeneralizedRCNNTransform`.
    """

    def __init__(self, backbone: nn.Module, anchor_generator: DefaultBoxGenerator,
                 size: tuple[int, int], num_classes: int,
                 image_mean: list[float] | None = None, image_std: list[float] | None = None,
                 head: nn.Module | None = None, score_thresh: float = 0.01,
                 nms_thresh: float = 0.45, detections_per_img: int = 200,
                 iou_thresh: float = 0.5, topk_candidates: int = 400,
                 positive_fraction: float = 0.25, **kwargs: Any) -> None:
        super().__init__()
        self.backbone = backbone
        self.anchor_generator = anchor_generator
        self.box_coder = det_utils.BoxCoder(weights=(10.0, 10.0, 5.0, 5.0))
        if head is None:
            if hasattr(backbone, "out_channels"):
                out_channels = backbone.out_channels
            else:
                out_channels = det_utils.retrieve_out_channels(backbone, size)
            if len(out_channels) != len(anchor_generator.aspect_ratios):
                raise ValueError(
                    f"The length of the output channels from the backbone ({len(out_channels)}) "
                    "do not match the length of the anchor generator aspect ratios "
                    f"({len(anchor_generator.aspect_ratios)})")
            head = SSDHead(out_channels, self.anchor_generator.num_anchors_per_location(),
                           num_classes)
        self.head = head
        self.proposal_matcher = det_utils.SSDMatcher(iou_thresh)
        image_mean = [0.485, 0.456, 0.406] if image_mean is None else image_mean
        image_std = [0.229, 0.224, 0.225] if image_std is None else image_std
        self.transform = GeneralizedRCNNTransform(min(size), max(size), image_mean, image_std,
                                                  size_divisible=1, fixed_size=size, **kwargs)
        self.score_thresh = score_thresh
        self.nms_thresh = nms_thresh
        self.detections_per_img = detections_per_img
        self.topk_candidates = topk_candidates
        self.neg_to_pos_ratio = (1.0 - positive_fraction) / positive_fraction

    def eager_outputs(self, losses: dict[str, Tensor], detections: list[dict[str, Tensor]]):
        """The losses in training mode, else the detections."""
        return losses if self.training else detections

    def compute_loss(self, targets: list[dict[str, Tensor]], head_outputs: dict[str, Tensor],
                     anchors: list[Tensor], matched_idxs: list[Tensor]) -> dict[str, Tensor]:
        """Smooth-L1 on the matched boxes' encoded deltas; cross-entropy on the positives and on
        the ``neg_to_pos_ratio`` times as many highest-loss negatives of each image; both summed
        and divided by the batch's number of positives."""
        num_foreground = 0
        bbox_loss, cls_targets = [], []
        for target, bbox_regression, cls_logits, anchors_per_image, matched in zip(
                targets, head_outputs["bbox_regression"], head_outputs["cls_logits"], anchors,
                matched_idxs):
            foreground = ember.where(matched >= 0)[0]
            foreground_matched = matched[foreground]
            num_foreground += foreground_matched.numel()
            target_regression = self.box_coder.encode_single(
                target["boxes"][foreground_matched], anchors_per_image[foreground, :])
            bbox_loss.append(F.smooth_l1_loss(bbox_regression[foreground, :], target_regression,
                                              reduction="sum"))
            gt_classes = ember.zeros((cls_logits.shape[0],), dtype=target["labels"].dtype,
                                     device=target["labels"].device)
            gt_classes[foreground] = target["labels"][foreground_matched]
            cls_targets.append(gt_classes)
        bbox_loss = ember.stack(bbox_loss)
        cls_targets = ember.stack(cls_targets)

        cls_logits = head_outputs["cls_logits"]
        num_classes = cls_logits.shape[-1]
        cls_loss = F.cross_entropy(cls_logits.view(-1, num_classes), cls_targets.view(-1),
                                   reduction="none").view(cls_targets.shape)

        # hard negative mining: per image, the negatives ranked by loss, the first
        # neg_to_pos_ratio * (positives) of them kept (positives ranked last by their -inf)
        foreground_mask = cls_targets > 0
        num_negative = self.neg_to_pos_ratio * foreground_mask.sum(1, keepdim=True)
        negative_loss = cls_loss.detach().clone()
        negative_loss[foreground_mask] = -float("inf")
        _, order = negative_loss.sort(1, descending=True)
        background_mask = order.sort(1)[1] < num_negative

        n = max(1, num_foreground)
        return {"bbox_regression": bbox_loss.sum() / n,
                "classification": (cls_loss[foreground_mask].sum()
                                   + cls_loss[background_mask].sum()) / n}

    def forward(self, images: list[Tensor], targets: list[dict[str, Tensor]] | None = None):
        """Losses (training) or detections (eval); see the class docstring."""
        original_image_sizes, images, targets, features, head_outputs, anchors = (
            _transform_and_run_head(self, images, targets))

        losses, detections = {}, []
        if self.training:
            matched_idxs = _match_anchors(self.proposal_matcher, anchors, targets)
            losses = self.compute_loss(targets, head_outputs, anchors, matched_idxs)
        else:
            detections = self.postprocess_detections(head_outputs, anchors, images.image_sizes)
            detections = self.transform.postprocess(detections, images.image_sizes,
                                                    original_image_sizes)
        return self.eager_outputs(losses, detections)

    def postprocess_detections(self, head_outputs: dict[str, Tensor], image_anchors: list[Tensor],
                               image_shapes: list[tuple[int, int]]) -> list[dict[str, Tensor]]:
        """Per image: decode and clip every box, keep each foreground class's best
        ``topk_candidates`` softmax scores above ``score_thresh``, then per-class NMS."""
        pred_scores = F.softmax(head_outputs["cls_logits"], dim=-1)
        num_classes = pred_scores.shape[-1]
        detections = []
        for box_regression, scores, anchors, image_shape in zip(
                head_outputs["bbox_regression"], pred_scores, image_anchors, image_shapes):
            boxes = self.box_coder.decode_single(box_regression, anchors)
            boxes = box_ops.clip_boxes_to_image(boxes, image_shape)
            image_boxes, image_scores, image_labels = [], [], []
            for label in range(1, num_classes):
                score = scores[:, label]
                keep = score > self.score_thresh
                score, box = score[keep], boxes[keep]
                score, idxs = score.topk(det_utils._topk_min(score, self.topk_candidates, 0))
                image_boxes.append(box[idxs])
                image_scores.append(score)
                image_labels.append(ember.full_like(score, label, dtype=ember.int64))
            detections.append(_nms_detections(image_boxes, image_scores, image_labels,
                                              self.nms_thresh, self.detections_per_img))
        return detections


class SSDFeatureExtractorVGG(nn.Module):
    """SSD300's (or SSD512's, ``highres``) feature maps from a VGG's ``features``: conv4_3
    (L2-normalised, rescaled by a learned per-channel weight starting at 20), the converted
    fc6/fc7, and four (five) extra blocks of decreasing resolution.

    Args:
        backbone: a VGG's ``features`` Sequential (its third max-pool is switched to
            ``ceil_mode``, as the paper's sizes need).
        highres: add the fifth extra block of SSD512.
    """

    def __init__(self, backbone: nn.Module, highres: bool) -> None:
        super().__init__()
        _, _, maxpool3_pos, maxpool4_pos, _ = (i for i, layer in enumerate(backbone)
                                               if isinstance(layer, nn.MaxPool2d))
        backbone[maxpool3_pos].ceil_mode = True
        self.scale_weight = nn.Parameter(ember.ones(512) * 20)
        self.features = nn.Sequential(*backbone[:maxpool4_pos])  # until conv4_3
        extra = nn.ModuleList([
            _extra_vgg_block(1024, 256, 512, kernel_size=3, padding=1, stride=2),  # conv8_2
            _extra_vgg_block(512, 128, 256, kernel_size=3, padding=1, stride=2),  # conv9_2
            _extra_vgg_block(256, 128, 256, kernel_size=3),  # conv10_2
            _extra_vgg_block(256, 128, 256, kernel_size=3),  # conv11_2
        ])
        if highres:
            extra.append(_extra_vgg_block(256, 128, 256, kernel_size=4))  # conv12_2 (SSD512)
        _xavier_init(extra)
        fc = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=False),  # modified pool5
            nn.Conv2d(in_channels=512, out_channels=1024, kernel_size=3, padding=6,
                      dilation=6),  # fc6, atrous
            nn.ReLU(inplace=True),
            nn.Conv2d(in_channels=1024, out_channels=1024, kernel_size=1),  # fc7
            nn.ReLU(inplace=True),
        )
        _xavier_init(fc)
        # conv5_3 without pool5, then fc6/fc7: the first map after conv4_3
        extra.insert(0, nn.Sequential(*backbone[maxpool4_pos:-1], fc))
        self.extra = extra

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        x = self.features(x)
        output = [self.scale_weight.view(1, -1, 1, 1) * F.normalize(x)]
        for block in self.extra:
            x = block(x)
            output.append(x)
        return OrderedDict([(str(i), v) for i, v in enumerate(output)])


def _extra_vgg_block(in_channels: int, mid_channels: int, out_channels: int,
                     **conv_kwargs: int) -> nn.Sequential:
    """1x1 conv to ``mid_channels``, ReLU, a conv (``conv_kwargs``) to ``out_channels``, ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, mid_channels, kernel_size=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(mid_channels, out_channels, **conv_kwargs),
        nn.ReLU(inplace=True),
    )


def _vgg_extractor(backbone: nn.Module, highres: bool,
                   trainable_layers: int) -> SSDFeatureExtractorVGG:
    """Freeze all but the last ``trainable_layers`` of the VGG's five stages, then wrap its
    ``features`` in :class:`SSDFeatureExtractorVGG`."""
    backbone = backbone.features
    # a stage starts at the first layer or after each max-pool (the last one ends the network)
    stage_indices = [0] + [i for i, b in enumerate(backbone) if isinstance(b, nn.MaxPool2d)][:-1]
    num_stages = len(stage_indices)
    if not 0 <= trainable_layers <= num_stages:
        raise AssertionError(f"trainable_layers should be in the range [0, {num_stages}]. "
                             f"Instead got {trainable_layers}")
    _freeze_early_stages(backbone, stage_indices, trainable_layers)
    return SSDFeatureExtractorVGG(backbone, highres)


class SSD300_VGG16_Weights(WeightsEnum):
    COCO_V1 = _coco_box_weights("ssd300_vgg16_coco-b556d3b4.pth", 35641826, 25.1)
    DEFAULT = COCO_V1


@register_model()
@handle_legacy_interface(SSD300_VGG16_Weights.COCO_V1, VGG16_Weights.IMAGENET1K_FEATURES)
def ssd300_vgg16(*, weights: SSD300_VGG16_Weights | None = None, progress: bool = True,
                 num_classes: int | None = None,
                 weights_backbone: VGG16_Weights | None = VGG16_Weights.IMAGENET1K_FEATURES,
                 trainable_backbone_layers: int | None = None, **kwargs: Any) -> SSD:
    """SSD300 with a VGG-16 backbone; images are resized to 300x300.

    Args:
        weights: COCO weights (None: random).
        progress: show download progress.
        num_classes: classes including the background (default 91).
        weights_backbone: the VGG-16's weights (default: its ``IMAGENET1K_FEATURES``).
        trainable_backbone_layers: trainable VGG stages counted from the last, 0-5 (default 4
            when pretrained, else 5).
        kwargs: more :class:`SSD` arguments (``size`` is fixed and ignored).

    Example::

        >>> model = ssd300_vgg16(weights_backbone=None, num_classes=3).eval()
        >>> sorted(model([ember.rand(3, 100, 120)])[0])
        ['boxes', 'labels', 'scores']
    """
    weights = SSD300_VGG16_Weights.verify(weights)
    weights_backbone = VGG16_Weights.verify(weights_backbone)
    if "size" in kwargs:
        warnings.warn("The size of the model is already fixed; ignoring the parameter.",
                      stacklevel=2)
    if weights is not None:
        weights_backbone = None
    num_classes = _num_classes_for(weights, num_classes)
    trainable_backbone_layers = _validate_trainable_layers(
        weights is not None or weights_backbone is not None, trainable_backbone_layers, 5, 4)
    backbone = vgg16(weights=weights_backbone, progress=progress)
    backbone = _vgg_extractor(backbone, False, trainable_backbone_layers)
    anchor_generator = DefaultBoxGenerator(
        [[2], [2, 3], [2, 3], [2, 3], [2], [2]],
        scales=[0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05],
        steps=[8, 16, 32, 64, 100, 300],
    )
    defaults = {
        # the backbone's preprocessing: mean subtraction on [0, 255] pixels
        "image_mean": [0.48235, 0.45882, 0.40784],
        "image_std": [1.0 / 255.0, 1.0 / 255.0, 1.0 / 255.0],
    }
    kwargs = {**defaults, **kwargs}
    kwargs.pop("size", None)
    model = SSD(backbone, anchor_generator, (300, 300), num_classes, **kwargs)
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True))
    return model
