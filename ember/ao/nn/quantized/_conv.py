"""Quantized ``Conv1d`` / ``Conv2d`` / ``Conv3d`` (static: quantized input and output)."""
from __future__ import annotations

import ember
from ember import nn
from ember._quantized import quantize_per_tensor
from ember.ao.nn.quantized import functional as qF
from ember.ao.nn.quantized._basic import _OutputQParams
from ember.ao.nn.quantized._linear import quantize_weight
from ember.nn.utils.fusion import fuse_conv_bn_weights

__all__ = ["Conv1d", "Conv2d", "Conv3d"]


def _ntuple(v, n: int) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


class _ConvNd(_OutputQParams, nn.Module):
    _nd = 2
    _relu = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None) -> None:
        super().__init__()
        n = self._nd
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _ntuple(kernel_size, n)
        self.stride = _ntuple(stride, n)
        self.padding = _ntuple(padding, n)
        self.dilation = _ntuple(dilation, n)
        self.transposed = False
        self.output_padding = _ntuple(0, n)
        self.groups = groups
        self.padding_mode = padding_mode
        shape = (out_channels, in_channels // groups) + self.kernel_size
        qweight = quantize_per_tensor(ember.zeros(shape), 1.0, 0, ember.qint8)
        self.set_weight_bias(qweight, ember.zeros(out_channels) if bias else None)
        self.scale = 1.0
        self.zero_point = 0

    def set_weight_bias(self, w, b) -> None:
        self._weight_bias = (w, b)

    def weight(self):
        return self._weight_bias[0]

    def bias(self):
        return self._weight_bias[1]

    def _get_name(self) -> str:
        return f"QuantizedConv{'ReLU' if self._relu else ''}{self._nd}d"

    def extra_repr(self) -> str:
        n = self._nd
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}, scale={self.scale}, zero_point={self.zero_point}")
        if self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias() is None:
            s += ", bias=False"
        return s

    def forward(self, input):
        w, b = self._weight_bias
        return qF._conv(self._nd, input, w, b, self.stride, self.padding, self.dilation,
                        self.groups, self.scale, self.zero_point, self._relu, self.padding_mode)

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        # weight and bias first, as in PyTorch's files (the module has no parameters of its own)
        destination[prefix + "weight"], destination[prefix + "bias"] = self._weight_bias
        super()._save_to_state_dict(destination, prefix, keep_vars)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        self.set_weight_bias(state_dict.pop(prefix + "weight"), state_dict.pop(prefix + "bias"))
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant: bool = False):
        """The quantized convolution of an observed float (or QAT) ``mod``; a QAT conv-bn
        first folds its batch norm into the weights."""
        activation_post_process = mod.activation_post_process
        if hasattr(mod, "weight_fake_quant"):
            if hasattr(mod, "bn"):
                mod.weight, mod.bias = fuse_conv_bn_weights(
                    mod.weight, mod.bias, mod.bn.running_mean, mod.bn.running_var, mod.bn.eps,
                    mod.bn.weight, mod.bn.bias)
            weight_post_process = mod.weight_fake_quant
        else:
            if isinstance(mod, nn.Sequential):  # a fused ConvReLU: its conv holds the weights
                mod = mod[0]
            weight_post_process = mod.qconfig.weight()
            weight_post_process(mod.weight)
        qweight = quantize_weight(mod.weight.float().detach(), weight_post_process)
        qconv = cls(mod.in_channels, mod.out_channels, mod.kernel_size, mod.stride,
                    mod.padding, mod.dilation, mod.groups, mod.bias is not None,
                    mod.padding_mode)
        qconv.set_weight_bias(qweight, None if mod.bias is None else mod.bias.detach())
        scale, zero_point = activation_post_process.calculate_qparams()
        qconv.scale = float(scale)
        qconv.zero_point = int(zero_point)
        return qconv


class Conv1d(_ConvNd):
    """1-d convolution on quantized tensors (qint8 weight, float bias, requantized output)."""

    _nd = 1
    _FLOAT_MODULE = (nn.Conv1d,)


class Conv2d(_ConvNd):
    """2-d convolution on quantized tensors (qint8 weight, float bias, requantized output).

    Example::

        >>> m = Conv2d(3, 4, 3)
        >>> x = ember.quantize_per_tensor(ember.randn(1, 3, 5, 5), 0.05, 64, ember.quint8)
        >>> m(x).shape
        torch.Size([1, 4, 3, 3])
    """

    _nd = 2
    _FLOAT_MODULE = (nn.Conv2d,)


class Conv3d(_ConvNd):
    """3-d convolution on quantized tensors (qint8 weight, float bias, requantized output)."""

    _nd = 3
    _FLOAT_MODULE = (nn.Conv3d,)
