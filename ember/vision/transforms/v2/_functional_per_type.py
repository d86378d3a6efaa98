"""torchvision's per-type kernels of ``transforms.v2.functional`` (``resize_image``,
``crop_bounding_boxes``, ``rotate_keypoints``, ...), with torchvision's signatures: the kernels
the functionals dispatch to, callable on plain tensors. Box and point kernels that change the
canvas return ``(output, canvas_size)``, as torchvision's do."""
from __future__ import annotations

from ember.vision.transforms import functional as _v1
from ember.vision.transforms.functional import InterpolationMode
from ember.vision.transforms.v2 import _functional_color as _color
from ember.vision.transforms.v2 import _functional_warp as _warp
from ember.vision.transforms.v2.functional import (
    _GEOMETRIES,
    _POINT_GEOMETRIES,
    _boxes_kernel,
    _equalize_image,
    _normalize_image,
    _permute_channels_image,
    _points_kernel,
    _posterize_image,
    _to_dtype_image,
    affine,
    center_crop,
    crop,
    horizontal_flip,
    pad,
    resize,
    resized_crop,
    rotate,
    vertical_flip,
)
from ember.vision.tv_tensors import BoundingBoxFormat


def _boxes(functional, boxes, format, canvas_size, clamping_mode, *args) -> tuple:
    return _boxes_kernel(_GEOMETRIES[functional])(boxes, *args, format=format,
                                                  canvas_size=canvas_size,
                                                  clamping_mode=clamping_mode)


def _points(functional, points, canvas_size, *args) -> tuple:
    return _points_kernel(_POINT_GEOMETRIES[functional])(points, *args, canvas_size=canvas_size)


# Images and videos: v1's kernels
horizontal_flip_image = horizontal_flip_video = _v1.hflip
vertical_flip_image = vertical_flip_video = _v1.vflip
resize_image = resize_video = _v1.resize
crop_image = crop_video = _v1.crop
center_crop_image = center_crop_video = _v1.center_crop
resized_crop_image = resized_crop_video = _v1.resized_crop
pad_image = pad_video = _v1.pad
rotate_image = rotate_video = _warp.rotate_image
affine_image = affine_video = _warp.affine_image
adjust_brightness_image = adjust_brightness_video = _color.adjust_brightness_image
adjust_contrast_image = adjust_contrast_video = _color.adjust_contrast_image
adjust_saturation_image = adjust_saturation_video = _color.adjust_saturation_image
adjust_hue_image = adjust_hue_video = _color.adjust_hue_image
adjust_sharpness_image = adjust_sharpness_video = _color.adjust_sharpness_image
rgb_to_grayscale_image = _color.rgb_to_grayscale_image
invert_image = invert_video = _v1.invert
posterize_image = posterize_video = _posterize_image
solarize_image = solarize_video = _v1.solarize
autocontrast_image = autocontrast_video = _color.autocontrast_image
equalize_image = equalize_video = _equalize_image
gaussian_blur_image = gaussian_blur_video = _v1.gaussian_blur
permute_channels_image = permute_channels_video = _permute_channels_image
normalize_image = normalize_video = _normalize_image
to_dtype_image = to_dtype_video = _to_dtype_image


# Masks: the image kernels with nearest sampling
horizontal_flip_mask = _v1.hflip
vertical_flip_mask = _v1.vflip
crop_mask = _v1.crop
center_crop_mask = _v1.center_crop


def resize_mask(mask, size, max_size=None):
    return _v1.resize(mask, size, InterpolationMode.NEAREST, max_size)


def resized_crop_mask(mask, top: int, left: int, height: int, width: int, size):
    return _v1.resized_crop(mask, top, left, height, width, size, InterpolationMode.NEAREST)


def pad_mask(mask, padding, fill=None, padding_mode: str = "constant"):
    return _v1.pad(mask, padding, 0 if fill is None else fill, padding_mode)


def rotate_mask(mask, angle: float, expand: bool = False, center=None, fill=None):
    return _warp._rotate_mask(mask, angle, None, expand, center, fill)


def affine_mask(mask, angle: float, translate, scale: float, shear, fill=None, center=None):
    return _warp._affine_mask(mask, angle, translate, scale, shear, None, fill, center)


# Boxes
def horizontal_flip_bounding_boxes(bounding_boxes, format, canvas_size):
    return _boxes(horizontal_flip, bounding_boxes, format, canvas_size, "soft")[0]


def vertical_flip_bounding_boxes(bounding_boxes, format, canvas_size):
    return _boxes(vertical_flip, bounding_boxes, format, canvas_size, "soft")[0]


def resize_bounding_boxes(bounding_boxes, canvas_size, size, max_size=None,
                          format=BoundingBoxFormat.XYXY, clamping_mode="soft") -> tuple:
    return _boxes(resize, bounding_boxes, format, canvas_size, clamping_mode, size, None,
                  max_size)


