"""FakeData: random images, the same for the same index on every call."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ember._tensor import _make
from ember.backend.host_random import HostDraws
from ember.vision.datasets.vision import VisionDataset


class FakeData(VisionDataset):
    """``size`` random PIL images of ``image_size`` (C, H, W) with random labels.

    Sample ``i`` is drawn from a generator seeded with ``i + random_offset``, so it is the same
    on every access and in every worker.
    """

    def __init__(self, size: int = 1000, image_size: tuple = (3, 224, 224),
                 num_classes: int = 10, transform: Callable | None = None,
                 target_transform: Callable | None = None, random_offset: int = 0) -> None:
        super().__init__(None, transform=transform, target_transform=target_transform)
        self.size = size
        self.num_classes = num_classes
        self.image_size = image_size
        self.random_offset = random_offset

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        if index >= len(self):
            raise IndexError(f"{self.__class__.__name__} index out of range")
        # torchvision seeds the global generator with index + random_offset for this item
        # (and restores it): a generator of that seed draws the same, the global one untouched
        rng = HostDraws(index + self.random_offset)
        img = rng.normal(tuple(self.image_size), np.float32)
        target = int(rng.integers(0, self.num_classes, (1,), np.int64)[0])
        from ember.vision.transforms.functional import to_pil_image
        return self._apply_transforms(to_pil_image(_make(img)), target)

    def __len__(self) -> int:
        return self.size
