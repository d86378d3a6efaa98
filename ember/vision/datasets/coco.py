"""MS COCO: images in a folder and a JSON annotation file read by pycocotools, as torchvision's
``CocoDetection`` and ``CocoCaptions`` do."""
from __future__ import annotations

import json
import os
from typing import Any, Callable

from ember.vision.datasets.folder import pil_loader
from ember.vision.datasets.vision import VisionDataset


class CocoDetection(VisionDataset):
    """MS COCO detection: ``(image, annotations)`` with the image's annotation dicts (``bbox``
    as [x, y, w, h], ``category_id``, ``segmentation``, ``area``, ``iscrowd``, ...) as
    pycocotools gives them; the images in order of their ids.

    Args:
        root: the folder holding the images (``file_name`` of each image entry).
        annFile: the instances (or captions) JSON file.
        transform, target_transform, transforms: applied to the RGB PIL image / the list of
            annotations / both together.
    """

    def __init__(self, root: str, annFile: str, transform: Callable | None = None,
                 target_transform: Callable | None = None,
                 transforms: Callable | None = None) -> None:
        super().__init__(root, transforms, transform, target_transform)
        from pycocotools.coco import COCO
        self.coco = _load_coco(COCO, annFile)
        self.ids = sorted(self.coco.imgs.keys())

    def _load_image(self, id: int):  # noqa: A002
        return pil_loader(os.path.join(self.root, self.coco.loadImgs(id)[0]["file_name"]))

    def _load_target(self, id: int) -> list:  # noqa: A002
        return self.coco.loadAnns(self.coco.getAnnIds(id))

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        if not isinstance(index, int):
            raise ValueError(f"Index must be of type integer, got {type(index)} instead.")
        image_id = self.ids[index]
        image, target = self._load_image(image_id), self._load_target(image_id)
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target

    def __len__(self) -> int:
        return len(self.ids)


class CocoCaptions(CocoDetection):
    """MS COCO captions: ``(image, captions)``, the list of the image's caption strings."""

    def _load_target(self, id: int) -> list:  # noqa: A002
        return [ann["caption"] for ann in super()._load_target(id)]


def _load_coco(coco_cls, ann_file: str):
    """pycocotools' index of ``ann_file``, with the file named when it is not COCO JSON."""
    try:
        return coco_cls(ann_file)
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError) as e:
        raise RuntimeError(f"{ann_file} is not a COCO annotation file: {e!r}") from e


__all__ = ["CocoCaptions", "CocoDetection"]
