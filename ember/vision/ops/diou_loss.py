"""Distance IoU loss (torchvision's ``ops.diou_loss``); boxes pair up elementwise."""
from __future__ import annotations

from ember._tensor import Tensor
from ember.vision.ops._utils import _enclosing, _loss_inter_union, _reduce, _upcast_non_float


def _diou_iou_loss(boxes1: Tensor, boxes2: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    inter, union = _loss_inter_union(boxes1, boxes2)
    iou = inter / (union + eps)
    cw, ch = _enclosing(boxes1, boxes2)
    diagonal_sq = cw ** 2 + ch ** 2 + eps
    x1, y1, x2, y2 = boxes1.unbind(-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(-1)
    centers_sq = ((x1 + x2) / 2 - (x1g + x2g) / 2) ** 2 + ((y1 + y2) / 2 - (y1g + y2g) / 2) ** 2
    return 1 - iou + centers_sq / diagonal_sq, iou


def distance_box_iou_loss(boxes1: Tensor, boxes2: Tensor, reduction: str = "none",
                          eps: float = 1e-7) -> Tensor:
    """``1 - DIoU`` of each pair of boxes: IoU loss plus the squared centre distance over the
    squared diagonal of the enclosing box."""
    boxes1 = _upcast_non_float(boxes1)
    boxes2 = _upcast_non_float(boxes2)
    loss, _ = _diou_iou_loss(boxes1, boxes2, eps)
    return _reduce(loss, reduction)
