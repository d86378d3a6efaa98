"""The activation functions of ``ember.nn.functional`` (re-exported there): rectifiers, smooth
and hard nonlinearities, shrinkage, thresholds, GLU and the softmax family."""
from __future__ import annotations

import struct
import warnings

import numpy as np

from ember import _quantized
from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.ops import nn as _nn
from ember.ops import unary as _unary
from ember.ops._util import refuse_complex_grad, scalar_name
from ember.ops.inplace import inplace as _inplace
from ember.random import generator_for

__all__ = ["relu", "relu_", "relu6", "hardtanh", "hardtanh_", "leaky_relu", "leaky_relu_", "prelu",
           "rrelu", "rrelu_", "elu", "elu_", "selu", "selu_", "celu", "celu_", "gelu", "silu",
           "mish", "hardsigmoid", "hardswish", "sigmoid", "tanh", "softplus", "softsign",
           "logsigmoid", "tanhshrink", "hardshrink", "softshrink", "threshold", "threshold_", "glu",
           "softmax", "log_softmax", "softmin", "gumbel_softmax"]


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0)."""
    # The methods, so that a quantized tensor runs its own (as PyTorch's dispatch does).
    return input.relu_() if inplace else input.relu()


def relu_(input: Tensor) -> Tensor:
    return input.relu_()


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """x clipped to [min_val, max_val]."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    if not input.dtype.is_floating_point:  # integers clamp; bool and complex do not
        if input.dtype is _dt.bool:
            raise RuntimeError("Bool inputs not supported for hardtanh")
        if input.dtype.is_complex:
            raise NotImplementedError("clamp is not supported for complex types")
    if input.is_quantized:
        return _quantized.hardtanh(input, min_val, max_val, inplace)
    if inplace:
        return _inplace(input, _nn.Hardtanh, min_val, max_val, saves_self=True)
    return _nn.Hardtanh.apply(input, min_val, max_val)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    return hardtanh(input, min_val, max_val, inplace=True)


def _real_floating_only(input: Tensor, kernel: str, complex_ok: bool = False) -> None:
    """PyTorch's activation kernels exist for floating dtypes only (some for complex too); the
    common case costs one attribute test."""
    dtype = input.dtype
    if not (dtype.is_floating_point or input.is_quantized or complex_ok and dtype.is_complex):
        raise NotImplementedError(f'"{kernel}" not implemented for \'{scalar_name(dtype)}\'')


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x if x > 0 else negative_slope * x."""
    _real_floating_only(input, "leaky_relu_cpu")
    if inplace:
        return _inplace(input, _nn.LeakyRelu, negative_slope, saves_self=True)
    return _nn.LeakyRelu.apply(input, negative_slope)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return leaky_relu(input, negative_slope, inplace=True)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """x if x > 0 else weight * x, with one weight per channel (dim 1) or one shared."""
    if weight.ndim > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: "
                           f"ndim = {weight.ndim}")
    if input.dtype != weight.dtype:
        raise RuntimeError(f"prelu: Type promoting not supported. Got "
                           f"{scalar_name(input.dtype)} and {scalar_name(weight.dtype)}")
    if weight.numel() == 1:
        w = weight.reshape(())  # a shared weight never widens the input's shape
    else:
        channels = input.shape[1] if input.ndim >= 2 else 1
        if weight.numel() != channels:
            raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found "
                               f"parameter numbers = {weight.numel()} and channel size = "
                               f"{channels}.")
        w = weight.reshape((1, -1) + (1,) * (input.ndim - 2))
    return _nn.Prelu.apply(input, w)


def _rrelu_slopes(input: Tensor, lower: float, upper: float):
    """Training slopes: as PyTorch's CPU kernel, a double U(lower, upper) drawn for each
    non-positive element in C order (the others' slope never applies)."""
    rng, x = generator_for(input.device), input._data
    if input.device.type == "meta":
        return rng.uniform(x.shape, x.dtype)
    negative = x <= 0
    slope = input._xp.ones(x.shape, x.dtype)
    slope[negative] = rng.uniform((int(negative.sum()),), np.float64, lower, upper)
    return slope


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False) -> Tensor:
    """Leaky ReLU whose negative slope is drawn from U(lower, upper) per element in training
    and is (lower + upper) / 2 in evaluation."""
    if lower > upper:
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")
    _real_floating_only(input, "leaky_relu_cpu")
    if training:
        slope = _rrelu_slopes(input, lower, upper)
    else:
        slope = (lower + upper) / 2
    if inplace:
        return _inplace(input, _nn.LeakyRelu, slope, saves_self=True)
    return _nn.LeakyRelu.apply(input, slope)


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
           training: bool = False) -> Tensor:
    return rrelu(input, lower, upper, training, inplace=True)


def _elu(input: Tensor, alpha: float, scale: float, input_scale: float, inplace: bool,
         grad_input_scale: float | None = None) -> Tensor:
    _real_floating_only(input, "elu_cpu")
    if inplace:
        return _inplace(input, _nn.Elu, alpha, scale, input_scale, grad_input_scale,
                        saves_self=True)
    return _nn.Elu.apply(input, alpha, scale, input_scale, grad_input_scale)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x if x > 0 else alpha * (exp(x) - 1)."""
    return _elu(input, alpha, 1.0, 1.0, inplace)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return elu(input, alpha, inplace=True)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha) with the self-normalising constants."""
    return _elu(input, _SELU_ALPHA, _SELU_SCALE, 1.0, inplace)


