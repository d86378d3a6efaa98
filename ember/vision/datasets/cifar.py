"""CIFAR-10 and CIFAR-100 from their Python pickle batches (loaded without running code)."""
from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

from ember.vision.datasets.utils import check_integrity, download_and_extract_archive, safe_unpickle
from ember.vision.datasets.vision import VisionDataset, not_found_error


class CIFAR10(VisionDataset):
    """CIFAR-10: 50,000 training and 10,000 test 32x32 colour images in ten classes.

    Args:
        root: folder holding ``cifar-10-batches-py/`` (or the downloaded ``.tar.gz``).
        train: the training batches (else the test batch).
        transform, target_transform: applied to the PIL image / the int label.
        download: fetch and unpack the archive (a verified local archive is used as is).

    ``data`` is a uint8 NumPy array (N, 32, 32, 3); ``targets`` a list of ints.
    """

    base_folder = "cifar-10-batches-py"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    filename = "cifar-10-python.tar.gz"
    tgz_md5 = "c58f30108f718f92721af3b95e74349a"
    train_list = [["data_batch_1", "c99cafc152244af753f735de768cd75f"],
                  ["data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"],
                  ["data_batch_3", "54ebc095f3ab1f0389bbae665268c751"],
                  ["data_batch_4", "634d18415352ddfa80567beed471001a"],
                  ["data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"]]
    test_list = [["test_batch", "40351d587109b95175f43aff81a1287e"]]
    meta = {"filename": "batches.meta", "key": "label_names",
            "md5": "5ff9c542aee3614f3951f8cda6e48888"}
    label_key = "labels"

    def __init__(self, root: str, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        if download:
            self.download()
        if not self._check_exists():
            raise not_found_error(f"unpack it into {os.path.join(self.root, self.base_folder)}")
        data, targets = [], []
        for name, _ in self.train_list if train else self.test_list:
            entry = safe_unpickle(os.path.join(self.root, self.base_folder, name))
            if not isinstance(entry, dict) or "data" not in entry:
                raise RuntimeError(f"{name}: not a CIFAR batch (no 'data' entry)")
            batch = np.asarray(entry["data"], np.uint8)
            labels = entry.get(self.label_key, entry.get("labels"))
            if batch.ndim != 2 or batch.shape[1] != 3072 or labels is None or \
                    len(labels) != len(batch):
                raise RuntimeError(f"{name}: corrupt CIFAR batch (data {batch.shape}, "
                                   f"{'no' if labels is None else len(labels)} labels)")
            data.append(batch)
            targets.extend(int(t) for t in labels)
        self.data = np.vstack(data).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()
        self.targets = targets
        self._load_meta()

    def _load_meta(self) -> None:
        path = os.path.join(self.root, self.base_folder, self.meta["filename"])
        if not os.path.isfile(path):
            raise RuntimeError("Dataset metadata file not found or corrupted. You can use "
                               "download=True to download it")
        self.classes = list(safe_unpickle(path)[self.meta["key"]])
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    def _check_exists(self) -> bool:
        folder = os.path.join(self.root, self.base_folder)
        return all(os.path.isfile(os.path.join(folder, name))
                   for name, _ in self.train_list + self.test_list)

    def _check_integrity(self) -> bool:
        folder = os.path.join(self.root, self.base_folder)
        return all(check_integrity(os.path.join(folder, name), md5)
                   for name, md5 in self.train_list + self.test_list)

    def download(self) -> None:
        """Download (or verify the local copy of) the archive and unpack it."""
        if self._check_integrity():
            return
        download_and_extract_archive(self.url, self.root, filename=self.filename,
                                     md5=self.tgz_md5)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        return self._array_sample(self.data[index], self.targets[index])

    def __len__(self) -> int:
        return len(self.data)

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"


class CIFAR100(CIFAR10):
    """CIFAR-100: CIFAR-10's format with 100 fine classes."""

    base_folder = "cifar-100-python"
    url = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    filename = "cifar-100-python.tar.gz"
    tgz_md5 = "eb9058c3a382ffc7106e4002c42a8d85"
    train_list = [["train", "16019d7e3df5f24257cddd939b257f8d"]]
    test_list = [["test", "f0ef6b0ae62326f3e7ffdfab6717acfc"]]
    meta = {"filename": "meta", "key": "fine_label_names",
            "md5": "7973b15100ade9c7d40fb424638fde48"}
    label_key = "fine_labels"
