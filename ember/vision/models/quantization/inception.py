"""Quantizable Inception v3 (torchvision's ``models.quantization.inception``): conv-bn units
with a ReLU module to fuse, every concatenation through a ``FloatFunctional`` (``myop``; three
in InceptionE), stubs around the float model."""
from __future__ import annotations

from typing import Any

from ember import nn
from ember._tensor import Tensor
from ember.ao import quantization
from ember.nn import functional as F
from ember.vision.models._api import WeightsEnum, register_model
from ember.vision.models._utils import _ovewrite_named_param, handle_legacy_interface
from ember.vision.models.inception import (
    Inception3,
    Inception_V3_Weights,
    InceptionA,
    InceptionAux,
    InceptionB,
    InceptionC,
    InceptionD,
    InceptionE,
    InceptionOutputs,
)
from ember.vision.models.quantization.googlenet import QuantizableBasicConv2d
from ember.vision.models.quantization.utils import (
    _legacy_default,
    _quantized_weights,
    _replace_relu,
    quantize_model,
)

__all__ = ["QuantizableInception3", "Inception_V3_QuantizedWeights", "inception_v3"]


class _QuantizableCat:
    """Mixin over an Inception block: quantizable units, the branches concatenated by ``myop``
    (a FloatFunctional)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, conv_block=QuantizableBasicConv2d, **kwargs)
        self.myop = nn.quantized.FloatFunctional()

    def forward(self, x: Tensor) -> Tensor:
        return self.myop.cat(self._forward(x), 1)


class QuantizableInceptionA(_QuantizableCat, InceptionA):
    """:class:`InceptionA` with a FloatFunctional concatenation."""


class QuantizableInceptionB(_QuantizableCat, InceptionB):
    """:class:`InceptionB` with a FloatFunctional concatenation."""


class QuantizableInceptionC(_QuantizableCat, InceptionC):
    """:class:`InceptionC` with a FloatFunctional concatenation."""


class QuantizableInceptionD(_QuantizableCat, InceptionD):
    """:class:`InceptionD` with a FloatFunctional concatenation."""


class QuantizableInceptionE(InceptionE):
    """:class:`InceptionE` whose three concatenations (the split 3x3 branches, then all) are
    FloatFunctionals ``myop1``..``myop3``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, conv_block=QuantizableBasicConv2d, **kwargs)
        self.myop1 = nn.quantized.FloatFunctional()
        self.myop2 = nn.quantized.FloatFunctional()
        self.myop3 = nn.quantized.FloatFunctional()

    def _forward(self, x: Tensor) -> list[Tensor]:
        branch3x3 = self.branch3x3_1(x)
        branch3x3 = self.myop1.cat([self.branch3x3_2a(branch3x3),
                                    self.branch3x3_2b(branch3x3)], 1)
        branch3x3dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        branch3x3dbl = self.myop2.cat([self.branch3x3dbl_3a(branch3x3dbl),
                                       self.branch3x3dbl_3b(branch3x3dbl)], 1)
        branch_pool = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return [self.branch1x1(x), branch3x3, branch3x3dbl, branch_pool]

    def forward(self, x: Tensor) -> Tensor:
        return self.myop3.cat(self._forward(x), 1)


class QuantizableInceptionAux(InceptionAux):
    """:class:`InceptionAux` of quantizable units."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, conv_block=QuantizableBasicConv2d, **kwargs)


class QuantizableInception3(Inception3):
    """:class:`Inception3` of quantizable blocks, between a ``QuantStub`` (``quant``) and a
    ``DeQuantStub`` (``dequant``); the input transform stays in float."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, inception_blocks=[
            QuantizableBasicConv2d, QuantizableInceptionA, QuantizableInceptionB,
            QuantizableInceptionC, QuantizableInceptionD, QuantizableInceptionE,
            QuantizableInceptionAux], **kwargs)
        self.quant = quantization.QuantStub()
        self.dequant = quantization.DeQuantStub()

    def forward(self, x: Tensor) -> Tensor | InceptionOutputs:
        x, aux = self._forward(self.quant(self._transform_input(x)))
        return self.eager_outputs(self.dequant(x), aux)

    def fuse_model(self, is_qat: bool | None = None) -> None:
        """Fuse every conv+bn+relu in place (numerics unchanged; still a float model)."""
        for m in self.modules():
            if type(m) is QuantizableBasicConv2d:
                m.fuse_model(is_qat)


class Inception_V3_QuantizedWeights(WeightsEnum):
    IMAGENET1K_FBGEMM_V1 = _quantized_weights("inception_v3_google_fbgemm-a2837893.pth",
                                              27161264, Inception_V3_Weights.IMAGENET1K_V1,
                                              resize_size=342, crop_size=299,
                                              min_size=(75, 75))
    DEFAULT = IMAGENET1K_FBGEMM_V1


@register_model(name="quantized_inception_v3")
@handle_legacy_interface(_legacy_default(Inception_V3_QuantizedWeights.IMAGENET1K_FBGEMM_V1,
                                         Inception_V3_Weights.IMAGENET1K_V1))
def inception_v3(*, weights: Inception_V3_QuantizedWeights | Inception_V3_Weights | None = None,
                 progress: bool = True, quantize: bool = False,
                 **kwargs: Any) -> QuantizableInception3:
    """Quantizable Inception v3 (int8 weights from post-training quantization, for fbgemm); it
    expects 299x299 inputs.

    The pretrained weights set ``transform_input=True`` unless given, and their auxiliary
    classifier is dropped unless ``aux_logits=True`` (the int8 weights have none).

    Args:
        weights: with ``quantize=True`` an ``Inception_V3_QuantizedWeights`` member, else an
            ``Inception_V3_Weights`` one (or their names), or None.
        progress: show a download progress bar.
        quantize: return the int8 model (quantized for fbgemm by default).
        kwargs: passed to :class:`QuantizableInception3` (``num_classes``, ``backend``, ...).
    """
    enum = Inception_V3_QuantizedWeights if quantize else Inception_V3_Weights
    weights = enum.verify(weights)
    original_aux_logits = kwargs.get("aux_logits", False)
    if weights is not None:
        kwargs.setdefault("transform_input", True)
        _ovewrite_named_param(kwargs, "aux_logits", True)
        _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
        if "backend" in weights.meta:
            _ovewrite_named_param(kwargs, "backend", weights.meta["backend"])
    backend = kwargs.pop("backend", "fbgemm")
    model = QuantizableInception3(**kwargs)
    _replace_relu(model)
    if quantize:
        quantize_model(model, backend)
    if weights is not None:
        drop_aux = not original_aux_logits
        if quantize and drop_aux:  # the int8 checkpoint has no auxiliary classifier
            model.aux_logits = False
            model.AuxLogits = None
        model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True))
        if drop_aux:
            model.aux_logits = False
            model.AuxLogits = None
    return model
