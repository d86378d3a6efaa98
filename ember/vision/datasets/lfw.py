"""Labeled Faces in the Wild: face images grouped by identity (LFWPeople) or as matched and
mismatched pairs (LFWPairs), with the splits of its text files."""
from __future__ import annotations

import os
from typing import Any, Callable

from ember.vision.datasets._helpers import verify_str_arg
from ember.vision.datasets.folder import default_loader
from ember.vision.datasets.utils import check_integrity
from ember.vision.datasets.vision import VisionDataset


class _LFW(VisionDataset):
    """What LFWPeople and LFWPairs share: ``root/lfw-py`` holding the image archive (checked
    by MD5), its unpacked folder and the split's annotation file."""

    base_folder = "lfw-py"
    download_url_prefix = "http://vis-www.cs.umass.edu/lfw/"
    file_dict = {
        "original": ("lfw", "lfw.tgz", "a17d05bd522c52d84eca14327a23d494"),
        "funneled": ("lfw_funneled", "lfw-funneled.tgz", "1b42dfed7d15c9b2dd63d5e5840c86ad"),
        "deepfunneled": ("lfw-deepfunneled", "lfw-deepfunneled.tgz",
                         "68331da3eb755a505a502b5aacb3c201"),
    }
    checksums = {
        "pairs.txt": "9f1ba174e4e1c508ff7cdf10ac338a7d",
        "pairsDevTest.txt": "5132f7440eb68cf58910c8a45a2ac10b",
        "pairsDevTrain.txt": "4f27cbf15b2da4a85c1907eb4181ad21",
        "people.txt": "450f0863dd89e85e73936a6d71a3474b",
        "peopleDevTest.txt": "e4bf5be0a43b5dcd9dc5ccfcb8fb19c5",
        "peopleDevTrain.txt": "54eaac34beb6d042ed3a7d883e247a21",
        "lfw-names.txt": "a6d0a479bd074669f656265a6e693f6d",
    }
    annot_file = {"10fold": "", "train": "DevTrain", "test": "DevTest"}
    names = "lfw-names.txt"

    def __init__(self, root: str, split: str, image_set: str, view: str,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 download: bool = False, loader: Callable[[str], Any] = default_loader) -> None:
        super().__init__(os.path.join(root, self.base_folder), transform=transform,
                         target_transform=target_transform)
        self.image_set = verify_str_arg(image_set.lower(), "image_set", self.file_dict.keys())
        images_dir, self.filename, self.md5 = self.file_dict[self.image_set]
        self.view = verify_str_arg(view.lower(), "view", ["people", "pairs"])
        self.split = verify_str_arg(split.lower(), "split", ["10fold", "train", "test"])
        self.labels_file = f"{self.view}{self.annot_file[self.split]}.txt"
        self.data: list = []
        if download:
            raise ValueError("LFW dataset is no longer available for automatic download."
                             "Please download the dataset manually and place it in the "
                             "specified directory.A commonly used mirror is available at: "
                             "https://www.kaggle.com/datasets/jessicali9530/lfw-dataset")
        if not self._check_integrity():
            raise RuntimeError("Dataset not found or corrupted. You can use download=True to "
                               "download it")
        self.images_dir = os.path.join(self.root, images_dir)
        self._loader = loader

    def _check_integrity(self) -> bool:
        files = [(self.filename, self.md5), (self.labels_file, self.checksums[self.labels_file])]
        if self.view == "people":
            files.append((self.names, self.checksums[self.names]))
        return all(check_integrity(os.path.join(self.root, name), md5) for name, md5 in files)

    def _get_path(self, identity: str, no: int | str) -> str:
        return os.path.join(self.images_dir, identity, f"{identity}_{int(no):04d}.jpg")

    def _read_lines(self, name: str) -> list:
        with open(os.path.join(self.root, name)) as f:
            return f.readlines()

    def _malformed(self, name: str, error: Exception) -> RuntimeError:
        return RuntimeError(f"{os.path.join(self.root, name)}: malformed LFW {self.view} "
                            f"list: {error!r}")

    def extra_repr(self) -> str:
        return f"Alignment: {self.image_set}\nSplit: {self.split}"

    def __len__(self) -> int:
        return len(self.data)


