"""MNIST and its relatives, from IDX files under ``root/<ClassName>/raw`` (torchvision's layout)."""
from __future__ import annotations

import gzip
import os
import string
from typing import Any, Callable

import numpy as np

from ember._tensor import _make
from ember.vision.datasets.utils import (
    calculate_md5,
    check_integrity,
    download_from_mirrors,
    extract_archive,
)
from ember.vision.datasets.vision import VisionDataset

# IDX type codes (the third byte of the magic number) and their big-endian NumPy dtypes.
_IDX_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path: str) -> np.ndarray:
    """An IDX file (plain or ``.gz``) as a native-endian NumPy array.

    Raises:
        RuntimeError: the file is truncated, corrupt, or not IDX.
    """
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                blob = f.read()
        else:
            with open(path, "rb") as f:
                blob = f.read()
    except (EOFError, OSError) as e:
        raise RuntimeError(f"{path} is corrupt or truncated: {e}") from e
    if len(blob) < 4 or blob[0] != 0 or blob[1] != 0 or blob[2] not in _IDX_TYPES:
        raise RuntimeError(f"{path} is not an IDX file (bad magic number {blob[:4].hex()})")
    dtype = _IDX_TYPES[blob[2]]
    ndim = blob[3]
    header = 4 + 4 * ndim
    if len(blob) < header:
        raise RuntimeError(f"{path} is truncated: its header needs {header} bytes")
    shape = tuple(int(s) for s in np.frombuffer(blob, ">i4", ndim, 4))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(blob) != expected:
        raise RuntimeError(f"{path} is corrupt or truncated: shape {shape} needs {expected} "
                           f"bytes, the file has {len(blob)}")
    return np.frombuffer(blob, dtype, offset=header).reshape(shape).astype(
        dtype.newbyteorder("="))


