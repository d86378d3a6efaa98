"""Dynamically quantized ``Linear``: int8 weights; each input quantized on the fly with qparams
from its own range, the integer product scaled back to float (fbgemm's numerics)."""
from __future__ import annotations

import numpy as np

import ember
from ember._quantized import choose_qparams, quantize_per_tensor
from ember.ao.nn.quantized import _linear as nnq
from ember.ao.nn.quantized.functional import integer_operands, rescale
from ember.nn import functional as F

__all__ = ["Linear", "linear_dynamic"]


def linear_dynamic(x, weight, bias=None, reduce_range: bool = True):
    """``x @ weight.T + bias`` with float ``x`` quantized to quint8 (0..127 with
    ``reduce_range``) by its own min and max, and a qint8 ``weight``; float result."""
    data = x.detach()._data
    lo, hi = (float(data.min()), float(data.max())) if data.size else (0.0, 0.0)
    scale, zero_point = choose_qparams(lo, hi, 0, 127 if reduce_range else 255)
    scale = float(np.float32(scale))  # fbgemm keeps the activation scale in float32
    xq = quantize_per_tensor(x.detach(), scale, zero_point, ember.quint8)
    acc = F.linear(*integer_operands(xq, weight, weight.shape[1]))
    return rescale(acc, scale, weight, bias, acc.ndim - 1)


class Linear(nnq.Linear):
    """A linear layer with int8 weights for float inputs (``quantize_dynamic``'s Linear).

    Example::

        >>> m = Linear(4, 2)
        >>> m(ember.randn(3, 4)).dtype
        torch.float32
    """

    _version = 4

    def __init__(self, in_features: int, out_features: int, bias_: bool = True,
                 dtype=ember.qint8) -> None:
        super().__init__(in_features, out_features, bias_, dtype=dtype)

    def forward(self, x):
        weight, bias = self._packed_params._weight_bias()
        if self._packed_params.dtype is ember.float16:
            return F.linear(x, weight.to(x.dtype), bias)
        return linear_dynamic(x, weight, bias, reduce_range=True)

    def _get_name(self) -> str:
        return "DynamicQuantizedLinear"

    def extra_repr(self) -> str:
        s = (f"in_features={self.in_features}, out_features={self.out_features}, "
             f"dtype={self._packed_params.dtype}")
        if self._packed_params.dtype is ember.qint8:
            s += f", qscheme={self.weight().qscheme()}"
        return s

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant: bool = False):
        """The dynamic layer of a float ``mod``: its weight quantized with its qconfig's weight
        observer (the default dynamic qconfig's if none)."""
        from ember.ao.quantization.qconfig import default_dynamic_qconfig
        if isinstance(mod, ember.nn.Sequential):  # a fused LinearReLU keeps its ReLU out
            mod = mod[0]
        qconfig = getattr(mod, "qconfig", None) or default_dynamic_qconfig
        weight_observer = qconfig.weight()
        dtype = weight_observer.dtype
        if dtype not in (ember.qint8, ember.float16):
            raise AssertionError(f"The only supported dtypes for dynamic quantized linear are "
                                 f"qint8 and float16 got: {dtype}")
        weight_observer(mod.weight)
        if dtype is ember.qint8:
            qweight = nnq.quantize_weight(mod.weight.float().detach(), weight_observer)
        else:
            qweight = mod.weight.detach().to(ember.float16)
        qlinear = cls(mod.in_features, mod.out_features, dtype=dtype)
        qlinear.set_weight_bias(qweight, None if mod.bias is None else mod.bias.detach())
        return qlinear
