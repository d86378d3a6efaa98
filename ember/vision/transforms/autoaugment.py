"""Learned and random augmentation policies (torchvision.transforms.autoaugment): AutoAugment,
RandAugment, TrivialAugmentWide and AugMix.

Each policy picks operations from an op table (name -> magnitudes per bin, and whether the
magnitude's sign is random) and applies them with ``_apply_op``. Like torchvision's, they work on
PIL images and on uint8 (..., C, H, W) tensors (Posterize and Equalize need uint8), and draw
from ember's global RNG, so ``ember.manual_seed`` makes them reproducible.
"""
from __future__ import annotations

import enum
import math

import numpy as np

import ember
from ember._tensor import Tensor, _make
from ember.vision.transforms import _grid_warp
from ember.vision.transforms import functional as F
from ember.vision.transforms.functional import InterpolationMode
from ember.vision.transforms.transforms import _randint, _rng, _tensor_fill


class AutoAugmentPolicy(enum.Enum):
    """The AutoAugment policies learned on ImageNet, CIFAR10 and SVHN."""

    IMAGENET = "imagenet"
    CIFAR10 = "cifar10"
    SVHN = "svhn"


# Sub-policies from "AutoAugment: Learning Augmentation Strategies from Data" (Cubuk et al.,
# 2019): two (op, probability, magnitude bin) steps each; None for ops without a magnitude.
_POLICIES = {
    AutoAugmentPolicy.IMAGENET: [
        (("Posterize", 0.4, 8), ("Rotate", 0.6, 9)),
        (("Solarize", 0.6, 5), ("AutoContrast", 0.6, None)),
        (("Equalize", 0.8, None), ("Equalize", 0.6, None)),
        (("Posterize", 0.6, 7), ("Posterize", 0.6, 6)),
        (("Equalize", 0.4, None), ("Solarize", 0.2, 4)),
        (("Equalize", 0.4, None), ("Rotate", 0.8, 8)),
        (("Solarize", 0.6, 3), ("Equalize", 0.6, None)),
        (("Posterize", 0.8, 5), ("Equalize", 1.0, None)),
        (("Rotate", 0.2, 3), ("Solarize", 0.6, 8)),
        (("Equalize", 0.6, None), ("Posterize", 0.4, 6)),
        (("Rotate", 0.8, 8), ("Color", 0.4, 0)),
        (("Rotate", 0.4, 9), ("Equalize", 0.6, None)),
        (("Equalize", 0.0, None), ("Equalize", 0.8, None)),
        (("Invert", 0.6, None), ("Equalize", 1.0, None)),
        (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
        (("Rotate", 0.8, 8), ("Color", 1.0, 2)),
        (("Color", 0.8, 8), ("Solarize", 0.8, 7)),
        (("Sharpness", 0.4, 7), ("Invert", 0.6, None)),
        (("ShearX", 0.6, 5), ("Equalize", 1.0, None)),
        (("Color", 0.4, 0), ("Equalize", 0.6, None)),
        (("Equalize", 0.4, None), ("Solarize", 0.2, 4)),
        (("Solarize", 0.6, 5), ("AutoContrast", 0.6, None)),
        (("Invert", 0.6, None), ("Equalize", 1.0, None)),
        (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
        (("Equalize", 0.8, None), ("Equalize", 0.6, None)),
    ],
    AutoAugmentPolicy.CIFAR10: [
        (("Invert", 0.1, None), ("Contrast", 0.2, 6)),
        (("Rotate", 0.7, 2), ("TranslateX", 0.3, 9)),
        (("Sharpness", 0.8, 1), ("Sharpness", 0.9, 3)),
        (("ShearY", 0.5, 8), ("TranslateY", 0.7, 9)),
        (("AutoContrast", 0.5, None), ("Equalize", 0.9, None)),
        (("ShearY", 0.2, 7), ("Posterize", 0.3, 7)),
        (("Color", 0.4, 3), ("Brightness", 0.6, 7)),
        (("Sharpness", 0.3, 9), ("Brightness", 0.7, 9)),
        (("Equalize", 0.6, None), ("Equalize", 0.5, None)),
        (("Contrast", 0.6, 7), ("Sharpness", 0.6, 5)),
        (("Color", 0.7, 7), ("TranslateX", 0.5, 8)),
        (("Equalize", 0.3, None), ("AutoContrast", 0.4, None)),
        (("TranslateY", 0.4, 3), ("Sharpness", 0.2, 6)),
        (("Brightness", 0.9, 6), ("Color", 0.2, 8)),
        (("Solarize", 0.5, 2), ("Invert", 0.0, None)),
        (("Equalize", 0.2, None), ("AutoContrast", 0.6, None)),
        (("Equalize", 0.2, None), ("Equalize", 0.6, None)),
        (("Color", 0.9, 9), ("Equalize", 0.6, None)),
        (("AutoContrast", 0.8, None), ("Solarize", 0.2, 8)),
        (("Brightness", 0.1, 3), ("Color", 0.7, 0)),
        (("Solarize", 0.4, 5), ("AutoContrast", 0.9, None)),
        (("TranslateY", 0.9, 9), ("TranslateY", 0.7, 9)),
        (("AutoContrast", 0.9, None), ("Solarize", 0.8, 3)),
        (("Equalize", 0.8, None), ("Invert", 0.1, None)),
        (("TranslateY", 0.7, 9), ("AutoContrast", 0.9, None)),
    ],
    AutoAugmentPolicy.SVHN: [
        (("ShearX", 0.9, 4), ("Invert", 0.2, None)),
        (("ShearY", 0.9, 8), ("Invert", 0.7, None)),
        (("Equalize", 0.6, None), ("Solarize", 0.6, 6)),
        (("Invert", 0.9, None), ("Equalize", 0.6, None)),
        (("Equalize", 0.6, None), ("Rotate", 0.9, 3)),
        (("ShearX", 0.9, 4), ("AutoContrast", 0.8, None)),
        (("ShearY", 0.9, 8), ("Invert", 0.4, None)),
        (("ShearY", 0.9, 5), ("Solarize", 0.2, 6)),
        (("Invert", 0.9, None), ("AutoContrast", 0.8, None)),
        (("Equalize", 0.6, None), ("Rotate", 0.9, 3)),
        (("ShearX", 0.9, 4), ("Solarize", 0.3, 3)),
        (("ShearY", 0.8, 8), ("Invert", 0.7, None)),
        (("Equalize", 0.9, None), ("TranslateY", 0.6, 6)),
        (("Invert", 0.9, None), ("Equalize", 0.6, None)),
        (("Contrast", 0.3, 3), ("Rotate", 0.8, 4)),
        (("Invert", 0.8, None), ("TranslateY", 0.0, 2)),
        (("ShearY", 0.7, 6), ("Solarize", 0.4, 8)),
        (("Invert", 0.6, None), ("Rotate", 0.8, 4)),
        (("ShearY", 0.3, 7), ("TranslateX", 0.9, 3)),
        (("ShearX", 0.1, 6), ("Invert", 0.6, None)),
        (("Solarize", 0.7, 2), ("TranslateY", 0.6, 7)),
        (("ShearY", 0.8, 4), ("Invert", 0.8, None)),
        (("ShearX", 0.7, 9), ("TranslateY", 0.8, 3)),
        (("ShearY", 0.8, 5), ("AutoContrast", 0.7, None)),
        (("ShearX", 0.7, 2), ("Invert", 0.1, None)),
    ],
}


def _apply_op(img, op_name: str, magnitude: float, interpolation, fill, F=F):
    """One augmentation with the functionals of ``F`` (v1's, or v2's, whose tensor kernels
    round differently). Shears are ``magnitude`` = tan(angle) about the top-left corner,
    translations whole pixels, enhancements factors ``1 + magnitude``."""
    if op_name in ("ShearX", "ShearY"):
        angle = math.degrees(math.atan(magnitude))
        shear = [angle, 0.0] if op_name == "ShearX" else [0.0, angle]
        return F.affine(img, angle=0.0, translate=[0, 0], scale=1.0, shear=shear,
                        interpolation=interpolation, fill=fill, center=[0, 0])
    if op_name in ("TranslateX", "TranslateY"):
        shift = [int(magnitude), 0] if op_name == "TranslateX" else [0, int(magnitude)]
        return F.affine(img, angle=0.0, translate=shift, scale=1.0, shear=[0.0, 0.0],
                        interpolation=interpolation, fill=fill)
    if op_name == "Rotate":
        return F.rotate(img, magnitude, interpolation=interpolation, fill=fill)
    enhance = {"Brightness": F.adjust_brightness, "Color": F.adjust_saturation,
               "Contrast": F.adjust_contrast, "Sharpness": F.adjust_sharpness}
    if op_name in enhance:
        return enhance[op_name](img, 1.0 + magnitude)
    if op_name == "Posterize":
        return F.posterize(img, int(magnitude))
    if op_name == "Solarize":
        return F.solarize(img, magnitude)
    plain = {"AutoContrast": F.autocontrast, "Equalize": F.equalize, "Invert": F.invert,
             "Identity": lambda x: x}
    if op_name in plain:
        return plain[op_name](img)
    raise ValueError(f"The provided operator {op_name} is not recognized.")


def _linspace(start: float, end: float, num_bins: int) -> np.ndarray:
    return _grid_warp.linspace(start, end, num_bins)  # float32, as torch.linspace


def _posterize_bits(num_bins: int, top: int, levels: int) -> np.ndarray:
    """Bits kept per bin: ``top`` down to ``top - levels``, rounding half to even."""
    return top - np.round(np.arange(num_bins) / ((num_bins - 1) / levels)).astype(np.int64)


def _op_table(num_bins: int, height: int, width: int, rand_augment: bool) -> dict:
    """The magnitudes (None: the op takes none) and sign flag of AutoAugment's ops (with
    Invert) or RandAugment's (with Identity), in the order the random draws index them."""
    table = {"Identity": (None, False)} if rand_augment else {}
    table.update({
        "ShearX": (_linspace(0.0, 0.3, num_bins), True),
        "ShearY": (_linspace(0.0, 0.3, num_bins), True),
        "TranslateX": (_linspace(0.0, 150.0 / 331.0 * width, num_bins), True),
        "TranslateY": (_linspace(0.0, 150.0 / 331.0 * height, num_bins), True),
        "Rotate": (_linspace(0.0, 30.0, num_bins), True),
        "Brightness": (_linspace(0.0, 0.9, num_bins), True),
        "Color": (_linspace(0.0, 0.9, num_bins), True),
        "Contrast": (_linspace(0.0, 0.9, num_bins), True),
        "Sharpness": (_linspace(0.0, 0.9, num_bins), True),
        "Posterize": (_posterize_bits(num_bins, 8, 4), False),
        "Solarize": (_linspace(255.0, 0.0, num_bins), False),
        "AutoContrast": (None, False),
        "Equalize": (None, False),
    })
    if not rand_augment:
        table["Invert"] = (None, False)
    return table


class _Policy:
    """Shared by the policies: fill handling, the interpolation, the repr."""

    _repr_fields: tuple = ()

    def __init__(self, interpolation, fill) -> None:
        self.interpolation = interpolation
        self.fill = fill

    def _fill(self, img):
        return _tensor_fill(img, self.fill, F.get_dimensions(img)[0])

    def _random_op(self, table: dict, bin_index):
        """An op drawn uniformly from ``table``, with its magnitude at ``bin_index`` (drawn by
        the callable if one is given) and a random sign for signed ops."""
        name = list(table)[_randint(0, len(table))]
        magnitudes, signed = table[name]
        magnitude = 0.0
        if magnitudes is not None:
            index = bin_index() if callable(bin_index) else bin_index
            magnitude = float(magnitudes[index])
        if signed and _randint(0, 2):
            magnitude = -magnitude
        return name, magnitude

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)}" for name in self._repr_fields)
        return f"{self.__class__.__name__}({fields})"


