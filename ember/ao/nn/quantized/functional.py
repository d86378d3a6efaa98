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
from ember.backend.device import get_array_module
from ember.nn import functional as F

__all__ = ["linear", "conv1d", "conv2d", "conv3d", "add", "add_relu", "mul", "cat", "relu",
           "max_pool1d", "max_pool2d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool2d",
           "adaptive_avg_pool3d", "hardtanh", "hardswish", "hardsigmoid"]

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
    out = requantize(acc, input.q_scale(), weight, bias, 1, scale, zero_point, input.dtype,
                     relu)
    # fbgemm returns channels-last, which picks PyTorch's kernel (and rounding) downstream
    layout = (None, ember.channels_last, ember.channels_last_3d)[nd - 1]
    return out if layout is None else out.contiguous(memory_format=layout)


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


def _fused_dequantize(q: QuantizedTensor):
    """``q``'s float32 values as fbgemm's vectorized kernels compute them: ``q * scale +
    (-zero_point * scale)`` rounded once (a fused multiply-add; exact in float64 first)."""
    scale = np.float32(q.q_scale())
    premultiplied = scale * np.float32(-q.q_zero_point())
    return (q._data.astype(np.float64) * np.float64(scale)
            + np.float64(premultiplied)).astype(np.float32)


def _rounded_then_shifted(values, scale: float, zero_point: int, dtype,
                          relu: bool) -> QuantizedTensor:
    """``round(values * (1 / scale)) + zero_point``, clamped (at the zero point with ``relu``):
    the vectorized kernels round before adding the zero point."""
    xp = get_array_module(values)
    lo, hi = quant_range(dtype)
    ints = xp.rint(values * (np.float32(1.0) / np.float32(scale))) + zero_point
    ints = xp.clip(ints, zero_point if relu else lo, hi).astype(dtype.np_dtype)
    return _wrap(ints, dtype, per_tensor_affine, float(scale), int(zero_point))


def add(x: QuantizedTensor, y, scale: float, zero_point: int,
        relu: bool = False) -> QuantizedTensor:
    """``x + y`` of the values, requantized (``y`` a quantized tensor or a number). Two tensors
    of one layout add as PyTorch's vectorized quantized add (see ``_fused_dequantize``); of
    different layouts (channels-last and not) as its element-by-element loop, which PyTorch
    also runs on the last ``numel % vector width`` elements (64 with AVX-512): there a value
    within float error of a half step may round the other way."""
    if not isinstance(y, QuantizedTensor) or x._data.strides != y._data.strides:
        return _requantize(x.dequantize() + _float(y), scale, zero_point, x.dtype, relu)
    values = _fused_dequantize(x) + _fused_dequantize(y)
    return _rounded_then_shifted(values, scale, zero_point, x.dtype, relu)


def add_relu(x: QuantizedTensor, y, scale: float, zero_point: int) -> QuantizedTensor:
    return add(x, y, scale, zero_point, relu=True)


def mul(x: QuantizedTensor, y, scale: float, zero_point: int,
        relu: bool = False) -> QuantizedTensor:
    """``x * y`` of the values, requantized. Two tensors multiply as PyTorch's quantized mul:
    the product of their centered integers times the float32 ``x_scale * y_scale / scale``,
    rounded (in float64), plus the zero point."""
    if not isinstance(y, QuantizedTensor):
        return _requantize(x.dequantize() * y, scale, zero_point, x.dtype, relu)
    xp = x._xp
    multiplier = np.float32(x.q_scale() * y.q_scale() / scale)
    products = centered(x)._data * centered(y)._data  # float64: exact
    ints = xp.rint(products * np.float64(multiplier)) + zero_point
    lo, hi = quant_range(x.dtype)
    ints = xp.clip(ints, zero_point if relu else lo, hi).astype(x.dtype.np_dtype)
    return _wrap(ints, x.dtype, per_tensor_affine, float(scale), int(zero_point))


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


def _quantized_input(input, op: str) -> None:
    if not input.is_quantized:
        raise ValueError(f"Input to 'quantized.{op}' must be quantized!")


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """Max pooling of the integers; the output keeps the input's qparams."""
    if return_indices:
        raise NotImplementedError("return_indices is not yet implemented!")
    return F.max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode=ceil_mode)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """Max pooling of the integers; the output keeps the input's qparams."""
    if return_indices:
        raise NotImplementedError("return_indices is not yet implemented!")
    return F.max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode=ceil_mode)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None):
    """Average pooling, requantized with the input's qparams (see ``requantized_mean``)."""
    _quantized_input(input, "avg_pool2d")
    return F.avg_pool2d(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                        divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None):
    _quantized_input(input, "avg_pool3d")
    return F.avg_pool3d(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                        divisor_override)


def adaptive_avg_pool2d(input, output_size):
    """Adaptive average pooling, requantized with the input's qparams."""
    _quantized_input(input, "functional.adaptive_avg_pool2d")
    return F.adaptive_avg_pool2d(input, output_size)


def adaptive_avg_pool3d(input, output_size):
    _quantized_input(input, "functional.adaptive_avg_pool3d")
    return F.adaptive_avg_pool3d(input, output_size)


def hardtanh(input, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
    """The integers clipped to those of ``min_val`` and ``max_val``, same qparams."""
    _quantized_input(input, "hardtanh")
    return F.hardtanh(input, min_val, max_val, inplace)


def _relu6_of_shifted(values):
    """``min(max(values + 3, 0), 6)`` in float32, as the vectorized kernels compute it."""
    xp = get_array_module(values)
    return xp.minimum(xp.maximum(values + np.float32(3.0), np.float32(0.0)), np.float32(6.0))


def hardswish(input, scale: float, zero_point: int):
    """``x * min(max(x + 3, 0), 6) / 6`` of the values (dequantized as fbgemm's vectorized
    kernel does, see ``_fused_dequantize``), requantized with ``scale`` and ``zero_point``."""
    _quantized_input(input, "hardswish")
    values = _fused_dequantize(input)
    values = values * _relu6_of_shifted(values) / np.float32(6.0)
    return _rounded_then_shifted(values, scale, zero_point, input.dtype, False)


# hardsigmoid's output range [0, 1] on the dtype's whole grid: scale 1/2^8 (1/2^32 for qint32),
# zero point 0 (-128 for qint8)
_HARDSIGMOID_QPARAMS = {"quint8": (1.0 / 256, 0), "qint8": (1.0 / 256, -128),
                        "qint32": (1.0 / 2 ** 32, 0)}


def hardsigmoid(input, inplace: bool = False):
    """``min(max(x + 3, 0), 6) / 6`` of the values, quantized with fixed qparams that cover
    [0, 1] (``_HARDSIGMOID_QPARAMS``), as PyTorch's quantized kernel."""
    _quantized_input(input, "hardsigmoid")
    scale, zero_point = _HARDSIGMOID_QPARAMS[input.dtype.name]
    values = _relu6_of_shifted(_fused_dequantize(input)) / np.float32(6.0)
    return _rounded_then_shifted(values, scale, zero_point, input.dtype, False)
