"""WIDER FACE: 32,203 images with 393,703 labelled faces, boxes in text annotation files."""
from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

import ember
from ember.vision.datasets._helpers import open_image, verify_str_arg
from ember.vision.datasets.utils import (
    download_and_extract_archive,
    download_file_from_google_drive,
    extract_archive,
)
from ember.vision.datasets.vision import VisionDataset

# the columns of a face's annotation line after its x, y, width, height
_ATTRIBUTES = ("blur", "expression", "illumination", "occlusion", "pose", "invalid")


class WIDERFace(VisionDataset):
    """WIDER FACE: ``(image, target)``, the JPEG in its own mode; the target (None for the
    test split) a dict of int64 tensors: ``bbox`` (N, 4) x, y, width, height, and ``blur``,
    ``expression``, ``illumination``, ``occlusion``, ``pose``, ``invalid`` (N,).

    Args:
        root: folder holding ``widerface/`` with ``wider_face_split/`` and ``WIDER_train/``,
            ``WIDER_val/``, ``WIDER_test/`` (each ``images/<event>/<file>.jpg``).
        split: ``"train"``, ``"val"`` or ``"test"``.
        transform, target_transform: applied to the image / the target.
        download: fetch the images from Google Drive (needs gdown) and the annotations.
    """

    BASE_FOLDER = "widerface"
    FILE_LIST = [  # (Google Drive id, MD5, file name)
        ("15hGDLhsx8bLgLcIRD5DhYt5iBxnjNF1M", "3fedf70df600953d25982bcd13d91ba2",
         "WIDER_train.zip"),
        ("1GUCogbp16PMGa39thoMMeWxp7Rp5oM8Q", "dfa7d7e790efa35df3788964cf0bbaea",
         "WIDER_val.zip"),
        ("1HIfDbVEWKmsYKJZm4lchTBDLW5N7dY5T", "e5d8f4248ed24c334bbd12f49c29dd40",
         "WIDER_test.zip"),
    ]
    ANNOTATIONS_FILE = (
        "http://shuoyang1213.me/WIDERFACE/support/bbx_annotation/wider_face_split.zip",
        "0e3767bcf0e326556d407bf5bff5d27c", "wider_face_split.zip")

    def __init__(self, root: str, split: str = "train", transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False) -> None:
        super().__init__(os.path.join(root, self.BASE_FOLDER), transform=transform,
                         target_transform=target_transform)
        self.split = verify_str_arg(split, "split", ("train", "val", "test"))
        if download:
            self.download()
        if not self._check_integrity():
            raise RuntimeError("Dataset not found or corrupted. You can use download=True to "
                               "download and prepare it")
        self.img_info: list = []
        if self.split in ("train", "val"):
            self.parse_train_val_annotations_file()
        else:
            self.parse_test_annotations_file()

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img = open_image(self.img_info[index]["img_path"])
        if self.transform is not None:
            img = self.transform(img)
        target = None if self.split == "test" else self.img_info[index]["annotations"]
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self) -> int:
        return len(self.img_info)

    def extra_repr(self) -> str:
        return f"Split: {self.split}"

    def _image_path(self, name: str) -> str:
        return os.path.abspath(os.path.join(self.root, f"WIDER_{self.split}", "images", name))

    def parse_train_val_annotations_file(self) -> None:
        """Read ``wider_face_<split>_bbx_gt.txt``: per image its path, the number of faces n,
        then max(n, 1) lines of ten integers (an image without faces has one line of zeros,
        kept as its one row, as torchvision does)."""
        path = os.path.join(self.root, "wider_face_split", f"wider_face_{self.split}_bbx_gt.txt")
        with open(path) as f:
            lines = [line.rstrip() for line in f]
        pos = 0
        try:
            while pos < len(lines):
                name, num_boxes = lines[pos], int(lines[pos + 1])
                rows = max(num_boxes, 1)
                values = np.array([[int(v) for v in line.split(" ")]
                                   for line in lines[pos + 2:pos + 2 + rows]], dtype=np.int64)
                if values.shape != (rows, 10):
                    raise ValueError(f"image {name}: expected {rows} lines of 10 integers")
                annotations = {"bbox": ember.as_tensor(values[:, :4].copy())}
                for column, key in enumerate(_ATTRIBUTES, start=4):
                    annotations[key] = ember.as_tensor(values[:, column].copy())
                self.img_info.append({"img_path": self._image_path(name),
                                      "annotations": annotations})
                pos += 2 + rows
        except (ValueError, IndexError) as e:
            raise RuntimeError(f"Error parsing annotation file {path}: {e}") from e

    def parse_test_annotations_file(self) -> None:
        path = os.path.join(self.root, "wider_face_split", "wider_face_test_filelist.txt")
        with open(path) as f:
            self.img_info = [{"img_path": self._image_path(line.rstrip())} for line in f]

    def _check_integrity(self) -> bool:
        # the unpacked folders are what is needed; the zips may be gone
        return all(os.path.exists(os.path.join(self.root, os.path.splitext(name)[0]))
                   for _, _, name in self.FILE_LIST + [self.ANNOTATIONS_FILE])

    def download(self) -> None:
        if self._check_integrity():
            return
        for file_id, md5, name in self.FILE_LIST:
            download_file_from_google_drive(file_id, self.root, name, md5)
            extract_archive(os.path.join(self.root, name))
        url, md5, _ = self.ANNOTATIONS_FILE
        download_and_extract_archive(url=url, download_root=self.root, md5=md5)
