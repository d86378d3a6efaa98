"""Box utilities (torchvision's ``ops.boxes``): areas, pairwise IoU variants, format conversion,
clipping, non-maximum suppression. Boxes are ``(x1, y1, x2, y2)`` with ``0 <= x1 < x2`` and
``0 <= y1 < y2`` unless a format says otherwise."""
from __future__ import annotations

import math

import ember
from ember._tensor import Tensor, _make
from ember.backend.device import get_array_module


def _upcast(t: Tensor) -> Tensor:
    """Widen so that products of coordinates cannot overflow (half -> float, int8/16 -> int32)."""
    if t.is_floating_point():
        return t if t.dtype in (ember.float32, ember.float64) else t.float()
    return t if t.dtype in (ember.int32, ember.int64) else t.int()


def box_area(boxes: Tensor) -> Tensor:
    """Area of each box of ``boxes`` (Tensor[N, 4], xyxy); returns Tensor[N].

    Example::

        >>> box_area(ember.tensor([[0., 0., 2., 3.]]))
        tensor([6.])
    """
    boxes = _upcast(boxes)
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def _box_inter_union(boxes1: Tensor, boxes2: Tensor) -> tuple[Tensor, Tensor]:
    area1 = box_area(boxes1)
    area2 = box_area(boxes2)
    lt = ember.maximum(boxes1[:, None, :2], boxes2[:, :2])
    rb = ember.minimum(boxes1[:, None, 2:], boxes2[:, 2:])
    wh = _upcast(rb - lt).clamp(min=0)
    inter = wh[:, :, 0] * wh[:, :, 1]
    return inter, area1[:, None] + area2 - inter


def box_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """Pairwise intersection-over-union of Tensor[N, 4] and Tensor[M, 4] (xyxy): Tensor[N, M]."""
    inter, union = _box_inter_union(boxes1, boxes2)
    return inter / union


