"""LSUN: scene images (bedrooms, churches, towers, ...) stored as encoded image files in one
LMDB database per category and split (read with the lmdb package)."""
from __future__ import annotations

import io
import os
from collections.abc import Iterable
from typing import Any, Callable

from ember.vision.datasets._helpers import iterable_to_str, verify_str_arg
from ember.vision.datasets.vision import VisionDataset

_CATEGORIES = ("bedroom", "bridge", "church_outdoor", "classroom", "conference_room",
               "dining_room", "kitchen", "living_room", "restaurant", "tower")
_SPLITS = ("train", "val", "test")


class LSUNClass(VisionDataset):
    """One LSUN database (the folder ``root``): ``(image, None)`` per entry, in key order, the
    image an RGB PIL image.

    torchvision caches the keys in a pickle file in the working directory; here they are read
    from the database each time (a cursor over the keys only), so nothing is unpickled.
    """

    def __init__(self, root: str, transform: Callable | None = None,
                 target_transform: Callable | None = None) -> None:
        import lmdb
        super().__init__(root, transform=transform, target_transform=target_transform)
        try:
            self.env = lmdb.open(root, max_readers=1, readonly=True, lock=False,
                                 readahead=False, meminit=False)
            with self.env.begin(write=False) as txn:
                self.length = txn.stat()["entries"]
                self.keys = list(txn.cursor().iternext(keys=True, values=False))
        except lmdb.Error as e:
            raise RuntimeError(f"{root} is not a readable LMDB database: {e}") from e

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        from PIL import Image, UnidentifiedImageError
        key = self.keys[index]
        with self.env.begin(write=False) as txn:
            encoded = txn.get(key)
        try:
            img = Image.open(io.BytesIO(encoded)).convert("RGB")
        except (UnidentifiedImageError, OSError) as e:
            raise RuntimeError(f"{self.root}: entry {key!r} is not a readable image: {e}") from e
        return self._apply_transforms(img, None)

    def __len__(self) -> int:
        return self.length


class LSUN(VisionDataset):
    """LSUN: ``(image, target)``, target the index of the image's database in ``classes``.

    Args:
        root: folder holding one ``<class>_lmdb`` database per class.
        classes: ``"train"`` or ``"val"`` (every category's ``<category>_<split>``), ``"test"``,
            or a list of such names, e.g. ``["bedroom_train", "church_outdoor_train"]``.
        transform, target_transform: applied to the image / the target.
    """

    def __init__(self, root: str, classes: str | list = "train",
                 transform: Callable | None = None,
                 target_transform: Callable | None = None) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.classes = self._verify_classes(classes)
        self.dbs = [LSUNClass(root=os.path.join(root, f"{c}_lmdb"), transform=transform)
                    for c in self.classes]
        self.indices = []
        count = 0
        for db in self.dbs:
            count += len(db)
            self.indices.append(count)
        self.length = count

    def _verify_classes(self, classes: str | list) -> list:
        if isinstance(classes, str) and classes in _SPLITS:
            return [classes] if classes == "test" else [f"{c}_{classes}" for c in _CATEGORIES]
        if isinstance(classes, str):
            verify_str_arg(classes, "classes", _SPLITS)  # raises, naming the valid splits
        if not isinstance(classes, Iterable):
            raise ValueError("Expected type str or Iterable for argument classes, but got type "
                             f"{type(classes)}.")
        classes = list(classes)
        for c in classes:
            verify_str_arg(c, custom_msg="Expected type str for elements in argument classes, "
                                         f"but got type {type(c)}.")
            category, _, split = c.rpartition("_")
            verify_str_arg(category, valid_values=_CATEGORIES,
                           custom_msg=f"Unknown value '{category}' for LSUN class. Valid values "
                                      f"are {{{iterable_to_str(_CATEGORIES)}}}.")
            verify_str_arg(split, valid_values=_SPLITS,
                           custom_msg=f"Unknown value '{split}' for postfix. Valid values are "
                                      f"{{{iterable_to_str(_SPLITS)}}}.")
        return classes

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        target, start = 0, 0
        for end in self.indices:
            if index < end:
                break
            target, start = target + 1, end
        img, _ = self.dbs[target][index - start]
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self) -> int:
        return self.length

    def extra_repr(self) -> str:
        return f"Classes: {self.classes}"
