"""Geometric v2 transforms: images, videos, masks and boxes of one sample move together."""
from __future__ import annotations

import numbers
import warnings
from typing import Any, Sequence

import numpy as np

import ember
from ember._tensor import Tensor
from ember.vision import tv_tensors
from ember.vision.ops.boxes import box_iou
from ember.vision.transforms import transforms as _v1
from ember.vision.transforms.functional import InterpolationMode, _size_pair
from ember.vision.transforms.transforms import _randint, _rng
from ember.vision.transforms.v2 import functional as F
from ember.vision.transforms.v2._transform import Transform, _RandomApplyTransform
from ember.vision.transforms.v2._utils import (
    _is_pil,
    get_bounding_boxes,
    has_any,
    is_pure_tensor,
    query_size,
)
from ember.vision.tv_tensors._tv_tensor import _view_as


def _canvas(height: int, width: int):
    """An empty stand-in of ``(0, height, width)`` for v1's ``get_params``, which read only the
    size: v2 draws its parameters exactly as v1 does."""
    return ember.empty((0, height, width))


def _fill_for(fill, inpt):
    """``fill`` for ``inpt``: one value for all, or a dict from TVTensor type (or ``"others"``)
    to value, as torchvision's ``fill`` may be."""
    if not isinstance(fill, dict):
        return fill
    for cls in type(inpt).__mro__:
        if cls in fill:
            return fill[cls]
    return fill.get("others")


def _pad_fill(fill, inpt):
    """``fill`` for padding ``inpt``: a type the dict leaves out is padded with 0, as
    ``F.pad`` pads with None."""
    value = _fill_for(fill, inpt)
    return 0 if value is None else value


def _check_fill(fill) -> None:
    values = fill.values() if isinstance(fill, dict) else [fill]
    for value in values:
        if value is not None and not isinstance(value, (numbers.Number, tuple, list)):
            raise TypeError("Got inappropriate fill arg, only Numbers, tuples, lists and dicts "
                            "are allowed.")


class RandomHorizontalFlip(_RandomApplyTransform):
    """Flip the sample left-right with probability ``p``."""

    def transform(self, inpt: Any, params: dict) -> Any:
        return self._call_kernel(F.horizontal_flip, inpt)


class RandomVerticalFlip(_RandomApplyTransform):
    """Flip the sample top-bottom with probability ``p``."""

    def transform(self, inpt: Any, params: dict) -> Any:
        return self._call_kernel(F.vertical_flip, inpt)


class Resize(Transform):
    """Resize to ``size`` (h, w), or match the smaller edge to ``size`` (an int); masks are
    resized with nearest-neighbour sampling."""

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR,
                 max_size: int | None = None, antialias: bool | None = True) -> None:
        super().__init__()
        if isinstance(size, int):
            size = [size]
        elif len(size) not in (1, 2):
            raise ValueError(f"size can be an integer or a sequence of one or two integers, "
                             f"but got {size}")
        self.size = size
        self.interpolation = InterpolationMode(interpolation)
        self.max_size = max_size
        self.antialias = antialias

    def transform(self, inpt: Any, params: dict) -> Any:
        return self._call_kernel(F.resize, inpt, self.size, self.interpolation, self.max_size,
                                 self.antialias)


class CenterCrop(Transform):
    """The centred ``size`` region (zero-padded when the input is smaller)."""

    def __init__(self, size) -> None:
        super().__init__()
        self.size = _size_pair(size)

    def transform(self, inpt: Any, params: dict) -> Any:
        return self._call_kernel(F.center_crop, inpt, self.size)


