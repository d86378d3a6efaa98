"""Helpers shared by the ops (torchvision's ``ops._utils``): the ROI formats, the elementwise
intersection and union of the IoU losses, loss reduction, and the split of a model's
parameters into normalization-layer and other parameters."""
from __future__ import annotations

import ember
from ember import nn
from ember._tensor import Tensor
from ember.nn.modules.normalization import _BatchNorm, _InstanceNorm

BoxesArg = Tensor | list[Tensor] | tuple[Tensor, ...]


def convert_boxes_to_roi_format(boxes: list[Tensor]) -> Tensor:
    """A list of per-image Tensor[L, 4] boxes as one Tensor[K, 5] with the image index first."""
    concat = ember.cat(list(boxes), dim=0)
    ids = ember.cat([ember.full_like(b[:, :1], i) for i, b in enumerate(boxes)], dim=0)
    return ember.cat([ids, concat], dim=1)


def check_roi_boxes_shape(boxes: BoxesArg) -> None:
    if isinstance(boxes, (list, tuple)):
        for b in boxes:
            if b.size(1) != 4:
                raise AssertionError("The shape of the tensor in the boxes list is not correct "
                                     "as List[Tensor[L, 4]]")
    elif isinstance(boxes, Tensor):
        if boxes.size(1) != 5:
            raise AssertionError("The boxes tensor shape is not correct as Tensor[K, 5]")
    else:
        raise AssertionError("boxes is expected to be a Tensor[L, 5] or a List[Tensor[K, 4]]")


def split_normalization_params(model: nn.Module, norm_classes: list[type] | None = None
                               ) -> tuple[list[Tensor], list[Tensor]]:
    """The trainable parameters of ``model`` as (those of normalization layers, all others), as
    the classification references give normalization layers their own weight decay.

    A leaf module of one of ``norm_classes`` (default: batch, layer, group, instance and local
    response norms) contributes all its parameters to the first list; a container
    contributes only the parameters it holds directly to the second list, as do other leaves.

    Example::

        >>> model = nn.Sequential(nn.Linear(2, 2), nn.LayerNorm(2))
        >>> norm, other = split_normalization_params(model)
        >>> len(norm), len(other)
        (2, 2)
    """
    if not norm_classes:
        norm_classes = [_BatchNorm, nn.LayerNorm, nn.GroupNorm, _InstanceNorm,
                        nn.LocalResponseNorm]
    for cls in norm_classes:
        if not issubclass(cls, nn.Module):
            raise ValueError(f"Class {cls} is not a subclass of nn.Module.")
    norm_classes = tuple(norm_classes)
    norm_params, other_params = [], []
    for module in model.modules():
        is_container = next(module.children(), None) is not None
        own = module.parameters(recurse=not is_container)
        trainable = [p for p in own if p.requires_grad]
        if not is_container and isinstance(module, norm_classes):
            norm_params.extend(trainable)
        else:
            other_params.extend(trainable)
    return norm_params, other_params


def _upcast_non_float(t: Tensor) -> Tensor:
    return t if t.dtype in (ember.float32, ember.float64) else t.float()


def _loss_inter_union(boxes1: Tensor, boxes2: Tensor) -> tuple[Tensor, Tensor]:
    x1, y1, x2, y2 = boxes1.unbind(-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(-1)
    w = (ember.minimum(x2, x2g) - ember.maximum(x1, x1g)).clamp(min=0)
    h = (ember.minimum(y2, y2g) - ember.maximum(y1, y1g)).clamp(min=0)
    inter = w * h
    return inter, (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - inter


def _enclosing(boxes1: Tensor, boxes2: Tensor) -> tuple[Tensor, Tensor]:
    """Width and height of the box enclosing each pair."""
    x1, y1, x2, y2 = boxes1.unbind(-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(-1)
    return (ember.maximum(x2, x2g) - ember.minimum(x1, x1g),
            ember.maximum(y2, y2g) - ember.minimum(y1, y1g))


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean() if loss.numel() > 0 else 0.0 * loss.sum()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"Invalid Value for arg 'reduction': '{reduction} \n Supported reduction "
                     "modes: 'none', 'mean', 'sum'")
