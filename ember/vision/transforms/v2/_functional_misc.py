"""The rest of ``transforms.v2.functional``: erasing, multi-crops, JPEG and noise, temporal
subsampling, key point and box maintenance, and the size and channel queries."""
from __future__ import annotations

import io

import numpy as np

import ember
from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.backend.device import get_array_module
from ember.vision import tv_tensors
from ember.vision.transforms import functional as _v1
from ember.vision.transforms.functional import get_dimensions, pil_to_tensor, to_pil_image
from ember.vision.transforms.v2._utils import (
    _KERNELS,
    _dispatch,
    get_size,
    is_pure_tensor,
    register_kernel,
)
from ember.vision.transforms.v2.functional import (
    _IMAGE_TYPES,
    _format,
    _to_xyxy,
    to_dtype,
)
from ember.vision.tv_tensors import BoundingBoxes, Image, KeyPoints, Mask, Video
from ember.vision.tv_tensors._tv_tensor import _view_as


def erase(inpt, i: int, j: int, h: int, w: int, v: Tensor, inplace: bool = False):
    """Set the region at (i, j) of (h, w) to ``v``."""
    return _dispatch(erase, inpt, i, j, h, w, v, inplace)


erase_image = _v1.erase
erase_video = _v1.erase


def _erase_pil(image, i: int, j: int, h: int, w: int, v: Tensor, inplace: bool = False):
    return to_pil_image(_v1.erase(pil_to_tensor(image), i, j, h, w, v), mode=image.mode)


def five_crop(inpt, size) -> tuple:
    """The four corner crops and the centre crop of ``size``: (tl, tr, bl, br, center)."""
    return _dispatch(five_crop, inpt, size)


def ten_crop(inpt, size, vertical_flip: bool = False) -> tuple:
    """``five_crop`` of the input and of its flip (horizontal, or vertical if asked)."""
    return _dispatch(ten_crop, inpt, size, vertical_flip)


five_crop_image = five_crop_video = _v1.five_crop
ten_crop_image = ten_crop_video = _v1.ten_crop


def _like(out: tuple, inpt) -> tuple:
    """Each of several outputs wrapped as the TVTensor ``inpt`` is."""
    return tuple(tv_tensors.wrap(o, like=inpt) for o in out)


def _five_crop_tv(inpt, size):
    return _like(_v1.five_crop(_view_as(inpt, Tensor), size), inpt)


def _ten_crop_tv(inpt, size, vertical_flip: bool = False):
    return _like(_v1.ten_crop(_view_as(inpt, Tensor), size, vertical_flip), inpt)


def jpeg(inpt, quality: int):
    """The input encoded as JPEG at ``quality`` (1 to 100) and decoded again (by Pillow)."""
    return _dispatch(jpeg, inpt, quality)


def _jpeg_pil(image, quality: int):
    from PIL import Image as PILImage
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    decoded = PILImage.open(buffer)
    decoded.load()
    return decoded


def jpeg_image(image: Tensor, quality: int) -> Tensor:
    """Each uint8 (C, H, W) image of the batch through a JPEG round trip."""
    if image.dtype != _dt.uint8:
        raise TypeError(f"Input image should be uint8 dtype, got {image.dtype}")
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be an integer from 1 to 100, got {quality}")
    flat = image.reshape(-1, *image.shape[-3:])
    if flat.shape[0] == 0:
        return image.clone()
    out = [pil_to_tensor(_jpeg_pil(to_pil_image(flat[k]), quality)) for k in range(flat.shape[0])]
    return ember.stack(out).reshape(image.shape)


jpeg_video = jpeg_image


def gaussian_noise(inpt, mean: float = 0.0, sigma: float = 0.1, clip: bool = True):
    """Add Gaussian noise of ``mean`` and ``sigma`` (in [0, 1] units; x255 for uint8), clipped
    to the valid range if ``clip``."""
    return _dispatch(gaussian_noise, inpt, mean, sigma, clip)


def gaussian_noise_image(image: Tensor, mean: float = 0.0, sigma: float = 0.1,
                         clip: bool = True) -> Tensor:
    if sigma < 0:
        raise ValueError(f"sigma shouldn't be negative. Got {sigma}")
    if image.dtype.is_floating_point:
        out = image + (mean + ember.randn_like(image) * sigma)
        return out.clamp(0, 1) if clip else out
    if image.dtype != _dt.uint8:
        raise ValueError(f"Input tensor is expected to be in uint8 or float dtype, got "
                         f"dtype={image.dtype}")
    # float32 noise cut to int16 and added in int16, as torchvision does
    noise = (mean * 255 + ember.randn_like(image, dtype=_dt.float32) * (sigma * 255))
    out = image.to(_dt.int16) + noise.to(_dt.int16)
    return (out.clamp(0, 255) if clip else out).to(_dt.uint8)


