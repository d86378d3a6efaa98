"""Image transforms as callable objects (torchvision.transforms' classes).

Random transforms draw from ember's global RNG, so ``ember.manual_seed`` makes them
reproducible and each DataLoader worker (seeded differently) draws its own values.
"""
from __future__ import annotations

import math
import numbers
import random
from typing import Callable, Sequence

import numpy as np

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.vision.transforms import functional as F
from ember.vision.transforms.functional import InterpolationMode, _size_pair


def _rng():
    """The default generator's stream: torchvision draws with ``torch.rand``/``randint``."""
    from ember.random import default_generator
    return default_generator.draws()


def _uniform(low: float, high: float) -> float:
    """``float(torch.empty(1).uniform_(low, high))``."""
    return float(_rng().uniform((1,), np.float32, low, high)[0])


def _randint(low: int, high: int) -> int:
    """``int(torch.randint(low, high, (1,)))``."""
    return int(_rng().integers(low, high, (1,), np.int64)[0])


class Compose:
    """Apply ``transforms`` one after another.

    Example::

        >>> t = Compose([ToTensor(), Normalize((0.1307,), (0.3081,))])
    """

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = transforms

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self) -> str:
        body = "".join(f"\n    {t}" for t in self.transforms)
        return f"{self.__class__.__name__}({body}\n)"


class _Transform:
    """A transform's call runs its ``forward``, as torchvision's modules do: a subclass that
    overrides ``forward`` and calls ``super().forward`` changes what calling it does."""

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self._args()})"

    def _args(self) -> str:
        return ""


class ToTensor(_Transform):
    """PIL image / HWC ndarray -> float CHW tensor in [0, 1] (for 8-bit images)."""

    def forward(self, pic) -> Tensor:
        return F.to_tensor(pic)


class PILToTensor(_Transform):
    """PIL image -> CHW tensor of the image's dtype, unscaled."""

    def forward(self, pic) -> Tensor:
        return F.pil_to_tensor(pic)


class ToPILImage(_Transform):
    """CHW tensor / HWC ndarray -> PIL image."""

    def __init__(self, mode: str | None = None) -> None:
        self.mode = mode

    def forward(self, pic):
        return F.to_pil_image(pic, self.mode)


class ConvertImageDtype(_Transform):
    """Cast an image tensor to ``dtype``, rescaling values."""

    def __init__(self, dtype) -> None:
        self.dtype = _dt.to_dtype(dtype)

    def forward(self, image: Tensor) -> Tensor:
        return F.convert_image_dtype(image, self.dtype)


class Normalize(_Transform):
    """``(x - mean) / std`` per channel."""

    def __init__(self, mean: Sequence[float], std: Sequence[float],
                 inplace: bool = False) -> None:
        self.mean = mean
        self.std = std
        self.inplace = inplace

    def forward(self, tensor: Tensor) -> Tensor:
        return F.normalize(tensor, self.mean, self.std, self.inplace)

    def _args(self) -> str:
        return f"mean={self.mean}, std={self.std}"


class Resize(_Transform):
    """Resize to ``size`` (h, w), or the smaller edge to ``size`` keeping the aspect ratio."""

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR,
                 max_size: int | None = None, antialias: bool | None = True) -> None:
        self.size = size
        self.interpolation = F._interpolation_mode(interpolation)
        self.max_size = max_size
        self.antialias = antialias

    def forward(self, img):
        return F.resize(img, self.size, self.interpolation, self.max_size, self.antialias)

    def _args(self) -> str:
        mode = InterpolationMode(self.interpolation).value
        return (f"size={self.size}, interpolation={mode}, max_size={self.max_size}, "
                f"antialias={self.antialias}")


class CenterCrop(_Transform):
    def __init__(self, size) -> None:
        self.size = _size_pair(size)

    def forward(self, img):
        return F.center_crop(img, self.size)

    def _args(self) -> str:
        return f"size={self.size}"


