"""DeepLabV3 (Chen et al., 2017) on dilated ResNet-50/101 and MobileNetV3-Large, with
torchvision's keys (``classifier.0.convs.<i>``, ``classifier.0.project``, ``classifier.{1,2,4}``,
``aux_classifier.*``) and its COCO-with-VOC-labels weights."""
from __future__ import annotations

from typing import Any, Sequence

from ember import cat, nn
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
from ember.vision.models.resnet import (
    ResNet,
    ResNet50_Weights,
    ResNet101_Weights,
    resnet50,
    resnet101,
)
from ember.vision.models.segmentation._utils import (
    _dilated_resnet_model,
    _fit_segmentation_weights,
    _mobilenet_v3_stages,
    _resnet_backbone,
    _segmentation_weights,
    _SimpleSegmentationModel,
)
from ember.vision.models.segmentation.fcn import FCNHead

__all__ = ["DeepLabV3", "DeepLabV3_ResNet50_Weights", "DeepLabV3_ResNet101_Weights",
           "DeepLabV3_MobileNet_V3_Large_Weights", "deeplabv3_mobilenet_v3_large",
           "deeplabv3_resnet50", "deeplabv3_resnet101"]


class DeepLabV3(_SimpleSegmentationModel):
    """DeepLabV3 from `Rethinking Atrous Convolution for Semantic Image Segmentation
    <https://arxiv.org/abs/1706.05587>`_.

    Args:
        backbone: returns a dict with the last feature map under "out" (and "aux" when
            ``aux_classifier`` is given).
        classifier: maps "out" to per-pixel logits (a :class:`DeepLabHead`).
        aux_classifier: maps "aux" to per-pixel logits (used for the training loss).
    """


class DeepLabHead(nn.Sequential):
    """ASPP to 256 channels, a 3x3 convolution, BatchNorm, ReLU and a 1x1 convolution to
    ``num_classes``."""

    def __init__(self, in_channels: int, num_classes: int,
                 atrous_rates: Sequence[int] = (12, 24, 36)) -> None:
        super().__init__(
            ASPP(in_channels, atrous_rates),
            nn.Conv2d(256, 256, 3, padding=1, bias=False),
            nn.BatchNorm2d(256),
            nn.ReLU(),
            nn.Conv2d(256, num_classes, 1),
        )


class ASPPConv(nn.Sequential):
    """One atrous branch: a 3x3 convolution dilated by ``dilation`` (padded to keep the size),
    BatchNorm and ReLU."""

    def __init__(self, in_channels: int, out_channels: int, dilation: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=dilation, dilation=dilation,
                      bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        )


