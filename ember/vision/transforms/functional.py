"""Image transforms as functions, on PIL images (Pillow, imported lazily) and CHW tensors."""
from __future__ import annotations

import enum
import math
import numbers
import sys
from typing import Sequence

import numpy as np

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.backend.device import get_array_module
from ember.vision.transforms import _grid_warp


class InterpolationMode(enum.Enum):
    """Resampling filters, named as torchvision's."""

    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


# Pillow's integer filter constants (``Image.BICUBIC == 3``), which torchvision still takes
_MODES_FROM_PIL = {0: InterpolationMode.NEAREST, 1: InterpolationMode.LANCZOS,
                   2: InterpolationMode.BILINEAR, 3: InterpolationMode.BICUBIC,
                   4: InterpolationMode.BOX, 5: InterpolationMode.HAMMING}


def _interpolation_mode(mode) -> InterpolationMode:
    """``mode`` (an InterpolationMode, its value, or a Pillow filter constant) as a mode."""
    if isinstance(mode, InterpolationMode):
        return mode
    if isinstance(mode, int):
        return _MODES_FROM_PIL[int(mode)]
    return InterpolationMode(mode)


def _pil_filter(mode: InterpolationMode):
    from PIL import Image
    mode = _interpolation_mode(mode)
    return {InterpolationMode.NEAREST: Image.NEAREST, InterpolationMode.NEAREST_EXACT:
            Image.NEAREST, InterpolationMode.BILINEAR: Image.BILINEAR,
            InterpolationMode.BICUBIC: Image.BICUBIC, InterpolationMode.BOX: Image.BOX,
            InterpolationMode.HAMMING: Image.HAMMING,
            InterpolationMode.LANCZOS: Image.LANCZOS}[mode]


def _is_pil(img) -> bool:
    # a PIL image exists only once PIL.Image is loaded: no import attempt on every call
    image = sys.modules.get("PIL.Image")
    return image is not None and isinstance(img, image.Image)


def _check_image(img, op: str) -> None:
    if not (_is_pil(img) or isinstance(img, Tensor)):
        raise TypeError(f"{op}: img should be PIL Image or Tensor. Got {type(img)}")


def get_dimensions(img) -> list:
    """``[channels, height, width]`` of a PIL image or a (..., C, H, W) tensor."""
    if isinstance(img, Tensor):
        shape = img.shape
        return [1 if img.ndim == 2 else shape[-3], shape[-2], shape[-1]]
    _check_image(img, "get_dimensions")
    return [len(img.getbands()), img.height, img.width]


def get_image_size(img) -> list:
    """``[width, height]``."""
    _, h, w = get_dimensions(img)
    return [w, h]


# ---------------------------------------------------------------------------------------------
# Conversions

def to_tensor(pic) -> Tensor:
    """A PIL image or HWC ndarray as a float32 CHW tensor; 8-bit data is scaled to [0, 1]."""
    if isinstance(pic, np.ndarray):
        arr = pic[:, :, None] if pic.ndim == 2 else pic
        out = np.ascontiguousarray(arr.transpose(2, 0, 1))
        if out.dtype == np.uint8:
            return _make(out.astype(np.float32) / np.float32(255))
        return _make(out)
    if not _is_pil(pic):
        raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
    arr = np.asarray(pic)
    if pic.mode == "1":
        arr = arr.astype(np.uint8) * 255
    if arr.ndim == 2:
        arr = arr[:, :, None]
    out = np.ascontiguousarray(arr.transpose(2, 0, 1))
    if out.dtype == np.uint8:
        return _make(out.astype(np.float32) / np.float32(255))
    return _make(out.astype(np.float32) if out.dtype != np.float32 else out)


