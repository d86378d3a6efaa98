"""Quantized ops with PyTorch's CPU numerics (``torch.ao.nn.quantized.functional``).

Products of 8-bit integers are summed exactly (see ``integer_operands``), then scaled in float32
as ``acc * (input_scale * weight_scale) + bias`` and requantized with the output's scale and
zero point, as fbgemm's requantization does.
"""
from __future__ import annotations

import numpy as np

import ember
from ember._quantized import (
    QuantizedTensor,
    _wrap,
    per_tensor_affine,
    quant_range,
    quantize_per_tensor,
)
from ember._tensor import Tensor, _make
from ember.nn import functional as F

__all__ = ["linear", "conv1d", "conv2d", "conv3d", "add", "add_relu", "mul", "cat", "relu"]

_EXACT_FLOAT32 = 2 ** 24  # every integer below this is a float32


def centered(q: QuantizedTensor, dtype=np.float64) -> Tensor:
    """``q``'s integers minus their zero points, as ``dtype``."""
    d = q.__dict__
    ints = q._data.astype(dtype)
    if d["_axis"] is None:
        return _make(ints - dtype(d["_zero_point"]))
    shape = [1] * ints.ndim
    shape[d["_axis"]] = -1
    return _make(ints - d["_zero_point"]._data.reshape(shape).astype(dtype))


def _centered_weight(w: QuantizedTensor, dtype) -> Tensor:
    # A weight is used at every call: its centered form is kept with it (per float type).
    key = "_centered_" + np.dtype(dtype).name
    cached = w.__dict__.get(key)
    if cached is None:
        cached = w.__dict__[key] = centered(w, dtype)
    return cached


def integer_operands(x: QuantizedTensor, w: QuantizedTensor, fan_in: int) -> tuple:
    """``x`` and ``w`` centered, in float32 where every partial sum of ``fan_in`` products is
    an integer float32 holds exactly (so BLAS sums them exactly, in any order), else float64."""
    lo, hi = quant_range(x.dtype)
    zp = x.q_zero_point()
    x_bound = max(abs(lo - zp), abs(hi - zp))
    w_bound = w.__dict__.get("_centered_bound")
    if w_bound is None:
        ints = _centered_weight(w, np.float64)._data
        w_bound = w.__dict__["_centered_bound"] = int(abs(ints).max()) if ints.size else 0
    dtype = np.float32 if fan_in * x_bound * w_bound < _EXACT_FLOAT32 else np.float64
    return centered(x, dtype), _centered_weight(w, dtype)


def _multipliers(x_scale: float, w: QuantizedTensor, ndim: int, channel_dim: int) -> Tensor:
    """float32 ``x_scale * w_scale[c]`` shaped to broadcast along ``channel_dim``."""
    if w.__dict__["_axis"] is None:
        w_scale = ember.tensor(w.q_scale())
    else:
        w_scale = w.q_per_channel_scales().to(ember.float32)
        shape = [1] * ndim
        shape[channel_dim] = -1
        w_scale = w_scale.reshape(shape)
    return ember.tensor(x_scale) * w_scale


def rescale(acc: Tensor, x_scale: float, w: QuantizedTensor, bias: Tensor | None,
            channel_dim: int) -> Tensor:
    """The float result ``acc * (x_scale * w_scale[c]) + bias[c]`` (dynamic quantization)."""
    out = acc.to(ember.float32) * _multipliers(x_scale, w, acc.ndim, channel_dim)
    if bias is not None:
        out = out + _channel_bias(bias, acc.ndim, channel_dim)
    return out


def _channel_bias(bias: Tensor, ndim: int, channel_dim: int) -> Tensor:
    shape = [1] * ndim
    shape[channel_dim] = -1
    return bias.detach().to(ember.float32).reshape(shape)


