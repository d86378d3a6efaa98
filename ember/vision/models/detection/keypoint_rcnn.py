"""Keypoint R-CNN (He et al., 2017; torchvision's ``models.detection.keypoint_rcnn``): Faster
R-CNN plus a branch that predicts a heatmap per keypoint for each detection."""
from __future__ import annotations

from typing import Any

from ember import nn
from ember._tensor import Tensor
from ember.nn import functional as F
from ember.vision.models._api import WeightsEnum, register_model
from ember.vision.models._meta import _COCO_PERSON_CATEGORIES, _COCO_PERSON_KEYPOINT_NAMES
from ember.vision.models._utils import _ovewrite_value_param, handle_legacy_interface
from ember.vision.models.detection._utils import overwrite_eps
from ember.vision.models.detection.backbone_utils import _detection_resnet50_fpn
from ember.vision.models.detection.faster_rcnn import (
    _PAPER_RECIPE,
    _REFERENCES,
    _URL,
    FasterRCNN,
    _coco_weights,
)
from ember.vision.models.resnet import ResNet50_Weights
from ember.vision.ops.poolers import MultiScaleRoIAlign

__all__ = ["KeypointRCNN", "KeypointRCNN_ResNet50_FPN_Weights", "keypointrcnn_resnet50_fpn"]


class KeypointRCNN(FasterRCNN):
    """Keypoint R-CNN: :class:`FasterRCNN` whose RoI heads also pool each detection (14x14 by
    default), run ``keypoint_head`` and ``keypoint_predictor``, and locate ``num_keypoints``
    keypoints from their heatmaps.

    Training targets also need ``keypoints`` ``(K, num_keypoints, 3)`` (x, y, visibility; 0
    means not visible); the losses add ``loss_keypoint``. In evaluation each detection also has
    ``keypoints`` ``(K, num_keypoints, 3)`` and ``keypoints_scores`` ``(K, num_keypoints)``.

    Args:
        backbone, num_classes, ...: as :class:`FasterRCNN`, except that ``min_size`` defaults
            to ``(640, 672, 704, 736, 768, 800)`` (one drawn per image in training).
        keypoint_roi_pool: pools the detections' features (default 14x14
            :class:`MultiScaleRoIAlign` over levels ``"0"`` to ``"3"``).
        keypoint_head: default eight 3x3 conv + ReLU layers of 512 channels.
        keypoint_predictor: default :class:`KeypointRCNNPredictor`.
        num_keypoints: default 17 (must be None when ``keypoint_predictor`` is given).
    """

    def __init__(self, backbone: nn.Module, num_classes: int | None = None,
                 # transform parameters
                 min_size: int | tuple[int, ...] | None = None, max_size: int = 1333,
                 image_mean: list[float] | None = None, image_std: list[float] | None = None,
                 # RPN parameters
                 rpn_anchor_generator=None, rpn_head: nn.Module | None = None,
                 rpn_pre_nms_top_n_train: int = 2000, rpn_pre_nms_top_n_test: int = 1000,
                 rpn_post_nms_top_n_train: int = 2000, rpn_post_nms_top_n_test: int = 1000,
                 rpn_nms_thresh: float = 0.7, rpn_fg_iou_thresh: float = 0.7,
                 rpn_bg_iou_thresh: float = 0.3, rpn_batch_size_per_image: int = 256,
                 rpn_positive_fraction: float = 0.5, rpn_score_thresh: float = 0.0,
                 # Box parameters
                 box_roi_pool: MultiScaleRoIAlign | None = None,
                 box_head: nn.Module | None = None, box_predictor: nn.Module | None = None,
                 box_score_thresh: float = 0.05, box_nms_thresh: float = 0.5,
                 box_detections_per_img: int = 100, box_fg_iou_thresh: float = 0.5,
                 box_bg_iou_thresh: float = 0.5, box_batch_size_per_image: int = 512,
                 box_positive_fraction: float = 0.25,
                 bbox_reg_weights: tuple[float, float, float, float] | None = None,
                 # keypoint parameters
                 keypoint_roi_pool: MultiScaleRoIAlign | None = None,
                 keypoint_head: nn.Module | None = None,
                 keypoint_predictor: nn.Module | None = None,
                 num_keypoints: int | None = None, **kwargs: Any) -> None:
        if not isinstance(keypoint_roi_pool, (MultiScaleRoIAlign, type(None))):
            raise TypeError("keypoint_roi_pool should be of type MultiScaleRoIAlign or None "
                            f"instead of {type(keypoint_roi_pool)}")
        if min_size is None:
            min_size = (640, 672, 704, 736, 768, 800)
        if num_keypoints is not None and keypoint_predictor is not None:
            raise ValueError("num_keypoints should be None when keypoint_predictor is specified")
        if num_keypoints is None:
            num_keypoints = 17
        out_channels = backbone.out_channels
        if keypoint_roi_pool is None:
            keypoint_roi_pool = MultiScaleRoIAlign(featmap_names=["0", "1", "2", "3"],
                                                   output_size=14, sampling_ratio=2)
        if keypoint_head is None:
            keypoint_head = KeypointRCNNHeads(out_channels, tuple(512 for _ in range(8)))
        if keypoint_predictor is None:
            keypoint_predictor = KeypointRCNNPredictor(512, num_keypoints)
        super().__init__(
            backbone, num_classes, min_size, max_size, image_mean, image_std,
            rpn_anchor_generator, rpn_head, rpn_pre_nms_top_n_train, rpn_pre_nms_top_n_test,
            rpn_post_nms_top_n_train, rpn_post_nms_top_n_test, rpn_nms_thresh,
            rpn_fg_iou_thresh, rpn_bg_iou_thresh, rpn_batch_size_per_image,
            rpn_positive_fraction, rpn_score_thresh, box_roi_pool, box_head, box_predictor,
            box_score_thresh, box_nms_thresh, box_detections_per_img, box_fg_iou_thresh,
            box_bg_iou_thresh, box_batch_size_per_image, box_positive_fraction,
            bbox_reg_weights, **kwargs)
        self.roi_heads.keypoint_roi_pool = keypoint_roi_pool
        self.roi_heads.keypoint_head = keypoint_head
        self.roi_heads.keypoint_predictor = keypoint_predictor


