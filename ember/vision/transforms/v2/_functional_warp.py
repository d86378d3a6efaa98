"""The warps of ``transforms.v2.functional``: the image and mask kernels of ``rotate`` and
``affine`` (tensors sampled as torchvision's v2 ``grid_sample`` path, PIL images by PIL), and
``perspective`` and ``elastic`` on images, masks (nearest sampling), boxes (the box enclosing
the moved corners) and key points."""
from __future__ import annotations

import numpy as np

from ember._tensor import Tensor, _make
from ember.backend.device import get_array_module
from ember.vision.transforms import _grid_warp
from ember.vision.transforms import functional as _v1
from ember.vision.transforms.functional import InterpolationMode
from ember.vision.transforms.v2._utils import _dispatch, register_kernel
from ember.vision.transforms.v2.functional import (
    _IMAGE_TYPES,
    _enclose_moved_corners,
    _move_points,
    affine,
    rotate,
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


def _check_fill(image: Tensor, fill) -> None:
    if isinstance(fill, (list, tuple)) and len(fill) > 1 and image.ndim > 2 \
            and len(fill) != image.shape[-3]:
        raise ValueError("The number of elements in 'fill' cannot broadcast to match the number "
                         f"of channels of the image ({len(fill)} != {image.shape[-3]})")


def affine_image(image, angle: float, translate, scale: float, shear,
                 interpolation=InterpolationMode.NEAREST, fill=None, center=None):
    """``affine`` of a tensor image (v2's fill blending) or a PIL image (v1's, by PIL)."""
    if not isinstance(image, Tensor):
        return _v1.affine(image, angle, translate, scale, shear, interpolation, fill, center)
    if scale <= 0:
        raise ValueError("Argument scale should be positive")
    _check_fill(image, fill)
    shear = [float(shear), 0.0] if isinstance(shear, (int, float)) else list(shear) + [0.0]
    h, w = image.shape[-2:]
    matrix = _v1._inverse_affine(_grid_warp.centred(center, w, h), angle,
                                 [float(t) for t in translate], scale, shear[:2])
    return _grid_warp.warp_affine(image, matrix, _v1._interpolation_mode(interpolation), fill,
                                  v2=True)


def rotate_image(image, angle: float, interpolation=InterpolationMode.NEAREST,
                 expand: bool = False, center=None, fill=None):
    """``rotate`` of a tensor image (v2's: quarter turns about the middle are exact ``rot90``s
    where the canvas allows, fill blended as v2 does) or a PIL image (by PIL)."""
    if not isinstance(image, Tensor):
        return _v1.rotate(image, angle, interpolation, expand, center, fill)
    angle = angle % 360
    square = image.shape[-1] == image.shape[-2]
    if center is None and (angle in (0, 180) or (angle in (90, 270) and (expand or square))):
        xp = get_array_module(image._data)
        return _make(xp.ascontiguousarray(xp.rot90(image._data, int(angle) // 90,
                                                   axes=(-2, -1))))
    _check_fill(image, fill)
    h, w = image.shape[-2:]
    matrix = _v1._inverse_affine(_grid_warp.centred(center, w, h), -angle, [0.0, 0.0], 1.0,
                                 [0.0, 0.0])
    return _grid_warp.warp_affine(image, matrix, _v1._interpolation_mode(interpolation), fill,
                                  v2=True, expand=expand)


def _as_image(mask_kernel):
    """A mask kernel on the image kernel, nearest, with a 2-D mask given a channel and back."""
    def kernel(mask: Tensor, *args, **kwargs) -> Tensor:
        flat = mask.ndim < 3
        out = mask_kernel(mask.unsqueeze(0) if flat else mask, *args, **kwargs)
        return out.squeeze(0) if flat else out
    return kernel


@_as_image
def _rotate_mask(mask: Tensor, angle: float, interpolation=None, expand: bool = False,
                center=None, fill=None) -> Tensor:
    return rotate_image(mask, angle, InterpolationMode.NEAREST, expand, center, fill)


@_as_image
def _affine_mask(mask: Tensor, angle: float, translate, scale: float, shear, interpolation=None,
                fill=None, center=None) -> Tensor:
    return affine_image(mask, angle, translate, scale, shear, InterpolationMode.NEAREST, fill,
                        center)


def perspective_image(image, startpoints, endpoints, interpolation=InterpolationMode.BILINEAR,
                      fill=None, coefficients=None):
    """``perspective`` of a tensor image (v2's ``grid_sample`` path) or a PIL image (by PIL)."""
    coefficients = _perspective_coefficients(startpoints, endpoints, coefficients)
    if isinstance(image, Tensor):
        _check_fill(image, fill)
        return _grid_warp.warp_perspective(image, coefficients,
                                           _v1._interpolation_mode(interpolation), fill, v2=True)
    from PIL import Image
    resample = _v1._pil_filter(_v1._interpolation_mode(interpolation))
    return image.transform(image.size, Image.PERSPECTIVE, coefficients, resample,
                           fillcolor=_v1._pil_fill(fill, image))


@_as_image
def perspective_mask(mask: Tensor, startpoints, endpoints, interpolation=None, fill=None,
                     coefficients=None) -> Tensor:
    return perspective_image(mask, startpoints, endpoints, InterpolationMode.NEAREST, fill,
                             coefficients)


def _perspective_forward(coefficients):
    """The input-to-output map of output-to-input ``coefficients`` (a, b, c, d, e, f, g, h):
    the inverse homography scaled so its constant term is 1, as torchvision builds it (from
    the cofactors over ``a e - b d``), applied in the coordinates' dtype."""
    a, b, c, d, e, f, g, h = (float(k) for k in coefficients)
    denom = a * e - b * d
    if denom == 0:
        raise RuntimeError(f"Provided perspective_coeffs {list(coefficients)} can not be "
                           f"inverted to transform keypoints. Denominator is zero, denom={denom}")
    inverse = np.array([[e - f * h, -b + c * h, b * f - c * e],
                        [-d + f * g, a - c * g, -a * f + c * d],
                        [-e * g + d * h, -a * h + b * g, denom]]) / denom

    def move(x, y):
        m = inverse.astype(x.dtype)
        num_x, num_y, den = (x * m[i, 0] + y * m[i, 1] + m[i, 2] for i in range(3))
        return num_x / den, num_y / den
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


def elastic_image(image, displacement: Tensor, interpolation=InterpolationMode.BILINEAR,
                  fill=None):
    """``elastic`` of a tensor image (v2's fill blending) or a PIL image (as its tensor)."""
    if not isinstance(image, Tensor):
        return _v1.elastic_transform(image, displacement, interpolation, fill)
    if not isinstance(displacement, Tensor):
        raise TypeError("Argument displacement should be a Tensor")
    _check_fill(image, fill)
    return _grid_warp.warp_elastic(image, displacement, _v1._interpolation_mode(interpolation),
                                   fill, v2=True)


@_as_image
def elastic_mask(mask: Tensor, displacement: Tensor, interpolation=None, fill=None) -> Tensor:
    return elastic_image(mask, displacement, InterpolationMode.NEAREST, fill)


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
    register_kernel(rotate, _image_type)(rotate_image)
    register_kernel(affine, _image_type)(affine_image)
    register_kernel(elastic, _image_type)(elastic_image)
register_kernel(perspective, Mask)(perspective_mask)
register_kernel(rotate, Mask)(_rotate_mask)
register_kernel(affine, Mask)(_affine_mask)
register_kernel(perspective, BoundingBoxes)(_perspective_boxes)
register_kernel(perspective, KeyPoints)(_perspective_points)
register_kernel(elastic, Mask)(elastic_mask)
register_kernel(elastic, BoundingBoxes)(_elastic_boxes)
register_kernel(elastic, KeyPoints)(_elastic_points)

perspective_video = perspective_image
rotate_video = rotate_image
affine_video = affine_image
elastic_video = elastic_image

__all__ = ["affine_image", "affine_video", "elastic", "elastic_bounding_boxes", "elastic_image",
           "elastic_keypoints", "elastic_mask", "elastic_transform", "elastic_video",
           "perspective", "perspective_bounding_boxes", "perspective_image",
           "perspective_keypoints", "perspective_mask", "perspective_video", "rotate_image",
           "rotate_video"]