def requantize(acc: Tensor, x_scale: float, w: QuantizedTensor, bias: Tensor | None,
               channel_dim: int, scale: float, zero_point: int, dtype,
               relu: bool) -> QuantizedTensor:
    """The quantized result of the integer sums ``acc``: ``round((acc + bias / m) * (m /
    scale)) + zero_point`` with ``m = x_scale * w_scale[c]``, in float32 (fbgemm's order)."""
    m = _multipliers(x_scale, w, acc.ndim, channel_dim)
    raw = acc.to(ember.float32)
    if bias is not None:
        raw = raw + _channel_bias(bias, acc.ndim, channel_dim) / m
    ab = raw * (m / ember.tensor(float(scale)))
    lo, hi = quant_range(dtype)
    q = ember.clamp(ember.round(ab) + zero_point, zero_point if relu else lo, hi)
    return _wrap(q._data.astype(dtype.np_dtype), dtype, per_tensor_affine, float(scale),
                 int(zero_point))


def linear(input: QuantizedTensor, weight: QuantizedTensor, bias: Tensor | None = None,
           scale: float | None = None, zero_point: int | None = None,
           relu: bool = False) -> QuantizedTensor:
    """Quantized ``input @ weight.T + bias``, requantized with ``scale`` and ``zero_point``
    (quint8 input, qint8 weight, float bias)."""
    acc = F.linear(*integer_operands(input, weight, weight.shape[1]))
    return requantize(acc, input.q_scale(), weight, bias, acc.ndim - 1, scale, zero_point,
                      input.dtype, relu)


def _conv(nd: int, input, weight, bias, stride, padding, dilation, groups, scale, zero_point,
          relu: bool, padding_mode: str = "zeros"):
    fan_in = weight.shape[1] * int(np.prod(weight.shape[2:]))
    x, w = integer_operands(input, weight, fan_in)
    if padding_mode != "zeros":
        pads = [p for p in reversed(padding) for _ in range(2)]
        x = F.pad(x, pads, mode=padding_mode)
        padding = 0
    conv = (F.conv1d, F.conv2d, F.conv3d)[nd - 1]
    acc = conv(x, w, None, stride, padding, dilation, groups)
    return requantize(acc, input.q_scale(), weight, bias, 1, scale, zero_point, input.dtype,
                      relu)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros", scale=1.0, zero_point=0, dtype=None):
    """Quantized 1-d convolution, requantized with ``scale`` and ``zero_point``."""
    return _conv(1, input, weight, bias, stride, padding, dilation, groups, scale, zero_point,
                 False)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros", scale=1.0, zero_point=0, dtype=None):
    """Quantized 2-d convolution, requantized with ``scale`` and ``zero_point``."""
    return _conv(2, input, weight, bias, stride, padding, dilation, groups, scale, zero_point,
                 False)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros", scale=1.0, zero_point=0, dtype=None):
    """Quantized 3-d convolution, requantized with ``scale`` and ``zero_point``."""
    return _conv(3, input, weight, bias, stride, padding, dilation, groups, scale, zero_point,
                 False)


def _requantize(y: Tensor, scale: float, zero_point: int, dtype, relu: bool) -> QuantizedTensor:
    q = quantize_per_tensor(y, scale, zero_point, dtype)
    return q.relu() if relu else q


def _float(x):
    return x.dequantize() if isinstance(x, QuantizedTensor) else x


def add(x: QuantizedTensor, y, scale: float, zero_point: int,
        relu: bool = False) -> QuantizedTensor:
    """``x + y`` of the values, requantized (``y`` a quantized tensor or a number)."""
    return _requantize(x.dequantize() + _float(y), scale, zero_point, x.dtype, relu)


def add_relu(x: QuantizedTensor, y, scale: float, zero_point: int) -> QuantizedTensor:
    return add(x, y, scale, zero_point, relu=True)


def mul(x: QuantizedTensor, y, scale: float, zero_point: int,
        relu: bool = False) -> QuantizedTensor:
    """``x * y`` of the values, requantized."""
    return _requantize(x.dequantize() * _float(y), scale, zero_point, x.dtype, relu)


def cat(xs, dim: int = 0, scale: float | None = None,
        zero_point: int | None = None) -> QuantizedTensor:
    """Concatenate the values, requantized (with the first input's qparams by default)."""
    first = xs[0]
    scale = first.q_scale() if scale is None else scale
    zero_point = first.q_zero_point() if zero_point is None else zero_point
    y = ember.cat([x.dequantize() for x in xs], dim)
    return quantize_per_tensor(y, scale, zero_point, first.dtype)


def relu(input: QuantizedTensor, inplace: bool = False) -> QuantizedTensor:
    return input.relu()