class MNIST(VisionDataset):
    """The MNIST digits: 60,000 training and 10,000 test 28x28 grayscale images.

    Args:
        root: folder holding ``MNIST/raw/`` (the four IDX files, plain or gzipped).
        train: the training set (else the test set).
        transform: applied to the PIL image.
        target_transform: applied to the int label.
        download: fetch missing files from ``mirrors`` (a verified local ``.gz`` is used as is).

    Samples are ``(PIL.Image in mode "L", int)``; ``data`` is a uint8 tensor (N, 28, 28) and
    ``targets`` an int64 tensor (N,).
    """

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/",
               "http://yann.lecun.com/exdb/mnist/"]
    resources = [("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
                 ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
                 ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
                 ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c")]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six",
               "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root: str, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        if download:
            self.download()
        if not self._check_exists():
            raise RuntimeError(f"Dataset not found. You can use download=True to download it, "
                               f"or place the files {self._file_names()} (optionally .gz) in "
                               f"{self.raw_folder}")
        self.data, self.targets = self._load_data()

    @property
    def raw_folder(self) -> str:
        return os.path.join(self.root, self.__class__.__name__, "raw")

    @property
    def processed_folder(self) -> str:
        return os.path.join(self.root, self.__class__.__name__, "processed")

    @property
    def class_to_idx(self) -> dict:
        return {c: i for i, c in enumerate(self.classes)}

    def _file_names(self) -> list:
        return [os.path.splitext(name)[0] for name, _ in self.resources]

    def _locate(self, name: str) -> str | None:
        for candidate in (name, name + ".gz"):
            path = os.path.join(self.raw_folder, candidate)
            if os.path.isfile(path):
                return path
        return None

    def _check_exists(self) -> bool:
        return all(self._locate(name) is not None for name in self._file_names())

    def _split_files(self) -> tuple:
        prefix = "train" if self.train else "t10k"
        return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"

    def _load_data(self) -> tuple:
        image_file, label_file = self._split_files()
        images = read_idx(self._locate(image_file))
        labels = read_idx(self._locate(label_file))
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise RuntimeError(f"{self.raw_folder}: images {images.shape} and labels "
                               f"{labels.shape} do not match")
        return _make(images.astype(np.uint8, copy=False)), _make(labels.astype(np.int64))

    def download(self) -> None:
        """Fetch the missing files; a local ``.gz`` is verified against its MD5 instead.

        Raises:
            RuntimeError: a local file has the wrong MD5, or no mirror can be reached.
        """
        os.makedirs(self.raw_folder, exist_ok=True)
        for filename, md5 in self.resources:
            gz = os.path.join(self.raw_folder, filename)
            if os.path.isfile(gz):
                if not check_integrity(gz, md5):
                    raise RuntimeError(f"{gz} is corrupt or truncated: its MD5 is "
                                       f"{calculate_md5(gz)}, expected {md5}")
            elif not os.path.isfile(os.path.splitext(gz)[0]):
                download_from_mirrors(self.mirrors, filename, self.raw_folder, md5)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        return self._array_sample(self.data._data[index], int(self.targets._data[index]),
                                  mode="L")

    def __len__(self) -> int:
        return len(self.data)

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: MNIST's format and sizes, ten kinds of clothing."""

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
                 ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
                 ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
                 ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310")]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]


class KMNIST(MNIST):
    """Kuzushiji-MNIST: MNIST's format and sizes, ten cursive Japanese characters."""

    mirrors = ["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"]
    resources = [("train-images-idx3-ubyte.gz", "bdb82020997e1d708af4cf47b453dcf7"),
                 ("train-labels-idx1-ubyte.gz", "e144d726b3acfaa3e44228e80efcd344"),
                 ("t10k-images-idx3-ubyte.gz", "5c965bf0a639b31b8f53240b1b52f4d7"),
                 ("t10k-labels-idx1-ubyte.gz", "7320c461ea6c1c855c0b718fb2a4b134")]
    classes = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]


_EMNIST_ALL = list(string.digits + string.ascii_uppercase + string.ascii_lowercase)
# lower-case letters that look like their capitals are merged into them
_EMNIST_MERGED = [c for c in _EMNIST_ALL if c not in set("cijklmopsuvwxyz")]


class EMNIST(MNIST):
    """Extended MNIST: handwritten digits and letters, in six ``split``s.

    The raw folder holds NIST's ``gzip.zip`` or the files it contains,
    ``emnist-<split>-{train,test}-{images-idx3,labels-idx1}-ubyte[.gz]``.
    """

    url = "https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip"
    md5 = "58c8d27c78d21e728a6bc7b3cc06412e"
    splits = ("byclass", "bymerge", "balanced", "letters", "digits", "mnist")
    classes_split_dict = {
        "byclass": _EMNIST_ALL,
        "bymerge": _EMNIST_MERGED,
        "balanced": _EMNIST_MERGED,
        "letters": ["N/A"] + list(string.ascii_lowercase),
        "digits": list(string.digits),
        "mnist": list(string.digits),
    }

    def __init__(self, root: str, split: str, **kwargs) -> None:
        if split not in self.splits:
            raise ValueError(f"Unknown value '{split}' for argument split. Valid values are "
                             f"{{{', '.join(repr(s) for s in self.splits)}}}.")
        self.split = split
        self.classes = self.classes_split_dict[split]
        super().__init__(root, **kwargs)

    def _file_names(self) -> list:
        return [f"emnist-{self.split}-{s}-{kind}-ubyte" for s in ("train", "test")
                for kind in ("images-idx3", "labels-idx1")]

    def _locate(self, name: str) -> str | None:
        found = super()._locate(name)
        if found is None:
            path = os.path.join(self.raw_folder, "gzip", name + ".gz")
            found = path if os.path.isfile(path) else None
        return found

    def _split_files(self) -> tuple:
        s = "train" if self.train else "test"
        return f"emnist-{self.split}-{s}-images-idx3-ubyte", \
            f"emnist-{self.split}-{s}-labels-idx1-ubyte"

    def download(self) -> None:
        if self._check_exists():
            return
        os.makedirs(self.raw_folder, exist_ok=True)
        download_from_mirrors([os.path.dirname(self.url) + "/"], os.path.basename(self.url),
                              self.raw_folder, self.md5)
        gzip_folder = os.path.join(self.raw_folder, "gzip")
        for name in os.listdir(gzip_folder):
            if name.endswith(".gz"):
                extract_archive(os.path.join(gzip_folder, name), self.raw_folder)