gaussian_noise_video = gaussian_noise_image


def uniform_temporal_subsample(inpt, num_samples: int):
    """``num_samples`` frames evenly spaced over the time axis (-4) of a video."""
    return _dispatch(uniform_temporal_subsample, inpt, num_samples)


def uniform_temporal_subsample_video(video: Tensor, num_samples: int) -> Tensor:
    indices = ember.linspace(0, video.shape[-4] - 1, num_samples).long()
    return ember.index_select(video, video.ndim - 4, indices.to(video.device))


def clamp_keypoints(inpt: Tensor, canvas_size=None) -> Tensor:
    """Points clamped into their canvas's pixels: x to [0, W - 1], y to [0, H - 1]."""
    if isinstance(inpt, KeyPoints):
        if canvas_size is not None:
            raise ValueError("For keypoints tv_tensor inputs, `canvas_size` must not be passed.")
        return tv_tensors.wrap(clamp_keypoints(_view_as(inpt, Tensor), inpt.canvas_size),
                               like=inpt)
    if not is_pure_tensor(inpt):
        raise TypeError(f"Input can either be a plain tensor or a keypoints tv_tensor, but got "
                        f"{type(inpt)} instead.")
    if canvas_size is None:
        raise ValueError("For pure tensor inputs, `canvas_size` has to be passed.")
    data = inpt._data
    xp = get_array_module(data)
    a = data.astype(data.dtype if _v1._is_float(data) else np.float32)
    out = xp.stack([xp.clip(a[..., 0], 0, canvas_size[1] - 1),
                    xp.clip(a[..., 1], 0, canvas_size[0] - 1)], axis=-1)
    return _make(out.astype(data.dtype))


def _sanitize_keypoints_mask(points: Tensor, canvas_size) -> Tensor:
    """Which points (or groups of points, along dim 0) lie wholly inside the canvas."""
    h, w = canvas_size
    x, y = points[..., 0], points[..., 1]
    valid = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    return valid.flatten(1).all(dim=1) if valid.ndim > 1 else valid


def sanitize_keypoints(key_points: Tensor, canvas_size=None) -> tuple:
    """(the points, or groups of points, wholly inside the canvas; the boolean mask kept)."""
    if isinstance(key_points, KeyPoints):
        if canvas_size is not None:
            raise ValueError("canvas_size must be None when key_points is a tv_tensors.KeyPoints "
                             "instance.")
        valid = _sanitize_keypoints_mask(_view_as(key_points, Tensor), key_points.canvas_size)
        return tv_tensors.wrap(_view_as(key_points, Tensor)[valid], like=key_points), valid
    if canvas_size is None:
        raise ValueError("canvas_size cannot be None if key_points is a pure tensor.")
    valid = _sanitize_keypoints_mask(key_points, canvas_size)
    return key_points[valid], valid


def _sanitize_bounding_boxes_mask(boxes: Tensor, format, canvas_size, min_size: float = 1.0,
                                  min_area: float = 1.0) -> Tensor:
    """Which boxes are at least ``min_size`` wide and high, of ``min_area``, and inside the
    canvas."""
    xyxy = _make(_to_xyxy(boxes._data, _format(format)))
    h, w = canvas_size
    ws, hs = xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]
    valid = (ws >= min_size) & (hs >= min_size) & (xyxy >= 0).all(dim=-1) & (ws * hs >= min_area)
    return valid & (xyxy[:, 0] <= w) & (xyxy[:, 2] <= w) & (xyxy[:, 1] <= h) & (xyxy[:, 3] <= h)


def sanitize_bounding_boxes(bounding_boxes: Tensor, format=None, canvas_size=None,
                            min_size: float = 1.0, min_area: float = 1.0) -> tuple:
    """(the boxes kept by ``SanitizeBoundingBoxes``'s rule; the boolean mask kept)."""
    if isinstance(bounding_boxes, BoundingBoxes):
        if format is not None or canvas_size is not None:
            raise ValueError("format and canvas_size must be None when bounding_boxes is a "
                             "tv_tensors.BoundingBoxes instance.")
        plain = _view_as(bounding_boxes, Tensor)
        valid = _sanitize_bounding_boxes_mask(plain, bounding_boxes.format,
                                              bounding_boxes.canvas_size, min_size, min_area)
        return tv_tensors.wrap(plain[valid], like=bounding_boxes), valid
    if not is_pure_tensor(bounding_boxes):
        raise ValueError("bounding_boxes must be a tv_tensors.BoundingBoxes instance or a pure "
                         "tensor.")
    if format is None or canvas_size is None:
        raise ValueError("format and canvas_size cannot be None if bounding_boxes is a pure "
                         "tensor.")
    valid = _sanitize_bounding_boxes_mask(bounding_boxes, format, canvas_size, min_size, min_area)
    return bounding_boxes[valid], valid


