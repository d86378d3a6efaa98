"""Fused QAT modules (``torch.ao.nn.intrinsic.qat``): conv/linear + ReLU with fake-quantized
weights, and conv + batch norm whose weights are fake-quantized folded with the batch norm's
scale, so training sees the weights the quantized model will use."""
from __future__ import annotations

import ember
from ember import nn
from ember.ao.nn import qat as nnqat
from ember.nn import functional as F

__all__ = ["ConvReLU2d", "ConvReLU3d", "LinearReLU", "ConvBn1d", "ConvBn2d", "ConvBn3d",
           "ConvBnReLU1d", "ConvBnReLU2d", "ConvBnReLU3d", "freeze_bn_stats", "update_bn_stats"]


class ConvReLU2d(nnqat.Conv2d):
    """QAT Conv2d followed by ReLU."""

    def forward(self, input):
        return F.relu(super().forward(input))


class ConvReLU3d(nnqat.Conv3d):
    """QAT Conv3d followed by ReLU."""

    def forward(self, input):
        return F.relu(super().forward(input))


class LinearReLU(nnqat.Linear):
    """QAT Linear followed by ReLU."""

    def forward(self, input):
        return F.relu(super().forward(input))


class _ConvBnNd:
    """Conv + BatchNorm for QAT: the weight is scaled by ``bn.weight / running_std`` before
    fake quantization; the conv output is scaled back and goes through the real batch norm,
    which keeps training its statistics until ``freeze_bn_stats``."""

    _relu = False

    def _init_bn(self, bn_cls, eps, momentum, freeze_bn) -> None:
        self.freeze_bn = freeze_bn if self.training else True
        self.bn = bn_cls(self.out_channels, eps, momentum, True, True)
        # PyTorch registers bn before weight_fake_quant (module and state_dict order)
        self._modules["weight_fake_quant"] = self._modules.pop("weight_fake_quant")

    def reset_bn_parameters(self) -> None:
        self.bn.reset_running_stats()
        nn.init.uniform_(self.bn.weight)
        nn.init.zeros_(self.bn.bias)

    def update_bn_stats(self):
        self.freeze_bn = False
        self.bn.training = True
        return self

    def freeze_bn_stats(self):
        self.freeze_bn = True
        self.bn.training = False
        return self

    def forward(self, input):
        running_std = ember.sqrt(self.bn.running_var + self.bn.eps)
        scale_factor = self.bn.weight / running_std
        extra = [1] * (self.weight.ndim - 2)
        scaled_weight = self.weight_fake_quant(self.weight * scale_factor.reshape(-1, 1, *extra))
        conv = self._conv_forward(input, scaled_weight, None)
        conv = conv / scale_factor.reshape(1, -1, *extra)
        if self.bias is not None:
            conv = conv + self.bias.reshape(1, -1, *extra)
        out = self.bn(conv)
        return F.relu(out) if self._relu else out

    def train(self, mode: bool = True):
        nn.Module.train(self, mode)
        if self.freeze_bn:
            self.bn.training = False
        return self

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant: bool = False):
        """The QAT module of a fused ``ConvBn`` / ``ConvBnReLU``, sharing its parameters and
        batch-norm statistics."""
        conv, bn = mod[0], mod[1]
        qat = cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                  conv.padding, conv.dilation, conv.groups, conv.bias is not None,
                  conv.padding_mode, bn.eps, bn.momentum, False, mod.qconfig)
        qat.weight = conv.weight
        qat.bias = conv.bias
        qat.bn.weight = bn.weight
        qat.bn.bias = bn.bias
        qat.bn.running_mean = bn.running_mean
        qat.bn.running_var = bn.running_var
        qat.bn.num_batches_tracked = bn.num_batches_tracked
        return qat


def _conv_bn(name: str, conv_cls, bn_cls, relu: bool):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=None, padding_mode="zeros", eps=1e-05, momentum=0.1,
                 freeze_bn=False, qconfig=None):
        conv_cls.__init__(self, in_channels, out_channels, kernel_size, stride, padding,
                          dilation, groups, False if bias is None else bias, padding_mode,
                          qconfig=qconfig)
        self._init_bn(bn_cls, eps, momentum, freeze_bn)

    doc = f"QAT {conv_cls._FLOAT_MODULE.__name__} + {bn_cls.__name__}" + (" + ReLU" if relu
                                                                         else "") + "."
    return type(name, (_ConvBnNd, conv_cls), {"__init__": __init__, "_relu": relu,
                                               "__doc__": doc, "__module__": __name__})


ConvBn1d = _conv_bn("ConvBn1d", nnqat.Conv1d, nn.BatchNorm1d, False)
ConvBn2d = _conv_bn("ConvBn2d", nnqat.Conv2d, nn.BatchNorm2d, False)
ConvBn3d = _conv_bn("ConvBn3d", nnqat.Conv3d, nn.BatchNorm3d, False)
ConvBnReLU1d = _conv_bn("ConvBnReLU1d", nnqat.Conv1d, nn.BatchNorm1d, True)
ConvBnReLU2d = _conv_bn("ConvBnReLU2d", nnqat.Conv2d, nn.BatchNorm2d, True)
ConvBnReLU3d = _conv_bn("ConvBnReLU3d", nnqat.Conv3d, nn.BatchNorm3d, True)


def freeze_bn_stats(mod) -> None:
    """For ``model.apply``: stop updating the batch-norm statistics of QAT conv-bn modules."""
    if isinstance(mod, _ConvBnNd):
        mod.freeze_bn_stats()


def update_bn_stats(mod) -> None:
    """For ``model.apply``: resume updating the batch-norm statistics."""
    if isinstance(mod, _ConvBnNd):
        mod.update_bn_stats()
