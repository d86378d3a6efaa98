"""``Image``, ``Video`` and ``Mask``: tensors tagged with what their pixels mean."""
from __future__ import annotations

import ember
from ember._tensor import Tensor
from ember.vision.tv_tensors._tv_tensor import TVTensor, _view_as


def _as_tensor(data, dtype, device, requires_grad) -> Tensor:
    """``data`` as a tensor (shared when it already is one of that dtype and device), with
    ``requires_grad`` defaulting to the input's."""
    if requires_grad is None:
        requires_grad = data.requires_grad if isinstance(data, Tensor) else False
    tensor = ember.as_tensor(data, dtype=dtype, device=device)
    if isinstance(tensor, TVTensor):
        tensor = _view_as(tensor, Tensor)
    return tensor.requires_grad_(requires_grad)


def _is_pil(data) -> bool:
    from ember.vision.transforms.functional import _is_pil
    return _is_pil(data)


class Image(TVTensor):
    """An image, ``(..., C, H, W)``; a 2-d input gains a channel dimension, and a PIL image is
    read as ``pil_to_tensor`` does.

    Example::

        >>> tuple(Image(ember.zeros(4, 5)).shape)
        (1, 4, 5)
    """

    def __new__(cls, data, *, dtype=None, device=None, requires_grad: bool | None = None):
        if _is_pil(data):
            from ember.vision.transforms.functional import pil_to_tensor
            data = pil_to_tensor(data)
        tensor = _as_tensor(data, dtype, device, requires_grad)
        if tensor.ndim < 2:
            raise ValueError(f"Image needs at least 2 dimensions, got {tensor.ndim}")
        if tensor.ndim == 2:
            tensor = tensor.unsqueeze(0)
        return _view_as(tensor, cls)

    def __init__(self, *args, **kwargs) -> None:
        pass


class Video(TVTensor):
    """A video, ``(..., T, C, H, W)``."""

    def __new__(cls, data, *, dtype=None, device=None, requires_grad: bool | None = None):
        tensor = _as_tensor(data, dtype, device, requires_grad)
        if tensor.ndim < 4:
            raise ValueError(f"Video needs at least 4 dimensions, got {tensor.ndim}")
        return _view_as(tensor, cls)

    def __init__(self, *args, **kwargs) -> None:
        pass


class Mask(TVTensor):
    """A segmentation or detection mask, ``(..., H, W)``; a PIL image is read as
    ``pil_to_tensor`` does (``(1, H, W)`` for a one-band image)."""

    def __new__(cls, data, *, dtype=None, device=None, requires_grad: bool | None = None):
        if _is_pil(data):
            from ember.vision.transforms.functional import pil_to_tensor
            data = pil_to_tensor(data)
        return _view_as(_as_tensor(data, dtype, device, requires_grad), cls)

    def __init__(self, *args, **kwargs) -> None:
        pass
