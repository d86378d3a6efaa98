"""Imagenette: ten easy ImageNet classes, in three image sizes, as wnid class folders."""
from __future__ import annotations

import os
from typing import Any, Callable

from ember.vision.datasets._helpers import verify_str_arg
from ember.vision.datasets._labelled import LabelledImageFiles
from ember.vision.datasets.folder import default_loader, find_classes, make_dataset
from ember.vision.datasets.utils import download_and_extract_archive


class Imagenette(LabelledImageFiles):
    """Imagenette: ``(image, class_index)`` from ``<archive stem>/<split>/<wnid>/*.JPEG``.
    ``wnids`` are the sorted folder names, ``classes`` the tuple of names of each,
    ``class_to_idx`` maps every name to its index.

    Args:
        root: folder holding ``imagenette2``, ``imagenette2-320`` or ``imagenette2-160``.
        split: ``"train"`` or ``"val"``.
        size: ``"full"``, ``"320px"`` or ``"160px"``.
        download: fetch and unpack the archive of that size.
        transform, target_transform: applied to the image / the class index.
        loader: reads an image file (default: an RGB PIL image).
    """

    _ARCHIVES = {
        "full": ("https://s3.amazonaws.com/fast-ai-imageclas/imagenette2.tgz",
                 "fe2fc210e6bb7c5664d602c3cd71e612"),
        "320px": ("https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-320.tgz",
                  "3df6f0d01a2c9592104656642f5e78a3"),
        "160px": ("https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-160.tgz",
                  "e793b78cc4c9e9a4ccc0c1155377a412"),
    }
    _WNID_TO_CLASS = {
        "n01440764": ("tench", "Tinca tinca"),
        "n02102040": ("English springer", "English springer spaniel"),
        "n02979186": ("cassette player",),
        "n03000684": ("chain saw", "chainsaw"),
        "n03028079": ("church", "church building"),
        "n03394916": ("French horn", "horn"),
        "n03417042": ("garbage truck", "dustcart"),
        "n03425413": ("gas pump", "gasoline pump", "petrol pump", "island dispenser"),
        "n03445777": ("golf ball",),
        "n03888257": ("parachute", "chute"),
    }

    def __init__(self, root: str, split: str = "train", size: str = "full",
                 download: bool = False, transform: Callable | None = None,
                 target_transform: Callable | None = None,
                 loader: Callable[[str], Any] = default_loader) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self._split = verify_str_arg(split, "split", ["train", "val"])
        self._size = verify_str_arg(size, "size", ["full", "320px", "160px"])
        self._url, self._md5 = self._ARCHIVES[self._size]
        stem = os.path.basename(self._url).rsplit(".", 1)[0]
        self._size_root = os.path.join(self.root, stem)
        self._image_root = os.path.join(self._size_root, self._split)
        if download:
            self._download()
        elif not os.path.exists(self._size_root):
            raise RuntimeError("Dataset not found. You can use download=True to download it.")
        self.wnids, self.wnid_to_idx = find_classes(self._image_root)
        unknown = [wnid for wnid in self.wnids if wnid not in self._WNID_TO_CLASS]
        if unknown:
            raise RuntimeError(f"{self._image_root}: folders {unknown} are no Imagenette class")
        self.classes = [self._WNID_TO_CLASS[wnid] for wnid in self.wnids]
        self.class_to_idx = {name: idx for wnid, idx in self.wnid_to_idx.items()
                             for name in self._WNID_TO_CLASS[wnid]}
        self._samples = make_dataset(self._image_root, self.wnid_to_idx, extensions=".jpeg")
        self.loader = loader

    def _download(self) -> None:
        if os.path.exists(self._size_root):
            return
        download_and_extract_archive(self._url, self.root, md5=self._md5)
