"""SVHN: Street View House Numbers, cropped digits from MATLAB (.mat v5) files."""
from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

from ember.vision.datasets._helpers import load_mat, verify_str_arg
from ember.vision.datasets.utils import check_integrity, download_url
from ember.vision.datasets.vision import VisionDataset, not_found_error


class SVHN(VisionDataset):
    """SVHN's 32x32 colour digits: 73,257 ``"train"``, 26,032 ``"test"``, 531,131 ``"extra"``.

    Args:
        root: folder holding ``{split}_32x32.mat``.
        split: ``"train"``, ``"test"`` or ``"extra"``.
        transform, target_transform: applied to the PIL image / the int label.
        download: fetch the file unless a copy with the right MD5 is there.

    ``data`` is a uint8 NumPy array (N, 3, 32, 32); ``labels`` int64 (N,), the digit 0 stored
    as 10 in the file is label 0.
    """

    split_list = {
        "train": ["http://ufldl.stanford.edu/housenumbers/train_32x32.mat", "train_32x32.mat",
                  "e26dedcc434d2e4c54c9b2d4a06d8373"],
        "test": ["http://ufldl.stanford.edu/housenumbers/test_32x32.mat", "test_32x32.mat",
                 "eb5a983be6a315427106f1b164d9cef3"],
        "extra": ["http://ufldl.stanford.edu/housenumbers/extra_32x32.mat", "extra_32x32.mat",
                  "a93ce644f1a588dc4d68dda5feec44a7"],
    }

    def __init__(self, root: str, split: str = "train", transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.split = verify_str_arg(split, "split", tuple(self.split_list))
        self.url, self.filename, self.file_md5 = self.split_list[split]
        if download:
            self.download()
        if not self._check_integrity():
            raise not_found_error(f"place {self.filename} in {self.root}")
        self.data, self.labels = self._load_mat(os.path.join(self.root, self.filename))

    @staticmethod
    def _load_mat(path: str) -> tuple:
        mat = load_mat(path)
        images, labels = mat.get("X"), mat.get("y")
        if images is None or labels is None or images.ndim != 4 or images.shape[2] != 3 or \
                labels.size != images.shape[3]:
            raise RuntimeError(f"{path}: expected X (H, W, 3, N) and y (N, 1), got "
                               f"{None if images is None else images.shape} and "
                               f"{None if labels is None else labels.shape}")
        labels = labels.astype(np.int64).reshape(-1)
        labels[labels == 10] = 0
        return np.ascontiguousarray(images.astype(np.uint8).transpose(3, 2, 0, 1)), labels

    def _check_integrity(self) -> bool:
        return check_integrity(os.path.join(self.root, self.filename), self.file_md5)

    def download(self) -> None:
        md5 = self.split_list[self.split][2]
        download_url(self.url, self.root, self.filename, md5)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        return self._array_sample(self.data[index].transpose(1, 2, 0), int(self.labels[index]))

    def __len__(self) -> int:
        return len(self.data)

    def extra_repr(self) -> str:
        return f"Split: {self.split}"