def selu_(input: Tensor) -> Tensor:
    return selu(input, inplace=True)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x if x > 0 else alpha * (exp(x / alpha) - 1)."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    # PyTorch's CELU backward takes 1 / alpha with alpha rounded to float32.
    alpha32 = struct.unpack("f", struct.pack("f", alpha))[0]
    return _elu(input, alpha, 1.0, 1.0 / alpha, inplace, 1.0 / alpha32)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return celu(input, alpha, inplace=True)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x); ``approximate='tanh'`` uses the tanh approximation."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    _real_floating_only(input, "GeluKernelImpl")
    return _nn.Gelu.apply(input, approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x)."""
    _real_floating_only(input, "silu_cpu", complex_ok=True)
    if input.dtype.is_complex:  # the fused kernel is real; complex silu has no gradient
        refuse_complex_grad("silu", input)
        result = input / (1 + _unary.exp(-input))
        return input.copy_(result) if inplace else result
    if inplace:
        return _inplace(input, _nn.Silu, saves_self=True)
    return _nn.Silu.apply(input)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x))."""
    _real_floating_only(input, "mish_cpu")
    if inplace:
        return _inplace(input, _nn.Mish, saves_self=True)
    return _nn.Mish.apply(input)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """clip(x / 6 + 1/2, 0, 1)."""
    if input.is_quantized:  # its own kernel, with fixed output qparams
        from ember.ao.nn.quantized import functional as qF
        return qF.hardsigmoid(input, inplace)
    _real_floating_only(input, "hardsigmoid_cpu")
    if inplace:
        return _inplace(input, _nn.Hardsigmoid, saves_self=True)
    return _nn.Hardsigmoid.apply(input)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * hardsigmoid(x)."""
    if input.is_quantized:  # PyTorch's quantized hardswish needs output qparams
        raise NotImplementedError("Could not run 'aten::hardswish' with arguments from the "
                                  "'QuantizedCPU' backend; use ao.nn.quantized.Hardswish")
    _real_floating_only(input, "hardswish_cpu")
    if inplace:
        return _inplace(input, _nn.Hardswish, saves_self=True)
    return _nn.Hardswish.apply(input)


def sigmoid(input: Tensor) -> Tensor:
    return _unary.sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    return _unary.tanh(input)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta * x)) / beta, linear where beta * x > threshold."""
    _real_floating_only(input, "softplus_cpu")
    return _nn.Softplus.apply(input, beta, threshold)


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    return input / (input.abs() + 1)


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), stable for large |x|."""
    _real_floating_only(input, "log_sigmoid_cpu")
    return _nn.LogSigmoid.apply(input)


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x)."""
    return input - input.tanh()


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, else 0."""
    _real_floating_only(input, "hardshrink_cpu")
    return _nn.Hardshrink.apply(input, lambd)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x - lambd above lambd, x + lambd below -lambd, else 0."""
    _real_floating_only(input, "softshrink_check")
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    return _nn.Softshrink.apply(input, lambd)


def _check_threshold_dtype(input: Tensor) -> None:
    if input.dtype is _dt.bool or input.dtype.is_complex:
        raise NotImplementedError(f'"threshold_cpu" not implemented for '
                                  f"'{scalar_name(input.dtype)}'")


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x if x > threshold else value."""
    _check_threshold_dtype(input)
    if inplace:
        return _inplace(input, _nn.Threshold, threshold, value, saves_self=True)
    return _nn.Threshold.apply(input, threshold, value)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    _check_threshold_dtype(input)
    return _inplace(input, _nn.Threshold, threshold, value, saves_self=True)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """a * sigmoid(b) where a, b are the halves of ``input`` along ``dim``."""
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    if input.shape[dim] % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {dim % input.ndim} "
                           f"is size {input.shape[dim]}")
    a, b = input.chunk(2, dim)
    return a * b.sigmoid()


def _softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  "to include dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype=None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim``, computed stably."""
    if dim is None:
        dim = _softmax_dim("softmax", input.ndim, _stacklevel)
    return _nn.softmax(input, dim, dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype=None) -> Tensor:
    """log(softmax(x)) along ``dim``, computed stably."""
    if dim is None:
        dim = _softmax_dim("log_softmax", input.ndim, _stacklevel)
    return _nn.log_softmax(input, dim, dtype)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """softmax(-x) along ``dim``."""
    if dim is None:
        dim = _softmax_dim("softmin", input.ndim, _stacklevel)
    input = -input  # negated in the input's dtype, then cast, as in PyTorch (uint8 wraps)
    if dtype is not None:
        input = input.to(_dt.to_dtype(dtype))
    return _nn.softmax(input, dim)


def gumbel_softmax(logits: Tensor, tau: float = 1.0, hard: bool = False, eps: float = 1e-10,
                   dim: int = -1) -> Tensor:
    """Samples from the Gumbel-softmax distribution (straight-through one-hot if ``hard``)."""
    rng = generator_for(logits.device)
    xp = logits._xp
    exp_samples = rng.exponential(logits.shape, logits._data.dtype)
    gumbels = _make(-xp.log(exp_samples))
    y_soft = _nn.softmax((logits + gumbels) / tau, dim)
    if not hard:
        return y_soft
    index = y_soft.argmax(dim, keepdim=True)
    y_hard = y_soft.detach() * 0
    y_hard = y_hard.scatter(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft
