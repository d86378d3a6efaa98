"""FGVC-Aircraft (2013b): 10,000 aircraft images labelled at three levels (variant, family,
manufacturer)."""
from __future__ import annotations

import os
from typing import Any, Callable

from ember.vision.datasets._helpers import verify_str_arg
from ember.vision.datasets._labelled import LabelledImageFiles
from ember.vision.datasets.folder import default_loader
from ember.vision.datasets.utils import download_and_extract_archive

_CLASS_FILES = {"variant": "variants.txt", "family": "families.txt",
                "manufacturer": "manufacturers.txt"}


class FGVCAircraft(LabelledImageFiles):
    """FGVC-Aircraft: ``(image, class_index)`` from
    ``fgvc-aircraft-2013b/data/images_<annotation_level>_<split>.txt`` (lines ``<id> <class
    name>``); ``classes`` are the lines of ``variants.txt`` (or ``families.txt``,
    ``manufacturers.txt``), in file order.

    Args:
        root: folder holding ``fgvc-aircraft-2013b``.
        split: ``"train"``, ``"val"``, ``"trainval"`` or ``"test"``.
        annotation_level: ``"variant"``, ``"family"`` or ``"manufacturer"``.
        transform, target_transform: applied to the image / the class index.
        download: fetch and unpack the archive.
        loader: reads an image file (default: an RGB PIL image).
    """

    _URL = ("https://www.robots.ox.ac.uk/~vgg/data/fgvc-aircraft/archives/"
            "fgvc-aircraft-2013b.tar.gz")

    def __init__(self, root: str, split: str = "trainval", annotation_level: str = "variant",
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 download: bool = False, loader: Callable[[str], Any] = default_loader) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self._split = verify_str_arg(split, "split", ("train", "val", "trainval", "test"))
        self._annotation_level = verify_str_arg(annotation_level, "annotation_level",
                                                tuple(_CLASS_FILES))
        self._data_path = os.path.join(self.root, "fgvc-aircraft-2013b")
        if download:
            self._download()
        if not os.path.isdir(self._data_path):
            raise RuntimeError("Dataset not found. You can use download=True to download it")
        data_folder = os.path.join(self._data_path, "data")
        with open(os.path.join(data_folder, _CLASS_FILES[self._annotation_level])) as f:
            self.classes = [line.strip() for line in f]
        self.class_to_idx = {cls: i for i, cls in enumerate(self.classes)}
        labels_file = os.path.join(data_folder,
                                   f"images_{self._annotation_level}_{self._split}.txt")
        self._samples = []
        with open(labels_file) as f:
            for line in f:
                image_name, _, label_name = line.strip().partition(" ")
                if label_name not in self.class_to_idx:
                    raise RuntimeError(f"{labels_file}: unknown class {label_name!r} for image "
                                       f"{image_name}")
                self._samples.append((os.path.join(data_folder, "images", f"{image_name}.jpg"),
                                      self.class_to_idx[label_name]))
        self.loader = loader

    def _download(self) -> None:
        if os.path.isdir(self._data_path):
            return
        download_and_extract_archive(self._URL, self.root)
