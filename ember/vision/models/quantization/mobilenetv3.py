"""Quantizable MobileNetV3 Large (torchvision's ``models.quantization.mobilenetv3``): stubs
around the float model, the squeeze-excitation's scaling and the residual additions through
``FloatFunctional``, a hard-sigmoid gate (fixed qparams in QAT), and a ``fuse_model`` that fuses
every conv-bn(-relu) and the squeeze-excitation's first conv with its ReLU."""
from __future__ import annotations

from typing import Any

import ember
from ember import nn
from ember._tensor import Tensor
from ember.ao import quantization
from ember.vision.models._api import WeightsEnum, register_model
from ember.vision.models._ops import Conv2dNormActivation, SqueezeExcitation
from ember.vision.models._utils import _ovewrite_named_param, handle_legacy_interface
from ember.vision.models.mobilenetv3 import (
    InvertedResidual,
    InvertedResidualConfig,
    MobileNet_V3_Large_Weights,
    MobileNetV3,
    _mobilenet_v3_conf,
)
from ember.vision.models.quantization.utils import (
    _fuse_modules,
    _legacy_default,
    _quantized_weights,
    _replace_relu,
)

__all__ = ["QuantizableMobileNetV3", "MobileNet_V3_Large_QuantizedWeights", "mobilenet_v3_large"]


class QuantizableSqueezeExcitation(SqueezeExcitation):
    """:class:`SqueezeExcitation` with a hard-sigmoid gate whose product with the input is
    ``skip_mul`` (a FloatFunctional).

    Version 2 has the gate's fixed-qparams fake quant in QAT state dicts; loading an older one
    into a QAT model fills in its defaults."""

    _version = 2

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["scale_activation"] = nn.Hardsigmoid
        super().__init__(*args, **kwargs)
        self.skip_mul = nn.quantized.FloatFunctional()

    def forward(self, input: Tensor) -> Tensor:
        return self.skip_mul.mul(self._scale(input), input)

    def fuse_model(self, is_qat: bool | None = None) -> None:
        """Fuse ``fc1`` with its ReLU."""
        _fuse_modules(self, ["fc1", "activation"], is_qat, inplace=True)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        version = local_metadata.get("version", None)
        if hasattr(self, "qconfig") and (version is None or version < 2):
            gate = prefix + "scale_activation.activation_post_process."
            defaults = {
                "scale": ember.tensor([1.0]),
                "activation_post_process.scale": ember.tensor([1.0]),
                "zero_point": ember.tensor([0], dtype=ember.int32),
                "activation_post_process.zero_point": ember.tensor([0], dtype=ember.int32),
                "fake_quant_enabled": ember.tensor([1]),
                "observer_enabled": ember.tensor([1]),
            }
            for key, value in defaults.items():
                state_dict.setdefault(gate + key, value)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)


class QuantizableInvertedResidual(InvertedResidual):
    """:class:`InvertedResidual` with a :class:`QuantizableSqueezeExcitation` and its residual
    addition through ``skip_add`` (a FloatFunctional)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, se_layer=QuantizableSqueezeExcitation, **kwargs)
        self.skip_add = nn.quantized.FloatFunctional()

    def forward(self, x: Tensor) -> Tensor:
        if self.use_res_connect:
            return self.skip_add.add(x, self.block(x))
        return self.block(x)


class QuantizableMobileNetV3(MobileNetV3):
    """:class:`MobileNetV3` between a ``QuantStub`` (``quant``) and a ``DeQuantStub``
    (``dequant``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.quant = quantization.QuantStub()
        self.dequant = quantization.DeQuantStub()

    def forward(self, x: Tensor) -> Tensor:
        return self.dequant(self._forward_impl(self.quant(x)))

    def fuse_model(self, is_qat: bool | None = None) -> None:
        """Fuse every conv+bn (+relu; Hardswish stays apart) and each squeeze-excitation's
        ``fc1`` with its ReLU, in place."""
        for m in self.modules():
            if type(m) is Conv2dNormActivation:
                names = ["0", "1"]
                if len(m) == 3 and type(m[2]) is nn.ReLU:
                    names.append("2")
                _fuse_modules(m, names, is_qat, inplace=True)
            elif type(m) is QuantizableSqueezeExcitation:
                m.fuse_model(is_qat)


def _mobilenet_v3_model(inverted_residual_setting: list[InvertedResidualConfig],
                        last_channel: int, weights: WeightsEnum | None, progress: bool,
                        quantize: bool, **kwargs: Any) -> QuantizableMobileNetV3:
    """The QAT-prepared model loads the (QAT-trained) weights before ``convert``: quantizing
    first and loading int8 weights after loses much accuracy on this model (torchvision's
    issue 5890)."""
    if weights is not None:
        _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
        if "backend" in weights.meta:
            _ovewrite_named_param(kwargs, "backend", weights.meta["backend"])
    backend = kwargs.pop("backend", "qnnpack")
    model = QuantizableMobileNetV3(inverted_residual_setting, last_channel,
                                   block=QuantizableInvertedResidual, **kwargs)
    _replace_relu(model)
    if quantize:
        model.fuse_model(is_qat=True)
        model.qconfig = quantization.get_default_qat_qconfig(backend)
        quantization.prepare_qat(model, inplace=True)
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True))
    if quantize:
        quantization.convert(model, inplace=True)
        model.eval()
    return model


class MobileNet_V3_Large_QuantizedWeights(WeightsEnum):
    IMAGENET1K_QNNPACK_V1 = _quantized_weights("mobilenet_v3_large_qnnpack-5bcacf28.pth",
                                               5483032, MobileNet_V3_Large_Weights.IMAGENET1K_V1,
                                               backend="qnnpack", recipe="qat-mobilenetv3")
    DEFAULT = IMAGENET1K_QNNPACK_V1


@register_model(name="quantized_mobilenet_v3_large")
@handle_legacy_interface(_legacy_default(
    MobileNet_V3_Large_QuantizedWeights.IMAGENET1K_QNNPACK_V1,
    MobileNet_V3_Large_Weights.IMAGENET1K_V1))
def mobilenet_v3_large(
        *, weights: MobileNet_V3_Large_QuantizedWeights | MobileNet_V3_Large_Weights | None = None,
        progress: bool = True, quantize: bool = False,
        **kwargs: Any) -> QuantizableMobileNetV3:
    """Quantizable MobileNetV3 Large (int8 weights from quantization-aware training, for
    qnnpack).

    Args:
        weights: with ``quantize=True`` a ``MobileNet_V3_Large_QuantizedWeights`` member, else a
            ``MobileNet_V3_Large_Weights`` one (or their names), or None.
        progress: show a download progress bar.
        quantize: return the int8 model (QAT-prepared for qnnpack by default, then converted).
        kwargs: ``width_mult``, ``reduced_tail``, ``dilated`` (the architecture table), the rest
            to :class:`QuantizableMobileNetV3` (``num_classes``, ``backend``, ...).
    """
    enum = MobileNet_V3_Large_QuantizedWeights if quantize else MobileNet_V3_Large_Weights
    weights = enum.verify(weights)
    conf = {k: kwargs.pop(k) for k in ("width_mult", "reduced_tail", "dilated") if k in kwargs}
    inverted_residual_setting, last_channel = _mobilenet_v3_conf("mobilenet_v3_large", **conf)
    return _mobilenet_v3_model(inverted_residual_setting, last_channel, weights, progress,
                               quantize, **kwargs)