class Pad(_Transform):
    def __init__(self, padding, fill=0, padding_mode: str = "constant") -> None:
        self.padding = padding
        self.fill = fill
        self.padding_mode = padding_mode

    def forward(self, img):
        return F.pad(img, self.padding, self.fill, self.padding_mode)

    def _args(self) -> str:
        return f"padding={self.padding}, fill={self.fill}, padding_mode={self.padding_mode}"


class RandomCrop(_Transform):
    """A random ``size`` crop, after optional ``padding`` (and padding up to ``size`` if
    ``pad_if_needed``)."""

    def __init__(self, size, padding=None, pad_if_needed: bool = False, fill=0,
                 padding_mode: str = "constant") -> None:
        self.size = _size_pair(size)
        self.padding = padding
        self.pad_if_needed = pad_if_needed
        self.fill = fill
        self.padding_mode = padding_mode

    @staticmethod
    def get_params(img, output_size) -> tuple:
        _, h, w = F.get_dimensions(img)
        th, tw = output_size
        if h < th or w < tw:
            raise ValueError(f"Required crop size {(th, tw)} is larger than input image size "
                             f"{(h, w)}")
        if w == tw and h == th:
            return 0, 0, h, w
        return _randint(0, h - th + 1), _randint(0, w - tw + 1), th, tw

    def forward(self, img):
        if self.padding is not None:
            img = F.pad(img, self.padding, self.fill, self.padding_mode)
        _, h, w = F.get_dimensions(img)
        th, tw = self.size
        if self.pad_if_needed and w < tw:
            img = F.pad(img, [tw - w, 0], self.fill, self.padding_mode)
        if self.pad_if_needed and h < th:
            img = F.pad(img, [0, th - h], self.fill, self.padding_mode)
        return F.crop(img, *self.get_params(img, self.size))

    def _args(self) -> str:
        return f"size={self.size}, padding={self.padding}"


class RandomResizedCrop(_Transform):
    """A crop of random area (``scale``) and aspect ratio (``ratio``), resized to ``size``."""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0),
                 interpolation=InterpolationMode.BILINEAR, antialias: bool | None = True):
        self.size = _size_pair(size)
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            raise ValueError("Scale and ratio should be of kind (min, max)")
        self.scale = scale
        self.ratio = ratio
        self.interpolation = F._interpolation_mode(interpolation)
        self.antialias = antialias

    @staticmethod
    def get_params(img, scale, ratio) -> tuple:
        _, height, width = F.get_dimensions(img)
        area = height * width
        log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        for _ in range(10):
            target_area = area * _uniform(scale[0], scale[1])
            aspect = math.exp(_uniform(*log_ratio))
            w = int(round(math.sqrt(target_area * aspect)))
            h = int(round(math.sqrt(target_area / aspect)))
            if 0 < w <= width and 0 < h <= height:
                return _randint(0, height - h + 1), _randint(0, width - w + 1), h, w
        in_ratio = width / height
        if in_ratio < min(ratio):
            w, h = width, int(round(width / min(ratio)))
        elif in_ratio > max(ratio):
            h, w = height, int(round(height * max(ratio)))
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def forward(self, img):
        i, j, h, w = self.get_params(img, self.scale, self.ratio)
        return F.resized_crop(img, i, j, h, w, self.size, self.interpolation,
                              antialias=self.antialias)

    def _args(self) -> str:
        scale = tuple(round(s, 4) for s in self.scale)
        ratio = tuple(round(r, 4) for r in self.ratio)
        mode = InterpolationMode(self.interpolation).value
        return (f"size={self.size}, scale={scale}, ratio={ratio}, interpolation={mode}, "
                f"antialias={self.antialias}")


class RandomHorizontalFlip(_Transform):
    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def forward(self, img):
        return F.hflip(img) if _uniform(0, 1) < self.p else img

    def _args(self) -> str:
        return f"p={self.p}"


class RandomVerticalFlip(RandomHorizontalFlip):
    def forward(self, img):
        return F.vflip(img) if _uniform(0, 1) < self.p else img


