"""Omniglot: 1,623 handwritten characters from 50 alphabets, 20 PNG drawings each."""
from __future__ import annotations

import os
from typing import Any, Callable

from ember.vision.datasets._helpers import list_dir, list_files
from ember.vision.datasets.utils import check_integrity, download_and_extract_archive
from ember.vision.datasets.vision import VisionDataset, not_found_error


class Omniglot(VisionDataset):
    """Omniglot's ``images_background`` (964 characters) or ``images_evaluation`` (659).

    Args:
        root: folder holding ``omniglot-py/`` with the zip and its unpacked folder
            ``<set>/<alphabet>/<character>/*.png``.
        background: the background set (else the evaluation set).
        transform, target_transform: applied to the PIL image (mode "L") / the int character
            index, characters numbered alphabet by alphabet in sorted order.
        download: fetch and unpack the zip (a verified local zip is used as is).
    """

    folder = "omniglot-py"
    download_url_prefix = "https://raw.githubusercontent.com/brendenlake/omniglot/master/python"
    zips_md5 = {"images_background": "68d2efa1b9178cc56df9314c21c6e718",
                "images_evaluation": "6b91aef0f799c5bb55b94e3f2daec811"}

    def __init__(self, root: str, background: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False) -> None:
        super().__init__(os.path.join(os.path.expanduser(root), self.folder),
                         transform=transform, target_transform=target_transform)
        self.background = background
        if download:
            self.download()
        if not self._check_integrity():
            raise not_found_error(f"place {self._get_target_folder()}.zip in {self.root}")
        self.target_folder = os.path.join(self.root, self._get_target_folder())
        if not os.path.isdir(self.target_folder):
            raise RuntimeError(f"{self.target_folder} not found: unpack "
                               f"{self._get_target_folder()}.zip there, or use download=True")
        self._alphabets = list_dir(self.target_folder)
        self._characters = [os.path.join(a, c) for a in self._alphabets
                            for c in list_dir(os.path.join(self.target_folder, a))]
        self._character_images = [
            [(image, idx) for image in list_files(os.path.join(self.target_folder, c), ".png")]
            for idx, c in enumerate(self._characters)]
        self._flat_character_images = [pair for images in self._character_images
                                       for pair in images]

    def _get_target_folder(self) -> str:
        return "images_background" if self.background else "images_evaluation"

    def _check_integrity(self) -> bool:
        name = self._get_target_folder()
        return check_integrity(os.path.join(self.root, name + ".zip"), self.zips_md5[name])

    def download(self) -> None:
        """Download (or verify the local copy of) the zip and unpack it."""
        name = self._get_target_folder()
        if self._check_integrity() and os.path.isdir(os.path.join(self.root, name)):
            return
        download_and_extract_archive(f"{self.download_url_prefix}/{name}.zip", self.root,
                                     filename=name + ".zip", md5=self.zips_md5[name])

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        from PIL import Image, UnidentifiedImageError
        image_name, character_class = self._flat_character_images[index]
        path = os.path.join(self.target_folder, self._characters[character_class], image_name)
        try:
            with Image.open(path) as f:
                image = f.convert("L")
        except (UnidentifiedImageError, OSError) as e:
            raise RuntimeError(f"{path}: cannot read the image (corrupt or truncated): {e}") from e
        return self._apply_transforms(image, character_class)

    def __len__(self) -> int:
        return len(self._flat_character_images)
