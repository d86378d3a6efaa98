"""The non-affine warps of ``transforms.v2.functional``: ``perspective`` and ``elastic``, on
images (v1's kernels), masks (nearest sampling), boxes (the box enclosing the moved corners)
and key points."""
from __future__ import annotations

import numpy as np

from ember._tensor import Tensor
from ember.vision.transforms import functional as _v1
from ember.vision.transforms.functional import InterpolationMode
from ember.vision.transforms.v2._utils import _dispatch, register_kernel
from ember.vision.transforms.v2.functional import (
    _IMAGE_TYPES,
    _enclose_moved_corners,
    _move_points,
)
from ember.vision.tv_tensors import BoundingBoxes, KeyPoints, Mask


def _perspective_coefficients(startpoints, endpoints, coefficients) -> list:
    """PIL's eight output-to-input coefficients, given directly or by the four point pairs."""
    if coefficients is not None:
        if startpoints is not None and endpoints is not None:
            raise ValueError("The startpoints/endpoints and the coefficients shouldn't be defined "
                             "concurrently.")
        if len(coefficients) != 8:
            raise ValueError("Argument coefficients should have 8 float values")
        return list(coefficients)
    if startpoints is None or endpoints is None:
        raise ValueError("Either the startpoints/endpoints or the coefficients must have non "
                         "`None` values.")
    return _v1._perspective_coeffs(startpoints, endpoints)


def perspective(inpt, startpoints, endpoints, interpolation=InterpolationMode.BILINEAR,
                fill=None, coefficients=None):
    """Warp so that ``startpoints`` land on ``endpoints`` (or by PIL's eight output-to-input
    ``coefficients``); boxes become the boxes enclosing their moved corners."""
    return _dispatch(perspective, inpt, startpoints, endpoints, interpolation, fill, coefficients)


def perspective_image(image, startpoints, endpoints, interpolation=InterpolationMode.BILINEAR,
                      fill=None, coefficients=None):
    """``perspective`` of a tensor or PIL image (sampled by PIL, as v1's)."""
    coefficients = _perspective_coefficients(startpoints, endpoints, coefficients)
    from PIL import Image
    resample = _v1._pil_filter(_v1._interpolation_mode(interpolation))

    def transform(p, f):
        return p.transform(p.size, Image.PERSPECTIVE, coefficients, resample, fillcolor=f)
    if isinstance(image, Tensor):
        return _v1._via_pil(image, transform, fill)
    return transform(image, _v1._pil_fill(fill, image))


def perspective_mask(mask: Tensor, startpoints, endpoints, interpolation=None, fill=None,
                     coefficients=None) -> Tensor:
    return perspective_image(mask, startpoints, endpoints, InterpolationMode.NEAREST, fill,
                             coefficients)


def _perspective_forward(coefficients):
    """The input-to-output map of output-to-input ``coefficients``: the inverse homography."""
    inverse = np.linalg.inv(np.append(np.asarray(coefficients, np.float64), 1.0).reshape(3, 3))

    def move(x, y):
        den = inverse[2, 0] * x + inverse[2, 1] * y + inverse[2, 2]
        return ((inverse[0, 0] * x + inverse[0, 1] * y + inverse[0, 2]) / den,
                (inverse[1, 0] * x + inverse[1, 1] * y + inverse[1, 2]) / den)
    return move


def perspective_bounding_boxes(bounding_boxes: Tensor, format, canvas_size, startpoints,
                               endpoints, coefficients=None, clamping_mode="soft") -> Tensor:
    """Each box made the box enclosing its corners moved by the warp, clamped to the canvas."""
    move = _perspective_forward(_perspective_coefficients(startpoints, endpoints, coefficients))
    return _enclose_moved_corners(bounding_boxes, format, move, canvas_size,
                                  clamping_mode is not None)


def perspective_keypoints(keypoints: Tensor, canvas_size, startpoints, endpoints,
                          coefficients=None) -> Tensor:
    """Points moved by the warp (not clamped)."""
    move = _perspective_forward(_perspective_coefficients(startpoints, endpoints, coefficients))
    return _move_points(keypoints, move)


