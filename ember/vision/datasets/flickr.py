"""Flickr8k and Flickr30k: images with several captions each."""
from __future__ import annotations

import glob
import os
from collections import defaultdict
from html.parser import HTMLParser
from typing import Any, Callable

from ember.vision.datasets.folder import default_loader
from ember.vision.datasets.vision import VisionDataset


class Flickr8kParser(HTMLParser):
    """Reads Flickr8k's annotation HTML: in its table, a link whose text is a Flickr URL
    (``.../<image id>/``) starts an image (the file ``<root>/<image id>_*.jpg``) and each list
    item after it is one caption; ``Image Not Found`` drops the image."""

    def __init__(self, root: str) -> None:
        super().__init__()
        self.root = root
        self.annotations: dict = {}
        self.in_table = False
        self.current_tag: str | None = None
        self.current_img: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.current_tag = tag
        if tag == "table":
            self.in_table = True

    def handle_endtag(self, tag: str) -> None:
        self.current_tag = None
        if tag == "table":
            self.in_table = False

    def handle_data(self, data: str) -> None:
        if not self.in_table:
            return
        if data == "Image Not Found":
            self.current_img = None
        elif self.current_tag == "a":
            pattern = os.path.join(self.root, data.split("/")[-2] + "_*.jpg")
            matches = glob.glob(pattern)
            if not matches:
                raise FileNotFoundError(f"No image matches {pattern} (linked as {data!r})")
            self.current_img = matches[0]
            self.annotations[self.current_img] = []
        elif self.current_tag == "li" and self.current_img:
            self.annotations[self.current_img].append(data.strip())


class Flickr8k(VisionDataset):
    """Flickr8k: ``(image, captions)``, the images of the annotation HTML (sorted by path)
    and their list of caption strings.

    Args:
        root: folder holding the images.
        ann_file: the annotation HTML file.
        transform, target_transform: applied to the image / the captions.
        loader: reads an image file (default: an RGB PIL image).
    """

    def __init__(self, root: str, ann_file: str, transform: Callable | None = None,
                 target_transform: Callable | None = None,
                 loader: Callable[[str], Any] = default_loader) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.ann_file = os.path.expanduser(ann_file)
        parser = Flickr8kParser(self.root)
        with open(self.ann_file) as f:
            parser.feed(f.read())
        self.annotations = parser.annotations
        self.ids = sorted(self.annotations)
        self.loader = loader

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img_id = self.ids[index]
        return self._apply_transforms(self.loader(img_id), self.annotations[img_id])

    def __len__(self) -> int:
        return len(self.ids)


class Flickr30k(VisionDataset):
    """Flickr30k: ``(image, captions)``, the images named in the token file (lines
    ``<file>#<n><TAB><caption>``), sorted by name, and their list of captions.

    Args:
        root: folder holding the images.
        ann_file: the token file (``results_20130124.token``).
        transform, target_transform: applied to the image / the captions.
        loader: reads an image file (default: an RGB PIL image).
    """

    def __init__(self, root: str, ann_file: str, transform: Callable | None = None,
                 target_transform: Callable | None = None,
                 loader: Callable[[str], Any] = default_loader) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.ann_file = os.path.expanduser(ann_file)
        self.annotations = defaultdict(list)
        with open(self.ann_file) as f:
            for number, line in enumerate(f, 1):
                fields = line.strip().split("\t")
                if len(fields) != 2:
                    raise ValueError(f"{self.ann_file}, line {number}: expected "
                                     f"'<image>#<n><TAB><caption>', got {line!r}")
                img_id, caption = fields
                self.annotations[img_id[:-2]].append(caption)  # drop the "#<n>" suffix
        self.ids = sorted(self.annotations)
        self.loader = loader

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img_id = self.ids[index]
        img = self.loader(os.path.join(self.root, img_id))
        return self._apply_transforms(img, self.annotations[img_id])

    def __len__(self) -> int:
        return len(self.ids)
