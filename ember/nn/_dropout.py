"""The dropout functions of ``ember.nn.functional`` (re-exported there): dropout, its feature
(channel-wise) forms and alpha dropout."""
from __future__ import annotations

import math
import warnings

from ember._tensor import Tensor, _make
from ember.ops import dropout as _dropout
from ember.random import generator_for

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
           "feature_alpha_dropout"]


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
