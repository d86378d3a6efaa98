"""Position-sensitive RoIAlign (torchvision's ``ops.ps_roi_align``)."""
from __future__ import annotations

import ember
from ember import nn
from ember._tensor import Tensor
from ember.nn.modules.utils import _pair
from ember.vision.ops._utils import BoxesArg
from ember.vision.ops.roi_align import _align_samples, _rois


def ps_roi_align(input: Tensor, boxes: BoxesArg, output_size: int | tuple[int, int],
                 spatial_scale: float = 1.0, sampling_ratio: int = -1) -> Tensor:
    """Position-sensitive RoIAlign (Dai et al., R-FCN): like :func:`roi_align` (with the half
    pixel shift), but bin ``(i, j)`` of output channel ``c`` reads input channel
    ``(c * ph + i) * pw + j``, so C must be a multiple of ``ph * pw``.

    Returns:
        Tensor[K, C / (ph * pw), ph, pw]
    """
    output_size = _pair(output_size)
    rois, channel = _ps_setup(input, boxes, output_size)
    height, width = input.shape[-2:]
    yi, wy, xi, wx, count = _align_samples(rois, height, width, output_size, spatial_scale,
                                           sampling_ratio, 0.5, None)
    k = rois.shape[0]
    v = input[rois[:, 0].long().reshape(k, 1, 1, 1, 1, 1), channel,
              yi.reshape(k, 1, *yi.shape[1:], 1, 1), xi.reshape(k, 1, 1, 1, *xi.shape[1:])]
    out = ember.einsum("kcpaqb,kpa,kqb->kcpq", v, wy, wx)
    return out / count[:, None, None, None]


def _ps_setup(input: Tensor, boxes: BoxesArg, output_size: tuple[int, int]):
    """The position-sensitive ops' ``(rois, channel)``: the (K, 5) rois, and the input channel
    of each (output channel, bin row, bin column), shaped (1, Co, ph, 1, pw, 1)."""
    ph, pw = output_size
    channels = input.shape[1]
    if channels % (ph * pw):
        raise RuntimeError("input channels must be a multiple of pooling height * pooling width")
    channel = ember.arange(channels, device=input.device)
    return _rois(input, boxes), channel.reshape(1, channels // (ph * pw), ph, 1, pw, 1)


class PSRoIAlign(nn.Module):
    """Module form of :func:`ps_roi_align`."""

    def __init__(self, output_size: int | tuple[int, int], spatial_scale: float,
                 sampling_ratio: int) -> None:
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = spatial_scale
        self.sampling_ratio = sampling_ratio

    def forward(self, input: Tensor, rois: BoxesArg) -> Tensor:
        return ps_roi_align(input, rois, self.output_size, self.spatial_scale,
                            self.sampling_ratio)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(output_size={self.output_size}, "
                f"spatial_scale={self.spatial_scale}, sampling_ratio={self.sampling_ratio})")
