"""Food-101: 101 dishes, 750 train and 250 test images each, listed per class in
``meta/<split>.json``."""
from __future__ import annotations

import json
import os
from typing import Any, Callable

from ember.vision.datasets._helpers import verify_str_arg
from ember.vision.datasets._labelled import LabelledImageFiles
from ember.vision.datasets.folder import default_loader
from ember.vision.datasets.utils import download_and_extract_archive


class Food101(LabelledImageFiles):
    """Food-101: ``(image, class_index)``, samples in the JSON's class order, classes sorted.

    Args:
        root: folder holding ``food-101/{meta,images}``; ``meta/<split>.json`` maps each class
            to its images' paths (``<class>/<id>``, without ``.jpg``).
        split: ``"train"`` or ``"test"``.
        transform, target_transform: applied to the image / the class index.
        download: fetch and unpack the archive.
        loader: reads an image file (default: an RGB PIL image).
    """

    _URL = "http://data.vision.ee.ethz.ch/cvl/food-101.tar.gz"
    _MD5 = "85eeb15f3717b99a5da872d97d918f87"

    def __init__(self, root: str, split: str = "train", transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False,
                 loader: Callable[[str], Any] = default_loader) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self._split = verify_str_arg(split, "split", ("train", "test"))
        self._base_folder = os.path.join(self.root, "food-101")
        self._meta_folder = os.path.join(self._base_folder, "meta")
        self._images_folder = os.path.join(self._base_folder, "images")
        if download:
            self._download()
        if not self._check_exists():
            raise RuntimeError("Dataset not found. You can use download=True to download it")
        meta_file = os.path.join(self._meta_folder, f"{split}.json")
        try:
            with open(meta_file) as f:
                metadata = json.load(f)
            if not isinstance(metadata, dict):
                raise ValueError("the top level is not an object")
        except ValueError as e:  # JSONDecodeError is one
            raise RuntimeError(f"{meta_file}: not a Food-101 meta file: {e}") from e
        self.classes = sorted(metadata)
        self.class_to_idx = {cls: i for i, cls in enumerate(self.classes)}
        self._samples = [(os.path.join(self._images_folder, *f"{rel_path}.jpg".split("/")),
                          self.class_to_idx[cls])
                         for cls, rel_paths in metadata.items() for rel_path in rel_paths]
        self.loader = loader

    def extra_repr(self) -> str:
        return f"split={self._split}"

    def _check_exists(self) -> bool:
        return os.path.isdir(self._meta_folder) and os.path.isdir(self._images_folder)

    def _download(self) -> None:
        if self._check_exists():
            return
        download_and_extract_archive(self._URL, download_root=self.root, md5=self._MD5)
