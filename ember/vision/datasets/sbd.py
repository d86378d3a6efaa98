"""Semantic Boundaries Dataset (SBD): VOC 2011 images with class boundaries and segmentations
in MATLAB (.mat v5) files."""
from __future__ import annotations

import os
import shutil
from typing import Any, Callable

import numpy as np

from ember.vision.datasets._helpers import load_mat, verify_str_arg
from ember.vision.datasets.folder import pil_loader
from ember.vision.datasets.utils import download_and_extract_archive, download_url
from ember.vision.datasets.vision import VisionDataset


class SBDataset(VisionDataset):
    """SBD: ``(RGB image, target)`` for the names of ``<image_set>.txt``. The target, from
    ``cls/<name>.mat``'s ``GTcls`` struct: ``mode="segmentation"``: its ``Segmentation`` as a
    PIL image (class indices); ``mode="boundaries"``: its 20 sparse ``Boundaries`` as a dense
    (20, H, W) array.

    Args:
        root: folder holding ``img/``, ``cls/`` and ``train.txt``, ``val.txt``
            (``train_noval.txt``).
        image_set: ``"train"``, ``"val"`` or ``"train_noval"``.
        mode: ``"segmentation"`` or ``"boundaries"``.
        download: fetch and unpack the benchmark archive (and the train_noval list).
        transforms: applied to ``(image, target)``.
    """

    url = ("https://www2.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/"
           "semantic_contours/benchmark.tgz")
    md5 = "82b4d87ceb2ed10f6038a1cba92111cb"
    filename = "benchmark.tgz"
    voc_train_url = "https://www.cs.cornell.edu/~bharathh/train_noval.txt"
    voc_split_filename = "train_noval.txt"
    voc_split_md5 = "79bff800c5f0b1ec6b21080a3c066722"

    def __init__(self, root: str, image_set: str = "train", mode: str = "boundaries",
                 download: bool = False, transforms: Callable | None = None) -> None:
        try:
            import scipy.io  # noqa: F401
        except ImportError:
            raise RuntimeError("Scipy is not found. This dataset needs to have scipy installed: "
                               "pip install scipy") from None
        super().__init__(root, transforms)
        self.image_set = verify_str_arg(image_set, "image_set", ("train", "val", "train_noval"))
        self.mode = verify_str_arg(mode, "mode", ("segmentation", "boundaries"))
        self.num_classes = 20
        if download:
            self._download()
        if not os.path.isdir(self.root):
            raise RuntimeError("Dataset not found or corrupted. You can use download=True to "
                               "download it")
        with open(os.path.join(self.root, image_set + ".txt")) as f:
            names = [line.strip() for line in f]
        self.images = [os.path.join(self.root, "img", name + ".jpg") for name in names]
        self.masks = [os.path.join(self.root, "cls", name + ".mat") for name in names]

    def _download(self) -> None:
        download_and_extract_archive(self.url, self.root, filename=self.filename, md5=self.md5)
        extracted = os.path.join(self.root, "benchmark_RELEASE", "dataset")
        for name in ["cls", "img", "inst", "train.txt", "val.txt"]:
            shutil.move(os.path.join(extracted, name), self.root)
        if self.image_set == "train_noval":
            download_url(self.voc_train_url, self.root, self.voc_split_filename,
                         self.voc_split_md5)

    def _gtcls_field(self, path: str, field: str) -> Any:
        try:
            return load_mat(path)["GTcls"][0][field][0]
        except (KeyError, IndexError, ValueError) as e:  # no GTcls struct with that field
            raise RuntimeError(f"{path}: no 'GTcls' struct with a '{field}' field: {e!r}") from e

    def _get_target(self, path: str) -> Any:
        from PIL import Image
        if self.mode == "segmentation":
            return Image.fromarray(self._gtcls_field(path, "Segmentation"))
        boundaries = self._gtcls_field(path, "Boundaries")
        try:
            return np.stack([boundaries[i][0].toarray() for i in range(self.num_classes)])
        except (AttributeError, IndexError) as e:
            raise RuntimeError(f"{path}: 'Boundaries' must hold {self.num_classes} sparse "
                               f"matrices: {e!r}") from e

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img, target = pil_loader(self.images[index]), self._get_target(self.masks[index])
        if self.transforms is not None:
            img, target = self.transforms(img, target)
        return img, target

    def __len__(self) -> int:
        return len(self.images)

    def extra_repr(self) -> str:
        return f"Image set: {self.image_set}\nMode: {self.mode}"
