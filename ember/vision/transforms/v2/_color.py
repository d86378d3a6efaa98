"""Colour v2 transforms: they change images and videos; masks and boxes pass through."""
from __future__ import annotations

from typing import Any

from ember.vision.transforms import transforms as _v1
from ember.vision.transforms.transforms import _rng, _uniform
from ember.vision.transforms.v2 import functional as F
from ember.vision.transforms.v2._transform import Transform, _RandomApplyTransform
from ember.vision.transforms.v2._utils import _is_pil, is_pure_tensor, query_chw
from ember.vision.tv_tensors import Image, Video


class Grayscale(Transform):
    """Convert to greyscale with ``num_output_channels`` (1 or 3) channels."""

    def __init__(self, num_output_channels: int = 1) -> None:
        super().__init__()
        if num_output_channels not in (1, 3):
            raise ValueError("num_output_channels should be either 1 or 3")
        self.num_output_channels = num_output_channels

    def transform(self, inpt: Any, params: dict) -> Any:
        return self._call_kernel(F.rgb_to_grayscale, inpt, self.num_output_channels)


class RGB(Transform):
    """Make images three-channel: greyscale images are repeated, RGB ones kept."""

    def transform(self, inpt: Any, params: dict) -> Any:
        return self._call_kernel(F.grayscale_to_rgb, inpt)


class ColorJitter(Transform):
    """Random brightness, contrast, saturation and hue changes in a random order, drawn as
    v1's ``ColorJitter``; one draw per sample."""

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0) -> None:
        super().__init__()
        v1 = _v1.ColorJitter(brightness, contrast, saturation, hue)  # validates as v1 does
        self.brightness, self.contrast = v1.brightness, v1.contrast
        self.saturation, self.hue = v1.saturation, v1.hue

    def make_params(self, flat_inputs: list) -> dict:
        order, b, c, s, h = _v1.ColorJitter.get_params(self.brightness, self.contrast,
                                                       self.saturation, self.hue)
        return {"order": order, "factors": [b, c, s, h]}

    def transform(self, inpt: Any, params: dict) -> Any:
        ops = [F.adjust_brightness, F.adjust_contrast, F.adjust_saturation, F.adjust_hue]
        for i in params["order"]:
            factor = params["factors"][i]
            if factor is not None:
                inpt = self._call_kernel(ops[i], inpt, factor)
        return inpt


class RandomChannelPermutation(Transform):
    """Shuffle the channels of images and videos (one permutation per sample)."""

    def make_params(self, flat_inputs: list) -> dict:
        return {"permutation": _rng().permutation(query_chw(flat_inputs)[0]).tolist()}

    def transform(self, inpt: Any, params: dict) -> Any:
        return self._call_kernel(F.permute_channels, inpt, params["permutation"])


class RandomPhotometricDistort(Transform):
    """SSD's photometric distortion: each of brightness, contrast, saturation and hue changes
    with probability ``p`` by a factor drawn from its range, contrast before or after the rest
    (a coin toss), then the channels are shuffled with probability ``p``."""

    def __init__(self, brightness: tuple = (0.875, 1.125), contrast: tuple = (0.5, 1.5),
                 saturation: tuple = (0.5, 1.5), hue: tuple = (-0.05, 0.05),
                 p: float = 0.5) -> None:
        super().__init__()
        self.brightness, self.contrast, self.hue = brightness, contrast, hue
        self.saturation, self.p = saturation, p

    def make_params(self, flat_inputs: list) -> dict:
        channels = query_chw(flat_inputs)[0]
        params = {}
        for key, (low, high) in [("brightness_factor", self.brightness),
                                 ("contrast_factor", self.contrast),
                                 ("saturation_factor", self.saturation),
                                 ("hue_factor", self.hue)]:
            params[key] = _uniform(low, high) if _uniform(0, 1) < self.p else None
        params["contrast_before"] = _uniform(0, 1) < 0.5
        params["channel_permutation"] = (_rng().permutation(channels).tolist()
                                         if _uniform(0, 1) < self.p else None)
        return params

    def transform(self, inpt: Any, params: dict) -> Any:
        contrast = params["contrast_factor"]
        if params["brightness_factor"] is not None:
            inpt = self._call_kernel(F.adjust_brightness, inpt, params["brightness_factor"])
        if contrast is not None and params["contrast_before"]:
            inpt = self._call_kernel(F.adjust_contrast, inpt, contrast)
        if params["saturation_factor"] is not None:
            inpt = self._call_kernel(F.adjust_saturation, inpt, params["saturation_factor"])
        if params["hue_factor"] is not None:
            inpt = self._call_kernel(F.adjust_hue, inpt, params["hue_factor"])
        if contrast is not None and not params["contrast_before"]:
            inpt = self._call_kernel(F.adjust_contrast, inpt, contrast)
        if params["channel_permutation"] is not None:
            inpt = self._call_kernel(F.permute_channels, inpt, params["channel_permutation"])
        return inpt


