"""RoIPool (torchvision's ``ops.roi_pool``): max over integer windows of each ROI."""
from __future__ import annotations

import math

import ember
from ember import nn
from ember._tensor import Tensor
from ember.nn.modules.utils import _pair
from ember.vision.ops._utils import BoxesArg
from ember.vision.ops.roi_align import _rois


def _round_half_away(t: Tensor) -> Tensor:
    """C's ``round`` (halves away from zero), which the kernels' ROI corners use; ember.round
    rounds halves to even."""
    return ember.sign(t) * ember.floor(t.abs() + 0.5)


def _pool_axis(start: Tensor, bin_size: Tensor, pooled: int, size: int) -> tuple[Tensor, Tensor]:
    """Integer windows ``[floor(p*bin), ceil((p+1)*bin))`` shifted by ``start`` and clipped to
    the map, as indices (K, P, L) padded to the longest window and a mask of the real ones."""
    p = ember.arange(pooled, device=start.device, dtype=bin_size.dtype)[None, :]
    lo = (ember.floor(p * bin_size[:, None]) + start[:, None]).clamp(0, size).long()
    hi = (ember.ceil((p + 1) * bin_size[:, None]) + start[:, None]).clamp(0, size).long()
    length = max(int((hi - lo).max()), 1) if start.shape[0] else 1
    index = lo[..., None] + ember.arange(length, device=start.device)
    return index.clamp(max=size - 1), index < hi[..., None]


def _pool_windows(rois: Tensor, height: int, width: int, output_size: tuple[int, int],
                  spatial_scale: float, extra: int):
    ph, pw = output_size
    x1, y1, x2, y2 = (_round_half_away(rois[:, j] * spatial_scale) for j in range(1, 5))
    roi_w = (x2 - x1 + extra).clamp(min=1)
    roi_h = (y2 - y1 + extra).clamp(min=1)
    yi, ym = _pool_axis(y1, roi_h / ph, ph, height)
    xi, xm = _pool_axis(x1, roi_w / pw, pw, width)
    return yi, ym, xi, xm


def roi_pool(input: Tensor, boxes: BoxesArg, output_size: int | tuple[int, int],
             spatial_scale: float = 1.0) -> Tensor:
    """RoIPool (Girshick, Fast R-CNN): each ROI, its corners rounded to feature-map pixels, is
    split into ``output_size`` integer windows whose maximum is taken (0 for an empty window).

    Returns:
        Tensor[K, C, output_size[0], output_size[1]]
    """
    output_size = _pair(output_size)
    rois = _rois(input, boxes)
    _, _, height, width = input.shape
    yi, ym, xi, xm = _pool_windows(rois, height, width, output_size, spatial_scale, 1)
    k, ph, lh = yi.shape
    pw, lw = xi.shape[1:]
    channels = input.shape[1]
    # channels last, so that each window pixel gathers one contiguous row of C values
    rows = input.permute(0, 2, 3, 1).reshape(-1, channels)
    batch = rois[:, 0].long().reshape(k, 1, 1, 1, 1)
    pixel = (batch * height + yi.reshape(k, ph, 1, lh, 1)) * width + xi.reshape(k, 1, pw, 1, lw)
    pixel = pixel.reshape(k, ph, pw, lh * lw)
    mask = ym.reshape(k, ph, 1, lh, 1) & xm.reshape(k, 1, pw, 1, lw)
    mask = mask.reshape(k, ph, pw, lh * lw)
    with ember.no_grad():
        # the argmax alone is found without a graph, one window slot at a time (a running
        # maximum keeps the first on ties, as the kernel does); padding slots read a row of -inf
        table = ember.cat([rows.detach(), ember.full_like(rows[:1], -math.inf)])
        pixel = ember.where(mask, pixel, rows.shape[0])
        best = table[pixel[..., 0]]
        argmax = pixel[..., :1].expand(best.shape).clone()
        for slot in range(1, lh * lw):
            candidate = table[pixel[..., slot]]
            better = candidate > best
            best = ember.where(better, candidate, best)
            argmax = ember.where(better, pixel[..., slot:slot + 1], argmax)
        argmax.clamp_(max=rows.shape[0] - 1)
    out = ember.gather(rows, 0, argmax.reshape(k * ph * pw, channels))
    out = out.reshape(k, ph, pw, channels)
    empty = ~mask.any(dim=3, keepdim=True)
    return ember.where(empty, 0.0, out).permute(0, 3, 1, 2)


class RoIPool(nn.Module):
    """Module form of :func:`roi_pool`."""

    def __init__(self, output_size: int | tuple[int, int], spatial_scale: float) -> None:
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = spatial_scale

    def forward(self, input: Tensor, rois: BoxesArg) -> Tensor:
        return roi_pool(input, rois, self.output_size, self.spatial_scale)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(output_size={self.output_size}, "
                f"spatial_scale={self.spatial_scale})")
