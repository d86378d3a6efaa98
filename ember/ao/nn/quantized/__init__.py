"""Quantized modules (``torch.ao.nn.quantized``): layers that take and return quantized
tensors, with PyTorch's numerics (see ``functional``)."""
from __future__ import annotations

from ember import nn as _nn
from ember.ao.nn.quantized import functional  # noqa: F401
from ember.ao.nn.quantized._basic import (
    DeQuantize,
    FloatFunctional,
    FXFloatFunctional,
    QFunctional,
    Quantize,
    ReLU6,
)
from ember.ao.nn.quantized._conv import Conv1d, Conv2d, Conv3d
from ember.ao.nn.quantized._embedding import Embedding, EmbeddingPackedParams
from ember.ao.nn.quantized._float_computed import (
    ELU,
    BatchNorm2d,
    BatchNorm3d,
    GroupNorm,
    Hardswish,
    LayerNorm,
    LeakyReLU,
)
from ember.ao.nn.quantized._linear import Linear, LinearPackedParams

__all__ = ["Quantize", "DeQuantize", "FloatFunctional", "FXFloatFunctional", "QFunctional",
           "ReLU6", "Conv1d", "Conv2d", "Conv3d", "Linear", "LinearPackedParams", "Embedding",
           "EmbeddingPackedParams", "Dropout",
           "BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm", "Hardswish", "ELU",
           "LeakyReLU", "dynamic", "functional"]


class Dropout(_nn.Dropout):
    """Dropout on quantized tensors: the identity in evaluation, where quantized models run."""

    def forward(self, input):
        return input

    def _get_name(self) -> str:
        return "QuantizedDropout"

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant: bool = False):
        return cls(mod.p, mod.inplace)


from ember.ao.nn.quantized import dynamic  # noqa: E402,F401
