"""Geometric v2 transforms: images, videos, masks and boxes of one sample move together."""
from __future__ import annotations

import numbers
from typing import Any, Sequence

import ember
from ember.vision.transforms import transforms as _v1
from ember.vision.transforms.functional import InterpolationMode, _size_pair
from ember.vision.transforms.v2 import functional as F
from ember.vision.transforms.v2._transform import Transform, _RandomApplyTransform
from ember.vision.transforms.v2._utils import _is_pil, query_size


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
        return self._call_kernel(F.pad, inpt, self.padding, _fill_for(self.fill, inpt),
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
            inpt = self._call_kernel(F.pad, inpt, params["padding"], _fill_for(self.fill, inpt),
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


def _pil_ready(fill, inpt):
    """``fill`` for ``inpt``, one number per band for a multi-band PIL image (as v1's random
    rotations and affines hand PIL)."""
    fill = _fill_for(fill, inpt)
    if _is_pil(inpt) and isinstance(fill, (int, float)) and len(inpt.getbands()) > 1:
        return tuple([fill] * len(inpt.getbands()))
    return fill


__all__ = ["CenterCrop", "Pad", "RandomAffine", "RandomCrop", "RandomHorizontalFlip",
           "RandomResizedCrop", "RandomRotation", "RandomVerticalFlip", "Resize"]
