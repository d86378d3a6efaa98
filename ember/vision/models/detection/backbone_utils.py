"""Detection backbones (torchvision's ``models.detection.backbone_utils``): a classification
network cut to its feature stages, its early layers frozen, with a Feature Pyramid Network on
top."""
from __future__ import annotations

import warnings
from typing import Callable

from ember import nn
from ember._tensor import Tensor
from ember.vision.models import mobilenetv2, mobilenetv3, resnet
from ember.vision.models._api import WeightsEnum
from ember.vision.models._utils import IntermediateLayerGetter, _ovewrite_value_param
from ember.vision.ops.feature_pyramid_network import (
    ExtraFPNBlock,
    FeaturePyramidNetwork,
    LastLevelMaxPool,
)
from ember.vision.ops.misc import FrozenBatchNorm2d

_MOBILENETS = {"mobilenet_v2": mobilenetv2.mobilenet_v2,
               "mobilenet_v3_large": mobilenetv3.mobilenet_v3_large,
               "mobilenet_v3_small": mobilenetv3.mobilenet_v3_small}


class BackboneWithFPN(nn.Module):
    """``backbone``'s children up to the last of ``return_layers`` (an
    :class:`IntermediateLayerGetter`, as ``body``) followed by a :class:`FeaturePyramidNetwork`
    (``fpn``); the output is the FPN's ordered dict of feature maps.

    Args:
        backbone: the network whose direct children are run in order.
        return_layers: child name -> name of its feature map.
        in_channels_list: the channels of those feature maps, in order.
        out_channels: the channels of every FPN level (kept as ``self.out_channels``).
        extra_blocks: extra FPN levels (default :class:`LastLevelMaxPool`).
        norm_layer: normalization inside the FPN (default none).

    Example::

        >>> m = BackboneWithFPN(resnet18(), {"layer3": "0", "layer4": "1"}, [256, 512], 32)
        >>> [(k, tuple(v.shape)) for k, v in m(ember.rand(1, 3, 64, 64)).items()]
        [('0', (1, 32, 4, 4)), ('1', (1, 32, 2, 2)), ('pool', (1, 32, 1, 1))]
    """

    def __init__(self, backbone: nn.Module, return_layers: dict[str, str],
                 in_channels_list: list[int], out_channels: int,
                 extra_blocks: ExtraFPNBlock | None = None,
                 norm_layer: Callable[..., nn.Module] | None = None) -> None:
        super().__init__()
        if extra_blocks is None:
            extra_blocks = LastLevelMaxPool()
        self.body = IntermediateLayerGetter(backbone, return_layers=return_layers)
        self.fpn = FeaturePyramidNetwork(in_channels_list=in_channels_list,
                                         out_channels=out_channels, extra_blocks=extra_blocks,
                                         norm_layer=norm_layer)
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        return self.fpn(self.body(x))


def resnet_fpn_backbone(*, backbone_name: str, weights: WeightsEnum | None,
                        norm_layer: Callable[..., nn.Module] = FrozenBatchNorm2d,
                        trainable_layers: int = 3, returned_layers: list[int] | None = None,
                        extra_blocks: ExtraFPNBlock | None = None) -> BackboneWithFPN:
    """A ResNet (``backbone_name``: ``"resnet18"`` ... ``"wide_resnet101_2"``) with an FPN of
    256 channels over the stages ``returned_layers`` (default ``[1, 2, 3, 4]``), freezing all
    but the last ``trainable_layers`` (0-5) of layer4, layer3, layer2, layer1, conv1.

    Example::

        >>> m = resnet_fpn_backbone(backbone_name="resnet18", weights=None)
        >>> [(k, tuple(v.shape)) for k, v in m(ember.rand(1, 3, 64, 64)).items()]
        [('0', (1, 256, 16, 16)), ('1', (1, 256, 8, 8)), ('2', (1, 256, 4, 4)),
         ('3', (1, 256, 2, 2)), ('pool', (1, 256, 1, 1))]
    """
    backbone = getattr(resnet, backbone_name)(weights=weights, norm_layer=norm_layer)
    return _resnet_fpn_extractor(backbone, trainable_layers, returned_layers, extra_blocks)


