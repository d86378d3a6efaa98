"""STL-10: 96x96 colour images in ten classes, from raw uint8 binaries (column-major pixels)."""
from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

from ember.vision.datasets._helpers import verify_str_arg
from ember.vision.datasets.utils import check_integrity, download_and_extract_archive
from ember.vision.datasets.vision import VisionDataset, not_found_error


class STL10(VisionDataset):
    """STL-10: 5,000 labelled training, 8,000 test and 100,000 unlabelled 96x96 images.

    Args:
        root: folder holding ``stl10_binary/`` (or the downloaded ``.tar.gz``).
        split: ``"train"``, ``"train+unlabeled"``, ``"unlabeled"`` or ``"test"``.
        folds: one of the ten predefined 1,000-image training folds (0-9), or None for all.
        transform, target_transform: applied to the PIL image / the int label (-1 when
            unlabelled).
        download: fetch and unpack the archive (a verified local archive is used as is).

    ``data`` is a uint8 NumPy array (N, 3, 96, 96); ``labels`` a NumPy array of ints.
    """

    base_folder = "stl10_binary"
    url = "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz"
    filename = "stl10_binary.tar.gz"
    tgz_md5 = "91f7769df0f17e558f3565bffb0c7dfb"
    class_names_file = "class_names.txt"
    folds_list_file = "fold_indices.txt"
    train_list = [["train_X.bin", "918c2871b30a85fa023e0c44e0bee87f"],
                  ["train_y.bin", "5a34089d4802c674881badbb80307741"],
                  ["unlabeled_X.bin", "5242ba1fed5e4be9e1e742405eb56ca4"]]
    test_list = [["test_X.bin", "7f263ba9f9e0b06b93213547f721ac82"],
                 ["test_y.bin", "36f9794fa4beb8a2c72628de14fa638e"]]
    splits = ("train", "train+unlabeled", "unlabeled", "test")

    def __init__(self, root: str, split: str = "train", folds: int | None = None,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 download: bool = False) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.split = verify_str_arg(split, "split", self.splits)
        self.folds = self._verify_folds(folds)
        if download:
            self.download()
        elif not self._check_integrity():
            raise not_found_error(f"unpack it into {self._folder()}")
        if split == "test":
            self.data, self.labels = self._load(self.test_list[0][0], self.test_list[1][0])
        elif split == "unlabeled":
            self.data, _ = self._load(self.train_list[2][0])
            self.labels = np.full(len(self.data), -1, np.int64)
        else:
            self.data, self.labels = self._load(self.train_list[0][0], self.train_list[1][0])
            self._select_fold(folds)
            if split == "train+unlabeled":
                unlabeled, _ = self._load(self.train_list[2][0])
                self.data = np.concatenate((self.data, unlabeled))
                self.labels = np.concatenate((self.labels,
                                              np.full(len(unlabeled), -1, np.int64)))
        class_file = os.path.join(self._folder(), self.class_names_file)
        if os.path.isfile(class_file):
            with open(class_file) as f:
                self.classes = f.read().splitlines()

    @staticmethod
    def _verify_folds(folds: int | None) -> int | None:
        if folds is None:
            return folds
        if isinstance(folds, int) and not isinstance(folds, bool):
            if 0 <= folds < 10:
                return folds
            raise ValueError(f"Value for argument folds should be in the range [0, 10), but got "
                             f"{folds}.")
        raise ValueError(f"Expected type None or int for argument folds, but got type "
                         f"{type(folds)}.")

    def _folder(self) -> str:
        return os.path.join(self.root, self.base_folder)

    def _load(self, data_file: str, labels_file: str | None = None) -> tuple:
        labels = None
        if labels_file is not None:
            path = os.path.join(self._folder(), labels_file)
            labels = np.fromfile(path, np.uint8).astype(np.int64) - 1  # stored as 1..10
        path = os.path.join(self._folder(), data_file)
        flat = np.fromfile(path, np.uint8)
        if flat.size % (3 * 96 * 96):
            raise RuntimeError(f"{path} is corrupt or truncated: {flat.size} bytes is not a "
                               "whole number of 3x96x96 images")
        # Each channel is stored column by column (MATLAB order): swap to rows first.
        images = flat.reshape(-1, 3, 96, 96).transpose(0, 1, 3, 2)
        if labels is not None and len(labels) != len(images):
            raise RuntimeError(f"{labels_file} has {len(labels)} labels for {len(images)} "
                               f"images in {data_file}")
        return images, labels

    def _select_fold(self, folds: int | None) -> None:
        if folds is None:
            return
        with open(os.path.join(self._folder(), self.folds_list_file)) as f:
            indices = np.array(f.read().splitlines()[folds].split(), np.int64)
        self.data, self.labels = self.data[indices], self.labels[indices]

    def _check_integrity(self) -> bool:
        return all(check_integrity(os.path.join(self._folder(), name), md5)
                   for name, md5 in self.train_list + self.test_list)

    def download(self) -> None:
        """Download (or verify the local copy of) the archive and unpack it."""
        if self._check_integrity():
            return
        download_and_extract_archive(self.url, self.root, filename=self.filename,
                                     md5=self.tgz_md5)
        if not self._check_integrity():
            raise RuntimeError(f"{self._folder()}: the unpacked files fail their MD5 check")

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        target = None if self.labels is None else int(self.labels[index])
        return self._array_sample(np.ascontiguousarray(self.data[index].transpose(1, 2, 0)),
                                  target)

    def __len__(self) -> int:
        return self.data.shape[0]

    def extra_repr(self) -> str:
        return f"Split: {self.split}"