class AutoAugment(_Policy):
    """AutoAugment (Cubuk et al., 2019): apply one of the 25 learned two-step sub-policies of
    ``policy``, each step with its probability and magnitude.

    Args:
        policy: an ``AutoAugmentPolicy`` (IMAGENET, CIFAR10 or SVHN).
        interpolation: the resampling of the geometric ops.
        fill: the colour of uncovered pixels (one number or one per channel).

    Example::

        >>> t = AutoAugment(AutoAugmentPolicy.CIFAR10)
        >>> out = t(ember.randint(0, 256, (3, 32, 32), dtype=ember.uint8))
    """

    _repr_fields = ("policy", "fill")

    def __init__(self, policy: AutoAugmentPolicy = AutoAugmentPolicy.IMAGENET,
                 interpolation=InterpolationMode.NEAREST, fill=None) -> None:
        super().__init__(interpolation, fill)
        if policy not in _POLICIES:
            raise ValueError(f"The provided policy {policy} is not recognized.")
        self.policy = policy
        self.policies = _POLICIES[policy]

    @staticmethod
    def get_params(transform_num: int) -> tuple:
        """(sub-policy index, two uniform draws against the steps' probabilities, two signs)."""
        policy_id = _randint(0, transform_num)
        probs = _make(_rng().uniform((2,), np.float32))
        signs = _make(_rng().integers(0, 2, (2,), np.int64))
        return policy_id, probs, signs

    def _augmentation_space(self, num_bins: int, image_size: tuple) -> dict:
        return _op_table(num_bins, image_size[0], image_size[1], rand_augment=False)

    def __call__(self, img):
        fill = self._fill(img)
        _, height, width = F.get_dimensions(img)
        policy_id, probs, signs = self.get_params(len(self.policies))
        table = self._augmentation_space(10, (height, width))
        for i, (name, p, bin_index) in enumerate(self.policies[policy_id]):
            if float(probs[i]) <= p:
                magnitudes, signed = table[name]
                magnitude = float(magnitudes[bin_index]) if bin_index is not None else 0.0
                if signed and int(signs[i]) == 0:
                    magnitude = -magnitude
                img = _apply_op(img, name, magnitude, self.interpolation, fill)
        return img