class Pad(Transform):
    """Pad the borders by ``padding`` with ``fill`` (or by edge, reflect, symmetric)."""

    def __init__(self, padding, fill=0, padding_mode: str = "constant") -> None:
        super().__init__()
        if not isinstance(padding, (numbers.Number, tuple, list)):
            raise TypeError("Got inappropriate padding arg")
        if isinstance(padding, Sequence) and len(padding) not in (1, 2, 4):
            raise ValueError("Padding must be an int or a 1, 2, or 4 element tuple, not a "
                             f"{len(padding)} element tuple")
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ValueError("Padding mode should be either constant, edge, reflect or "
                             "symmetric")
        _check_fill(fill)
        self.padding, self.fill, self.padding_mode = padding, fill, padding_mode

    def transform(self, inpt: Any, params: dict) -> Any:
        return self._call_kernel(F.pad, inpt, self.padding, _pad_fill(self.fill, inpt),
                                 self.padding_mode)


class RandomCrop(Transform):
    """A random ``size`` crop, after optional ``padding`` (and padding up to ``size`` if
    ``pad_if_needed``); the crop is drawn as v1's."""

    def __init__(self, size, padding=None, pad_if_needed: bool = False, fill=0,
                 padding_mode: str = "constant") -> None:
        super().__init__()
        self.size = _size_pair(size)
        _check_fill(fill)
        self.padding, self.pad_if_needed = padding, pad_if_needed
        self.fill, self.padding_mode = fill, padding_mode

    def make_params(self, flat_inputs: list) -> dict:
        h, w = query_size(flat_inputs)
        left = top = right = bottom = 0
        if self.padding is not None:
            left, top, right, bottom = F._v1._pad4(self.padding)
            h, w = h + top + bottom, w + left + right
        th, tw = self.size
        if self.pad_if_needed and w < tw:  # v1 pads both sides by the shortfall
            left, right, w = left + tw - w, right + tw - w, w + 2 * (tw - w)
        if self.pad_if_needed and h < th:
            top, bottom, h = top + th - h, bottom + th - h, h + 2 * (th - h)
        i, j, _, _ = _v1.RandomCrop.get_params(_canvas(h, w), self.size)
        return {"padding": [left, top, right, bottom], "top": i, "left": j}

    def transform(self, inpt: Any, params: dict) -> Any:
        if any(params["padding"]):
            inpt = self._call_kernel(F.pad, inpt, params["padding"], _pad_fill(self.fill, inpt),
                                     self.padding_mode)
        return self._call_kernel(F.crop, inpt, params["top"], params["left"], *self.size)


class RandomResizedCrop(Transform):
    """A crop of random area (``scale``) and aspect ratio (``ratio``), drawn as v1's, resized
    to ``size``."""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0),
                 interpolation=InterpolationMode.BILINEAR,
                 antialias: bool | None = True) -> None:
        super().__init__()
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            raise ValueError("Scale and ratio should be of kind (min, max)")
        self.size = _size_pair(size)
        self.scale, self.ratio = scale, ratio
        self.interpolation = InterpolationMode(interpolation)
        self.antialias = antialias

    def make_params(self, flat_inputs: list) -> dict:
        h, w = query_size(flat_inputs)
        top, left, height, width = _v1.RandomResizedCrop.get_params(_canvas(h, w), self.scale,
                                                                    self.ratio)
        return {"top": top, "left": left, "height": height, "width": width}

    def transform(self, inpt: Any, params: dict) -> Any:
        return self._call_kernel(F.resized_crop, inpt, params["top"], params["left"],
                                 params["height"], params["width"], self.size,
                                 self.interpolation, self.antialias)


class RandomRotation(Transform):
    """Rotate by an angle drawn uniformly from ``degrees`` (``d`` means ``(-d, d)``); boxes
    become the boxes enclosing their turned corners."""

    def __init__(self, degrees, interpolation=InterpolationMode.NEAREST, expand: bool = False,
                 center=None, fill=0) -> None:
        super().__init__()
        _check_fill(fill)
        self.degrees = _v1._symmetric(degrees, "degrees")
        self.interpolation = InterpolationMode(interpolation)
        self.expand, self.center, self.fill = expand, center, fill

    def make_params(self, flat_inputs: list) -> dict:
        return {"angle": _v1.RandomRotation.get_params(self.degrees)}

    def transform(self, inpt: Any, params: dict) -> Any:
        return self._call_kernel(F.rotate, inpt, params["angle"], self.interpolation,
                                 self.expand, self.center, _pil_ready(self.fill, inpt))