class LFWPeople(_LFW):
    """LFW identities: ``(image, identity_index)``, every image of every person listed in the
    split's ``people*.txt`` (``name<TAB>count`` lines, in folds for ``10fold``), indices from
    the order of ``lfw-names.txt``.

    Args:
        root: folder holding ``lfw-py/`` (the archive, its unpacked folder and the lists).
        split: ``"10fold"``, ``"train"`` or ``"test"``.
        image_set: ``"original"``, ``"funneled"`` or ``"deepfunneled"``.
        transform, target_transform: applied to the image / the identity index.
        download: no longer supported (raises ValueError).
        loader: reads an image file (default: an RGB PIL image).
    """

    def __init__(self, root: str, split: str = "10fold", image_set: str = "funneled",
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 download: bool = False, loader: Callable[[str], Any] = default_loader) -> None:
        super().__init__(root, split, image_set, "people", transform, target_transform,
                         download, loader=loader)
        self.class_to_idx = self._get_classes()
        self.data, self.targets = self._get_people()

    def _get_people(self) -> tuple[list, list]:
        data, targets = [], []
        lines = self._read_lines(self.labels_file)
        try:
            n_folds, start = (int(lines[0]), 1) if self.split == "10fold" else (1, 0)
            for _ in range(n_folds):
                n_lines = int(lines[start])
                people = [line.strip().split("\t") for line in lines[start + 1:start + n_lines + 1]]
                start += n_lines + 1
                for identity, num_imgs in people:
                    for num in range(1, int(num_imgs) + 1):
                        data.append(self._get_path(identity, num))
                        targets.append(self.class_to_idx[identity])
        except (IndexError, KeyError, ValueError) as e:
            raise self._malformed(self.labels_file, e) from e
        return data, targets

    def _get_classes(self) -> dict:
        try:
            names = [line.strip().split()[0] for line in self._read_lines(self.names)]
        except IndexError as e:
            raise self._malformed(self.names, e) from e
        return {name: i for i, name in enumerate(names)}

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img = self._loader(self.data[index])
        return self._apply_transforms(img, self.targets[index])

    def extra_repr(self) -> str:
        return super().extra_repr() + f"\nClasses (identities): {len(self.class_to_idx)}"


class LFWPairs(_LFW):
    """LFW pairs: ``(image1, image2, same)``, ``same`` 1 for the matched pairs
    (``name<TAB>n1<TAB>n2``) and 0 for the mismatched ones (``name1<TAB>n1<TAB>name2<TAB>n2``)
    of the split's ``pairs*.txt`` (each fold: its matched pairs, then its mismatched ones).

    Args:
        root: folder holding ``lfw-py/`` (the archive, its unpacked folder and the lists).
        split: ``"10fold"``, ``"train"`` or ``"test"``.
        image_set: ``"original"``, ``"funneled"`` or ``"deepfunneled"``.
        transform: applied to each image; target_transform: to ``same``.
        download: no longer supported (raises ValueError).
        loader: reads an image file (default: an RGB PIL image).
    """

    def __init__(self, root: str, split: str = "10fold", image_set: str = "funneled",
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 download: bool = False, loader: Callable[[str], Any] = default_loader) -> None:
        super().__init__(root, split, image_set, "pairs", transform, target_transform,
                         download, loader=loader)
        self.pair_names, self.data, self.targets = self._get_pairs(self.images_dir)

    def _get_pairs(self, images_dir: str) -> tuple[list, list, list]:
        pair_names, data, targets = [], [], []
        lines = self._read_lines(self.labels_file)
        try:
            if self.split == "10fold":
                n_folds, n_pairs = (int(v) for v in lines[0].split("\t"))
            else:
                n_folds, n_pairs = 1, int(lines[0])
            start = 1
            for _ in range(n_folds):
                fold = [line.strip().split("\t") for line in lines[start:start + 2 * n_pairs]]
                start += 2 * n_pairs
                for name, first, second in fold[:n_pairs]:
                    pair_names.append((name, name))
                    data.append((self._get_path(name, first), self._get_path(name, second)))
                    targets.append(1)
                for name1, first, name2, second in fold[n_pairs:]:
                    pair_names.append((name1, name2))
                    data.append((self._get_path(name1, first), self._get_path(name2, second)))
                    targets.append(0)
        except (IndexError, ValueError) as e:
            raise self._malformed(self.labels_file, e) from e
        return pair_names, data, targets

    def __getitem__(self, index: int) -> tuple[Any, Any, int]:
        path1, path2 = self.data[index]
        img1, img2 = self._loader(path1), self._loader(path2)
        target = self.targets[index]
        if self.transform is not None:
            img1, img2 = self.transform(img1), self.transform(img2)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img1, img2, target
