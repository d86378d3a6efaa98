"""``ember.nn.functional``: the layers as functions (activations, linear, normalization,
dropout, embedding, distances) and every loss (from ``ember.nn._losses``).

Each function composes ``ember`` ops, or calls a fused primitive of ``ember.ops.nn`` where
composing would be unstable or much slower.
"""
from __future__ import annotations

import math
import warnings

from ember import _quantized
from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.amp.autocast_mode import cast_args_as
from ember.autograd.function import _AutocastFlag
from ember.autograd.grad_mode import no_grad
from ember.nn._losses import cross_entropy
from ember.ops import dropout as _dropout
from ember.ops import elementwise as _ew
from ember.ops import nn as _nn
from ember.ops import unary as _unary
from ember.ops._util import refuse_complex_grad, scalar_name
from ember.ops.inplace import inplace as _inplace
from ember.ops.linalg import Addmm, einsum, matmul
from ember.ops.movement import broadcast_tensors, cat
from ember.random import generator_for

# ----------------------------------------------------------------------------------------------
# Linear


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = input @ weight.T + bias.

    Shape: input (*, in_features), weight (out_features, in_features), output (*, out_features).
    """
    if _AutocastFlag.on:  # cast as PyTorch's linear: the weight before its transpose (cached)
        input, weight, bias = cast_args_as("LinearBackward0", (input, weight, bias))
    x, w = input._data, weight._data
    if (x.ndim > 2 or x.ndim == 1 and bias is not None) and w.ndim == 2 and \
            x.shape[-1] == w.shape[1]:
        # PyTorch's graph: the batch dims folded into rows, one GEMM each way
        flat = _linear_rows(input.reshape(-1, w.shape[1]), weight, bias)
        return flat.reshape(x.shape[:-1] + w.shape[:1])
    return _linear_rows(input, weight, bias)


def _linear_rows(input: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """``linear`` of (N, in) input as one Addmm (the common case), else as matmul and add."""
    if bias is not None:
        x = input._data
        if x.ndim == 2 and _addmm_fits(x, weight._data, bias._data):
            return Addmm.apply(bias, input, weight.t(), 1, 1)
        _check_linear_dtypes("mat1", input, weight)
    out = matmul(input, weight.t())
    if bias is None:
        return out
    _check_linear_dtypes("self", bias, weight)
    return out + bias


def _addmm_fits(x, w, b) -> bool:
    """Whether arrays ``x`` (N, in), ``w`` (out, in) and ``b`` (out,) of one kind (NumPy or
    CuPy) and dtype make one Addmm."""
    return (w.ndim == 2 and b.shape == w.shape[:1] and x.shape[-1] == w.shape[1]
            and x.__class__ is w.__class__ is b.__class__ and x.dtype == w.dtype == b.dtype)


def _check_linear_dtypes(name: str, a: Tensor, weight: Tensor) -> None:
    """PyTorch's error for a linear whose input (``mat1``) or bias (``self``) has another
    floating dtype than the weight."""
    if a.dtype is not weight.dtype and a.is_floating_point() and weight.is_floating_point():
        raise RuntimeError(f"{name} and mat2 must have the same dtype, but got "
                           f"{scalar_name(a.dtype)} and {scalar_name(weight.dtype)}")


def linear_cross_entropy(input: Tensor, linear_weight: Tensor, target: Tensor, *,
                         linear_bias: Tensor | None = None, weight: Tensor | None = None,
                         reduction: str = "mean", ignore_index: int | None = None,
                         label_smoothing: float = 0.0, options=None) -> Tensor:
    """cross_entropy(linear(input, linear_weight, linear_bias), target, ...).

    ``linear_weight`` is (C, in_features), or (C, d1, ..., dK, in_features) for a K-dimensional
    loss over batched input, whose logits are then (N, C, d1, ..., dK). ``ignore_index=None``
    means -100. ``options`` selects PyTorch's chunked strategy, which only saves memory: ember
    always computes the reference composition.
    """
    if input.ndim not in (1, 2):
        raise RuntimeError(f"expected input with dimensionality 1 or 2, got {input.ndim}")
    if linear_weight.ndim < 2:
        raise RuntimeError(f"expected linear_weight with dimensionality at least 2, got "
                           f"{linear_weight.ndim}")
    classes, *dims, features = linear_weight.shape
    if dims and input.ndim != 2:
        raise RuntimeError(f"K-dimensional loss defined by linear_weight shape "
                           f"{tuple(linear_weight.shape)} requires batched input, (N, "
                           f"{features}), got unbatched input with shape {tuple(input.shape)}")
    bias = None if linear_bias is None else linear_bias.reshape(-1)
    logits = linear(input, linear_weight.reshape(-1, features), bias)
    if dims:
        logits = logits.reshape((input.shape[0], classes) + tuple(dims))
    return cross_entropy(logits, target, weight, ignore_index=-100 if ignore_index is None
                         else ignore_index, reduction=reduction, label_smoothing=label_smoothing)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y_k = input1 @ weight[k] @ input2 + bias_k.

    Shape: input1 (*, in1), input2 (*, in2), weight (out, in1, in2), output (*, out).
    """
    if input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(f"bilinear(): input batch dimensions do not match: got "
                           f"{list(input1.shape[:-1])} and {list(input2.shape[:-1])}")
    if _dt.is_half(input1.dtype):
        # PyTorch's half bilinear: input1 @ weight rounded to the half dtype, then its products
        # with input2 (summed in float32), then the bias
        left = einsum("...i,oij->...oj", input1, weight)
        out = matmul(left, input2.unsqueeze(-1)).squeeze(-1)
    else:
        out = einsum("...i,oij,...j->...o", input1, weight, input2)
    return out if bias is None else out + bias


