"""Mask R-CNN (He et al., 2017; torchvision's ``models.detection.mask_rcnn``): Faster R-CNN plus
a branch that predicts a binary mask per detection."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable

from ember import nn
from ember.vision.models._api import WeightsEnum, register_model
from ember.vision.models._utils import handle_legacy_interface
from ember.vision.models.detection._utils import overwrite_eps
from ember.vision.models.detection.backbone_utils import _detection_resnet50_fpn
from ember.vision.models.detection.faster_rcnn import (
    _ENHANCED_RECIPE,
    _PAPER_RECIPE,
    _REFERENCES,
    _URL,
    FasterRCNN,
    _coco_weights,
    _v2_rpn_and_box_heads,
)
from ember.vision.models.resnet import ResNet50_Weights
from ember.vision.ops.misc import Conv2dNormActivation
from ember.vision.ops.poolers import MultiScaleRoIAlign

__all__ = ["MaskRCNN", "MaskRCNN_ResNet50_FPN_Weights", "MaskRCNN_ResNet50_FPN_V2_Weights",
           "maskrcnn_resnet50_fpn", "maskrcnn_resnet50_fpn_v2"]


class MaskRCNN(FasterRCNN):
    """Mask R-CNN: :class:`FasterRCNN` whose RoI heads also pool each detection (14x14 by
    default), run ``mask_head`` and ``mask_predictor``, and return per-class mask logits.

    Training targets also need ``masks`` ``(K, H, W)`` uint8; the losses add ``loss_mask``.
    In evaluation each detection also has ``masks`` ``(K, 1, H, W)``: probabilities pasted
    into the original image.

    Args:
        backbone, num_classes, ...: as :class:`FasterRCNN`.
        mask_roi_pool: pools the detections' features (default 14x14
            :class:`MultiScaleRoIAlign` over levels ``"0"`` to ``"3"``).
        mask_head: default four 3x3 conv + ReLU layers of 256 channels.
        mask_predictor: default :class:`MaskRCNNPredictor` (``num_classes`` must be None when
            one is given).
    """

    def __init__(self, backbone: nn.Module, num_classes: int | None = None,
                 # transform parameters
                 min_size: int = 800, max_size: int = 1333,
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
                 # Mask parameters
                 mask_roi_pool: MultiScaleRoIAlign | None = None,
                 mask_head: nn.Module | None = None, mask_predictor: nn.Module | None = None,
                 **kwargs: Any) -> None:
        if not isinstance(mask_roi_pool, (MultiScaleRoIAlign, type(None))):
            raise TypeError("mask_roi_pool should be of type MultiScaleRoIAlign or None instead "
                            f"of {type(mask_roi_pool)}")
        if num_classes is not None and mask_predictor is not None:
            raise ValueError("num_classes should be None when mask_predictor is specified")
        out_channels = backbone.out_channels
        if mask_roi_pool is None:
            mask_roi_pool = MultiScaleRoIAlign(featmap_names=["0", "1", "2", "3"],
                                               output_size=14, sampling_ratio=2)
        if mask_head is None:
            mask_head = MaskRCNNHeads(out_channels, (256, 256, 256, 256), 1)
        if mask_predictor is None:
            mask_predictor = MaskRCNNPredictor(256, 256, num_classes)
        super().__init__(
            backbone, num_classes, min_size, max_size, image_mean, image_std,
            rpn_anchor_generator, rpn_head, rpn_pre_nms_top_n_train, rpn_pre_nms_top_n_test,
            rpn_post_nms_top_n_train, rpn_post_nms_top_n_test, rpn_nms_thresh,
            rpn_fg_iou_thresh, rpn_bg_iou_thresh, rpn_batch_size_per_image,
            rpn_positive_fraction, rpn_score_thresh, box_roi_pool, box_head, box_predictor,
            box_score_thresh, box_nms_thresh, box_detections_per_img, box_fg_iou_thresh,
            box_bg_iou_thresh, box_batch_size_per_image, box_positive_fraction,
            bbox_reg_weights, **kwargs)
        self.roi_heads.mask_roi_pool = mask_roi_pool
        self.roi_heads.mask_head = mask_head
        self.roi_heads.mask_predictor = mask_predictor


class MaskRCNNHeads(nn.Sequential):
    """The mask branch's trunk: one 3x3 conv-(norm-)ReLU block per entry of ``layers``.

    Args:
        in_channels: channels of the pooled features.
        layers: output channels of each block.
        dilation: dilation (and padding) of the convolutions.
        norm_layer: normalization in the blocks (default none).
    """

    # version 2 names the convolutions "<i>.0"; version 1 checkpoints say "mask_fcn<i+1>"
    _version = 2

    def __init__(self, in_channels: int, layers: list[int] | tuple[int, ...], dilation: int,
                 norm_layer: Callable[..., nn.Module] | None = None) -> None:
        blocks = []
        next_feature = in_channels
        for layer_features in layers:
            blocks.append(Conv2dNormActivation(next_feature, layer_features, kernel_size=3,
                                               stride=1, padding=dilation, dilation=dilation,
                                               norm_layer=norm_layer))
            next_feature = layer_features
        super().__init__(*blocks)
        for layer in self.modules():
            if isinstance(layer, nn.Conv2d):
                nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
                if layer.bias is not None:
                    nn.init.zeros_(layer.bias)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        version = local_metadata.get("version", None)
        if version is None or version < 2:
            for i in range(len(self)):
                for kind in ("weight", "bias"):
                    old_key = f"{prefix}mask_fcn{i + 1}.{kind}"
                    if old_key in state_dict:
                        state_dict[f"{prefix}{i}.0.{kind}"] = state_dict.pop(old_key)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)


class MaskRCNNPredictor(nn.Sequential):
    """Upsamples the mask features by 2 (``conv5_mask``, a transposed convolution), ReLU, and
    gives one mask logit map per class (``mask_fcn_logits``, 1x1).

    Args:
        in_channels: channels of the mask head's output.
        dim_reduced: channels after the transposed convolution.
        num_classes: classes including the background.
    """

    def __init__(self, in_channels: int, dim_reduced: int, num_classes: int) -> None:
        super().__init__(OrderedDict([
            ("conv5_mask", nn.ConvTranspose2d(in_channels, dim_reduced, 2, 2, 0)),
            ("relu", nn.ReLU(inplace=True)),
            ("mask_fcn_logits", nn.Conv2d(dim_reduced, num_classes, 1, 1, 0)),
        ]))
        # weights only: the biases keep their default initialisation, as in torchvision
        for name, param in self.named_parameters():
            if "weight" in name:
                nn.init.kaiming_normal_(param, mode="fan_out", nonlinearity="relu")


class MaskRCNN_ResNet50_FPN_Weights(WeightsEnum):
    COCO_V1 = _coco_weights(_URL + "maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth", 44401393,
                            _REFERENCES + "mask-r-cnn", {"box_map": 37.9, "mask_map": 34.6},
                            134.38, 169.84, _PAPER_RECIPE)
    DEFAULT = COCO_V1


class MaskRCNN_ResNet50_FPN_V2_Weights(WeightsEnum):
    COCO_V1 = _coco_weights(_URL + "maskrcnn_resnet50_fpn_v2_coco-73cbd019.pth", 46359409,
                            "https://github.com/pytorch/vision/pull/5773",
                            {"box_map": 47.4, "mask_map": 41.8}, 333.577, 177.219,
                            _ENHANCED_RECIPE)
    DEFAULT = COCO_V1


@register_model()
@handle_legacy_interface(MaskRCNN_ResNet50_FPN_Weights.COCO_V1, ResNet50_Weights.IMAGENET1K_V1)
def maskrcnn_resnet50_fpn(*, weights: MaskRCNN_ResNet50_FPN_Weights | None = None,
                          progress: bool = True, num_classes: int | None = None,
                          weights_backbone: ResNet50_Weights | None =
                          ResNet50_Weights.IMAGENET1K_V1,
                          trainable_backbone_layers: int | None = None,
                          **kwargs: Any) -> MaskRCNN:
    """Mask R-CNN with a ResNet-50-FPN backbone (`Mask R-CNN
    <https://arxiv.org/abs/1703.06870>`_).

    Args:
        weights: a ``MaskRCNN_ResNet50_FPN_Weights`` member, its name, or None.
        progress: show a download progress bar.
        num_classes: classes including the background (default 91, or the weights').
        weights_backbone: ImageNet weights of the ResNet-50 (ignored with ``weights``).
        trainable_backbone_layers: backbone stages left trainable, 0-5 (default 3 when
            something is pretrained, else 5).
        kwargs: passed to :class:`MaskRCNN`.
    """
    weights, num_classes, backbone = _detection_resnet50_fpn(
        MaskRCNN_ResNet50_FPN_Weights, weights, weights_backbone, progress, num_classes,
        trainable_backbone_layers)
    model = MaskRCNN(backbone, num_classes=num_classes, **kwargs)
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True))
        if weights == MaskRCNN_ResNet50_FPN_Weights.COCO_V1:
            overwrite_eps(model, 0.0)  # that checkpoint was trained with eps = 0
    return model


@register_model()
@handle_legacy_interface(MaskRCNN_ResNet50_FPN_V2_Weights.COCO_V1, ResNet50_Weights.IMAGENET1K_V1)
def maskrcnn_resnet50_fpn_v2(*, weights: MaskRCNN_ResNet50_FPN_V2_Weights | None = None,
                             progress: bool = True, num_classes: int | None = None,
                             weights_backbone: ResNet50_Weights | None = None,
                             trainable_backbone_layers: int | None = None,
                             **kwargs: Any) -> MaskRCNN:
    """Mask R-CNN v2 (`Benchmarking Detection Transfer Learning with Vision Transformers
    <https://arxiv.org/abs/2111.11429>`_): batch-normalized FPN, box and mask heads, two-conv
    RPN head. Arguments as :func:`maskrcnn_resnet50_fpn`."""
    weights, num_classes, backbone = _detection_resnet50_fpn(
        MaskRCNN_ResNet50_FPN_V2_Weights, weights, weights_backbone, progress, num_classes,
        trainable_backbone_layers, frozen_bn=False, fpn_norm_layer=nn.BatchNorm2d)
    mask_head = MaskRCNNHeads(backbone.out_channels, [256, 256, 256, 256], 1,
                              norm_layer=nn.BatchNorm2d)
    model = MaskRCNN(backbone, num_classes=num_classes,
                     **_v2_rpn_and_box_heads(backbone.out_channels), mask_head=mask_head,
                     **kwargs)
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True))
    return model
