"""v2's AutoAugment, RandAugment, TrivialAugmentWide and AugMix: v1's policies and op tables
(``transforms.autoaugment``) applied to the one image or video of a sample, with v2's draws
(``torch.rand(()) <= p`` per step and per sign, as torchvision's v2 does) and Solarize
thresholds as fractions of the image's range, so float images work."""
from __future__ import annotations

from typing import Any

from ember._tensor import Tensor
from ember.utils._pytree import tree_flatten, tree_unflatten
from ember.vision import tv_tensors
from ember.vision.transforms import autoaugment as _v1
from ember.vision.transforms import functional as _F1
from ember.vision.transforms.autoaugment import AutoAugmentPolicy
from ember.vision.transforms.functional import InterpolationMode
from ember.vision.transforms.transforms import _randint, _uniform
from ember.vision.transforms.v2 import functional as F
from ember.vision.transforms.v2._geometry import _pil_ready
from ember.vision.transforms.v2._transform import Transform
from ember.vision.transforms.v2._utils import _is_pil, check_type, get_size, is_pure_tensor
from ember.vision.tv_tensors._tv_tensor import _view_as


def _solarize_fractions(table: dict) -> dict:
    """v1's table with Solarize thresholds in [1, 0] (v2 scales them by the image's max)."""
    magnitudes = table["Solarize"][0]
    return {**table, "Solarize": (_v1._linspace(1.0, 0.0, len(magnitudes)), False)}


class _AutoAugmentBase(Transform):
    """Finds the sample's one image or video, and applies ops to it by name."""

    def __init__(self, *, interpolation=InterpolationMode.NEAREST, fill=None) -> None:
        super().__init__()
        self.interpolation = InterpolationMode(interpolation)
        self.fill = fill

    def _extract_image_or_video(self, inputs: tuple) -> tuple:
        flat_inputs, spec = tree_flatten(inputs if len(inputs) > 1 else inputs[0])
        needs = self._needs_transform_list(flat_inputs)
        found = []
        for index, (inpt, need) in enumerate(zip(flat_inputs, needs)):
            if need and check_type(inpt, (tv_tensors.Image, tv_tensors.Video, is_pure_tensor,
                                          _is_pil)):
                found.append(index)
            elif isinstance(inpt, (tv_tensors.BoundingBoxes, tv_tensors.Mask,
                                   tv_tensors.KeyPoints)):
                raise TypeError(f"Inputs of type {type(inpt).__name__} are not supported by "
                                f"{type(self).__name__}()")
        if not found:
            raise TypeError("Found no image in the sample.")
        if len(found) > 1:
            raise TypeError("Auto augment transformations are only properly defined for a single "
                            f"image or video, but found {len(found)}.")
        return flat_inputs, spec, found[0]

    @staticmethod
    def _insert(flat_inputs: list, spec, index: int, image) -> Any:
        flat_inputs[index] = image
        return tree_unflatten(flat_inputs, spec)

    def _random_op(self, table: dict) -> str:
        return list(table)[_randint(0, len(table))]

    @staticmethod
    def _signed(magnitude: float, signed: bool) -> float:
        return -magnitude if signed and _uniform(0, 1) <= 0.5 else magnitude

    def _apply(self, image, name: str, magnitude: float):
        fill = _pil_ready(self.fill, image)  # looked up by the input's own type
        if isinstance(image, Tensor) and fill is not None and not isinstance(fill, (list, tuple)):
            fill = [float(fill)] * F.get_dimensions(image)[0]
        plain = _view_as(image, Tensor) if isinstance(image, tv_tensors.TVTensor) else image
        if name == "Solarize":
            bound = _F1._max_value(plain._data.dtype) if isinstance(plain, Tensor) else 255.0
            out = F.solarize(plain, bound * magnitude)
        else:
            out = _v1._apply_op(plain, name, magnitude, self.interpolation, fill, F)
        # the ops run on the plain tensor: the result keeps the input's TVTensor type
        return tv_tensors.wrap(out, like=image) if plain is not image else out


class AutoAugment(_AutoAugmentBase):
    """AutoAugment (Cubuk et al., 2019): one of ``policy``'s 25 learned two-step sub-policies,
    each step applied with its probability, on the sample's one image or video."""

    def __init__(self, policy: AutoAugmentPolicy = AutoAugmentPolicy.IMAGENET,
                 interpolation=InterpolationMode.NEAREST, fill=None) -> None:
        super().__init__(interpolation=interpolation, fill=fill)
        if policy not in _v1._POLICIES:
            raise ValueError(f"The provided policy {policy} is not recognized.")
        self.policy = policy
        self._policies = _v1._POLICIES[policy]

    def forward(self, *inputs: Any) -> Any:
        flat_inputs, spec, index = self._extract_image_or_video(inputs)
        image = flat_inputs[index]
        height, width = get_size(image)
        table = _solarize_fractions(_v1._op_table(10, height, width, rand_augment=False))
        policy = self._policies[_randint(0, len(self._policies))]
        for name, probability, bin_index in policy:
            if not _uniform(0, 1) <= probability:
                continue
            magnitudes, signed = table[name]
            magnitude = 0.0
            if magnitudes is not None:
                magnitude = self._signed(float(magnitudes[bin_index]), signed)
            image = self._apply(image, name, magnitude)
        return self._insert(flat_inputs, spec, index, image)