class RandAugment(_Policy):
    """RandAugment (Cubuk et al., 2020): ``num_ops`` ops drawn uniformly, all at bin
    ``magnitude`` of ``num_magnitude_bins``, each with a random sign.

    Example::

        >>> t = RandAugment(num_ops=2, magnitude=9)
    """

    _repr_fields = ("num_ops", "magnitude", "num_magnitude_bins", "interpolation", "fill")

    def __init__(self, num_ops: int = 2, magnitude: int = 9, num_magnitude_bins: int = 31,
                 interpolation=InterpolationMode.NEAREST, fill=None) -> None:
        super().__init__(interpolation, fill)
        self.num_ops = num_ops
        self.magnitude = magnitude
        self.num_magnitude_bins = num_magnitude_bins

    def _augmentation_space(self, num_bins: int, image_size: tuple) -> dict:
        return _op_table(num_bins, image_size[0], image_size[1], rand_augment=True)

    def __call__(self, img):
        fill = self._fill(img)
        _, height, width = F.get_dimensions(img)
        table = self._augmentation_space(self.num_magnitude_bins, (height, width))
        for _ in range(self.num_ops):
            name, magnitude = self._random_op(table, self.magnitude)
            img = _apply_op(img, name, magnitude, self.interpolation, fill)
        return img