def identity(input: Tensor) -> Tensor:
    return input


# ----------------------------------------------------------------------------------------------
# Activations


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
    if weight.numel() == 1:
        w = weight.reshape(())  # a shared weight never widens the input's shape
    else:
        channels = input.shape[1] if input.ndim >= 2 else 1
        if weight.numel() != channels:
            raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found "
                               f"parameter numbers = {weight.numel()} and channel size = "
                               f"{channels}.")
        w = weight.reshape((1, -1) + (1,) * (input.ndim - 2))
    return _ew.where(input > 0, input, w * input)


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False) -> Tensor:
    """Leaky ReLU whose negative slope is drawn from U(lower, upper) per element in training
    and is (lower + upper) / 2 in evaluation."""
    if lower > upper:
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")
    _real_floating_only(input, "leaky_relu_cpu")
    if training:
        rng = generator_for(input.device)
        slope = input._xp.asarray(rng.uniform(lower, upper, input.shape)).astype(
            input._data.dtype)
    else:
        slope = (lower + upper) / 2
    if inplace:
        return _inplace(input, _nn.LeakyRelu, slope, saves_self=True)
    return _nn.LeakyRelu.apply(input, slope)


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
           training: bool = False) -> Tensor:
    return rrelu(input, lower, upper, training, inplace=True)


