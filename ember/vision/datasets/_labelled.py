"""The base of the classification data sets that list ``(image path, class index)`` pairs and
read each image with a ``loader``."""
from __future__ import annotations

from typing import Any, Callable

from ember.vision.datasets.folder import default_loader
from ember.vision.datasets.vision import VisionDataset


class LabelledImageFiles(VisionDataset):
    """``(loader(path), label)`` for each pair of ``self._samples`` (set by the subclass)."""

    _samples: list
    loader: Callable[[str], Any] = staticmethod(default_loader)

    @property
    def _image_files(self) -> list:
        return [path for path, _ in self._samples]

    @property
    def _labels(self) -> list:
        return [label for _, label in self._samples]

    def __len__(self) -> int:
        return len(self._samples)

    def __getitem__(self, idx: int) -> tuple[Any, Any]:
        path, label = self._samples[idx]
        return self._apply_transforms(self.loader(path), label)
