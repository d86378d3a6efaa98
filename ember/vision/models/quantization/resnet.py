"""Quantizable ResNets and ResNeXts (torchvision's ``models.quantization.resnet``): the float
ResNets with quant/dequant stubs, skip additions through ``FloatFunctional`` and non-inplace
ReLUs, a ``fuse_model`` that fuses conv-bn(-relu), and int8 weights."""
from __future__ import annotations

import functools
from typing import Any

from ember import nn
from ember._tensor import Tensor
from ember.ao import quantization
from ember.vision.models._api import WeightsEnum, register_model
from ember.vision.models._utils import _ovewrite_named_param, handle_legacy_interface
from ember.vision.models.quantization.utils import (
    _fuse_modules,
    _legacy_default,
    _quantizable,
    _quantized_weights,
)
from ember.vision.models.resnet import (
    BasicBlock,
    Bottleneck,
    ResNet,
    ResNet18_Weights,
    ResNet50_Weights,
    ResNeXt101_32X8D_Weights,
    ResNeXt101_64X4D_Weights,
)

__all__ = ["QuantizableResNet", "ResNet18_QuantizedWeights", "ResNet50_QuantizedWeights",
           "ResNeXt101_32X8D_QuantizedWeights", "ResNeXt101_64X4D_QuantizedWeights", "resnet18",
           "resnet50", "resnext101_32x8d", "resnext101_64x4d"]


