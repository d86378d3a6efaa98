"""EuroSAT (RGB): 27,000 64x64 Sentinel-2 patches in ten land-use classes, one folder each."""
from __future__ import annotations

import os
from typing import Any, Callable

from ember.vision.datasets.folder import ImageFolder, default_loader
from ember.vision.datasets.utils import download_and_extract_archive


class EuroSAT(ImageFolder):
    """EuroSAT's RGB images as an :class:`ImageFolder` over ``root/eurosat/2750/<class>/``.

    Args:
        root: folder holding ``eurosat/2750``.
        transform, target_transform: applied to the PIL image / the int class index.
        download: fetch and unpack the zip (a verified local zip is used as is).
        loader: reads an image file (default: an RGB PIL image).
    """

    url = ("https://huggingface.co/datasets/torchgeo/eurosat/resolve/"
           "c877bcd43f099cd0196738f714544e355477f3fd/EuroSAT.zip")
    md5 = "c8fa014336c82ac7804f0398fcb19387"

    def __init__(self, root: str, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False,
                 loader: Callable[[str], Any] = default_loader) -> None:
        self.root = os.path.expanduser(root)
        self._base_folder = os.path.join(self.root, "eurosat")
        self._data_folder = os.path.join(self._base_folder, "2750")
        if download:
            self.download()
        if not self._check_exists():
            raise RuntimeError("Dataset not found. You can use download=True to download it, "
                               f"or unpack EuroSAT.zip into {self._base_folder}")
        super().__init__(self._data_folder, transform=transform,
                         target_transform=target_transform, loader=loader)
        self.root = os.path.expanduser(root)

    def _check_exists(self) -> bool:
        return os.path.isdir(self._data_folder)

    def download(self) -> None:
        if self._check_exists():
            return
        download_and_extract_archive(self.url, self._base_folder, md5=self.md5)
