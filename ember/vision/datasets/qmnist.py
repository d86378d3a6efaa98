"""QMNIST: MNIST's digits re-traced from NIST, with eight label columns per image."""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from ember._tensor import _make
from ember.vision.datasets._helpers import verify_str_arg
from ember.vision.datasets.mnist import MNIST, read_idx
from ember.vision.datasets.utils import download_from_mirrors

_BASE = "https://raw.githubusercontent.com/facebookresearch/qmnist/master/"
_MD5 = {"qmnist-train-images-idx3-ubyte.gz": "ed72d4157d28c017586c42bc6afe6370",
        "qmnist-train-labels-idx2-int.gz": "0058f8dd561b90ffdd0f734c6a30e5e4",
        "qmnist-test-images-idx3-ubyte.gz": "1394631089c404de565df7b7aeaf9412",
        "qmnist-test-labels-idx2-int.gz": "5b5b05890a5e13444e108efe57b788aa",
        "xnist-images-idx3-ubyte.xz": "7f124b3b8ab81486c9d8c2749c17f834",
        "xnist-labels-idx2-int.xz": "5ed0e788978e45d4a8bd4b7caec3d79d"}


class QMNIST(MNIST):
    """QMNIST: 60,000 training and 60,000 test digits plus the 402,953 NIST digits.

    Args:
        root: folder holding ``QMNIST/raw/`` (the IDX files, plain or gzipped).
        what: ``"train"``, ``"test"`` (60k), ``"test10k"`` (its first 10k, MNIST's test set),
            ``"test50k"`` (the other 50k) or ``"nist"``; default ``"train"``/``"test"`` by
            ``train``.
        compat: the target is the class number (else the image's row of eight label columns:
            class, NIST series, writer, ... as an int64 tensor).
        train: picks ``what`` when it is None.
        transform, target_transform, download: as for :class:`MNIST`.

    ``data`` is a uint8 tensor (N, 28, 28) and ``targets`` an int64 tensor (N, 8).
    """

    subsets = {"train": "train", "test": "test", "test10k": "test", "test50k": "test",
               "nist": "nist"}
    resources = {subset: [(_BASE + name, _MD5[name]) for name in names] for subset, names in (
        ("train", ("qmnist-train-images-idx3-ubyte.gz", "qmnist-train-labels-idx2-int.gz")),
        ("test", ("qmnist-test-images-idx3-ubyte.gz", "qmnist-test-labels-idx2-int.gz")),
        ("nist", ("xnist-images-idx3-ubyte.xz", "xnist-labels-idx2-int.xz")))}

    def __init__(self, root: str, what: str | None = None, compat: bool = True,
                 train: bool = True, **kwargs: Any) -> None:
        if what is None:
            what = "train" if train else "test"
        self.what = verify_str_arg(what, "what", tuple(self.subsets))
        self.compat = compat
        super().__init__(root, train, **kwargs)

    def _file_names(self) -> list:
        return [os.path.splitext(os.path.basename(url))[0]
                for url, _ in self.resources[self.subsets[self.what]]]

    def _split_files(self) -> tuple:
        return tuple(self._file_names())

    def _load_data(self) -> tuple:
        image_file, label_file = self._split_files()
        images = read_idx(self._locate(image_file))
        labels = read_idx(self._locate(label_file))
        if images.dtype != np.uint8 or images.ndim != 3:
            raise RuntimeError(f"{image_file}: expected uint8 images (N, H, W), got "
                               f"{images.dtype} {images.shape}")
        if labels.ndim != 2 or len(labels) != len(images):
            raise RuntimeError(f"{label_file}: expected one label row per image, got "
                               f"{labels.shape} for {len(images)} images")
        if self.what == "test10k":
            images, labels = images[:10000], labels[:10000]
        elif self.what == "test50k":
            images, labels = images[10000:], labels[10000:]
        return _make(np.ascontiguousarray(images)), _make(labels.astype(np.int64))

    def download(self) -> None:
        """Fetch and unpack only the files of ``what`` (verified local archives are used)."""
        if self._check_exists():
            return
        os.makedirs(self.raw_folder, exist_ok=True)
        for url, md5 in self.resources[self.subsets[self.what]]:
            base, filename = url.rsplit("/", 1)
            download_from_mirrors([base + "/"], filename, self.raw_folder, md5)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        target = self.targets[index]
        if self.compat:
            target = int(target._data[0])
        return self._array_sample(self.data._data[index], target, mode="L")

    def extra_repr(self) -> str:
        return f"Split: {self.what}"
