"""Anchor generators (torchvision's ``models.detection.anchor_utils``): the R-CNN style
``AnchorGenerator`` and SSD's ``DefaultBoxGenerator``. Neither holds state_dict entries."""
from __future__ import annotations

import math

import ember
from ember import nn
from ember._tensor import Tensor
from ember.vision.models.detection.image_list import ImageList


def _grid_centers(xs: Tensor, ys: Tensor) -> tuple[Tensor, Tensor]:
    """The x and y of every cell of the grid ``ys x xs``, row by row (each flat)."""
    grid_y, grid_x = ember.meshgrid(ys, xs, indexing="ij")
    return grid_x.reshape(-1), grid_y.reshape(-1)


class AnchorGenerator(nn.Module):
    """Anchors for every location of every feature map: ``len(sizes[i]) * len(aspect_ratios[i])``
    boxes centred on each cell of map ``i``, spaced by the map's stride in the image.

    Aspect ratio is height / width; an anchor of size ``s`` and ratio ``r`` is
    ``s / sqrt(r)`` wide and ``s * sqrt(r)`` high (corners rounded to integers).

    Args:
        sizes: one tuple of sizes per feature map (a flat tuple means one size per map).
        aspect_ratios: one tuple of ratios per feature map (a flat tuple is used for all).

    Example::

        >>> gen = AnchorGenerator(((32,),), ((1.0,),))
        >>> images = ImageList(ember.zeros(1, 3, 64, 64), [(64, 64)])
        >>> gen(images, [ember.zeros(1, 8, 2, 2)])[0]
        tensor([[-16., -16., 16., 16.],
                [ 16., -16., 48., 16.],
                [-16.,  16., 16., 48.],
                [ 16.,  16., 48., 48.]])
    """

    def __init__(self, sizes=((128, 256, 512),), aspect_ratios=((0.5, 1.0, 2.0),)) -> None:
        super().__init__()
        if not isinstance(sizes[0], (list, tuple)):
            sizes = tuple((s,) for s in sizes)
        if not isinstance(aspect_ratios[0], (list, tuple)):
            aspect_ratios = (aspect_ratios,) * len(sizes)
        self.sizes = sizes
        self.aspect_ratios = aspect_ratios
        self.cell_anchors = [self.generate_anchors(size, ratios)
                             for size, ratios in zip(sizes, aspect_ratios)]

    def generate_anchors(self, scales: list[int], aspect_ratios: list[float],
                         dtype: ember.dtype = ember.float32, device=None) -> Tensor:
        """Zero-centred anchors ``(len(aspect_ratios) * len(scales), 4)``, ratio-major."""
        device = ember.device("cpu") if device is None else device
        scales = ember.as_tensor(scales, dtype=dtype, device=device)
        h_ratios = ember.sqrt(ember.as_tensor(aspect_ratios, dtype=dtype, device=device))
        w_ratios = 1 / h_ratios
        ws = (w_ratios[:, None] * scales[None, :]).view(-1)
        hs = (h_ratios[:, None] * scales[None, :]).view(-1)
        return (ember.stack([-ws, -hs, ws, hs], dim=1) / 2).round()

    def set_cell_anchors(self, dtype: ember.dtype, device) -> None:
        self.cell_anchors = [anchors.to(dtype=dtype, device=device)
                             for anchors in self.cell_anchors]

    def num_anchors_per_location(self) -> list[int]:
        return [len(s) * len(a) for s, a in zip(self.sizes, self.aspect_ratios)]

    def grid_anchors(self, grid_sizes: list[list[int]],
                     strides: list[list[Tensor]]) -> list[Tensor]:
        """Per feature map, the cell anchors shifted to every cell: ``(H * W * A, 4)``, ordered
        by row, then column, then anchor."""
        if not len(grid_sizes) == len(strides) == len(self.cell_anchors):
            raise ValueError(
                "Anchors should be Tuple[Tuple[int]] because each feature map could potentially "
                "have different sizes and aspect ratios. There needs to be a match between the "
                "number of feature maps passed and the number of sizes / aspect ratios specified.")
        anchors = []
        for (grid_h, grid_w), (stride_h, stride_w), base in zip(grid_sizes, strides,
                                                                self.cell_anchors):
            xs = ember.arange(0, grid_w, dtype=ember.int32, device=base.device) * stride_w
            ys = ember.arange(0, grid_h, dtype=ember.int32, device=base.device) * stride_h
            shift_x, shift_y = _grid_centers(xs, ys)
            shifts = ember.stack((shift_x, shift_y, shift_x, shift_y), dim=1)
            anchors.append((shifts.view(-1, 1, 4) + base.view(1, -1, 4)).reshape(-1, 4))
        return anchors

    def forward(self, image_list: ImageList, feature_maps: list[Tensor]) -> list[Tensor]:
        """One ``(sum_i H_i * W_i * A_i, 4)`` tensor of anchors per image."""
        grid_sizes = [fmap.shape[-2:] for fmap in feature_maps]
        image_h, image_w = image_list.tensors.shape[-2:]
        dtype, device = feature_maps[0].dtype, feature_maps[0].device
        strides = [[ember.tensor(image_h // g[0], dtype=ember.int64, device=device),
                    ember.tensor(image_w // g[1], dtype=ember.int64, device=device)]
                   for g in grid_sizes]
        self.set_cell_anchors(dtype, device)
        per_map = self.grid_anchors(grid_sizes, strides)
        # a fresh tensor per image, so that editing one image's anchors leaves the others alone
        return [ember.cat(per_map) for _ in image_list.image_sizes]


class DefaultBoxGenerator(nn.Module):
    """SSD's default boxes (Liu et al., 2016, p. 6): for map ``k`` of scale ``s_k``, boxes of
    sides ``s_k``, ``sqrt(s_k * s_{k+1})`` and ``s_k * sqrt(ar), s_k / sqrt(ar)`` (both ways)
    for each aspect ratio, centred on every cell, in image pixels (xyxy).

    Args:
        aspect_ratios: the ratios of each feature map.
        min_ratio, max_ratio: the smallest and largest scale, spaced linearly over the maps,
            when ``scales`` is not given.
        scales: the scales of the maps, plus one more (the last map's second box).
        steps: the stride of each map in pixels; else the map's own grid spacing.
        clip: clamp the relative widths and heights into ``[0, 1]``.
    """

    def __init__(self, aspect_ratios: list[list[int]], min_ratio: float = 0.15,
                 max_ratio: float = 0.9, scales: list[float] | None = None,
                 steps: list[int] | None = None, clip: bool = True) -> None:
        super().__init__()
        if steps is not None and len(aspect_ratios) != len(steps):
            raise ValueError("aspect_ratios and steps should have the same length")
        self.aspect_ratios = aspect_ratios
        self.steps = steps
        self.clip = clip
        num_outputs = len(aspect_ratios)
        if scales is not None:
            self.scales = scales
        elif num_outputs > 1:
            self.scales = [min_ratio + (max_ratio - min_ratio) * k / (num_outputs - 1.0)
                           for k in range(num_outputs)] + [1.0]
        else:
            self.scales = [min_ratio, max_ratio]
        self._wh_pairs = self._generate_wh_pairs(num_outputs)

    def _generate_wh_pairs(self, num_outputs: int, dtype: ember.dtype = ember.float32,
                           device=None) -> list[Tensor]:
        """Per map, its ``(2 + 2 * len(aspect_ratios[k]), 2)`` relative widths and heights."""
        wh_pairs = []
        for k in range(num_outputs):
            s_k = self.scales[k]
            s_prime_k = math.sqrt(self.scales[k] * self.scales[k + 1])
            pairs = [[s_k, s_k], [s_prime_k, s_prime_k]]
            for ar in self.aspect_ratios[k]:
                w = s_k * math.sqrt(ar)
                h = s_k / math.sqrt(ar)
                pairs.extend([[w, h], [h, w]])
            wh_pairs.append(ember.as_tensor(pairs, dtype=dtype, device=device))
        return wh_pairs

    def num_anchors_per_location(self) -> list[int]:
        return [2 + 2 * len(r) for r in self.aspect_ratios]

    def _grid_default_boxes(self, grid_sizes: list[list[int]], image_size: list[int],
                            dtype: ember.dtype = ember.float32) -> Tensor:
        """All maps' default boxes as relative ``(cx, cy, w, h)``: ``(sum_k H_k W_k B_k, 4)``."""
        default_boxes = []
        for k, (grid_h, grid_w) in enumerate(grid_sizes):
            if self.steps is not None:
                cells_x = image_size[1] / self.steps[k]
                cells_y = image_size[0] / self.steps[k]
            else:
                cells_y, cells_x = grid_h, grid_w
            # centres are computed in the default dtype, then cast, as torchvision does
            xs = ((ember.arange(0, grid_w) + 0.5) / cells_x).to(dtype=dtype)
            ys = ((ember.arange(0, grid_h) + 0.5) / cells_y).to(dtype=dtype)
            shift_x, shift_y = _grid_centers(xs, ys)
            num_pairs = len(self._wh_pairs[k])
            centers = ember.stack((shift_x, shift_y) * num_pairs, dim=-1).reshape(-1, 2)
            wh = self._wh_pairs[k].clamp(min=0, max=1) if self.clip else self._wh_pairs[k]
            wh = wh.to(dtype=centers.dtype).repeat(grid_h * grid_w, 1)
            default_boxes.append(ember.cat((centers, wh), dim=1))
        return ember.cat(default_boxes, dim=0)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(aspect_ratios={self.aspect_ratios}, clip={self.clip}, "
                f"scales={self.scales}, steps={self.steps})")

    def forward(self, image_list: ImageList, feature_maps: list[Tensor]) -> list[Tensor]:
        """One ``(num_default_boxes, 4)`` xyxy tensor in pixels per image."""
        grid_sizes = [fmap.shape[-2:] for fmap in feature_maps]
        image_size = image_list.tensors.shape[-2:]
        dtype, device = feature_maps[0].dtype, feature_maps[0].device
        boxes = self._grid_default_boxes(grid_sizes, image_size, dtype=dtype).to(device)
        x_y_size = ember.tensor([image_size[1], image_size[0]], device=boxes.device)
        half = 0.5 * boxes[:, 2:]
        return [ember.cat([(boxes[:, :2] - half) * x_y_size, (boxes[:, :2] + half) * x_y_size], -1)
                for _ in image_list.image_sizes]
