"""Cityscapes: street scenes of 50 cities with fine (and coarse) pixel annotations."""
from __future__ import annotations

import json
import os
from collections import namedtuple
from typing import Any, Callable

from ember.vision.datasets._helpers import iterable_to_str, open_image, verify_str_arg
from ember.vision.datasets.folder import pil_loader
from ember.vision.datasets.utils import extract_archive
from ember.vision.datasets.vision import VisionDataset

_TARGET_SUFFIXES = {"instance": "instanceIds.png", "semantic": "labelIds.png",
                    "color": "color.png", "polygon": "polygons.json"}


class Cityscapes(VisionDataset):
    """Cityscapes: ``(RGB image, target)`` for every ``leftImg8bit/<split>/<city>/*`` image;
    the target per ``target_type``: ``"instance"`` / ``"semantic"`` / ``"color"`` (the
    ``gtFine``/``gtCoarse`` PNG as a PIL image of its own mode) or ``"polygon"`` (the JSON as a
    dict); a tuple for a list of types.

    Args:
        root: folder holding ``leftImg8bit/`` and ``gtFine/`` or ``gtCoarse/`` (or their zips,
            unpacked on first use).
        split: ``"train"``, ``"test"``, ``"val"`` (fine) or ``"train"``, ``"train_extra"``,
            ``"val"`` (coarse).
        mode: ``"fine"`` or ``"coarse"``.
        target_type: one of the types above or a list of them.
        transform, target_transform, transforms: applied to the image / the target / both.
    """

    CityscapesClass = namedtuple("CityscapesClass", ["name", "id", "train_id", "category",
                                                     "category_id", "has_instances",
                                                     "ignore_in_eval", "color"])
    classes = [
        CityscapesClass("unlabeled", 0, 255, "void", 0, False, True, (0, 0, 0)),
        CityscapesClass("ego vehicle", 1, 255, "void", 0, False, True, (0, 0, 0)),
        CityscapesClass("rectification border", 2, 255, "void", 0, False, True, (0, 0, 0)),
        CityscapesClass("out of roi", 3, 255, "void", 0, False, True, (0, 0, 0)),
        CityscapesClass("static", 4, 255, "void", 0, False, True, (0, 0, 0)),
        CityscapesClass("dynamic", 5, 255, "void", 0, False, True, (111, 74, 0)),
        CityscapesClass("ground", 6, 255, "void", 0, False, True, (81, 0, 81)),
        CityscapesClass("road", 7, 0, "flat", 1, False, False, (128, 64, 128)),
        CityscapesClass("sidewalk", 8, 1, "flat", 1, False, False, (244, 35, 232)),
        CityscapesClass("parking", 9, 255, "flat", 1, False, True, (250, 170, 160)),
        CityscapesClass("rail track", 10, 255, "flat", 1, False, True, (230, 150, 140)),
        CityscapesClass("building", 11, 2, "construction", 2, False, False, (70, 70, 70)),
        CityscapesClass("wall", 12, 3, "construction", 2, False, False, (102, 102, 156)),
        CityscapesClass("fence", 13, 4, "construction", 2, False, False, (190, 153, 153)),
        CityscapesClass("guard rail", 14, 255, "construction", 2, False, True, (180, 165, 180)),
        CityscapesClass("bridge", 15, 255, "construction", 2, False, True, (150, 100, 100)),
        CityscapesClass("tunnel", 16, 255, "construction", 2, False, True, (150, 120, 90)),
        CityscapesClass("pole", 17, 5, "object", 3, False, False, (153, 153, 153)),
        CityscapesClass("polegroup", 18, 255, "object", 3, False, True, (153, 153, 153)),
        CityscapesClass("traffic light", 19, 6, "object", 3, False, False, (250, 170, 30)),
        CityscapesClass("traffic sign", 20, 7, "object", 3, False, False, (220, 220, 0)),
        CityscapesClass("vegetation", 21, 8, "nature", 4, False, False, (107, 142, 35)),
        CityscapesClass("terrain", 22, 9, "nature", 4, False, False, (152, 251, 152)),
        CityscapesClass("sky", 23, 10, "sky", 5, False, False, (70, 130, 180)),
        CityscapesClass("person", 24, 11, "human", 6, True, False, (220, 20, 60)),
        CityscapesClass("rider", 25, 12, "human", 6, True, False, (255, 0, 0)),
        CityscapesClass("car", 26, 13, "vehicle", 7, True, False, (0, 0, 142)),
        CityscapesClass("truck", 27, 14, "vehicle", 7, True, False, (0, 0, 70)),
        CityscapesClass("bus", 28, 15, "vehicle", 7, True, False, (0, 60, 100)),
        CityscapesClass("caravan", 29, 255, "vehicle", 7, True, True, (0, 0, 90)),
        CityscapesClass("trailer", 30, 255, "vehicle", 7, True, True, (0, 0, 110)),
        CityscapesClass("train", 31, 16, "vehicle", 7, True, False, (0, 80, 100)),
        CityscapesClass("motorcycle", 32, 17, "vehicle", 7, True, False, (0, 0, 230)),
        CityscapesClass("bicycle", 33, 18, "vehicle", 7, True, False, (119, 11, 32)),
        CityscapesClass("license plate", -1, -1, "vehicle", 7, False, True, (0, 0, 142)),
    ]

    def __init__(self, root: str, split: str = "train", mode: str = "fine",
                 target_type: list | str = "instance", transform: Callable | None = None,
                 target_transform: Callable | None = None,
                 transforms: Callable | None = None) -> None:
        super().__init__(root, transforms, transform, target_transform)
        self.mode = "gtFine" if mode == "fine" else "gtCoarse"
        self.images_dir = os.path.join(self.root, "leftImg8bit", split)
        self.targets_dir = os.path.join(self.root, self.mode, split)
        self.split = split
        verify_str_arg(mode, "mode", ("fine", "coarse"))
        valid_splits = ("train", "test", "val") if mode == "fine" else ("train", "train_extra",
                                                                        "val")
        verify_str_arg(split, "split", valid_splits,
                       f"Unknown value '{split}' for argument split if mode is '{mode}'. Valid "
                       f"values are {{{iterable_to_str(valid_splits)}}}.")
        self.target_type = target_type if isinstance(target_type, list) else [target_type]
        for value in self.target_type:
            verify_str_arg(value, "target_type", tuple(_TARGET_SUFFIXES))
        if not os.path.isdir(self.images_dir) or not os.path.isdir(self.targets_dir):
            self._extract_archives()
        self.images, self.targets = [], []
        for city in os.listdir(self.images_dir):  # listing order as torchvision's
            for name in os.listdir(os.path.join(self.images_dir, city)):
                stem = name.split("_leftImg8bit")[0]
                self.images.append(os.path.join(self.images_dir, city, name))
                self.targets.append([os.path.join(self.targets_dir, city,
                                                  f"{stem}_{self._get_target_suffix(self.mode, t)}")
                                     for t in self.target_type])

    def _extract_archives(self) -> None:
        image_zip = os.path.join(self.root, "leftImg8bit_trainextra.zip"
                                 if self.split == "train_extra"
                                 else "leftImg8bit_trainvaltest.zip")
        target_zip = os.path.join(self.root, "gtFine_trainvaltest.zip" if self.mode == "gtFine"
                                  else "gtCoarse.zip")
        if not (os.path.isfile(image_zip) and os.path.isfile(target_zip)):
            raise RuntimeError("Dataset not found or incomplete. Please make sure all required "
                               'folders for the specified "split" and "mode" are inside the '
                               '"root" directory')
        extract_archive(from_path=image_zip, to_path=self.root)
        extract_archive(from_path=target_zip, to_path=self.root)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image = pil_loader(self.images[index])
        targets = [self._load_json(path) if t == "polygon" else open_image(path)
                   for t, path in zip(self.target_type, self.targets[index])]
        target = tuple(targets) if len(targets) > 1 else targets[0]
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target

    def __len__(self) -> int:
        return len(self.images)

    def extra_repr(self) -> str:
        return f"Split: {self.split}\nMode: {self.mode}\nType: {self.target_type}"

    def _load_json(self, path: str) -> dict:
        try:
            with open(path) as f:
                return json.load(f)
        except ValueError as e:
            raise RuntimeError(f"{path}: not a Cityscapes polygon JSON file: {e}") from e

    def _get_target_suffix(self, mode: str, target_type: str) -> str:
        return f"{mode}_{_TARGET_SUFFIXES[target_type]}"