class RandomGrayscale(_RandomApplyTransform):
    """Convert to greyscale, keeping the number of channels, with probability ``p``."""

    def __init__(self, p: float = 0.1) -> None:
        super().__init__(p)

    def make_params(self, flat_inputs: list) -> dict:
        image = next((i for i in flat_inputs
                      if _is_pil(i) or is_pure_tensor(i) or isinstance(i, (Image, Video))), None)
        return {"num_output_channels": None if image is None else F.get_dimensions(image)[0]}

    def transform(self, inpt: Any, params: dict) -> Any:
        return self._call_kernel(F.rgb_to_grayscale, inpt, params["num_output_channels"])


class GaussianBlur(Transform):
    """Blur with a Gaussian of ``kernel_size`` whose sigma is drawn (as v1's) from ``sigma``."""

    def __init__(self, kernel_size, sigma=(0.1, 2.0)) -> None:
        super().__init__()
        v1 = _v1.GaussianBlur(kernel_size, sigma)  # validates as v1 does
        self.kernel_size, self.sigma = v1.kernel_size, v1.sigma

    def make_params(self, flat_inputs: list) -> dict:
        sigma = _v1.GaussianBlur.get_params(*self.sigma)
        return {"sigma": [sigma, sigma]}

    def transform(self, inpt: Any, params: dict) -> Any:
        return self._call_kernel(F.gaussian_blur, inpt, self.kernel_size, params["sigma"])


class RandomInvert(_RandomApplyTransform):
    """Invert the colours with probability ``p``."""

    def transform(self, inpt: Any, params: dict) -> Any:
        return self._call_kernel(F.invert, inpt)


class RandomAutocontrast(_RandomApplyTransform):
    """Stretch each channel to the full range with probability ``p``."""

    def transform(self, inpt: Any, params: dict) -> Any:
        return self._call_kernel(F.autocontrast, inpt)


class RandomEqualize(_RandomApplyTransform):
    """Equalise each channel's histogram with probability ``p``."""

    def transform(self, inpt: Any, params: dict) -> Any:
        return self._call_kernel(F.equalize, inpt)


class RandomPosterize(_RandomApplyTransform):
    """Keep the top ``bits`` bits of each channel with probability ``p``."""

    def __init__(self, bits: int, p: float = 0.5) -> None:
        super().__init__(p)
        self.bits = bits

    def transform(self, inpt: Any, params: dict) -> Any:
        return self._call_kernel(F.posterize, inpt, self.bits)


class RandomSolarize(_RandomApplyTransform):
    """Invert the pixels at or above ``threshold`` with probability ``p``."""

    def __init__(self, threshold: float, p: float = 0.5) -> None:
        super().__init__(p)
        self.threshold = threshold

    def transform(self, inpt: Any, params: dict) -> Any:
        return self._call_kernel(F.solarize, inpt, self.threshold)


class RandomAdjustSharpness(_RandomApplyTransform):
    """Change the sharpness by ``sharpness_factor`` with probability ``p``."""

    def __init__(self, sharpness_factor: float, p: float = 0.5) -> None:
        super().__init__(p)
        if sharpness_factor < 0:
            raise ValueError("sharpness_factor should be non-negative")
        self.sharpness_factor = sharpness_factor

    def transform(self, inpt: Any, params: dict) -> Any:
        return self._call_kernel(F.adjust_sharpness, inpt, self.sharpness_factor)


__all__ = ["ColorJitter", "GaussianBlur", "Grayscale", "RandomAdjustSharpness",
           "RandomAutocontrast", "RandomChannelPermutation", "RandomEqualize", "RandomGrayscale",
           "RandomInvert", "RandomPhotometricDistort", "RandomPosterize", "RandomSolarize", "RGB"]
