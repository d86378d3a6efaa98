"""Quantizable ShuffleNet V2 (torchvision's ``models.quantization.shufflenetv2``): stubs around
the float model, the branches' concatenation through ``FloatFunctional`` and a ``fuse_model``
that fuses every conv-bn(-relu)."""
from __future__ import annotations

from typing import Any

from ember import nn
from ember._tensor import Tensor
from ember.ao import quantization
from ember.vision.models._api import WeightsEnum, register_model
from ember.vision.models._utils import handle_legacy_interface
from ember.vision.models.quantization.utils import (
    _fuse_modules,
    _legacy_default,
    _quantizable,
    _quantized_weights,
)
from ember.vision.models.shufflenetv2 import (
    InvertedResidual,
    ShuffleNet_V2_X0_5_Weights,
    ShuffleNet_V2_X1_0_Weights,
    ShuffleNet_V2_X1_5_Weights,
    ShuffleNet_V2_X2_0_Weights,
    ShuffleNetV2,
    channel_shuffle,
)

__all__ = ["QuantizableShuffleNetV2", "ShuffleNet_V2_X0_5_QuantizedWeights",
           "ShuffleNet_V2_X1_0_QuantizedWeights", "ShuffleNet_V2_X1_5_QuantizedWeights",
           "ShuffleNet_V2_X2_0_QuantizedWeights", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0",
           "shufflenet_v2_x1_5", "shufflenet_v2_x2_0"]


class QuantizableInvertedResidual(InvertedResidual):
    """:class:`InvertedResidual` whose concatenation is ``cat`` (a FloatFunctional)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cat = nn.quantized.FloatFunctional()

    def forward(self, x: Tensor) -> Tensor:
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = self.cat.cat([x1, self.branch2(x2)], dim=1)
        else:
            out = self.cat.cat([self.branch1(x), self.branch2(x)], dim=1)
        return channel_shuffle(out, 2)


class QuantizableShuffleNetV2(ShuffleNetV2):
    """:class:`ShuffleNetV2` of quantizable units between a ``QuantStub`` (``quant``) and a
    ``DeQuantStub`` (``dequant``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, inverted_residual=QuantizableInvertedResidual, **kwargs)
        self.quant = quantization.QuantStub()
        self.dequant = quantization.DeQuantStub()

    def forward(self, x: Tensor) -> Tensor:
        return self.dequant(super().forward(self.quant(x)))

    def fuse_model(self, is_qat: bool | None = None) -> None:
        """Fuse conv+bn+relu and conv+bn in place (see :meth:`QuantizableResNet.fuse_model`)."""
        for name in ("conv1", "conv5"):
            _fuse_modules(self._modules[name], [["0", "1", "2"]], is_qat, inplace=True)
        for m in self.modules():
            if type(m) is QuantizableInvertedResidual:
                if len(m.branch1._modules) > 0:
                    _fuse_modules(m.branch1, [["0", "1"], ["2", "3", "4"]], is_qat,
                                  inplace=True)
                _fuse_modules(m.branch2, [["0", "1", "2"], ["3", "4"], ["5", "6", "7"]],
                              is_qat, inplace=True)


def _shufflenet(stages_out_channels: list[int], weights: WeightsEnum | None, progress: bool,
                quantize: bool, **kwargs: Any) -> QuantizableShuffleNetV2:
    def build(**model_kwargs: Any) -> QuantizableShuffleNetV2:
        return QuantizableShuffleNetV2([4, 8, 4], stages_out_channels, **model_kwargs)
    return _quantizable(build, weights, progress, quantize, "fbgemm", **kwargs)


class ShuffleNet_V2_X0_5_QuantizedWeights(WeightsEnum):
    IMAGENET1K_FBGEMM_V1 = _quantized_weights("shufflenetv2_x0.5_fbgemm-00845098.pth", 1366792,
                                              ShuffleNet_V2_X0_5_Weights.IMAGENET1K_V1)
    DEFAULT = IMAGENET1K_FBGEMM_V1


class ShuffleNet_V2_X1_0_QuantizedWeights(WeightsEnum):
    IMAGENET1K_FBGEMM_V1 = _quantized_weights("shufflenetv2_x1_fbgemm-1e62bb32.pth", 2278604,
                                              ShuffleNet_V2_X1_0_Weights.IMAGENET1K_V1)
    DEFAULT = IMAGENET1K_FBGEMM_V1


class ShuffleNet_V2_X1_5_QuantizedWeights(WeightsEnum):
    IMAGENET1K_FBGEMM_V1 = _quantized_weights("shufflenetv2_x1_5_fbgemm-d7401f05.pth", 3503624,
                                              ShuffleNet_V2_X1_5_Weights.IMAGENET1K_V1,
                                              resize_size=232,
                                              recipe="https://github.com/pytorch/vision/pull/5906")
    DEFAULT = IMAGENET1K_FBGEMM_V1


