"""German Traffic Sign Recognition Benchmark: PPM images of 43 sign classes."""
from __future__ import annotations

import csv
import os
from typing import Callable

from ember.vision.datasets._helpers import verify_str_arg
from ember.vision.datasets._labelled import LabelledImageFiles
from ember.vision.datasets.folder import make_dataset
from ember.vision.datasets.utils import download_and_extract_archive

_BASE_URL = "https://sid.erda.dk/public/archives/daaeac0d7ce1152aea9b61d9f1e19370/"


class GTSRB(LabelledImageFiles):
    """GTSRB: ``(RGB image, class_index)``. The train split is the class folders of
    ``GTSRB/Training`` (``.ppm`` files, classes in sorted folder order); the test split lists
    its images and ``ClassId`` in ``GT-final_test.csv`` (``;``-separated).

    Args:
        root: folder holding ``gtsrb/``.
        split: ``"train"`` or ``"test"``.
        transform, target_transform: applied to the image / the class index.
        download: fetch and unpack the split's archives.
    """

    def __init__(self, root: str, split: str = "train", transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self._split = verify_str_arg(split, "split", ("train", "test"))
        self._base_folder = os.path.join(self.root, "gtsrb")
        self._target_folder = os.path.join(
            self._base_folder, "GTSRB",
            "Training" if self._split == "train" else os.path.join("Final_Test", "Images"))
        if download:
            self.download()
        if not os.path.isdir(self._target_folder):
            raise RuntimeError("Dataset not found. You can use download=True to download it")
        if self._split == "train":
            self._samples = make_dataset(self._target_folder, extensions=(".ppm",))
        else:
            self._samples = self._read_test_csv(os.path.join(self._base_folder,
                                                             "GT-final_test.csv"))

    def _read_test_csv(self, path: str) -> list:
        with open(path) as f:
            rows = list(csv.DictReader(f, delimiter=";", skipinitialspace=True))
        try:
            return [(os.path.join(self._target_folder, row["Filename"]), int(row["ClassId"]))
                    for row in rows]
        except (KeyError, TypeError, ValueError) as e:
            raise RuntimeError(f"{path}: needs 'Filename' and integer 'ClassId' columns: "
                               f"{e!r}") from e

    def download(self) -> None:
        if os.path.isdir(self._target_folder):
            return
        if self._split == "train":
            archives = [("GTSRB-Training_fixed.zip", "513f3c79a4c5141765e10e952eaa2478")]
        else:
            archives = [("GTSRB_Final_Test_Images.zip", "c7e4e6327067d32654124b0fe9e82185"),
                        ("GTSRB_Final_Test_GT.zip", "fe31e9c9270bbcd7b84b7f21a9d9d9e5")]
        for name, md5 in archives:
            download_and_extract_archive(f"{_BASE_URL}{name}", download_root=self._base_folder,
                                         md5=md5)
