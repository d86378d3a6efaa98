"""``HistogramObserver``: a histogram of the values seen, and the clipping range that minimizes
the L2 error of quantizing that histogram (PyTorch's search, in its float32 arithmetic)."""
from __future__ import annotations

import math
import warnings

import numpy as np

import ember
from ember._quantized import per_tensor_affine
from ember.ao.quantization.observer import _EPS, UniformQuantizationObserverBase


def _norm(delta_begin, delta_end, density):
    """The integral of x**2 over [delta_begin, delta_end], times the density."""
    return density * (delta_end * delta_end * delta_end
                      - delta_begin * delta_begin * delta_begin) / 3


class HistogramObserver(UniformQuantizationObserverBase):
    """Keeps a ``bins``-bin histogram over the running [min, max] (rebinned as the range grows)
    and picks the sub-range whose 8-bit quantization has the least L2 error.

    Example::

        >>> obs = HistogramObserver(bins=64)
        >>> _ = obs(ember.linspace(-1.0, 1.0, 101))
        >>> scale, zero_point = obs.calculate_qparams()
    """

    def __init__(self, bins: int = 2048, dtype=ember.quint8, qscheme=per_tensor_affine,
                 reduce_range=False, quant_min=None, quant_max=None, factory_kwargs=None,
                 eps=_EPS, is_dynamic=False, **kwargs) -> None:
        super().__init__(dtype=dtype, qscheme=qscheme, reduce_range=reduce_range,
                         quant_min=quant_min, quant_max=quant_max,
                         factory_kwargs=factory_kwargs, eps=eps, is_dynamic=is_dynamic, **kwargs)
        self.bins = bins
        self.register_buffer("histogram", ember.zeros(self.bins))
        self.register_buffer("min_val", ember.tensor(float("inf")))
        self.register_buffer("max_val", ember.tensor(float("-inf")))
        self.dst_nbins = 2 ** (8 if dtype in (ember.qint8, ember.quint8) else 32)
        self.upsample_rate = 16  # old bins split this finely when the range grows

    def _quantization_error(self, start_bin: int, end_bin: int) -> float:
        """L2 error of quantizing the histogram with the range [start_bin, end_bin]."""
        bin_width = (self.max_val.item() - self.min_val.item()) / self.bins
        dst_bin_width = bin_width * (end_bin - start_bin + 1) / self.dst_nbins
        if dst_bin_width == 0.0:
            return 0.0
        src_bin = ember.arange(self.bins)
        src_begin = (src_bin - start_bin) * bin_width
        src_end = src_begin + bin_width
        last = self.dst_nbins - 1
        dst_of_begin = ember.clamp(ember.div(src_begin, dst_bin_width, rounding_mode="floor"),
                                   0, last)
        dst_of_begin_center = (dst_of_begin + 0.5) * dst_bin_width
        dst_of_end = ember.clamp(ember.div(src_end, dst_bin_width, rounding_mode="floor"),
                                 0, last)
        density = self.histogram / bin_width
        half = dst_bin_width / 2
        norm = _norm(src_begin - dst_of_begin_center, ember.ones(self.bins) * half, density)
        norm = norm + (dst_of_end - dst_of_begin - 1) * _norm(
            ember.tensor(-half), ember.tensor(half), density)
        dst_of_end_center = dst_of_end * dst_bin_width + half
        norm = norm + _norm(ember.tensor(-half), src_end - dst_of_end_center, density)
        return norm.sum().item()

    def _non_linear_param_search(self):
        """Shrink the range one tail at a time (the lighter tail first, by cumulative mass in
        steps of 1e-5) while the quantization error keeps falling."""
        total = self.histogram.sum().item()
        # float32, as PyTorch compares its float32 cumulative sums to these thresholds
        csum = np.cumsum(self.histogram.cpu().numpy(), dtype=np.float32).tolist()
        f32 = np.float32
        stepsize = 1e-5
        alpha, beta = 0.0, 1.0
        start_bin, end_bin = 0, self.bins - 1
        norm_min = math.inf
        while alpha < beta:
            next_alpha, next_beta = alpha + stepsize, beta - stepsize
            lo_limit, hi_limit = f32(next_alpha * total), f32(next_beta * total)
            left, right = start_bin, end_bin
            while left < end_bin and csum[left] < lo_limit:
                left += 1
            while right > start_bin and csum[right] > hi_limit:
                right -= 1
            next_start, next_end = start_bin, end_bin
            if (left - start_bin) > (end_bin - right):
                next_start, alpha = left, next_alpha
            else:
                next_end, beta = right, next_beta
            if next_start == start_bin and next_end == end_bin:
                continue
            norm = self._quantization_error(next_start, next_end)
            if norm > norm_min:
                break
            norm_min, start_bin, end_bin = norm, next_start, next_end
        # the range's ends step in float32 bins, as PyTorch's tensors do
        bin_width = (self.max_val - self.min_val) / self.bins
        return (self.min_val + bin_width * start_bin, self.min_val + bin_width * (end_bin + 1))

    def _upscale_histogram(self, histogram, orig_min, orig_max, update_min, update_max):
        """``histogram`` over [orig_min, orig_max] rebinned onto [update_min, update_max]:
        each old bin split into ``upsample_rate`` parts, each part moved whole to the new bin
        holding its midpoint."""
        rate = self.upsample_rate
        histogram = histogram.repeat_interleave(rate) / rate
        bin_size = (orig_max - orig_min) / (self.bins * rate)
        mids = ember.linspace(float(orig_min), float(orig_max), self.bins * rate + 1)[:-1] \
            + 0.5 * bin_size
        edges = ember.linspace(float(update_min), float(update_max), self.bins + 1)
        where = ember.bucketize(mids, edges, right=True) - 1
        where = ember.clamp(where, 0, self.bins - 1)
        return ember.bincount(where, weights=histogram, minlength=self.bins)

    def _combine_histograms(self, orig_hist, orig_min, orig_max, update_hist, update_min,
                            update_max):
        if bool(update_min == orig_min) and bool(update_max == orig_max):
            return orig_hist + update_hist
        if bool(orig_min == orig_max):
            mass = update_hist.sum()
            moved = ember.histc(orig_min.reshape(1), bins=self.bins, min=float(update_min),
                                max=float(update_max)) * mass
            return moved + update_hist
        return update_hist + self._upscale_histogram(orig_hist, orig_min, orig_max,
                                                     update_min, update_max)

    def reset_histogram(self, x, min_val, max_val) -> None:
        self.min_val = min_val.clone()
        self.max_val = max_val.clone()
        self.histogram = ember.histc(x, self.bins, min=float(min_val), max=float(max_val))

    def forward(self, x_orig):
        if x_orig.numel() == 0:
            return x_orig
        x = x_orig.detach().to(ember.float32)
        x_min, x_max = ember.aminmax(x)
        if float(x_min) == -math.inf or float(x_max) == math.inf:
            warnings.warn("torch.inf detected in input tensor, ignoring input", stacklevel=2)
            x = x[x.abs() != math.inf]
            if x.numel() == 0:
                return x_orig
            x_min, x_max = ember.aminmax(x)
        if float(self.min_val) == math.inf or float(self.max_val) == -math.inf:
            self.reset_histogram(x, x_min, x_max)
            return x_orig
        new_min = ember.minimum(self.min_val, x_min)
        new_max = ember.maximum(self.max_val, x_max)
        update = ember.histc(x, self.bins, min=float(new_min), max=float(new_max))
        self.histogram = self._combine_histograms(self.histogram, self.min_val, self.max_val,
                                                  update, new_min, new_max).to(ember.float32)
        self.min_val = new_min.clone()
        self.max_val = new_max.clone()
        return x_orig

    def calculate_qparams(self):
        if float(self.min_val) == math.inf and float(self.max_val) == -math.inf:
            warnings.warn("must run observer before calling calculate_qparams. Returning "
                          "default scale and zero point ", stacklevel=2)
            return ember.tensor([1.0]), ember.tensor([0])
        new_min, new_max = self._non_linear_param_search()
        return self._calculate_qparams(new_min, new_max)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"

    def reset_min_max_vals(self):
        self.min_val = ember.tensor(float("inf"))
        self.max_val = ember.tensor(float("-inf"))
        self.histogram = ember.zeros(self.bins)
