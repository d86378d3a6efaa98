"""Generalized IoU loss (torchvision's ``ops.giou_loss``); boxes pair up elementwise
(``boxes1[i]`` with ``boxes2[i]``, xyxy, shape [..., 4])."""
from __future__ import annotations

from ember._tensor import Tensor
from ember.vision.ops._utils import _enclosing, _loss_inter_union, _reduce, _upcast_non_float


def generalized_box_iou_loss(boxes1: Tensor, boxes2: Tensor, reduction: str = "none",
                             eps: float = 1e-7) -> Tensor:
    """``1 - GIoU`` of each pair of boxes: a loss that still has a gradient when the boxes do not
    overlap. ``eps`` keeps the divisions finite."""
    boxes1 = _upcast_non_float(boxes1)
    boxes2 = _upcast_non_float(boxes2)
    inter, union = _loss_inter_union(boxes1, boxes2)
    iou = inter / (union + eps)
    cw, ch = _enclosing(boxes1, boxes2)
    area_c = cw * ch
    loss = 1 - (iou - (area_c - union) / (area_c + eps))
    return _reduce(loss, reduction)
