"""Multi-scale RoIAlign over a feature pyramid (torchvision's ``ops.poolers``): each box is pooled
from the level that suits its size (Lin et al., FPN, eq. 1)."""
from __future__ import annotations

import math

import ember
from ember import nn
from ember._tensor import Tensor
from ember.vision.ops._utils import convert_boxes_to_roi_format
from ember.vision.ops.boxes import box_area
from ember.vision.ops.roi_align import roi_align


class LevelMapper:
    """Maps boxes to pyramid levels: ``floor(canonical_level + log2(sqrt(area) /
    canonical_scale) + eps)`` clamped to ``[k_min, k_max]``, returned relative to ``k_min``."""

    def __init__(self, k_min: int, k_max: int, canonical_scale: int = 224,
                 canonical_level: int = 4, eps: float = 1e-6) -> None:
        self.k_min = k_min
        self.k_max = k_max
        self.s0 = canonical_scale
        self.lvl0 = canonical_level
        self.eps = eps

    def __call__(self, boxlists: list[Tensor]) -> Tensor:
        s = ember.sqrt(ember.cat([box_area(b) for b in boxlists]))
        levels = ember.floor(self.lvl0 + ember.log2(s / self.s0) + self.eps)
        return levels.clamp(min=self.k_min, max=self.k_max).long() - self.k_min


def _infer_scale(feature: Tensor, original_size: tuple[int, int]) -> float:
    """The power of two closest to ``feature height / image height``."""
    return 2.0 ** round(math.log2(feature.shape[-2] / original_size[0]))


class MultiScaleRoIAlign(nn.Module):
    """RoIAlign on the feature maps ``featmap_names`` of a dict, each box taken from one level
    chosen by :class:`LevelMapper`; the levels' scales are inferred from the feature sizes and
    the largest image size.

    Args:
        featmap_names (list[str]): the feature maps to pool from.
        output_size (int or (int, int)): pooled size.
        sampling_ratio (int): as in :func:`roi_align`.
        canonical_scale (int), canonical_level (int): a box of ``canonical_scale`` pixels a side
            maps to level ``canonical_level``.

    Example::

        >>> m = MultiScaleRoIAlign(["feat1", "feat3"], 3, 2)
        >>> x = {"feat1": ember.rand(1, 5, 64, 64), "feat3": ember.rand(1, 5, 16, 16)}
        >>> m(x, [ember.tensor([[0., 0., 40., 50.]])], [(512, 512)]).shape
        torch.Size([1, 5, 3, 3])
    """

    def __init__(self, featmap_names: list[str], output_size: int | tuple[int, int],
                 sampling_ratio: int, *, canonical_scale: int = 224,
                 canonical_level: int = 4) -> None:
        super().__init__()
        if isinstance(output_size, int):
            output_size = (output_size, output_size)
        self.featmap_names = featmap_names
        self.sampling_ratio = sampling_ratio
        self.output_size = tuple(output_size)
        self.scales: list[float] | None = None
        self.map_levels: LevelMapper | None = None
        self.canonical_scale = canonical_scale
        self.canonical_level = canonical_level

    def forward(self, x: dict[str, Tensor], boxes: list[Tensor],
                image_shapes: list[tuple[int, int]]) -> Tensor:
        features = [v for k, v in x.items() if k in self.featmap_names]
        original_size = (max(s[0] for s in image_shapes), max(s[1] for s in image_shapes))
        self.scales = [_infer_scale(f, original_size) for f in features]
        lvl_min = -math.log2(self.scales[0])
        lvl_max = -math.log2(self.scales[-1])
        self.map_levels = LevelMapper(int(lvl_min), int(lvl_max), self.canonical_scale,
                                      self.canonical_level)
        rois = convert_boxes_to_roi_format(boxes)
        if len(features) == 1:
            return roi_align(features[0], rois, self.output_size, self.scales[0],
                             self.sampling_ratio)
        levels = self.map_levels(boxes)
        outs, order = [], []
        for level, (feature, scale) in enumerate(zip(features, self.scales)):
            idx = ember.where(levels == level)[0]
            outs.append(roi_align(feature, rois[idx], self.output_size, scale,
                                  self.sampling_ratio))
            order.append(idx)
        # levels' results stacked, then put back in box order
        return ember.cat(outs)[ember.argsort(ember.cat(order))]

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(featmap_names={self.featmap_names}, "
                f"output_size={self.output_size}, sampling_ratio={self.sampling_ratio})")
