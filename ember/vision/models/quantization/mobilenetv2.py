"""Quantizable MobileNetV2 (torchvision's ``models.quantization.mobilenetv2``): stubs around
the float model, residual additions through ``FloatFunctional`` and a ``fuse_model`` that fuses
every conv-bn(-relu)."""
from __future__ import annotations

from typing import Any

from ember import nn
from ember._tensor import Tensor
from ember.ao import quantization
from ember.vision.models._api import WeightsEnum, register_model
from ember.vision.models._utils import handle_legacy_interface
from ember.vision.models.mobilenetv2 import InvertedResidual, MobileNet_V2_Weights, MobileNetV2
from ember.vision.models.quantization.utils import (
    _fuse_modules,
    _legacy_default,
    _quantizable,
    _quantized_weights,
)
from ember.vision.ops.misc import Conv2dNormActivation

__all__ = ["QuantizableMobileNetV2", "MobileNet_V2_QuantizedWeights", "mobilenet_v2"]


class QuantizableInvertedResidual(InvertedResidual):
    """:class:`InvertedResidual` whose residual addition is ``skip_add`` (a FloatFunctional)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.skip_add = nn.quantized.FloatFunctional()

    def forward(self, x: Tensor) -> Tensor:
        if self.use_res_connect:
            return self.skip_add.add(x, self.conv(x))
        return self.conv(x)

    def fuse_model(self, is_qat: bool | None = None) -> None:
        """Fuse the projection convolution with its BatchNorm."""
        for idx in range(len(self.conv)):
            if type(self.conv[idx]) is nn.Conv2d:
                _fuse_modules(self.conv, [str(idx), str(idx + 1)], is_qat, inplace=True)


class QuantizableMobileNetV2(MobileNetV2):
    """:class:`MobileNetV2` between a ``QuantStub`` (``quant``) and a ``DeQuantStub``
    (``dequant``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.quant = quantization.QuantStub()
        self.dequant = quantization.DeQuantStub()

    def forward(self, x: Tensor) -> Tensor:
        return self.dequant(super().forward(self.quant(x)))

    def fuse_model(self, is_qat: bool | None = None) -> None:
        """Fuse every conv+bn+relu and conv+bn in place (see
        :meth:`QuantizableResNet.fuse_model`)."""
        for m in self.modules():
            if type(m) is Conv2dNormActivation:
                _fuse_modules(m, ["0", "1", "2"], is_qat, inplace=True)
            if type(m) is QuantizableInvertedResidual:
                m.fuse_model(is_qat)


class MobileNet_V2_QuantizedWeights(WeightsEnum):
    IMAGENET1K_QNNPACK_V1 = _quantized_weights("mobilenet_v2_qnnpack_37f702c5.pth", 3504872,
                                               MobileNet_V2_Weights.IMAGENET1K_V1,
                                               backend="qnnpack", recipe="qat-mobilenetv2")
    DEFAULT = IMAGENET1K_QNNPACK_V1


@register_model(name="quantized_mobilenet_v2")
@handle_legacy_interface(_legacy_default(MobileNet_V2_QuantizedWeights.IMAGENET1K_QNNPACK_V1,
                                         MobileNet_V2_Weights.IMAGENET1K_V1))
def mobilenet_v2(*, weights: MobileNet_V2_QuantizedWeights | MobileNet_V2_Weights | None = None,
                 progress: bool = True, quantize: bool = False,
                 **kwargs: Any) -> QuantizableMobileNetV2:
    """Quantizable MobileNetV2 (int8 weights from quantization-aware training, for qnnpack).

    Args:
        weights: with ``quantize=True`` a ``MobileNet_V2_QuantizedWeights`` member, else a
            ``MobileNet_V2_Weights`` one (or their names), or None.
        progress: show a download progress bar.
        quantize: return the int8 model (quantized for qnnpack by default).
        kwargs: passed to :class:`QuantizableMobileNetV2` (``num_classes``, ``backend``, ...).
    """
    enum = MobileNet_V2_QuantizedWeights if quantize else MobileNet_V2_Weights
    weights = enum.verify(weights)
    return _quantizable(QuantizableMobileNetV2, weights, progress, quantize, "qnnpack",
                        block=QuantizableInvertedResidual, **kwargs)
