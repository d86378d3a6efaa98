"""Describable Textures (DTD): 47 texture classes, ten train/val/test partitions listed in
``labels/<split><partition>.txt``."""
from __future__ import annotations

import os
from typing import Any, Callable

from ember.vision.datasets._helpers import verify_str_arg
from ember.vision.datasets._labelled import LabelledImageFiles
from ember.vision.datasets.folder import default_loader
from ember.vision.datasets.utils import download_and_extract_archive


class DTD(LabelledImageFiles):
    """DTD: ``(image, class_index)`` for the images of ``dtd/dtd/labels/<split><partition>.txt``
    (lines ``<class>/<file>``), classes being the sorted class names found in that list.

    Args:
        root: folder holding ``dtd/dtd/{images,labels}``.
        split: ``"train"``, ``"val"`` or ``"test"``.
        partition: which of the ten splittings (1..10).
        transform, target_transform: applied to the image / the class index.
        download: fetch and unpack the archive.
        loader: reads an image file (default: an RGB PIL image).
    """

    _URL = "https://www.robots.ox.ac.uk/~vgg/data/dtd/download/dtd-r1.0.1.tar.gz"
    _MD5 = "fff73e5086ae6bdbea199a49dfb8a4c1"

    def __init__(self, root: str, split: str = "train", partition: int = 1,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 download: bool = False, loader: Callable[[str], Any] = default_loader) -> None:
        self._split = verify_str_arg(split, "split", ("train", "val", "test"))
        if not isinstance(partition, int) or not 1 <= partition <= 10:
            raise ValueError("Parameter 'partition' should be an integer with `1 <= partition "
                             f"<= 10`, but got {partition} instead")
        self._partition = partition
        super().__init__(root, transform=transform, target_transform=target_transform)
        self._base_folder = os.path.join(self.root, "dtd")
        self._data_folder = os.path.join(self._base_folder, "dtd")
        self._meta_folder = os.path.join(self._data_folder, "labels")
        self._images_folder = os.path.join(self._data_folder, "images")
        if download:
            self._download()
        if not os.path.isdir(self._data_folder):
            raise RuntimeError("Dataset not found. You can use download=True to download it")
        list_file = os.path.join(self._meta_folder, f"{self._split}{self._partition}.txt")
        entries = []
        with open(list_file) as f:
            for line in f:
                parts = line.strip().split("/")
                if len(parts) != 2:
                    raise RuntimeError(f"{list_file}: expected lines '<class>/<file>', got "
                                       f"{line.strip()!r}")
                entries.append(parts)
        self.classes = sorted({cls for cls, _ in entries})
        self.class_to_idx = {cls: i for i, cls in enumerate(self.classes)}
        self._samples = [(os.path.join(self._images_folder, cls, name), self.class_to_idx[cls])
                         for cls, name in entries]
        self.loader = loader

    def extra_repr(self) -> str:
        return f"split={self._split}, partition={self._partition}"

    def _download(self) -> None:
        if os.path.isdir(self._data_folder):
            return
        download_and_extract_archive(self._URL, download_root=self._base_folder, md5=self._MD5)
