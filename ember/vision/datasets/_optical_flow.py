"""Optical-flow data sets: pairs of consecutive frames and the flow from the first to the
second (KittiFlow, Sintel, FlyingChairs, FlyingThings3D, HD1K)."""
from __future__ import annotations

import itertools
import os
from glob import glob
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ember.vision.datasets._flow_files import (
    _read_16bits_png_with_flow_and_valid_mask,
    _read_flo,
    _read_pfm,
)
from ember.vision.datasets._helpers import verify_str_arg
from ember.vision.datasets.folder import default_loader
from ember.vision.datasets.vision import VisionDataset

__all__ = ("KittiFlow", "Sintel", "FlyingThings3D", "FlyingChairs", "HD1K")


class FlowDataset(VisionDataset):
    """``(img1, img2, flow)`` for each pair of ``_image_list`` and flow file of
    ``_flow_list`` (flow None where the split has no flow). Data sets that store a validity
    mask (``_has_builtin_flow_mask``) give ``(img1, img2, flow, valid_flow_mask)``, and so does
    any data set whose ``transforms(img1, img2, flow, valid_flow_mask)`` makes a mask."""

    _has_builtin_flow_mask = False

    def __init__(self, root: str, transforms: Callable | None = None,
                 loader: Callable[[str], Any] = default_loader) -> None:
        super().__init__(root=root)
        self.transforms = transforms
        self._flow_list: list = []
        self._image_list: list = []
        self._loader = loader

    def _read_img(self, file_name: str) -> Any:
        return self._loader(file_name)

    def _read_flow(self, file_name: str) -> Any:
        """The flow array, or ``(flow, valid_flow_mask)`` where the mask is built in."""
        raise NotImplementedError

    def __getitem__(self, index: int) -> tuple:
        img1 = self._read_img(self._image_list[index][0])
        img2 = self._read_img(self._image_list[index][1])
        flow = valid_flow_mask = None
        if self._flow_list:  # empty for the splits without ground truth
            flow = self._read_flow(self._flow_list[index])
            if self._has_builtin_flow_mask:
                flow, valid_flow_mask = flow
        if self.transforms is not None:
            img1, img2, flow, valid_flow_mask = self.transforms(img1, img2, flow, valid_flow_mask)
        if self._has_builtin_flow_mask or valid_flow_mask is not None:
            return img1, img2, flow, valid_flow_mask
        return img1, img2, flow

    def __len__(self) -> int:
        return len(self._image_list)

    def __rmul__(self, v: int):
        from ember.utils.data import ConcatDataset
        return ConcatDataset([self] * v)


def _sorted_glob(pattern: Path | str) -> list:
    return sorted(glob(str(pattern)))


class Sintel(FlowDataset):
    """MPI Sintel: ``(img1, img2, flow)``, consecutive PNG frames of each scene of
    ``Sintel/<training|test>/<pass>/<scene>`` and the float32 (2, H, W) flow of
    ``Sintel/training/flow/<scene>/*.flo`` (None for the test split).

    Args:
        root: folder holding ``Sintel/``.
        split: ``"train"`` or ``"test"``.
        pass_name: ``"clean"``, ``"final"`` or ``"both"`` (clean then final).
        transforms: called as ``transforms(img1, img2, flow, valid_flow_mask)``.
        loader: reads an image file (default: an RGB PIL image).
    """

    def __init__(self, root: str, split: str = "train", pass_name: str = "clean",
                 transforms: Callable | None = None,
                 loader: Callable[[str], Any] = default_loader) -> None:
        super().__init__(root=root, transforms=transforms, loader=loader)
        verify_str_arg(split, "split", valid_values=("train", "test"))
        verify_str_arg(pass_name, "pass_name", valid_values=("clean", "final", "both"))
        passes = ["clean", "final"] if pass_name == "both" else [pass_name]
        base = Path(root) / "Sintel"
        split_dir = "training" if split == "train" else "test"  # the archive's folder names
        for name in passes:
            image_root = base / split_dir / name
            for scene in os.listdir(image_root):  # listing order, as torchvision's
                frames = _sorted_glob(image_root / scene / "*.png")
                self._image_list += [[a, b] for a, b in zip(frames, frames[1:])]
                if split == "train":
                    self._flow_list += _sorted_glob(base / "training" / "flow" / scene / "*.flo")

    def _read_flow(self, file_name: str) -> np.ndarray:
        return _read_flo(file_name)


