"""Quantizable GoogLeNet (torchvision's ``models.quantization.googlenet``): conv-bn units with
a ReLU module to fuse, the Inception branches concatenated through ``FloatFunctional``, stubs
around the float model."""
from __future__ import annotations

import warnings
from typing import Any

from ember import nn
from ember._tensor import Tensor
from ember.ao import quantization
from ember.nn import functional as F
from ember.vision.models._api import WeightsEnum, register_model
from ember.vision.models._layers import BasicConv2d
from ember.vision.models._utils import _ovewrite_named_param, handle_legacy_interface
from ember.vision.models.googlenet import (
    GoogLeNet,
    GoogLeNet_Weights,
    GoogLeNetOutputs,
    Inception,
    InceptionAux,
)
from ember.vision.models.quantization.utils import (
    _fuse_modules,
    _legacy_default,
    _quantizable,
    _quantized_weights,
)

__all__ = ["QuantizableGoogLeNet", "GoogLeNet_QuantizedWeights", "googlenet"]


class QuantizableBasicConv2d(BasicConv2d):
    """:class:`BasicConv2d` whose ReLU is a module (``relu``), so that it fuses with ``conv``
    and ``bn``; Inception v3's quantizable unit too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.bn(self.conv(x)))

    def fuse_model(self, is_qat: bool | None = None) -> None:
        """Fuse conv+bn+relu in place."""
        _fuse_modules(self, ["conv", "bn", "relu"], is_qat, inplace=True)


class QuantizableInception(Inception):
    """:class:`Inception` of quantizable units, its branches concatenated by ``cat`` (a
    FloatFunctional)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, conv_block=QuantizableBasicConv2d, **kwargs)
        self.cat = nn.quantized.FloatFunctional()

    def forward(self, x: Tensor) -> Tensor:
        return self.cat.cat(self._forward(x), 1)


class QuantizableInceptionAux(InceptionAux):
    """:class:`InceptionAux` of quantizable units, with a ReLU module (``relu``) after
    ``fc1``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, conv_block=QuantizableBasicConv2d, **kwargs)
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(F.adaptive_avg_pool2d(x, (4, 4))).flatten(1)
        x = self.dropout(self.relu(self.fc1(x)))
        return self.fc2(x)


class QuantizableGoogLeNet(GoogLeNet):
    """:class:`GoogLeNet` of quantizable blocks, between a ``QuantStub`` (``quant``) and a
    ``DeQuantStub`` (``dequant``); the input transform stays in float."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, blocks=[QuantizableBasicConv2d, QuantizableInception,
                                        QuantizableInceptionAux], **kwargs)
        self.quant = quantization.QuantStub()
        self.dequant = quantization.DeQuantStub()

    def forward(self, x: Tensor) -> Tensor | GoogLeNetOutputs:
        x, aux1, aux2 = self._forward(self.quant(self._transform_input(x)))
        return self.eager_outputs(self.dequant(x), aux2, aux1)

    def fuse_model(self, is_qat: bool | None = None) -> None:
        """Fuse every conv+bn+relu in place (numerics unchanged; still a float model)."""
        for m in self.modules():
            if type(m) is QuantizableBasicConv2d:
                m.fuse_model(is_qat)


class GoogLeNet_QuantizedWeights(WeightsEnum):
    IMAGENET1K_FBGEMM_V1 = _quantized_weights("googlenet_fbgemm-c81f6644.pth", 6624904,
                                              GoogLeNet_Weights.IMAGENET1K_V1,
                                              min_size=(15, 15))
    DEFAULT = IMAGENET1K_FBGEMM_V1


@register_model(name="quantized_googlenet")
@handle_legacy_interface(_legacy_default(GoogLeNet_QuantizedWeights.IMAGENET1K_FBGEMM_V1,
                                         GoogLeNet_Weights.IMAGENET1K_V1))
def googlenet(*, weights: GoogLeNet_QuantizedWeights | GoogLeNet_Weights | None = None,
              progress: bool = True, quantize: bool = False,
              **kwargs: Any) -> QuantizableGoogLeNet:
    """Quantizable GoogLeNet (int8 weights from post-training quantization, for fbgemm).

    The pretrained weights set ``transform_input=True`` unless given, and their auxiliary
    classifiers are dropped unless ``aux_logits=True`` (they are not trained then).

    Args:
        weights: with ``quantize=True`` a ``GoogLeNet_QuantizedWeights`` member, else a
            ``GoogLeNet_Weights`` one (or their names), or None.
        progress: show a download progress bar.
        quantize: return the int8 model (quantized for fbgemm by default).
        kwargs: passed to :class:`QuantizableGoogLeNet` (``num_classes``, ``backend``, ...).
    """
    enum = GoogLeNet_QuantizedWeights if quantize else GoogLeNet_Weights
    weights = enum.verify(weights)
    original_aux_logits = kwargs.get("aux_logits", False)
    if weights is not None:
        kwargs.setdefault("transform_input", True)
        _ovewrite_named_param(kwargs, "aux_logits", True)  # the checkpoint holds them
        _ovewrite_named_param(kwargs, "init_weights", False)
    model = _quantizable(QuantizableGoogLeNet, weights, progress, quantize, "fbgemm", **kwargs)
    if weights is not None:
        if original_aux_logits:
            warnings.warn("auxiliary heads in the pretrained googlenet model are NOT "
                          "pretrained, so make sure to train them", stacklevel=2)
        else:
            model.aux_logits = False
            model.aux1 = None
            model.aux2 = None
    return model
