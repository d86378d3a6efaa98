"""Augmentations of v2: MixUp and CutMix (blend a batch with itself rolled by one, and its
labels alike), RandomErasing and JPEG."""
from __future__ import annotations

import math
import numbers
import warnings
from typing import Any, Callable, Sequence

import numpy as np

import ember
from ember._tensor import Tensor
from ember.nn.functional import one_hot
from ember.utils._pytree import tree_flatten, tree_unflatten
from ember.vision import tv_tensors
from ember.vision.transforms.transforms import _randint, _rng, _uniform
from ember.vision.transforms.v2 import functional as F
from ember.vision.transforms.v2._transform import Transform, _RandomApplyTransform
from ember.vision.transforms.v2._utils import (
    _is_pil,
    _parse_labels_getter,
    is_pure_tensor,
    query_chw,
    query_size,
)


class _BaseMixUpCutMix(Transform):
    """A batch of images (or videos) and its labels, ``(N,)`` class indices (needing
    ``num_classes``) or ``(N, num_classes)`` probabilities, found by ``labels_getter``."""

    def __init__(self, *, alpha: float = 1.0, num_classes: int | None = None,
                 labels_getter: Callable | str | None = "default") -> None:
        super().__init__()
        self.alpha = float(alpha)
        self._dist = ember.distributions.Beta(ember.tensor([alpha]), ember.tensor([alpha]))
        self.num_classes = num_classes
        self._labels_getter = _parse_labels_getter(labels_getter)

    def _lam(self) -> float:
        return float(self._dist.sample(()))

    def forward(self, *inputs: Any) -> Any:
        sample = inputs if len(inputs) > 1 else inputs[0]
        flat_inputs, spec = tree_flatten(sample)
        if any(_is_pil(x) or isinstance(x, (tv_tensors.BoundingBoxes, tv_tensors.Mask,
                                            tv_tensors.KeyPoints)) for x in flat_inputs):
            raise ValueError(f"{type(self).__name__}() does not support PIL images, bounding "
                             "boxes, keypoints and masks.")
        labels = self._labels_getter(sample)
        self._check_labels(labels)
        needs = self._needs_transform_list(flat_inputs)
        params = {"labels": labels, "batch_size": labels.shape[0],
                  **self.make_params([x for x, need in zip(flat_inputs, needs) if need])}
        needs[next(i for i, x in enumerate(flat_inputs) if x is labels)] = True
        return tree_unflatten([self.transform(x, params) if need else x
                               for x, need in zip(flat_inputs, needs)], spec)

    def _check_labels(self, labels) -> None:
        if not isinstance(labels, Tensor):
            raise ValueError(f"The labels must be a tensor, but got {type(labels)} instead.")
        if labels.ndim not in (1, 2):
            raise ValueError("labels should be index based with shape (batch_size,) or "
                             "probability based with shape (batch_size, num_classes), but got "
                             f"a tensor of shape {tuple(labels.shape)} instead.")
        if labels.ndim == 2 and self.num_classes is not None and \
                labels.shape[-1] != self.num_classes:
            raise ValueError(f"When passing 2D labels, the number of elements in last dimension "
                             f"must match num_classes: {labels.shape[-1]} != {self.num_classes}. "
                             "You can Leave num_classes to None.")
        if labels.ndim == 1 and self.num_classes is None:
            raise ValueError("num_classes must be passed if the labels are index-based (1D)")

    def _check_batch(self, inpt: Tensor, batch_size: int) -> None:
        dims = 5 if isinstance(inpt, tv_tensors.Video) else 4
        if inpt.ndim != dims:
            raise ValueError(f"Expected a batched input with {dims} dims, but got {inpt.ndim} "
                             "dimensions instead.")
        if inpt.shape[0] != batch_size:
            raise ValueError(f"The batch size of the image or video does not match the batch size "
                             f"of the labels: {inpt.shape[0]} != {batch_size}.")

    def _mix_labels(self, label: Tensor, lam: float) -> Tensor:
        if label.ndim == 1:
            label = one_hot(label, num_classes=self.num_classes)
        if not label.dtype.is_floating_point:
            label = label.float()
        return label.roll(1, 0).mul_(1.0 - lam).add_(label.mul(lam))

    def _is_batch(self, inpt) -> bool:
        return is_pure_tensor(inpt) or isinstance(inpt, (tv_tensors.Image, tv_tensors.Video))


class MixUp(_BaseMixUpCutMix):
    """MixUp: ``lam * batch + (1 - lam) * batch.roll(1, 0)``, ``lam ~ Beta(alpha, alpha)``,
    and the (one-hot) labels mixed alike."""

    def make_params(self, flat_inputs: list) -> dict:
        return {"lam": self._lam()}

    def transform(self, inpt: Any, params: dict) -> Any:
        lam = params["lam"]
        if inpt is params["labels"]:
            return self._mix_labels(inpt, lam)
        if not self._is_batch(inpt):
            return inpt
        self._check_batch(inpt, params["batch_size"])
        output = inpt.roll(1, 0).mul_(1.0 - lam).add_(inpt.mul(lam))
        return tv_tensors.wrap(output, like=inpt) if isinstance(inpt, tv_tensors.TVTensor) \
            else output


