"""Quantization-aware-training layers (``torch.ao.nn.qat``): float layers whose weight passes
through a fake-quant module (``weight_fake_quant``) on every forward."""
from __future__ import annotations

from ember import nn
from ember.nn import functional as F

__all__ = ["Linear", "Conv1d", "Conv2d", "Conv3d"]


class Linear(nn.Linear):
    """``nn.Linear`` with a fake-quantized weight.

    Args:
        qconfig: its ``weight`` builds ``weight_fake_quant``.
    """

    _FLOAT_MODULE = nn.Linear

    def __init__(self, in_features: int, out_features: int, bias: bool = True, qconfig=None,
                 device=None, dtype=None) -> None:
        super().__init__(in_features, out_features, bias, device=device, dtype=dtype)
        if qconfig is None:
            raise AssertionError("qconfig must be provided for QAT module")
        self.qconfig = qconfig
        self.weight_fake_quant = qconfig.weight()

    def forward(self, input):
        return F.linear(input, self.weight_fake_quant(self.weight), self.bias)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant: bool = False):
        """The QAT layer sharing ``mod``'s parameters (a fused LinearReLU's Linear's)."""
        float_mod = mod[0] if isinstance(mod, nn.Sequential) else mod
        qat = cls(float_mod.in_features, float_mod.out_features, float_mod.bias is not None,
                  qconfig=mod.qconfig)
        qat.weight = float_mod.weight
        qat.bias = float_mod.bias
        return qat

    def to_float(self):
        linear = nn.Linear(self.in_features, self.out_features, self.bias is not None)
        linear.weight = nn.Parameter(self.weight.detach())
        if self.bias is not None:
            linear.bias = nn.Parameter(self.bias.detach())
        return linear


class _ConvNd:
    """The fake-quantized weight and ``from_float`` shared by the QAT convolutions."""

    def _init_qat(self, qconfig) -> None:
        if qconfig is None:
            raise AssertionError("qconfig must be provided for QAT module")
        self.qconfig = qconfig
        self.weight_fake_quant = qconfig.weight()

    def forward(self, input):
        return self._conv_forward(input, self.weight_fake_quant(self.weight), self.bias)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant: bool = False):
        """The QAT convolution sharing ``mod``'s parameters (a fused ConvReLU's conv's)."""
        conv = mod[0] if isinstance(mod, nn.Sequential) else mod
        qat = cls(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                  padding=conv.padding, dilation=conv.dilation, groups=conv.groups,
                  bias=conv.bias is not None, padding_mode=conv.padding_mode,
                  qconfig=mod.qconfig)
        qat.weight = conv.weight
        qat.bias = conv.bias
        return qat


class Conv1d(_ConvNd, nn.Conv1d):
    """``nn.Conv1d`` with a fake-quantized weight."""

    _FLOAT_MODULE = nn.Conv1d

    def __init__(self, *args, qconfig=None, **kwargs) -> None:
        nn.Conv1d.__init__(self, *args, **kwargs)
        self._init_qat(qconfig)


class Conv2d(_ConvNd, nn.Conv2d):
    """``nn.Conv2d`` with a fake-quantized weight."""

    _FLOAT_MODULE = nn.Conv2d

    def __init__(self, *args, qconfig=None, **kwargs) -> None:
        nn.Conv2d.__init__(self, *args, **kwargs)
        self._init_qat(qconfig)


class Conv3d(_ConvNd, nn.Conv3d):
    """``nn.Conv3d`` with a fake-quantized weight."""

    _FLOAT_MODULE = nn.Conv3d

    def __init__(self, *args, qconfig=None, **kwargs) -> None:
        nn.Conv3d.__init__(self, *args, **kwargs)
        self._init_qat(qconfig)
