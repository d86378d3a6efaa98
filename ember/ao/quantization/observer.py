"""Observers: modules that watch the tensors passing through them and choose the scale and zero
point that quantize them (``calculate_qparams``), as ``torch.ao.quantization.observer``."""
from __future__ import annotations

import functools
import math
import warnings

import numpy as np

import ember
from ember import nn
from ember._quantized import (
    per_channel_affine,
    per_channel_affine_float_qparams,
    per_channel_symmetric,
    per_tensor_affine,
    per_tensor_symmetric,
)

__all__ = ["ObserverBase", "UniformQuantizationObserverBase", "MinMaxObserver",
           "MovingAverageMinMaxObserver", "PerChannelMinMaxObserver",
           "MovingAveragePerChannelMinMaxObserver", "HistogramObserver", "PlaceholderObserver",
           "NoopObserver", "FixedQParamsObserver", "default_observer", "default_weight_observer",
           "default_per_channel_weight_observer", "default_histogram_observer",
           "default_dynamic_quant_observer", "default_placeholder_observer",
           "default_float_qparams_observer", "default_fixed_qparams_range_0to1_observer",
           "default_fixed_qparams_range_neg1to1_observer", "get_observer_state_dict",
           "load_observer_state_dict"]

_EPS = float(np.finfo(np.float32).eps)


class _PartialWrapper:
    """A constructor with some arguments bound (``Observer.with_args(...)``); prints as the
    ``functools.partial`` it wraps followed by its callable arguments."""

    def __init__(self, p):
        self.p = p
        self.callable_args = {}

    def __call__(self, *args, **keywords):
        for name, make in self.callable_args.items():
            if name not in keywords:
                keywords[name] = make()
        return self.p(*args, **keywords)

    def __repr__(self) -> str:
        return self.p.__repr__() + self.callable_args.__repr__()

    def with_args(self, **kwargs) -> "_PartialWrapper":
        return _with_args(self, **kwargs)

    def with_callable_args(self, **kwargs) -> "_PartialWrapper":
        result = _PartialWrapper(p=self.p)
        result.callable_args = {**self.callable_args, **kwargs}
        return result


def _with_args(cls_or_self, **kwargs) -> _PartialWrapper:
    """A factory that builds ``cls_or_self`` with ``kwargs`` bound: each call makes a new
    instance, so one qconfig gives each layer its own observer."""
    return _PartialWrapper(functools.partial(cls_or_self, **kwargs))


def _with_callable_args(cls_or_self, **kwargs) -> _PartialWrapper:
    result = _PartialWrapper(functools.partial(cls_or_self))
    return result.with_callable_args(**kwargs)


def _qmin_qmax(dtype, reduce_range: bool, quant_min, quant_max) -> tuple[int, int]:
    """The integer range an observer targets: the given one, else ``dtype``'s; halved by
    ``reduce_range`` (which leaves room for the accumulation of 8-bit products)."""
    if quant_min is not None and quant_max is not None:
        span = quant_max - quant_min + 1
        limit = 2 ** 32 if dtype is ember.qint32 else 256
        if not (quant_min <= 0 <= quant_max and 0 < span <= limit):
            raise ValueError("quant_min and quant_max must bracket 0 and fit the dtype")
        lo, hi = quant_min, quant_max
    elif dtype in (ember.qint8, ember.int8):
        lo, hi = -128, 127
    elif dtype in (ember.quint8, ember.uint8):
        lo, hi = 0, 255
    elif dtype in (ember.qint32, ember.int32):
        return -(2 ** 31), 2 ** 31 - 1
    else:
        lo, hi = 0, 15
    return (lo // 2, hi // 2) if reduce_range else (lo, hi)


def _min_max_valid(min_val, max_val) -> bool:
    """False (with PyTorch's warning) for an observer that has seen nothing."""
    if min_val.numel() == 0 or max_val.numel() == 0 or (
            min_val.ndim == 0 and float(min_val) == math.inf and float(max_val) == -math.inf):
        warnings.warn("must run observer before calling calculate_qparams. Returning default "
                      "values.", stacklevel=3)
        return False
    if not bool((min_val <= max_val).all()):
        raise AssertionError(f"min {min_val} should be less than max {max_val}")
    return True


class _DataShapedBuffers:
    """Mixin for a module whose buffers ``_data_shaped`` get their length from the data
    (per-channel ranges or qparams): loading first takes the saved shapes."""

    _data_shaped: tuple = ()

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        for name in self._data_shaped:
            if prefix + name in state_dict:
                setattr(self, name, ember.empty_like(state_dict[prefix + name]))
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)