class CutMix(_BaseMixUpCutMix):
    """CutMix: paste a random box of the batch rolled by one into the batch; the box covers
    ``1 - lam`` of the image (``lam ~ Beta(alpha, alpha)``), clipped to the image, and the
    labels mix by the area actually pasted."""

    def make_params(self, flat_inputs: list) -> dict:
        lam = self._lam()
        height, width = query_size(flat_inputs)
        r_x, r_y = _randint(0, width), _randint(0, height)
        r = 0.5 * math.sqrt(1.0 - lam)
        half_w, half_h = int(r * width), int(r * height)
        x1, y1 = max(r_x - half_w, 0), max(r_y - half_h, 0)
        x2, y2 = min(r_x + half_w, width), min(r_y + half_h, height)
        return {"box": (x1, y1, x2, y2),
                "lam_adjusted": float(1.0 - (x2 - x1) * (y2 - y1) / (width * height))}

    def transform(self, inpt: Any, params: dict) -> Any:
        if inpt is params["labels"]:
            return self._mix_labels(inpt, params["lam_adjusted"])
        if not self._is_batch(inpt):
            return inpt
        self._check_batch(inpt, params["batch_size"])
        x1, y1, x2, y2 = params["box"]
        rolled = inpt.roll(1, 0)
        output = inpt.clone()
        output[..., y1:y2, x1:x2] = rolled[..., y1:y2, x1:x2]
        return tv_tensors.wrap(output, like=inpt) if isinstance(inpt, tv_tensors.TVTensor) \
            else output


class RandomErasing(_RandomApplyTransform):
    """With probability ``p``, set a random rectangle (of ``scale`` of the area and aspect in
    ``ratio``) of each image or video to ``value`` (a number, one per channel, or "random" for
    normal noise); boxes, masks and points pass through (with a warning)."""

    def __init__(self, p: float = 0.5, scale: Sequence[float] = (0.02, 0.33),
                 ratio: Sequence[float] = (0.3, 3.3), value=0.0, inplace: bool = False) -> None:
        super().__init__(p=p)
        if not isinstance(value, (numbers.Number, str, tuple, list)):
            raise TypeError("Argument value should be either a number or str or a sequence")
        if isinstance(value, str) and value != "random":
            raise ValueError("If value is str, it should be 'random'")
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            warnings.warn("Scale and ratio should be of kind (min, max)", stacklevel=2)
        if scale[0] < 0 or scale[1] > 1:
            raise ValueError("Scale should be between 0 and 1")
        self.scale, self.ratio, self.inplace = scale, ratio, inplace
        self.value = (None if isinstance(value, str) else
                      [float(value)] if isinstance(value, numbers.Number) else
                      [float(v) for v in value])
        self._log_ratio = np.log(np.asarray(ratio, np.float32))  # float32, as torch.log

    def _call_kernel(self, functional, inpt, *args, **kwargs):
        if isinstance(inpt, (tv_tensors.BoundingBoxes, tv_tensors.KeyPoints, tv_tensors.Mask)):
            warnings.warn(f"{type(self).__name__}() is currently passing through inputs of type "
                          f"tv_tensors.{type(inpt).__name__}. This will likely change in the "
                          "future.", stacklevel=2)
        return super()._call_kernel(functional, inpt, *args, **kwargs)

    def make_params(self, flat_inputs: list) -> dict:
        channels, img_h, img_w = query_chw(flat_inputs)
        if self.value is not None and len(self.value) not in (1, channels):
            raise ValueError("If value is a sequence, it should have either a single value or "
                             f"{channels} (number of inpt channels)")
        area = img_h * img_w
        for _ in range(10):
            erase_area = area * _uniform(self.scale[0], self.scale[1])
            aspect = float(np.exp(np.float32(_uniform(*self._log_ratio))))
            h = int(round(math.sqrt(erase_area * aspect)))
            w = int(round(math.sqrt(erase_area / aspect)))
            if not (h < img_h and w < img_w):
                continue
            if self.value is None:
                v = ember.from_numpy(_rng().normal((channels, h, w), np.float32))
            else:
                v = ember.tensor(self.value)[:, None, None]
            return {"i": _randint(0, img_h - h + 1), "j": _randint(0, img_w - w + 1), "h": h,
                    "w": w, "v": v}
        return {"i": 0, "j": 0, "h": img_h, "w": img_w, "v": None}

    def transform(self, inpt: Any, params: dict) -> Any:
        if params["v"] is None:
            return inpt
        return self._call_kernel(F.erase, inpt, params["i"], params["j"], params["h"],
                                 params["w"], params["v"], self.inplace)


class JPEG(Transform):
    """Compress each image as JPEG at a quality drawn from ``quality`` (an int, or a (min,
    max) range of ints in [1, 100]) and decode it again."""

    def __init__(self, quality) -> None:
        super().__init__()
        if isinstance(quality, bool):
            raise TypeError("quality can't be bool")
        if isinstance(quality, int):
            quality = [quality, quality]
        elif not isinstance(quality, Sequence) or len(quality) != 2:
            raise ValueError(f"quality should be a sequence of length 2, got {quality}")
        if not (isinstance(quality[0], int) and isinstance(quality[1], int)
                and 1 <= quality[0] <= quality[1] <= 100):
            raise ValueError(f"quality must be an integer from 1 to 100, got quality ={quality}")
        self.quality = quality

    def make_params(self, flat_inputs: list) -> dict:
        return {"quality": _randint(self.quality[0], self.quality[1] + 1)}

    def transform(self, inpt: Any, params: dict) -> Any:
        return self._call_kernel(F.jpeg, inpt, params["quality"])


__all__ = ["CutMix", "JPEG", "MixUp", "RandomErasing"]
