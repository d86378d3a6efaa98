"""Oxford 102 Flowers: JPEG images, labels and splits in two MATLAB (.mat v5) files."""
from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

from ember.vision.datasets._helpers import load_mat, verify_str_arg
from ember.vision.datasets.folder import pil_loader
from ember.vision.datasets.utils import (
    check_integrity,
    download_and_extract_archive,
    download_url,
)
from ember.vision.datasets.vision import VisionDataset, not_found_error

_CLASSES = [
    "pink primrose", "hard-leaved pocket orchid", "canterbury bells", "sweet pea",
    "english marigold", "tiger lily", "moon orchid", "bird of paradise", "monkshood",
    "globe thistle", "snapdragon", "colt's foot", "king protea", "spear thistle", "yellow iris",
    "globe-flower", "purple coneflower", "peruvian lily", "balloon flower",
    "giant white arum lily", "fire lily", "pincushion flower", "fritillary", "red ginger",
    "grape hyacinth", "corn poppy", "prince of wales feathers", "stemless gentian", "artichoke",
    "sweet william", "carnation", "garden phlox", "love in the mist", "mexican aster",
    "alpine sea holly", "ruby-lipped cattleya", "cape flower", "great masterwort", "siam tulip",
    "lenten rose", "barbeton daisy", "daffodil", "sword lily", "poinsettia", "bolero deep blue",
    "wallflower", "marigold", "buttercup", "oxeye daisy", "common dandelion", "petunia",
    "wild pansy", "primula", "sunflower", "pelargonium", "bishop of llandaff", "gaura",
    "geranium", "orange dahlia", "pink-yellow dahlia?", "cautleya spicata", "japanese anemone",
    "black-eyed susan", "silverbush", "californian poppy", "osteospermum", "spring crocus",
    "bearded iris", "windflower", "tree poppy", "gazania", "azalea", "water lily", "rose",
    "thorn apple", "morning glory", "passion flower", "lotus", "toad lily", "anthurium",
    "frangipani", "clematis", "hibiscus", "columbine", "desert-rose", "tree mallow", "magnolia",
    "cyclamen", "watercress", "canna lily", "hippeastrum", "bee balm", "ball moss", "foxglove",
    "bougainvillea", "camellia", "mallow", "mexican petunia", "bromelia", "blanket flower",
    "trumpet creeper", "blackberry lily",
]


class Flowers102(VisionDataset):
    """Oxford 102 Flowers: 1,020 ``"train"``, 1,020 ``"val"`` and 6,149 ``"test"`` images.

    Args:
        root: folder holding ``flowers-102/`` with ``jpg/image_%05d.jpg``, ``imagelabels.mat``
            (a 1-based class per image) and ``setid.mat`` (the image ids of each split).
        split: ``"train"``, ``"val"`` or ``"test"``.
        transform, target_transform: applied to the RGB PIL image / the int class (0..101).
        download: fetch the archive and both .mat files (verified local copies are used).
    """

    _download_url_prefix = "https://thor.robots.ox.ac.uk/datasets/flowers-102/"
    _file_dict = {"image": ("102flowers.tgz", "52808999861908f626f3c1f4e79d11fa"),
                  "label": ("imagelabels.mat", "e0620be6f572b9609742df49c70aed4d"),
                  "setid": ("setid.mat", "a5357ecc9cb78c4bef273ce3793fc85c")}
    _splits_map = {"train": "trnid", "val": "valid", "test": "tstid"}

    def __init__(self, root: str, split: str = "train", transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self._split = verify_str_arg(split, "split", ("train", "val", "test"))
        self._base_folder = os.path.join(self.root, "flowers-102")
        self._images_folder = os.path.join(self._base_folder, "jpg")
        if download:
            self.download()
        if not self._check_integrity():
            raise not_found_error(f"unpack it into {self._base_folder}")
        set_ids = load_mat(os.path.join(self._base_folder, self._file_dict["setid"][0]),
                           squeeze_me=True)
        labels = load_mat(os.path.join(self._base_folder, self._file_dict["label"][0]),
                          squeeze_me=True)
        key = self._splits_map[self._split]
        if key not in set_ids or "labels" not in labels:
            raise RuntimeError(f"{self._base_folder}: setid.mat needs '{key}' and "
                               "imagelabels.mat needs 'labels'")
        # squeeze_me turns a one-element array into a scalar: reshape(-1) undoes that
        image_labels = [int(label) - 1 for label in np.reshape(labels["labels"], -1)]
        self._labels, self._image_files = [], []
        for image_id in np.reshape(set_ids[key], -1).tolist():
            if not 1 <= image_id <= len(image_labels):
                raise RuntimeError(f"setid.mat names image {image_id}, imagelabels.mat labels "
                                   f"images 1..{len(image_labels)}")
            self._labels.append(image_labels[image_id - 1])
            self._image_files.append(os.path.join(self._images_folder,
                                                  f"image_{image_id:05d}.jpg"))
        self.classes = list(_CLASSES)
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    def __len__(self) -> int:
        return len(self._image_files)

    def __getitem__(self, idx: int) -> tuple[Any, Any]:
        image = pil_loader(self._image_files[idx])
        label = self._labels[idx]
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label

    def extra_repr(self) -> str:
        return f"split={self._split}"

    def _check_integrity(self) -> bool:
        if not os.path.isdir(self._images_folder):
            return False
        return all(check_integrity(os.path.join(self._base_folder, name), md5)
                   for name, md5 in (self._file_dict["label"], self._file_dict["setid"]))

    def download(self) -> None:
        """Download (or verify the local copies of) the archive and the two .mat files."""
        if self._check_integrity():
            return
        name, md5 = self._file_dict["image"]
        download_and_extract_archive(self._download_url_prefix + name, self._base_folder,
                                     md5=md5)
        for key in ("label", "setid"):
            name, md5 = self._file_dict[key]
            download_url(self._download_url_prefix + name, self._base_folder, md5=md5)
