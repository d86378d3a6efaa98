"""CLEVR classification: rendered scenes labelled with their number of objects."""
from __future__ import annotations

import json
import os
import pathlib
from typing import Any, Callable

from ember.vision.datasets._helpers import verify_str_arg
from ember.vision.datasets.folder import default_loader
from ember.vision.datasets.utils import download_and_extract_archive
from ember.vision.datasets.vision import VisionDataset


class CLEVRClassification(VisionDataset):
    """CLEVR: ``(image, label)``, the images of ``clevr/CLEVR_v1.0/images/<split>`` in sorted
    order and the number of objects of their scene in
    ``scenes/CLEVR_<split>_scenes.json`` (None for the test split).

    Args:
        root: folder holding ``clevr/``.
        split: ``"train"``, ``"val"`` or ``"test"``.
        transform, target_transform: applied to the image / the label.
        download: fetch and unpack ``CLEVR_v1.0.zip``.
        loader: reads an image file (default: an RGB PIL image).
    """

    _URL = "https://dl.fbaipublicfiles.com/clevr/CLEVR_v1.0.zip"
    _MD5 = "b11922020e72d0cd9154779b2d3d07d2"

    def __init__(self, root: str, split: str = "train", transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False,
                 loader: Callable[[str], Any] = default_loader) -> None:
        self._split = verify_str_arg(split, "split", ("train", "val", "test"))
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.loader = loader
        self._base_folder = pathlib.Path(self.root) / "clevr"
        self._data_folder = self._base_folder / "CLEVR_v1.0"
        if download:
            self._download()
        if not self._check_exists():
            raise RuntimeError("Dataset not found or corrupted. You can use download=True to "
                               "download it")
        self._image_files = sorted(self._data_folder.joinpath("images", self._split).glob("*"))
        self._labels: list = [None] * len(self._image_files)
        if self._split != "test":
            self._labels = self._read_labels(
                self._data_folder / "scenes" / f"CLEVR_{self._split}_scenes.json")

    def _read_labels(self, path: pathlib.Path) -> list:
        try:
            with open(path) as f:
                scenes = json.load(f)["scenes"]
            num_objects = {scene["image_filename"]: len(scene["objects"]) for scene in scenes}
            return [num_objects[image.name] for image in self._image_files]
        except (KeyError, TypeError, ValueError) as e:
            raise RuntimeError(f"{path}: needs a 'scenes' list with the 'image_filename' and "
                               f"'objects' of every image: {e!r}") from e

    def __len__(self) -> int:
        return len(self._image_files)

    def __getitem__(self, idx: int) -> tuple[Any, Any]:
        image = self.loader(self._image_files[idx])
        label = self._labels[idx]
        if self.transform:
            image = self.transform(image)
        if self.target_transform:
            label = self.target_transform(label)
        return image, label

    def _check_exists(self) -> bool:
        return self._data_folder.is_dir()

    def _download(self) -> None:
        if self._check_exists():
            return
        download_and_extract_archive(self._URL, os.fspath(self._base_folder), md5=self._MD5)

    def extra_repr(self) -> str:
        return f"split={self._split}"
