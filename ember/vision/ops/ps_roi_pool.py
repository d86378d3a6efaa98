"""Position-sensitive RoIPool (torchvision's ``ops.ps_roi_pool``)."""
from __future__ import annotations

import ember
from ember._tensor import Tensor
from ember.nn.modules.utils import _pair
from ember.vision.ops._utils import BoxesArg
from ember.vision.ops.ps_roi_align import _ps_setup
from ember.vision.ops.roi_pool import RoIPool, _pool_windows


def ps_roi_pool(input: Tensor, boxes: BoxesArg, output_size: int | tuple[int, int],
                spatial_scale: float = 1.0) -> Tensor:
    """Position-sensitive RoIPool (Dai et al., R-FCN): averages each integer window of the ROI,
    bin ``(i, j)`` of output channel ``c`` reading input channel ``(c * ph + i) * pw + j``.

    Returns:
        Tensor[K, C / (ph * pw), ph, pw]
    """
    output_size = _pair(output_size)
    rois, channel = _ps_setup(input, boxes, output_size)
    height, width = input.shape[-2:]
    yi, ym, xi, xm = _pool_windows(rois, height, width, output_size, spatial_scale, 0)
    k = rois.shape[0]
    v = input[rois[:, 0].long().reshape(k, 1, 1, 1, 1, 1), channel,
              yi.reshape(k, 1, *yi.shape[1:], 1, 1), xi.reshape(k, 1, 1, 1, *xi.shape[1:])]
    wy = ym.to(input.dtype)
    wx = xm.to(input.dtype)
    total = ember.einsum("kcpaqb,kpa,kqb->kcpq", v, wy, wx)
    area = wy.sum(-1)[:, :, None] * wx.sum(-1)[:, None, :]
    return total / area.clamp(min=1)[:, None]


class PSRoIPool(RoIPool):
    """Module form of :func:`ps_roi_pool`."""

    def forward(self, input: Tensor, rois: BoxesArg) -> Tensor:
        return ps_roi_pool(input, rois, self.output_size, self.spatial_scale)
