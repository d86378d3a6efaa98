"""PASCAL VOC 2007-2012: JPEG images, XML annotations and palette PNG masks in the VOCdevkit
layout, as torchvision's ``VOCDetection`` and ``VOCSegmentation`` read them."""
from __future__ import annotations

import collections
import os
from typing import Any, Callable
from xml.etree.ElementTree import Element, ParseError

try:  # torchvision parses with defusedxml when it is installed
    from defusedxml.ElementTree import parse as _xml_parse
except ImportError:  # the standard parser resolves no external entities
    from xml.etree.ElementTree import parse as _xml_parse

from ember.vision.datasets._helpers import open_image, verify_str_arg
from ember.vision.datasets.folder import pil_loader
from ember.vision.datasets.utils import download_and_extract_archive
from ember.vision.datasets.vision import VisionDataset

DATASET_YEAR_DICT = {
    "2012": {"url": "https://thor.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar",
             "filename": "VOCtrainval_11-May-2012.tar", "md5": "6cd6e144f989b92b3379bac3b3de84fd",
             "base_dir": os.path.join("VOCdevkit", "VOC2012")},
    "2011": {"url": "https://thor.robots.ox.ac.uk/pascal/VOC/voc2011/VOCtrainval_25-May-2011.tar",
             "filename": "VOCtrainval_25-May-2011.tar", "md5": "6c3384ef61512963050cb5d687e5bf1e",
             "base_dir": os.path.join("TrainVal", "VOCdevkit", "VOC2011")},
    "2010": {"url": "https://thor.robots.ox.ac.uk/pascal/VOC/voc2010/VOCtrainval_03-May-2010.tar",
             "filename": "VOCtrainval_03-May-2010.tar", "md5": "da459979d0c395079b5c75ee67908abb",
             "base_dir": os.path.join("VOCdevkit", "VOC2010")},
    "2009": {"url": "https://thor.robots.ox.ac.uk/pascal/VOC/voc2009/VOCtrainval_11-May-2009.tar",
             "filename": "VOCtrainval_11-May-2009.tar", "md5": "a3e00b113cfcfebf17e343f59da3caa1",
             "base_dir": os.path.join("VOCdevkit", "VOC2009")},
    "2008": {"url": "https://thor.robots.ox.ac.uk/pascal/VOC/voc2008/VOCtrainval_14-Jul-2008.tar",
             "filename": "VOCtrainval_11-May-2012.tar", "md5": "2629fa636546599198acfcfbfcf1904a",
             "base_dir": os.path.join("VOCdevkit", "VOC2008")},
    "2007": {"url": "https://thor.robots.ox.ac.uk/pascal/VOC/voc2007/VOCtrainval_06-Nov-2007.tar",
             "filename": "VOCtrainval_06-Nov-2007.tar", "md5": "c52e279531787c972589f7e41ab4ae64",
             "base_dir": os.path.join("VOCdevkit", "VOC2007")},
    "2007-test": {"url": "https://thor.robots.ox.ac.uk/pascal/VOC/voc2007/VOCtest_06-Nov-2007.tar",
                  "filename": "VOCtest_06-Nov-2007.tar",
                  "md5": "b6e924de25625d8de591ea690078ad9f",
                  "base_dir": os.path.join("VOCdevkit", "VOC2007")},
}