def _resnet_fpn_extractor(backbone: resnet.ResNet, trainable_layers: int,
                          returned_layers: list[int] | None = None,
                          extra_blocks: ExtraFPNBlock | None = None,
                          norm_layer: Callable[..., nn.Module] | None = None
                          ) -> BackboneWithFPN:
    if trainable_layers < 0 or trainable_layers > 5:
        raise ValueError(f"Trainable layers should be in the range [0,5], got {trainable_layers}")
    layers_to_train = ["layer4", "layer3", "layer2", "layer1", "conv1"][:trainable_layers]
    if trainable_layers == 5:
        layers_to_train.append("bn1")
    for name, parameter in backbone.named_parameters():
        if not any(name.startswith(layer) for layer in layers_to_train):
            parameter.requires_grad_(False)
    if extra_blocks is None:
        extra_blocks = LastLevelMaxPool()
    if returned_layers is None:
        returned_layers = [1, 2, 3, 4]
    if min(returned_layers) <= 0 or max(returned_layers) >= 5:
        raise ValueError(f"Each returned layer should be in the range [1,4]. Got {returned_layers}")
    return_layers = {f"layer{k}": str(v) for v, k in enumerate(returned_layers)}
    # the last stage has backbone.inplanes channels, each earlier one half of the next
    in_channels_stage2 = backbone.inplanes // 8
    in_channels_list = [in_channels_stage2 * 2 ** (i - 1) for i in returned_layers]
    return BackboneWithFPN(backbone, return_layers, in_channels_list, 256,
                           extra_blocks=extra_blocks, norm_layer=norm_layer)


def _validate_trainable_layers(is_trained: bool, trainable_backbone_layers: int | None,
                              max_value: int, default_value: int) -> int:
    """How many backbone stages to train: all (``max_value``) when nothing is pretrained,
    else the caller's choice or ``default_value``."""
    if not is_trained:
        if trainable_backbone_layers is not None:
            warnings.warn("Changing trainable_backbone_layers has no effect if neither pretrained "
                          "nor pretrained_backbone have been set to True, falling back to "
                          f"trainable_backbone_layers={max_value} so that all layers are "
                          "trainable", stacklevel=3)
        trainable_backbone_layers = max_value
    if trainable_backbone_layers is None:
        trainable_backbone_layers = default_value
    if trainable_backbone_layers < 0 or trainable_backbone_layers > max_value:
        raise ValueError(f"Trainable backbone layers should be in the range [0,{max_value}], "
                         f"got {trainable_backbone_layers} ")
    return trainable_backbone_layers


def _num_classes_for(weights: WeightsEnum | None, num_classes: int | None,
                     default: int = 91) -> int:
    """Pretrained weights fix the number of classes (a different ``num_classes`` is an
    error); otherwise ``default`` (COCO's 91)."""
    if weights is not None:
        return _ovewrite_value_param("num_classes", num_classes, len(weights.meta["categories"]))
    return default if num_classes is None else num_classes


def _detection_resnet50_fpn(weights_enum: type[WeightsEnum], weights: WeightsEnum | str | None,
                            weights_backbone: WeightsEnum | str | None, progress: bool,
                            num_classes: int | None, trainable_backbone_layers: int | None, *,
                            default_num_classes: int = 91, frozen_bn: bool = True,
                            returned_layers: list[int] | None = None,
                            extra_blocks: ExtraFPNBlock | None = None,
                            fpn_norm_layer: Callable[..., nn.Module] | None = None
                            ) -> tuple[WeightsEnum | None, int, BackboneWithFPN]:
    """The ResNet-50-FPN detection builders' common start: the verified ``weights``, the
    number of classes, and the backbone. ImageNet backbone weights are dropped when the whole
    detector is pretrained; all five stages train when nothing is pretrained, else the last
    three by default; with ``frozen_bn`` the ResNet's BatchNorms are frozen when anything is
    pretrained (v1 models), otherwise they stay plain BatchNorm (v2 models)."""
    weights = weights_enum.verify(weights)
    weights_backbone = resnet.ResNet50_Weights.verify(weights_backbone)
    if weights is not None:
        weights_backbone = None
    num_classes = _num_classes_for(weights, num_classes, default_num_classes)
    is_trained = weights is not None or weights_backbone is not None
    trainable_backbone_layers = _validate_trainable_layers(is_trained, trainable_backbone_layers,
                                                           5, 3)
    norm_layer = FrozenBatchNorm2d if frozen_bn and is_trained else nn.BatchNorm2d
    backbone = resnet.resnet50(weights=weights_backbone, progress=progress, norm_layer=norm_layer)
    backbone = _resnet_fpn_extractor(backbone, trainable_backbone_layers, returned_layers,
                                     extra_blocks, fpn_norm_layer)
    return weights, num_classes, backbone


