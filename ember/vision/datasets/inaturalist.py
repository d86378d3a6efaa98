"""iNaturalist 2017-2021: one folder per species (2021: "<id>_<kingdom>_..._<species>";
earlier years: "<super category>/<category>"), in torchvision's layout."""
from __future__ import annotations

import os
from typing import Any, Callable

from ember.vision.datasets._helpers import open_image, verify_str_arg
from ember.vision.datasets.utils import download_and_extract_archive
from ember.vision.datasets.vision import VisionDataset

CATEGORIES_2021 = ["kingdom", "phylum", "class", "order", "family", "genus"]
DATASET_URLS = {
    "2017": "https://ml-inat-competition-datasets.s3.amazonaws.com/2017/train_val_images.tar.gz",
    "2018": "https://ml-inat-competition-datasets.s3.amazonaws.com/2018/train_val2018.tar.gz",
    "2019": "https://ml-inat-competition-datasets.s3.amazonaws.com/2019/train_val2019.tar.gz",
    "2021_train": "https://ml-inat-competition-datasets.s3.amazonaws.com/2021/train.tar.gz",
    "2021_train_mini":
        "https://ml-inat-competition-datasets.s3.amazonaws.com/2021/train_mini.tar.gz",
    "2021_valid": "https://ml-inat-competition-datasets.s3.amazonaws.com/2021/val.tar.gz",
}
DATASET_MD5 = {
    "2017": "7c784ea5e424efaec655bd392f87301f",
    "2018": "b1c6952ce38f31868cc50ea72d066cc3",
    "2019": "c60a6e2962c9b8ccbd458d12c8582644",
    "2021_train": "e0526d53c7f7b2e3167b2b43bb2690ed",
    "2021_train_mini": "db6ed8330e634445efc8fec83ae81442",
    "2021_valid": "f6f6e0e242e3d4c9569ba56400938afc",
}


class INaturalist(VisionDataset):
    """iNaturalist: ``(image, target)``, the image as ``Image.open`` gives it (or through
    ``loader``) and the target the species index ("full") or the index of a higher rank,
    a tuple for several ``target_type``; images in ``os.listdir`` order within each class, as
    torchvision lists them.

    Args:
        root: the folder holding ``<version>/``.
        version: "2017", "2018", "2019", "2021_train", "2021_train_mini" or "2021_valid".
        target_type: "full", or for 2021 one of ``CATEGORIES_2021``, else "super"; or a list.
        transform, target_transform: applied to the image / the target.
        download: fetch and unpack the version's archive.
        loader: reads an image path.
    """

    def __init__(self, root: str, version: str = "2021_train", target_type="full",
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 download: bool = False, loader: Callable | None = None) -> None:
        self.version = verify_str_arg(version, "version", DATASET_URLS.keys())
        super().__init__(os.path.join(root, version), transform=transform,
                         target_transform=target_transform)
        os.makedirs(root, exist_ok=True)
        if download:
            self.download()
        if not self._check_exists():
            raise RuntimeError("Dataset not found or corrupted. You can use download=True to "
                               "download it")
        self.all_categories: list = []
        self.categories_index: dict = {}
        self.categories_map: list = []
        target_type = target_type if isinstance(target_type, list) else [target_type]
        if self.version[:4] == "2021":
            self.target_type = [verify_str_arg(t, "target_type", ("full", *CATEGORIES_2021))
                                for t in target_type]
            self._init_2021()
        else:
            self.target_type = [verify_str_arg(t, "target_type", ("full", "super"))
                                for t in target_type]
            self._init_pre2021()
        self.index = [(dir_index, name) for dir_index, dir_name in enumerate(self.all_categories)
                      for name in os.listdir(os.path.join(self.root, dir_name))]
        self.loader = loader

    def _init_2021(self) -> None:
        """Species folders "<5-digit id>_<kingdom>_<phylum>_..._<genus>_<species>": each rank's
        names numbered in order of first appearance."""
        self.all_categories = sorted(os.listdir(self.root))
        self.categories_index = {rank: {} for rank in CATEGORIES_2021}
        for dir_index, dir_name in enumerate(self.all_categories):
            pieces = dir_name.split("_")
            if len(pieces) != 8:
                raise RuntimeError(f"Unexpected category name {dir_name}, wrong number of pieces")
            if pieces[0] != f"{dir_index:05d}":
                raise RuntimeError(f"Unexpected category id {pieces[0]}, expecting "
                                   f"{dir_index:05d}")
            cat_map = {}
            for rank, name in zip(CATEGORIES_2021, pieces[1:7]):
                ids = self.categories_index[rank]
                cat_map[rank] = ids.setdefault(name, len(ids))
            self.categories_map.append(cat_map)

    def _init_pre2021(self) -> None:
        """"<super>/<category>" folders: 2017 numbers the categories in sorted order, later
        years name them by their number."""
        self.categories_index = {"super": {}}
        next_index = 0
        for super_index, super_name in enumerate(sorted(os.listdir(self.root))):
            self.categories_index["super"][super_name] = super_index
            for sub_name in sorted(os.listdir(os.path.join(self.root, super_name))):
                if self.version == "2017":
                    sub_index, next_index = next_index, next_index + 1
                else:
                    try:
                        sub_index = int(sub_name)
                    except ValueError as e:
                        raise RuntimeError(f"Unexpected non-numeric dir name: {sub_name}") from e
                if sub_index >= len(self.categories_map):
                    grow = sub_index - len(self.categories_map) + 1
                    self.categories_map.extend([{}] * grow)
                    self.all_categories.extend([""] * grow)
                if self.categories_map[sub_index]:
                    raise RuntimeError(f"Duplicate category {sub_name}")
                self.categories_map[sub_index] = {"super": super_index}
                self.all_categories[sub_index] = os.path.join(super_name, sub_name)
        for index, cat in enumerate(self.categories_map):
            if not cat:
                raise RuntimeError(f"Missing category {index}")

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        cat_id, name = self.index[index]
        path = os.path.join(self.root, self.all_categories[cat_id], name)
        img = self.loader(path) if self.loader is not None else open_image(path)
        target = [cat_id if t == "full" else self.categories_map[cat_id][t]
                  for t in self.target_type]
        target = tuple(target) if len(target) > 1 else target[0]
        return self._apply_transforms(img, target)

    def __len__(self) -> int:
        return len(self.index)

    def category_name(self, category_type: str, category_id: int) -> str:
        """The folder of a species ("full"), or the name of a rank's ``category_id``."""
        if category_type == "full":
            return self.all_categories[category_id]
        if category_type not in self.categories_index:
            raise ValueError(f"Invalid category type '{category_type}'")
        for name, cat_id in self.categories_index[category_type].items():
            if cat_id == category_id:
                return name
        raise ValueError(f"Invalid category id {category_id} for {category_type}")

    def _check_exists(self) -> bool:
        return os.path.exists(self.root) and len(os.listdir(self.root)) > 0

    def download(self) -> None:
        if self._check_exists():
            return
        base_root = os.path.dirname(self.root)
        download_and_extract_archive(DATASET_URLS[self.version], base_root,
                                     filename=f"{self.version}.tgz",
                                     md5=DATASET_MD5[self.version])
        # torchvision strips the characters of ".tar.gz" from the archive's name
        unpacked = os.path.join(
            base_root, os.path.basename(DATASET_URLS[self.version]).rstrip(".tar.gz"))  # noqa: B005
        if not os.path.exists(unpacked):
            raise RuntimeError(f"Unable to find downloaded files at {unpacked}")
        os.rename(unpacked, self.root)


__all__ = ["INaturalist"]