class KittiFlow(FlowDataset):
    """KITTI 2015 optical flow: ``(img1, img2, flow, valid_flow_mask)``, the frames
    ``image_2/*_10.png`` and ``*_11.png`` and, for the train split, the float32 (2, H, W) flow
    and bool (H, W) mask of the 16-bit PNG ``flow_occ/*_10.png`` (both None for test).

    Args:
        root: folder holding ``KittiFlow/{training,testing}``.
        split: ``"train"`` or ``"test"``.
        transforms: called as ``transforms(img1, img2, flow, valid_flow_mask)``.
        loader: reads an image file (default: an RGB PIL image).
    """

    _has_builtin_flow_mask = True

    def __init__(self, root: str, split: str = "train", transforms: Callable | None = None,
                 loader: Callable[[str], Any] = default_loader) -> None:
        super().__init__(root=root, transforms=transforms, loader=loader)
        verify_str_arg(split, "split", valid_values=("train", "test"))
        base = Path(root) / "KittiFlow" / (split + "ing")
        images1 = _sorted_glob(base / "image_2" / "*_10.png")
        images2 = _sorted_glob(base / "image_2" / "*_11.png")
        if not images1 or not images2:
            raise FileNotFoundError("Could not find the Kitti flow images. Please make sure the "
                                    "directory structure is correct.")
        self._image_list = [[a, b] for a, b in zip(images1, images2)]
        if split == "train":
            self._flow_list = _sorted_glob(base / "flow_occ" / "*_10.png")

    def _read_flow(self, file_name: str) -> tuple:
        return _read_16bits_png_with_flow_and_valid_mask(file_name)


class FlyingChairs(FlowDataset):
    """FlyingChairs: ``(img1, img2, flow)`` from ``FlyingChairs/data`` (the i-th ``.flo``
    file pairs with the (2i)-th and (2i+1)-th ``.ppm`` in sorted order), the split chosen by
    ``FlyingChairs_train_val.txt`` (1: train, 2: val, one line per flow file).

    Args:
        root: folder holding ``FlyingChairs/``.
        split: ``"train"`` or ``"val"``.
        transforms: called as ``transforms(img1, img2, flow, valid_flow_mask)``.
    """

    def __init__(self, root: str, split: str = "train",
                 transforms: Callable | None = None) -> None:
        super().__init__(root=root, transforms=transforms)
        verify_str_arg(split, "split", valid_values=("train", "val"))
        base = Path(root) / "FlyingChairs"
        images = _sorted_glob(base / "data" / "*.ppm")
        flows = _sorted_glob(base / "data" / "*.flo")
        split_file = base / "FlyingChairs_train_val.txt"
        if not os.path.exists(split_file):
            raise FileNotFoundError("The FlyingChairs_train_val.txt file was not found - please "
                                    "download it from the dataset page (see docstring).")
        try:
            split_ids = np.loadtxt(str(split_file), dtype=np.int32, ndmin=1)
        except ValueError as e:
            raise ValueError(f"{split_file}: not a list of integers: {e}") from e
        if len(split_ids) < len(flows) or len(images) < 2 * len(flows):
            raise ValueError(f"{base / 'data'}: {len(flows)} flow files need "
                             f"{2 * len(flows)} images and as many lines of {split_file}; "
                             f"found {len(images)} images and {len(split_ids)} lines")
        wanted = 1 if split == "train" else 2
        for i, flow in enumerate(flows):
            if split_ids[i] == wanted:
                self._flow_list.append(flow)
                self._image_list.append([images[2 * i], images[2 * i + 1]])

    def _read_flow(self, file_name: str) -> np.ndarray:
        return _read_flo(file_name)