class KeypointRCNNHeads(nn.Sequential):
    """The keypoint branch's trunk: a 3x3 convolution and a ReLU per entry of ``layers``.

    Args:
        in_channels: channels of the pooled features.
        layers: output channels of each convolution.
    """

    def __init__(self, in_channels: int, layers: list[int] | tuple[int, ...]) -> None:
        blocks = []
        next_feature = in_channels
        for out_channels in layers:
            blocks.append(nn.Conv2d(next_feature, out_channels, 3, stride=1, padding=1))
            blocks.append(nn.ReLU(inplace=True))
            next_feature = out_channels
        super().__init__(*blocks)
        for m in self.children():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.constant_(m.bias, 0)


class KeypointRCNNPredictor(nn.Module):
    """One heatmap logit map per keypoint at 4x the pooled resolution: a stride-2 transposed
    convolution (``kps_score_lowres``), then bilinear upsampling by ``up_scale = 2``.

    Args:
        in_channels: channels of the keypoint head's output.
        num_keypoints: heatmaps to predict.
    """

    def __init__(self, in_channels: int, num_keypoints: int) -> None:
        super().__init__()
        deconv_kernel = 4
        self.kps_score_lowres = nn.ConvTranspose2d(in_channels, num_keypoints, deconv_kernel,
                                                   stride=2, padding=deconv_kernel // 2 - 1)
        nn.init.kaiming_normal_(self.kps_score_lowres.weight, mode="fan_out",
                                nonlinearity="relu")
        nn.init.constant_(self.kps_score_lowres.bias, 0)
        self.up_scale = 2
        self.out_channels = num_keypoints

    def forward(self, x: Tensor) -> Tensor:
        x = self.kps_score_lowres(x)
        return F.interpolate(x, scale_factor=float(self.up_scale), mode="bilinear",
                             align_corners=False, recompute_scale_factor=False)


_COMMON_META = {"categories": _COCO_PERSON_CATEGORIES,
                "keypoint_names": _COCO_PERSON_KEYPOINT_NAMES, "min_size": (1, 1)}


class KeypointRCNN_ResNet50_FPN_Weights(WeightsEnum):
    COCO_LEGACY = _coco_weights(
        _URL + "keypointrcnn_resnet50_fpn_coco-9f466800.pth", 59137258,
        "https://github.com/pytorch/vision/issues/1606", {"box_map": 50.6, "kp_map": 61.1},
        133.924, 226.054,
        "These weights were produced by following a similar training recipe as on the paper "
        "but use a checkpoint from an early epoch.", _COMMON_META)
    COCO_V1 = _coco_weights(
        _URL + "keypointrcnn_resnet50_fpn_coco-fc266e95.pth", 59137258,
        _REFERENCES + "keypoint-r-cnn", {"box_map": 54.6, "kp_map": 65.0}, 137.42, 226.054,
        _PAPER_RECIPE, _COMMON_META)
    DEFAULT = COCO_V1


@register_model()
@handle_legacy_interface(KeypointRCNN_ResNet50_FPN_Weights.COCO_V1,
                         ResNet50_Weights.IMAGENET1K_V1)
def keypointrcnn_resnet50_fpn(*, weights: KeypointRCNN_ResNet50_FPN_Weights | None = None,
                              progress: bool = True, num_classes: int | None = None,
                              num_keypoints: int | None = None,
                              weights_backbone: ResNet50_Weights | None =
                              ResNet50_Weights.IMAGENET1K_V1,
                              trainable_backbone_layers: int | None = None,
                              **kwargs: Any) -> KeypointRCNN:
    """Keypoint R-CNN with a ResNet-50-FPN backbone (`Mask R-CNN
    <https://arxiv.org/abs/1703.06870>`_).

    Args:
        weights: a ``KeypointRCNN_ResNet50_FPN_Weights`` member, its name, or None.
        progress: show a download progress bar.
        num_classes: classes including the background (default 2: no person, person).
        num_keypoints: keypoints per instance (default 17, COCO's).
        weights_backbone: ImageNet weights of the ResNet-50 (ignored with ``weights``).
        trainable_backbone_layers: backbone stages left trainable, 0-5 (default 3 when
            something is pretrained, else 5).
        kwargs: passed to :class:`KeypointRCNN`.
    """
    weights, num_classes, backbone = _detection_resnet50_fpn(
        KeypointRCNN_ResNet50_FPN_Weights, weights, weights_backbone, progress, num_classes,
        trainable_backbone_layers, default_num_classes=2)
    if weights is not None:
        num_keypoints = _ovewrite_value_param("num_keypoints", num_keypoints,
                                              len(weights.meta["keypoint_names"]))
    elif num_keypoints is None:
        num_keypoints = 17
    model = KeypointRCNN(backbone, num_classes, num_keypoints=num_keypoints, **kwargs)
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True))
        if weights == KeypointRCNN_ResNet50_FPN_Weights.COCO_V1:
            overwrite_eps(model, 0.0)  # that checkpoint was trained with eps = 0
    return model
