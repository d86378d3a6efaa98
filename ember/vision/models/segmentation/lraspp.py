"""Lite R-ASPP (Howard et al., 2019) on a dilated MobileNetV3-Large, with torchvision's keys
(``backbone.<i>``, ``classifier.{cbr,scale,low_classifier,high_classifier}``) and its
COCO-with-VOC-labels weights."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

from ember import nn
from ember._tensor import Tensor
from ember.nn import functional as F
from ember.vision.models._api import WeightsEnum, register_model
from ember.vision.models._utils import (
    IntermediateLayerGetter,
    _load_weights,
    handle_legacy_interface,
)
from ember.vision.models.mobilenetv3 import (
    MobileNet_V3_Large_Weights,
    MobileNetV3,
    mobilenet_v3_large,
)
from ember.vision.models.segmentation._utils import (
    _fit_segmentation_weights,
    _mobilenet_v3_stages,
    _segmentation_weights,
)

__all__ = ["LRASPP", "LRASPP_MobileNet_V3_Large_Weights", "lraspp_mobilenet_v3_large"]


class LRASPP(nn.Module):
    """Lite R-ASPP from `Searching for MobileNetV3 <https://arxiv.org/abs/1905.02244>`_.

    Args:
        backbone: returns a dict with a high-level map under "high" and a low-level (higher
            resolution) map under "low".
        low_channels: channels of the "low" map.
        high_channels: channels of the "high" map.
        num_classes: output classes including the background.
        inter_channels: channels of the head's intermediate map.

    Shape:
        - Input: (N, 3, H, W).
        - Output: ``{"out": (N, num_classes, H, W)}``.
    """

    def __init__(self, backbone: nn.Module, low_channels: int, high_channels: int,
                 num_classes: int, inter_channels: int = 128) -> None:
        super().__init__()
        self.backbone = backbone
        self.classifier = LRASPPHead(low_channels, high_channels, num_classes, inter_channels)

    def forward(self, input: Tensor) -> dict[str, Tensor]:
        out = self.classifier(self.backbone(input))
        result = OrderedDict()
        result["out"] = F.interpolate(out, size=input.shape[-2:], mode="bilinear",
                                      align_corners=False)
        return result


class LRASPPHead(nn.Module):
    """The high map through 1x1 conv-BN-ReLU (``cbr``), gated by a sigmoid of its globally
    pooled 1x1 projection (``scale``), upsampled to the low map's size and classified; plus a
    1x1 classifier of the low map."""

    def __init__(self, low_channels: int, high_channels: int, num_classes: int,
                 inter_channels: int) -> None:
        super().__init__()
        self.cbr = nn.Sequential(
            nn.Conv2d(high_channels, inter_channels, 1, bias=False),
            nn.BatchNorm2d(inter_channels),
            nn.ReLU(inplace=True),
        )
        self.scale = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(high_channels, inter_channels, 1, bias=False),
            nn.Sigmoid(),
        )
        self.low_classifier = nn.Conv2d(low_channels, num_classes, 1)
        self.high_classifier = nn.Conv2d(inter_channels, num_classes, 1)

    def forward(self, input: dict[str, Tensor]) -> Tensor:
        low = input["low"]
        high = input["high"]
        x = self.cbr(high) * self.scale(high)
        x = F.interpolate(x, size=low.shape[-2:], mode="bilinear", align_corners=False)
        return self.low_classifier(low) + self.high_classifier(x)


def _lraspp_mobilenetv3(backbone: MobileNetV3, num_classes: int) -> LRASPP:
    features = backbone.features
    low_pos, high_pos = _mobilenet_v3_stages(features)
    getter = IntermediateLayerGetter(features,
                                     return_layers={str(low_pos): "low", str(high_pos): "high"})
    return LRASPP(getter, features[low_pos].out_channels, features[high_pos].out_channels,
                  num_classes)


class LRASPP_MobileNet_V3_Large_Weights(WeightsEnum):
    COCO_WITH_VOC_LABELS_V1 = _segmentation_weights("lraspp_mobilenet_v3_large-d234d4ea.pth",
                                                    3221538)
    DEFAULT = COCO_WITH_VOC_LABELS_V1


@register_model()
@handle_legacy_interface(LRASPP_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1,
                         MobileNet_V3_Large_Weights.IMAGENET1K_V1)
def lraspp_mobilenet_v3_large(*, weights: LRASPP_MobileNet_V3_Large_Weights | None = None,
                              progress: bool = True, num_classes: int | None = None,
                              weights_backbone: MobileNet_V3_Large_Weights | None = (
                                  MobileNet_V3_Large_Weights.IMAGENET1K_V1),
                              **kwargs: Any) -> LRASPP:
    """Lite R-ASPP with a MobileNetV3-Large backbone whose last stage is dilated.

    Args:
        weights: a ``LRASPP_MobileNet_V3_Large_Weights`` member, its name, or None.
        progress: show a download progress bar.
        num_classes: output classes including the background (default 21).
        weights_backbone: the MobileNetV3-Large's ImageNet weights (ignored when ``weights``
            is given).
        kwargs: unused; ``aux_loss=True`` is an error (the model has no auxiliary head).
    """
    if kwargs.pop("aux_loss", False):
        raise NotImplementedError("This model does not use auxiliary loss")
    weights, weights_backbone, num_classes, _ = _fit_segmentation_weights(
        LRASPP_MobileNet_V3_Large_Weights, weights, MobileNet_V3_Large_Weights,
        weights_backbone, num_classes, None)
    backbone = mobilenet_v3_large(weights=weights_backbone, dilated=True)
    return _load_weights(_lraspp_mobilenetv3(backbone, num_classes), weights, progress)