def _elu(input: Tensor, alpha: float, scale: float, input_scale: float, inplace: bool) -> Tensor:
    _real_floating_only(input, "elu_cpu")
    if inplace:
        return _inplace(input, _nn.Elu, alpha, scale, input_scale, saves_self=True)
    return _nn.Elu.apply(input, alpha, scale, input_scale)


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
    return _elu(input, alpha, 1.0, 1.0 / alpha, inplace)


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
    _real_floating_only(input, "hardsigmoid_cpu")
    if inplace:
        return _inplace(input, _nn.Hardsigmoid, saves_self=True)
    return _nn.Hardsigmoid.apply(input)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * hardsigmoid(x)."""
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
    return 0 - _nn.Softplus.apply(-input, 1.0, 20.0)  # 0.0 at x = inf, as in PyTorch (not -0.0)


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
    exp_samples = xp.asarray(rng.exponential(1.0, logits.shape)).astype(logits._data.dtype)
    gumbels = _make(-xp.log(exp_samples))
    y_soft = _nn.softmax((logits + gumbels) / tau, dim)
    if not hard:
        return y_soft
    index = y_soft.argmax(dim, keepdim=True)
    y_hard = y_soft.detach() * 0
    y_hard = y_hard.scatter(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft


# ----------------------------------------------------------------------------------------------
# Dropout


def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if p != p:  # NaN passes PyTorch's Python check and fails its kernel's
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {p}")


def _feature_noise_shape(input: Tensor) -> tuple:
    """(N, C, 1, ...): one draw per channel, for the feature dropouts of any rank >= 2."""
    if input.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    return tuple(input.shape[:2]) + (1,) * (input.ndim - 2)


def _keep_draws(input: Tensor, shape, p: float):
    """A bool array of ``shape``, True with probability 1 - p, on ``input``'s device."""
    return _dropout.keep_draws(input._xp, generator_for(input.device), shape, p)


def _bernoulli_keep(input: Tensor, shape, p: float):
    """A 0/1 array of ``shape`` in ``input``'s dtype, 1 with probability 1 - p."""
    return _keep_draws(input, shape, p).astype(input._data.dtype)


def _dropout_noise(input: Tensor, shape, p: float):
    """1 / (1 - p) with probability 1 - p, else 0: an array of ``shape`` in ``input``'s dtype."""
    return _dropout.noise(input._xp, generator_for(input.device), shape, p, input._data.dtype)


def _apply_noise(input: Tensor, noise, inplace: bool, shift=None) -> Tensor:
    out = input * _make(noise)
    if shift is not None:
        out = out + _make(shift)
    return input.copy_(out) if inplace else out


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1 / (1 - p)."""
    _check_p(p)
    if not training or p == 0.0:
        return input
    if p == 1.0 or not input.is_floating_point():
        return _apply_noise(input, _dropout_noise(input, input.shape, p), inplace)
    out = _dropout.dropout(input, p, generator_for(input.device))
    return input.copy_(out) if inplace else out


def _feature_shape(input: Tensor, batched_ndim: int, name: str) -> tuple:
    if input.ndim not in (batched_ndim - 1, batched_ndim):
        raise RuntimeError(f"{name}: Expected {batched_ndim - 1}D or {batched_ndim}D input, but "
                           f"received a {input.ndim}D input. ")
    lead = 2 if input.ndim == batched_ndim else 1
    return tuple(input.shape[:lead]) + (1,) * (input.ndim - lead)


def _feature_dropout(input: Tensor, p: float, training: bool, inplace: bool, shape) -> Tensor:
    _check_p(p)
    if not training or p == 0.0:
        return input
    return _apply_noise(input, _dropout_noise(input, shape, p), inplace)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, L) or (C, L) input with probability ``p``."""
    return _feature_dropout(input, p, training, inplace, _feature_shape(input, 3, "dropout1d"))


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, H, W) input with probability ``p``."""
    if input.ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is "
                      "deprecated and will result in an error in a future release. To retain "
                      "the behavior and silence this warning, please use dropout instead. Note "
                      "that dropout2d exists to provide channel-wise dropout on inputs with 2 "
                      "spatial dimensions, a channel dimension, and an optional batch dimension "
                      "(i.e. 3D or 4D inputs).", stacklevel=2)
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
                      "1D dropout behavior is desired - input is interpreted as shape (N, C, L), "
                      "where C is the channel dim. This behavior will change in a future release "
                      "to interpret the input as one without a batch dimension, i.e. shape "
                      "(C, H, W). To maintain the 1D channel-wise dropout behavior, please "
                      "switch to using dropout1d instead.", stacklevel=2)
    shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    return _feature_dropout(input, p, training, inplace, shape)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input with probability ``p``."""
    if input.ndim not in (4, 5):  # PyTorch warns and reads it as unbatched (C, ...)
        warnings.warn(f"dropout3d: Received a {input.ndim}-D input to dropout3d, which is "
                      "deprecated and will result in an error in a future release. To retain "
                      "the behavior and silence this warning, please use dropout instead. Note "
                      "that dropout3d exists to provide channel-wise dropout on inputs with 3 "
                      "spatial dimensions, a channel dimension, and an optional batch dimension "
                      "(i.e. 4D or 5D inputs).", stacklevel=2)
    lead = 2 if input.ndim == 5 else 1
    shape = tuple(input.shape[:lead]) + (1,) * (input.ndim - lead)
    return _feature_dropout(input, p, training, inplace, shape)