def _range(value, name: str, center: float = 1.0, bound=(0, float("inf")),
           clip_first: bool = True):
    """A number ``v`` means ``[center - v, center + v]``; a pair is taken as is."""
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f"If {name} is a single number, it must be non negative.")
        value = [center - float(value), center + float(value)]
        if clip_first:
            value[0] = max(value[0], 0.0)
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        value = [float(value[0]), float(value[1])]
    else:
        raise TypeError(f"{name} should be a single number or a list/tuple with length 2.")
    if not bound[0] <= value[0] <= value[1] <= bound[1]:
        raise ValueError(f"{name} values should be between {bound}, but got {value}.")
    return None if value[0] == value[1] == center else value


class ColorJitter(_Transform):
    """Random brightness, contrast, saturation and hue changes, in a random order."""

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0) -> None:
        self.brightness = _range(brightness, "brightness")
        self.contrast = _range(contrast, "contrast")
        self.saturation = _range(saturation, "saturation")
        self.hue = _range(hue, "hue", center=0, bound=(-0.5, 0.5), clip_first=False)

    @staticmethod
    def get_params(brightness, contrast, saturation, hue) -> tuple:
        order = [int(i) for i in _rng().permutation(4)]
        factors = [None if r is None else _uniform(r[0], r[1])
                   for r in (brightness, contrast, saturation, hue)]
        return (order, *factors)

    def forward(self, img):
        order, b, c, s, h = self.get_params(self.brightness, self.contrast, self.saturation,
                                            self.hue)
        ops = [(F.adjust_brightness, b), (F.adjust_contrast, c), (F.adjust_saturation, s),
               (F.adjust_hue, h)]
        for i in order:
            fn, factor = ops[i]
            if factor is not None:
                img = fn(img, factor)
        return img

    def _args(self) -> str:
        return (f"brightness={self.brightness}, contrast={self.contrast}, "
                f"saturation={self.saturation}, hue={self.hue}")


class RandomRotation(_Transform):
    """Rotate by an angle drawn uniformly from ``degrees`` (``d`` means ``(-d, d)``)."""

    def __init__(self, degrees, interpolation=InterpolationMode.NEAREST, expand: bool = False,
                 center=None, fill=0) -> None:
        if isinstance(degrees, numbers.Number):
            if degrees < 0:
                raise ValueError("If degrees is a single number, it must be positive.")
            degrees = (-float(degrees), float(degrees))
        self.degrees = [float(d) for d in degrees]
        self.interpolation = F._interpolation_mode(interpolation)
        self.expand = expand
        self.center = center
        self.fill = fill

    @staticmethod
    def get_params(degrees) -> float:
        return _uniform(degrees[0], degrees[1])

    def forward(self, img):
        fill = self.fill
        if not isinstance(img, Tensor) and isinstance(fill, (int, float)):
            fill = tuple([fill] * len(img.getbands())) if len(img.getbands()) > 1 else fill
        return F.rotate(img, self.get_params(self.degrees), self.interpolation, self.expand,
                        self.center, fill)

    def _args(self) -> str:
        return f"degrees={self.degrees}"


