"""Quantized layers computed in float: BatchNorm, LayerNorm, GroupNorm, ELU and LeakyReLU
dequantize their input, run the float layer and requantize with the output scale and zero point
their observer chose (PyTorch's kernels compute these in float too; results agree with PyTorch's
to the output step, not always bit for bit). Hardswish runs ``functional.hardswish``, which
follows PyTorch's kernel exactly."""
from __future__ import annotations

import copy

import ember
from ember import nn
from ember._quantized import quantize_per_tensor
from ember.ao.nn.quantized import functional

__all__ = ["BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm", "Hardswish", "ELU",
           "LeakyReLU"]


class _FloatComputed:
    """Mixin over a float layer class: quantized in, float compute, quantized out."""

    _qparams_as_buffers = True  # PyTorch saves scale and zero_point with most of these

    def forward(self, input):
        y = super().forward(input.dequantize())
        return quantize_per_tensor(y, float(self.scale), int(self.zero_point), input.dtype)

    def _get_name(self) -> str:
        return "Quantized" + type(self).__name__

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant: bool = False):
        """A copy of ``mod`` (its parameters and settings) that takes and returns quantized
        tensors, with the output qparams of ``mod``'s observer."""
        scale, zero_point = mod.activation_post_process.calculate_qparams()
        new = cls.__new__(cls)
        new.__dict__.update(copy.deepcopy(mod.__dict__))
        new._modules.pop("activation_post_process", None)
        new.__dict__.pop("qconfig", None)
        new._forward_hooks.clear()
        new._set_qparams(float(scale), int(zero_point))
        return new

    def _set_qparams(self, scale: float, zero_point: int) -> None:
        if self._qparams_as_buffers:
            self.register_buffer("scale", ember.tensor(scale))
            self.register_buffer("zero_point", ember.tensor(zero_point))
        else:
            self.scale, self.zero_point = scale, zero_point


class BatchNorm2d(_FloatComputed, nn.BatchNorm2d):
    """Batch norm (running statistics) on a quantized tensor."""


class BatchNorm3d(_FloatComputed, nn.BatchNorm3d):
    """Batch norm (running statistics) on a quantized tensor."""


class LayerNorm(_FloatComputed, nn.LayerNorm):
    """Layer norm on a quantized tensor."""


class GroupNorm(_FloatComputed, nn.GroupNorm):
    """Group norm on a quantized tensor."""


class Hardswish(_FloatComputed, nn.Hardswish):
    """Hardswish on a quantized tensor (with PyTorch's kernel's rounding)."""

    def forward(self, input):
        return functional.hardswish(input, float(self.scale), int(self.zero_point))


class LeakyReLU(_FloatComputed, nn.LeakyReLU):
    """LeakyReLU on a quantized tensor."""


class ELU(_FloatComputed, nn.ELU):
    """ELU on a quantized tensor."""

    _qparams_as_buffers = False