_ALPHA_SELU = 1.7580993408473766  # selu's alpha * scale: the value dropped units take


def _alpha_dropout(input: Tensor, p: float, training: bool, inplace: bool, shape) -> Tensor:
    _check_p(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input.mul_(0) if inplace else input * 0
    keep = _bernoulli_keep(input, shape, p)
    # affine correction keeping zero mean and unit variance of SELU activations
    a = 1.0 / math.sqrt((_ALPHA_SELU ** 2 * p + 1) * (1 - p))
    shift = (keep - 1) * (_ALPHA_SELU * a) + _ALPHA_SELU * a * p
    dt = input._data.dtype
    return _apply_noise(input, (keep * a).astype(dt), inplace, shift.astype(dt))


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                  inplace: bool = False) -> Tensor:
    """Dropout that keeps the self-normalising property of SELU networks."""
    return _alpha_dropout(input, p, training, inplace, input.shape)


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                          inplace: bool = False) -> Tensor:
    """Alpha dropout of whole channels."""
    _check_p(p)
    if not training or p == 0.0:
        return input
    return _alpha_dropout(input, p, training, inplace, _feature_noise_shape(input))


# ----------------------------------------------------------------------------------------------
# Normalization


def _param_shape(shape: tuple) -> tuple:
    """The shape (1, C, 1, ...) that broadcasts per-channel values over input of ``shape``."""
    return (1, shape[1]) + (1,) * (len(shape) - 2)


def _update_running(running: Tensor, value, momentum: float) -> None:
    data = running._data
    data *= 1 - momentum
    data += (momentum * value).astype(data.dtype, copy=False)
    running._bump_version()


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalize each channel (dim 1) by batch statistics in training (updating the running
    ones) or by the running statistics in evaluation, then scale and shift."""
    shape = input._data.shape
    if training:
        if shape and shape[0] * math.prod(shape[2:]) == 1:
            raise ValueError("Expected more than 1 value per channel when training, got input "
                             f"size {input.shape}")
        if eps <= 0:
            raise ValueError(f"batch_norm eps must be positive during training, but got {eps}")
    elif eps < 0:
        raise ValueError(f"batch_norm eps must be non-negative, but got {eps}")
    return _batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def _batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
                weight: Tensor | None, bias: Tensor | None, training: bool, momentum: float,
                eps: float) -> Tensor:
    """batch_norm without F's checks of the batch size and eps (``torch.batch_norm``)."""
    shape = input._data.shape
    if input.ndim < 2:  # no channel dim: PyTorch passes an empty input through, refuses others
        if input.numel() == 0:
            return input.clone()
        raise IndexError("Dimension out of range (expected to be in range of [-1, 0], but got 1)")
    if training:
        n = shape[0] * math.prod(shape[2:])  # values per channel
        axes = (0, *range(2, len(shape)))
        stats = [] if running_mean is not None or running_var is not None else None
        try:
            out = _nn.BatchNormTrain.apply(input, weight, bias, shape, axes,
                                           _param_shape(shape), eps, stats)
        except (ValueError, RuntimeError):
            _check_channels(input, running_mean, running_var, weight, bias)
            raise
        if stats and n:  # an empty batch leaves the running statistics as they were
            mean, var = stats
            try:
                if running_mean is not None:
                    _update_running(running_mean, mean.reshape(-1), momentum)
                if running_var is not None:
                    _update_running(running_var, var.reshape(-1) * (n / (n - 1)), momentum)
            except ValueError:
                _check_channels(input, running_mean, running_var)
                raise
        return out
    if running_mean is None or running_var is None:
        raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
    shape = _param_shape(input._data.shape)
    if _dt.is_half(input.dtype):
        # half input: the per-channel scale and shift in float32, the output rounded once
        running_mean, running_var, weight, bias = (
            None if p is None else p.float() for p in (running_mean, running_var, weight, bias))
    try:
        scale = (running_var + eps).rsqrt()
        if weight is not None:
            scale = scale * weight
        out = (input - running_mean.reshape(shape)) * scale.reshape(shape)
        out = out if bias is None else out + bias.reshape(shape)
    except RuntimeError:
        _check_channels(input, running_mean, running_var, weight, bias)
        raise
    # Half-precision input with float32 statistics (CLIP's fp16 convs between float32
    # BatchNorms): computed in float32, returned in the input's dtype, as in training.
    return out.to(input.dtype) if input.is_floating_point() else out


