"""SSDlite (torchvision's ``models.detection.ssdlite``): SSD with depthwise-separable prediction
and extra blocks (MobileNetV2 paper, section 6.2) on a MobileNetV3-Large backbone."""
from __future__ import annotations

import warnings
from collections import OrderedDict
from functools import partial
from typing import Any, Callable

from ember import nn
from ember._tensor import Tensor
from ember.vision.models._api import WeightsEnum, register_model
from ember.vision.models._utils import handle_legacy_interface
from ember.vision.models.detection import _utils as det_utils
from ember.vision.models.detection.anchor_utils import DefaultBoxGenerator
from ember.vision.models.detection.backbone_utils import (
    _freeze_early_stages,
    _mobilenet_stage_indices,
    _num_classes_for,
    _validate_trainable_layers,
)
from ember.vision.models.detection.retinanet import _coco_box_weights
from ember.vision.models.detection.ssd import (
    SSD,
    SSDHead,
    SSDScoringHead,
    _init_convs,
    _per_map_predictors,
)
from ember.vision.models.mobilenetv3 import MobileNet_V3_Large_Weights, mobilenet_v3_large
from ember.vision.ops.misc import Conv2dNormActivation

__all__ = ["SSDLiteHead", "SSDLiteClassificationHead", "SSDLiteRegressionHead",
           "SSDLiteFeatureExtractorMobileNet", "SSDLite320_MobileNet_V3_Large_Weights",
           "ssdlite320_mobilenet_v3_large"]


def _prediction_block(in_channels: int, out_channels: int, kernel_size: int,
                      norm_layer: Callable[..., nn.Module]) -> nn.Sequential:
    """A depthwise ``kernel_size`` conv + norm + ReLU6, then a 1x1 conv to ``out_channels``."""
    return nn.Sequential(
        Conv2dNormActivation(in_channels, in_channels, kernel_size=kernel_size,
                             groups=in_channels, norm_layer=norm_layer,
                             activation_layer=nn.ReLU6),
        nn.Conv2d(in_channels, out_channels, 1),
    )


def _extra_block(in_channels: int, out_channels: int,
                 norm_layer: Callable[..., nn.Module]) -> nn.Sequential:
    """1x1 to half of ``out_channels``, a stride-2 depthwise 3x3, 1x1 to ``out_channels``; each
    with norm and ReLU6."""
    mid_channels = out_channels // 2
    return nn.Sequential(
        Conv2dNormActivation(in_channels, mid_channels, kernel_size=1, norm_layer=norm_layer,
                             activation_layer=nn.ReLU6),
        Conv2dNormActivation(mid_channels, mid_channels, kernel_size=3, stride=2,
                             groups=mid_channels, norm_layer=norm_layer,
                             activation_layer=nn.ReLU6),
        Conv2dNormActivation(mid_channels, out_channels, kernel_size=1, norm_layer=norm_layer,
                             activation_layer=nn.ReLU6),
    )


def _normal_init(module: nn.Module) -> None:
    _init_convs(module, partial(nn.init.normal_, mean=0.0, std=0.03))


class SSDLiteClassificationHead(SSDScoringHead):
    """A depthwise-separable prediction block per feature map to ``num_classes * num_anchors[i]``
    logits.

    Args:
        in_channels: channels of each feature map.
        num_anchors: default boxes per location of each map.
        num_classes: classes (including the background).
        norm_layer: the blocks' normalisation.
    """

    def __init__(self, in_channels: list[int], num_anchors: list[int], num_classes: int,
                 norm_layer: Callable[..., nn.Module]) -> None:
        block = partial(_prediction_block, kernel_size=3, norm_layer=norm_layer)
        super().__init__(_per_map_predictors(in_channels, num_anchors, num_classes, block,
                                             _normal_init), num_classes)


