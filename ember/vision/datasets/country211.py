"""Country211: geolocated YFCC100m photos of 211 countries, one folder per ISO code."""
from __future__ import annotations

import os
from typing import Any, Callable

from ember.vision.datasets._helpers import verify_str_arg
from ember.vision.datasets.folder import ImageFolder, default_loader
from ember.vision.datasets.utils import download_and_extract_archive


class Country211(ImageFolder):
    """Country211 as an :class:`ImageFolder` over ``root/country211/<split>/<country code>/``.

    Args:
        root: folder holding ``country211``.
        split: ``"train"``, ``"valid"`` or ``"test"``.
        transform, target_transform: applied to the image / the class index.
        download: fetch and unpack the archive.
        loader: reads an image file (default: an RGB PIL image).
    """

    _URL = "https://openaipublic.azureedge.net/clip/data/country211.tgz"
    _MD5 = "84988d7644798601126c29e9877aab6a"

    def __init__(self, root: str, split: str = "train", transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False,
                 loader: Callable[[str], Any] = default_loader) -> None:
        self._split = verify_str_arg(split, "split", ("train", "valid", "test"))
        root = os.path.expanduser(root)
        self.root = root
        self._base_folder = os.path.join(root, "country211")
        if download:
            self._download()
        if not os.path.isdir(self._base_folder):
            raise RuntimeError("Dataset not found. You can use download=True to download it")
        super().__init__(os.path.join(self._base_folder, self._split), transform=transform,
                         target_transform=target_transform, loader=loader)
        self.root = root

    def _download(self) -> None:
        if os.path.isdir(self._base_folder):
            return
        download_and_extract_archive(self._URL, download_root=self.root, md5=self._MD5)