def _check_channels(input: Tensor, running_mean=None, running_var=None, weight=None,
                    bias=None) -> None:
    """PyTorch's error for per-channel parameters of the wrong size (run once something
    failed, or before running statistics are updated: nothing is checked on the fast path)."""
    c = input.shape[1] if input.ndim > 1 else 1
    for name, p in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if p is not None and p.numel() != c:
            raise RuntimeError(f"{name} should contain {c} elements not {p.numel()}")


def instance_norm(input: Tensor, running_mean: Tensor | None = None,
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalize each channel of each sample over its spatial dims."""
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    n = input.shape[2:].numel() if input.ndim > 2 else 1
    if n == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                         f"{input.shape}")
    axes = tuple(range(2, input.ndim))
    stats = [] if running_mean is not None or running_var is not None else None
    if _dt.is_half(input.dtype):
        out = _half_instance_norm(input, weight, bias, eps, stats)
    else:
        out = _nn.BatchNormTrain.apply(input, weight, bias, tuple(input.shape), axes,
                                       _param_shape(input._data.shape), eps, stats)
    if stats:
        mean, var = stats  # (N, C, 1, ...): the running stats take their average over N
        if running_mean is not None:
            _update_running(running_mean, mean.reshape(mean.shape[:2]).mean(0), momentum)
        if running_var is not None:
            unbiased = var.reshape(var.shape[:2]) * (n / (n - 1))
            _update_running(running_var, unbiased.mean(0), momentum)
    return out


def _half_instance_norm(input: Tensor, weight, bias, eps: float, stats) -> Tensor:
    """Instance norm of half input as PyTorch computes it: batch norm of the (1, N * C, ...)
    view with weight and bias repeated N times, so their gradients are rounded per sample
    before they are summed."""
    n = input.shape[0]
    shape = (1, n * input.shape[1]) + tuple(input.shape[2:])
    weight = None if weight is None else weight.repeat(n)
    bias = None if bias is None else bias.repeat(n)
    out = _nn.BatchNormTrain.apply(input.reshape(shape), weight, bias, shape,
                                   tuple(range(2, len(shape))), _param_shape(shape), eps, stats)
    if stats:
        stats[:] = [s.reshape(input.shape[:2] + (1,) * (input.ndim - 2)) for s in stats]
    return out.reshape(input.shape)


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalize over the trailing ``normalized_shape`` dims, then scale and shift."""
    normalized_shape = _as_shape(normalized_shape)
    shape = input._data.shape
    lead = len(shape) - len(normalized_shape)
    if lead < 0 or shape[lead:] != normalized_shape or not normalized_shape:
        _refuse_normalized_shape(normalized_shape, input)
    try:
        return _nn.LayerNormFn.apply(input, weight, bias, shape, tuple(range(lead, len(shape))),
                                     normalized_shape, eps, None)
    except (ValueError, RuntimeError):
        _check_affine(normalized_shape, weight, bias)
        raise


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """x / sqrt(mean(x^2) + eps) over the trailing ``normalized_shape`` dims, times weight."""
    normalized_shape = _as_shape(normalized_shape)
    shape = input._data.shape
    if shape[len(shape) - len(normalized_shape):] != normalized_shape or not normalized_shape:
        _refuse_normalized_shape(normalized_shape, input, "")
    if _dt.is_half(input.dtype):
        # PyTorch upcasts half input (eps included) to float32 and rounds the result once:
        # squares of float16 values above 256 would overflow
        weight = None if weight is None else weight.float()
        return rms_norm(input.float(), normalized_shape, weight, eps).to(input.dtype)
    if eps is None:
        eps = _dt.finfo_np(input.dtype).eps
    dims = tuple(range(input.ndim - len(normalized_shape), input.ndim))
    out = input * (input * input).mean(dims, keepdim=True).add(eps).rsqrt()
    if weight is None:
        return out
    try:
        return out * weight
    except RuntimeError:
        _check_affine(normalized_shape, weight)
        raise


def _refuse_normalized_shape(normalized_shape: tuple, input: Tensor, sep: str = ", ") -> None:
    if not normalized_shape:
        raise RuntimeError("Expected normalized_shape to be at least 1-dimensional, i.e., "
                           "containing at least one element, but got normalized_shape = []")
    raise RuntimeError(f"Given normalized_shape={list(normalized_shape)}, expected input with "
                       f"shape [*{sep}{', '.join(str(s) for s in normalized_shape)}], but got "
                       f"input of size{list(input.shape)}")


def _check_affine(normalized_shape: tuple, weight=None, bias=None) -> None:
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and p._data.shape != normalized_shape:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but "
                               f"got {name} of shape {list(p.shape)} and normalized_shape = "
                               f"{list(normalized_shape)}")