def crop_bounding_boxes(bounding_boxes, format, top: int, left: int, height: int, width: int,
                        clamping_mode="soft") -> tuple:
    # the crop's own canvas is all the clamp needs
    return _boxes(crop, bounding_boxes, format, (height, width), clamping_mode, top, left,
                  height, width)


def center_crop_bounding_boxes(bounding_boxes, format, canvas_size, output_size,
                               clamping_mode="soft") -> tuple:
    return _boxes(center_crop, bounding_boxes, format, canvas_size, clamping_mode, output_size)


def resized_crop_bounding_boxes(bounding_boxes, format, top: int, left: int, height: int,
                                width: int, size, clamping_mode="soft") -> tuple:
    return _boxes(resized_crop, bounding_boxes, format, (height, width), clamping_mode, top,
                  left, height, width, size)


def pad_bounding_boxes(bounding_boxes, format, canvas_size, padding, padding_mode="constant",
                       clamping_mode="soft") -> tuple:
    return _boxes(pad, bounding_boxes, format, canvas_size, clamping_mode, padding, None,
                  padding_mode)


def rotate_bounding_boxes(bounding_boxes, format, canvas_size, angle: float,
                          expand: bool = False, center=None, clamping_mode="soft") -> tuple:
    return _boxes(rotate, bounding_boxes, format, canvas_size, clamping_mode, angle, None,
                  expand, center)


def affine_bounding_boxes(bounding_boxes, format, canvas_size, angle, translate, scale, shear,
                          center=None, clamping_mode="soft"):
    return _boxes(affine, bounding_boxes, format, canvas_size, clamping_mode, angle, translate,
                  scale, shear, None, None, center)[0]


# Key points
def horizontal_flip_keypoints(keypoints, canvas_size):
    return _points(horizontal_flip, keypoints, canvas_size)[0]


def vertical_flip_keypoints(keypoints, canvas_size):
    return _points(vertical_flip, keypoints, canvas_size)[0]


def resize_keypoints(keypoints, size, canvas_size, max_size=None) -> tuple:
    return _points(resize, keypoints, canvas_size, size, None, max_size)


def crop_keypoints(keypoints, top: int, left: int, height: int, width: int) -> tuple:
    return _points(crop, keypoints, (height, width), top, left, height, width)


def center_crop_keypoints(inpt, canvas_size, output_size) -> tuple:
    return _points(center_crop, inpt, canvas_size, output_size)


def resized_crop_keypoints(keypoints, top: int, left: int, height: int, width: int,
                           size) -> tuple:
    return _points(resized_crop, keypoints, (height, width), top, left, height, width, size)


def pad_keypoints(keypoints, canvas_size, padding, padding_mode="constant") -> tuple:
    return _points(pad, keypoints, canvas_size, padding, None, padding_mode)


def rotate_keypoints(keypoints, canvas_size, angle: float, expand: bool = False,
                     center=None) -> tuple:
    return _points(rotate, keypoints, canvas_size, angle, None, expand, center)


def affine_keypoints(keypoints, canvas_size, angle, translate, scale, shear,
                     center=None) -> tuple:
    return _points(affine, keypoints, canvas_size, angle, translate, scale, shear, None, None,
                   center)

__all__ = ["adjust_brightness_image", "adjust_brightness_video", "adjust_contrast_image",
           "adjust_contrast_video", "adjust_hue_image", "adjust_hue_video",
           "adjust_saturation_image", "adjust_saturation_video", "adjust_sharpness_image",
           "adjust_sharpness_video", "affine_bounding_boxes", "affine_image", "affine_keypoints",
           "affine_mask", "affine_video", "autocontrast_image", "autocontrast_video",
           "center_crop_bounding_boxes", "center_crop_image", "center_crop_keypoints",
           "center_crop_mask", "center_crop_video", "crop_bounding_boxes", "crop_image",
           "crop_keypoints", "crop_mask", "crop_video", "equalize_image", "equalize_video",
           "gaussian_blur_image", "gaussian_blur_video", "horizontal_flip_bounding_boxes",
           "horizontal_flip_image", "horizontal_flip_keypoints", "horizontal_flip_mask",
           "horizontal_flip_video", "invert_image", "invert_video", "normalize_image",
           "normalize_video", "pad_bounding_boxes", "pad_image", "pad_keypoints", "pad_mask",
           "pad_video", "permute_channels_image", "permute_channels_video", "posterize_image",
           "posterize_video", "resize_bounding_boxes", "resize_image", "resize_keypoints",
           "resize_mask", "resize_video", "resized_crop_bounding_boxes", "resized_crop_image",
           "resized_crop_keypoints", "resized_crop_mask", "resized_crop_video",
           "rgb_to_grayscale_image", "rotate_bounding_boxes", "rotate_image", "rotate_keypoints",
           "rotate_mask", "rotate_video", "solarize_image", "solarize_video", "to_dtype_image",
           "to_dtype_video", "vertical_flip_bounding_boxes", "vertical_flip_image",
           "vertical_flip_keypoints", "vertical_flip_mask", "vertical_flip_video"]