class RandomAffine(_Transform):
    """A random affine map about the centre: rotation by an angle from ``degrees`` (``d`` means
    ``(-d, d)``), a shift of up to ``translate = (fx, fy)`` times the width and height, a
    scale from ``scale = (lo, hi)``, shear angles from ``shear`` (``s``: x in ``(-s, s)``;
    ``(lo, hi)``: x; ``(xlo, xhi, ylo, yhi)``: both)."""

    def __init__(self, degrees, translate=None, scale=None, shear=None,
                 interpolation=InterpolationMode.NEAREST, fill=0, center=None) -> None:
        self.degrees = _symmetric(degrees, "degrees")
        if translate is not None and not all(0.0 <= t <= 1.0 for t in translate):
            raise ValueError("translation values should be between 0 and 1")
        if scale is not None and not all(s > 0 for s in scale):
            raise ValueError("scale values should be positive")
        if shear is not None:
            shear = _symmetric(shear, "shear") if isinstance(shear, numbers.Number) else \
                [float(s) for s in shear]
            if len(shear) not in (2, 4):
                raise ValueError("shear should be a number or a sequence of 2 or 4 numbers")
        self.translate, self.scale, self.shear = translate, scale, shear
        self.interpolation = F._interpolation_mode(interpolation)
        self.fill, self.center = fill, center

    @staticmethod
    def get_params(degrees, translate, scale_ranges, shears, img_size) -> tuple:
        """(angle, (tx, ty), scale, (shear_x, shear_y)) for an image of ``[width, height]``."""
        angle = _uniform(degrees[0], degrees[1])
        tx = ty = 0
        if translate is not None:
            max_dx, max_dy = translate[0] * img_size[0], translate[1] * img_size[1]
            tx, ty = int(round(_uniform(-max_dx, max_dx))), int(round(_uniform(-max_dy, max_dy)))
        scale = 1.0 if scale_ranges is None else _uniform(scale_ranges[0], scale_ranges[1])
        shear_x = shear_y = 0.0
        if shears is not None:
            shear_x = _uniform(shears[0], shears[1])
            if len(shears) == 4:
                shear_y = _uniform(shears[2], shears[3])
        return angle, (tx, ty), scale, (shear_x, shear_y)

    def forward(self, img):
        fill = self.fill
        if not isinstance(img, Tensor) and isinstance(fill, (int, float)):
            fill = tuple([fill] * len(img.getbands())) if len(img.getbands()) > 1 else fill
        params = self.get_params(self.degrees, self.translate, self.scale, self.shear,
                                 F.get_image_size(img))
        return F.affine(img, *params, interpolation=self.interpolation, fill=fill,
                        center=self.center)

    def _args(self) -> str:
        parts = [f"degrees={self.degrees}"]
        for name in ("translate", "scale", "shear"):
            if getattr(self, name) is not None:
                parts.append(f"{name}={getattr(self, name)}")
        return ", ".join(parts)


def _symmetric(value, name: str) -> list:
    """``d`` as ``[-d, d]`` (``d`` >= 0), a pair as floats."""
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f"If {name} is a single number, it must be positive.")
        return [-float(value), float(value)]
    if len(value) != 2:
        raise ValueError(f"{name} should be a sequence of length 2.")
    return [float(v) for v in value]


class GaussianBlur(_Transform):
    """Blur with a Gaussian of ``kernel_size`` whose sigma is drawn uniformly from ``sigma``
    (a ``(min, max)`` pair, or one fixed value)."""

    def __init__(self, kernel_size, sigma=(0.1, 2.0)) -> None:
        self.kernel_size = list(_size_pair(kernel_size))  # [kx, ky], as given
        if any(k <= 0 or k % 2 == 0 for k in self.kernel_size):
            raise ValueError("Kernel size value should be an odd and positive number.")
        if isinstance(sigma, numbers.Number):
            if sigma <= 0:
                raise ValueError("If sigma is a single number, it must be positive.")
            sigma = (float(sigma), float(sigma))
        elif not (len(sigma) == 2 and 0 < sigma[0] <= sigma[1]):
            raise ValueError("sigma values should be positive and of the form (min, max).")
        self.sigma = sigma

    @staticmethod
    def get_params(sigma_min: float, sigma_max: float) -> float:
        return _uniform(sigma_min, sigma_max)

    def forward(self, img):
        sigma = self.get_params(*self.sigma)
        return F.gaussian_blur(img, self.kernel_size, [sigma, sigma])

    def _args(self) -> str:
        return f"kernel_size={tuple(self.kernel_size)}, sigma={self.sigma}"