def _as_shape(shape) -> tuple:
    if isinstance(shape, int):
        return (shape,)
    return tuple(map(int, shape))


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalize each group of ``C // num_groups`` channels of each sample."""
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                           f"{input.ndim}")
    n, c = input.shape[:2]
    if c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by "
                           f"num_groups, but got input of shape {list(input.shape)} and "
                           f"num_groups={num_groups}")
    stat_shape = (n, num_groups, input.numel() // max(n * num_groups, 1))
    try:
        return _nn.GroupNormFn.apply(input, weight, bias, stat_shape, (2,),
                                     _param_shape(input._data.shape), eps, None)
    except (ValueError, RuntimeError):
        for name, p in (("weight", weight), ("bias", bias)):
            if p is not None and p._data.shape != (c,):
                raise RuntimeError(f"Expected {name} to be a vector of size equal to the number "
                                   f"of channels in input, but got {name} of shape "
                                   f"{list(p.shape)} and input of shape {list(input.shape)}"
                                   ) from None
        raise


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Tensor:
    """x / (k + alpha * mean of x^2 over ``size`` neighbouring channels) ** beta."""
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input.ndim} "
                         "dimensions)")
    if input.numel() == 0:
        return input
    sq = input * input
    c = input.shape[1]
    zeros_before = sq.new_zeros((input.shape[0], size // 2) + tuple(input.shape[2:]))
    zeros_after = sq.new_zeros((input.shape[0], (size - 1) // 2) + tuple(input.shape[2:]))
    padded = cat([zeros_before, sq, zeros_after], 1)
    acc = padded.narrow(1, 0, c)
    for i in range(1, size):
        acc = acc + padded.narrow(1, i, c)
    div = (acc * (alpha / size) + k) ** beta
    return input / div


# ----------------------------------------------------------------------------------------------
# Embedding


def _check_indices(input: Tensor, name: str) -> None:
    if input.dtype.is_floating_point or input.dtype.is_complex or input.dtype is _dt.bool:
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got {input.type()} instead "
                           f"(while checking arguments for {name})")


def _renorm_rows(weight: Tensor, input: Tensor, max_norm: float, norm_type: float) -> None:
    """Scale the rows of ``weight`` that ``input`` uses to norm at most ``max_norm``, in place."""
    xp = weight._xp
    rows = xp.unique(input._data.reshape(-1))
    with no_grad():
        data = weight._data
        picked = data[rows]
        if _dt.is_half(data.dtype):
            # half: PyTorch's norms, summed in float32 (no overflow) and rounded to the dtype
            norms = xp.linalg.norm(picked.astype(xp.float32), ord=norm_type, axis=1)
            norms = norms.astype(data.dtype).astype(xp.float32)
        else:
            norms = xp.linalg.norm(picked, ord=norm_type, axis=1)
        scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        data[rows] *= scale[:, None].astype(data.dtype)
        weight._bump_version()


def _padding_idx(padding_idx, num: int):
    if padding_idx is None:
        return None
    if padding_idx > 0:
        if padding_idx >= num:
            raise AssertionError("Padding_idx must be within num_embeddings")
    elif padding_idx < 0:
        if padding_idx < -num:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx += num
    return padding_idx


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` selected by the integer ``input``; output shape input.shape + (D,).
    With ``sparse=True`` the weight's gradient is a COO tensor of the rows looked up
    (``padding_idx``'s excepted), for ``optim.SparseAdam``, ``SGD`` and ``Adagrad``."""
    _check_indices(input, "embedding")
    if weight.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    refuse_complex_grad("embedding", weight)
    padding_idx = _padding_idx(padding_idx, weight.shape[0])
    if max_norm is not None:
        _renorm_rows(weight, input, max_norm, norm_type)
    return _nn.embedding_lookup(weight, input, padding_idx, scale_grad_by_freq, sparse)


def embedding_bag(input: Tensor, weight: Tensor, offsets: Tensor | None = None,
                  max_norm: float | None = None, norm_type: float = 2,
                  scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> Tensor:
    """Sums, means or maxes of bags of embeddings: rows of a 2-D ``input``, or the slices of a
    1-D ``input`` that start at ``offsets``; ``sparse=True`` (sum and mean) as in ``embedding``."""
    _check_indices(input, "embedding_bag")
    if weight.ndim != 2:
        raise ValueError(f"weight has to be a 2D Tensor, but got Tensor of dimension "
                         f"{weight.ndim}")
    if mode not in ("sum", "mean", "max"):
        raise ValueError("mode has to be one of sum, mean or max")
    if mode == "max" and sparse:
        raise ValueError("max mode does not support sparse weights")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError("embedding_bag: per_sample_weights was not None. "
                                  "per_sample_weights is only supported for mode='sum' (got "
                                  f"mode='{mode}'). Please open a feature request on GitHub.")
    xp = input._xp
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated "
                             "is a mini-batch of fixed length sequences. However, found offsets "
                             f"of type {type(offsets)}")
        bags, length = input.shape
        bag_of = xp.repeat(xp.arange(bags), length)
        input = input.reshape(-1)
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights.reshape(-1)
    elif input.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.ndim != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        starts = offsets._data.astype(xp.int64)
        if include_last_offset:
            starts = starts[:-1]
        bags = starts.shape[0]
        positions = xp.arange(input.shape[0])
        bag_of = xp.searchsorted(starts, positions, side="right") - 1
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{input.ndim}")
    padding_idx = _padding_idx(padding_idx, weight.shape[0])
    if max_norm is not None:
        _renorm_rows(weight, input, max_norm, norm_type)
    keep = xp.ones(input.shape[0], bool)
    if padding_idx is not None:
        keep = input._data != padding_idx
    # half: the rows in float32, each bag summed and rounded once, as PyTorch sums it
    widen = _dt.is_half(weight.dtype)
    try:
        if widen:
            rows = _nn.embedding_lookup(weight, input, padding_idx, scale_grad_by_freq, sparse,
                                        widen=True)
        else:
            rows = embedding(input, weight, padding_idx, None, norm_type, scale_grad_by_freq,
                             sparse)
    except IndexError:
        idx = input._data
        i = int(xp.nonzero((idx < 0) | (idx >= weight.shape[0]))[0][0])
        raise RuntimeError(f"Index {i} of input takes value {int(idx[i])} which is not in the "
                           f"valid range [0, {weight.shape[0]})") from None
    if per_sample_weights is not None:
        rows = rows * per_sample_weights.unsqueeze(1)
    sel = _make(xp.nonzero(keep)[0])
    rows = rows.index_select(0, sel)
    bag_index = _make(bag_of[keep].astype(xp.int64))
    zeros = rows.new_zeros((bags, weight.shape[1]))
    if mode == "max":
        index = bag_index.unsqueeze(1).expand(-1, weight.shape[1])
        out = zeros.scatter_reduce(0, index, rows, "amax", include_self=False)
        return out.to(weight.dtype) if widen else out
    out = zeros.index_add(0, bag_index, rows)
    if mode == "mean":
        counts = xp.bincount(bag_of[keep], minlength=bags).astype(out._data.dtype)
        out = out / _make(xp.maximum(counts, 1)[:, None])
    return out.to(weight.dtype) if widen else out


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding along a new last dim of size ``num_classes``."""
    if tensor.dtype is not _dt.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    xp = tensor._xp
    data = tensor._data
    if num_classes == -1:
        if data.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(data.max()) + 1
    if data.size and (data.min() < 0 or data.max() >= num_classes):
        raise RuntimeError("Class values must be smaller than num_classes." if data.min() >= 0
                           else "Class values must be non-negative.")
    out = (data[..., None] == xp.arange(num_classes)).astype(xp.int64)
    return _make(out)


# ----------------------------------------------------------------------------------------------
# Distances


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out: Tensor | None = None) -> Tensor:
    """input / max(||input||_p along dim, eps)."""
    denom = input.norm(p, dim, keepdim=True).clamp_min(eps).expand_as(input)
    result = input / denom
    if out is not None:
        out.copy_(result)
        return out
    return result


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps)) along ``dim`` (broadcasting)."""
    common = _dt.promote_types(x1.dtype, x2.dtype)
    if not common.is_floating_point:
        raise RuntimeError("expected common dtype to be floating point, yet common dtype is "
                           f"{common}")
    x1, x2 = broadcast_tensors(x1, x2)
    # norm, not sqrt of a sum of squares: its gradient at a zero vector is 0, not NaN.
    n1 = x1.norm(2, dim, keepdim=True).clamp_min(eps)
    n2 = x2.norm(2, dim, keepdim=True).clamp_min(eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p along the last dim."""
    return (x1 - x2 + eps).norm(p, -1, keepdim=keepdim)


def pdist(input: Tensor, p: float = 2.0) -> Tensor:
    """The p-norm distances between all pairs of rows (upper triangle, row-major)."""
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if not input.dtype.is_floating_point:
        raise RuntimeError("pdist only supports floating-point dtypes")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    n = input.shape[0]
    xp = input._xp
    i, j = xp.triu_indices(n, 1)
    return (input[_make(i)] - input[_make(j)]).norm(p, -1)


# --- losses ---
from ember.nn._losses import *  # noqa: F401,F403,E402
from ember.nn._losses import _Reduction  # noqa: F401,E402

# --- spatial and sequence layers (nn-spatial) ---
from ember.ops.attention import *  # noqa: F401,F403,E402
from ember.ops.conv import *  # noqa: F401,F403,E402

# --- sampling and channel shuffling: grid_sample / affine_grid live in ember/ops/sampling.py,
# channel_shuffle in ember/nn/modules/channelshuffle.py (imported last: the modules package
# itself imports ember.nn.functional)
from ember.ops.sampling import affine_grid, grid_sample  # noqa: F401,E402  isort: skip
from ember.nn.modules.channelshuffle import (  # noqa: F401,E402  isort: skip
    channel_shuffle, native_channel_shuffle)

GRID_SAMPLE_INTERPOLATION_MODES = {"bilinear": 0, "nearest": 1, "bicubic": 2}
GRID_SAMPLE_PADDING_MODES = {"zeros": 0, "border": 1, "reflection": 2}
