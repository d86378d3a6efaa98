"""Quantized ``Linear`` (static: quantized input and output) and its packed parameters."""
from __future__ import annotations

import ember
from ember import nn
from ember._quantized import (
    per_channel_affine,
    per_channel_affine_float_qparams,
    per_channel_symmetric,
    quantize_per_channel,
    quantize_per_tensor,
)
from ember.ao.nn.quantized import functional as qF
from ember.ao.nn.quantized._basic import _OutputQParams
from ember.nn.modules.module import _addindent

__all__ = ["Linear", "LinearPackedParams", "quantize_weight"]


def repr_without(module, name: str) -> str:
    """``repr(module)`` leaving out its child ``name`` (packed weights, which PyTorch's repr
    does not show)."""
    extra_lines = module.extra_repr().split("\n") if module.extra_repr() else []
    child_lines = [f"({key}): " + _addindent(repr(child), 2)
                   for key, child in module._modules.items() if key != name]
    main = module._get_name() + "("
    if len(extra_lines) == 1 and not child_lines:
        main += extra_lines[0]
    elif extra_lines or child_lines:
        main += "\n  " + "\n  ".join(extra_lines + child_lines) + "\n"
    return main + ")"


def quantize_weight(float_wt, observer):
    """``float_wt`` quantized with the qparams ``observer`` (which has seen it) chose: per
    tensor or per channel (along ``observer.ch_axis``)."""
    scale, zero_point = observer.calculate_qparams()
    scheme = observer.qscheme
    if scheme is per_channel_affine_float_qparams:  # float zero points, kept as they are
        return quantize_per_channel(float_wt, scale, zero_point, observer.ch_axis,
                                    observer.dtype)
    if scheme in (per_channel_affine, per_channel_symmetric):
        return quantize_per_channel(float_wt, scale.to(ember.float64),
                                    zero_point.to(ember.int64), observer.ch_axis, ember.qint8)
    return quantize_per_tensor(float_wt, float(scale), int(zero_point), observer.dtype)


class LinearPackedParams(nn.Module):
    """A quantized weight and float bias, saved as ``dtype`` and ``_packed_params``
    (the ``(weight, bias)`` tuple), as PyTorch's packed linear parameters are."""

    _version = 3

    def __init__(self, dtype=ember.qint8) -> None:
        super().__init__()
        self.dtype = dtype
        wq = quantize_per_tensor(ember.zeros(1, 1), 1.0, 0, ember.qint8)
        self.set_weight_bias(wq, None)

    def set_weight_bias(self, weight, bias) -> None:
        self._packed_params = (weight, bias)

    def _weight_bias(self):
        return self._packed_params

    def forward(self, x):
        return x

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        destination[prefix + "dtype"] = self.dtype
        destination[prefix + "_packed_params"] = self._weight_bias()

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        self.dtype = state_dict.pop(prefix + "dtype")
        weight, bias = state_dict.pop(prefix + "_packed_params")
        self.set_weight_bias(weight, bias)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, False, missing_keys,
                                      unexpected_keys, error_msgs)

    def __repr__(self) -> str:
        return self._weight_bias().__repr__()


class Linear(_OutputQParams, nn.Module):
    """A linear layer on quantized tensors: quint8 input, qint8 weight, float bias, output
    requantized with ``scale`` and ``zero_point``.

    Example::

        >>> m = Linear(4, 2)
        >>> x = ember.quantize_per_tensor(ember.randn(3, 4), 0.05, 64, ember.quint8)
        >>> m(x).shape
        torch.Size([3, 2])
    """

    _version = 3  # the packed-parameter layout of PyTorch's files
    _FLOAT_MODULE = (nn.Linear,)

    def __init__(self, in_features: int, out_features: int, bias_: bool = True,
                 dtype=ember.qint8) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        bias = ember.zeros(out_features) if bias_ else None
        qweight = quantize_per_tensor(ember.zeros(out_features, in_features), 1.0, 0,
                                      ember.qint8)
        self._packed_params = LinearPackedParams(dtype)
        self._packed_params.set_weight_bias(qweight, bias)
        self.scale = 1.0
        self.zero_point = 0

    def _get_name(self) -> str:
        return "QuantizedLinear"

    def __repr__(self) -> str:
        return repr_without(self, "_packed_params")

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"scale={self.scale}, zero_point={self.zero_point}, "
                f"qscheme={self.weight().qscheme()}")

    def forward(self, x):
        weight, bias = self._packed_params._weight_bias()
        return qF.linear(x, weight, bias, self.scale, self.zero_point)

    def weight(self):
        return self._packed_params._weight_bias()[0]

    def bias(self):
        return self._packed_params._weight_bias()[1]

    def set_weight_bias(self, w, b) -> None:
        self._packed_params.set_weight_bias(w, b)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant: bool = False):
        """The quantized layer of an observed float ``mod`` (after ``prepare``/calibration):
        its weight quantized with the qconfig's weight observer, its output qparams from its
        ``activation_post_process``."""
        activation_post_process = mod.activation_post_process
        if hasattr(mod, "weight_fake_quant"):
            weight_post_process = mod.weight_fake_quant
        else:
            if isinstance(mod, nn.Sequential):  # a fused LinearReLU: its Linear holds weights
                mod = mod[0]
            weight_post_process = mod.qconfig.weight()
            weight_post_process(mod.weight)
        qweight = quantize_weight(mod.weight.float().detach(), weight_post_process)
        qlinear = cls(mod.in_features, mod.out_features, dtype=weight_post_process.dtype)
        bias = None if mod.bias is None else mod.bias.detach()
        qlinear.set_weight_bias(qweight, bias)
        scale, zero_point = activation_post_process.calculate_qparams()
        qlinear.scale = float(scale)
        qlinear.zero_point = int(zero_point)
        return qlinear
