"""Complete IoU loss (torchvision's ``ops.ciou_loss``); boxes pair up elementwise."""
from __future__ import annotations

import ember
from ember._tensor import Tensor
from ember.vision.ops._utils import _reduce, _upcast_non_float
from ember.vision.ops.boxes import _aspect_term
from ember.vision.ops.diou_loss import _diou_iou_loss


def complete_box_iou_loss(boxes1: Tensor, boxes2: Tensor, reduction: str = "none",
                          eps: float = 1e-7) -> Tensor:
    """``1 - CIoU`` of each pair of boxes: the DIoU loss plus ``alpha * v`` for the aspect-ratio
    mismatch ``v`` (``alpha`` carries no gradient)."""
    boxes1 = _upcast_non_float(boxes1)
    boxes2 = _upcast_non_float(boxes2)
    diou_loss, iou = _diou_iou_loss(boxes1, boxes2, eps)
    x1, y1, x2, y2 = boxes1.unbind(-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(-1)
    v = _aspect_term(x2 - x1, y2 - y1, x2g - x1g, y2g - y1g)
    with ember.no_grad():
        alpha = v / (1 - iou + v + eps)
    return _reduce(diou_loss + alpha * v, reduction)