class RandomAffine(Transform):
    """A random affine map about the centre, drawn as v1's ``RandomAffine``; boxes become the
    boxes enclosing their mapped corners, clamped to the canvas."""

    def __init__(self, degrees, translate=None, scale=None, shear=None,
                 interpolation=InterpolationMode.NEAREST, fill=0, center=None) -> None:
        super().__init__()
        _check_fill(fill)
        v1 = _v1.RandomAffine(degrees, translate, scale, shear)  # validates as v1 does
        self.degrees, self.translate, self.scale, self.shear = (v1.degrees, v1.translate,
                                                                v1.scale, v1.shear)
        self.interpolation = InterpolationMode(interpolation)
        self.fill, self.center = fill, center

    def make_params(self, flat_inputs: list) -> dict:
        h, w = query_size(flat_inputs)
        angle, translate, scale, shear = _v1.RandomAffine.get_params(
            self.degrees, self.translate, self.scale, self.shear, [w, h])
        return {"angle": angle, "translate": translate, "scale": scale, "shear": shear}

    def transform(self, inpt: Any, params: dict) -> Any:
        return self._call_kernel(F.affine, inpt, params["angle"], params["translate"],
                                 params["scale"], params["shear"], self.interpolation,
                                 _pil_ready(self.fill, inpt), self.center)


def _rand(n: int) -> np.ndarray:
    """``torch.rand(n)``: float32 draws, kept float32 so the products below round as
    torchvision's tensor arithmetic does."""
    return _rng().uniform((n,), np.float32, 0.0, 1.0)


def _scaled(low: float, high: float) -> np.float32:
    """``low + torch.rand(1) * (high - low)`` in float32."""
    return np.float32(low) + _rand(1)[0] * np.float32(high - low)


class RandomZoomOut(_RandomApplyTransform):
    """With probability ``p``, place the sample at a random spot of a canvas ``side_range``
    times larger (a factor drawn per sample), filled with ``fill`` (SSD's zoom out)."""

    def __init__(self, fill=0, side_range: Sequence[float] = (1.0, 4.0), p: float = 0.5) -> None:
        super().__init__(p=p)
        _check_fill(fill)
        if len(side_range) != 2:
            raise ValueError(f"side_range should be a sequence of length 2. Got {len(side_range)}")
        if side_range[0] < 1.0 or side_range[0] > side_range[1]:
            raise ValueError(f"Invalid side range provided {side_range}.")
        self.fill, self.side_range = fill, side_range

    def make_params(self, flat_inputs: list) -> dict:
        orig_h, orig_w = query_size(flat_inputs)
        r = _scaled(*self.side_range)
        canvas_w, canvas_h = int(np.float32(orig_w) * r), int(np.float32(orig_h) * r)
        r = _rand(2)
        left = int(np.float32(canvas_w - orig_w) * r[0])
        top = int(np.float32(canvas_h - orig_h) * r[1])
        return {"padding": [left, top, canvas_w - (left + orig_w), canvas_h - (top + orig_h)]}

    def transform(self, inpt: Any, params: dict) -> Any:
        return self._call_kernel(F.pad, inpt, params["padding"], _pad_fill(self.fill, inpt))


