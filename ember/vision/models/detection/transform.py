"""``GeneralizedRCNNTransform`` (torchvision's ``models.detection.transform``): what an R-CNN
does to its inputs before the backbone (normalize, resize, pad into one batch) and to its
detections afterwards (scale back to each original image)."""
from __future__ import annotations

import math
from typing import Any

import ember
from ember import dtypes as _dt
from ember import nn
from ember._tensor import Tensor
from ember.nn import functional as F
from ember.vision.models.detection.image_list import ImageList
from ember.vision.models.detection.roi_heads import paste_masks_in_image


def _resize_image_and_masks(image: Tensor, self_min_size: int, self_max_size: int,
                            target: dict[str, Tensor] | None = None,
                            fixed_size: tuple[int, int] | None = None
                            ) -> tuple[Tensor, dict[str, Tensor] | None]:
    """Bilinear resize of ``image`` (and nearest of ``target["masks"]``): to ``fixed_size``
    (width, height) when given, else by the largest factor keeping the short side at most
    ``self_min_size`` and the long side at most ``self_max_size``."""
    size = None
    scale_factor = None
    recompute_scale_factor = None
    if fixed_size is not None:
        size = [fixed_size[1], fixed_size[0]]
    else:
        height, width = image.shape[-2:]
        scale_factor = min(self_min_size / min(height, width), self_max_size / max(height, width))
        # the output size is floor(side * factor); the kernel then uses side / output exactly
        recompute_scale_factor = True
    image = F.interpolate(image[None], size=size, scale_factor=scale_factor, mode="bilinear",
                          recompute_scale_factor=recompute_scale_factor, align_corners=False)[0]
    if target is None:
        return image, target
    if "masks" in target:
        masks = F.interpolate(target["masks"][:, None].float(), size=size,
                              scale_factor=scale_factor,
                              recompute_scale_factor=recompute_scale_factor)[:, 0]
        target["masks"] = masks.byte()
    return image, target