class FlyingThings3D(FlowDataset):
    """FlyingThings3D: ``(img1, img2, flow)``. For each pass, camera and direction (into the
    future, then into the past), the frames of ``<frames_pass>/<SPLIT>/<set>/<seq>/<camera>``
    and the flows of ``optical_flow/<SPLIT>/<set>/<seq>/<direction>/<camera>/*.pfm``; a
    past-directed sample swaps the frames and takes the next flow file.

    Args:
        root: folder holding ``FlyingThings3D/``.
        split: ``"train"`` or ``"test"``.
        pass_name: ``"clean"``, ``"final"`` or ``"both"``.
        camera: ``"left"``, ``"right"`` or ``"both"``.
        transforms: called as ``transforms(img1, img2, flow, valid_flow_mask)``.
        loader: reads an image file (default: an RGB PIL image).
    """

    def __init__(self, root: str, split: str = "train", pass_name: str = "clean",
                 camera: str = "left", transforms: Callable | None = None,
                 loader: Callable[[str], Any] = default_loader) -> None:
        super().__init__(root=root, transforms=transforms, loader=loader)
        verify_str_arg(split, "split", valid_values=("train", "test"))
        split = split.upper()
        verify_str_arg(pass_name, "pass_name", valid_values=("clean", "final", "both"))
        passes = {"clean": ["frames_cleanpass"], "final": ["frames_finalpass"],
                  "both": ["frames_cleanpass", "frames_finalpass"]}[pass_name]
        verify_str_arg(camera, "camera", valid_values=("left", "right", "both"))
        cameras = ["left", "right"] if camera == "both" else [camera]
        base = Path(root) / "FlyingThings3D"
        for frames, cam, direction in itertools.product(passes, cameras,
                                                        ("into_future", "into_past")):
            image_dirs = sorted(Path(d) / cam for d in _sorted_glob(base / frames / split / "*/*"))
            flow_dirs = sorted(Path(d) / direction / cam
                               for d in _sorted_glob(base / "optical_flow" / split / "*/*"))
            if not image_dirs or not flow_dirs:
                raise FileNotFoundError("Could not find the FlyingThings3D flow images. Please "
                                        "make sure the directory structure is correct.")
            for image_dir, flow_dir in zip(image_dirs, flow_dirs):
                images = _sorted_glob(image_dir / "*.png")
                flows = _sorted_glob(flow_dir / "*.pfm")
                if len(images) < len(flows):
                    raise ValueError(f"{image_dir}: {len(images)} frames for {len(flows)} flow "
                                     f"files of {flow_dir}")
                for i in range(len(flows) - 1):
                    if direction == "into_future":
                        self._image_list.append([images[i], images[i + 1]])
                        self._flow_list.append(flows[i])
                    else:
                        self._image_list.append([images[i + 1], images[i]])
                        self._flow_list.append(flows[i + 1])

    def _read_flow(self, file_name: str) -> np.ndarray:
        return _read_pfm(file_name)


class HD1K(FlowDataset):
    """HD1K: ``(img1, img2, flow, valid_flow_mask)``. Train: consecutive frames of each of the
    36 sequences of ``hd1k_input/image_2/<seq:06d>_*.png`` with the 16-bit PNG flows of
    ``hd1k_flow_gt/flow_occ``; test: the ``*10.png`` / ``*11.png`` pairs of
    ``hd1k_challenge/image_2`` (flow and mask None).

    Args:
        root: folder holding ``hd1k/``.
        split: ``"train"`` or ``"test"``.
        transforms: called as ``transforms(img1, img2, flow, valid_flow_mask)``.
        loader: reads an image file (default: an RGB PIL image).
    """

    _has_builtin_flow_mask = True

    def __init__(self, root: str, split: str = "train", transforms: Callable | None = None,
                 loader: Callable[[str], Any] = default_loader) -> None:
        super().__init__(root=root, transforms=transforms, loader=loader)
        verify_str_arg(split, "split", valid_values=("train", "test"))
        base = Path(root) / "hd1k"
        if split == "train":
            for seq in range(36):  # pairs never span two sequences
                flows = _sorted_glob(base / "hd1k_flow_gt" / "flow_occ" / f"{seq:06d}_*.png")
                images = _sorted_glob(base / "hd1k_input" / "image_2" / f"{seq:06d}_*.png")
                if len(images) < len(flows):
                    raise ValueError(f"{base}: sequence {seq:06d} has {len(images)} frames for "
                                     f"{len(flows)} flow files")
                for i in range(len(flows) - 1):
                    self._flow_list.append(flows[i])
                    self._image_list.append([images[i], images[i + 1]])
        else:
            images1 = _sorted_glob(base / "hd1k_challenge" / "image_2" / "*10.png")
            images2 = _sorted_glob(base / "hd1k_challenge" / "image_2" / "*11.png")
            self._image_list = [[a, b] for a, b in zip(images1, images2)]
        if not self._image_list:
            raise FileNotFoundError("Could not find the HD1K images. Please make sure the "
                                    "directory structure is correct.")

    def _read_flow(self, file_name: str) -> tuple:
        return _read_16bits_png_with_flow_and_valid_mask(file_name)