class RandomIoUCrop(Transform):
    """SSD's random crop: pick a minimal IoU from ``sampler_options`` (1.0 or more keeps the
    sample), then try ``trials`` crops of random scale and aspect ratio until one holds a box
    centre and overlaps some such box by that IoU. Boxes whose centre falls outside are zeroed,
    for a later ``SanitizeBoundingBoxes`` to drop."""

    def __init__(self, min_scale: float = 0.3, max_scale: float = 1.0,
                 min_aspect_ratio: float = 0.5, max_aspect_ratio: float = 2.0,
                 sampler_options: list | None = None, trials: int = 40) -> None:
        super().__init__()
        self.min_scale, self.max_scale = min_scale, max_scale
        self.min_aspect_ratio, self.max_aspect_ratio = min_aspect_ratio, max_aspect_ratio
        self.options = [0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0] if sampler_options is None \
            else sampler_options
        self.trials = trials

    def _check_inputs(self, flat_inputs: list) -> None:
        has_boxes = any(isinstance(x, tv_tensors.BoundingBoxes) for x in flat_inputs)
        has_image = any(_is_pil(x) or is_pure_tensor(x) or isinstance(x, tv_tensors.Image)
                        for x in flat_inputs)
        if not (has_boxes and has_image):
            raise TypeError(f"{type(self).__name__}() requires input sample to contain tensor or "
                            "PIL images and bounding boxes. Sample can also contain masks.")

    def make_params(self, flat_inputs: list) -> dict:
        self._check_inputs(flat_inputs)
        orig_h, orig_w = query_size(flat_inputs)
        boxes = get_bounding_boxes(flat_inputs)
        xyxy = F.convert_bounding_box_format(_view_as(boxes, Tensor), boxes.format,
                                             tv_tensors.BoundingBoxFormat.XYXY)
        cx, cy = 0.5 * (xyxy[..., 0] + xyxy[..., 2]), 0.5 * (xyxy[..., 1] + xyxy[..., 3])
        while True:
            min_iou = self.options[_randint(0, len(self.options))]
            if min_iou >= 1.0:
                return {}
            for _ in range(self.trials):
                r = np.float32(self.min_scale) + np.float32(
                    self.max_scale - self.min_scale) * _rand(2)
                new_w, new_h = int(np.float32(orig_w) * r[0]), int(np.float32(orig_h) * r[1])
                if not self.min_aspect_ratio <= new_w / new_h <= self.max_aspect_ratio:
                    continue
                r = _rand(2)
                left = int(np.float32(orig_w - new_w) * r[0])
                top = int(np.float32(orig_h - new_h) * r[1])
                right, bottom = left + new_w, top + new_h
                if left == right or top == bottom:
                    continue
                inside = (left < cx) & (cx < right) & (top < cy) & (cy < bottom)
                if not bool(inside.any()):
                    continue
                crop = ember.tensor([[left, top, right, bottom]], dtype=xyxy.dtype)
                if float(box_iou(xyxy[inside], crop).max()) < min_iou:
                    continue
                return {"top": top, "left": left, "height": new_h, "width": new_w,
                        "is_within_crop_area": inside}

    def transform(self, inpt: Any, params: dict) -> Any:
        if not params:
            return inpt
        output = self._call_kernel(F.crop, inpt, params["top"], params["left"],
                                   params["height"], params["width"])
        if isinstance(output, tv_tensors.BoundingBoxes):
            output[~params["is_within_crop_area"]] = 0
        return output


class ScaleJitter(Transform):
    """Large scale jitter (Copy-Paste): resize by a factor drawn from ``scale_range`` times the
    scale that fits the sample into ``target_size`` (height, width)."""

    def __init__(self, target_size: tuple, scale_range: tuple = (0.1, 2.0),
                 interpolation=InterpolationMode.BILINEAR,
                 antialias: bool | None = True) -> None:
        super().__init__()
        self.target_size, self.scale_range = target_size, scale_range
        self.interpolation = InterpolationMode(interpolation)
        self.antialias = antialias

    def make_params(self, flat_inputs: list) -> dict:
        orig_h, orig_w = query_size(flat_inputs)
        scale = _scaled(*self.scale_range)
        r = np.float32(min(self.target_size[1] / orig_h, self.target_size[0] / orig_w)) * scale
        return {"size": (int(np.float32(orig_h) * r), int(np.float32(orig_w) * r))}

    def transform(self, inpt: Any, params: dict) -> Any:
        return self._call_kernel(F.resize, inpt, params["size"], self.interpolation, None,
                                 self.antialias)