class GeneralizedRCNNTransform(nn.Module):
    """Normalizes images, resizes them (and their targets) to ``min_size`` / ``max_size`` and
    pads them into one :class:`ImageList` whose sides are multiples of ``size_divisible``;
    :meth:`postprocess` maps detections back to the original image sizes.

    Args:
        min_size: the short side after resizing; a sequence means one chosen at random per
            image in training (its last entry in evaluation).
        max_size: the long side's upper bound after resizing.
        image_mean, image_std: per-channel normalization.
        size_divisible: the padded batch's height and width are multiples of it.
        fixed_size: resize every image to this (width, height) instead.

    Example::

        >>> t = GeneralizedRCNNTransform(64, 100, [0.5] * 3, [0.25] * 3).eval()
        >>> images, _ = t([ember.rand(3, 30, 40)])
        >>> images.tensors.shape, images.image_sizes
        (torch.Size([1, 3, 64, 96]), [(64, 85)])
    """

    def __init__(self, min_size: int | tuple[int, ...], max_size: int, image_mean: list[float],
                 image_std: list[float], size_divisible: int = 32,
                 fixed_size: tuple[int, int] | None = None, **kwargs: Any) -> None:
        super().__init__()
        if not isinstance(min_size, (list, tuple)):
            min_size = (min_size,)
        self.min_size = min_size
        self.max_size = max_size
        self.image_mean = image_mean
        self.image_std = image_std
        self.size_divisible = size_divisible
        self.fixed_size = fixed_size
        self._skip_resize = kwargs.pop("_skip_resize", False)

    def forward(self, images: list[Tensor], targets: list[dict[str, Tensor]] | None = None
                ) -> tuple[ImageList, list[dict[str, Tensor]] | None]:
        images = list(images)
        if targets is not None:  # shallow copies: the caller's dicts stay as they were
            targets = [dict(t) for t in targets]
        for i, image in enumerate(images):
            target = targets[i] if targets is not None else None
            if image.dim() != 3:
                raise ValueError("images is expected to be a list of 3d tensors of shape "
                                 f"[C, H, W], got {image.shape}")
            image = self.normalize(image)
            image, target = self.resize(image, target)
            images[i] = image
            if targets is not None and target is not None:
                targets[i] = target
        image_sizes = [(int(img.shape[-2]), int(img.shape[-1])) for img in images]
        batch = self.batch_images(images, size_divisible=self.size_divisible)
        return ImageList(batch, image_sizes), targets

    def normalize(self, image: Tensor) -> Tensor:
        """``(image - mean) / std`` per channel; ``image`` must be floating point."""
        if not image.is_floating_point():
            raise TypeError("Expected input images to be of floating type (in range [0, 1]), "
                            f"but found type {image.dtype} instead")
        mean = ember.as_tensor(self.image_mean, dtype=image.dtype, device=image.device)
        std = ember.as_tensor(self.image_std, dtype=image.dtype, device=image.device)
        return (image - mean[:, None, None]) / std[:, None, None]

    def torch_choice(self, k: list[int]) -> int:
        """A random entry of ``k``, drawn from ember's generator (as torchvision draws from
        torch's, so a seed fixes it)."""
        index = int(ember.empty(1).uniform_(0.0, float(len(k))).item())
        return k[index]

    def resize(self, image: Tensor, target: dict[str, Tensor] | None = None
               ) -> tuple[Tensor, dict[str, Tensor] | None]:
        """Resizes ``image`` and scales the target's boxes, masks and keypoints with it."""
        h, w = image.shape[-2:]
        if self.training:
            if self._skip_resize:
                return image, target
            size = self.torch_choice(self.min_size)
        else:
            size = self.min_size[-1]
        image, target = _resize_image_and_masks(image, size, self.max_size, target,
                                                self.fixed_size)
        if target is None:
            return image, target
        new_size = image.shape[-2:]
        target["boxes"] = resize_boxes(target["boxes"], (h, w), new_size)
        if "keypoints" in target:
            target["keypoints"] = resize_keypoints(target["keypoints"], (h, w), new_size)
        return image, target

    def max_by_axis(self, the_list: list[list[int]]) -> list[int]:
        """The elementwise maximum of equally long lists."""
        return [max(column) for column in zip(*the_list)]

    def batch_images(self, images: list[Tensor], size_divisible: int = 32) -> Tensor:
        """Zero-pads the images at the bottom and right into one ``(N, C, H, W)`` tensor whose
        ``H`` and ``W`` are the largest ones rounded up to multiples of ``size_divisible``."""
        max_size = self.max_by_axis([list(img.shape) for img in images])
        stride = float(size_divisible)
        max_size[1] = int(math.ceil(float(max_size[1]) / stride) * stride)
        max_size[2] = int(math.ceil(float(max_size[2]) / stride) * stride)
        batched = images[0].new_full([len(images)] + max_size, 0)
        for i, img in enumerate(images):
            batched[i, : img.shape[0], : img.shape[1], : img.shape[2]].copy_(img)
        return batched

    def postprocess(self, result: list[dict[str, Tensor]], image_shapes: list[tuple[int, int]],
                    original_image_sizes: list[tuple[int, int]]) -> list[dict[str, Tensor]]:
        """In evaluation, rescales each detection's boxes and keypoints from the resized image
        to the original one and pastes its masks into a full-size image; in training, returns
        ``result`` unchanged."""
        if self.training:
            return result
        for pred, resized, original in zip(result, image_shapes, original_image_sizes):
            pred["boxes"] = resize_boxes(pred["boxes"], resized, original)
            if "masks" in pred:
                pred["masks"] = paste_masks_in_image(pred["masks"], pred["boxes"], original)
            if "keypoints" in pred:
                pred["keypoints"] = resize_keypoints(pred["keypoints"], resized, original)
        return result

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}("
                f"\n    Normalize(mean={self.image_mean}, std={self.image_std})"
                f"\n    Resize(min_size={self.min_size}, max_size={self.max_size}, "
                "mode='bilinear')\n)")


def _ratios(original_size, new_size, device) -> list[Tensor]:
    # float32 quotients, as torchvision computes them, whatever the boxes' dtype
    return [ember.tensor(float(new), dtype=_dt.float32, device=device)
            / ember.tensor(float(old), dtype=_dt.float32, device=device)
            for new, old in zip(new_size, original_size)]


def resize_keypoints(keypoints: Tensor, original_size: list[int], new_size: list[int]) -> Tensor:
    """Scales keypoints ``(N, K, 3)`` (x, y, visibility) from an image of ``original_size``
    (height, width) to one of ``new_size``; visibility is kept."""
    ratio_h, ratio_w = _ratios(original_size, new_size, keypoints.device)
    resized = keypoints.clone()
    resized[..., 0] *= ratio_w
    resized[..., 1] *= ratio_h
    return resized


def resize_boxes(boxes: Tensor, original_size: list[int], new_size: list[int]) -> Tensor:
    """Scales ``(N, 4)`` boxes ``(x1, y1, x2, y2)`` from an image of ``original_size``
    (height, width) to one of ``new_size``."""
    ratio_height, ratio_width = _ratios(original_size, new_size, boxes.device)
    xmin, ymin, xmax, ymax = boxes.unbind(1)
    return ember.stack((xmin * ratio_width, ymin * ratio_height,
                        xmax * ratio_width, ymax * ratio_height), dim=1)