class ShuffleNet_V2_X2_0_QuantizedWeights(WeightsEnum):
    IMAGENET1K_FBGEMM_V1 = _quantized_weights("shufflenetv2_x2_0_fbgemm-5cac526c.pth", 7393996,
                                              ShuffleNet_V2_X2_0_Weights.IMAGENET1K_V1,
                                              resize_size=232,
                                              recipe="https://github.com/pytorch/vision/pull/5906")
    DEFAULT = IMAGENET1K_FBGEMM_V1


@register_model(name="quantized_shufflenet_v2_x0_5")
@handle_legacy_interface(_legacy_default(ShuffleNet_V2_X0_5_QuantizedWeights.IMAGENET1K_FBGEMM_V1,
                                         ShuffleNet_V2_X0_5_Weights.IMAGENET1K_V1))
def shufflenet_v2_x0_5(*, weights: ShuffleNet_V2_X0_5_QuantizedWeights
                       | ShuffleNet_V2_X0_5_Weights | None = None, progress: bool = True,
                       quantize: bool = False, **kwargs: Any) -> QuantizableShuffleNetV2:
    """Quantizable ShuffleNet V2 0.5x (arguments as :func:`shufflenet_v2_x1_0`)."""
    enum = ShuffleNet_V2_X0_5_QuantizedWeights if quantize else ShuffleNet_V2_X0_5_Weights
    return _shufflenet([24, 48, 96, 192, 1024], enum.verify(weights), progress, quantize,
                       **kwargs)


@register_model(name="quantized_shufflenet_v2_x1_0")
@handle_legacy_interface(_legacy_default(ShuffleNet_V2_X1_0_QuantizedWeights.IMAGENET1K_FBGEMM_V1,
                                         ShuffleNet_V2_X1_0_Weights.IMAGENET1K_V1))
def shufflenet_v2_x1_0(*, weights: ShuffleNet_V2_X1_0_QuantizedWeights
                       | ShuffleNet_V2_X1_0_Weights | None = None, progress: bool = True,
                       quantize: bool = False, **kwargs: Any) -> QuantizableShuffleNetV2:
    """Quantizable ShuffleNet V2 1.0x.

    Args:
        weights: with ``quantize=True`` a ``ShuffleNet_V2_X1_0_QuantizedWeights`` member, else a
            ``ShuffleNet_V2_X1_0_Weights`` one (or their names), or None.
        progress: show a download progress bar.
        quantize: return the int8 model (post-training quantized, fbgemm by default).
        kwargs: passed to :class:`QuantizableShuffleNetV2` (``num_classes``, ``backend``, ...).
    """
    enum = ShuffleNet_V2_X1_0_QuantizedWeights if quantize else ShuffleNet_V2_X1_0_Weights
    return _shufflenet([24, 116, 232, 464, 1024], enum.verify(weights), progress, quantize,
                       **kwargs)


@register_model(name="quantized_shufflenet_v2_x1_5")
@handle_legacy_interface(_legacy_default(ShuffleNet_V2_X1_5_QuantizedWeights.IMAGENET1K_FBGEMM_V1,
                                         ShuffleNet_V2_X1_5_Weights.IMAGENET1K_V1))
def shufflenet_v2_x1_5(*, weights: ShuffleNet_V2_X1_5_QuantizedWeights
                       | ShuffleNet_V2_X1_5_Weights | None = None, progress: bool = True,
                       quantize: bool = False, **kwargs: Any) -> QuantizableShuffleNetV2:
    """Quantizable ShuffleNet V2 1.5x (arguments as :func:`shufflenet_v2_x1_0`)."""
    enum = ShuffleNet_V2_X1_5_QuantizedWeights if quantize else ShuffleNet_V2_X1_5_Weights
    return _shufflenet([24, 176, 352, 704, 1024], enum.verify(weights), progress, quantize,
                       **kwargs)


@register_model(name="quantized_shufflenet_v2_x2_0")
@handle_legacy_interface(_legacy_default(ShuffleNet_V2_X2_0_QuantizedWeights.IMAGENET1K_FBGEMM_V1,
                                         ShuffleNet_V2_X2_0_Weights.IMAGENET1K_V1))
def shufflenet_v2_x2_0(*, weights: ShuffleNet_V2_X2_0_QuantizedWeights
                       | ShuffleNet_V2_X2_0_Weights | None = None, progress: bool = True,
                       quantize: bool = False, **kwargs: Any) -> QuantizableShuffleNetV2:
    """Quantizable ShuffleNet V2 2.0x (arguments as :func:`shufflenet_v2_x1_0`)."""
    enum = ShuffleNet_V2_X2_0_QuantizedWeights if quantize else ShuffleNet_V2_X2_0_Weights
    return _shufflenet([24, 244, 488, 976, 2048], enum.verify(weights), progress, quantize,
                       **kwargs)

