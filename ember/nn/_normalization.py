"""The normalization functions of ``ember.nn.functional`` (re-exported there): batch, instance,
layer, RMS, group and local response normalization."""
from __future__ import annotations

import math

from ember import dtypes as _dt
from ember._tensor import Tensor
from ember.ops.movement import cat
from ember.ops.normalization import BatchNormTrain, GroupNormFn, LayerNormFn

__all__ = ["batch_norm", "instance_norm", "layer_norm", "rms_norm", "group_norm",
           "local_response_norm"]


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
            out = BatchNormTrain.apply(input, weight, bias, shape, axes,
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
        out = BatchNormTrain.apply(input, weight, bias, tuple(input.shape), axes,
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
    out = BatchNormTrain.apply(input.reshape(shape), weight, bias, shape,
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
        return LayerNormFn.apply(input, weight, bias, shape, tuple(range(lead, len(shape))),
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
        return GroupNormFn.apply(input, weight, bias, stat_shape, (2,),
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
