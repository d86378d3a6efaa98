"""Moving MNIST: 10,000 sequences of 20 frames of two digits moving in a 64x64 canvas."""
from __future__ import annotations

import os
from typing import Callable

import numpy as np

from ember._tensor import Tensor, _make
from ember.vision.datasets._helpers import verify_str_arg
from ember.vision.datasets.utils import download_url
from ember.vision.datasets.vision import VisionDataset


class MovingMNIST(VisionDataset):
    """Moving MNIST: sample ``idx`` is a video, a uint8 tensor (T, 1, 64, 64) of frames of
    ``MovingMNIST/mnist_test_seq.npy`` (stored frame-major, (20, N, 64, 64)).

    Args:
        root: folder holding ``MovingMNIST/mnist_test_seq.npy``.
        split: None (all 20 frames), ``"train"`` (the first ``split_ratio`` frames) or
            ``"test"`` (the rest).
        split_ratio: where the frames are split, 1 to 19.
        download: fetch the ``.npy`` file.
        transform: applied to each video tensor.
    """

    _URL = "http://www.cs.toronto.edu/~nitish/unsupervised_video/mnist_test_seq.npy"

    def __init__(self, root: str, split: str | None = None, split_ratio: int = 10,
                 download: bool = False, transform: Callable | None = None) -> None:
        super().__init__(root, transform=transform)
        self._base_folder = os.path.join(self.root, self.__class__.__name__)
        self._filename = self._URL.split("/")[-1]
        if split is not None:
            verify_str_arg(split, "split", ("train", "test"))
        self.split = split
        if not isinstance(split_ratio, int):
            raise TypeError(f"`split_ratio` should be an integer, but got {type(split_ratio)}")
        if not 1 <= split_ratio <= 19:
            raise ValueError(f"`split_ratio` should be `1 <= split_ratio <= 19`, but got "
                             f"{split_ratio} instead.")
        self.split_ratio = split_ratio
        if download:
            self.download()
        if not self._check_exists():
            raise RuntimeError("Dataset not found. You can use download=True to download it.")
        data = self._load(os.path.join(self._base_folder, self._filename))
        if split == "train":
            data = data[:split_ratio]
        elif split == "test":
            data = data[split_ratio:]
        self.data = _make(np.ascontiguousarray(data.transpose(1, 0, 2, 3)[:, :, None]))

    @staticmethod
    def _load(path: str) -> np.ndarray:
        try:
            data = np.load(path, allow_pickle=False)  # a plain array: loading runs nothing
        except (OSError, ValueError, EOFError) as e:
            raise RuntimeError(f"{path}: not a valid .npy array file: {e}") from e
        if not isinstance(data, np.ndarray) or data.ndim != 4:
            raise RuntimeError(f"{path}: expected one (frames, videos, H, W) array, got "
                               f"{getattr(data, 'shape', type(data).__name__)}")
        return data

    def __getitem__(self, idx: int) -> Tensor:
        data = self.data[idx]
        if self.transform is not None:
            data = self.transform(data)
        return data

    def __len__(self) -> int:
        return len(self.data)

    def _check_exists(self) -> bool:
        return os.path.exists(os.path.join(self._base_folder, self._filename))

    def download(self) -> None:
        if self._check_exists():
            return
        download_url(url=self._URL, root=self._base_folder, filename=self._filename,
                     md5="be083ec986bfe91a449d63653c411eb2")
