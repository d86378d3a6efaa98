"""The colour kernels of ``transforms.v2.functional`` on tensor images, with v2's own arithmetic:
it differs from v1's (blends as ``a * r + (1 - r) * b`` fused into one rounding, a floored
float grey level, autocontrast dividing by ``range / bound``, sharpness blended as
``x + (1 - r) * (blurred - x)``), so integer images can differ from v1's by one level. PIL
images get v1's (PIL's) results, as torchvision's v2 kernels do.

Integer images are computed in float32 as torchvision does; ``torch.add(a, b, alpha=r)``
is one fused multiply-add on the CPU (``_grid_warp.fma``)."""
from __future__ import annotations

import numpy as np

from ember._tensor import Tensor, _make
from ember.backend.device import get_array_module
from ember.vision.transforms import functional as _v1
from ember.vision.transforms._grid_warp import fma


def _work(data):
    """The float data torchvision computes on: float images as they are, others in float32."""
    return data if _v1._is_float(data) else data.astype(np.float32)


def _add_scaled(a, b, alpha: float):
    """``torch.add(a, b, alpha=alpha)`` in ``a``'s float dtype: one fused multiply-add."""
    return fma(b, a.dtype.type(alpha), a)


def _back(out, data):
    """``out`` clamped to the image range and cast (truncated) to the image's dtype."""
    xp = get_array_module(out)
    out = xp.clip(out, 0, _v1._max_value(data.dtype))
    return _make(out.astype(data.dtype, copy=False))


def _blend(data, other, ratio: float):
    """torchvision v2's ``_blend``: ``data * ratio + other * (1 - ratio)``, clamped, cast."""
    ratio = float(ratio)
    work = _work(data)
    return _back(_add_scaled(work * work.dtype.type(ratio), other, 1.0 - ratio), data)


def _gray(data):
    """Luma ``0.2989 r + 0.587 g + 0.114 b`` in the working float dtype, kept as (..., 1, H, W);
    integer images are floored (the grey image blends, contrast and saturation use)."""
    work = _work(data)
    r, g, b = work[..., 0, :, :], work[..., 1, :, :], work[..., 2, :, :]
    gray = _add_scaled(_add_scaled(r * r.dtype.type(0.2989), g, 0.587), b, 0.114)
    if not _v1._is_float(data):
        gray = get_array_module(gray).floor(gray)
    return gray[..., None, :, :]


def _check_channels(img: Tensor) -> int:
    channels = img.shape[-3]
    if channels not in (1, 3):
        raise TypeError("Input image tensor permitted channel values are 1 or 3, but found "
                        f"{channels}")
    return channels


def rgb_to_grayscale_image(image, num_output_channels: int = 1):
    """Luma (ITU-R 601-2) repeated to ``num_output_channels``; integer images truncated."""
    if not isinstance(image, Tensor):
        return _v1.rgb_to_grayscale(image, num_output_channels)
    if num_output_channels not in (1, 3):
        raise ValueError(f"num_output_channels must be 1 or 3, got {num_output_channels}.")
    data = image._data
    xp = get_array_module(data)
    if data.shape[-3] == 1:
        gray = data.copy()
    else:
        work = _work(data)
        r, g, b = work[..., 0, :, :], work[..., 1, :, :], work[..., 2, :, :]
        gray = _add_scaled(_add_scaled(r * r.dtype.type(0.2989), g, 0.587), b, 0.114)
        gray = gray.astype(data.dtype, copy=False)[..., None, :, :]
    if num_output_channels == 3:
        gray = xp.concatenate([gray] * 3, axis=-3)
    return _make(xp.ascontiguousarray(gray))


def adjust_brightness_image(image, brightness_factor: float):
    """``image * factor``, clamped to the image range."""
    if not isinstance(image, Tensor):
        return _v1.adjust_brightness(image, brightness_factor)
    _v1._non_negative(brightness_factor, "brightness_factor")
    _check_channels(image)
    work = _work(image._data)
    return _back(work * work.dtype.type(brightness_factor), image._data)


def adjust_saturation_image(image, saturation_factor: float):
    """Blend with the (floored, for integer images) grey image."""
    if not isinstance(image, Tensor):
        return _v1.adjust_saturation(image, saturation_factor)
    _v1._non_negative(saturation_factor, "saturation_factor")
    if _check_channels(image) == 1:
        return image
    return _blend(image._data, _gray(image._data), saturation_factor)


def adjust_contrast_image(image, contrast_factor: float):
    """Blend with the mean of the (floored, for integer images) grey image."""
    if not isinstance(image, Tensor):
        return _v1.adjust_contrast(image, contrast_factor)
    _v1._non_negative(contrast_factor, "contrast_factor")
    data = image._data
    gray = _gray(data) if _check_channels(image) == 3 else _work(data)
    mean = gray.mean(axis=(-3, -2, -1), keepdims=True, dtype=gray.dtype)
    return _blend(data, mean, contrast_factor)