def mobilenet_backbone(*, backbone_name: str, weights: WeightsEnum | None, fpn: bool,
                       norm_layer: Callable[..., nn.Module] = FrozenBatchNorm2d,
                       trainable_layers: int = 2, returned_layers: list[int] | None = None,
                       extra_blocks: ExtraFPNBlock | None = None) -> nn.Module:
    """A MobileNet's ``features`` (``backbone_name``: ``"mobilenet_v2"``,
    ``"mobilenet_v3_large"`` or ``"mobilenet_v3_small"``), with an FPN of 256 channels over its
    last two stages when ``fpn``, else followed by a 1x1 convolution to 256 channels."""
    backbone = _MOBILENETS[backbone_name](weights=weights, norm_layer=norm_layer)
    return _mobilenet_extractor(backbone, fpn, trainable_layers, returned_layers, extra_blocks)


def _mobilenet_stage_indices(features: nn.Sequential) -> list[int]:
    """Where a MobileNet's stages start in its ``features``: at the strided blocks (C1 ...
    Cn-1), plus the first and the last block."""
    return ([0] + [i for i, b in enumerate(features) if getattr(b, "_is_cn", False)]
            + [len(features) - 1])


def _freeze_early_stages(blocks: nn.Sequential, stage_indices: list[int],
                         trainable_layers: int) -> None:
    """Freeze the parameters of the blocks before the last ``trainable_layers`` of the stages
    starting at ``stage_indices`` (all blocks when it is 0)."""
    freeze_before = (len(blocks) if trainable_layers == 0
                     else stage_indices[len(stage_indices) - trainable_layers])
    for block in blocks[:freeze_before]:
        for parameter in block.parameters():
            parameter.requires_grad_(False)


def _mobilenet_extractor(backbone: nn.Module, fpn: bool, trainable_layers: int,
                         returned_layers: list[int] | None = None,
                         extra_blocks: ExtraFPNBlock | None = None,
                         norm_layer: Callable[..., nn.Module] | None = None) -> nn.Module:
    backbone = backbone.features
    stage_indices = _mobilenet_stage_indices(backbone)
    num_stages = len(stage_indices)
    if trainable_layers < 0 or trainable_layers > num_stages:
        raise ValueError(f"Trainable layers should be in the range [0,{num_stages}], got "
                         f"{trainable_layers} ")
    _freeze_early_stages(backbone, stage_indices, trainable_layers)
    out_channels = 256
    if not fpn:
        # a 1x1 convolution mixes the last stage's channels down to out_channels
        model = nn.Sequential(backbone, nn.Conv2d(backbone[-1].out_channels, out_channels, 1))
        model.out_channels = out_channels
        return model
    if extra_blocks is None:
        extra_blocks = LastLevelMaxPool()
    if returned_layers is None:
        returned_layers = [num_stages - 2, num_stages - 1]
    if min(returned_layers) < 0 or max(returned_layers) >= num_stages:
        raise ValueError(f"Each returned layer should be in the range [0,{num_stages - 1}], got "
                         f"{returned_layers} ")
    return_layers = {f"{stage_indices[k]}": str(v) for v, k in enumerate(returned_layers)}
    in_channels_list = [backbone[stage_indices[i]].out_channels for i in returned_layers]
    return BackboneWithFPN(backbone, return_layers, in_channels_list, out_channels,
                           extra_blocks=extra_blocks, norm_layer=norm_layer)
