"""SEMEION: 16x16 binary handwritten digits as text rows of 256 pixels and a one-hot label."""
from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

from ember.vision.datasets.utils import check_integrity, download_url
from ember.vision.datasets.vision import VisionDataset, not_found_error


class SEMEION(VisionDataset):
    """SEMEION's 1,593 handwritten digits (16x16, black or white).

    Args:
        root: folder holding ``semeion.data``.
        transform, target_transform: applied to the PIL image (mode "L") / the int digit.
        download: fetch the file unless a copy with the right MD5 is there (on by default, as
            in torchvision).

    ``data`` is a uint8 NumPy array (N, 16, 16) of 0 and 255; ``labels`` the digits (N,).
    """

    url = "http://archive.ics.uci.edu/ml/machine-learning-databases/semeion/semeion.data"
    filename = "semeion.data"
    md5_checksum = "cb545d371d2ce14ec121470795a77432"

    def __init__(self, root: str, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = True) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        if download:
            self.download()
        if not self._check_integrity():
            raise not_found_error(f"place {self.filename} in {self.root}")
        path = os.path.join(self.root, self.filename)
        try:
            rows = np.loadtxt(path, ndmin=2)
        except ValueError as e:
            raise RuntimeError(f"{path} is corrupt: {e}") from e
        one_hot = rows[:, 256:]
        if rows.shape[1] != 266 or not np.all((one_hot == 0) | (one_hot == 1)) or \
                not np.all(one_hot.sum(1) == 1):
            raise RuntimeError(f"{path}: each row needs 256 pixels and a one-hot label of "
                               f"10, got rows of {rows.shape[1]} values")
        self.data = (rows[:, :256] * 255).astype(np.uint8).reshape(-1, 16, 16)
        self.labels = one_hot.argmax(1)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        return self._array_sample(self.data[index], int(self.labels[index]), mode="L")

    def __len__(self) -> int:
        return len(self.data)

    def _check_integrity(self) -> bool:
        return check_integrity(os.path.join(self.root, self.filename), self.md5_checksum)

    def download(self) -> None:
        if self._check_integrity():
            return
        download_url(self.url, self.root, self.filename, self.md5_checksum)