class _VOCBase(VisionDataset):
    """The image list of ``ImageSets/<_SPLITS_DIR>/<image_set>.txt`` under
    ``root/<base_dir>``, each image with its target file in ``_TARGET_DIR``."""

    _SPLITS_DIR: str
    _TARGET_DIR: str
    _TARGET_FILE_EXT: str

    def __init__(self, root: str, year: str = "2012", image_set: str = "train",
                 download: bool = False, transform: Callable | None = None,
                 target_transform: Callable | None = None,
                 transforms: Callable | None = None) -> None:
        super().__init__(root, transforms, transform, target_transform)
        self.year = verify_str_arg(year, "year", [str(y) for y in range(2007, 2013)])
        valid_image_sets = ["train", "trainval", "val"] + (["test"] if year == "2007" else [])
        self.image_set = verify_str_arg(image_set, "image_set", valid_image_sets)
        meta = DATASET_YEAR_DICT["2007-test" if year == "2007" and image_set == "test" else year]
        self.url, self.filename, self.md5 = meta["url"], meta["filename"], meta["md5"]
        voc_root = os.path.join(self.root, meta["base_dir"])
        if download:
            download_and_extract_archive(self.url, self.root, filename=self.filename,
                                         md5=self.md5)
        if not os.path.isdir(voc_root):
            raise RuntimeError("Dataset not found or corrupted. You can use download=True to "
                               "download it")
        split_file = os.path.join(voc_root, "ImageSets", self._SPLITS_DIR, image_set + ".txt")
        with open(split_file) as f:
            names = [line.strip() for line in f]
        self.images = [os.path.join(voc_root, "JPEGImages", name + ".jpg") for name in names]
        self.targets = [os.path.join(voc_root, self._TARGET_DIR, name + self._TARGET_FILE_EXT)
                        for name in names]

    def __len__(self) -> int:
        return len(self.images)


class VOCSegmentation(_VOCBase):
    """VOC segmentation: ``(image, mask)``, the mask the palette ("P") PIL image of
    ``SegmentationClass/<name>.png`` (class indices, 255 on object borders).

    Args:
        root: the folder holding ``VOCdevkit/VOC<year>`` (``TrainVal/VOCdevkit/VOC2011``).
        year: "2007" to "2012"; image_set: "train", "trainval", "val" (and "test" for 2007).
        download: fetch and extract the year's archive.
        transform, target_transform, transforms: applied to the image / the mask / both.
    """

    _SPLITS_DIR = "Segmentation"
    _TARGET_DIR = "SegmentationClass"
    _TARGET_FILE_EXT = ".png"

    @property
    def masks(self) -> list:
        return self.targets

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img, target = pil_loader(self.images[index]), open_image(self.masks[index])
        if self.transforms is not None:
            img, target = self.transforms(img, target)
        return img, target


class VOCDetection(_VOCBase):
    """VOC detection: ``(image, annotation)``, the XML of ``Annotations/<name>.xml`` as nested
    dicts (``parse_voc_xml``): ``target["annotation"]["object"]`` lists the objects, each with
    its ``name`` and ``bndbox`` (``xmin``, ``ymin``, ``xmax``, ``ymax`` as strings).

    Args: as ``VOCSegmentation``'s.
    """

    _SPLITS_DIR = "Main"
    _TARGET_DIR = "Annotations"
    _TARGET_FILE_EXT = ".xml"

    @property
    def annotations(self) -> list:
        return self.targets

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img = pil_loader(self.images[index])
        path = self.annotations[index]
        try:
            root = _xml_parse(path).getroot()
        except (ParseError, ValueError) as e:  # defusedxml's refusals are ValueErrors
            raise RuntimeError(f"{path}: cannot read the annotation XML: {e}") from e
        target = self.parse_voc_xml(root)
        if self.transforms is not None:
            img, target = self.transforms(img, target)
        return img, target

    @staticmethod
    def parse_voc_xml(node: Element) -> dict:
        """``node`` as ``{tag: value}``: a leaf's stripped text, or a dict of its children's
        values (a list where a tag repeats); an annotation's ``object`` is always a list."""
        voc_dict: dict = {}
        children = list(node)
        if children:
            grouped: dict = collections.defaultdict(list)
            for child in map(VOCDetection.parse_voc_xml, children):
                for tag, value in child.items():
                    grouped[tag].append(value)
            if node.tag == "annotation":
                grouped["object"] = [grouped["object"]]
            voc_dict = {node.tag: {tag: v[0] if len(v) == 1 else v
                                   for tag, v in grouped.items()}}
        if node.text and not children:
            voc_dict[node.tag] = node.text.strip()
        return voc_dict


__all__ = ["VOCDetection", "VOCSegmentation"]
