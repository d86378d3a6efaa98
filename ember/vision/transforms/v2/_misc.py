"""v2 conversions, normalisation, box maintenance and the trivial transforms."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ember import dtypes as _dt
from ember._tensor import Tensor
from ember.utils._pytree import tree_flatten, tree_unflatten
from ember.vision import tv_tensors
from ember.vision.transforms import transforms as _v1
from ember.vision.transforms.v2 import functional as F
from ember.vision.transforms.v2._functional_misc import (
    _sanitize_bounding_boxes_mask,
    _sanitize_keypoints_mask,
)
from ember.vision.transforms.v2._transform import Transform
from ember.vision.transforms.v2._utils import (
    _is_pil,
    _parse_labels_getter,
    check_type,
    get_bounding_boxes,
    get_keypoints,
    is_pure_tensor,
)
from ember.vision.tv_tensors._tv_tensor import _view_as


class Identity(Transform):
    """Return the sample unchanged."""

    def forward(self, *inputs: Any) -> Any:
        return inputs if len(inputs) > 1 else inputs[0]


class Lambda(Transform):
    """Apply ``lambd`` to the inputs of ``types`` (all inputs by default)."""

    def __init__(self, lambd: Callable, *types: type) -> None:
        super().__init__()
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__!r}")
        self.lambd = lambd
        self.types = types or (object,)

    def _needs_transform_list(self, flat_inputs: list) -> list:
        return [isinstance(inpt, self.types) for inpt in flat_inputs]

    def transform(self, inpt: Any, params: dict) -> Any:
        return self.lambd(inpt)


class ToImage(Transform):
    """PIL images, HWC ndarrays and plain tensors as ``tv_tensors.Image``."""

    def _needs_transform(self, inpt) -> bool:
        return (_is_pil(inpt) or isinstance(inpt, np.ndarray) or is_pure_tensor(inpt)
                or isinstance(inpt, tv_tensors.Image))

    def transform(self, inpt: Any, params: dict) -> Any:
        return F.to_image(inpt)


class PILToTensor(Transform):
    """PIL images as plain CHW tensors of their own dtype."""

    def _needs_transform(self, inpt) -> bool:
        return _is_pil(inpt)

    def transform(self, inpt: Any, params: dict) -> Any:
        return F.pil_to_tensor(inpt)


class ToPILImage(Transform):
    """Images (plain tensors, ``Image``s or ndarrays) as PIL images of ``mode``."""

    def __init__(self, mode: str | None = None) -> None:
        super().__init__()
        self.mode = mode

    def _needs_transform(self, inpt) -> bool:
        return isinstance(inpt, (Tensor, np.ndarray)) and not isinstance(
            inpt, (tv_tensors.Mask, tv_tensors.BoundingBoxes, tv_tensors.Video))

    def transform(self, inpt: Any, params: dict) -> Any:
        if isinstance(inpt, tv_tensors.TVTensor):
            inpt = _view_as(inpt, Tensor)
        return F.to_pil_image(inpt, mode=self.mode)


class ToPureTensor(Transform):
    """TVTensors as plain Tensors."""

    _transformed_types = (tv_tensors.TVTensor,)

    def transform(self, inpt: Any, params: dict) -> Any:
        return F.to_pure_tensor(inpt)


class ToDtype(Transform):
    """Cast to ``dtype``; with ``scale``, rescale image values between integer ranges and
    [0, 1] floats. One dtype converts images and videos only; a dict maps input types (and
    ``"others"``) to dtypes, None leaving a type alone."""

    def __init__(self, dtype, scale: bool = False) -> None:
        super().__init__()
        if not isinstance(dtype, (dict, _dt.dtype)):
            raise ValueError(f"dtype must be a dict or a dtype, but got {type(dtype)} instead")
        self.dtype, self.scale = dtype, scale

    def transform(self, inpt: Any, params: dict) -> Any:
        if not isinstance(self.dtype, dict):
            if not (is_pure_tensor(inpt) or isinstance(inpt, (tv_tensors.Image,
                                                             tv_tensors.Video))):
                return inpt
            dtype = self.dtype
        else:
            key = Tensor if is_pure_tensor(inpt) else type(inpt)
            dtype = self.dtype[key] if key in self.dtype else self.dtype.get("others")
        if dtype is None or _is_pil(inpt):
            return inpt
        return self._call_kernel(F.to_dtype, inpt, dtype, self.scale)


class Normalize(Transform):
    """``(image - mean) / std`` per channel of float images and videos."""

    def __init__(self, mean, std, inplace: bool = False) -> None:
        super().__init__()
        self.mean, self.std, self.inplace = list(mean), list(std), inplace

    def transform(self, inpt: Any, params: dict) -> Any:
        return self._call_kernel(F.normalize, inpt, self.mean, self.std, self.inplace)


class ConvertBoundingBoxFormat(Transform):
    """Boxes rewritten in ``format``."""

    _transformed_types = (tv_tensors.BoundingBoxes,)

    def __init__(self, format) -> None:
        super().__init__()
        self.format = F._format(format)

    def transform(self, inpt: Any, params: dict) -> Any:
        return F.convert_bounding_box_format(inpt, new_format=self.format)


class ClampBoundingBoxes(Transform):
    """Boxes clipped to their canvas; ``clamping_mode`` "auto" follows each boxes' own mode."""

    _transformed_types = (tv_tensors.BoundingBoxes,)

    def __init__(self, clamping_mode: str | None = "auto") -> None:
        super().__init__()
        self.clamping_mode = clamping_mode

    def transform(self, inpt: Any, params: dict) -> Any:
        return F.clamp_bounding_boxes(inpt, clamping_mode=self.clamping_mode)


