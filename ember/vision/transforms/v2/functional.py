"""``transforms.v2.functional``: one function per operation, dispatching on the input's type
(see NOTE [ v2 kernel dispatch ] in ``_utils.py``). PIL images and most tensor images reuse
the v1 kernels; v2's colour kernels (``_functional_color``) and warps (``_functional_warp``)
keep torchvision v2's own arithmetic on tensors; boxes, points and masks get kernels of their
own."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.backend.device import get_array_module
from ember.vision import tv_tensors
from ember.vision.transforms import _grid_warp
from ember.vision.transforms import functional as _v1
from ember.vision.transforms.functional import (
    InterpolationMode,
    get_dimensions,
    pil_to_tensor,
    to_pil_image,
)
from ember.vision.transforms.v2 import _functional_color as _color
from ember.vision.transforms.v2._utils import _dispatch, get_size, register_kernel
from ember.vision.tv_tensors import (
    BoundingBoxes,
    BoundingBoxFormat,
    Image,
    KeyPoints,
    Mask,
    Video,
)
from ember.vision.tv_tensors._tv_tensor import _view_as

_IMAGE_TYPES = (Tensor, Image, Video)  # plain tensors are images (NOTE [ v2 kernel dispatch ])


# ---------------------------------------------------------------------------------------------
# Boxes: kernels work on XYXY corners in the boxes' float dtype (float32 for integer boxes, as
# torchvision) and give back the input's format and dtype

def _to_xyxy(a, fmt: BoundingBoxFormat):
    xp = get_array_module(a)
    if fmt is BoundingBoxFormat.XYWH:
        return xp.concatenate([a[..., :2], a[..., :2] + a[..., 2:]], axis=-1)
    if fmt is BoundingBoxFormat.CXCYWH:
        return xp.concatenate([a[..., :2] - a[..., 2:] / 2, a[..., :2] + a[..., 2:] / 2], axis=-1)
    return a


def _from_xyxy(a, fmt: BoundingBoxFormat):
    xp = get_array_module(a)
    if fmt is BoundingBoxFormat.XYWH:
        return xp.concatenate([a[..., :2], a[..., 2:] - a[..., :2]], axis=-1)
    if fmt is BoundingBoxFormat.CXCYWH:
        return xp.concatenate([(a[..., :2] + a[..., 2:]) / 2, a[..., 2:] - a[..., :2]], axis=-1)
    return a


def _format(fmt) -> BoundingBoxFormat:
    return BoundingBoxFormat[fmt.upper()] if isinstance(fmt, str) else fmt


def _float_work(data):
    """Coordinates as torchvision computes on them: float dtypes kept, integers in float32."""
    return data.astype(data.dtype if _v1._is_float(data) else np.float32)


def _map_boxes(boxes: Tensor, fmt, fn) -> Tensor:
    """``fn`` applied to the boxes as XYXY corners (in ``_float_work``'s dtype), returned in
    ``fmt`` and the boxes' dtype (integer boxes truncated, as torchvision casts them)."""
    fmt = _format(fmt)
    data = boxes._data
    work = _float_work(data)
    out = _from_xyxy(fn(_to_xyxy(work, fmt)).astype(work.dtype, copy=False), fmt)
    return _make(out.astype(data.dtype))


def _stack(x1, y1, x2, y2):
    return get_array_module(x1).stack([x1, y1, x2, y2], axis=-1)


def _clamp_xyxy(a, canvas_size):
    xp = get_array_module(a)
    h, w = canvas_size
    return _stack(xp.clip(a[..., 0], 0, w), xp.clip(a[..., 1], 0, h), xp.clip(a[..., 2], 0, w),
                  xp.clip(a[..., 3], 0, h))


def convert_bounding_box_format(inpt: Tensor, old_format=None, new_format=None,
                                inplace: bool = False) -> Tensor:
    """Boxes rewritten from ``old_format`` (a BoundingBoxes' own format by default) to
    ``new_format``; ``inplace`` is accepted for torchvision's signature (a new tensor is
    returned)."""
    if new_format is None:
        raise TypeError("convert_bounding_box_format() missing required argument 'new_format'")
    if isinstance(inpt, BoundingBoxes):
        if old_format is not None:
            raise ValueError("For BoundingBoxes inputs, `old_format` must not be passed.")
        out = convert_bounding_box_format(_view_as(inpt, Tensor), inpt.format, new_format)
        return tv_tensors.wrap(out, like=inpt, format=_format(new_format))
    if old_format is None:
        raise ValueError("For pure tensor inputs, `old_format` has to be passed.")
    data = inpt._data
    xyxy = _to_xyxy(data.astype(np.float64), _format(old_format))
    return _make(_from_xyxy(xyxy, _format(new_format)).astype(data.dtype))


def _clamp(boxes: Tensor, format, canvas_size, clamping_mode) -> Tensor:
    if clamping_mode is None:
        return boxes.clone()
    return _map_boxes(boxes, format, lambda a: _clamp_xyxy(a, canvas_size))


def clamp_bounding_boxes(inpt: Tensor, format=None, canvas_size=None,
                         clamping_mode: str | None = "auto") -> Tensor:
    """Boxes clipped to their canvas ``(height, width)`` (a BoundingBoxes' own by default);
    ``clamping_mode`` "auto" takes the boxes' own mode, and None leaves them unclipped ("soft"
    and "hard" clip axis-aligned boxes alike)."""
    if clamping_mode is not None and clamping_mode not in ("soft", "hard", "auto"):
        raise ValueError(f"clamping_mode must be soft, hard, auto or None, got {clamping_mode}")
    if isinstance(inpt, BoundingBoxes):
        if format is not None or canvas_size is not None:
            raise ValueError("For bounding box tv_tensor inputs, `format` and `canvas_size` must "
                             "not be passed.")
        mode = inpt.clamping_mode if clamping_mode == "auto" else clamping_mode
        out = _clamp(_view_as(inpt, Tensor), inpt.format, inpt.canvas_size, mode)
        return tv_tensors.wrap(out, like=inpt)
    if format is None or canvas_size is None or clamping_mode == "auto":
        raise ValueError("For pure tensor inputs, `format`, `canvas_size` and `clamping_mode` "
                         "have to be passed.")
    return _clamp(inpt, format, canvas_size, clamping_mode)


# ---------------------------------------------------------------------------------------------
# Geometry of coordinates: every geometric op moves points by affine maps. Each
# ``_geometry_*`` takes the canvas and the functional's arguments and gives the 2x3 map from
# input to output pixel coordinates (or a tuple of maps applied in turn, where torchvision
# rounds between them), the new canvas, and whether boxes are clamped to it.

def _geometry_hflip(canvas_size) -> tuple:
    return np.array([[-1.0, 0, canvas_size[1]], [0, 1, 0]]), tuple(canvas_size), False


def _geometry_vflip(canvas_size) -> tuple:
    return np.array([[1.0, 0, 0], [0, -1, canvas_size[0]]]), tuple(canvas_size), False


# Key points are pixel indices under flips (x -> W - 1 - x), where box edges are pixel borders
# (x -> W - x), as torchvision's kernels map them
def _geometry_hflip_points(canvas_size) -> tuple:
    return np.array([[-1.0, 0, canvas_size[1] - 1], [0, 1, 0]]), tuple(canvas_size), False


def _geometry_vflip_points(canvas_size) -> tuple:
    return np.array([[1.0, 0, 0], [0, -1, canvas_size[0] - 1]]), tuple(canvas_size), False


def _shift(dx: float, dy: float) -> np.ndarray:
    return np.array([[1.0, 0, dx], [0, 1, dy]])


def _geometry_crop(canvas_size, top: int, left: int, height: int, width: int) -> tuple:
    return _shift(-left, -top), (int(height), int(width)), True


def _geometry_pad(canvas_size, padding, fill=None, padding_mode: str = "constant") -> tuple:
    if padding_mode != "constant":
        raise ValueError(f"Padding mode '{padding_mode}' is not supported with bounding boxes "
                         "or key points")
    left, top, right, bottom = _v1._pad4(padding)
    size = (canvas_size[0] + top + bottom, canvas_size[1] + left + right)
    return _shift(left, top), size, False


def _geometry_resize(canvas_size, size, interpolation=None, max_size=None,
                     antialias=True) -> tuple:
    h, w = canvas_size
    new = _v1._resized_hw(h, w, size, max_size)
    return np.array([[new[1] / w, 0, 0], [0, new[0] / h, 0]]), new, False


def _geometry_center_crop(canvas_size, output_size) -> tuple:
    # torchvision crops boxes and points at the rounded (possibly negative) centred anchor even
    # where the image is padded first, (tw - w) // 2 to the left, so they can be half a pixel
    # off the padded image's content
    th, tw = _v1._size_pair(output_size)
    h, w = canvas_size
    crop_top, crop_left = int(round((h - th) / 2.0)), int(round((w - tw) / 2.0))
    return _shift(-crop_left, -crop_top), (th, tw), True


def _geometry_resized_crop(canvas_size, top, left, height, width, size, interpolation=None,
                           antialias=True) -> tuple:
    shift, cropped, _ = _geometry_crop(canvas_size, top, left, height, width)
    scale, new, _ = _geometry_resize(cropped, size)
    return (shift, scale), new, True


def _forward_of(coefficients: Sequence[float]) -> np.ndarray:
    """The output-from-input 2x3 map of PIL's input-from-output ``coefficients``."""
    inverse = np.vstack([np.reshape(coefficients, (2, 3)), [0.0, 0.0, 1.0]])
    return np.linalg.inv(inverse)[:2]


def _geometry_affine(canvas_size, angle, translate, scale, shear, interpolation=None,
                     fill=None, center=None) -> tuple:
    h, w = canvas_size
    shear = [float(shear), 0.0] if isinstance(shear, (int, float)) else list(shear) + [0.0]
    center = [w * 0.5, h * 0.5] if center is None else center
    coefficients = _v1._inverse_affine(center, angle, translate, scale, shear[:2])
    return _forward_of(coefficients), tuple(canvas_size), True


def _geometry_rotate(canvas_size, angle, interpolation=None, expand=False, center=None,
                     fill=None) -> tuple:
    h, w = canvas_size
    center = [w * 0.5, h * 0.5] if center is None else center
    # a rotation is the clockwise affine map by -angle; with expand, torchvision shifts the
    # turned canvas's top-left corner to the origin of a canvas of ``_grid_warp.expanded_size``
    coefficients = _v1._inverse_affine(center, -angle, [0, 0], 1.0, [0.0, 0.0])
    forward = _forward_of(coefficients)
    if not expand:
        return forward, tuple(canvas_size), True
    corners = _move(np.array([0.0, 0, w, w], np.float32), np.array([0.0, h, h, 0], np.float32),
                    forward)
    nw, nh = _grid_warp.expanded_size(coefficients, w, h)
    return (forward, _shift(-corners[0].min(), -corners[1].min())), (nh, nw), True


def _move(x, y, forward) -> tuple:
    """``(x, y)`` moved by the 2x3 map (or the tuple of maps, in turn), computed in their
    dtype (the maps cast to it)."""
    for f in forward if isinstance(forward, tuple) else (forward,):
        f = f.astype(x.dtype)
        x, y = f[0, 0] * x + f[0, 1] * y + f[0, 2], f[1, 0] * x + f[1, 1] * y + f[1, 2]
    return x, y


def _enclose_moved_corners(boxes: Tensor, format, move, size, clamp: bool) -> Tensor:
    """Each box made the box enclosing its four corners moved by ``move(x, y) -> (x, y)``
    (float64 arrays), clamped to ``size`` if ``clamp``."""
    def enclose(a):
        nx, ny = (c.astype(a.dtype, copy=False) for c in move(a[..., [0, 2, 2, 0]],
                                                               a[..., [1, 1, 3, 3]]))
        out = _stack(nx.min(-1), ny.min(-1), nx.max(-1), ny.max(-1))
        return _clamp_xyxy(out, size) if clamp else out
    return _map_boxes(boxes, format, enclose)


def _move_points(points: Tensor, move) -> Tensor:
    """``points`` (..., 2) moved by ``move(x, y) -> (x, y)`` in ``_float_work``'s dtype, given
    back in their own dtype (integer points truncated, as torchvision casts them)."""
    data = points._data
    xp = get_array_module(data)
    a = _float_work(data)
    out = xp.stack([c.astype(a.dtype, copy=False) for c in move(a[..., 0], a[..., 1])], axis=-1)
    return _make(out.astype(data.dtype))


def _boxes_kernel(geometry):
    """The box kernel of ``geometry``: each box becomes the box enclosing its four moved
    corners, clamped to the new canvas where the image is cut (unless the boxes'
    ``clamping_mode`` is None)."""
    def kernel(boxes: Tensor, *args, format, canvas_size, clamping_mode="soft") -> tuple:
        forward, size, clamp = geometry(canvas_size, *args)
        return _enclose_moved_corners(boxes, format, lambda x, y: _move(x, y, forward), size,
                                      clamp and clamping_mode is not None), size
    return kernel


def _points_kernel(geometry):
    """The point kernel of ``geometry``: points are moved, never clamped (a point that leaves
    the canvas keeps its position)."""
    def kernel(points: Tensor, *args, canvas_size) -> tuple:
        forward, size, _ = geometry(canvas_size, *args)
        return _move_points(points, lambda x, y: _move(x, y, forward)), size
    return kernel


# ---------------------------------------------------------------------------------------------
# Masks: the image kernels, always with nearest-neighbour sampling

def _resize_mask(mask, size, interpolation=None, max_size=None, antialias=True):
    return _v1.resize(mask, size, InterpolationMode.NEAREST, max_size)


def _resized_crop_mask(mask, top, left, height, width, size, interpolation=None,
                       antialias=True):
    return _v1.resized_crop(mask, top, left, height, width, size, InterpolationMode.NEAREST)


# ---------------------------------------------------------------------------------------------
# The functionals

def horizontal_flip(inpt):
    """Flip left-right."""
    return _dispatch(horizontal_flip, inpt)


def vertical_flip(inpt):
    """Flip top-bottom."""
    return _dispatch(vertical_flip, inpt)


hflip = horizontal_flip
vflip = vertical_flip


def resize(inpt, size, interpolation=InterpolationMode.BILINEAR, max_size: int | None = None,
           antialias: bool | None = True):
    """Resize to ``size`` (h, w), or match the smaller edge to ``size`` (an int)."""
    return _dispatch(resize, inpt, size, interpolation, max_size, antialias)


def crop(inpt, top: int, left: int, height: int, width: int):
    """The region at (top, left) of (height, width)."""
    return _dispatch(crop, inpt, top, left, height, width)


def center_crop(inpt, output_size):
    """The centred region of ``output_size``, zero-padded when the input is smaller."""
    return _dispatch(center_crop, inpt, output_size)


def resized_crop(inpt, top: int, left: int, height: int, width: int, size,
                 interpolation=InterpolationMode.BILINEAR, antialias: bool | None = True):
    """``crop`` then ``resize`` to ``size``."""
    return _dispatch(resized_crop, inpt, top, left, height, width, size, interpolation,
                     antialias)


def pad(inpt, padding, fill=None, padding_mode: str = "constant"):
    """Pad the borders: ``padding`` is one int, (left/right, top/bottom) or (l, t, r, b)."""
    return _dispatch(pad, inpt, padding, 0 if fill is None else fill, padding_mode)


def rotate(inpt, angle: float, interpolation=InterpolationMode.NEAREST, expand: bool = False,
           center=None, fill=None):
    """Rotate counter-clockwise by ``angle`` degrees about ``center`` (default: the middle)."""
    return _dispatch(rotate, inpt, angle, interpolation, expand, center, fill)


def affine(inpt, angle: float, translate, scale: float, shear,
           interpolation=InterpolationMode.NEAREST, fill=None, center=None):
    """Rotate (clockwise, degrees), scale and shear about ``center``, then shift by
    ``translate`` pixels."""
    return _dispatch(affine, inpt, angle, translate, scale, shear, interpolation, fill, center)


def adjust_brightness(inpt, brightness_factor: float):
    """Multiply the intensities by ``brightness_factor``."""
    return _dispatch(adjust_brightness, inpt, brightness_factor)


def adjust_contrast(inpt, contrast_factor: float):
    """Blend with the mean grey level."""
    return _dispatch(adjust_contrast, inpt, contrast_factor)


def adjust_saturation(inpt, saturation_factor: float):
    """Blend with the greyscale image."""
    return _dispatch(adjust_saturation, inpt, saturation_factor)


def adjust_hue(inpt, hue_factor: float):
    """Shift the hue by ``hue_factor`` turns."""
    return _dispatch(adjust_hue, inpt, hue_factor)


def rgb_to_grayscale(inpt, num_output_channels: int = 1):
    """Luma of an RGB image, repeated to ``num_output_channels`` (1 or 3)."""
    return _dispatch(rgb_to_grayscale, inpt, num_output_channels)


to_grayscale = rgb_to_grayscale


def invert(inpt):
    """Invert the colours (``max - inpt``)."""
    return _dispatch(invert, inpt)


def posterize(inpt, bits: int):
    """Keep the top ``bits`` bits of each channel."""
    return _dispatch(posterize, inpt, bits)


def solarize(inpt, threshold: float):
    """Invert every pixel at or above ``threshold``."""
    return _dispatch(solarize, inpt, threshold)


def autocontrast(inpt):
    """Stretch each channel to the full range."""
    return _dispatch(autocontrast, inpt)


def equalize(inpt):
    """Equalise the histogram of each channel."""
    return _dispatch(equalize, inpt)


def _posterize_image(image: Tensor, bits: int) -> Tensor:
    """v1's for integer images; float images keep ``2 ** bits`` levels of [0, 1] (v2 only)."""
    if not image.dtype.is_floating_point:
        return _v1.posterize(image, bits)
    if not isinstance(bits, int) or not 0 <= bits <= 8:
        raise TypeError(f"bits must be a positive integer in the range [0, 8], got {bits} "
                        "instead.")
    levels = 1 << bits
    return image.mul(levels).floor().clamp(0, levels - 1).mul(1.0 / levels)


def _equalize_image(image: Tensor) -> Tensor:
    """v1's for uint8 images; others go through uint8 and back, scaled (v2 only)."""
    if image.dtype == _dt.uint8 or image.numel() == 0:
        return _v1.equalize(image)
    return _to_dtype_image(_v1.equalize(_to_dtype_image(image, _dt.uint8, scale=True)),
                           image.dtype, scale=True)


def adjust_sharpness(inpt, sharpness_factor: float):
    """Blend with a smoothed copy (0 smooths, 1 keeps, 2 sharpens)."""
    return _dispatch(adjust_sharpness, inpt, sharpness_factor)


def gaussian_blur(inpt, kernel_size, sigma=None):
    """Blur with a Gaussian kernel of ``kernel_size`` and standard deviation ``sigma``."""
    return _dispatch(gaussian_blur, inpt, kernel_size, sigma)


def permute_channels(inpt, permutation: Sequence[int]):
    """The channels reordered: output channel ``i`` is input channel ``permutation[i]``."""
    return _dispatch(permute_channels, inpt, permutation)


def _permute_channels_image(image: Tensor, permutation: Sequence[int]) -> Tensor:
    channels = image.shape[-3]
    if len(permutation) != channels:
        raise ValueError(f"Length of permutation does not match number of channels: "
                         f"{len(permutation)} != {channels}")
    return image[..., list(permutation), :, :]


def _permute_channels_pil(image, permutation: Sequence[int]):
    return to_pil_image(_permute_channels_image(pil_to_tensor(image), permutation))


def normalize(inpt, mean: Sequence[float], std: Sequence[float], inplace: bool = False):
    """``(inpt - mean) / std`` per channel of a float image."""
    return _dispatch(normalize, inpt, mean, std, inplace)


def _normalize_image(image: Tensor, mean, std, inplace: bool = False) -> Tensor:
    """v1's, except that v2 subtracts the mean out of place unless ``inplace``: a mean for more
    channels widens a one-channel image (v1 raises)."""
    channels = np.size(mean)
    if not inplace and image.ndim >= 3 and image.shape[-3] == 1 and channels > 1:
        image = image.expand(*image.shape[:-3], channels, *image.shape[-2:])
    return _v1.normalize(image, mean, std, inplace)


def _to_dtype_image(image: Tensor, dtype=_dt.float32, scale: bool = False) -> Tensor:
    if not scale or image.dtype == dtype:
        return image.to(dtype)
    if dtype.is_floating_point and not image.dtype.is_floating_point:
        # v2 multiplies by 1 / max where v1 divides by max (they differ in the last bit)
        return image.to(dtype).mul_(1.0 / _v1._max_value(image._data.dtype))
    return _v1.convert_image_dtype(image, dtype)


def _to_dtype_plain(inpt: Tensor, dtype=_dt.float32, scale: bool = False) -> Tensor:
    return inpt.to(dtype)


def _to_dtype_meta(inpt: Tensor, dtype=_dt.float32, scale: bool = False, *, canvas_size,
                   **meta) -> tuple:
    """Boxes and points are only cast."""
    return inpt.to(dtype), canvas_size


def to_dtype(inpt, dtype=_dt.float32, scale: bool = False):
    """Cast to ``dtype``; with ``scale``, images and videos are rescaled between integer ranges
    and [0, 1] floats (masks and boxes are only cast)."""
    return _dispatch(to_dtype, inpt, dtype, scale)


def to_image(inpt) -> Image:
    """A PIL image, an HWC ndarray or a tensor as an ``Image``."""
    if isinstance(inpt, np.ndarray):
        arr = inpt[:, :, None] if inpt.ndim == 2 else inpt
        return Image(_make(np.ascontiguousarray(arr.transpose(2, 0, 1))))
    if isinstance(inpt, Tensor):
        return Image(_view_as(inpt, Tensor) if isinstance(inpt, tv_tensors.TVTensor) else inpt)
    return Image(pil_to_tensor(inpt))


def to_pure_tensor(inpt: Tensor) -> Tensor:
    """A TVTensor's data as a plain Tensor."""
    return _view_as(inpt, Tensor)


register_kernel(permute_channels, "pil")(_permute_channels_pil)
register_kernel(posterize, "pil")(_v1.posterize)
register_kernel(equalize, "pil")(_v1.equalize)
for _image_type in _IMAGE_TYPES:
    register_kernel(permute_channels, _image_type)(_permute_channels_image)
    register_kernel(normalize, _image_type)(_normalize_image)
    register_kernel(to_dtype, _image_type)(_to_dtype_image)
    register_kernel(posterize, _image_type)(_posterize_image)
    register_kernel(equalize, _image_type)(_equalize_image)
for _functional, _v1_function in [
        (horizontal_flip, _v1.hflip), (vertical_flip, _v1.vflip), (resize, _v1.resize),
        (crop, _v1.crop), (center_crop, _v1.center_crop), (resized_crop, _v1.resized_crop),
        (pad, _v1.pad),
        (adjust_brightness, _color.adjust_brightness_image),
        (adjust_contrast, _color.adjust_contrast_image),
        (adjust_saturation, _color.adjust_saturation_image),
        (adjust_hue, _color.adjust_hue_image),
        (rgb_to_grayscale, _color.rgb_to_grayscale_image), (invert, _v1.invert),
        (solarize, _v1.solarize), (autocontrast, _color.autocontrast_image),
        (adjust_sharpness, _color.adjust_sharpness_image),
        (gaussian_blur, _v1.gaussian_blur)]:
    for _image_type in (*_IMAGE_TYPES, "pil"):
        register_kernel(_functional, _image_type)(_v1_function)
for _functional, _kernel in [
        (horizontal_flip, _v1.hflip), (vertical_flip, _v1.vflip), (resize, _resize_mask),
        (crop, _v1.crop), (center_crop, _v1.center_crop), (resized_crop, _resized_crop_mask),
        (pad, _v1.pad),
        (to_dtype, _to_dtype_plain)]:
    register_kernel(_functional, Mask)(_kernel)
_GEOMETRIES = {horizontal_flip: _geometry_hflip, vertical_flip: _geometry_vflip,
               resize: _geometry_resize, crop: _geometry_crop, center_crop: _geometry_center_crop,
               resized_crop: _geometry_resized_crop, pad: _geometry_pad, rotate: _geometry_rotate,
               affine: _geometry_affine}
_POINT_GEOMETRIES = {**_GEOMETRIES, horizontal_flip: _geometry_hflip_points,
                     vertical_flip: _geometry_vflip_points}
for _functional, _geometry in _GEOMETRIES.items():
    register_kernel(_functional, BoundingBoxes)(_boxes_kernel(_geometry))
    register_kernel(_functional, KeyPoints)(_points_kernel(_POINT_GEOMETRIES[_functional]))
register_kernel(to_dtype, BoundingBoxes)(_to_dtype_meta)
register_kernel(to_dtype, KeyPoints)(_to_dtype_meta)

__all__ = ["InterpolationMode", "adjust_brightness", "adjust_contrast", "adjust_hue",
           "adjust_saturation", "adjust_sharpness", "affine", "autocontrast", "center_crop",
           "clamp_bounding_boxes", "convert_bounding_box_format", "crop", "equalize",
           "gaussian_blur", "get_dimensions", "get_size", "hflip", "horizontal_flip", "invert",
           "normalize", "pad", "permute_channels", "pil_to_tensor", "posterize",
           "register_kernel", "resize", "resized_crop", "rgb_to_grayscale", "rotate", "solarize",
           "to_dtype", "to_grayscale", "to_image", "to_pil_image", "to_pure_tensor",
           "vertical_flip", "vflip"]

# torchvision's further functionals and its per-type kernels (these modules build on the
# helpers above, so they are imported last)
from ember.vision.transforms.v2 import _functional_misc, _functional_per_type, _functional_warp  # noqa: E402,I001
from ember.vision.transforms.v2._functional_misc import *  # noqa: E402,F401,F403
from ember.vision.transforms.v2._functional_per_type import *  # noqa: E402,F401,F403
from ember.vision.transforms.v2._functional_warp import *  # noqa: E402,F401,F403
from ember.vision.transforms.v2._utils import is_pure_tensor  # noqa: E402

__all__ += ["is_pure_tensor", *_functional_misc.__all__, *_functional_per_type.__all__,
            *_functional_warp.__all__]
