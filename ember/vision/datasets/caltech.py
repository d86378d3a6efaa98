"""Caltech 101 and Caltech 256: object images in one folder per category."""
from __future__ import annotations

import os
import shutil
from typing import Any, Callable

from ember.vision.datasets._helpers import load_mat, open_image, verify_str_arg
from ember.vision.datasets.utils import download_and_extract_archive, extract_archive
from ember.vision.datasets.vision import VisionDataset

# the annotation folders whose names differ from their image folders'
_ANNOTATION_FOLDERS = {"Faces": "Faces_2", "Faces_easy": "Faces_3",
                       "Motorbikes": "Motorbikes_16", "airplanes": "Airplanes_Side_2"}


class _CaltechBase(VisionDataset):
    """Images ``1..n`` of each category (``n`` counted from its folder), categories sorted."""

    def _index_categories(self, count: Callable[[str], int]) -> None:
        self.index: list = []
        self.y: list = []
        for i, category in enumerate(self.categories):
            n = count(category)
            self.index.extend(range(1, n + 1))
            self.y.extend([i] * n)

    def __len__(self) -> int:
        return len(self.index)


class Caltech101(_CaltechBase):
    """Caltech 101: ``(image, target)``, the image in its own mode (a few are grayscale); the
    target per ``target_type``: ``"category"`` (the index into ``categories``) or
    ``"annotation"`` (the ``obj_contour`` array, 2 x points, of the annotation .mat); a tuple
    for a list of types.

    Args:
        root: folder holding ``caltech101/101_ObjectCategories/<category>/image_%04d.jpg``
            (and ``caltech101/Annotations/<category>/annotation_%04d.mat``).
        target_type: ``"category"``, ``"annotation"`` or a list of them.
        transform, target_transform: applied to the image / the target.
        download: fetch and unpack the archive.
    """

    def __init__(self, root: str, target_type: list | str = "category",
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 download: bool = False) -> None:
        super().__init__(os.path.join(root, "caltech101"), transform=transform,
                         target_transform=target_transform)
        os.makedirs(self.root, exist_ok=True)
        if isinstance(target_type, str):
            target_type = [target_type]
        self.target_type = [verify_str_arg(t, "target_type", ("category", "annotation"))
                            for t in target_type]
        if download:
            self.download()
        if not self._check_integrity():
            raise RuntimeError("Dataset not found or corrupted. You can use download=True to "
                               "download it")
        images = os.path.join(self.root, "101_ObjectCategories")
        # BACKGROUND_Google holds clutter, not a class
        self.categories = sorted(c for c in os.listdir(images) if c != "BACKGROUND_Google")
        self.annotation_categories = [_ANNOTATION_FOLDERS.get(c, c) for c in self.categories]
        self._index_categories(lambda c: len(os.listdir(os.path.join(images, c))))

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        category, number = self.y[index], self.index[index]
        img = open_image(os.path.join(self.root, "101_ObjectCategories",
                                      self.categories[category], f"image_{number:04d}.jpg"))
        target: Any = []
        for t in self.target_type:
            if t == "category":
                target.append(category)
            else:
                path = os.path.join(self.root, "Annotations",
                                    self.annotation_categories[category],
                                    f"annotation_{number:04d}.mat")
                contents = load_mat(path)
                if "obj_contour" not in contents:
                    raise RuntimeError(f"{path}: no variable 'obj_contour'")
                target.append(contents["obj_contour"])
        target = tuple(target) if len(target) > 1 else target[0]
        return self._apply_transforms(img, target)

    def _check_integrity(self) -> bool:
        return os.path.exists(os.path.join(self.root, "101_ObjectCategories"))

    def download(self) -> None:
        if self._check_integrity():
            return
        download_and_extract_archive(
            "https://data.caltech.edu/records/mzrjq-6wc02/files/caltech-101.zip",
            download_root=self.root, filename="caltech-101.zip",
            md5="3138e1922a9193bfa496528edbbc45d0")
        # the zip holds the image and annotation tars
        inner = os.path.join(self.root, "caltech-101")
        for name in os.listdir(inner):
            if name.endswith(".gz"):
                extract_archive(os.path.join(inner, name), self.root)
        shutil.rmtree(inner)
        os.remove(os.path.join(self.root, "caltech-101.zip"))

    def extra_repr(self) -> str:
        return f"Target type: {self.target_type}"


class Caltech256(_CaltechBase):
    """Caltech 256: ``(image, category index)`` from
    ``caltech256/256_ObjectCategories/<NNN.name>/<NNN>_%04d.jpg``, the image in its own mode.

    Args:
        root: folder holding ``caltech256``.
        transform, target_transform: applied to the image / the category index.
        download: fetch and unpack the archive.
    """

    def __init__(self, root: str, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False) -> None:
        super().__init__(os.path.join(root, "caltech256"), transform=transform,
                         target_transform=target_transform)
        os.makedirs(self.root, exist_ok=True)
        if download:
            self.download()
        if not self._check_integrity():
            raise RuntimeError("Dataset not found or corrupted. You can use download=True to "
                               "download it")
        images = os.path.join(self.root, "256_ObjectCategories")
        self.categories = sorted(os.listdir(images))
        self._index_categories(lambda c: sum(name.endswith(".jpg")
                                             for name in os.listdir(os.path.join(images, c))))

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        category = self.y[index]
        img = open_image(os.path.join(self.root, "256_ObjectCategories",
                                      self.categories[category],
                                      f"{category + 1:03d}_{self.index[index]:04d}.jpg"))
        return self._apply_transforms(img, category)

    def _check_integrity(self) -> bool:
        return os.path.exists(os.path.join(self.root, "256_ObjectCategories"))

    def download(self) -> None:
        if self._check_integrity():
            return
        download_and_extract_archive(
            "https://data.caltech.edu/records/nyy15-4j048/files/256_ObjectCategories.tar",
            self.root, filename="256_ObjectCategories.tar",
            md5="67b4f42ca05d46448c6bb8ecd2220f6d")