def adjust_sharpness_image(image, sharpness_factor: float):
    """``x + (1 - factor) * (blurred - x)`` inside the one-pixel border (blurred by
    ``[[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13``, rounded for integer images)."""
    if not isinstance(image, Tensor):
        return _v1.adjust_sharpness(image, sharpness_factor)
    _check_channels(image)
    _v1._non_negative(sharpness_factor, "sharpness_factor")
    data = image._data
    h, w = data.shape[-2:]
    if data.size == 0 or h <= 2 or w <= 2:
        return image
    xp = get_array_module(data)
    work = _work(data).copy()
    one, five = work.dtype.type(1.0 / 13.0), work.dtype.type(5.0 / 13.0)
    blurred = work[..., 1:-1, 1:-1] * five
    for dy in range(3):
        for dx in range(3):
            if (dy, dx) != (1, 1):
                blurred = blurred + work[..., dy:h - 2 + dy, dx:w - 2 + dx] * one
    if not _v1._is_float(data):
        blurred = xp.round(blurred)
    inner = work[..., 1:-1, 1:-1]
    work[..., 1:-1, 1:-1] = _add_scaled(inner, blurred - inner, 1.0 - float(sharpness_factor))
    return _back(work, data)


def _rgb_to_hsv(rgb) -> tuple:
    """Hue (in turns), saturation and value of float (..., 3, H, W) RGB in [0, 1], in v2's
    order of float32 operations."""
    xp = get_array_module(rgb)
    r, g, b = rgb[..., 0, :, :], rgb[..., 1, :, :], rgb[..., 2, :, :]
    maxc, minc = rgb.max(axis=-3), rgb.min(axis=-3)
    flat = maxc == minc
    one = rgb.dtype.type(1.0)
    s = (maxc - minc) / xp.where(flat, one, maxc)
    divisor = xp.where(flat, one, maxc - minc)
    rc, gc, bc = (maxc - r) / divisor, (maxc - g) / divisor, (maxc - b) / divisor
    not_r, is_g = maxc != r, maxc == g
    h = ((bc - gc) * ~not_r + (rc + 2.0 - bc) * (is_g & not_r)
         + (gc + 4.0 - rc) * (not_r & ~is_g))
    h = xp.fmod(h * rgb.dtype.type(1.0 / 6.0) + one, one)
    return h, s, maxc


def _hsv_to_rgb(h, s, v):
    xp = get_array_module(h)
    h6 = h * h.dtype.type(6)
    sector = xp.floor(h6)
    f = h6 - sector
    sector = sector.astype(np.int32) % 6
    sxf = s * f
    one_minus_s = 1.0 - s
    q = xp.clip((1.0 - sxf) * v, 0.0, 1.0)
    t = xp.clip((sxf + one_minus_s) * v, 0.0, 1.0)
    p = xp.clip(one_minus_s * v, 0.0, 1.0)
    return xp.stack([xp.choose(sector, (v, q, p, p, t, v)), xp.choose(sector, (t, v, v, q, p, p)),
                     xp.choose(sector, (p, p, t, v, v, q))], axis=-3)


def adjust_hue_image(image, hue_factor: float):
    """Shift the hue by ``hue_factor`` turns through HSV, in float32 (integer images scaled
    there by ``1 / max`` and back)."""
    if not isinstance(image, Tensor):
        return _v1.adjust_hue(image, hue_factor)
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    if _check_channels(image) == 1 or image.numel() == 0:
        return image
    data = image._data
    xp = get_array_module(data)
    if _v1._is_float(data):
        rgb = data.astype(np.float32, copy=False)
    else:
        rgb = data.astype(np.float32) * np.float32(1.0 / _v1._max_value(data.dtype))
    h, s, v = _rgb_to_hsv(rgb)
    h = xp.remainder(h + np.float32(hue_factor), np.float32(1.0))
    return _v1.convert_image_dtype(_make(_hsv_to_rgb(h, s, v)), image.dtype)


def autocontrast_image(image):
    """Each channel stretched: ``(x - min) / ((max - min) / bound)``, a flat channel kept."""
    if not isinstance(image, Tensor):
        return _v1.autocontrast(image)
    _check_channels(image)
    if image.numel() == 0:
        return image
    data = image._data
    xp = get_array_module(data)
    bound = _v1._max_value(data.dtype)
    work = _work(data)
    low = work.min(axis=(-2, -1), keepdims=True)
    high = work.max(axis=(-2, -1), keepdims=True)
    flat = high == low
    inv_scale = xp.where(flat, 1, (high - low) * work.dtype.type(1.0 / bound)).astype(work.dtype)
    low = xp.where(flat, 0, low).astype(work.dtype)
    return _back((work - low) / inv_scale, data)
