"""Kernel dispatch for ``transforms.v2.functional`` and the sample queries ``Transform`` uses.

NOTE [ v2 kernel dispatch ]
Each functional (``hflip``, ``resize``, ...) keeps a table from input type to kernel: plain
tensors and ``Image``/``Video`` go to the image kernel (the v1 tensor function), PIL images to
the v1 PIL function, ``BoundingBoxes`` and ``Mask`` to their own kernels. A TVTensor's kernel
runs on the plain tensor and its result is wrapped back into the input's type (with a new
canvas size when the kernel returns one). A Transform passes through TVTensor types a
functional has no kernel for (a mask through ColorJitter); calling the functional raises.
"""
from __future__ import annotations

import functools
import sys
from collections.abc import Mapping
from typing import Any, Callable

from ember._tensor import Tensor
from ember.vision import tv_tensors
from ember.vision.transforms.functional import get_dimensions
from ember.vision.tv_tensors._tv_tensor import _view_as

_KERNELS: dict = {}  # functional -> {input type (or "pil") -> kernel}


def _is_pil(inpt) -> bool:
    """Whether ``inpt`` is a PIL image, without importing Pillow on every call (there is no
    PIL image before Pillow is imported)."""
    pil = sys.modules.get("PIL.Image")
    return pil is not None and isinstance(inpt, pil.Image)


def _wrap_tv_tensor_kernel(kernel: Callable) -> Callable:
    """A plain-tensor kernel made to take and give back a TVTensor (see the NOTE above)."""
    @functools.wraps(kernel)
    def wrapper(inpt, *args, **kwargs):
        if isinstance(inpt, tv_tensors.BoundingBoxes):  # box kernels also give the new canvas
            out, canvas_size = kernel(_view_as(inpt, Tensor), *args, format=inpt.format,
                                      canvas_size=inpt.canvas_size,
                                      clamping_mode=inpt.clamping_mode, **kwargs)
            return tv_tensors.wrap(out, like=inpt, canvas_size=canvas_size)
        if isinstance(inpt, tv_tensors.KeyPoints):  # as do point kernels
            out, canvas_size = kernel(_view_as(inpt, Tensor), *args,
                                      canvas_size=inpt.canvas_size, **kwargs)
            return tv_tensors.wrap(out, like=inpt, canvas_size=canvas_size)
        return tv_tensors.wrap(kernel(_view_as(inpt, Tensor), *args, **kwargs), like=inpt)
    return wrapper


def register_kernel(functional: Callable, tv_tensor_cls) -> Callable:
    """Decorate ``kernel`` to be what ``functional`` runs on ``tv_tensor_cls`` inputs (a
    TVTensor type, ``Tensor`` for plain tensors, or ``"pil"``)."""
    def decorate(kernel: Callable) -> Callable:
        table = _KERNELS.setdefault(functional, {})
        wrapped = kernel
        if isinstance(tv_tensor_cls, type) and issubclass(tv_tensor_cls, tv_tensors.TVTensor):
            wrapped = _wrap_tv_tensor_kernel(kernel)
        table[tv_tensor_cls] = wrapped
        return kernel
    return decorate


def _get_kernel(functional: Callable, inpt, allow_passthrough: bool = False) -> Callable:
    table = _KERNELS.get(functional, {})
    if _is_pil(inpt):
        if "pil" in table:
            return table["pil"]
    else:
        for cls in type(inpt).__mro__:
            if cls in table:
                return table[cls]
            if cls is tv_tensors.TVTensor:  # a TVTensor type without a kernel of its own
                break
    if allow_passthrough and isinstance(inpt, tv_tensors.TVTensor):
        return lambda inpt, *args, **kwargs: inpt
    raise TypeError(f"{functional.__name__}() supports inputs of type "
                    f"{[getattr(t, '__name__', t) for t in table]}, but got {type(inpt)} instead.")


def _dispatch(functional: Callable, inpt, *args, **kwargs):
    return _get_kernel(functional, inpt)(inpt, *args, **kwargs)


def is_pure_tensor(inpt) -> bool:
    """A Tensor that is not a TVTensor."""
    return isinstance(inpt, Tensor) and not isinstance(inpt, tv_tensors.TVTensor)


def get_size(inpt) -> list:
    """``[height, width]`` of an image, video, mask, PIL image, or boxes' or points' canvas."""
    if isinstance(inpt, (tv_tensors.BoundingBoxes, tv_tensors.KeyPoints)):
        return list(inpt.canvas_size)
    if _is_pil(inpt):
        return [inpt.height, inpt.width]
    return [int(inpt.shape[-2]), int(inpt.shape[-1])]


