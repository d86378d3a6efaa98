"""Multi-view Stereo Correspondence (PhotoTour): 64x64 greyscale patches of 3D points seen
in many photos, with lists of matching and non-matching patch pairs."""
from __future__ import annotations

import os
import zipfile
from typing import Any, Callable

import numpy as np

from ember._tensor import _make
from ember.vision.datasets._helpers import open_image
from ember.vision.datasets.utils import download_url
from ember.vision.datasets.vision import VisionDataset

_PATCH = 64


class PhotoTour(VisionDataset):
    """PhotoTour: train: ``patch`` (a uint8 (64, 64) tensor); test: ``(patch1, patch2,
    matches)`` for each pair of ``m50_100000_100000_0.txt`` (``matches`` a 0-d int64 tensor,
    1 when both patches show the same 3D point).

    The first use reads the ``.bmp`` sheets of ``root/<name>`` (64x64 patches, row by row,
    files in sorted order), ``info.txt`` (each patch's 3D point) and the matches file, and
    caches them to ``root/<name>.pt`` (the format ``torch.save`` writes; loaded with
    ``weights_only``, so a cache file never runs code).

    Args:
        root: folder holding ``<name>/`` or ``<name>.pt``.
        name: ``"notredame"``, ``"yosemite"``, ``"liberty"`` or their ``*_harris`` versions.
        train: give single patches (else the test pairs).
        transform: applied to each patch.
        download: fetch and unpack ``<name>.zip``.
    """

    urls = {
        "notredame_harris": ["http://matthewalunbrown.com/patchdata/notredame_harris.zip",
                             "notredame_harris.zip", "69f8c90f78e171349abdf0307afefe4d"],
        "yosemite_harris": ["http://matthewalunbrown.com/patchdata/yosemite_harris.zip",
                            "yosemite_harris.zip", "a73253d1c6fbd3ba2613c45065c00d46"],
        "liberty_harris": ["http://matthewalunbrown.com/patchdata/liberty_harris.zip",
                           "liberty_harris.zip", "c731fcfb3abb4091110d0ae8c7ba182c"],
        "notredame": ["http://icvl.ee.ic.ac.uk/vbalnt/notredame.zip", "notredame.zip",
                      "509eda8535847b8c0a90bbb210c83484"],
        "yosemite": ["http://icvl.ee.ic.ac.uk/vbalnt/yosemite.zip", "yosemite.zip",
                     "533b2e8eb7ede31be40abc317b2fd4f0"],
        "liberty": ["http://icvl.ee.ic.ac.uk/vbalnt/liberty.zip", "liberty.zip",
                    "fdd9152f138ea5ef2091746689176414"],
    }
    means = {"notredame": 0.4854, "yosemite": 0.4844, "liberty": 0.4437,
             "notredame_harris": 0.4854, "yosemite_harris": 0.4844, "liberty_harris": 0.4437}
    stds = {"notredame": 0.1864, "yosemite": 0.1818, "liberty": 0.2019,
            "notredame_harris": 0.1864, "yosemite_harris": 0.1818, "liberty_harris": 0.2019}
    lens = {"notredame": 468159, "yosemite": 633587, "liberty": 450092,
            "liberty_harris": 379587, "yosemite_harris": 450912, "notredame_harris": 325295}
    image_ext = "bmp"
    info_file = "info.txt"
    matches_files = "m50_100000_100000_0.txt"

    def __init__(self, root: str, name: str, train: bool = True,
                 transform: Callable | None = None, download: bool = False) -> None:
        super().__init__(root, transform=transform)
        self.name = name
        self.data_dir = os.path.join(self.root, name)
        self.data_down = os.path.join(self.root, f"{name}.zip")
        self.data_file = os.path.join(self.root, f"{name}.pt")
        self.train = train
        self.mean = self.means[name]
        self.std = self.stds[name]
        if download:
            self.download()
        if not self._check_datafile_exists():
            self.cache()
        self.data, self.labels, self.matches = self._load_cache()

    def _load_cache(self) -> tuple:
        import ember
        try:
            data, labels, matches = ember.load(self.data_file, weights_only=True)
        except Exception as e:  # a foreign or damaged cache: any reader error means the same
            raise RuntimeError(f"{self.data_file}: not a PhotoTour cache (data, labels, "
                               f"matches) tensors; delete it to rebuild it: {e}") from e
        return data, labels, matches

    def __getitem__(self, index: int) -> Any:
        if self.train:
            data = self.data[index]
            return data if self.transform is None else self.transform(data)
        m = self.matches[index]
        data1, data2 = self.data[m[0]], self.data[m[1]]
        if self.transform is not None:
            data1, data2 = self.transform(data1), self.transform(data2)
        return data1, data2, m[2]

    def __len__(self) -> int:
        return len(self.data if self.train else self.matches)

    def _check_datafile_exists(self) -> bool:
        return os.path.exists(self.data_file)

    def _check_downloaded(self) -> bool:
        return os.path.exists(self.data_dir)

    def download(self) -> None:
        if self._check_datafile_exists() or self._check_downloaded():
            return
        url, filename, md5 = self.urls[self.name]
        download_url(url, self.root, filename, md5)
        fpath = os.path.join(self.root, filename)
        with zipfile.ZipFile(fpath) as z:
            for member in z.namelist():
                target = os.path.realpath(os.path.join(self.data_dir, member))
                if not target.startswith(os.path.realpath(self.data_dir)):
                    raise RuntimeError(f"{fpath}: member {member} escapes {self.data_dir}")
            z.extractall(self.data_dir)
        os.unlink(fpath)

    def cache(self) -> None:
        import ember
        dataset = (read_image_file(self.data_dir, self.image_ext, self.lens[self.name]),
                   read_info_file(self.data_dir, self.info_file),
                   read_matches_files(self.data_dir, self.matches_files))
        with open(self.data_file, "wb") as f:
            ember.save(dataset, f)

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train is True else 'Test'}"