class QuantizableBasicBlock(BasicBlock):
    """:class:`BasicBlock` whose final add-and-ReLU is ``add_relu`` (a FloatFunctional)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.add_relu = nn.quantized.FloatFunctional()

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.add_relu.add_relu(out, identity)

    def fuse_model(self, is_qat: bool | None = None) -> None:
        _fuse_modules(self, [["conv1", "bn1", "relu"], ["conv2", "bn2"]], is_qat, inplace=True)
        if self.downsample:
            _fuse_modules(self.downsample, ["0", "1"], is_qat, inplace=True)


class QuantizableBottleneck(Bottleneck):
    """:class:`Bottleneck` with one ReLU module per use (``relu1``, ``relu2``) and the final
    add-and-ReLU as ``skip_add_relu`` (a FloatFunctional)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.skip_add_relu = nn.quantized.FloatFunctional()
        self.relu1 = nn.ReLU(inplace=False)
        self.relu2 = nn.ReLU(inplace=False)

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.relu2(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.skip_add_relu.add_relu(out, identity)

    def fuse_model(self, is_qat: bool | None = None) -> None:
        _fuse_modules(self, [["conv1", "bn1", "relu1"], ["conv2", "bn2", "relu2"],
                             ["conv3", "bn3"]], is_qat, inplace=True)
        if self.downsample:
            _fuse_modules(self.downsample, ["0", "1"], is_qat, inplace=True)


class QuantizableResNet(ResNet):
    """:class:`ResNet` between a ``QuantStub`` (``quant``) and a ``DeQuantStub``
    (``dequant``), so that the converted model takes and returns float tensors."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.quant = quantization.QuantStub()
        self.dequant = quantization.DeQuantStub()

    def forward(self, x: Tensor) -> Tensor:
        return self.dequant(super().forward(self.quant(x)))

    def fuse_model(self, is_qat: bool | None = None) -> None:
        """Fuse conv+bn+relu, conv+bn in place (in float, numerics unchanged) before
        quantization; ``is_qat`` (default: the model is training) keeps the BatchNorms for
        quantization-aware training."""
        _fuse_modules(self, ["conv1", "bn1", "relu"], is_qat, inplace=True)
        for m in self.modules():
            if type(m) is QuantizableBottleneck or type(m) is QuantizableBasicBlock:
                m.fuse_model(is_qat)


def _resnet(block: type[QuantizableBasicBlock | QuantizableBottleneck], layers: list[int],
            weights: WeightsEnum | None, progress: bool, quantize: bool,
            **kwargs: Any) -> QuantizableResNet:
    build = functools.partial(QuantizableResNet, block, layers)
    return _quantizable(build, weights, progress, quantize, "fbgemm", **kwargs)


class ResNet18_QuantizedWeights(WeightsEnum):
    IMAGENET1K_FBGEMM_V1 = _quantized_weights("resnet18_fbgemm_16fa66dd.pth", 11689512,
                                              ResNet18_Weights.IMAGENET1K_V1)
    DEFAULT = IMAGENET1K_FBGEMM_V1


class ResNet50_QuantizedWeights(WeightsEnum):
    IMAGENET1K_FBGEMM_V1 = _quantized_weights("resnet50_fbgemm_bf931d71.pth", 25557032,
                                              ResNet50_Weights.IMAGENET1K_V1)
    IMAGENET1K_FBGEMM_V2 = _quantized_weights("resnet50_fbgemm-23753f79.pth", 25557032,
                                              ResNet50_Weights.IMAGENET1K_V2, resize_size=232)
    DEFAULT = IMAGENET1K_FBGEMM_V2


class ResNeXt101_32X8D_QuantizedWeights(WeightsEnum):
    IMAGENET1K_FBGEMM_V1 = _quantized_weights("resnext101_32x8_fbgemm_09835ccf.pth", 88791336,
                                              ResNeXt101_32X8D_Weights.IMAGENET1K_V1)
    IMAGENET1K_FBGEMM_V2 = _quantized_weights("resnext101_32x8_fbgemm-ee16d00c.pth", 88791336,
                                              ResNeXt101_32X8D_Weights.IMAGENET1K_V2,
                                              resize_size=232)
    DEFAULT = IMAGENET1K_FBGEMM_V2


class ResNeXt101_64X4D_QuantizedWeights(WeightsEnum):
    IMAGENET1K_FBGEMM_V1 = _quantized_weights("resnext101_64x4d_fbgemm-605a1cb3.pth", 83455272,
                                              ResNeXt101_64X4D_Weights.IMAGENET1K_V1,
                                              resize_size=232,
                                              recipe="https://github.com/pytorch/vision/pull/5935")
    DEFAULT = IMAGENET1K_FBGEMM_V1


@register_model(name="quantized_resnet18")
@handle_legacy_interface(_legacy_default(ResNet18_QuantizedWeights.IMAGENET1K_FBGEMM_V1,
                                         ResNet18_Weights.IMAGENET1K_V1))
def resnet18(*, weights: ResNet18_QuantizedWeights | ResNet18_Weights | None = None,
             progress: bool = True, quantize: bool = False, **kwargs: Any) -> QuantizableResNet:
    """Quantizable ResNet-18.

    Args:
        weights: with ``quantize=True`` a ``ResNet18_QuantizedWeights`` member, else a
            ``ResNet18_Weights`` one (or their names), or None.
        progress: show a download progress bar.
        quantize: return the int8 model (post-training quantized, fbgemm by default).
        kwargs: passed to :class:`QuantizableResNet` (``num_classes``, ``backend``, ...).
    """
    weights = (ResNet18_QuantizedWeights if quantize else ResNet18_Weights).verify(weights)
    return _resnet(QuantizableBasicBlock, [2, 2, 2, 2], weights, progress, quantize, **kwargs)


@register_model(name="quantized_resnet50")
@handle_legacy_interface(_legacy_default(ResNet50_QuantizedWeights.IMAGENET1K_FBGEMM_V1,
                                         ResNet50_Weights.IMAGENET1K_V1))
def resnet50(*, weights: ResNet50_QuantizedWeights | ResNet50_Weights | None = None,
             progress: bool = True, quantize: bool = False, **kwargs: Any) -> QuantizableResNet:
    """Quantizable ResNet-50 (arguments as :func:`resnet18`)."""
    weights = (ResNet50_QuantizedWeights if quantize else ResNet50_Weights).verify(weights)
    return _resnet(QuantizableBottleneck, [3, 4, 6, 3], weights, progress, quantize, **kwargs)


@register_model(name="quantized_resnext101_32x8d")
@handle_legacy_interface(_legacy_default(ResNeXt101_32X8D_QuantizedWeights.IMAGENET1K_FBGEMM_V1,
                                         ResNeXt101_32X8D_Weights.IMAGENET1K_V1))
def resnext101_32x8d(*, weights: ResNeXt101_32X8D_QuantizedWeights | ResNeXt101_32X8D_Weights
                     | None = None, progress: bool = True, quantize: bool = False,
                     **kwargs: Any) -> QuantizableResNet:
    """Quantizable ResNeXt-101 32x8d (arguments as :func:`resnet18`)."""
    enum = ResNeXt101_32X8D_QuantizedWeights if quantize else ResNeXt101_32X8D_Weights
    weights = enum.verify(weights)
    _ovewrite_named_param(kwargs, "groups", 32)
    _ovewrite_named_param(kwargs, "width_per_group", 8)
    return _resnet(QuantizableBottleneck, [3, 4, 23, 3], weights, progress, quantize, **kwargs)


@register_model(name="quantized_resnext101_64x4d")
@handle_legacy_interface(_legacy_default(ResNeXt101_64X4D_QuantizedWeights.IMAGENET1K_FBGEMM_V1,
                                         ResNeXt101_64X4D_Weights.IMAGENET1K_V1))
def resnext101_64x4d(*, weights: ResNeXt101_64X4D_QuantizedWeights | ResNeXt101_64X4D_Weights
                     | None = None, progress: bool = True, quantize: bool = False,
                     **kwargs: Any) -> QuantizableResNet:
    """Quantizable ResNeXt-101 64x4d (arguments as :func:`resnet18`)."""
    enum = ResNeXt101_64X4D_QuantizedWeights if quantize else ResNeXt101_64X4D_Weights
    weights = enum.verify(weights)
    _ovewrite_named_param(kwargs, "groups", 64)
    _ovewrite_named_param(kwargs, "width_per_group", 4)
    return _resnet(QuantizableBottleneck, [3, 4, 23, 3], weights, progress, quantize, **kwargs)
