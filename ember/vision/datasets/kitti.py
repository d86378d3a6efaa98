"""KITTI object detection: the left colour camera images and their label text files."""
from __future__ import annotations

import csv
import os
from typing import Any, Callable

from ember.vision.datasets._helpers import open_image
from ember.vision.datasets.utils import download_and_extract_archive
from ember.vision.datasets.vision import VisionDataset


class Kitti(VisionDataset):
    """KITTI: ``(image, target)``, the PNG in its own mode and (train only; None for test) a
    list of one dict per object of ``label_2/<image stem>.txt``: ``type`` (str),
    ``truncated`` (float), ``occluded`` (int), ``alpha`` (float), ``bbox`` (4 floats, x1 y1
    x2 y2), ``dimensions`` (3 floats), ``location`` (3 floats), ``rotation_y`` (float).

    Args:
        root: folder holding ``Kitti/raw/training/{image_2,label_2}`` and
            ``Kitti/raw/testing/image_2``.
        train: the training split (else the test split, without labels).
        transform, target_transform, transforms: applied to the image / the target / both.
        download: fetch and unpack the image and label archives.
    """

    data_url = "https://s3.eu-central-1.amazonaws.com/avg-kitti/"
    resources = ["data_object_image_2.zip", "data_object_label_2.zip"]
    image_dir_name = "image_2"
    labels_dir_name = "label_2"

    def __init__(self, root: str, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, transforms: Callable | None = None,
                 download: bool = False) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform,
                         transforms=transforms)
        self.train = train
        self._location = "training" if train else "testing"
        if download:
            self.download()
        if not self._check_exists():
            raise RuntimeError("Dataset not found. You may use download=True to download it.")
        image_dir = os.path.join(self._raw_folder, self._location, self.image_dir_name)
        labels_dir = os.path.join(self._raw_folder, self._location, self.labels_dir_name)
        # listing order as torchvision's, so that indices agree
        names = os.listdir(image_dir)
        self.images = [os.path.join(image_dir, name) for name in names]
        self.targets = ([os.path.join(labels_dir, f"{name.split('.')[0]}.txt") for name in names]
                        if train else [])

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image = open_image(self.images[index])
        target = self._parse_target(index) if self.train else None
        if self.transforms:
            image, target = self.transforms(image, target)
        return image, target

    def _parse_target(self, index: int) -> list:
        path = self.targets[index]
        with open(path) as f:
            rows = list(csv.reader(f, delimiter=" "))
        try:
            return [{"type": row[0], "truncated": float(row[1]), "occluded": int(row[2]),
                     "alpha": float(row[3]), "bbox": [float(x) for x in row[4:8]],
                     "dimensions": [float(x) for x in row[8:11]],
                     "location": [float(x) for x in row[11:14]], "rotation_y": float(row[14])}
                    for row in rows]
        except (ValueError, IndexError) as e:
            raise RuntimeError(f"{path}: not a KITTI label file (15 space-separated fields per "
                               f"object): {e}") from e

    def __len__(self) -> int:
        return len(self.images)

    @property
    def _raw_folder(self) -> str:
        return os.path.join(self.root, self.__class__.__name__, "raw")

    def _check_exists(self) -> bool:
        folders = [self.image_dir_name] + ([self.labels_dir_name] if self.train else [])
        return all(os.path.isdir(os.path.join(self._raw_folder, self._location, name))
                   for name in folders)

    def download(self) -> None:
        if self._check_exists():
            return
        os.makedirs(self._raw_folder, exist_ok=True)
        for name in self.resources:
            download_and_extract_archive(url=f"{self.data_url}{name}",
                                         download_root=self._raw_folder, filename=name)
