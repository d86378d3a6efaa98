"""SBU Captioned Photo Dataset: Flickr photos with one caption each."""
from __future__ import annotations

import os
from typing import Any, Callable

from ember.vision.datasets.folder import default_loader
from ember.vision.datasets.utils import check_integrity, download_and_extract_archive, download_url
from ember.vision.datasets.vision import VisionDataset


class SBU(VisionDataset):
    """SBU: ``(image, caption)`` for each line of ``dataset/SBU_captioned_photo_dataset_urls.txt``
    whose photo (the URL's file name) is in ``dataset/``, with the same line of
    ``..._captions.txt``.

    Args:
        root: folder holding ``SBUCaptionedPhotoDataset.tar.gz`` (checked by MD5) and
            ``dataset/``.
        transform, target_transform: applied to the image / the caption.
        download: fetch the archive and every photo that can still be reached (the default).
        loader: reads an image file (default: an RGB PIL image).
    """

    url = "https://www.cs.rice.edu/~vo9/sbucaptions/SBUCaptionedPhotoDataset.tar.gz"
    filename = "SBUCaptionedPhotoDataset.tar.gz"
    md5_checksum = "9aec147b3488753cf758b4d493422285"

    def __init__(self, root: str, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = True,
                 loader: Callable[[str], Any] = default_loader) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.loader = loader
        if download:
            self.download()
        if not self._check_integrity():
            raise RuntimeError("Dataset not found or corrupted. You can use download=True to "
                               "download it")
        self.photos, self.captions = [], []
        folder = os.path.join(self.root, "dataset")
        with open(os.path.join(folder, "SBU_captioned_photo_dataset_urls.txt")) as urls, \
                open(os.path.join(folder, "SBU_captioned_photo_dataset_captions.txt")) as captions:
            for url, caption in zip(urls, captions):
                photo = os.path.basename(url.rstrip())
                if os.path.exists(os.path.join(folder, photo)):
                    self.photos.append(photo)
                    self.captions.append(caption.rstrip())

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img = self.loader(os.path.join(self.root, "dataset", self.photos[index]))
        return self._apply_transforms(img, self.captions[index])

    def __len__(self) -> int:
        return len(self.photos)

    def _check_integrity(self) -> bool:
        return check_integrity(os.path.join(self.root, self.filename), self.md5_checksum)

    def download(self) -> None:
        if self._check_integrity():
            return
        download_and_extract_archive(self.url, self.root, self.root, self.filename,
                                     self.md5_checksum)
        folder = os.path.join(self.root, "dataset")
        with open(os.path.join(folder, "SBU_captioned_photo_dataset_urls.txt")) as f:
            for line in f:
                try:
                    download_url(line.rstrip(), folder)
                except OSError:  # many photos have left Flickr: keep the rest
                    pass