class RandAugment(_AutoAugmentBase):
    """RandAugment (Cubuk et al., 2020): ``num_ops`` ops drawn uniformly, all at bin
    ``magnitude`` of ``num_magnitude_bins``, each with a random sign."""

    def __init__(self, num_ops: int = 2, magnitude: int = 9, num_magnitude_bins: int = 31,
                 interpolation=InterpolationMode.NEAREST, fill=None) -> None:
        super().__init__(interpolation=interpolation, fill=fill)
        if not isinstance(num_ops, int) or num_ops < 0:
            raise ValueError(f"num_ops should be a non-negative integer, but got {num_ops} "
                             "instead.")
        self.num_ops, self.magnitude = num_ops, magnitude
        self.num_magnitude_bins = num_magnitude_bins

    def forward(self, *inputs: Any) -> Any:
        flat_inputs, spec, index = self._extract_image_or_video(inputs)
        image = flat_inputs[index]
        height, width = get_size(image)
        table = _solarize_fractions(_v1._op_table(self.num_magnitude_bins, height, width,
                                                  rand_augment=True))
        for _ in range(self.num_ops):
            name = self._random_op(table)
            magnitudes, signed = table[name]
            magnitude = 0.0
            if magnitudes is not None:
                magnitude = self._signed(float(magnitudes[self.magnitude]), signed)
            image = self._apply(image, name, magnitude)
        return self._insert(flat_inputs, spec, index, image)


class TrivialAugmentWide(_AutoAugmentBase):
    """TrivialAugment (Müller and Hutter, 2021), wide ranges: one op drawn uniformly, at a
    magnitude bin drawn uniformly from ``num_magnitude_bins``."""

    def __init__(self, num_magnitude_bins: int = 31, interpolation=InterpolationMode.NEAREST,
                 fill=None) -> None:
        super().__init__(interpolation=interpolation, fill=fill)
        self.num_magnitude_bins = num_magnitude_bins

    def forward(self, *inputs: Any) -> Any:
        flat_inputs, spec, index = self._extract_image_or_video(inputs)
        table = _solarize_fractions(
            _v1.TrivialAugmentWide._augmentation_space(self, self.num_magnitude_bins))
        name = self._random_op(table)
        magnitudes, signed = table[name]
        magnitude = 0.0
        if magnitudes is not None:
            bin_index = _randint(0, self.num_magnitude_bins)
            magnitude = self._signed(float(magnitudes[bin_index]), signed)
        image = self._apply(flat_inputs[index], name, magnitude)
        return self._insert(flat_inputs, spec, index, image)


class AugMix(_AutoAugmentBase):
    """AugMix (Hendrycks et al., 2020): ``mixture_width`` chains of ``chain_depth`` random ops
    (1 to 3 when -1) at severities below ``severity``, mixed with Dirichlet(``alpha``) weights
    and blended with the original by a Beta(``alpha``, ``alpha``) weight."""

    _PARAMETER_MAX = 10
    _sample_dirichlet = _v1.AugMix._sample_dirichlet
    _mixing_weights = _v1.AugMix._mixing_weights

    def __init__(self, severity: int = 3, mixture_width: int = 3, chain_depth: int = -1,
                 alpha: float = 1.0, all_ops: bool = True,
                 interpolation=InterpolationMode.BILINEAR, fill=None) -> None:
        super().__init__(interpolation=interpolation, fill=fill)
        if not 1 <= severity <= self._PARAMETER_MAX:
            raise ValueError(f"The severity must be between [1, {self._PARAMETER_MAX}]. "
                             f"Got {severity} instead.")
        self.severity, self.mixture_width, self.chain_depth = severity, mixture_width, chain_depth
        self.alpha, self.all_ops = alpha, all_ops

    def forward(self, *inputs: Any) -> Any:
        flat_inputs, spec, index = self._extract_image_or_video(inputs)
        orig = flat_inputs[index]
        height, width = get_size(orig)
        image = orig if isinstance(orig, Tensor) else F.pil_to_tensor(orig)
        plain = _view_as(image, Tensor)
        table = _solarize_fractions(_v1.AugMix._augmentation_space(
            self, self._PARAMETER_MAX, (height, width)))
        shape = tuple(plain.shape)
        batch = plain.reshape((1,) * max((5 if isinstance(orig, tv_tensors.Video) else 4)
                                         - plain.ndim, 0) + shape)
        rows = batch.shape[0]
        weights_shape = (rows,) + (1,) * (batch.ndim - 1)
        original, mixing = self._mixing_weights(rows, plain.device)
        mix = original.reshape(weights_shape) * batch
        for i in range(self.mixture_width):
            aug = batch
            depth = self.chain_depth if self.chain_depth > 0 else _randint(1, 4)
            for _ in range(depth):
                name = self._random_op(table)
                magnitudes, signed = table[name]
                magnitude = 0.0
                if magnitudes is not None:
                    magnitude = self._signed(float(magnitudes[_randint(0, self.severity)]),
                                             signed)
                aug = self._apply(aug, name, magnitude)
            mix = mix + mixing[:, i].reshape(weights_shape) * aug
        mix = mix.reshape(shape).to(plain.dtype)
        if isinstance(orig, (tv_tensors.Image, tv_tensors.Video)):
            mix = tv_tensors.wrap(mix, like=orig)
        elif _is_pil(orig):
            mix = F.to_pil_image(mix)
        return self._insert(flat_inputs, spec, index, mix)


__all__ = ["AugMix", "AutoAugment", "AutoAugmentPolicy", "RandAugment", "TrivialAugmentWide"]
