"""Quantized fused modules (``torch.ao.nn.intrinsic.quantized``): the ReLU applied to the
requantized integers (clamped at the output zero point)."""
from __future__ import annotations

from ember.ao.nn.quantized import functional as qF
from ember.ao.nn.quantized._conv import Conv1d, Conv2d, Conv3d
from ember.ao.nn.quantized._linear import Linear

__all__ = ["ConvReLU1d", "ConvReLU2d", "ConvReLU3d", "LinearReLU"]


class ConvReLU1d(Conv1d):
    """Quantized Conv1d + ReLU."""

    _relu = True


class ConvReLU2d(Conv2d):
    """Quantized Conv2d + ReLU (what a fused ``ConvReLU2d`` or ``ConvBnReLU2d`` becomes)."""

    _relu = True


class ConvReLU3d(Conv3d):
    """Quantized Conv3d + ReLU."""

    _relu = True


class LinearReLU(Linear):
    """Quantized Linear + ReLU."""

    def forward(self, x):
        weight, bias = self._packed_params._weight_bias()
        return qF.linear(x, weight, bias, self.scale, self.zero_point, relu=True)

    def _get_name(self) -> str:
        return "QuantizedLinearReLU"

from ember.ao.nn.intrinsic.quantized import dynamic  # noqa: E402,F401
