"""USPS: 16x16 grayscale handwritten digits in LIBSVM's sparse text format, bzip2-compressed."""
from __future__ import annotations

import bz2
import os
from typing import Any, Callable

import numpy as np

from ember.vision.datasets.utils import download_url
from ember.vision.datasets.vision import VisionDataset


def read_usps(path: str) -> tuple:
    """Images (N, 16, 16) uint8 and 0-based labels from ``label index:value ...`` lines.

    Values in [-1, 1] map to [0, 255]; labels 1..10 to 0..9.

    Raises:
        RuntimeError: the file is not valid bzip2 or a line is not LIBSVM with 256 features.
    """
    try:
        with bz2.open(path, "rt", encoding="ascii") as f:
            lines = f.read().splitlines()
    except (EOFError, OSError, ValueError) as e:
        raise RuntimeError(f"{path} is corrupt or truncated: {e}") from e
    lines = [line for line in lines if line.strip()]
    pixels = np.zeros((len(lines), 256), np.float32)
    targets = []
    for row, line in enumerate(lines):
        label, *features = line.split()
        try:
            targets.append(int(float(label)) - 1)
            for feature in features:
                index, value = feature.split(":")
                pixels[row, int(index) - 1] = float(value)  # LIBSVM indices start at 1
        except (ValueError, IndexError) as e:
            raise RuntimeError(f"{path}, line {row + 1}: not a LIBSVM line with feature "
                               f"indices 1..256 ({e})") from e
    images = ((pixels + 1) / 2 * 255).astype(np.uint8).reshape(-1, 16, 16)
    return images, targets


class USPS(VisionDataset):
    """USPS: 7,291 training and 2,007 test 16x16 grayscale digits.

    Args:
        root: folder holding ``usps.bz2`` (train) and ``usps.t.bz2`` (test).
        train: the training file (else the test file).
        transform, target_transform: applied to the PIL image / the int label.
        download: fetch the file if it is missing (its MD5 is checked).

    ``data`` is a uint8 NumPy array (N, 16, 16); ``targets`` a list of ints in 0..9.
    """

    split_list = {
        "train": ["https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/multiclass/usps.bz2",
                  "usps.bz2", "ec16c51db3855ca6c91edd34d0e9b197"],
        "test": ["https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/multiclass/usps.t.bz2",
                 "usps.t.bz2", "8ea070ee2aca1ac39742fdd1ef5ed118"],
    }

    def __init__(self, root: str, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        url, filename, md5 = self.split_list["train" if train else "test"]
        path = os.path.join(self.root, filename)
        if download and not os.path.exists(path):
            download_url(url, self.root, filename, md5=md5)
        if not os.path.isfile(path):
            raise RuntimeError(f"Dataset not found. You can use download=True to download it, "
                               f"or place {filename} in {self.root}")
        self.data, self.targets = read_usps(path)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        return self._array_sample(self.data[index], int(self.targets[index]), mode="L")

    def __len__(self) -> int:
        return len(self.data)