def read_image_file(data_dir: str, image_ext: str, n: int):
    """The first ``n`` 64x64 patches of the sorted ``*.<image_ext>`` sheets of ``data_dir``
    (each sheet row by row; patches past a sheet's edge are zero-filled), uint8 (n, 64, 64)."""
    files = sorted(os.path.join(data_dir, f) for f in os.listdir(data_dir)
                   if f.endswith(image_ext))
    patches = []
    for path in files:
        img = open_image(path)
        if img.mode not in ("L", "P"):  # one 8-bit band, read as stored
            raise RuntimeError(f"{path}: PhotoTour patch sheets are greyscale, not {img.mode}")
        pixels = np.asarray(img)
        rows, cols = -(-pixels.shape[0] // _PATCH), -(-pixels.shape[1] // _PATCH)
        sheet = np.zeros((rows * _PATCH, cols * _PATCH), np.uint8)
        sheet[:pixels.shape[0], :pixels.shape[1]] = pixels
        patches.append(sheet.reshape(rows, _PATCH, cols, _PATCH).transpose(0, 2, 1, 3)
                       .reshape(-1, _PATCH, _PATCH))
    stacked = np.concatenate(patches) if patches else np.zeros((0, _PATCH, _PATCH), np.uint8)
    return _make(np.ascontiguousarray(stacked[:n]))


def read_info_file(data_dir: str, info_file: str):
    """Each patch's 3D point id (the first field of each line), int64."""
    path = os.path.join(data_dir, info_file)
    with open(path) as f:
        try:
            labels = [int(line.split()[0]) for line in f]
        except (IndexError, ValueError) as e:
            raise RuntimeError(f"{path}: each line must start with an integer: {e}") from e
    return _make(np.array(labels, dtype=np.int64))


def read_matches_files(data_dir: str, matches_file: str):
    """``[patch1, patch2, same point]`` per line (fields 0 and 3; 1 when fields 1 and 4
    name the same point), int64 (M, 3)."""
    path = os.path.join(data_dir, matches_file)
    matches = []
    with open(path) as f:
        for line in f:
            fields = line.split()
            try:
                matches.append([int(fields[0]), int(fields[3]), int(fields[1] == fields[4])])
            except (IndexError, ValueError) as e:
                raise RuntimeError(f"{path}: expected 'patch1 point1 _ patch2 point2 ...' "
                                   f"per line, got {line!r}") from e
    return _make(np.array(matches, dtype=np.int64).reshape(-1, 3))