class TrivialAugmentWide(_Policy):
    """TrivialAugment (Müller and Hutter, 2021), wide ranges: one op drawn uniformly, at a
    magnitude bin drawn uniformly from ``num_magnitude_bins``.

    Example::

        >>> t = TrivialAugmentWide()
    """

    _repr_fields = ("num_magnitude_bins", "interpolation", "fill")

    def __init__(self, num_magnitude_bins: int = 31, interpolation=InterpolationMode.NEAREST,
                 fill=None) -> None:
        super().__init__(interpolation, fill)
        self.num_magnitude_bins = num_magnitude_bins

    def _augmentation_space(self, num_bins: int) -> dict:
        return {
            "Identity": (None, False),
            "ShearX": (_linspace(0.0, 0.99, num_bins), True),
            "ShearY": (_linspace(0.0, 0.99, num_bins), True),
            "TranslateX": (_linspace(0.0, 32.0, num_bins), True),
            "TranslateY": (_linspace(0.0, 32.0, num_bins), True),
            "Rotate": (_linspace(0.0, 135.0, num_bins), True),
            "Brightness": (_linspace(0.0, 0.99, num_bins), True),
            "Color": (_linspace(0.0, 0.99, num_bins), True),
            "Contrast": (_linspace(0.0, 0.99, num_bins), True),
            "Sharpness": (_linspace(0.0, 0.99, num_bins), True),
            "Posterize": (_posterize_bits(num_bins, 8, 6), False),
            "Solarize": (_linspace(255.0, 0.0, num_bins), False),
            "AutoContrast": (None, False),
            "Equalize": (None, False),
        }

    def __call__(self, img):
        fill = self._fill(img)
        table = self._augmentation_space(self.num_magnitude_bins)
        bins = self.num_magnitude_bins
        name, magnitude = self._random_op(table, lambda: _randint(0, bins))
        return _apply_op(img, name, magnitude, self.interpolation, fill)


