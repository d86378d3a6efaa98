"""Stanford Cars: 16,185 images of 196 car models, annotated in MATLAB (.mat v5) files."""
from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

from ember.vision.datasets._helpers import load_mat, verify_str_arg
from ember.vision.datasets._labelled import LabelledImageFiles
from ember.vision.datasets.folder import default_loader


class StanfordCars(LabelledImageFiles):
    """Stanford Cars: ``(image, class_index)`` from the split's annotation struct array
    (fields ``fname`` and a 1-based ``class``); ``classes`` from ``devkit/cars_meta.mat``'s
    ``class_names``.

    Args:
        root: folder holding ``stanford_cars/`` with ``devkit/{cars_meta,cars_train_annos}.mat``,
            ``cars_train/``, ``cars_test/`` and ``cars_test_annos_withlabels.mat``.
        split: ``"train"`` or ``"test"``.
        transform, target_transform: applied to the image / the class index.
        download: not possible any more (the original address is gone): raises ValueError.
        loader: reads an image file (default: an RGB PIL image).
    """

    def __init__(self, root: str, split: str = "train", transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False,
                 loader: Callable[[str], Any] = default_loader) -> None:
        try:
            import scipy.io  # noqa: F401
        except ImportError:
            raise RuntimeError("Scipy is not found. This dataset needs to have scipy installed: "
                               "pip install scipy") from None
        super().__init__(root, transform=transform, target_transform=target_transform)
        self._split = verify_str_arg(split, "split", ("train", "test"))
        self._base_folder = os.path.join(self.root, "stanford_cars")
        devkit = os.path.join(self._base_folder, "devkit")
        if self._split == "train":
            self._annotations_mat_path = os.path.join(devkit, "cars_train_annos.mat")
            self._images_base_path = os.path.join(self._base_folder, "cars_train")
        else:
            self._annotations_mat_path = os.path.join(self._base_folder,
                                                      "cars_test_annos_withlabels.mat")
            self._images_base_path = os.path.join(self._base_folder, "cars_test")
        if download:
            self.download()
        if not self._check_exists():
            raise RuntimeError("Dataset not found.")
        annotations = _mat_field(self._annotations_mat_path, "annotations")
        try:
            self._samples = [(os.path.join(self._images_base_path, str(a["fname"])),
                              int(a["class"]) - 1) for a in np.reshape(annotations, -1)]
        except (ValueError, TypeError, IndexError) as e:  # not a struct with these fields
            raise RuntimeError(f"{self._annotations_mat_path}: 'annotations' needs the fields "
                               f"'fname' and 'class': {e}") from e
        class_names = _mat_field(os.path.join(devkit, "cars_meta.mat"), "class_names")
        self.classes = [str(name) for name in np.reshape(class_names, -1)]
        self.class_to_idx = {cls: i for i, cls in enumerate(self.classes)}
        self.loader = loader

    def _check_exists(self) -> bool:
        return (os.path.isdir(os.path.join(self._base_folder, "devkit"))
                and os.path.exists(self._annotations_mat_path)
                and os.path.isdir(self._images_base_path))

    def download(self) -> None:
        raise ValueError("The original URL is broken so the StanfordCars dataset cannot be "
                         "downloaded anymore.")


def _mat_field(path: str, name: str):
    variables = load_mat(path, squeeze_me=True)
    if name not in variables:
        raise RuntimeError(f"{path}: no variable '{name}'")
    return variables[name]