class SSDLiteRegressionHead(SSDScoringHead):
    """A depthwise-separable prediction block per feature map to ``4 * num_anchors[i]`` deltas.

    Args:
        in_channels: channels of each feature map.
        num_anchors: default boxes per location of each map.
        norm_layer: the blocks' normalisation.
    """

    def __init__(self, in_channels: list[int], num_anchors: list[int],
                 norm_layer: Callable[..., nn.Module]) -> None:
        block = partial(_prediction_block, kernel_size=3, norm_layer=norm_layer)
        super().__init__(_per_map_predictors(in_channels, num_anchors, 4, block, _normal_init), 4)


class SSDLiteHead(nn.Module):
    """SSDlite's classification and regression heads.

    Args:
        in_channels: channels of each feature map.
        num_anchors: default boxes per location of each map.
        num_classes: classes (including the background).
        norm_layer: the blocks' normalisation.

    Example::

        >>> head = SSDLiteHead([8, 4], [6, 6], 3, nn.BatchNorm2d)
        >>> {k: v.shape for k, v in head([ember.rand(2, 8, 2, 2), ember.rand(2, 4, 1, 1)]).items()}
        {'bbox_regression': torch.Size([2, 30, 4]), 'cls_logits': torch.Size([2, 30, 3])}
    """

    def __init__(self, in_channels: list[int], num_anchors: list[int], num_classes: int,
                 norm_layer: Callable[..., nn.Module]) -> None:
        super().__init__()
        self.classification_head = SSDLiteClassificationHead(in_channels, num_anchors,
                                                             num_classes, norm_layer)
        self.regression_head = SSDLiteRegressionHead(in_channels, num_anchors, norm_layer)

    forward = SSDHead.forward  # both heads' outputs, keyed as SSD's


class SSDLiteFeatureExtractorMobileNet(nn.Module):
    """Six feature maps from a MobileNet's ``features``: the C4 block's expansion (MobileNetV3
    paper, section 6.3), the network's end, and four extra blocks.

    Args:
        backbone: the MobileNet's ``features``.
        c4_pos: index of the last strided block (its expansion output is the first map).
        norm_layer: the extra blocks' normalisation.
        width_mult, min_depth: the extra blocks' channels are ``max(min_depth, d * width_mult)``
            for d in 512, 256, 256, 128.
    """

    def __init__(self, backbone: nn.Module, c4_pos: int, norm_layer: Callable[..., nn.Module],
                 width_mult: float = 1.0, min_depth: int = 16) -> None:
        super().__init__()
        if backbone[c4_pos].use_res_connect:
            raise ValueError("backbone[c4_pos].use_res_connect should be False")
        self.features = nn.Sequential(
            nn.Sequential(*backbone[:c4_pos], backbone[c4_pos].block[0]),
            nn.Sequential(backbone[c4_pos].block[1:], *backbone[c4_pos + 1:]),
        )

        def depth(d: int) -> int:
            return max(min_depth, int(d * width_mult))

        extra = nn.ModuleList([
            _extra_block(backbone[-1].out_channels, depth(512), norm_layer),
            _extra_block(depth(512), depth(256), norm_layer),
            _extra_block(depth(256), depth(256), norm_layer),
            _extra_block(depth(256), depth(128), norm_layer),
        ])
        _normal_init(extra)
        self.extra = extra

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        output = []
        for block in [*self.features, *self.extra]:
            x = block(x)
            output.append(x)
        return OrderedDict([(str(i), v) for i, v in enumerate(output)])


def _mobilenet_extractor(backbone: nn.Module, trainable_layers: int,
                         norm_layer: Callable[..., nn.Module]) -> SSDLiteFeatureExtractorMobileNet:
    """Freeze all but the last ``trainable_layers`` stages of the MobileNet (a stage starts at the
    first block, at each strided block, and at the last block), then wrap its ``features``."""
    backbone = backbone.features
    stage_indices = _mobilenet_stage_indices(backbone)
    num_stages = len(stage_indices)
    if not 0 <= trainable_layers <= num_stages:
        raise ValueError(f"trainable_layers should be in the range [0, {num_stages}], instead "
                         f"got {trainable_layers}")
    _freeze_early_stages(backbone, stage_indices, trainable_layers)
    return SSDLiteFeatureExtractorMobileNet(backbone, stage_indices[-2], norm_layer)


