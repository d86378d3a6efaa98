"""CelebA: 202,599 aligned and cropped celebrity faces with 40 binary attributes, identities,
boxes and five landmarks, the annotations in whitespace-separated text files."""
from __future__ import annotations

import csv
import os
from typing import Any, Callable

import numpy as np

import ember
from ember.vision.datasets._helpers import open_image, verify_str_arg
from ember.vision.datasets.utils import (
    check_integrity,
    download_file_from_google_drive,
    extract_archive,
)
from ember.vision.datasets.vision import VisionDataset

_SPLITS = {"train": 0, "valid": 1, "test": 2, "all": None}


class CelebA(VisionDataset):
    """CelebA: ``(image, target)``, the JPEG of ``img_align_celeba/`` in its own mode; the
    target per ``target_type``: ``"attr"`` (int64 tensor (40,) of 0/1), ``"identity"`` (int64
    scalar tensor), ``"bbox"`` (int64 tensor (4,) x, y, width, height, in the uncropped image),
    ``"landmarks"`` (int64 tensor (10,)); a tuple for several, None for an empty list.

    Args:
        root: folder holding ``celeba/`` with ``img_align_celeba/`` and the five annotation
            files (checked against their MD5 sums).
        split: ``"train"``, ``"valid"``, ``"test"`` or ``"all"``.
        target_type: one of the types above or a list of them.
        transform, target_transform: applied to the image / the target.
        download: fetch the files from Google Drive (needs gdown).
    """

    base_folder = "celeba"
    file_list = [  # (Google Drive id, MD5, file name)
        ("0B7EVK8r0v71pZjFTYXZWM3FlRnM", "00d2c5bc6d35e252742224ab0c1e8fcb",
         "img_align_celeba.zip"),
        ("0B7EVK8r0v71pblRyaVFSWGxPY0U", "75e246fa4810816ffd6ee81facbd244c",
         "list_attr_celeba.txt"),
        ("1_ee_0u7vcNLOfNLegJRHmolfH5ICW-XS", "32bd1bd63d3c78cd57e08160ec5ed1e2",
         "identity_CelebA.txt"),
        ("0B7EVK8r0v71pbThiMVRxWXZ4dU0", "00566efa6fedff7a56946cd1c10f1c16",
         "list_bbox_celeba.txt"),
        ("0B7EVK8r0v71pd0FJY3Blby1HUTQ", "cc24ecafdb5b50baae59b03474781f8c",
         "list_landmarks_align_celeba.txt"),
        ("0B7EVK8r0v71pY0NSMzRuSXJEVkk", "d32c9cbf5e040fd4025c592c306e6668",
         "list_eval_partition.txt"),
    ]

    def __init__(self, root: str, split: str = "train", target_type: list | str = "attr",
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 download: bool = False) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.split = split
        self.target_type = list(target_type) if isinstance(target_type, list) else [target_type]
        if not self.target_type and self.target_transform is not None:
            raise RuntimeError("target_transform is specified but target_type is empty")
        if download:
            self.download()
        if not self._check_integrity():
            raise RuntimeError("Dataset not found or corrupted. You can use download=True to "
                               "download it")
        split_id = _SPLITS[verify_str_arg(split.lower() if isinstance(split, str) else split,
                                          "split", tuple(_SPLITS))]
        names, _, partition = self._load_csv("list_eval_partition.txt")
        keep = (slice(None) if split_id is None
                else np.flatnonzero(partition[:, 0] == split_id))
        self.filename = names if split_id is None else [names[i] for i in keep]
        self.identity = ember.as_tensor(self._load_csv("identity_CelebA.txt")[2][keep])
        self.bbox = ember.as_tensor(self._load_csv("list_bbox_celeba.txt", header=1)[2][keep])
        self.landmarks_align = ember.as_tensor(
            self._load_csv("list_landmarks_align_celeba.txt", header=1)[2][keep])
        _, self.attr_names, attr = self._load_csv("list_attr_celeba.txt", header=1)
        self.attr = ember.as_tensor((attr[keep] + 1) // 2)  # -1/1 -> 0/1

    def _load_csv(self, filename: str, header: int | None = None) -> tuple[list, list, Any]:
        """``(first column, header row, the other columns as an int64 array)`` of a
        space-separated file whose rows before ``header`` are skipped."""
        path = os.path.join(self.root, self.base_folder, filename)
        with open(path) as f:
            rows = list(csv.reader(f, delimiter=" ", skipinitialspace=True))
        headers = []
        if header is not None:
            headers, rows = rows[header], rows[header + 1:]
        try:
            data = np.array([[int(value) for value in row[1:]] for row in rows], dtype=np.int64)
        except (ValueError, IndexError) as e:
            raise RuntimeError(f"{path}: expected rows of a name and integers: {e}") from e
        if data.ndim != 2:
            raise RuntimeError(f"{path}: the rows have different numbers of columns")
        return [row[0] for row in rows], headers, data

    def _check_integrity(self) -> bool:
        folder = os.path.join(self.root, self.base_folder)
        # the archives may be gone once unpacked; only the images folder is needed
        if not all(check_integrity(os.path.join(folder, name), md5)
                   for _, md5, name in self.file_list
                   if os.path.splitext(name)[1] not in (".zip", ".7z")):
            return False
        return os.path.isdir(os.path.join(folder, "img_align_celeba"))

    def download(self) -> None:
        if self._check_integrity():
            return
        folder = os.path.join(self.root, self.base_folder)
        for file_id, md5, name in self.file_list:
            download_file_from_google_drive(file_id, folder, name, md5)
        extract_archive(os.path.join(folder, "img_align_celeba.zip"))

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image = open_image(os.path.join(self.root, self.base_folder, "img_align_celeba",
                                        self.filename[index]))
        target: Any = []
        for t in self.target_type:
            if t == "attr":
                target.append(self.attr[index, :])
            elif t == "identity":
                target.append(self.identity[index, 0])
            elif t == "bbox":
                target.append(self.bbox[index, :])
            elif t == "landmarks":
                target.append(self.landmarks_align[index, :])
            else:
                raise ValueError(f'Target type "{t}" is not recognized.')
        if self.transform is not None:
            image = self.transform(image)
        if not target:
            return image, None
        target = tuple(target) if len(target) > 1 else target[0]
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def __len__(self) -> int:
        return len(self.attr)

    def extra_repr(self) -> str:
        return f"Target type: {self.target_type}\nSplit: {self.split}"