class ObserverBase(nn.Module):
    """The base of observers: ``forward`` records statistics and returns its input;
    ``calculate_qparams`` gives the scale and zero point."""

    def __init__(self, dtype, is_dynamic: bool = False):
        super().__init__()
        self.dtype = dtype
        self.is_dynamic = is_dynamic

    with_args = classmethod(_with_args)
    with_callable_args = classmethod(_with_callable_args)

    def forward(self, x):
        raise NotImplementedError

    def calculate_qparams(self, **kwargs):
        raise NotImplementedError


class UniformQuantizationObserverBase(ObserverBase):
    """An observer mapping a range [min, max] onto an integer range with an affine or
    symmetric scheme (see ``_calculate_qparams``)."""

    _SCHEMES = (per_tensor_affine, per_tensor_symmetric, per_channel_affine,
                per_channel_symmetric, per_channel_affine_float_qparams)

    def __init__(self, dtype=ember.quint8, qscheme=per_tensor_affine, reduce_range=False,
                 quant_min=None, quant_max=None, factory_kwargs=None, eps=_EPS,
                 is_dynamic=False, **kwargs) -> None:
        super().__init__(dtype=dtype, is_dynamic=is_dynamic)
        self.qscheme = qscheme
        if reduce_range:
            warnings.warn("Please use quant_min and quant_max to specify the range for "
                          "observers. reduce_range will be deprecated in a future release of "
                          "PyTorch.", stacklevel=2)
        self.reduce_range = reduce_range
        self.register_buffer("eps", ember.tensor([eps]))
        if qscheme not in self._SCHEMES:
            raise AssertionError("Default Observer only works for per_tensor_affine, "
                                 "per_tensor_symmetric, per_channel_affine, "
                                 "per_channel_symmetric and per_channel_float_qparams "
                                 "quantization scheme")
        self.has_customized_qrange = quant_min is not None and quant_max is not None
        self.quant_min, self.quant_max = _qmin_qmax(dtype, reduce_range, quant_min, quant_max)

    def _calculate_qparams(self, min_val, max_val):
        """Scale and zero point of the range [min_val, max_val] widened to hold 0.

        affine: ``scale = (max - min) / (quant_max - quant_min)``,
        ``zero_point = quant_min - round(min / scale)``; symmetric: ``scale =
        max(|min|, |max|) / ((quant_max - quant_min) / 2)`` around a fixed zero point (0, or
        128 for quint8); the scale is at least ``eps``.
        """
        if not _min_max_valid(min_val, max_val):
            return ember.tensor([1.0]), ember.tensor([0])
        quant_min, quant_max = self.quant_min, self.quant_max
        min_neg = ember.minimum(min_val, ember.zeros_like(min_val))
        max_pos = ember.maximum(max_val, ember.zeros_like(max_val))
        zero_point = ember.zeros(min_neg.shape, dtype=ember.int64)
        if self.qscheme in (per_tensor_symmetric, per_channel_symmetric):
            max_pos = ember.maximum(-min_neg, max_pos)
            scale = ember.maximum(max_pos / (float(quant_max - quant_min) / 2), self.eps)
            if self.dtype in (ember.quint8, ember.uint8):
                mid = (quant_min + quant_max) // 2 if self.has_customized_qrange else 128
                zero_point = ember.full(zero_point.shape, mid, dtype=ember.int64)
        elif self.qscheme is per_channel_affine_float_qparams:
            scale = (max_val - min_val) / float(quant_max - quant_min)
            scale = ember.where(scale > self.eps, scale, ember.ones_like(scale))
            zero_point = -1 * min_val / scale
        else:
            scale = ember.maximum((max_pos - min_neg) / float(quant_max - quant_min), self.eps)
            zero_point = quant_min - ember.round(min_neg / scale).to(ember.int32)
            zero_point = ember.clamp(zero_point, quant_min, quant_max)
        if scale.ndim == 0:
            scale = ember.tensor([float(scale)], dtype=scale.dtype)
        if zero_point.ndim == 0:
            zero_point = ember.tensor([zero_point.item()], dtype=zero_point.dtype)
        return scale, zero_point

    def reset_min_max_vals(self):
        raise NotImplementedError