class SSDLite320_MobileNet_V3_Large_Weights(WeightsEnum):
    COCO_V1 = _coco_box_weights("ssdlite320_mobilenet_v3_large_coco-a79551df.pth", 3440060, 21.3)
    DEFAULT = COCO_V1


@register_model()
@handle_legacy_interface(SSDLite320_MobileNet_V3_Large_Weights.COCO_V1,
                         MobileNet_V3_Large_Weights.IMAGENET1K_V1)
def ssdlite320_mobilenet_v3_large(
        *, weights: SSDLite320_MobileNet_V3_Large_Weights | None = None, progress: bool = True,
        num_classes: int | None = None,
        weights_backbone: MobileNet_V3_Large_Weights | None =
        MobileNet_V3_Large_Weights.IMAGENET1K_V1,
        trainable_backbone_layers: int | None = None,
        norm_layer: Callable[..., nn.Module] | None = None, **kwargs: Any) -> SSD:
    """SSDlite with a MobileNetV3-Large backbone; images are resized to 320x320.

    Args:
        weights: COCO weights (None: random).
        progress: show download progress.
        num_classes: classes including the background (default 91).
        weights_backbone: the MobileNetV3-Large's ImageNet weights (None: a random backbone with
            the reduced tail of the paper's table 6).
        trainable_backbone_layers: trainable stages counted from the last, 0-6 (default 6).
        norm_layer: default BatchNorm2d(eps=0.001, momentum=0.03).
        kwargs: more :class:`SSD` arguments (``size`` is fixed and ignored), also passed to
            ``mobilenet_v3_large``.
    """
    weights = SSDLite320_MobileNet_V3_Large_Weights.verify(weights)
    weights_backbone = MobileNet_V3_Large_Weights.verify(weights_backbone)
    if "size" in kwargs:
        warnings.warn("The size of the model is already fixed; ignoring the parameter.",
                      stacklevel=2)
    if weights is not None:
        weights_backbone = None
    num_classes = _num_classes_for(weights, num_classes)
    trainable_backbone_layers = _validate_trainable_layers(
        weights is not None or weights_backbone is not None, trainable_backbone_layers, 6, 6)
    reduce_tail = weights_backbone is None  # the paper's table 6, when training from scratch
    if norm_layer is None:
        norm_layer = partial(nn.BatchNorm2d, eps=0.001, momentum=0.03)
    backbone = mobilenet_v3_large(weights=weights_backbone, progress=progress,
                                  norm_layer=norm_layer, reduced_tail=reduce_tail, **kwargs)
    if weights_backbone is None:
        _normal_init(backbone)
    backbone = _mobilenet_extractor(backbone, trainable_backbone_layers, norm_layer)

    size = (320, 320)
    anchor_generator = DefaultBoxGenerator([[2, 3] for _ in range(6)], min_ratio=0.2,
                                           max_ratio=0.95)
    out_channels = det_utils.retrieve_out_channels(backbone, size)
    num_anchors = anchor_generator.num_anchors_per_location()
    if len(out_channels) != len(anchor_generator.aspect_ratios):
        raise ValueError(f"The length of the output channels from the backbone "
                         f"{len(out_channels)} do not match the length of the anchor generator "
                         f"aspect ratios {len(anchor_generator.aspect_ratios)}")
    defaults = {
        "score_thresh": 0.001,
        "nms_thresh": 0.55,
        "detections_per_img": 300,
        "topk_candidates": 300,
        # the backbone's preprocessing: [0, 1] to [-1, 1]
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
    }
    kwargs = {**defaults, **kwargs}
    kwargs.pop("size", None)
    model = SSD(backbone, anchor_generator, size, num_classes,
                head=SSDLiteHead(out_channels, num_anchors, num_classes, norm_layer), **kwargs)
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True))
    return model