class SetClampingMode(Transform):
    """Set the boxes' ``clamping_mode`` ("soft", "hard" or None) for the transforms after."""

    _transformed_types = (tv_tensors.BoundingBoxes,)

    def __init__(self, clamping_mode: str | None) -> None:
        super().__init__()
        if clamping_mode not in (None, "soft", "hard"):
            raise ValueError(f"clamping_mode must be soft, hard or None, got {clamping_mode}")
        self.clamping_mode = clamping_mode

    def transform(self, inpt: Any, params: dict) -> Any:
        return tv_tensors.wrap(inpt.clone(), like=inpt, clamping_mode=self.clamping_mode)


def _sample_and_labels(inputs: tuple, labels_getter: Callable) -> tuple[Any, tuple]:
    """The sample a sanitizing transform got and its label tensors (none when the getter
    finds none), checked as torchvision checks them."""
    sample = inputs if len(inputs) > 1 else inputs[0]
    labels = labels_getter(sample)
    if isinstance(labels, Tensor):
        return sample, (labels,)
    if labels is not None and not (isinstance(labels, (tuple, list))
                                   and all(isinstance(x, Tensor) for x in labels)):
        raise ValueError("The labels in the input to forward() must be a tensor or None, "
                         f"got {type(labels)} instead.")
    return sample, tuple(labels or ())


class SanitizeBoundingBoxes(Transform):
    """Drop boxes narrower or shorter than ``min_size``, smaller than ``min_area``, or outside
    the canvas, with their labels (found by ``labels_getter``) and masks (one per box).

    ``labels_getter="default"`` takes the "labels" entry of a dict sample (or of the second
    item of an (image, target) pair); None keeps labels. A mask that cannot be indexed by box
    (a semantic mask) passes through.
    """

    def __init__(self, min_size: float = 1.0, min_area: float = 1.0,
                 labels_getter: Callable | str | None = "default") -> None:
        super().__init__()
        if min_size < 1:
            raise ValueError(f"min_size must be >= 1, got {min_size}.")
        if min_area < 1:
            raise ValueError(f"min_area must be >= 1, got {min_area}.")
        self.min_size, self.min_area, self.labels_getter = min_size, min_area, labels_getter
        self._labels_getter = _parse_labels_getter(labels_getter)

    def forward(self, *inputs: Any) -> Any:
        sample, labels = _sample_and_labels(inputs, self._labels_getter)
        flat_inputs, spec = tree_flatten(sample)
        boxes = get_bounding_boxes(flat_inputs)
        for label in labels:
            if boxes.shape[0] != label.shape[0]:
                raise ValueError(f"Number of boxes (shape={tuple(boxes.shape)}) and must match "
                                 f"the number of labels. Found labels with "
                                 f"shape={tuple(label.shape)}).")
        valid = self._valid(boxes, boxes.canvas_size)
        out = []
        for inpt in flat_inputs:
            is_label = any(inpt is label for label in labels)
            if not (is_label or isinstance(inpt, (tv_tensors.BoundingBoxes, tv_tensors.Mask))):
                out.append(inpt)
                continue
            try:
                kept = _view_as(inpt, Tensor)[valid] if not is_label else inpt[valid]
            except IndexError:
                out.append(inpt)
                continue
            out.append(kept if is_label else tv_tensors.wrap(kept, like=inpt))
        return tree_unflatten(out, spec)

    def _valid(self, boxes: tv_tensors.BoundingBoxes, canvas_size) -> Tensor:
        return _sanitize_bounding_boxes_mask(_view_as(boxes, Tensor), boxes.format, canvas_size,
                                             self.min_size, self.min_area)


