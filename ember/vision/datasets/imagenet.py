"""ImageNet 2012 (ILSVRC2012) classification: the train/val class folders made from the
official archives, and ``meta.bin`` (saved with ``torch.save``) naming each WordNet id's
classes, in torchvision's layout."""
from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

import ember
from ember.vision.datasets._helpers import load_mat, verify_str_arg
from ember.vision.datasets.folder import ImageFolder
from ember.vision.datasets.utils import check_integrity, extract_archive

ARCHIVE_META = {
    "train": ("ILSVRC2012_img_train.tar", "1d675b47d978889d74fa0da5fadfb00e"),
    "val": ("ILSVRC2012_img_val.tar", "29b22e2961454d5413ddabcf34fc5622"),
    "devkit": ("ILSVRC2012_devkit_t12.tar.gz", "fa75699e90414af021442c21a62c3abf"),
}
META_FILE = "meta.bin"


class ImageNet(ImageFolder):
    """ImageNet 2012: ``(image, class_index)`` from ``root/<split>/<wnid>/*.JPEG``.

    On first use the archives in ``root`` (``ILSVRC2012_devkit_t12.tar.gz`` and the split's
    image tar, placed there by hand) are checked and unpacked; ``meta.bin`` is written from the
    devkit. ``classes`` are tuples of class names, ``wnids`` the folder names, and
    ``class_to_idx`` maps every class name to its index.

    Args:
        root: the folder of the archives (or of ``meta.bin`` and the unpacked splits).
        split: ``"train"`` or ``"val"``.
        **kwargs: passed to ``ImageFolder`` (transform, target_transform, loader, ...).
    """

    def __init__(self, root: str, split: str = "train", **kwargs: Any) -> None:
        root = self.root = os.path.expanduser(root)
        self.split = verify_str_arg(split, "split", ("train", "val"))
        self.parse_archives()
        wnid_to_classes = load_meta_file(self.root)[0]
        super().__init__(self.split_folder, **kwargs)
        self.root = root
        self.wnids, self.wnid_to_idx = self.classes, self.class_to_idx
        self.classes = [wnid_to_classes[wnid] for wnid in self.wnids]
        self.class_to_idx = {name: idx for idx, names in enumerate(self.classes)
                             for name in names}

    def parse_archives(self) -> None:
        if not check_integrity(os.path.join(self.root, META_FILE)):
            parse_devkit_archive(self.root)
        if not os.path.isdir(self.split_folder):
            if self.split == "train":
                parse_train_archive(self.root)
            else:
                parse_val_archive(self.root)

    @property
    def split_folder(self) -> str:
        return os.path.join(self.root, self.split)

    def extra_repr(self) -> str:
        return f"Split: {self.split}"


def load_meta_file(root: str, file: str | None = None) -> tuple:
    """``(wnid_to_classes, val_wnids)`` from ``root/meta.bin``, read with the safe loader
    (plain containers of strings only)."""
    path = os.path.join(root, META_FILE if file is None else file)
    if not check_integrity(path):
        raise RuntimeError(f"The meta file {path} is not present in the root directory or is "
                           "corrupted. This file is automatically created by the ImageNet "
                           "dataset.")
    try:
        return ember.load(path, weights_only=True)
    except Exception as e:  # the safe loader's refusals and a damaged file alike
        raise RuntimeError(f"The meta file {path} is corrupted or not an ImageNet meta file: "
                           f"{e}") from e


def _verify_archive(root: str, file: str, md5: str) -> None:
    if not check_integrity(os.path.join(root, file), md5):
        raise RuntimeError(f"The archive {file} is not present in the root directory or is "
                           f"corrupted. You need to download it externally and place it in "
                           f"{root}.")


def _parse_meta_mat(devkit_root: str) -> tuple:
    """``(idx_to_wnid, wnid_to_classes)`` of the 1,000 leaf synsets of the devkit's meta.mat."""
    synsets = load_mat(os.path.join(devkit_root, "data", "meta.mat"), squeeze_me=True)["synsets"]
    leaves = [s for s in synsets if s[4] == 0]  # no children
    idx_to_wnid = {int(s[0]): str(s[1]) for s in leaves}
    wnid_to_classes = {str(s[1]): tuple(str(s[2]).split(", ")) for s in leaves}
    return idx_to_wnid, wnid_to_classes


def parse_devkit_archive(root: str, file: str | None = None) -> None:
    """Write ``root/meta.bin`` from the devkit archive: each wnid's class names and the wnid
    of every validation image (from the ground-truth file, in image order)."""
    file = ARCHIVE_META["devkit"][0] if file is None else file
    _verify_archive(root, file, ARCHIVE_META["devkit"][1])
    tmp_dir = tempfile.mkdtemp()
    try:
        extract_archive(os.path.join(root, file), tmp_dir)
        devkit_root = os.path.join(tmp_dir, "ILSVRC2012_devkit_t12")
        idx_to_wnid, wnid_to_classes = _parse_meta_mat(devkit_root)
        with open(os.path.join(devkit_root, "data",
                               "ILSVRC2012_validation_ground_truth.txt")) as f:
            val_wnids = [idx_to_wnid[int(line)] for line in f]
        ember.save((wnid_to_classes, val_wnids), os.path.join(root, META_FILE))
    finally:
        shutil.rmtree(tmp_dir)


def parse_train_archive(root: str, file: str | None = None, folder: str = "train") -> None:
    """Unpack the train tar into ``root/folder``, then each class's inner tar into its
    folder."""
    file = ARCHIVE_META["train"][0] if file is None else file
    _verify_archive(root, file, ARCHIVE_META["train"][1])
    train_root = os.path.join(root, folder)
    extract_archive(os.path.join(root, file), train_root)
    for archive in [os.path.join(train_root, name) for name in os.listdir(train_root)]:
        extract_archive(archive, os.path.splitext(archive)[0], remove_finished=True)


def parse_val_archive(root: str, file: str | None = None, wnids: list | None = None,
                      folder: str = "val") -> None:
    """Unpack the val tar into ``root/folder`` and move each image (in sorted order) into the
    folder of its wnid (from ``meta.bin`` by default)."""
    file = ARCHIVE_META["val"][0] if file is None else file
    wnids = load_meta_file(root)[1] if wnids is None else wnids
    _verify_archive(root, file, ARCHIVE_META["val"][1])
    val_root = os.path.join(root, folder)
    extract_archive(os.path.join(root, file), val_root)
    images = sorted(os.path.join(val_root, name) for name in os.listdir(val_root))
    for wnid in set(wnids):
        os.mkdir(os.path.join(val_root, wnid))
    for wnid, image in zip(wnids, images):
        shutil.move(image, os.path.join(val_root, wnid, os.path.basename(image)))


__all__ = ["ImageNet"]