def _is_sized(inpt) -> bool:
    return (_is_pil(inpt) or isinstance(inpt, (tv_tensors.Image, tv_tensors.Video,
                                               tv_tensors.Mask, tv_tensors.BoundingBoxes,
                                               tv_tensors.KeyPoints))
            or is_pure_tensor(inpt))


def query_size(flat_inputs: list) -> tuple:
    """The one ``(height, width)`` that every image, video, mask, box and point canvas has."""
    sizes = {tuple(get_size(inpt)) for inpt in flat_inputs if _is_sized(inpt)}
    if not sizes:
        raise TypeError("No image, video, mask or bounding box was found in the sample")
    if len(sizes) > 1:
        raise ValueError(f"Found multiple HxW dimensions in the sample: {sorted(sizes)}")
    return sizes.pop()


def query_chw(flat_inputs: list) -> tuple:
    """The one ``(channels, height, width)`` that every image and video of the sample has."""
    chws = {tuple(get_dimensions(inpt)) for inpt in flat_inputs
            if _is_pil(inpt) or is_pure_tensor(inpt)
            or isinstance(inpt, (tv_tensors.Image, tv_tensors.Video))}
    if not chws:
        raise TypeError("No image or video was found in the sample")
    if len(chws) > 1:
        raise ValueError(f"Found multiple CxHxW dimensions in the sample: {sorted(chws)}")
    return chws.pop()


def check_type(obj, types_or_checks: tuple) -> bool:
    """Whether ``obj`` is an instance of one of the types, or passes one of the checks (plain
    callables such as ``is_pure_tensor``)."""
    for type_or_check in types_or_checks:
        if isinstance(type_or_check, type):
            if isinstance(obj, type_or_check):
                return True
        elif type_or_check(obj):
            return True
    return False


def has_any(flat_inputs: list, *types_or_checks) -> bool:
    """Whether some input is of one of the types (or passes one of the checks)."""
    return any(check_type(inpt, types_or_checks) for inpt in flat_inputs)


def has_all(flat_inputs: list, *types_or_checks) -> bool:
    """Whether every type (or check) is matched by some input."""
    return all(any(check_type(inpt, (t,)) for inpt in flat_inputs) for t in types_or_checks)


def get_keypoints(flat_inputs: list) -> tv_tensors.KeyPoints:
    """The sample's one ``KeyPoints``."""
    points = [inpt for inpt in flat_inputs if isinstance(inpt, tv_tensors.KeyPoints)]
    if not points:
        raise ValueError("No keypoints were found in the sample.")
    return points[0]


def get_bounding_boxes(flat_inputs: list) -> tv_tensors.BoundingBoxes:
    """The sample's one ``BoundingBoxes``."""
    boxes = [inpt for inpt in flat_inputs if isinstance(inpt, tv_tensors.BoundingBoxes)]
    if not boxes:
        raise ValueError("No bounding boxes were found in the sample")
    return boxes[0]


def _find_labels(sample: Any):
    """torchvision's default ``labels_getter``: the second item of a pair when it is a plain
    tensor (batched labels for MixUp/CutMix), else the value under the key named "labels" (any
    case), or else under the first key containing "label", of the sample dict (or of the
    pair's second item)."""
    if isinstance(sample, (tuple, list)):
        sample = sample[1]
    if is_pure_tensor(sample):
        return sample
    if not isinstance(sample, Mapping):
        raise ValueError("When using the default labels_getter, the input passed to forward must "
                         "be a dictionary or a two-tuple whose second item is a dictionary or a "
                         f"tensor, but got {sample} instead.")
    keys = [key for key in sample if isinstance(key, str)]
    key = next((k for k in keys if k.lower() == "labels"), None)
    if key is None:
        key = next((k for k in keys if "label" in k.lower()), None)
    if key is None:
        raise ValueError("Could not infer where the labels are in the sample. Try passing a "
                         "callable as the labels_getter parameter? If there are no labels in the "
                         "sample by design, pass labels_getter=None.")
    return sample[key]


def _parse_labels_getter(labels_getter) -> Callable:
    if labels_getter == "default":
        return _find_labels
    if callable(labels_getter):
        return labels_getter
    if labels_getter is None:
        return lambda _: None
    raise ValueError(f"labels_getter should either be 'default', a callable, or None, but got "
                     f"{labels_getter}.")