class SanitizeKeyPoints(Transform):
    """Drop the key points (or groups of points, along dim 0) not wholly inside the canvas,
    with their labels (found by ``labels_getter``; None, the default, keeps labels)."""

    def __init__(self, labels_getter: Callable | str | None = None) -> None:
        super().__init__()
        self.labels_getter = labels_getter
        self._labels_getter = _parse_labels_getter(labels_getter)

    def forward(self, *inputs: Any) -> Any:
        sample, labels = _sample_and_labels(inputs, self._labels_getter)
        flat_inputs, spec = tree_flatten(sample)
        points = get_keypoints(flat_inputs)
        for label in labels:
            if points.shape[0] != label.shape[0]:
                raise ValueError(f"Number of kepyoints (shape={tuple(points.shape)}) must match "
                                 f"the number of labels.Found labels with "
                                 f"shape={tuple(label.shape)}).")
        valid = _sanitize_keypoints_mask(_view_as(points, Tensor), points.canvas_size)
        out = []
        for inpt in flat_inputs:
            if any(inpt is label for label in labels):
                out.append(inpt[valid])
            elif isinstance(inpt, tv_tensors.KeyPoints):
                out.append(tv_tensors.wrap(_view_as(inpt, Tensor)[valid], like=inpt))
            else:
                out.append(inpt)
        return tree_unflatten(out, spec)


class ClampKeyPoints(Transform):
    """Clamp key points into their canvas's pixels."""

    _transformed_types = (tv_tensors.KeyPoints,)

    def transform(self, inpt: Any, params: dict) -> Any:
        return F.clamp_keypoints(inpt)


class GaussianNoise(Transform):
    """Add Gaussian noise of ``mean`` and ``sigma`` to images and videos (in [0, 1] units),
    clipped to the valid range if ``clip``."""

    def __init__(self, mean: float = 0.0, sigma: float = 0.1, clip: bool = True) -> None:
        super().__init__()
        self.mean, self.sigma, self.clip = mean, sigma, clip

    def transform(self, inpt: Any, params: dict) -> Any:
        return self._call_kernel(F.gaussian_noise, inpt, self.mean, self.sigma, self.clip)


class LinearTransformation(Transform):
    """Flatten each image or video, subtract ``mean_vector`` and multiply by the square
    ``transformation_matrix`` (as for ZCA whitening), keeping the shape and type; PIL images
    are refused."""

    _transformed_types = (is_pure_tensor, tv_tensors.Image, tv_tensors.Video)

    def __init__(self, transformation_matrix: Tensor, mean_vector: Tensor) -> None:
        super().__init__()
        self._linear = _v1.LinearTransformation(transformation_matrix, mean_vector)  # validates
        self.transformation_matrix, self.mean_vector = transformation_matrix, mean_vector

    def _needs_transform(self, inpt) -> bool:
        return check_type(inpt, self._transformed_types)

    def check_inputs(self, flat_inputs: list) -> None:
        if any(_is_pil(inpt) for inpt in flat_inputs):
            raise TypeError(f"{type(self).__name__}() does not support PIL images.")

    def transform(self, inpt: Any, params: dict) -> Any:
        out = self._linear(_view_as(inpt, Tensor))
        return tv_tensors.wrap(out, like=inpt) if isinstance(inpt, tv_tensors.TVTensor) else out


class ConvertImageDtype(Transform):
    """``ToDtype(dtype, scale=True)`` of images and videos (deprecated in torchvision)."""

    _transformed_types = (is_pure_tensor, tv_tensors.Image, tv_tensors.Video)

    def __init__(self, dtype=_dt.float32) -> None:
        super().__init__()
        self.dtype = dtype

    def _needs_transform(self, inpt) -> bool:
        return check_type(inpt, self._transformed_types)

    def transform(self, inpt: Any, params: dict) -> Any:
        return F.to_dtype(inpt, self.dtype, scale=True)


class ToTensor(Transform):
    """v1's ``to_tensor`` of PIL images and HWC ndarrays: a float CHW plain tensor in [0, 1]
    (deprecated in torchvision: use ``ToImage`` and ``ToDtype``)."""

    def _needs_transform(self, inpt) -> bool:
        return _is_pil(inpt) or isinstance(inpt, np.ndarray)

    def transform(self, inpt: Any, params: dict) -> Any:
        return F.to_tensor(inpt)


class UniformTemporalSubsample(Transform):
    """Keep ``num_samples`` frames evenly spaced over time (dim -4) of each video."""

    _transformed_types = (is_pure_tensor, tv_tensors.Video)

    def __init__(self, num_samples: int) -> None:
        super().__init__()
        self.num_samples = num_samples

    def _needs_transform(self, inpt) -> bool:
        return check_type(inpt, self._transformed_types)

    def transform(self, inpt: Any, params: dict) -> Any:
        return self._call_kernel(F.uniform_temporal_subsample, inpt, self.num_samples)


__all__ = ["ClampBoundingBoxes", "ClampKeyPoints", "ConvertBoundingBoxFormat",
           "ConvertImageDtype", "GaussianNoise", "Identity", "Lambda", "LinearTransformation",
           "Normalize", "PILToTensor", "SanitizeBoundingBoxes", "SanitizeKeyPoints",
           "SetClampingMode", "ToDtype", "ToImage", "ToPILImage", "ToPureTensor", "ToTensor",
           "UniformTemporalSubsample"]
