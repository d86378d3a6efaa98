"""What the FCN and DeepLabV3 models share: a backbone returning a dict of feature maps, a
classifier on its "out" map and an optional auxiliary classifier on its "aux" map."""
from __future__ import annotations

import functools
from collections import OrderedDict
from typing import Callable

from ember import nn
from ember._tensor import Tensor
from ember.nn import functional as F
from ember.vision.models._api import Weights, WeightsEnum
from ember.vision.models._meta import _VOC_CATEGORIES
from ember.vision.models._presets import SemanticSegmentation
from ember.vision.models._utils import (
    _URL,
    IntermediateLayerGetter,
    _load_weights,
    _ovewrite_value_param,
)

__all__ = ["_SimpleSegmentationModel"]


class _SimpleSegmentationModel(nn.Module):
    """``backbone`` (returning ``{"out": ..., "aux": ...}``), ``classifier`` on "out" and
    ``aux_classifier`` (or None) on "aux"; the logits are resized bilinearly to the input.

    Shape:
        - Input: (N, 3, H, W).
        - Output: ``{"out": (N, num_classes, H, W)}``, plus ``"aux"`` (same shape) when there
          is an auxiliary classifier.
    """

    __constants__ = ["aux_classifier"]

    def __init__(self, backbone: nn.Module, classifier: nn.Module,
                 aux_classifier: nn.Module | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        self.classifier = classifier
        self.aux_classifier = aux_classifier

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        input_shape = x.shape[-2:]
        features = self.backbone(x)
        result = OrderedDict()
        result["out"] = _upsample(self.classifier(features["out"]), input_shape)
        if self.aux_classifier is not None:
            result["aux"] = _upsample(self.aux_classifier(features["aux"]), input_shape)
        return result


def _upsample(x: Tensor, size) -> Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def _segmentation_weights(file_name: str, num_params: int) -> Weights:
    """A record of weights trained on the COCO images of the 20 Pascal VOC categories."""
    return Weights(url=_URL + file_name,
                   transforms=functools.partial(SemanticSegmentation, resize_size=520),
                   meta={"num_params": num_params, "categories": _VOC_CATEGORIES,
                         "min_size": (1, 1)})


def _fit_segmentation_weights(weights_enum: type[WeightsEnum], weights: WeightsEnum | str | None,
                              backbone_enum: type[WeightsEnum],
                              weights_backbone: WeightsEnum | str | None,
                              num_classes: int | None, aux_loss: bool | None
                              ) -> tuple[WeightsEnum | None, WeightsEnum | None, int, bool | None]:
    """The verified ``weights`` and ``weights_backbone``, ``num_classes`` and ``aux_loss``:
    pretrained weights replace the backbone's and fix ``num_classes`` and ``aux_loss`` (True);
    without them the default is 21 classes (VOC)."""
    weights = weights_enum.verify(weights)
    weights_backbone = backbone_enum.verify(weights_backbone)
    if weights is not None:
        weights_backbone = None
        num_classes = _ovewrite_value_param("num_classes", num_classes,
                                            len(weights.meta["categories"]))
        aux_loss = _ovewrite_value_param("aux_loss", aux_loss, True)
    elif num_classes is None:
        num_classes = 21
    return weights, weights_backbone, num_classes, aux_loss


def _dilated_resnet_model(make_model: Callable[[nn.Module, int, bool | None], nn.Module],
                          resnet_builder: Callable[..., nn.Module],
                          weights_enum: type[WeightsEnum], weights: WeightsEnum | str | None,
                          backbone_enum: type[WeightsEnum],
                          weights_backbone: WeightsEnum | str | None, progress: bool,
                          num_classes: int | None, aux_loss: bool | None) -> nn.Module:
    """The FCN and DeepLabV3 ResNet builders: ``make_model(backbone, num_classes, aux_loss)``
    on ``resnet_builder``'s network with its last two stages dilated (output stride 8), loaded
    with ``weights``."""
    weights, weights_backbone, num_classes, aux_loss = _fit_segmentation_weights(
        weights_enum, weights, backbone_enum, weights_backbone, num_classes, aux_loss)
    backbone = resnet_builder(weights=weights_backbone,
                              replace_stride_with_dilation=[False, True, True])
    return _load_weights(make_model(backbone, num_classes, aux_loss), weights, progress)


def _resnet_backbone(backbone: nn.Module, aux: bool | None) -> IntermediateLayerGetter:
    """A dilated ResNet's layer4 as "out" (output stride 8), and layer3 as "aux"."""
    return_layers = {"layer4": "out"}
    if aux:
        return_layers["layer3"] = "aux"
    return IntermediateLayerGetter(backbone, return_layers=return_layers)


def _mobilenet_v3_stages(features: nn.Sequential) -> tuple[int, int]:
    """Indices in a MobileNetV3's ``features`` of the C2 block (output stride 8) and of the
    last layer (C5, stride 16 when dilated): the strided blocks start stages C1..C4, the stem
    is C0 and the last layer ends C5."""
    stage_indices = ([0] + [i for i, b in enumerate(features) if getattr(b, "_is_cn", False)]
                     + [len(features) - 1])
    return stage_indices[-4], stage_indices[-1]