def grayscale_to_rgb(inpt):
    """A one-channel image repeated to three channels (RGB input is returned as is)."""
    return _dispatch(grayscale_to_rgb, inpt)


def grayscale_to_rgb_image(image: Tensor) -> Tensor:
    if image.shape[-3] >= 3:
        return image
    return image.expand(*image.shape[:-3], 3, *image.shape[-2:]).clone()


def _grayscale_to_rgb_pil(image):
    return image.convert("RGB")


def adjust_gamma(inpt, gamma: float, gain: float = 1):
    """``gain * inpt ** gamma`` in [0, 1] units."""
    return _dispatch(adjust_gamma, inpt, gamma, gain)


adjust_gamma_image = adjust_gamma_video = _v1.adjust_gamma


def convert_image_dtype(image: Tensor, dtype=_dt.float32) -> Tensor:
    """``to_dtype(image, dtype, scale=True)`` (deprecated in torchvision)."""
    return to_dtype(image, dtype, scale=True)


to_tensor = _v1.to_tensor


def get_dimensions_image(image: Tensor) -> list:
    """``[channels, height, width]``."""
    return get_dimensions(image)


get_dimensions_video = get_dimensions_image


def get_num_channels(inpt) -> int:
    """The number of channels of an image or video (or PIL image)."""
    if isinstance(inpt, (Mask, BoundingBoxes, KeyPoints)):
        raise TypeError(f"get_num_channels() does not support {type(inpt).__name__}")
    return get_dimensions(inpt)[0]


get_image_num_channels = get_num_channels_image = get_num_channels_video = get_num_channels


def get_image_size(inpt) -> list:
    """``[width, height]`` (torchvision's deprecated order)."""
    return get_size(inpt)[::-1]


get_size_image = get_size_video = get_size_mask = get_size_bounding_boxes = get_size
get_size_keypoints = get_size


def get_num_frames(inpt) -> int:
    """The number of frames (dim -4) of a video."""
    if not (is_pure_tensor(inpt) or isinstance(inpt, Video)):
        raise TypeError(f"get_num_frames() supports plain tensors and Video, not {type(inpt)}")
    return int(inpt.shape[-4])


get_num_frames_video = get_num_frames


for _image_type in _IMAGE_TYPES:
    register_kernel(erase, _image_type)(_v1.erase)
    register_kernel(jpeg, _image_type)(jpeg_image)
    register_kernel(gaussian_noise, _image_type)(gaussian_noise_image)
    register_kernel(adjust_gamma, _image_type)(_v1.adjust_gamma)
for _functional, _kernel in [(erase, _erase_pil), (jpeg, _jpeg_pil),
                             (adjust_gamma, _v1.adjust_gamma),
                             (grayscale_to_rgb, _grayscale_to_rgb_pil),
                             (five_crop, _v1.five_crop), (ten_crop, _v1.ten_crop)]:
    register_kernel(_functional, "pil")(_kernel)
for _plain_type in (Tensor, Video):
    register_kernel(uniform_temporal_subsample, _plain_type)(uniform_temporal_subsample_video)
for _image_type in (Tensor, Image):
    register_kernel(grayscale_to_rgb, _image_type)(grayscale_to_rgb_image)
register_kernel(five_crop, Tensor)(_v1.five_crop)
register_kernel(ten_crop, Tensor)(_v1.ten_crop)
for _tv_type in (Image, Video):
    # several outputs, each wrapped by the kernel itself (register_kernel's wrapper wraps one)
    _KERNELS.setdefault(five_crop, {})[_tv_type] = _five_crop_tv
    _KERNELS.setdefault(ten_crop, {})[_tv_type] = _ten_crop_tv

__all__ = ["adjust_gamma", "adjust_gamma_image", "adjust_gamma_video", "clamp_keypoints",
           "convert_image_dtype", "erase", "erase_image", "erase_video", "five_crop",
           "five_crop_image", "five_crop_video", "gaussian_noise", "gaussian_noise_image",
           "gaussian_noise_video", "get_dimensions_image", "get_dimensions_video",
           "get_image_num_channels", "get_image_size", "get_num_channels",
           "get_num_channels_image", "get_num_channels_video", "get_num_frames",
           "get_num_frames_video", "get_size_bounding_boxes", "get_size_image",
           "get_size_keypoints", "get_size_mask", "get_size_video", "grayscale_to_rgb",
           "grayscale_to_rgb_image", "jpeg", "jpeg_image", "jpeg_video", "sanitize_bounding_boxes",
           "sanitize_keypoints", "ten_crop", "ten_crop_image", "ten_crop_video", "to_tensor",
           "uniform_temporal_subsample", "uniform_temporal_subsample_video"]