class RandomPerspective(_Transform):
    """With probability ``p``, a random perspective warp: each corner moves inwards by up to
    ``distortion_scale`` times half the width and height."""

    def __init__(self, distortion_scale: float = 0.5, p: float = 0.5,
                 interpolation=InterpolationMode.BILINEAR, fill=0) -> None:
        self.distortion_scale = distortion_scale
        self.p = p
        self.interpolation = F._interpolation_mode(interpolation)
        self.fill = fill

    @staticmethod
    def get_params(width: int, height: int, distortion_scale: float) -> tuple:
        """(startpoints, endpoints): the image corners and where they go, clockwise from the
        top-left."""
        dx, dy = int(distortion_scale * (width // 2)), int(distortion_scale * (height // 2))
        left, right = (0, dx + 1), (width - dx - 1, width)
        top, bottom = (0, dy + 1), (height - dy - 1, height)
        endpoints = [[_randint(*xr), _randint(*yr)] for xr, yr in
                     ((left, top), (right, top), (right, bottom), (left, bottom))]
        startpoints = [[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]]
        return startpoints, endpoints

    def forward(self, img):
        channels, height, width = F.get_dimensions(img)
        fill = _tensor_fill(img, self.fill, channels)
        if _uniform(0, 1) < self.p:
            start, end = self.get_params(width, height, self.distortion_scale)
            return F.perspective(img, start, end, self.interpolation, fill)
        return img

    def _args(self) -> str:
        return f"p={self.p}"


def _tensor_fill(img, fill, channels: int):
    """A number becomes one float per channel for tensors, as torchvision's transforms do."""
    if not isinstance(img, Tensor) or fill is None:
        return fill
    if isinstance(fill, numbers.Number):
        return [float(fill)] * channels
    return [float(f) for f in fill]


class ElasticTransform(_Transform):
    """Move pixels by a random displacement field: uniform noise in [-1, 1] per pixel, blurred
    with a Gaussian of ``sigma`` and scaled by ``alpha`` pixels (x, then y; one number or a
    pair each)."""

    def __init__(self, alpha=50.0, sigma=5.0, interpolation=InterpolationMode.BILINEAR,
                 fill=0) -> None:
        self.alpha = _pair_of_floats(alpha, "alpha")
        self.sigma = _pair_of_floats(sigma, "sigma")
        self.interpolation = F._interpolation_mode(interpolation)
        if isinstance(fill, numbers.Number):
            fill = [float(fill)]
        elif isinstance(fill, (list, tuple)):
            fill = [float(f) for f in fill]
        else:
            raise TypeError(f"fill should be int or float or a list or tuple of them. "
                            f"Got {type(fill)}")
        self.fill = fill

    @staticmethod
    def get_params(alpha: list, sigma: list, size: list) -> Tensor:
        """A (1, H, W, 2) displacement in ``grid_sample``'s normalised units."""
        fields = []
        for axis in (0, 1):
            d = _make(_rng().uniform((1, 1, *size), np.float32) * 2 - 1)
            if sigma[axis] > 0.0:
                k = int(8 * sigma[axis] + 1)
                k += 1 - k % 2  # odd
                d = F.gaussian_blur(d, [k, k], sigma)
            fields.append(d * (alpha[axis] / size[axis]))
        return _make(np.concatenate([f._data for f in fields], 1).transpose(0, 2, 3, 1).copy())

    def forward(self, img):
        _, height, width = F.get_dimensions(img)
        displacement = self.get_params(self.alpha, self.sigma, [height, width])
        return F.elastic_transform(img, displacement, self.interpolation, self.fill)

    def _args(self) -> str:
        return (f"alpha={self.alpha}, sigma={self.sigma}, interpolation={self.interpolation}, "
                f"fill={self.fill}")


def _pair_of_floats(value, name: str) -> list:
    if isinstance(value, numbers.Number):
        return [float(value), float(value)]
    if not isinstance(value, (list, tuple)) or len(value) not in (1, 2):
        raise ValueError(f"If {name} is a sequence its length should be 2. Got {value}")
    return [float(value[0]), float(value[-1])]


class _RandomColorOp(_Transform):
    """Apply ``_apply`` with probability ``p``."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def forward(self, img):
        return self._apply(img) if _uniform(0, 1) < self.p else img

    def _args(self) -> str:
        return f"p={self.p}"


class RandomInvert(_RandomColorOp):
    """Invert the colours with probability ``p``."""

    def _apply(self, img):
        return F.invert(img)


class RandomAutocontrast(_RandomColorOp):
    """Stretch each channel to the full range with probability ``p``."""

    def _apply(self, img):
        return F.autocontrast(img)


class RandomEqualize(_RandomColorOp):
    """Equalise each channel's histogram with probability ``p``."""

    def _apply(self, img):
        return F.equalize(img)


class RandomPosterize(_RandomColorOp):
    """Keep the top ``bits`` bits of each channel with probability ``p``."""

    def __init__(self, bits: int, p: float = 0.5) -> None:
        super().__init__(p)
        self.bits = bits

    def _apply(self, img):
        return F.posterize(img, self.bits)

    def _args(self) -> str:
        return f"bits={self.bits},p={self.p}"


class RandomSolarize(_RandomColorOp):
    """Invert the pixels at or above ``threshold`` with probability ``p``."""

    def __init__(self, threshold: float, p: float = 0.5) -> None:
        super().__init__(p)
        self.threshold = threshold

    def _apply(self, img):
        return F.solarize(img, self.threshold)

    def _args(self) -> str:
        return f"threshold={self.threshold},p={self.p}"


class RandomAdjustSharpness(_RandomColorOp):
    """Change the sharpness by ``sharpness_factor`` with probability ``p``."""

    def __init__(self, sharpness_factor: float, p: float = 0.5) -> None:
        super().__init__(p)
        self.sharpness_factor = sharpness_factor

    def _apply(self, img):
        return F.adjust_sharpness(img, self.sharpness_factor)

    def _args(self) -> str:
        return f"sharpness_factor={self.sharpness_factor},p={self.p}"


class FiveCrop(_Transform):
    """The four corner crops and the centre crop of ``size``, as a tuple."""

    def __init__(self, size) -> None:
        self.size = _size_pair(size)

    def forward(self, img) -> tuple:
        return F.five_crop(img, self.size)

    def _args(self) -> str:
        return f"size={self.size}"


class TenCrop(_Transform):
    """``FiveCrop`` of the image and of its horizontal (or vertical) flip."""

    def __init__(self, size, vertical_flip: bool = False) -> None:
        self.size = _size_pair(size)
        self.vertical_flip = vertical_flip

    def forward(self, img) -> tuple:
        return F.ten_crop(img, self.size, self.vertical_flip)

    def _args(self) -> str:
        return f"size={self.size}, vertical_flip={self.vertical_flip}"


class LinearTransformation(_Transform):
    """Flatten a (..., C, H, W) tensor, subtract ``mean_vector`` and multiply by the square
    ``transformation_matrix`` (as for ZCA whitening), keeping the shape."""

    def __init__(self, transformation_matrix: Tensor, mean_vector: Tensor) -> None:
        n = transformation_matrix.shape[0]
        if transformation_matrix.ndim != 2 or transformation_matrix.shape[1] != n:
            raise ValueError("transformation_matrix should be square. Got "
                             f"{tuple(transformation_matrix.shape)} rectangular matrix.")
        if mean_vector.shape[0] != n:
            raise ValueError(f"mean_vector should have the same length {mean_vector.shape[0]} "
                             "as any one of the dimensions of the transformation_matrix "
                             f"[{tuple(transformation_matrix.shape)}]")
        if transformation_matrix.device != mean_vector.device:
            raise ValueError("Input tensors should be on the same device. Got "
                             f"{transformation_matrix.device} and {mean_vector.device}")
        if transformation_matrix.dtype != mean_vector.dtype:
            raise ValueError("Input tensors should have the same dtype. Got "
                             f"{transformation_matrix.dtype} and {mean_vector.dtype}")
        self.transformation_matrix = transformation_matrix
        self.mean_vector = mean_vector

    def forward(self, tensor: Tensor) -> Tensor:
        shape = tuple(tensor.shape)
        n = shape[-3] * shape[-2] * shape[-1]
        if n != self.transformation_matrix.shape[0]:
            raise ValueError("Input tensor and transformation matrix have incompatible shape."
                             f"[{shape[-3]} x {shape[-2]} x {shape[-1]}] != "
                             f"{self.transformation_matrix.shape[0]}")
        if tensor.device != self.mean_vector.device:
            raise ValueError("Input tensor should be on the same device as transformation "
                             f"matrix and mean vector. Got {tensor.device} vs "
                             f"{self.mean_vector.device}")
        flat = tensor.reshape(-1, n) - self.mean_vector
        return (flat @ self.transformation_matrix.to(flat.dtype)).reshape(shape)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(transformation_matrix="
                f"{self.transformation_matrix.tolist()}, "
                f"mean_vector={self.mean_vector.tolist()})")


class Grayscale(_Transform):
    def __init__(self, num_output_channels: int = 1) -> None:
        self.num_output_channels = num_output_channels

    def forward(self, img):
        return F.rgb_to_grayscale(img, self.num_output_channels)

    def _args(self) -> str:
        return f"num_output_channels={self.num_output_channels}"


class RandomGrayscale(_Transform):
    def __init__(self, p: float = 0.1) -> None:
        self.p = p

    def forward(self, img):
        if _uniform(0, 1) < self.p:
            return F.rgb_to_grayscale(img, F.get_dimensions(img)[0])
        return img


class Lambda(_Transform):
    """Apply a user function."""

    def __init__(self, lambd: Callable) -> None:
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__!r}")
        self.lambd = lambd

    def forward(self, img):
        return self.lambd(img)


class RandomApply(_Transform):
    """Apply all of ``transforms`` with probability ``p``."""

    def __init__(self, transforms: Sequence[Callable], p: float = 0.5) -> None:
        self.transforms = transforms
        self.p = p

    def forward(self, img):
        if self.p < _uniform(0, 1):
            return img
        for t in self.transforms:
            img = t(img)
        return img


class RandomChoice(_Transform):
    """Apply one of ``transforms``, chosen with probabilities ``p`` (uniform by default)."""

    def __init__(self, transforms: Sequence[Callable], p: list | None = None) -> None:
        self.transforms = transforms
        self.p = p

    def forward(self, img):
        # Python's random, as torchvision's RandomChoice and RandomOrder
        return random.choices(self.transforms, weights=self.p)[0](img)


class RandomOrder(_Transform):
    """Apply ``transforms`` in a random order."""

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = transforms

    def forward(self, img):
        order = list(range(len(self.transforms)))
        random.shuffle(order)
        for i in order:
            img = self.transforms[i](img)
        return img


class RandomErasing(_Transform):
    """With probability ``p``, set a random rectangle of a tensor image to ``value``
    (a number, a per-channel tuple, or ``"random"`` for normal noise)."""

    def __init__(self, p: float = 0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0,
                 inplace: bool = False) -> None:
        if not 0 <= p <= 1:
            raise ValueError("Random erasing probability should be between 0 and 1")
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            raise ValueError("Scale and ratio should be of kind (min, max)")
        self.p = p
        self.scale = scale
        self.ratio = ratio
        self.value = value
        self.inplace = inplace

    @staticmethod
    def get_params(img: Tensor, scale, ratio, value=None) -> tuple:
        c, h, w = F.get_dimensions(img)
        area = h * w
        log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        for _ in range(10):
            erase_area = area * _uniform(scale[0], scale[1])
            aspect = math.exp(_uniform(*log_ratio))
            eh = int(round(math.sqrt(erase_area * aspect)))
            ew = int(round(math.sqrt(erase_area / aspect)))
            if not (eh < h and ew < w):
                continue
            if value is None:
                v = _make(_rng().normal((c, eh, ew), np.float32).astype(img._data.dtype))
            else:
                v = _make(np.asarray(value, img._data.dtype).reshape(-1, 1, 1))
            return _randint(0, h - eh + 1), _randint(0, w - ew + 1), eh, ew, v
        return 0, 0, h, w, img

    def forward(self, img: Tensor) -> Tensor:
        if _uniform(0, 1) >= self.p:
            return img
        value = None if self.value == "random" else (
            [self.value] if isinstance(self.value, numbers.Number) else list(self.value))
        if value is not None and len(value) not in (1, F.get_dimensions(img)[0]):
            raise ValueError("If value is a sequence, it should have either a single value or "
                             f"{F.get_dimensions(img)[0]} (number of input channels)")
        i, j, h, w, v = self.get_params(img, self.scale, self.ratio, value)
        return F.erase(img, i, j, h, w, v, self.inplace)