def pil_to_tensor(pic) -> Tensor:
    """A PIL image as a CHW tensor of its own dtype (uint8 for 8-bit modes), not scaled."""
    if not _is_pil(pic):
        raise TypeError(f"pic should be PIL Image. Got {type(pic)}")
    arr = np.array(pic)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return _make(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def to_pil_image(pic, mode: str | None = None):
    """A CHW tensor or HWC ndarray as a PIL image (floats are scaled by 255 to uint8)."""
    from PIL import Image
    if isinstance(pic, Tensor):
        arr = pic.detach().cpu()._data
        if arr.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {arr.ndim} dimensions.")
        arr = arr[None] if arr.ndim == 2 else arr
        arr = arr.transpose(1, 2, 0)
        if np.issubdtype(arr.dtype, np.floating) and mode != "F":
            arr = (arr * 255).astype(np.uint8)
    elif isinstance(pic, np.ndarray):
        arr = pic[:, :, None] if pic.ndim == 2 else pic
        if arr.ndim != 3:
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
    else:
        raise TypeError(f"pic should be Tensor or ndarray. Got {type(pic)}.")
    channels = arr.shape[2]
    if channels == 1:
        arr = arr[:, :, 0]
        if mode is None:
            mode = {np.dtype(np.uint8): "L", np.dtype(np.int16): "I;16",
                    np.dtype(np.int32): "I", np.dtype(np.float32): "F"}.get(arr.dtype)
        if mode is None:
            raise TypeError(f"Input type {arr.dtype} is not supported")
    elif mode is None:
        if arr.dtype != np.uint8:
            raise TypeError(f"Input type {arr.dtype} is not supported for {channels} channels")
        mode = {2: "LA", 3: "RGB", 4: "RGBA"}.get(channels)
        if mode is None:
            raise ValueError(f"pic should not have > 4 channels. Got {channels} channels.")
    if mode == "F":
        arr = arr.astype(np.float32)
    return Image.fromarray(np.ascontiguousarray(arr), mode=mode)


def convert_image_dtype(image: Tensor, dtype=_dt.float32) -> Tensor:
    """Cast an image tensor, rescaling between integer ranges and [0, 1] floats."""
    dtype = _dt.to_dtype(dtype)
    src = image._data
    if image.dtype == dtype:
        return image
    if image.dtype.is_floating_point:
        if dtype.is_floating_point:
            return _make(src.astype(dtype.np_dtype))
        top = np.iinfo(dtype.np_dtype).max
        return _make((src * (top + 1.0 - 1e-3)).astype(dtype.np_dtype))
    src_max = np.iinfo(src.dtype).max
    if dtype.is_floating_point:
        return _make(src.astype(dtype.np_dtype) / dtype.np_dtype.type(src_max))
    dst_max = np.iinfo(dtype.np_dtype).max
    if src_max > dst_max:
        factor = (src_max + 1) // (dst_max + 1)
        return _make((src // factor).astype(dtype.np_dtype))
    factor = (dst_max + 1) // (src_max + 1)
    return _make(src.astype(dtype.np_dtype) * factor)


# ---------------------------------------------------------------------------------------------
# Value transforms

def normalize(tensor: Tensor, mean: Sequence[float], std: Sequence[float],
              inplace: bool = False) -> Tensor:
    """``(tensor - mean) / std`` per channel of a (..., C, H, W) float tensor."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(tensor)}")
    if not tensor.is_floating_point():
        raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
    if tensor.ndim < 3:
        raise ValueError("Expected tensor to be a tensor image of size (..., C, H, W). Got "
                         f"tensor.size() = {tuple(tensor.shape)}")
    data = tensor._data
    m = np.asarray(mean, data.dtype).reshape(-1, 1, 1)
    s = np.asarray(std, data.dtype).reshape(-1, 1, 1)
    if np.any(s == 0):
        raise ValueError(f"std evaluated to zero after conversion to {tensor.dtype}, leading "
                         "to division by zero.")
    # torchvision subtracts and divides in place (on a clone unless ``inplace``): statistics
    # for more channels than the image has do not widen it, they raise.
    _check_in_place_broadcast(tensor, m.shape[0])
    _check_in_place_broadcast(tensor, s.shape[0])
    if inplace:
        np.subtract(data, m, out=data)
        np.divide(data, s, out=data)
        return tensor
    return _make((data - m) / s)


def _check_in_place_broadcast(tensor: Tensor, channels: int) -> None:
    """PyTorch's errors for ``tensor.sub_(stat.view(-1, 1, 1))`` with ``channels`` values."""
    have = tensor.shape[-3]
    if channels == 1 or channels == have:
        return
    if have == 1:
        wide = [*tensor.shape[:-3], channels, *tensor.shape[-2:]]
        raise RuntimeError(f"output with shape {list(tensor.shape)} doesn't match the broadcast "
                           f"shape {wide}")
    raise RuntimeError(f"The size of tensor a ({have}) must match the size of tensor b "
                       f"({channels}) at non-singleton dimension {tensor.ndim - 3}")


def _non_negative(value: float, name: str) -> None:
    if value < 0:
        raise ValueError(f"{name} ({value}) is not non-negative.")


def _assert_channels(img: Tensor, permitted: tuple) -> None:
    channels = get_dimensions(img)[0]
    if channels not in permitted:
        raise TypeError(f"Input image tensor permitted channel values are {list(permitted)}, "
                        f"but found {channels}")


def _is_float(data) -> bool:
    return bool(np.issubdtype(data.dtype, np.floating))


def _max_value(dtype) -> float:
    """The brightest value of an image: 1.0 for floats, the type's maximum for integers."""
    return 1.0 if np.issubdtype(dtype, np.floating) else float(np.iinfo(dtype).max)


def adjust_brightness(img, brightness_factor: float):
    """Multiply the intensities by ``brightness_factor`` (0 gives black, 1 the original)."""
    _non_negative(brightness_factor, "brightness_factor")
    if isinstance(img, Tensor):
        _assert_channels(img, (1, 3))
        return _blend_tensor(img, 0.0, brightness_factor)
    from PIL import ImageEnhance
    return ImageEnhance.Brightness(img).enhance(brightness_factor)


def adjust_contrast(img, contrast_factor: float):
    """Blend with the mean grey level (0 gives a flat grey image, 1 the original)."""
    _non_negative(contrast_factor, "contrast_factor")
    if isinstance(img, Tensor):
        _assert_channels(img, (1, 3))
        gray = _gray(img._data)
        mean = gray.mean(axis=(-3, -2, -1), keepdims=True, dtype=_work_dtype(gray))
        return _blend_tensor(img, mean, contrast_factor)
    from PIL import ImageEnhance
    return ImageEnhance.Contrast(img).enhance(contrast_factor)


def adjust_saturation(img, saturation_factor: float):
    """Blend with the greyscale image (0 gives grey, 1 the original)."""
    _non_negative(saturation_factor, "saturation_factor")
    if isinstance(img, Tensor):
        _assert_channels(img, (1, 3))
        return _blend_tensor(img, _gray(img._data), saturation_factor)
    from PIL import ImageEnhance
    return ImageEnhance.Color(img).enhance(saturation_factor)


def adjust_hue(img, hue_factor: float):
    """Shift the hue by ``hue_factor`` turns (in [-0.5, 0.5]) through HSV."""
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    if isinstance(img, Tensor):
        _assert_channels(img, (1, 3))
        if get_dimensions(img)[0] == 1:
            return img
        rgb = convert_image_dtype(img, _dt.float32)._data
        h, s, v = _rgb_to_hsv(rgb)
        h = (h + np.float32(hue_factor)) % np.float32(1.0)
        out = _make(get_array_module(rgb).stack(_hsv_to_rgb(h, s, v), axis=-3))
        return convert_image_dtype(out, img.dtype)
    from PIL import Image
    if img.mode in ("L", "1", "I", "F"):
        return img
    mode = img.mode
    h, s, v = img.convert("HSV").split()
    shifted = (np.asarray(h, np.uint8).astype(np.int16) + int(hue_factor * 255)) % 256
    h = Image.fromarray(shifted.astype(np.uint8), "L")
    return Image.merge("HSV", (h, s, v)).convert(mode)


def _rgb_to_hsv(rgb):
    """Hue (in turns), saturation and value of a float (..., 3, H, W) RGB image in [0, 1]."""
    xp = get_array_module(rgb)
    r, g, b = rgb[..., 0, :, :], rgb[..., 1, :, :], rgb[..., 2, :, :]
    maxc, minc = rgb.max(axis=-3), rgb.min(axis=-3)
    delta = maxc - minc
    gray = delta == 0
    s = delta / xp.where(gray, 1, maxc)
    d = xp.where(gray, 1, delta)
    rc, gc, bc = (maxc - r) / d, (maxc - g) / d, (maxc - b) / d
    h = xp.where(maxc == r, bc - gc, xp.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    return (h / 6.0 + 1.0) % 1.0, s, maxc


def _hsv_to_rgb(h, s, v) -> tuple:
    xp = get_array_module(h)
    sector = xp.floor(h * 6.0)
    f = h * 6.0 - sector
    sector = sector.astype(np.int64) % 6
    p = xp.clip(v * (1.0 - s), 0, 1)
    q = xp.clip(v * (1.0 - s * f), 0, 1)
    t = xp.clip(v * (1.0 - s * (1.0 - f)), 0, 1)
    return (xp.choose(sector, (v, q, p, p, t, v)), xp.choose(sector, (t, v, v, q, p, p)),
            xp.choose(sector, (p, p, t, v, v, q)))


def adjust_gamma(img, gamma: float, gain: float = 1):
    """``gain * I ** gamma`` on intensities ``I`` in [0, 1] (integer images are rescaled there
    and back, as ``convert_image_dtype`` does)."""
    if gamma < 0:
        raise ValueError("Gamma should be a non-negative real number")
    if not isinstance(img, Tensor):
        _check_image(img, "adjust_gamma")
        mode = img.mode
        lut = [int((255 + 1 - 1e-3) * gain * pow(v / 255.0, gamma)) for v in range(256)]
        return img.convert("RGB").point(lut * 3).convert(mode)
    _assert_channels(img, (1, 3))
    x = convert_image_dtype(img, _dt.float32) if not img.is_floating_point() else img
    xp = get_array_module(x._data)
    out = _make(xp.clip(gain * x._data ** gamma, 0, 1).astype(x._data.dtype))
    return convert_image_dtype(out, img.dtype)


def _gray(data):
    """ITU-R 601-2 luma, in the image's dtype (integers truncated, as torchvision)."""
    if data.shape[-3] == 1:
        return data
    x = data.astype(_work_dtype(data), copy=False)
    r, g, b = x[..., 0, :, :], x[..., 1, :, :], x[..., 2, :, :]
    return (0.2989 * r + 0.587 * g + 0.114 * b).astype(data.dtype)[..., None, :, :]


def _work_dtype(data):
    """Integer images are computed in float32, as torchvision does."""
    return data.dtype if _is_float(data) else np.dtype(np.float32)


def _blend_tensor(img: Tensor, other, ratio: float) -> Tensor:
    """``ratio * img + (1 - ratio) * other``, clipped to the image range; integer images are
    truncated back, as torchvision's ``_blend``."""
    data = img._data
    xp = get_array_module(data)
    work = data.astype(_work_dtype(data), copy=False)
    other = xp.asarray(other, work.dtype)
    out = xp.clip(ratio * work + (1.0 - ratio) * other, 0, _max_value(data.dtype))
    return _make(out.astype(data.dtype))


def invert(img):
    """Invert the colours: ``max - img`` (255 for uint8, 1.0 for floats)."""
    if not isinstance(img, Tensor):
        _check_image(img, "invert")
        from PIL import ImageOps
        return ImageOps.invert(img)
    _assert_channels(img, (1, 3))
    data = img._data
    return _make(data.dtype.type(_max_value(data.dtype)) - data)


def posterize(img, bits: int):
    """Keep the top ``bits`` bits of each channel (uint8 tensors, as torchvision)."""
    if not 0 <= bits <= 8:
        raise ValueError(f"The number of bits should be between 0 and 8. Got {bits}")
    if not isinstance(img, Tensor):
        _check_image(img, "posterize")
        from PIL import ImageOps
        return ImageOps.posterize(img, bits)
    _assert_uint8(img)
    _assert_channels(img, (1, 3))
    return _make(img._data & np.uint8((0xFF << (8 - bits)) & 0xFF))


def solarize(img, threshold: float):
    """Invert every pixel at or above ``threshold``."""
    if not isinstance(img, Tensor):
        _check_image(img, "solarize")
        from PIL import ImageOps
        return ImageOps.solarize(img, threshold)
    _assert_channels(img, (1, 3))
    data = img._data
    bound = _max_value(data.dtype)
    if threshold > bound:
        raise TypeError("Threshold should be less than bound of img.")
    inverted = data.dtype.type(bound) - data
    return _make(get_array_module(data).where(data >= threshold, inverted, data))


def adjust_sharpness(img, sharpness_factor: float):
    """Blend with a smoothed copy (3x3 kernel ``[[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13``, the
    one-pixel border left as is): 0 gives the smoothed image, 1 the original, 2 a sharper one."""
    _non_negative(sharpness_factor, "sharpness_factor")
    if not isinstance(img, Tensor):
        _check_image(img, "adjust_sharpness")
        from PIL import ImageEnhance
        return ImageEnhance.Sharpness(img).enhance(sharpness_factor)
    _assert_channels(img, (1, 3))
    data = img._data
    if data.shape[-1] <= 2 or data.shape[-2] <= 2:
        return img
    return _blend_tensor(img, _smoothed(data), sharpness_factor)


def _smoothed(data):
    xp = get_array_module(data)
    x = data.astype(_work_dtype(data), copy=False)
    h, w = x.shape[-2:]
    total = 4 * x[..., 1:-1, 1:-1]
    for dy in range(3):
        for dx in range(3):
            total = total + x[..., dy:h - 2 + dy, dx:w - 2 + dx]
    inner = total / 13
    out = data.copy()
    out[..., 1:-1, 1:-1] = inner if _is_float(data) else xp.round(inner)
    return out


def autocontrast(img):
    """Stretch each channel linearly so its darkest pixel becomes black and its lightest white
    (a flat channel is left as is)."""
    if not isinstance(img, Tensor):
        _check_image(img, "autocontrast")
        from PIL import ImageOps
        return ImageOps.autocontrast(img)
    _assert_channels(img, (1, 3))
    data = img._data
    xp = get_array_module(data)
    bound = _max_value(data.dtype)
    work = data.astype(_work_dtype(data), copy=False)
    low = work.min(axis=(-2, -1), keepdims=True)
    high = work.max(axis=(-2, -1), keepdims=True)
    flat = high == low
    scale = xp.where(flat, 1, bound / xp.where(flat, 1, high - low)).astype(work.dtype)
    low = xp.where(flat, 0, low).astype(work.dtype)
    return _make(xp.clip((work - low) * scale, 0, bound).astype(data.dtype))


def equalize(img):
    """Equalise the histogram of each channel (uint8 tensors), as PIL's ``ImageOps.equalize``:
    level ``i`` maps to ``(pixels below i + step // 2) // step``, ``step`` being the pixels
    outside the brightest level present over 255."""
    if not isinstance(img, Tensor):
        _check_image(img, "equalize")
        from PIL import ImageOps
        return ImageOps.equalize(img)
    _assert_uint8(img)
    _assert_channels(img, (1, 3))
    data = img._data
    xp = get_array_module(data)
    planes = data.reshape(-1, data.shape[-2] * data.shape[-1])
    n = planes.shape[0]
    rows = xp.arange(n)
    hist = xp.bincount((planes + rows[:, None] * 256).ravel(), minlength=256 * n)
    hist = hist.reshape(n, 256)
    brightest = 255 - xp.argmax(hist[:, ::-1] > 0, axis=1)
    step = (hist.sum(axis=1) - hist[rows, brightest]) // 255
    safe = xp.maximum(step, 1)[:, None]
    below = xp.cumsum(hist, axis=1) - hist
    lut = xp.clip((below + safe // 2) // safe, 0, 255)
    lut = xp.where((step == 0)[:, None], xp.arange(256), lut).astype(np.uint8)
    out = xp.take_along_axis(lut, planes.astype(np.intp), axis=1)
    return _make(out.reshape(data.shape))


def _assert_uint8(img: Tensor) -> None:
    if img.dtype != _dt.uint8:
        raise TypeError(f"Only uint8 image tensors are supported, but found {img.dtype}")


def rgb_to_grayscale(img, num_output_channels: int = 1):
    """Luma (ITU-R 601-2) of an RGB image, repeated to ``num_output_channels`` (1 or 3)."""
    if num_output_channels not in (1, 3):
        raise ValueError("num_output_channels should be either 1 or 3")
    if isinstance(img, Tensor):
        g = _gray(img._data)
        if num_output_channels == 3:
            g = np.concatenate([g, g, g], axis=-3)
        return _make(np.ascontiguousarray(g))
    from PIL import Image
    g = img.convert("L")
    return Image.merge("RGB", (g, g, g)) if num_output_channels == 3 else g


to_grayscale = rgb_to_grayscale


def erase(img: Tensor, i: int, j: int, h: int, w: int, v, inplace: bool = False) -> Tensor:
    """Set ``img[..., i:i+h, j:j+w]`` to ``v``."""
    if not isinstance(img, Tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(img)}")
    out = img if inplace else _make(img._data.copy())
    out._data[..., i:i + h, j:j + w] = v._data if isinstance(v, Tensor) else v
    return out


# ---------------------------------------------------------------------------------------------
# Geometry

def _size_pair(size) -> tuple:
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if isinstance(size, Sequence) and len(size) == 1:
        return int(size[0]), int(size[0])
    if isinstance(size, Sequence) and len(size) == 2:
        return int(size[0]), int(size[1])
    raise ValueError("Please provide only two dimensions (h, w) for size.")


def _resized_hw(h: int, w: int, size, max_size: int | None) -> tuple:
    if isinstance(size, Sequence) and len(size) == 2:
        return int(size[0]), int(size[1])
    target = int(size if isinstance(size, numbers.Number) else size[0])
    short, long = (h, w) if h <= w else (w, h)
    new_short, new_long = target, int(target * long / short)
    if max_size is not None:
        if max_size <= target:
            raise ValueError(f"max_size = {max_size} must be strictly greater than the "
                             f"requested size for the smaller edge size = {size}")
        if new_long > max_size:
            new_short, new_long = int(max_size * new_short / new_long), max_size
    return (new_short, new_long) if h <= w else (new_long, new_short)


def resize(img, size, interpolation=InterpolationMode.BILINEAR, max_size: int | None = None,
           antialias: bool | None = True):
    """Resize to ``size`` (h, w), or match the smaller edge to ``size`` (an int)."""
    _, h, w = get_dimensions(img)
    new_h, new_w = _resized_hw(h, w, size, max_size)
    if isinstance(img, Tensor):
        if _interpolation_mode(interpolation) is InterpolationMode.NEAREST:
            return _resize_nearest(img, new_h, new_w)
        if not antialias and _interpolation_mode(interpolation) in _INTERPOLATE_MODES:
            return _resize_without_antialias(img, new_h, new_w, interpolation)
        return _via_pil(img, lambda p, _: p.resize((new_w, new_h), _pil_filter(interpolation)))
    if (new_h, new_w) == (h, w):
        return img
    return img.resize((new_w, new_h), _pil_filter(interpolation))


def _nearest_source(in_size: int, out_size: int) -> np.ndarray:
    """The source index of each output index under torch's ``nearest`` (``floor(i * in/out)``
    in float32, not PIL's pixel centres, which are ``nearest-exact``)."""
    scale = np.float32(in_size) / np.float32(out_size)
    index = np.floor(np.arange(out_size, dtype=np.float32) * scale).astype(np.int64)
    return np.minimum(index, in_size - 1)


def _resize_nearest(img: Tensor, new_h: int, new_w: int) -> Tensor:
    h, w = img.shape[-2], img.shape[-1]
    rows, cols = _nearest_source(h, new_h), _nearest_source(w, new_w)
    return img[..., _make(rows)[:, None], _make(cols)[None, :]]


_INTERPOLATE_MODES = (InterpolationMode.BILINEAR, InterpolationMode.BICUBIC)


def _resize_without_antialias(img: Tensor, new_h: int, new_w: int, interpolation) -> Tensor:
    """torch's ``interpolate`` (align_corners=False, no antialiasing; PIL always antialiases)
    on float32 (float64 stays), rounded back to an integer dtype as torchvision does."""
    from ember.nn.functional import interpolate
    mode = _interpolation_mode(interpolation)
    out_dtype = img.dtype
    x = img if out_dtype in (_dt.float32, _dt.float64) else img.to(_dt.float32)
    planes = x.reshape(1, -1, x.shape[-2], x.shape[-1])
    x = interpolate(planes, size=(new_h, new_w), mode=mode.value, align_corners=False)
    x = x.reshape(tuple(img.shape[:-2]) + (new_h, new_w))
    if mode is InterpolationMode.BICUBIC and out_dtype == _dt.uint8:
        x = x.clamp(0, 255)
    if x.dtype != out_dtype:
        x = (x if out_dtype.is_floating_point else x.round()).to(out_dtype)
    return x


def _via_pil(img: Tensor, fn, fill=None) -> Tensor:
    """Apply a PIL operation ``fn(plane, fill)`` to each H x W plane of a (..., C, H, W) tensor
    (exact for uint8 and float32); ``fill`` is one value or one per channel."""
    from PIL import Image
    data = img.cpu()._data
    shape = data.shape
    fills = _channel_fills(fill, get_dimensions(img)[0])
    as_float = data.dtype != np.uint8
    out = []
    for k, plane in enumerate(data.reshape(-1, shape[-2], shape[-1])):
        f = fills[k % len(fills)]
        f = f if f is None or as_float else int(f)
        p = Image.fromarray(plane.astype(np.float32) if as_float else plane,
                            "F" if as_float else "L")
        out.append(np.asarray(fn(p, f)))
    out = np.stack(out).astype(data.dtype)
    return _make(out.reshape(shape[:-2] + out.shape[-2:])).to(img.device)


def _channel_fills(fill, channels: int) -> list:
    """A fill value per channel from None, one number, or a sequence of one or ``channels``."""
    if fill is None or isinstance(fill, numbers.Number):
        return [fill] * channels
    fill = list(fill)
    if len(fill) == 1:
        return fill * channels
    if len(fill) != channels:
        raise ValueError("The number of elements in 'fill' does not match the number of "
                         f"channels of the image ({len(fill)} != {channels})")
    return fill


def _pil_fill(fill, img):
    """PIL's ``fillcolor`` for torchvision's ``fill``: None is black, one number fills every
    band, integers for integer modes."""
    bands = len(img.getbands())
    fills = _channel_fills(0 if fill is None else fill, bands)
    fills = [float(f) if img.mode == "F" else int(f) for f in fills]
    return tuple(fills) if bands > 1 else fills[0]


def crop(img, top: int, left: int, height: int, width: int):
    """The region at (top, left) of (height, width); outside the image is zero."""
    if isinstance(img, Tensor):
        _, h, w = get_dimensions(img)
        if top < 0 or left < 0 or top + height > h or left + width > w:
            pads = [max(-left, 0), max(-top, 0), max(left + width - w, 0),
                    max(top + height - h, 0)]
            img = pad(img, pads)
            top, left = top + pads[1], left + pads[0]
        return _make(np.ascontiguousarray(img._data[..., top:top + height, left:left + width]))
    _check_image(img, "crop")
    return img.crop((left, top, left + width, top + height))


def center_crop(img, output_size):
    """The centred region of ``output_size``, zero-padded when the image is smaller."""
    th, tw = _size_pair(output_size)
    _, h, w = get_dimensions(img)
    if th > h or tw > w:
        pads = [(tw - w) // 2 if tw > w else 0, (th - h) // 2 if th > h else 0,
                (tw - w + 1) // 2 if tw > w else 0, (th - h + 1) // 2 if th > h else 0]
        img = pad(img, pads, fill=0)
        _, h, w = get_dimensions(img)
        if (h, w) == (th, tw):
            return img
    return crop(img, int(round((h - th) / 2.0)), int(round((w - tw) / 2.0)), th, tw)


def resized_crop(img, top: int, left: int, height: int, width: int, size,
                 interpolation=InterpolationMode.BILINEAR, antialias: bool | None = True):
    return resize(crop(img, top, left, height, width), size, interpolation, antialias=antialias)


def _pad4(padding) -> list:
    if isinstance(padding, numbers.Number):
        return [int(padding)] * 4
    padding = [int(p) for p in padding]
    if len(padding) == 1:
        return padding * 4
    if len(padding) == 2:
        return [padding[0], padding[1], padding[0], padding[1]]
    if len(padding) == 4:
        return padding
    raise ValueError("Padding must be an int or a 1, 2, or 4 element tuple, not a "
                     f"{len(padding)} element tuple")


_NP_PAD_MODES = {"constant": "constant", "edge": "edge", "reflect": "reflect",
                 "symmetric": "symmetric"}


def _pad_per_channel(data, widths: list, fill) -> np.ndarray:
    """``data`` (..., C, H, W) padded by ``widths`` with one fill value per channel."""
    channels = data.shape[-3]
    if len(fill) != channels:
        raise ValueError(f"The number of elements in 'fill' does not match the number of "
                         f"channels of the image ({len(fill)} != {channels})")
    out = np.pad(data, widths)
    out[...] = np.asarray(fill, dtype=np.float64).astype(data.dtype).reshape(-1, 1, 1)
    (top, _), (left, _) = widths[-2:]
    out[..., top:top + data.shape[-2], left:left + data.shape[-1]] = data
    return out


def pad(img, padding, fill=0, padding_mode: str = "constant"):
    """Pad the borders: ``padding`` is one int, (left/right, top/bottom) or (l, t, r, b)."""
    if padding_mode not in _NP_PAD_MODES:
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
    left, top, right, bottom = _pad4(padding)
    if isinstance(img, Tensor):
        data = img._data
        widths = [(0, 0)] * (data.ndim - 2) + [(top, bottom), (left, right)]
        if padding_mode == "constant" and isinstance(fill, (tuple, list)) and len(fill) > 1:
            return _make(_pad_per_channel(data, widths, fill))
        if isinstance(fill, (tuple, list)):
            fill = fill[0]
        kwargs = {"constant_values": fill} if padding_mode == "constant" else {}
        return _make(np.pad(data, widths, _NP_PAD_MODES[padding_mode], **kwargs))
    from PIL import Image
    arr = np.asarray(img)
    widths = [(top, bottom), (left, right)] + [(0, 0)] * (arr.ndim - 2)
    if padding_mode == "constant":
        fills = fill if isinstance(fill, (tuple, list)) else [fill] * (
            arr.shape[2] if arr.ndim == 3 else 1)
        if arr.ndim == 3:
            out = np.stack([np.pad(arr[:, :, c], widths[:2], constant_values=fills[c])
                            for c in range(arr.shape[2])], axis=2)
        else:
            out = np.pad(arr, widths, constant_values=fills[0])
    else:
        out = np.pad(arr, widths, _NP_PAD_MODES[padding_mode])
    result = Image.fromarray(out, mode=img.mode)
    if img.mode == "P":
        result.putpalette(img.getpalette())
    return result


def hflip(img):
    """Flip left-right."""
    if isinstance(img, Tensor):
        return _make(np.ascontiguousarray(img._data[..., ::-1]))
    _check_image(img, "hflip")
    from PIL import Image
    return img.transpose(Image.FLIP_LEFT_RIGHT)


def vflip(img):
    """Flip top-bottom."""
    if isinstance(img, Tensor):
        return _make(np.ascontiguousarray(img._data[..., ::-1, :]))
    _check_image(img, "vflip")
    from PIL import Image
    return img.transpose(Image.FLIP_TOP_BOTTOM)


def _gaussian_kernel1d(size: int, sigma: float) -> np.ndarray:
    x = np.linspace(-(size - 1) * 0.5, (size - 1) * 0.5, size)
    pdf = np.exp(-0.5 * (x / sigma) ** 2)
    return pdf / pdf.sum()


def gaussian_blur(img, kernel_size, sigma=None):
    """Blur with a Gaussian kernel of ``kernel_size`` (odd, positive; an int or ``[kx, ky]``)
    and standard deviation ``sigma`` (default ``0.3 * ((k - 1) * 0.5 - 1) + 0.8`` per axis), the
    image reflected at its borders; integer images are rounded back. A PIL image is blurred as
    its tensor and returned as a PIL image."""
    kx, ky = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    if kx % 2 == 0 or ky % 2 == 0 or kx <= 0 or ky <= 0:
        raise ValueError(f"kernel_size should have odd and positive integers. Got {kernel_size}")
    if sigma is None:
        sigma = [k * 0.15 + 0.35 for k in (kx, ky)]
    sx, sy = (sigma, sigma) if isinstance(sigma, (int, float)) else (list(sigma) * 2)[:2]
    if sx <= 0 or sy <= 0:
        raise ValueError(f"sigma should have positive values. Got {sigma}")
    if not isinstance(img, Tensor):
        _check_image(img, "gaussian_blur")
        return to_pil_image(gaussian_blur(pil_to_tensor(img), [kx, ky], [sx, sy]), img.mode)
    from ember.nn.functional import conv2d
    from ember.nn.functional import pad as pad_nd
    kernel = np.outer(_gaussian_kernel1d(ky, sy), _gaussian_kernel1d(kx, sx))
    shape = img.shape
    x = img.reshape(-1, 1, shape[-2], shape[-1])
    floating = img.dtype.is_floating_point
    x = x if floating else x.float()
    weight = _make(kernel.astype(x._data.dtype)).reshape(1, 1, ky, kx)
    x = pad_nd(x, [kx // 2, kx // 2, ky // 2, ky // 2], mode="reflect")
    out = conv2d(x, weight.to(x.device)).reshape(shape)
    return out if floating else out.round().to(img.dtype)


def _inverse_affine(center, angle: float, translate, scale: float, shear) -> list:
    """The six coefficients PIL's AFFINE transform takes (output pixel -> input pixel) for the
    forward map ``p -> C + T + R(angle) SHy(shear_y) SHx(shear_x) scale (p - C)``: angles in
    degrees, clockwise on the screen (y points down), as torchvision's ``affine``."""
    rot = math.radians(angle)
    shear_x, shear_y = (math.radians(s) for s in shear)
    rotate_ = np.array([[math.cos(rot), -math.sin(rot)], [math.sin(rot), math.cos(rot)]])
    shear_y_ = np.array([[1.0, 0.0], [-math.tan(shear_y), 1.0]])
    shear_x_ = np.array([[1.0, -math.tan(shear_x)], [0.0, 1.0]])
    linear = np.linalg.inv(rotate_ @ shear_y_ @ shear_x_ * scale)
    center = np.asarray(center, np.float64)
    offset = center - linear @ (center + np.asarray(translate, np.float64))
    return [*linear[0], offset[0], *linear[1], offset[1]]


def affine(img, angle: float, translate, scale: float, shear,
           interpolation=InterpolationMode.NEAREST, fill=None, center=None):
    """Rotate by ``angle`` (degrees, clockwise), scale, shear (degrees; one value or
    ``[x, y]``) about ``center`` (default: the middle), then shift by ``translate`` pixels.
    Tensors are sampled as torchvision's ``grid_sample`` path (nearest or bilinear), PIL
    images by PIL."""
    if scale <= 0:
        raise ValueError("Argument scale should be positive")
    shear = [float(shear), 0.0] if isinstance(shear, (int, float)) else list(shear) + [0.0]
    _, h, w = get_dimensions(img)
    if isinstance(img, Tensor):
        matrix = _inverse_affine(_grid_warp.centred(center, w, h), angle,
                                 [float(t) for t in translate], scale, shear[:2])
        return _grid_warp.warp_affine(img, matrix, _interpolation_mode(interpolation), fill,
                                      v2=False)
    center = [w * 0.5, h * 0.5] if center is None else center
    coefficients = _inverse_affine(center, angle, translate, scale, shear[:2])
    from PIL import Image
    _check_image(img, "affine")
    return img.transform(img.size, Image.AFFINE, coefficients, _pil_filter(interpolation),
                         fillcolor=_pil_fill(fill, img))


def rotate(img, angle: float, interpolation=InterpolationMode.NEAREST, expand: bool = False,
           center: list | None = None, fill=None):
    """Rotate counter-clockwise by ``angle`` degrees about ``center`` (default: the middle);
    tensors as torchvision's ``grid_sample`` path, PIL images by PIL."""
    if isinstance(img, Tensor):
        h, w = img.shape[-2:]
        matrix = _inverse_affine(_grid_warp.centred(center, w, h), -angle, [0.0, 0.0], 1.0,
                                 [0.0, 0.0])
        return _grid_warp.warp_affine(img, matrix, _interpolation_mode(interpolation), fill,
                                      v2=False, expand=expand)
    _check_image(img, "rotate")
    return img.rotate(angle, _pil_filter(interpolation), expand, center,
                      fillcolor=_pil_fill(fill, img))


def _perspective_coeffs(startpoints, endpoints) -> list:
    """PIL's eight PERSPECTIVE coefficients: the map (x, y) -> ((a x + b y + c) / (g x + h y + 1),
    (d x + e y + f) / (g x + h y + 1)) that takes each end point to its start point."""
    rows, rhs = [], []
    for (xe, ye), (xs, ys) in zip(endpoints, startpoints):
        rows += [[xe, ye, 1, 0, 0, 0, -xs * xe, -xs * ye], [0, 0, 0, xe, ye, 1, -ys * xe, -ys * ye]]
        rhs += [xs, ys]
    solution = np.linalg.lstsq(np.asarray(rows, np.float64), np.asarray(rhs, np.float64),
                               rcond=None)[0]
    return solution.astype(np.float32).tolist()


def perspective(img, startpoints, endpoints, interpolation=InterpolationMode.BILINEAR,
                fill=None):
    """Warp the image so that the four ``startpoints`` (``[x, y]`` corners: top-left, top-right,
    bottom-right, bottom-left) land on ``endpoints``; uncovered pixels get ``fill``."""
    if len(startpoints) != 4 or len(endpoints) != 4:
        raise ValueError("Please provide exactly four corners for startpoints and endpoints.")
    coefficients = _perspective_coeffs(startpoints, endpoints)
    if isinstance(img, Tensor):
        return _grid_warp.warp_perspective(img, coefficients, _interpolation_mode(interpolation),
                                           fill, v2=False)
    from PIL import Image
    _check_image(img, "perspective")
    return img.transform(img.size, Image.PERSPECTIVE, coefficients, _pil_filter(interpolation),
                         fillcolor=_pil_fill(fill, img))


def elastic_transform(img, displacement: Tensor, interpolation=InterpolationMode.BILINEAR,
                      fill=None):
    """Move every pixel by ``displacement`` (shape ``(1, H, W, 2)``, x then y, in grid_sample's
    normalised units: 1 is half the width or height), sampled as torchvision's
    ``grid_sample`` path (zeros outside, then blended towards ``fill`` there). A PIL image is
    warped as its tensor."""
    if not isinstance(displacement, Tensor):
        raise TypeError("Argument displacement should be a Tensor")
    if not isinstance(img, Tensor):
        _check_image(img, "elastic_transform")
        out = elastic_transform(pil_to_tensor(img), displacement, interpolation, fill)
        return to_pil_image(out, mode=img.mode)
    return _grid_warp.warp_elastic(img, displacement, _interpolation_mode(interpolation), fill,
                                   v2=False)


def five_crop(img, size) -> tuple:
    """The four corner crops and the centre crop of ``size``: (tl, tr, bl, br, center)."""
    th, tw = _size_pair(size)
    _, h, w = get_dimensions(img)
    if th > h or tw > w:
        raise ValueError(f"Requested crop size {(th, tw)} is bigger than input size {(h, w)}")
    return (crop(img, 0, 0, th, tw), crop(img, 0, w - tw, th, tw), crop(img, h - th, 0, th, tw),
            crop(img, h - th, w - tw, th, tw), center_crop(img, [th, tw]))


def ten_crop(img, size, vertical_flip: bool = False) -> tuple:
    """``five_crop`` of the image and of its flip (horizontal, or vertical if asked)."""
    flipped = vflip(img) if vertical_flip else hflip(img)
    return five_crop(img, size) + five_crop(flipped, size)


__all__ = ["InterpolationMode", "adjust_brightness", "adjust_contrast", "adjust_gamma",
           "adjust_hue", "adjust_saturation", "adjust_sharpness", "affine", "autocontrast",
           "center_crop", "convert_image_dtype", "crop", "elastic_transform", "equalize", "erase",
           "five_crop", "gaussian_blur", "get_dimensions", "get_image_size", "hflip", "invert",
           "normalize", "pad", "perspective", "pil_to_tensor", "posterize", "resize",
           "resized_crop", "rgb_to_grayscale", "rotate", "solarize", "ten_crop", "to_grayscale",
           "to_pil_image", "to_tensor", "vflip"]
