"""Oxford-IIIT Pet: 37 cat and dog breeds, with trimap segmentations."""
from __future__ import annotations

import os
from typing import Any, Callable, Sequence

from ember.vision.datasets._helpers import open_image, verify_str_arg
from ember.vision.datasets.folder import pil_loader
from ember.vision.datasets.utils import download_and_extract_archive
from ember.vision.datasets.vision import VisionDataset


class OxfordIIITPet(VisionDataset):
    """Oxford-IIIT Pet: ``(RGB image, target)``, the target per ``target_types``: ``"category"``
    (breed 0..36), ``"binary-category"`` (0 cat, 1 dog), ``"segmentation"`` (the trimap PNG as
    a PIL image); a tuple for several types, None for none. ``classes`` are the breed names
    ("Abyssinian", "American Bulldog", ...) by label, as found in the split's list.

    Args:
        root: folder holding ``oxford-iiit-pet/{images,annotations}``; the split list is
            ``annotations/<split>.txt`` (lines ``<image id> <class> <species> <breed id>``).
        split: ``"trainval"`` or ``"test"``.
        target_types: one of the types above or a sequence of them.
        transforms, transform, target_transform: applied to both / the image / the target.
        download: fetch and unpack the two archives.
    """

    _RESOURCES = (
        ("https://www.robots.ox.ac.uk/~vgg/data/pets/data/images.tar.gz",
         "5c4f3ee8e5d25df40f4fd59a7f44e54c"),
        ("https://www.robots.ox.ac.uk/~vgg/data/pets/data/annotations.tar.gz",
         "95a8c909bbe2e81eed6a22bccdf3f68f"),
    )
    _VALID_TARGET_TYPES = ("category", "binary-category", "segmentation")

    def __init__(self, root: str, split: str = "trainval",
                 target_types: Sequence[str] | str = "category",
                 transforms: Callable | None = None, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False) -> None:
        self._split = verify_str_arg(split, "split", ("trainval", "test"))
        if isinstance(target_types, str):
            target_types = [target_types]
        self._target_types = [verify_str_arg(t, "target_types", self._VALID_TARGET_TYPES)
                              for t in target_types]
        super().__init__(root, transforms=transforms, transform=transform,
                         target_transform=target_transform)
        self._base_folder = os.path.join(self.root, "oxford-iiit-pet")
        self._images_folder = os.path.join(self._base_folder, "images")
        self._anns_folder = os.path.join(self._base_folder, "annotations")
        self._segs_folder = os.path.join(self._anns_folder, "trimaps")
        if download:
            self._download()
        if not self._check_exists():
            raise RuntimeError("Dataset not found. You can use download=True to download it")
        image_ids, self._labels, self._bin_labels = [], [], []
        list_file = os.path.join(self._anns_folder, f"{self._split}.txt")
        with open(list_file) as f:
            for line in f:
                parts = line.split()
                if len(parts) != 4:
                    raise RuntimeError(f"{list_file}: expected 4 fields per line, got "
                                       f"{line.strip()!r}")
                image_ids.append(parts[0])
                self._labels.append(int(parts[1]) - 1)
                self._bin_labels.append(int(parts[2]) - 1)
        # a breed's name is its image ids' prefix ("american_bulldog_12" -> "American Bulldog")
        breeds = sorted({(image_id.rsplit("_", 1)[0], label)
                         for image_id, label in zip(image_ids, self._labels)},
                        key=lambda breed_and_label: breed_and_label[1])
        self.classes = [" ".join(part.title() for part in breed.split("_"))
                        for breed, _ in breeds]
        self.class_to_idx = {cls: i for i, cls in enumerate(self.classes)}
        self.bin_classes = ["Cat", "Dog"]
        self.bin_class_to_idx = {cls: i for i, cls in enumerate(self.bin_classes)}
        self._images = [os.path.join(self._images_folder, f"{i}.jpg") for i in image_ids]
        self._segs = [os.path.join(self._segs_folder, f"{i}.png") for i in image_ids]

    def __len__(self) -> int:
        return len(self._images)

    def __getitem__(self, idx: int) -> tuple[Any, Any]:
        image = pil_loader(self._images[idx])
        target: Any = [self._target(target_type, idx) for target_type in self._target_types]
        target = None if not target else target[0] if len(target) == 1 else tuple(target)
        if self.transforms:
            image, target = self.transforms(image, target)
        return image, target

    def _target(self, target_type: str, idx: int) -> Any:
        if target_type == "category":
            return self._labels[idx]
        if target_type == "binary-category":
            return self._bin_labels[idx]
        return open_image(self._segs[idx])

    def _check_exists(self) -> bool:
        return os.path.isdir(self._images_folder) and os.path.isdir(self._anns_folder)

    def _download(self) -> None:
        if self._check_exists():
            return
        for url, md5 in self._RESOURCES:
            download_and_extract_archive(url, download_root=self._base_folder, md5=md5)