def _enclosing_wh(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """Width and height of the smallest box enclosing each pair: Tensor[N, M, 2]."""
    lt = ember.minimum(boxes1[:, None, :2], boxes2[:, :2])
    rb = ember.maximum(boxes1[:, None, 2:], boxes2[:, 2:])
    return _upcast(rb - lt).clamp(min=0)


def generalized_box_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """Pairwise generalized IoU (Rezatofighi et al., 2019): IoU minus the fraction of the enclosing
    box not covered by the union; Tensor[N, M] in [-1, 1]."""
    inter, union = _box_inter_union(boxes1, boxes2)
    iou = inter / union
    wh = _enclosing_wh(boxes1, boxes2)
    area = wh[:, :, 0] * wh[:, :, 1]
    return iou - (area - union) / area


def _box_diou_iou(boxes1: Tensor, boxes2: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    iou = box_iou(boxes1, boxes2)
    wh = _enclosing_wh(boxes1, boxes2)
    diagonal_sq = wh[:, :, 0] ** 2 + wh[:, :, 1] ** 2 + eps
    boxes1 = _upcast(boxes1)
    boxes2 = _upcast(boxes2)
    cx1 = (boxes1[:, 0] + boxes1[:, 2]) / 2
    cy1 = (boxes1[:, 1] + boxes1[:, 3]) / 2
    cx2 = (boxes2[:, 0] + boxes2[:, 2]) / 2
    cy2 = (boxes2[:, 1] + boxes2[:, 3]) / 2
    centers_sq = (cx1[:, None] - cx2[None, :]) ** 2 + (cy1[:, None] - cy2[None, :]) ** 2
    return iou - centers_sq / diagonal_sq, iou


def distance_box_iou(boxes1: Tensor, boxes2: Tensor, eps: float = 1e-7) -> Tensor:
    """Pairwise distance IoU (Zheng et al., 2020): IoU minus the squared distance of the centres
    over the squared diagonal of the enclosing box; Tensor[N, M]."""
    diou, _ = _box_diou_iou(boxes1, boxes2, eps)
    return diou


def _aspect_term(w1: Tensor, h1: Tensor, w2: Tensor, h2: Tensor) -> Tensor:
    """CIoU's aspect-ratio consistency ``v = 4 / pi^2 (atan(w2/h2) - atan(w1/h1))^2``."""
    return (4 / math.pi ** 2) * (ember.atan(w2 / h2) - ember.atan(w1 / h1)) ** 2


def complete_box_iou(boxes1: Tensor, boxes2: Tensor, eps: float = 1e-7) -> Tensor:
    """Pairwise complete IoU (Zheng et al., 2020): distance IoU minus ``alpha * v``, where ``v``
    measures the aspect-ratio mismatch and ``alpha`` (no gradient) weighs it; Tensor[N, M]."""
    boxes1 = _upcast(boxes1)
    boxes2 = _upcast(boxes2)
    diou, iou = _box_diou_iou(boxes1, boxes2, eps)
    w1 = boxes1[:, None, 2] - boxes1[:, None, 0]
    h1 = boxes1[:, None, 3] - boxes1[:, None, 1]
    v = _aspect_term(w1, h1, boxes2[:, 2] - boxes2[:, 0], boxes2[:, 3] - boxes2[:, 1])
    with ember.no_grad():
        alpha = v / (1 - iou + v + eps)
    return diou - alpha * v


_FORMATS = ("xyxy", "xywh", "cxcywh")


def _to_xyxy(boxes: Tensor, fmt: str) -> Tensor:
    a, b, c, d = boxes.unbind(-1)
    if fmt == "xywh":
        return ember.stack((a, b, a + c, b + d), dim=-1)
    return ember.stack((a - 0.5 * c, b - 0.5 * d, a + 0.5 * c, b + 0.5 * d), dim=-1)


def _from_xyxy(boxes: Tensor, fmt: str) -> Tensor:
    x1, y1, x2, y2 = boxes.unbind(-1)
    if fmt == "xywh":
        return ember.stack((x1, y1, x2 - x1, y2 - y1), dim=-1)
    return ember.stack(((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1), dim=-1)


def box_convert(boxes: Tensor, in_fmt: str, out_fmt: str) -> Tensor:
    """Convert Tensor[N, 4] between ``'xyxy'`` (corners), ``'xywh'`` (top-left corner, width,
    height) and ``'cxcywh'`` (centre, width, height).

    Example::

        >>> box_convert(ember.tensor([[1., 2., 3., 4.]]), "xywh", "xyxy")
        tensor([[1., 2., 4., 6.]])
    """
    if in_fmt not in _FORMATS or out_fmt not in _FORMATS:
        raise ValueError("Unsupported Bounding Box Conversions for given in_fmt and out_fmt")
    if in_fmt == out_fmt:
        return boxes.clone()
    if in_fmt != "xyxy":
        boxes = _to_xyxy(boxes, in_fmt)
    return boxes if out_fmt == "xyxy" else _from_xyxy(boxes, out_fmt)


def clip_boxes_to_image(boxes: Tensor, size: tuple[int, int]) -> Tensor:
    """Clip Tensor[..., 4] xyxy boxes to an image of ``size = (height, width)``."""
    height, width = size
    xs = boxes[..., 0::2].clamp(min=0, max=width)
    ys = boxes[..., 1::2].clamp(min=0, max=height)
    return ember.stack((xs, ys), dim=boxes.dim()).reshape(boxes.shape)


def remove_small_boxes(boxes: Tensor, min_size: float) -> Tensor:
    """Indices (int64) of the boxes whose width and height are both at least ``min_size``."""
    ws = boxes[:, 2] - boxes[:, 0]
    hs = boxes[:, 3] - boxes[:, 1]
    return ember.where((ws >= min_size) & (hs >= min_size))[0]


_NMS_BLOCK = 128


def _pairwise_overlaps(a, b, areas_a, areas_b, iou_threshold: float):
    """Whether IoU(a[i], b[j]) > iou_threshold, for arrays of xyxy boxes: bool [len(a), len(b)]."""
    xp = get_array_module(a)
    # in place: this is the hot loop of nms, and temporaries of len(a) x len(b) dominate it
    inter = xp.minimum(a[:, None, 2], b[:, 2])
    inter -= xp.maximum(a[:, None, 0], b[:, 0])
    h = xp.minimum(a[:, None, 3], b[:, 3])
    h -= xp.maximum(a[:, None, 1], b[:, 1])
    xp.maximum(inter, 0, out=inter)
    xp.maximum(h, 0, out=h)
    inter *= h
    union = areas_a[:, None] + areas_b
    union -= inter
    inter /= union
    return inter > iou_threshold


def _greedy_in_block(alive, overlaps):
    """Greedy NMS inside one block: ``alive[i]`` survives unless an earlier surviving box overlaps
    it. Iterating ``keep = alive & ~any(overlaps[earlier kept])`` fixes one more leading box per
    round, so it reaches the (unique) greedy answer in at most len(alive) rounds, and in a few
    when chains of suppression are short."""
    xp = get_array_module(alive)
    earlier = xp.triu(overlaps, 1).astype(xp.float32)
    keep = alive
    while True:
        new = alive & ~(keep.astype(xp.float32) @ earlier > 0)
        if bool((new == keep).all()):
            return keep
        keep = new


def nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Greedy non-maximum suppression: visiting boxes by decreasing score (ties in index order),
    keep a box and drop every later one whose IoU with it is greater than ``iou_threshold``.

    Args:
        boxes (Tensor[N, 4]): xyxy boxes.
        scores (Tensor[N]): their scores.
        iou_threshold (float): discard overlaps with IoU > iou_threshold.

    Returns:
        Tensor[K] (int64): indices of the kept boxes, by decreasing score.
    """
    with ember.no_grad():
        order = ember.sort(scores.detach(), descending=True, stable=True)[1]
        if order.numel() == 0:
            return order
        sorted_boxes = boxes.detach()[order]
        data = sorted_boxes._data
        xp = get_array_module(data)
        if data.dtype.kind != "f":  # integer boxes: exact areas and a float IoU
            data = data.astype(xp.float64)
        elif data.dtype.itemsize < 4:  # half: products of coordinates would overflow
            data = data.astype(xp.float32)
        areas = (data[:, 2] - data[:, 0]) * (data[:, 3] - data[:, 1])
        # blocks in score order: a block is first thinned by the boxes kept before it, then
        # resolved greedily within itself, so no N x N matrix is ever built
        kept = xp.zeros(0, dtype=xp.int64)
        for start in range(0, len(data), _NMS_BLOCK):
            block = slice(start, start + _NMS_BLOCK)
            alive = xp.ones(len(data[block]), dtype=bool)
            if len(kept):
                alive = ~_pairwise_overlaps(data[block], data[kept], areas[block], areas[kept],
                                            iou_threshold).any(axis=1)
            overlaps = _pairwise_overlaps(data[block], data[block], areas[block], areas[block],
                                          iou_threshold)
            keep = _greedy_in_block(alive, overlaps)
            kept = xp.concatenate((kept, xp.flatnonzero(keep) + start))
        return order[_make(kept)]


def batched_nms(boxes: Tensor, scores: Tensor, idxs: Tensor, iou_threshold: float) -> Tensor:
    """Non-maximum suppression within each category of ``idxs`` (Tensor[N] of ints): boxes of
    different categories never suppress each other. Returns int64 indices by decreasing score."""
    if boxes.numel() == 0:
        return ember.empty((0,), dtype=ember.int64, device=boxes.device)
    # shift each category to its own region so that boxes of two categories cannot overlap
    max_coordinate = boxes.max()
    offsets = idxs.to(boxes) * (max_coordinate + ember.tensor(1).to(boxes))
    return nms(boxes + offsets[:, None], scores, iou_threshold)


def masks_to_boxes(masks: Tensor) -> Tensor:
    """The tightest xyxy box around the nonzero pixels of each mask of Tensor[N, H, W]:
    Tensor[N, 4] float (an empty mask gives zeros)."""
    if masks.numel() == 0:
        return ember.zeros((0, 4), device=masks.device, dtype=ember.float)
    n, h, w = masks.shape
    on = masks != 0
    cols = on.any(dim=1)
    rows = on.any(dim=2)
    xs = ember.arange(w, device=masks.device)
    ys = ember.arange(h, device=masks.device)
    x1 = ember.where(cols, xs, w).amin(dim=1)
    x2 = ember.where(cols, xs, -1).amax(dim=1)
    y1 = ember.where(rows, ys, h).amin(dim=1)
    y2 = ember.where(rows, ys, -1).amax(dim=1)
    boxes = ember.stack((x1, y1, x2, y2), dim=1).float()
    return ember.where(cols.any(dim=1)[:, None], boxes, 0.0)
