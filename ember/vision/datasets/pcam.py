"""PCAM (PatchCamelyon): 96x96 colour patches of lymph node scans, each labelled 1 where it
shows metastatic tissue, stored as HDF5 arrays (read with h5py)."""
from __future__ import annotations

import os
from typing import Any, Callable

from ember.vision.datasets._helpers import verify_str_arg
from ember.vision.datasets.utils import download_file_from_google_drive, extract_archive
from ember.vision.datasets.vision import VisionDataset


class PCAM(VisionDataset):
    """PatchCamelyon: ``(image, label)``, a 96x96 RGB PIL image and 0 or 1.

    ``root/pcam`` holds, per split, ``camelyonpatch_level_2_split_{train,test,valid}_x.h5``
    (dataset ``x``: N x 96 x 96 x 3 uint8) and ``..._y.h5`` (dataset ``y``: N x 1 x 1 x 1).
    The files are opened at each access, so that DataLoader workers never share an HDF5
    handle. Needs the ``h5py`` package.

    Args:
        root: folder holding ``pcam/``.
        split: ``"train"``, ``"test"`` or ``"val"``.
        transform, target_transform: applied to the image / the label.
        download: fetch the split's two gzipped files from Google Drive (needs gdown) and
            unpack them, unless they are there.
    """

    # split -> (images, targets), each (file name, Google Drive id, md5 of the .gz)
    _FILES = {
        "train": (("camelyonpatch_level_2_split_train_x.h5", "1Ka0XfEMiwgCYPdTI-vv6eUElOBnKFKQ2",
                   "1571f514728f59376b705fc836ff4b63"),
                  ("camelyonpatch_level_2_split_train_y.h5", "1269yhu3pZDP8UYFQs-NYs3FPwuK-nGSG",
                   "35c2d7259d906cfc8143347bb8e05be7")),
        "test": (("camelyonpatch_level_2_split_test_x.h5", "1qV65ZqZvWzuIVthK8eVDhIwrbnsJdbg_",
                  "d8c2d60d490dbd479f8199bdfa0cf6ec"),
                 ("camelyonpatch_level_2_split_test_y.h5", "17BHrSrwWKjYsOgTMmoqrIjDy6Fa2o_gP",
                  "60a7035772fbdb7f34eb86d4420cf66a")),
        "val": (("camelyonpatch_level_2_split_valid_x.h5", "1hgshYGWK8V-eGRy8LToWJJgDU_rXWVJ3",
                 "d5b63470df7cfa627aeec8b9dc0c066e"),
                ("camelyonpatch_level_2_split_valid_y.h5", "1bH8ZRbhSVAhScTS0p9-ZzGnX91cHT3uO",
                 "2b85f58b927af9964a4c15b8f7e8f179")),
    }

    def __init__(self, root: str, split: str = "train", transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False) -> None:
        try:
            import h5py
        except ImportError:
            raise RuntimeError("h5py is not found. This dataset needs to have h5py installed: "
                               "please run pip install h5py") from None
        self.h5py = h5py
        self._split = verify_str_arg(split, "split", ("train", "test", "val"))
        super().__init__(root, transform=transform, target_transform=target_transform)
        self._base_folder = os.path.join(self.root, "pcam")
        if download:
            self._download()
        if not self._check_exists():
            raise RuntimeError("Dataset not found. You can use download=True to download it")
        images, targets = (os.path.join(self._base_folder, f[0]) for f in self._FILES[split])
        with self._open(images, "x") as x, self._open(targets, "y") as y:
            shapes = x["x"].shape, y["y"].shape
        if len(shapes[0]) != 4 or shapes[0][3] != 3 or shapes[1][1:] != (1, 1, 1) \
                or shapes[0][0] != shapes[1][0]:
            raise RuntimeError(f"{self._base_folder}: x must be N x H x W x 3 and y N x 1 x 1 x "
                               f"1 for the same N, got {shapes[0]} and {shapes[1]}")
        self._paths, self._length = (images, targets), shapes[0][0]

    def _open(self, path: str, dataset: str):
        """The HDF5 file at ``path``, checked to hold ``dataset``."""
        try:
            f = self.h5py.File(path, "r")
        except OSError as e:
            raise RuntimeError(f"{path} is not a readable HDF5 file (corrupt or truncated): "
                               f"{e}") from e
        if dataset not in f:
            f.close()
            raise RuntimeError(f"{path} has no dataset '{dataset}'")
        return f

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, idx: int) -> tuple[Any, Any]:
        from PIL import Image
        images, targets = self._paths
        with self._open(images, "x") as x:
            image = Image.fromarray(x["x"][idx]).convert("RGB")
        with self._open(targets, "y") as y:
            target = int(y["y"][idx, 0, 0, 0])
        return self._apply_transforms(image, target)

    def _check_exists(self) -> bool:
        return all(os.path.exists(os.path.join(self._base_folder, name))
                   for name, _, _ in self._FILES[self._split])

    def _download(self) -> None:
        if self._check_exists():
            return
        for name, file_id, md5 in self._FILES[self._split]:
            download_file_from_google_drive(file_id, self._base_folder, filename=name + ".gz",
                                            md5=md5)
            extract_archive(os.path.join(self._base_folder, name + ".gz"))

    def extra_repr(self) -> str:
        return f"split={self._split}"
