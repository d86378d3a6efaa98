"""FER2013: 48x48 greyscale faces labelled with one of seven expressions, stored as CSV rows
of space-separated pixel values."""
from __future__ import annotations

import csv
import os
from typing import Any, Callable

import numpy as np

from ember.vision.datasets._helpers import verify_str_arg
from ember.vision.datasets.utils import check_integrity
from ember.vision.datasets.vision import VisionDataset

_KAGGLE = ("https://www.kaggle.com/c/challenges-in-representation-learning-facial-expression-"
           "recognition-challenge")


class FER2013(VisionDataset):
    """FER2013: ``(image, label)``, a 48x48 greyscale (``L``) PIL image and the ``emotion``
    column (None for ``test.csv``, which has no labels).

    The files of ``root/fer2013`` are read in this precedence: ``fer2013.csv`` or
    ``icml_face_data.csv`` (both splits, chosen by the ``Usage`` column: ``Training`` for
    train, ``PublicTest``/``PrivateTest`` for test), else ``train.csv`` / ``test.csv``.

    Args:
        root: folder holding ``fer2013/``.
        split: ``"train"`` or ``"test"``.
        transform, target_transform: applied to the image / the label.
    """

    _RESOURCES = {
        "train": ("train.csv", "3f0dfb3d3fd99c811a1299cb947e3131"),
        "test": ("test.csv", "b02c2298636a634e8c2faabbf3ea9a23"),
        # these two hold both splits and the test labels; icml's column names have spaces
        "fer": ("fer2013.csv", "f8428a1edbd21e88f42c73edd2a14f95"),
        "icml": ("icml_face_data.csv", "b114b9e04e6949e5fe8b6a98b3892b1d"),
    }

    def __init__(self, root: str, split: str = "train", transform: Callable | None = None,
                 target_transform: Callable | None = None) -> None:
        self._split = verify_str_arg(split, "split", ("train", "test"))
        super().__init__(root, transform=transform, target_transform=target_transform)
        base_folder = os.path.join(self.root, "fer2013")
        use_fer = os.path.exists(os.path.join(base_folder, self._RESOURCES["fer"][0]))
        use_icml = not use_fer and os.path.exists(
            os.path.join(base_folder, self._RESOURCES["icml"][0]))
        file_name, md5 = self._RESOURCES["fer" if use_fer else "icml" if use_icml
                                         else self._split]
        data_file = os.path.join(base_folder, file_name)
        if not check_integrity(data_file, md5=md5):
            raise RuntimeError(f"{file_name} not found in {base_folder} or corrupted. You can "
                               f"download it from {_KAGGLE}")
        prefix = " " if use_icml else ""
        labelled = use_fer or use_icml or self._split == "train"
        with open(data_file, newline="") as f:
            rows = list(csv.DictReader(f))
        if use_fer or use_icml:
            usages = ("Training",) if self._split == "train" else ("PublicTest", "PrivateTest")
            rows = [row for row in rows if row.get(prefix + "Usage") in usages]
        try:
            self._samples = [(_face(row[prefix + "pixels"]),
                              int(row["emotion"]) if labelled else None) for row in rows]
        except (KeyError, TypeError, ValueError) as e:
            raise RuntimeError(f"{data_file}: each row needs 'emotion' and 48x48 'pixels' "
                               f"values in 0..255: {e!r}") from e

    def __len__(self) -> int:
        return len(self._samples)

    def __getitem__(self, idx: int) -> tuple[Any, Any]:
        pixels, target = self._samples[idx]
        return self._array_sample(pixels, target)

    def extra_repr(self) -> str:
        return f"split={self._split}"


def _face(text: str) -> np.ndarray:
    values = np.array([int(v) for v in text.split()], dtype=np.int64)
    if values.size != 48 * 48 or values.min() < 0 or values.max() > 255:
        raise ValueError(f"{values.size} pixel values (need 2304 in 0..255)")
    return values.astype(np.uint8).reshape(48, 48)