def _perspective_boxes(boxes, startpoints, endpoints, interpolation=None, fill=None,
                       coefficients=None, *, format, canvas_size, clamping_mode="soft") -> tuple:
    return perspective_bounding_boxes(boxes, format, canvas_size, startpoints, endpoints,
                                      coefficients, clamping_mode), canvas_size


def _perspective_points(points, startpoints, endpoints, interpolation=None, fill=None,
                        coefficients=None, *, canvas_size) -> tuple:
    return perspective_keypoints(points, canvas_size, startpoints, endpoints,
                                 coefficients), canvas_size


def elastic(inpt, displacement: Tensor, interpolation=InterpolationMode.BILINEAR, fill=None):
    """Move every pixel by ``displacement`` ((1, H, W, 2), x then y, in grid_sample's units);
    boxes and points move by the displacement at their pixel."""
    return _dispatch(elastic, inpt, displacement, interpolation, fill)


elastic_transform = elastic
elastic_image = _v1.elastic_transform


def elastic_mask(mask: Tensor, displacement: Tensor, interpolation=None, fill=None) -> Tensor:
    return _v1.elastic_transform(mask, displacement, InterpolationMode.NEAREST, fill)


def _elastic_forward(displacement: Tensor, canvas_size, round_up: bool):
    """The map of pixel (x, y) (cut to whole pixels: up for box corners, down for points, then
    clamped to the canvas) to itself less its displacement in pixels: ``grid_sample`` reads
    output pixel x at x + d * width / 2, so content there came from x - d * width / 2."""
    h, w = canvas_size
    if not isinstance(displacement, Tensor):
        raise TypeError("Argument displacement should be a Tensor")
    if tuple(displacement.shape) != (1, h, w, 2):
        raise ValueError(f"Argument displacement shape should be {(1, h, w, 2)}, but given "
                         f"{tuple(displacement.shape)}")
    shift = displacement.cpu()._data[0].astype(np.float64)

    def move(x, y):
        cut = np.ceil if round_up else np.trunc
        ix = np.clip(cut(x), 0, w - 1).astype(np.intp)
        iy = np.clip(cut(y), 0, h - 1).astype(np.intp)
        return ix - shift[iy, ix, 0] * (w / 2), iy - shift[iy, ix, 1] * (h / 2)
    return move


def elastic_bounding_boxes(bounding_boxes: Tensor, format, canvas_size, displacement: Tensor,
                           clamping_mode="soft") -> Tensor:
    """Each box made the box enclosing its corners moved by the displacement at the pixels
    they fall in, clamped to the canvas."""
    move = _elastic_forward(displacement, canvas_size, round_up=True)
    return _enclose_moved_corners(bounding_boxes, format, move, canvas_size,
                                  clamping_mode is not None)


def elastic_keypoints(keypoints: Tensor, canvas_size, displacement: Tensor) -> Tensor:
    """Points moved by the displacement at their pixel."""
    return _move_points(keypoints, _elastic_forward(displacement, canvas_size, round_up=False))


def _elastic_boxes(boxes, displacement, interpolation=None, fill=None, *, format, canvas_size,
                   clamping_mode="soft") -> tuple:
    return elastic_bounding_boxes(boxes, format, canvas_size, displacement,
                                  clamping_mode), canvas_size


def _elastic_points(points, displacement, interpolation=None, fill=None, *,
                    canvas_size) -> tuple:
    return elastic_keypoints(points, canvas_size, displacement), canvas_size


for _image_type in (*_IMAGE_TYPES, "pil"):
    register_kernel(perspective, _image_type)(perspective_image)
    register_kernel(elastic, _image_type)(elastic_image)
register_kernel(perspective, Mask)(perspective_mask)
register_kernel(perspective, BoundingBoxes)(_perspective_boxes)
register_kernel(perspective, KeyPoints)(_perspective_points)
register_kernel(elastic, Mask)(elastic_mask)
register_kernel(elastic, BoundingBoxes)(_elastic_boxes)
register_kernel(elastic, KeyPoints)(_elastic_points)

perspective_video = perspective_image
elastic_video = elastic_image

__all__ = ["elastic", "elastic_bounding_boxes", "elastic_image", "elastic_keypoints",
           "elastic_mask", "elastic_transform", "elastic_video", "perspective",
           "perspective_bounding_boxes", "perspective_image", "perspective_keypoints",
           "perspective_mask", "perspective_video"]