class MinMaxObserver(UniformQuantizationObserverBase):
    """Tracks the running min and max of the tensors seen; its qparams map that range.

    Example::

        >>> obs = MinMaxObserver()
        >>> _ = obs(ember.tensor([-1.0, 3.0]))
        >>> obs.calculate_qparams()
        (tensor([0.0157]), tensor([64], dtype=torch.int32))
    """

    def __init__(self, dtype=ember.quint8, qscheme=per_tensor_affine, reduce_range=False,
                 quant_min=None, quant_max=None, factory_kwargs=None, eps=_EPS,
                 is_dynamic=False, **kwargs) -> None:
        super().__init__(dtype=dtype, qscheme=qscheme, reduce_range=reduce_range,
                         quant_min=quant_min, quant_max=quant_max,
                         factory_kwargs=factory_kwargs, eps=eps, is_dynamic=is_dynamic, **kwargs)
        self.register_buffer("min_val", ember.tensor(float("inf")))
        self.register_buffer("max_val", ember.tensor(float("-inf")))
        if self.qscheme is per_tensor_symmetric and self.reduce_range and \
                self.dtype is ember.quint8:
            raise NotImplementedError("Cannot reduce range for symmetric quantization for "
                                      "quint8")

    def forward(self, x_orig):
        if x_orig.numel() == 0:
            return x_orig
        x = x_orig.detach().to(self.min_val.dtype)
        lo, hi = ember.aminmax(x)
        self.min_val.copy_(ember.minimum(lo, self.min_val))
        self.max_val.copy_(ember.maximum(hi, self.max_val))
        return x_orig

    def calculate_qparams(self):
        return self._calculate_qparams(self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"

    def reset_min_max_vals(self):
        self.min_val.copy_(ember.tensor(float("inf")))
        self.max_val.copy_(ember.tensor(float("-inf")))


class MovingAverageMinMaxObserver(MinMaxObserver):
    """Tracks an exponential moving average of the min and max (weight ``averaging_constant``
    on each new batch)."""

    def __init__(self, averaging_constant=0.01, dtype=ember.quint8, qscheme=per_tensor_affine,
                 reduce_range=False, quant_min=None, quant_max=None, eps=_EPS, is_dynamic=False,
                 **kwargs) -> None:
        self.averaging_constant = averaging_constant
        super().__init__(dtype=dtype, qscheme=qscheme, reduce_range=reduce_range,
                         quant_min=quant_min, quant_max=quant_max, eps=eps,
                         is_dynamic=is_dynamic, **kwargs)

    def forward(self, x_orig):
        if x_orig.numel() == 0:
            return x_orig
        x = x_orig.detach().to(self.min_val.dtype)
        lo, hi = ember.aminmax(x)
        if float(self.min_val) == math.inf and float(self.max_val) == -math.inf:
            self.min_val.copy_(lo)
            self.max_val.copy_(hi)
        else:
            c = self.averaging_constant
            self.min_val.copy_(self.min_val + c * (lo - self.min_val))
            self.max_val.copy_(self.max_val + c * (hi - self.max_val))
        return x_orig


class PerChannelMinMaxObserver(_DataShapedBuffers, UniformQuantizationObserverBase):
    """Tracks the min and max of each index of dim ``ch_axis``; qparams per channel."""

    _data_shaped = ("min_val", "max_val")

    def __init__(self, ch_axis=0, dtype=ember.quint8, qscheme=per_channel_affine,
                 reduce_range=False, quant_min=None, quant_max=None, factory_kwargs=None,
                 eps=_EPS, is_dynamic=False, **kwargs) -> None:
        if qscheme not in (per_channel_affine, per_channel_symmetric,
                           per_channel_affine_float_qparams):
            raise NotImplementedError("PerChannelMinMaxObserver's qscheme only support "
                                      "torch.per_channel_symmetric, torch.per_channel_affine "
                                      "and torch.per_channel_affine_float_qparams.")
        super().__init__(dtype=dtype, qscheme=qscheme, reduce_range=reduce_range,
                         quant_min=quant_min, quant_max=quant_max,
                         factory_kwargs=factory_kwargs, eps=eps, is_dynamic=is_dynamic, **kwargs)
        self.ch_axis = ch_axis
        self.register_buffer("min_val", ember.tensor([]))
        self.register_buffer("max_val", ember.tensor([]))

    def _channel_minmax(self, x_orig):
        x = x_orig.detach().to(self.min_val.dtype)
        y = ember.movedim(x, self.ch_axis, 0).flatten(1)
        return ember.aminmax(y, dim=1)

    def _set(self, lo, hi) -> None:
        # The buffers change shape on the first batch: replace them rather than copy into them.
        self.min_val = lo.clone()
        self.max_val = hi.clone()

    def forward(self, x_orig):
        if x_orig.numel() == 0:
            return x_orig
        lo, hi = self._channel_minmax(x_orig)
        if self.min_val.numel() == 0 or self.min_val.shape != lo.shape:
            self._set(lo, hi)
        else:
            self._set(*self._update(lo, hi))
        return x_orig

    def _update(self, lo, hi) -> tuple:
        """The new (min, max) from the running ones and this batch's ``lo``/``hi``."""
        return ember.minimum(lo, self.min_val), ember.maximum(hi, self.max_val)

    def calculate_qparams(self):
        return self._calculate_qparams(self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"

    def reset_min_max_vals(self):
        self.min_val = ember.tensor([])
        self.max_val = ember.tensor([])


class MovingAveragePerChannelMinMaxObserver(PerChannelMinMaxObserver):
    """Per-channel moving averages of the min and max."""

    def __init__(self, averaging_constant=0.01, ch_axis=0, dtype=ember.quint8,
                 qscheme=per_channel_affine, reduce_range=False, quant_min=None, quant_max=None,
                 eps=_EPS, is_dynamic=False, **kwargs) -> None:
        super().__init__(ch_axis=ch_axis, dtype=dtype, qscheme=qscheme,
                         reduce_range=reduce_range, quant_min=quant_min, quant_max=quant_max,
                         eps=eps, is_dynamic=is_dynamic, **kwargs)
        self.averaging_constant = averaging_constant

    def _update(self, lo, hi) -> tuple:
        c = self.averaging_constant
        return self.min_val + c * (lo - self.min_val), self.max_val + c * (hi - self.max_val)


class PlaceholderObserver(ObserverBase):
    """Records nothing: it only carries the dtype (and qparams settings) for a later pass, as
    dynamic quantization's activation observer does."""

    def __init__(self, dtype=ember.float32, custom_op_name="", compute_dtype=None,
                 quant_min=None, quant_max=None, qscheme=None, eps=None,
                 is_dynamic=False) -> None:
        super().__init__(dtype=dtype, is_dynamic=is_dynamic)
        if qscheme is None:
            qscheme = per_tensor_affine
        if eps is None:
            eps = _EPS
        self.quant_min = quant_min
        self.quant_max = quant_max
        self.qscheme = qscheme
        self.eps = eps
        self.custom_op = custom_op_name
        if compute_dtype:
            self.is_dynamic = True
            warnings.warn("Please use `is_dynamic` instead of `compute_dtype`. `compute_dtype` "
                          "will be deprecated in a future release of PyTorch.", stacklevel=2)

    def forward(self, x):
        return x

    def extra_repr(self) -> str:
        return f"dtype={self.dtype}, is_dynamic={self.is_dynamic}"

    def calculate_qparams(self):
        raise Exception("calculate_qparams should not be called for PlaceholderObserver")


class FixedQParamsObserver(ObserverBase):
    """Records nothing and always gives the ``scale`` and ``zero_point`` it was built with:
    the qparams of ops whose output range is known (sigmoid, hardsigmoid and tanh map onto
    [0, 1] or [-1, 1]).

    Example::

        >>> FixedQParamsObserver(scale=1 / 256, zero_point=0).calculate_qparams()
        (tensor([0.0039]), tensor([0], dtype=torch.int32))
    """

    def __init__(self, scale: float, zero_point: int, dtype=ember.quint8,
                 qscheme=per_tensor_affine, quant_min: int = 0, quant_max: int = 255,
                 is_dynamic: bool = False, **kwargs) -> None:
        if is_dynamic:
            raise NotImplementedError("FixedQParamsObserver doesn't support dynamic quantization")
        super().__init__(dtype=dtype, is_dynamic=is_dynamic)
        self.quant_min = quant_min
        self.quant_max = quant_max
        self.register_buffer("scale", ember.tensor([scale], dtype=ember.float32))
        self.register_buffer("zero_point", ember.tensor([zero_point], dtype=ember.int32))
        self.qscheme = qscheme

    def forward(self, X):
        return X

    def calculate_qparams(self):
        return self.scale, self.zero_point


class NoopObserver(ObserverBase):
    """Records nothing (for float16 and other casts)."""

    def __init__(self, dtype=ember.float16, custom_op_name="") -> None:
        super().__init__(dtype=dtype)
        self.dtype = dtype
        self.custom_op = custom_op_name

    def forward(self, x):
        return x

    def calculate_qparams(self):
        raise Exception("calculate_qparams should not be called for NoopObserver")


def get_observer_state_dict(mod) -> dict:
    """The state of every observer and fake-quant module of ``mod``, keyed by its path."""
    od = mod.state_dict()
    return type(od)((k, v) for k, v in od.items()
                    if "activation_post_process" in k or "observer" in k)


def load_observer_state_dict(mod, obs_dict) -> None:
    """Load a dict from ``get_observer_state_dict`` into ``mod``'s observers."""
    missing, unexpected = [], []
    for name, module in mod.named_modules():
        prefix = name + "." if name else ""
        if isinstance(module, ObserverBase) or "FakeQuantize" in type(module).__name__:
            module._load_from_state_dict(obs_dict, prefix, {}, False, missing, unexpected, [])
    missing = [k for k in missing if "observer" in k or "activation_post_process" in k]
    if missing:
        raise Exception(f"Missing keys for observer {missing} in state_dict")


from ember.ao.quantization._histogram import HistogramObserver  # noqa: E402

default_observer = MinMaxObserver.with_args(quant_min=0, quant_max=127)
default_placeholder_observer = PlaceholderObserver
default_weight_observer = MinMaxObserver.with_args(dtype=ember.qint8,
                                                   qscheme=per_tensor_symmetric)
weight_observer_range_neg_127_to_127 = MinMaxObserver.with_args(
    dtype=ember.qint8, qscheme=per_tensor_symmetric, quant_min=-127, quant_max=127, eps=2 ** -12)
default_histogram_observer = HistogramObserver.with_args(quant_min=0, quant_max=127)
default_per_channel_weight_observer = PerChannelMinMaxObserver.with_args(
    dtype=ember.qint8, qscheme=per_channel_symmetric)
per_channel_weight_observer_range_neg_127_to_127 = PerChannelMinMaxObserver.with_args(
    dtype=ember.qint8, qscheme=per_channel_symmetric, quant_min=-127, quant_max=127,
    eps=2 ** -12)
default_dynamic_quant_observer = PlaceholderObserver.with_args(
    dtype=ember.quint8, quant_min=0, quant_max=255, is_dynamic=True)
default_float_qparams_observer = PerChannelMinMaxObserver.with_args(
    dtype=ember.quint8, qscheme=per_channel_affine_float_qparams, ch_axis=0)
# [0, 1] and [-1, 1] on 256 steps (sigmoid / hardsigmoid / softmax and tanh)
default_fixed_qparams_range_0to1_observer = FixedQParamsObserver.with_args(
    scale=1.0 / 256.0, zero_point=0, dtype=ember.quint8, quant_min=0, quant_max=255)
default_fixed_qparams_range_neg1to1_observer = FixedQParamsObserver.with_args(
    scale=2.0 / 256.0, zero_point=128, dtype=ember.quint8, quant_min=0, quant_max=255)
