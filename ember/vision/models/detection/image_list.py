"""``ImageList`` (torchvision's ``models.detection.image_list``): a padded batch of images that
remembers each image's size before padding."""
from __future__ import annotations

from ember._tensor import Tensor


class ImageList:
    """Images of possibly different sizes padded into one tensor, with their original sizes.

    Args:
        tensors: the padded batch, ``(N, C, H, W)``.
        image_sizes: ``(height, width)`` of each image before padding.

    Example::

        >>> images = ImageList(ember.zeros(2, 3, 32, 32), [(30, 32), (32, 28)])
        >>> images.image_sizes[1]
        (32, 28)
    """

    def __init__(self, tensors: Tensor, image_sizes: list[tuple[int, int]]) -> None:
        self.tensors = tensors
        self.image_sizes = image_sizes

    def to(self, device) -> ImageList:
        """The same images on ``device`` (sizes unchanged)."""
        return ImageList(self.tensors.to(device), self.image_sizes)