class ASPPPooling(nn.Sequential):
    """The image-level branch: global average pooling, 1x1 convolution, BatchNorm, ReLU, then
    bilinear upsampling of the 1x1 map back to the input's size (a broadcast)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        )

    def forward(self, x: Tensor) -> Tensor:
        size = x.shape[-2:]
        for module in self:
            x = module(x)
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class ASPP(nn.Module):
    """Atrous Spatial Pyramid Pooling: a 1x1 branch, one :class:`ASPPConv` per rate of
    ``atrous_rates`` and an :class:`ASPPPooling` branch (``convs``), concatenated and projected
    to ``out_channels`` by a 1x1 convolution, BatchNorm, ReLU and Dropout(0.5) (``project``).

    Shape:
        - Input: (N, in_channels, H, W).
        - Output: (N, out_channels, H, W).
    """

    def __init__(self, in_channels: int, atrous_rates: Sequence[int],
                 out_channels: int = 256) -> None:
        super().__init__()
        branches: list[nn.Module] = [nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU())]
        branches += [ASPPConv(in_channels, out_channels, rate) for rate in tuple(atrous_rates)]
        branches.append(ASPPPooling(in_channels, out_channels))
        self.convs = nn.ModuleList(branches)
        self.project = nn.Sequential(
            nn.Conv2d(len(self.convs) * out_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
            nn.Dropout(0.5),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.project(cat([conv(x) for conv in self.convs], dim=1))


def _deeplabv3_resnet(backbone: ResNet, num_classes: int, aux: bool | None) -> DeepLabV3:
    aux_classifier = FCNHead(1024, num_classes) if aux else None
    return DeepLabV3(_resnet_backbone(backbone, aux), DeepLabHead(2048, num_classes),
                     aux_classifier)


def _deeplabv3_mobilenetv3(backbone: MobileNetV3, num_classes: int,
                           aux: bool | None) -> DeepLabV3:
    features = backbone.features
    aux_pos, out_pos = _mobilenet_v3_stages(features)
    return_layers = {str(out_pos): "out"}
    if aux:
        return_layers[str(aux_pos)] = "aux"
    aux_classifier = FCNHead(features[aux_pos].out_channels, num_classes) if aux else None
    classifier = DeepLabHead(features[out_pos].out_channels, num_classes)
    getter = IntermediateLayerGetter(features, return_layers=return_layers)
    return DeepLabV3(getter, classifier, aux_classifier)


class DeepLabV3_ResNet50_Weights(WeightsEnum):
    COCO_WITH_VOC_LABELS_V1 = _segmentation_weights("deeplabv3_resnet50_coco-cd0a2569.pth",
                                                    42004074)
    DEFAULT = COCO_WITH_VOC_LABELS_V1


class DeepLabV3_ResNet101_Weights(WeightsEnum):
    COCO_WITH_VOC_LABELS_V1 = _segmentation_weights("deeplabv3_resnet101_coco-586e9e4e.pth",
                                                    60996202)
    DEFAULT = COCO_WITH_VOC_LABELS_V1


class DeepLabV3_MobileNet_V3_Large_Weights(WeightsEnum):
    COCO_WITH_VOC_LABELS_V1 = _segmentation_weights("deeplabv3_mobilenet_v3_large-fc3c493d.pth",
                                                    11029328)
    DEFAULT = COCO_WITH_VOC_LABELS_V1


@register_model()
@handle_legacy_interface(DeepLabV3_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1,
                         ResNet50_Weights.IMAGENET1K_V1)
def deeplabv3_resnet50(*, weights: DeepLabV3_ResNet50_Weights | None = None,
                       progress: bool = True, num_classes: int | None = None,
                       aux_loss: bool | None = None,
                       weights_backbone: ResNet50_Weights | None = ResNet50_Weights.IMAGENET1K_V1,
                       **kwargs: Any) -> DeepLabV3:
    """DeepLabV3 with a ResNet-50 backbone whose last two stages are dilated.

    Args:
        weights: a ``DeepLabV3_ResNet50_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        num_classes: output classes including the background (default 21).
        aux_loss: add the auxiliary FCN classifier on layer3.
        weights_backbone: the ResNet-50's ImageNet weights (ignored when ``weights`` is given).
        kwargs: unused.
    """
    return _dilated_resnet_model(_deeplabv3_resnet, resnet50, DeepLabV3_ResNet50_Weights,
                                 weights, ResNet50_Weights, weights_backbone, progress,
                                 num_classes, aux_loss)


@register_model()
@handle_legacy_interface(DeepLabV3_ResNet101_Weights.COCO_WITH_VOC_LABELS_V1,
                         ResNet101_Weights.IMAGENET1K_V1)
def deeplabv3_resnet101(*, weights: DeepLabV3_ResNet101_Weights | None = None,
                        progress: bool = True, num_classes: int | None = None,
                        aux_loss: bool | None = None,
                        weights_backbone: ResNet101_Weights | None = (
                            ResNet101_Weights.IMAGENET1K_V1),
                        **kwargs: Any) -> DeepLabV3:
    """DeepLabV3 with a ResNet-101 backbone whose last two stages are dilated.

    Args:
        weights: a ``DeepLabV3_ResNet101_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        num_classes: output classes including the background (default 21).
        aux_loss: add the auxiliary FCN classifier on layer3.
        weights_backbone: the ResNet-101's ImageNet weights (ignored when ``weights`` is given).
        kwargs: unused.
    """
    return _dilated_resnet_model(_deeplabv3_resnet, resnet101, DeepLabV3_ResNet101_Weights,
                                 weights, ResNet101_Weights, weights_backbone, progress,
                                 num_classes, aux_loss)


@register_model()
@handle_legacy_interface(DeepLabV3_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1,
                         MobileNet_V3_Large_Weights.IMAGENET1K_V1)
def deeplabv3_mobilenet_v3_large(*, weights: DeepLabV3_MobileNet_V3_Large_Weights | None = None,
                                 progress: bool = True, num_classes: int | None = None,
                                 aux_loss: bool | None = None,
                                 weights_backbone: MobileNet_V3_Large_Weights | None = (
                                     MobileNet_V3_Large_Weights.IMAGENET1K_V1),
                                 **kwargs: Any) -> DeepLabV3:
    """DeepLabV3 with a MobileNetV3-Large backbone whose last stage is dilated.

    Args:
        weights: a ``DeepLabV3_MobileNet_V3_Large_Weights`` member, its name, or None.
        progress: show a download progress bar.
        num_classes: output classes including the background (default 21).
        aux_loss: add the auxiliary FCN classifier on the C2 block (output stride 8).
        weights_backbone: the MobileNetV3-Large's ImageNet weights (ignored when ``weights``
            is given).
        kwargs: unused.
    """
    weights, weights_backbone, num_classes, aux_loss = _fit_segmentation_weights(
        DeepLabV3_MobileNet_V3_Large_Weights, weights, MobileNet_V3_Large_Weights,
        weights_backbone, num_classes, aux_loss)
    backbone = mobilenet_v3_large(weights=weights_backbone, dilated=True)
    model = _deeplabv3_mobilenetv3(backbone, num_classes, aux_loss)
    return _load_weights(model, weights, progress)
