"""Rendered SST2: the sentences of the Stanford Sentiment Treebank v2 rendered as images."""
from __future__ import annotations

import os
from typing import Any, Callable

from ember.vision.datasets._helpers import verify_str_arg
from ember.vision.datasets._labelled import LabelledImageFiles
from ember.vision.datasets.folder import default_loader, make_dataset
from ember.vision.datasets.utils import download_and_extract_archive


class RenderedSST2(LabelledImageFiles):
    """Rendered SST2: ``(image, 0 | 1)`` from ``rendered-sst2/<folder>/{negative,positive}/*.png``
    (folder ``train``, ``valid`` or ``test``).

    Args:
        root: folder holding ``rendered-sst2``.
        split: ``"train"``, ``"val"`` or ``"test"``.
        transform, target_transform: applied to the image / the class index.
        download: fetch and unpack the archive.
        loader: reads an image file (default: an RGB PIL image).
    """

    _URL = "https://openaipublic.azureedge.net/clip/data/rendered-sst2.tgz"
    _MD5 = "2384d08e9dcfa4bd55b324e610496ee5"

    def __init__(self, root: str, split: str = "train", transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False,
                 loader: Callable[[str], Any] = default_loader) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self._split = verify_str_arg(split, "split", ("train", "val", "test"))
        self._split_to_folder = {"train": "train", "val": "valid", "test": "test"}
        self._base_folder = os.path.join(self.root, "rendered-sst2")
        self.classes = ["negative", "positive"]
        self.class_to_idx = {"negative": 0, "positive": 1}
        if download:
            self._download()
        if not self._check_exists():
            raise RuntimeError("Dataset not found. You can use download=True to download it")
        self._samples = make_dataset(self._split_folder, self.class_to_idx, extensions=("png",))
        self.loader = loader

    @property
    def _split_folder(self) -> str:
        return os.path.join(self._base_folder, self._split_to_folder[self._split])

    def extra_repr(self) -> str:
        return f"split={self._split}"

    def _check_exists(self) -> bool:
        return all(os.path.isdir(os.path.join(self._split_folder, cls)) for cls in self.classes)

    def _download(self) -> None:
        if self._check_exists():
            return
        download_and_extract_archive(self._URL, download_root=self.root, md5=self._MD5)
