"""SUN397: 108,754 scene images in 397 classes under ``SUN397/<letter>/<class path>/``."""
from __future__ import annotations

import os
import pathlib
from typing import Any, Callable

from ember.vision.datasets._labelled import LabelledImageFiles
from ember.vision.datasets.folder import default_loader
from ember.vision.datasets.utils import download_and_extract_archive


class SUN397(LabelledImageFiles):
    """SUN397: ``(image, class_index)`` for every ``sun_*.jpg`` below ``root/SUN397`` (in the
    order a recursive directory walk finds them), its class the folder path below the letter
    folder (``a/abbey``'s class is ``abbey``, ``b/bakery/shop``'s is ``bakery/shop``).
    ``classes`` come from ``ClassName.txt`` (lines ``/a/abbey``, the prefix cut).

    Args:
        root: folder holding ``SUN397``.
        transform, target_transform: applied to the image / the class index.
        download: fetch and unpack the archive.
        loader: reads an image file (default: an RGB PIL image).
    """

    _DATASET_URL = "http://vision.princeton.edu/projects/2010/SUN/SUN397.tar.gz"
    _DATASET_MD5 = "8ca2778205c41d23104230ba66911c7a"

    def __init__(self, root: str, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False,
                 loader: Callable[[str], Any] = default_loader) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self._data_dir = os.path.join(self.root, "SUN397")
        if download:
            self._download()
        if not os.path.isdir(self._data_dir):
            raise RuntimeError("Dataset not found. You can use download=True to download it")
        with open(os.path.join(self._data_dir, "ClassName.txt")) as f:
            self.classes = [line[3:].strip() for line in f]
        self.class_to_idx = {cls: i for i, cls in enumerate(self.classes)}
        data_dir = pathlib.Path(self._data_dir)
        self._samples = []
        for path in data_dir.rglob("sun_*.jpg"):  # the walk order torchvision lists them in
            cls = "/".join(path.relative_to(data_dir).parts[1:-1])
            if cls not in self.class_to_idx:
                raise RuntimeError(f"{path}: its folder names no class of ClassName.txt")
            self._samples.append((str(path), self.class_to_idx[cls]))
        self.loader = loader

    def _download(self) -> None:
        if os.path.isdir(self._data_dir):
            return
        download_and_extract_archive(self._DATASET_URL, download_root=self.root,
                                     md5=self._DATASET_MD5)