class AugMix(_Policy):
    """AugMix (Hendrycks et al., 2020): ``mixture_width`` chains of ``chain_depth`` random ops
    (1 to 3 when -1) at severities below ``severity``, mixed with Dirichlet(``alpha``) weights
    and blended with the original by a Beta(``alpha``, ``alpha``) weight.

    Example::

        >>> t = AugMix(severity=3, mixture_width=3)
    """

    _PARAMETER_MAX = 10
    _repr_fields = ("severity", "mixture_width", "chain_depth", "alpha", "all_ops",
                    "interpolation", "fill")

    def __init__(self, severity: int = 3, mixture_width: int = 3, chain_depth: int = -1,
                 alpha: float = 1.0, all_ops: bool = True,
                 interpolation=InterpolationMode.BILINEAR, fill=None) -> None:
        super().__init__(interpolation, fill)
        if not 1 <= severity <= self._PARAMETER_MAX:
            raise ValueError(f"The severity must be between [1, {self._PARAMETER_MAX}]. "
                             f"Got {severity} instead.")
        self.severity = severity
        self.mixture_width = mixture_width
        self.chain_depth = chain_depth
        self.alpha = alpha
        self.all_ops = all_ops

    def _augmentation_space(self, num_bins: int, image_size: tuple) -> dict:
        height, width = image_size
        table = {
            "ShearX": (_linspace(0.0, 0.3, num_bins), True),
            "ShearY": (_linspace(0.0, 0.3, num_bins), True),
            "TranslateX": (_linspace(0.0, width / 3.0, num_bins), True),
            "TranslateY": (_linspace(0.0, height / 3.0, num_bins), True),
            "Rotate": (_linspace(0.0, 30.0, num_bins), True),
            "Posterize": (_posterize_bits(num_bins, 4, 4), False),
            "Solarize": (_linspace(255.0, 0.0, num_bins), False),
            "AutoContrast": (None, False),
            "Equalize": (None, False),
        }
        if self.all_ops:
            table.update({name: (_linspace(0.0, 0.9, num_bins), True)
                          for name in ("Brightness", "Color", "Contrast", "Sharpness")})
        return table

    def _sample_dirichlet(self, params: Tensor) -> Tensor:
        # torch._sample_dirichlet, as torchvision draws (the same numbers for the same seed)
        return ember._sample_dirichlet(params)

    def _mixing_weights(self, rows: int, device) -> tuple:
        """Per image row: the original's weight (Beta(alpha, alpha) as a two-way Dirichlet) and
        the chains' Dirichlet(alpha) weights scaled by the rest, drawn as torchvision does."""
        def concentration(n: int) -> Tensor:
            return ember.tensor([float(self.alpha)] * n, device=device).expand(rows, -1)
        beta = self._sample_dirichlet(concentration(2))
        mixing = self._sample_dirichlet(concentration(self.mixture_width))
        return beta[:, 0], mixing * beta[:, 1].reshape(rows, -1)

    def __call__(self, orig_img):
        fill = self._fill(orig_img)
        is_tensor = isinstance(orig_img, Tensor)
        img = orig_img if is_tensor else F.pil_to_tensor(orig_img)
        _, height, width = F.get_dimensions(img)
        table = self._augmentation_space(self._PARAMETER_MAX, (height, width))
        shape = tuple(img.shape)
        batch = img.reshape((1,) * max(4 - img.ndim, 0) + shape)
        rows = batch.shape[0]
        weights_shape = (rows,) + (1,) * (batch.ndim - 1)
        original, mixing = self._mixing_weights(rows, img.device)
        mix = original.reshape(weights_shape) * batch
        for i in range(self.mixture_width):
            aug = batch
            depth = self.chain_depth if self.chain_depth > 0 else _randint(1, 4)
            for _ in range(depth):
                name, magnitude = self._random_op(table, lambda: _randint(0, self.severity))
                aug = _apply_op(aug, name, magnitude, self.interpolation, fill)
            mix = mix + mixing[:, i].reshape(weights_shape) * aug
        mix = mix.reshape(shape).to(img.dtype)
        return mix if is_tensor else F.to_pil_image(mix)


__all__ = ["AugMix", "AutoAugment", "AutoAugmentPolicy", "RandAugment", "TrivialAugmentWide"]

