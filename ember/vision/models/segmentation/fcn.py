"""FCN (Long et al., 2015) on dilated ResNet-50/101, with torchvision's keys (``backbone.*``
as the ResNet's, ``classifier.{0,1,4}``, ``aux_classifier.{0,1,4}``) and its COCO-with-VOC-labels
weights."""
from __future__ import annotations

from typing import Any

from ember import nn
from ember.vision.models._api import WeightsEnum, register_model
from ember.vision.models._utils import handle_legacy_interface
from ember.vision.models.resnet import (
    ResNet,
    ResNet50_Weights,
    ResNet101_Weights,
    resnet50,
    resnet101,
)
from ember.vision.models.segmentation._utils import (
    _dilated_resnet_model,
    _resnet_backbone,
    _segmentation_weights,
    _SimpleSegmentationModel,
)

__all__ = ["FCN", "FCN_ResNet50_Weights", "FCN_ResNet101_Weights", "fcn_resnet50",
           "fcn_resnet101"]


class FCN(_SimpleSegmentationModel):
    """FCN from `Fully Convolutional Networks for Semantic Segmentation
    <https://arxiv.org/abs/1411.4038>`_.

    Args:
        backbone: returns a dict with the last feature map under "out" (and "aux" when
            ``aux_classifier`` is given).
        classifier: maps "out" to per-pixel logits.
        aux_classifier: maps "aux" to per-pixel logits (used for the training loss).
    """


class FCNHead(nn.Sequential):
    """3x3 convolution to ``in_channels // 4``, BatchNorm, ReLU, Dropout(0.1), 1x1 convolution to
    ``channels``."""

    def __init__(self, in_channels: int, channels: int) -> None:
        inter_channels = in_channels // 4
        super().__init__(
            nn.Conv2d(in_channels, inter_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(inter_channels),
            nn.ReLU(),
            nn.Dropout(0.1),
            nn.Conv2d(inter_channels, channels, 1),
        )


def _fcn_resnet(backbone: ResNet, num_classes: int, aux: bool | None) -> FCN:
    aux_classifier = FCNHead(1024, num_classes) if aux else None
    return FCN(_resnet_backbone(backbone, aux), FCNHead(2048, num_classes), aux_classifier)


class FCN_ResNet50_Weights(WeightsEnum):
    COCO_WITH_VOC_LABELS_V1 = _segmentation_weights("fcn_resnet50_coco-1167a1af.pth", 35322218)
    DEFAULT = COCO_WITH_VOC_LABELS_V1


class FCN_ResNet101_Weights(WeightsEnum):
    COCO_WITH_VOC_LABELS_V1 = _segmentation_weights("fcn_resnet101_coco-7ecb50ca.pth",
                                                    54314346)
    DEFAULT = COCO_WITH_VOC_LABELS_V1


@register_model()
@handle_legacy_interface(FCN_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1,
                         ResNet50_Weights.IMAGENET1K_V1)
def fcn_resnet50(*, weights: FCN_ResNet50_Weights | None = None, progress: bool = True,
                 num_classes: int | None = None, aux_loss: bool | None = None,
                 weights_backbone: ResNet50_Weights | None = ResNet50_Weights.IMAGENET1K_V1,
                 **kwargs: Any) -> FCN:
    """FCN with a ResNet-50 backbone whose last two stages are dilated (output stride 8).

    Args:
        weights: a ``FCN_ResNet50_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        num_classes: output classes including the background (default 21).
        aux_loss: add the auxiliary classifier on layer3.
        weights_backbone: the ResNet-50's ImageNet weights (ignored when ``weights`` is given).
        kwargs: unused.
    """
    return _dilated_resnet_model(_fcn_resnet, resnet50, FCN_ResNet50_Weights, weights,
                                 ResNet50_Weights, weights_backbone, progress, num_classes,
                                 aux_loss)


@register_model()
@handle_legacy_interface(FCN_ResNet101_Weights.COCO_WITH_VOC_LABELS_V1,
                         ResNet101_Weights.IMAGENET1K_V1)
def fcn_resnet101(*, weights: FCN_ResNet101_Weights | None = None, progress: bool = True,
                  num_classes: int | None = None, aux_loss: bool | None = None,
                  weights_backbone: ResNet101_Weights | None = ResNet101_Weights.IMAGENET1K_V1,
                  **kwargs: Any) -> FCN:
    """FCN with a ResNet-101 backbone whose last two stages are dilated (output stride 8).

    Args:
        weights: a ``FCN_ResNet101_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        num_classes: output classes including the background (default 21).
        aux_loss: add the auxiliary classifier on layer3.
        weights_backbone: the ResNet-101's ImageNet weights (ignored when ``weights`` is given).
        kwargs: unused.
    """
    return _dilated_resnet_model(_fcn_resnet, resnet101, FCN_ResNet101_Weights, weights,
                                 ResNet101_Weights, weights_backbone, progress, num_classes,
                                 aux_loss)
