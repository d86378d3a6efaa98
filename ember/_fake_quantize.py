"""Fake quantization: quantize and dequantize in one differentiable float op.

``fake_quantize_per_tensor_affine(x, scale, zero_point, quant_min, quant_max)`` is
``(clamp(round(x / scale) + zero_point, quant_min, quant_max) - zero_point) * scale``; its
gradient is the straight-through estimator: ``grad`` where the rounded value fell inside
[quant_min, quant_max], 0 elsewhere. The learnable forms also give gradients for the scale and
zero point (LSQ, as PyTorch's ``_fake_quantize_learnable_*``).
"""
from __future__ import annotations

import numpy as np

from ember._tensor import Tensor
from ember.autograd.function import Primitive
from ember.backend.device import get_array_module


def _rounded(x, scale, zero_point):
    """round(x * (1 / scale)) + zero_point in float32 arithmetic (PyTorch's CPU kernel)."""
    xp = get_array_module(x)
    inv_scale = np.float32(1.0) / xp.asarray(scale, np.float32)
    return xp.rint(x * inv_scale) + xp.asarray(zero_point, np.float32)


def _channel_shape(ndim: int, axis: int) -> list:
    shape = [1] * ndim
    shape[axis] = -1
    return shape


class FakeQuantize(Primitive, node_name="FakeQuantizePerTensorAffineCachemaskBackward0"):
    @staticmethod
    def forward(ctx, x, scale, zero_point, quant_min, quant_max, axis):
        xp = get_array_module(x)
        if axis is not None:
            shape = _channel_shape(x.ndim, axis)
            scale = xp.asarray(scale).reshape(shape)
            zero_point = xp.asarray(zero_point).reshape(shape)
        q = _rounded(x, scale, zero_point)
        ctx.save_for_backward((q >= quant_min) & (q <= quant_max))
        out = (xp.clip(q, quant_min, quant_max) - xp.asarray(zero_point, np.float32))
        return (out * xp.asarray(scale, np.float32)).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        return grad * mask, None, None, None, None, None


def _scalar_or_array(v):
    return v._data if isinstance(v, Tensor) else v


def fake_quantize_per_tensor_affine(input: Tensor, scale, zero_point, quant_min: int,
                                    quant_max: int) -> Tensor:
    """Quantize and dequantize ``input`` with one scale and zero point (numbers or 1-element
    tensors); the gradient passes where the value was inside [quant_min, quant_max].

    Example::

        >>> x = ember.tensor([0.04, 0.26, 9.0])
        >>> ember.fake_quantize_per_tensor_affine(x, 0.1, 0, 0, 255).tolist()
        [0.0, 0.30000001192092896, 9.0]
    """
    return FakeQuantize.apply(input, _scalar_or_array(scale), _scalar_or_array(zero_point),
                              quant_min, quant_max, None)


def fake_quantize_per_channel_affine(input: Tensor, scale: Tensor, zero_point: Tensor,
                                     axis: int, quant_min: int, quant_max: int) -> Tensor:
    """Fake quantization with one scale and zero point per index of dim ``axis``."""
    return FakeQuantize.apply(input, scale._data, zero_point._data, quant_min, quant_max,
                              axis % input.ndim)


class LearnableFakeQuantize(Primitive, node_name="FakeQuantizeLearnablePerTensorAffineBackward0"):
    @staticmethod
    def forward(ctx, x, scale, zero_point, quant_min, quant_max, axis, grad_factor):
        xp = get_array_module(x)
        reduce_dims = tuple(range(x.ndim)) if axis is None else tuple(
            d for d in range(x.ndim) if d != axis)
        shape = [1] * x.ndim if axis is None else _channel_shape(x.ndim, axis)
        scale = xp.asarray(scale, np.float32).reshape(shape)
        zero_point = xp.clip(xp.rint(xp.asarray(zero_point, np.float32)), quant_min,
                             quant_max).reshape(shape)
        q = _rounded(x, scale, zero_point)
        below, above = q < quant_min, q > quant_max
        clipped = xp.clip(q, quant_min, quant_max)
        out = ((clipped - zero_point) * scale).astype(x.dtype, copy=False)
        # d out / d scale: the straight-through (q - zero_point) - x / scale inside the range,
        # the clamped level outside; d out / d zero_point: -scale outside, 0 inside.
        d_scale = xp.where(below | above, clipped - zero_point, (out - x) / scale)
        d_zero = xp.where(below | above, -scale, 0.0)
        ctx.save_for_backward(~(below | above), d_scale.astype(x.dtype), d_zero.astype(x.dtype))
        ctx.reduce = (reduce_dims, grad_factor, xp.asarray(scale).size)
        return out

    @staticmethod
    def backward(ctx, grad):
        mask, d_scale, d_zero = ctx.saved_tensors
        dims, factor, n = ctx.reduce
        g_scale = (grad * d_scale).sum(dims) * factor
        g_zero = (grad * d_zero).sum(dims) * factor
        if n == 1:
            g_scale, g_zero = g_scale.reshape(1), g_zero.reshape(1)
        return grad * mask, g_scale, g_zero, None, None, None, None


def _fake_quantize_learnable_per_tensor_affine(input: Tensor, scale: Tensor, zero_point: Tensor,
                                               quant_min: int, quant_max: int,
                                               grad_factor: float = 1.0) -> Tensor:
    """Fake quantization whose scale and zero point (1-element tensors) get gradients."""
    return LearnableFakeQuantize.apply(input, scale, zero_point, quant_min, quant_max, None,
                                       grad_factor)


def _fake_quantize_learnable_per_channel_affine(input: Tensor, scale: Tensor, zero_point: Tensor,
                                                axis: int, quant_min: int, quant_max: int,
                                                grad_factor: float = 1.0) -> Tensor:
    """Per-channel fake quantization whose scales and zero points get gradients."""
    return LearnableFakeQuantize.apply(input, scale, zero_point, quant_min, quant_max,
                                       axis % input.ndim, grad_factor)
