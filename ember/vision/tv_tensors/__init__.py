"""``ember.vision.tv_tensors`` (torchvision.tv_tensors): Tensor subclasses that say what a
tensor holds, so that ``transforms.v2`` transforms images, videos, masks and boxes together
(see NOTE [ TVTensor unwrapping ] in ``_tv_tensor.py``)."""
from __future__ import annotations

from ember._tensor import Tensor
from ember.vision.tv_tensors._bounding_boxes import (
    BoundingBoxes,
    BoundingBoxFormat,
    is_rotated_bounding_format,
)
from ember.vision.tv_tensors._image import Image, Mask, Video
from ember.vision.tv_tensors._keypoints import KeyPoints
from ember.vision.tv_tensors._tv_tensor import TVTensor, _view_as, set_return_type


def wrap(wrappee: Tensor, *, like: TVTensor, **kwargs) -> TVTensor:
    """``wrappee`` as the TVTensor type of ``like``, with ``like``'s metadata (a box's format,
    canvas_size and clamping_mode, points' canvas_size) unless ``kwargs`` override it."""
    if isinstance(like, BoundingBoxes):
        return BoundingBoxes._wrap(wrappee, format=kwargs.get("format", like.format),
                                   canvas_size=kwargs.get("canvas_size", like.canvas_size),
                                   clamping_mode=kwargs.get("clamping_mode", like.clamping_mode))
    if isinstance(like, KeyPoints):
        return KeyPoints._wrap(wrappee, canvas_size=kwargs.get("canvas_size", like.canvas_size))
    return _view_as(wrappee, type(like))


__all__ = ["BoundingBoxFormat", "BoundingBoxes", "Image", "KeyPoints", "Mask", "TVTensor",
           "Video", "is_rotated_bounding_format", "set_return_type", "wrap"]