class RandomShortestSize(Transform):
    """Resize so the shorter edge is one of ``min_size`` (picked at random), the longer edge
    staying within ``max_size``."""

    def __init__(self, min_size, max_size: int | None = None,
                 interpolation=InterpolationMode.BILINEAR,
                 antialias: bool | None = True) -> None:
        super().__init__()
        self.min_size = [min_size] if isinstance(min_size, int) else list(min_size)
        self.max_size = max_size
        self.interpolation = InterpolationMode(interpolation)
        self.antialias = antialias

    def make_params(self, flat_inputs: list) -> dict:
        orig_h, orig_w = query_size(flat_inputs)
        min_size = self.min_size[_randint(0, len(self.min_size))]
        r = min_size / min(orig_h, orig_w)
        if self.max_size is not None:
            r = min(r, self.max_size / max(orig_h, orig_w))
        return {"size": (int(orig_h * r), int(orig_w * r))}

    def transform(self, inpt: Any, params: dict) -> Any:
        return self._call_kernel(F.resize, inpt, params["size"], self.interpolation, None,
                                 self.antialias)


class RandomResize(Transform):
    """Resize the shorter edge to a size drawn uniformly from ``[min_size, max_size)``."""

    def __init__(self, min_size: int, max_size: int, interpolation=InterpolationMode.BILINEAR,
                 antialias: bool | None = True) -> None:
        super().__init__()
        self.min_size, self.max_size = min_size, max_size
        self.interpolation = InterpolationMode(interpolation)
        self.antialias = antialias

    def make_params(self, flat_inputs: list) -> dict:
        return {"size": [_randint(self.min_size, self.max_size)]}

    def transform(self, inpt: Any, params: dict) -> Any:
        return self._call_kernel(F.resize, inpt, params["size"], self.interpolation, None,
                                 self.antialias)


def _warp_fill(fill, inpt):
    """``fill`` for a perspective or elastic warp of ``inpt``: one float per channel for
    tensor images, as v1's random warps hand their kernels."""
    fill = _pil_ready(fill, inpt)
    if isinstance(inpt, (tv_tensors.Image, tv_tensors.Video)) or is_pure_tensor(inpt):
        return _v1._tensor_fill(inpt, fill, F.get_dimensions(inpt)[0])
    return fill


class RandomPerspective(_RandomApplyTransform):
    """With probability ``p``, a random perspective warp (drawn as v1's): each corner moves
    inwards by up to ``distortion_scale`` times half the width and height; boxes become the
    boxes enclosing their moved corners."""

    def __init__(self, distortion_scale: float = 0.5, p: float = 0.5,
                 interpolation=InterpolationMode.BILINEAR, fill=0) -> None:
        super().__init__(p=p)
        if not 0 <= distortion_scale <= 1:
            raise ValueError("Argument distortion_scale value should be between 0 and 1")
        _check_fill(fill)
        self.distortion_scale = distortion_scale
        self.interpolation = InterpolationMode(interpolation)
        self.fill = fill

    def make_params(self, flat_inputs: list) -> dict:
        h, w = query_size(flat_inputs)
        start, end = _v1.RandomPerspective.get_params(w, h, self.distortion_scale)
        return {"coefficients": _v1.F._perspective_coeffs(start, end)}

    def transform(self, inpt: Any, params: dict) -> Any:
        return self._call_kernel(F.perspective, inpt, None, None, self.interpolation,
                                 _warp_fill(self.fill, inpt), params["coefficients"])


class ElasticTransform(Transform):
    """Move pixels by a random displacement field: uniform noise in [-1, 1] per pixel, blurred
    with a Gaussian of ``sigma`` and scaled by ``alpha`` pixels (x, then y); boxes and points
    move with the field at their pixels."""

    def __init__(self, alpha=50.0, sigma=5.0, interpolation=InterpolationMode.BILINEAR,
                 fill=0) -> None:
        super().__init__()
        _check_fill(fill)
        self.alpha = _v1._pair_of_floats(alpha, "alpha")
        self.sigma = _v1._pair_of_floats(sigma, "sigma")
        self.interpolation = InterpolationMode(interpolation)
        self.fill = fill

    def make_params(self, flat_inputs: list) -> dict:
        h, w = query_size(flat_inputs)
        fields = []
        for axis, extent in ((0, w), (1, h)):  # v2 scales x by the width, y by the height
            field = ember.from_numpy(_rng().uniform((1, 1, h, w), np.float32)) * 2 - 1
            if self.sigma[axis] > 0.0:
                k = int(8 * self.sigma[axis] + 1)
                k += 1 - k % 2  # odd
                field = F.gaussian_blur(field, [k, k], list(self.sigma))
            fields.append(field * self.alpha[axis] / extent)
        return {"displacement": ember.cat(fields, 1).permute(0, 2, 3, 1)}

    def transform(self, inpt: Any, params: dict) -> Any:
        return self._call_kernel(F.elastic, inpt, params["displacement"], self.interpolation,
                                 _warp_fill(self.fill, inpt))


class FiveCrop(Transform):
    """The four corner crops and the centre crop of ``size`` of each image, as a tuple; boxes,
    masks and points are refused (torchvision passes points through, with a warning)."""

    def __init__(self, size) -> None:
        super().__init__()
        self.size = _size_pair(size)

    def check_inputs(self, flat_inputs: list) -> None:
        if has_any(flat_inputs, tv_tensors.BoundingBoxes, tv_tensors.Mask):
            raise TypeError(f"BoundingBoxes'es and Mask's are not supported by "
                            f"{type(self).__name__}()")

    def _call_kernel(self, functional, inpt, *args, **kwargs):
        if isinstance(inpt, (tv_tensors.BoundingBoxes, tv_tensors.KeyPoints, tv_tensors.Mask)):
            warnings.warn(f"{type(self).__name__}() is currently passing through inputs of type "
                          f"tv_tensors.{type(inpt).__name__}. This will likely change in the "
                          "future.", stacklevel=2)
        return super()._call_kernel(functional, inpt, *args, **kwargs)

    def transform(self, inpt: Any, params: dict) -> Any:
        return self._call_kernel(F.five_crop, inpt, self.size)


class TenCrop(FiveCrop):
    """``FiveCrop`` of each image and of its horizontal (or vertical) flip."""

    def __init__(self, size, vertical_flip: bool = False) -> None:
        super().__init__(size)
        self.vertical_flip = vertical_flip

    def transform(self, inpt: Any, params: dict) -> Any:
        return self._call_kernel(F.ten_crop, inpt, self.size, self.vertical_flip)


def _pil_ready(fill, inpt):
    """``fill`` for ``inpt``, one number per band for a multi-band PIL image (as v1's random
    rotations and affines hand PIL)."""
    fill = _fill_for(fill, inpt)
    if _is_pil(inpt) and isinstance(fill, (int, float)) and len(inpt.getbands()) > 1:
        return tuple([fill] * len(inpt.getbands()))
    return fill


__all__ = ["CenterCrop", "ElasticTransform", "FiveCrop", "Pad", "RandomAffine", "RandomCrop",
           "RandomHorizontalFlip", "RandomIoUCrop", "RandomPerspective", "RandomResize",
           "RandomResizedCrop", "RandomRotation", "RandomShortestSize", "RandomVerticalFlip",
           "RandomZoomOut", "Resize", "ScaleJitter", "TenCrop"]
