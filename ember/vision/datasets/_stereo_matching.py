"""Stereo-matching data sets: left and right images with the disparity map of the left one
(and, for some, a validity mask): KITTI 2012/2015, CARLA, Middlebury 2014, CREStereo,
FallingThings, SceneFlow, Sintel, InStereo2k and ETH3D."""
from __future__ import annotations

import json
import os
import random
import shutil
from glob import glob
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ember.vision.datasets._flow_files import _read_pfm
from ember.vision.datasets._helpers import open_image, verify_str_arg
from ember.vision.datasets.utils import download_and_extract_archive
from ember.vision.datasets.vision import VisionDataset

__all__ = ("CarlaStereo", "Kitti2012Stereo", "Kitti2015Stereo", "Middlebury2014Stereo",
           "CREStereo", "FallingThingsStereo", "SceneFlowStereo", "SintelStereo", "InStereo2k",
           "ETH3DStereo")


def _image_array(path: str | Path, dtype: Any = None) -> np.ndarray:
    """The samples of an image file (a disparity, depth or mask map) as stored."""
    return np.asarray(open_image(os.fspath(path)), dtype=dtype)


def _pfm_disparity(path: str) -> np.ndarray:
    """A one-channel PFM disparity, made positive (some data sets store it negated)."""
    return np.abs(_read_pfm(path, slice_channels=1))


class StereoMatchingDataset(VisionDataset):
    """``(img_left, img_right, disparity)`` (RGB PIL images, a float (1, H, W) array, None
    where the split has none); data sets with a built-in mask, or whose ``transforms`` make
    one, give ``(img_left, img_right, disparity, valid_mask)``.

    ``transforms`` is called as ``transforms(images, disparities, valid_masks)``, each a
    (left, right) pair, and returns the three pairs.
    """

    _has_built_in_disparity_mask = False

    def __init__(self, root: str, transforms: Callable | None = None) -> None:
        super().__init__(root=root)
        self.transforms = transforms
        self._images: list = []
        self._disparities: list = []

    def _read_img(self, file_path: str | Path) -> Any:
        img = open_image(os.fspath(file_path))
        return img if img.mode == "RGB" else img.convert("RGB")

    def _scan_pairs(self, paths_left_pattern: str,
                    paths_right_pattern: str | None = None) -> list:
        """Sorted left files paired with sorted right files (None without a right
        pattern)."""
        left_paths = sorted(glob(paths_left_pattern))
        if not left_paths:
            raise FileNotFoundError("Could not find any files matching the patterns: "
                                    f"{paths_left_pattern}")
        if not paths_right_pattern:
            return [(left, None) for left in left_paths]
        right_paths = sorted(glob(paths_right_pattern))
        if not right_paths:
            raise FileNotFoundError("Could not find any files matching the patterns: "
                                    f"{paths_right_pattern}")
        if len(left_paths) != len(right_paths):
            raise ValueError(f"Found {len(left_paths)} left files but {len(right_paths)} right "
                             f"files using:\n left pattern: {paths_left_pattern}\n"
                             f"right pattern: {paths_right_pattern}\n")
        return list(zip(left_paths, right_paths))

    def _read_disparity(self, file_path: str | None) -> tuple:
        """``(disparity, valid_mask)`` of one file (``(None, None)`` for no file)."""
        raise NotImplementedError

    def __getitem__(self, index: int) -> tuple:
        imgs = (self._read_img(self._images[index][0]), self._read_img(self._images[index][1]))
        (dsp_left, valid_left), (dsp_right, valid_right) = (
            self._read_disparity(path) for path in self._disparities[index])
        dsp_maps, valid_masks = (dsp_left, dsp_right), (valid_left, valid_right)
        if self.transforms is not None:
            imgs, dsp_maps, valid_masks = self.transforms(imgs, dsp_maps, valid_masks)
        if self._has_built_in_disparity_mask or valid_masks[0] is not None:
            return imgs[0], imgs[1], dsp_maps[0], valid_masks[0]
        return imgs[0], imgs[1], dsp_maps[0]

    def __len__(self) -> int:
        return len(self._images)


class CarlaStereo(StereoMatchingDataset):
    """CARLA high-resolution stereo: ``(left, right, disparity)`` from
    ``carla-highres/trainingF/<scene>/{im0,im1}.png`` and ``disp0GT.pfm`` (``disp1GT.pfm``
    for the right view).

    Args:
        root: folder holding ``carla-highres/``.
        transforms: see :class:`StereoMatchingDataset`.
    """

    def __init__(self, root: str, transforms: Callable | None = None) -> None:
        super().__init__(root, transforms)
        base = Path(root) / "carla-highres" / "trainingF" / "*"
        self._images = self._scan_pairs(str(base / "im0.png"), str(base / "im1.png"))
        self._disparities = self._scan_pairs(str(base / "disp0GT.pfm"),
                                             str(base / "disp1GT.pfm"))

    def _read_disparity(self, file_path: str) -> tuple:
        return _pfm_disparity(file_path), None


class _KittiStereo(StereoMatchingDataset):
    """KITTI stereo: disparities are 16-bit PNGs in 1/256 pixel (float64 (1, H, W)); the
    test split has none. The mask slot is always None."""

    _has_built_in_disparity_mask = True
    _folder = ""
    _left, _right, _disparity_left, _disparity_right = "", "", "", None

    def __init__(self, root: str, split: str = "train",
                 transforms: Callable | None = None) -> None:
        super().__init__(root, transforms)
        verify_str_arg(split, "split", valid_values=("train", "test"))
        base = Path(root) / self._folder / (split + "ing")
        self._images = self._scan_pairs(str(base / self._left), str(base / self._right))
        if split == "train":
            right = self._disparity_right and str(base / self._disparity_right)
            self._disparities = self._scan_pairs(str(base / self._disparity_left), right)
        else:
            self._disparities = [(None, None)] * len(self._images)

    def _read_disparity(self, file_path: str | None) -> tuple:
        if file_path is None:
            return None, None
        return (_image_array(file_path) / 256.0)[None], None


class Kitti2012Stereo(_KittiStereo):
    """KITTI 2012 stereo: ``(left, right, disparity, None)`` from
    ``Kitti2012/<training|testing>/colored_{0,1}/*_10.png`` and ``disp_noc/*.png``.

    Args:
        root: folder holding ``Kitti2012/``.
        split: ``"train"`` or ``"test"`` (disparity None).
        transforms: see :class:`StereoMatchingDataset`.
    """

    _folder = "Kitti2012"
    _left, _right, _disparity_left = "colored_0/*_10.png", "colored_1/*_10.png", "disp_noc/*.png"


class Kitti2015Stereo(_KittiStereo):
    """KITTI 2015 stereo: ``(left, right, disparity, None)`` from
    ``Kitti2015/<training|testing>/image_{2,3}/*.png`` and ``disp_occ_{0,1}/*.png``.

    Args:
        root: folder holding ``Kitti2015/``.
        split: ``"train"`` or ``"test"`` (disparity None).
        transforms: see :class:`StereoMatchingDataset`.
    """

    _folder = "Kitti2015"
    _left, _right = "image_2/*.png", "image_3/*.png"
    _disparity_left, _disparity_right = "disp_occ_0/*.png", "disp_occ_1/*.png"


class Middlebury2014Stereo(StereoMatchingDataset):
    """Middlebury 2014: ``(left, right, disparity, valid_mask)`` from
    ``Middlebury2014/<split>/<scene><calibration suffix>/{im0,im1}.png`` and
    ``disp0.pfm``/``disp1.pfm``; infinite disparities become 0 and the mask is
    ``disparity > 0``. The test split has no disparities (None).

    Args:
        root: folder holding ``Middlebury2014/``.
        split: ``"train"``, ``"additional"`` or ``"test"``.
        calibration: ``"perfect"``, ``"imperfect"`` or ``"both"``; None for the test split.
        use_ambient_views: read the right image at random among ``im1.png`` and the
            ``im1E.png``/``im1L.png`` (other exposure / lighting) views present.
        transforms: see :class:`StereoMatchingDataset`.
        download: fetch the split's scenes.
    """

    splits = {
        "train": ["Adirondack", "Jadeplant", "Motorcycle", "Piano", "Pipes", "Playroom",
                  "Playtable", "Recycle", "Shelves", "Vintage"],
        "additional": ["Backpack", "Bicycle1", "Cable", "Classroom1", "Couch", "Flowers",
                       "Mask", "Shopvac", "Sticks", "Storage", "Sword1", "Sword2", "Umbrella"],
        "test": ["Plants", "Classroom2E", "Classroom2", "Australia", "DjembeL", "CrusadeP",
                 "Crusade", "Hoops", "Bicycle2", "Staircase", "Newkuba", "AustraliaP", "Djembe",
                 "Livingroom", "Computer"],
    }
    _has_built_in_disparity_mask = True

    def __init__(self, root: str, split: str = "train", calibration: str | None = "perfect",
                 use_ambient_views: bool = False, transforms: Callable | None = None,
                 download: bool = False) -> None:
        super().__init__(root, transforms)
        verify_str_arg(split, "split", valid_values=("train", "test", "additional"))
        self.split = split
        if calibration:
            verify_str_arg(calibration, "calibration",
                           valid_values=("perfect", "imperfect", "both", None))
            if split == "test":
                raise ValueError("Split 'test' has only no calibration settings, please set "
                                 "`calibration=None`.")
        elif split != "test":
            raise ValueError(f"Split '{split}' has calibration settings, however None was "
                             f"provided as an argument.\nSetting calibration to 'perfect' for "
                             f"split '{split}'. Available calibration settings are: 'perfect', "
                             "'imperfect', 'both'.")
        if download:
            self._download_dataset(root)
        base = Path(root) / "Middlebury2014"
        if not os.path.exists(base / split):
            raise FileNotFoundError(f"The {split} directory was not found in the provided root "
                                    "directory")
        if not any(scene.startswith(s) for scene in os.listdir(base / split)
                   for s in self.splits[split]):
            raise FileNotFoundError("Provided root folder does not contain any scenes from the "
                                    f"{split} split.")
        suffixes = {None: [""], "perfect": ["-perfect"], "imperfect": ["-imperfect"],
                    "both": ["-perfect", "-imperfect"]}[calibration]
        for suffix in suffixes:
            scenes = base / split / ("*" + suffix)
            self._images += self._scan_pairs(str(scenes / "im0.png"), str(scenes / "im1.png"))
            if split == "test":
                self._disparities = [(None, None)] * len(self._images)
            else:
                self._disparities += self._scan_pairs(str(scenes / "disp0.pfm"),
                                                      str(scenes / "disp1.pfm"))
        self.use_ambient_views = use_ambient_views

    def _read_img(self, file_path: str | Path) -> Any:
        file_path = Path(file_path)
        if file_path.name == "im1.png" and self.use_ambient_views:
            views = [file_path.parent / name for name in ("im1E.png", "im1L.png")]
            views = [p for p in views if os.path.exists(p)] + [file_path]
            file_path = random.choice(views)  # Python's RNG, as torchvision draws it
        return super()._read_img(file_path)

    def _read_disparity(self, file_path: str | None) -> tuple:
        if file_path is None:
            return None, None
        disparity = _pfm_disparity(file_path)
        disparity[disparity == np.inf] = 0
        return disparity, (disparity > 0).squeeze(0)

    def _download_dataset(self, root: str) -> None:
        base_url = "https://vision.middlebury.edu/stereo/data/scenes2014/zip"
        base = Path(root) / "Middlebury2014"
        if self.split != "test":
            split_root = base / self.split
            for scene in self.splits[self.split]:
                for calibration in ("perfect", "imperfect"):
                    name = f"{scene}-{calibration}"
                    if not (split_root / name).exists():
                        download_and_extract_archive(url=f"{base_url}/{name}.zip",
                                                     filename=f"{name}.zip",
                                                     download_root=str(split_root),
                                                     remove_finished=True)
            return
        os.makedirs(base / "test", exist_ok=True)
        if any(s not in os.listdir(base / "test") for s in self.splits["test"]):
            download_and_extract_archive(
                url="https://vision.middlebury.edu/stereo/submit3/zip/MiddEval3-data-F.zip",
                download_root=str(base), remove_finished=True)
            for scene_dir, scene_names, _ in os.walk(str(base / "MiddEval3" / "testF")):
                for scene in scene_names:
                    shutil.move(str(Path(scene_dir) / scene), str(base / "test"))
            shutil.rmtree(str(base / "MiddEval3"))


class CREStereo(StereoMatchingDataset):
    """CREStereo synthetic: ``(left, right, disparity, None)`` from
    ``CREStereo/<shapenet|reflective|tree|hole>/*_{left,right}.jpg`` and the 16-bit
    ``*_{left,right}.disp.png`` in 1/32 pixel (float32).

    Args:
        root: folder holding ``CREStereo/``.
        transforms: see :class:`StereoMatchingDataset`.
    """

    _has_built_in_disparity_mask = True

    def __init__(self, root: str, transforms: Callable | None = None) -> None:
        super().__init__(root, transforms)
        base = Path(root) / "CREStereo"
        for folder in ("shapenet", "reflective", "tree", "hole"):
            self._images += self._scan_pairs(str(base / folder / "*_left.jpg"),
                                             str(base / folder / "*_right.jpg"))
            self._disparities += self._scan_pairs(str(base / folder / "*_left.disp.png"),
                                                  str(base / folder / "*_right.disp.png"))

    def _read_disparity(self, file_path: str) -> tuple:
        return _image_array(file_path, np.float32)[None] / 32.0, None


class FallingThingsStereo(StereoMatchingDataset):
    """Falling Things: ``(left, right, disparity)``, the disparity ``6 * fx * 100 / depth``
    (float32) from the 16-bit ``*.{left,right}.depth.png`` and the ``fx`` of the folder's
    ``_camera_settings.json``.

    Args:
        root: folder holding ``FallingThings/{single,mixed}``.
        variant: ``"single"`` (``single/<object>/<scene>``), ``"mixed"`` (``mixed/<scene>``)
            or ``"both"``.
        transforms: see :class:`StereoMatchingDataset`.
    """

    def __init__(self, root: str, variant: str = "single",
                 transforms: Callable | None = None) -> None:
        super().__init__(root, transforms)
        base = Path(root) / "FallingThings"
        verify_str_arg(variant, "variant", valid_values=("single", "mixed", "both"))
        variants = ["single", "mixed"] if variant == "both" else [variant]
        prefix = {"single": Path("*") / "*", "mixed": Path("*")}
        for name in variants:
            folder = base / name / prefix[name]
            self._images += self._scan_pairs(str(folder / "*.left.jpg"),
                                             str(folder / "*.right.jpg"))
            self._disparities += self._scan_pairs(str(folder / "*.left.depth.png"),
                                                  str(folder / "*.right.depth.png"))

    def _read_disparity(self, file_path: str) -> tuple:
        depth = _image_array(file_path)
        settings = Path(file_path).parent / "_camera_settings.json"
        try:
            with open(settings) as f:
                focal = json.load(f)["camera_settings"][0]["intrinsic_settings"]["fx"]
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise RuntimeError(f"{settings}: needs camera_settings[0].intrinsic_settings.fx: "
                               f"{e!r}") from e
        baseline, pixel_constant = 6, 100
        with np.errstate(divide="ignore"):  # depth 0 (no object) gives an infinite disparity
            disparity = (baseline * focal * pixel_constant) / depth.astype(np.float32)
        return disparity[None], None


class SceneFlowStereo(StereoMatchingDataset):
    """SceneFlow (FlyingThings3D, Driving, Monkaa): ``(left, right, disparity)`` from
    ``SceneFlow/<variant>/<frames_pass>/<prefix>/{left,right}/*.png`` and
    ``disparity/<prefix>/{left,right}/*.pfm`` (prefix ``*/*/*``, or ``*`` for Monkaa).

    Args:
        root: folder holding ``SceneFlow/``.
        variant: ``"FlyingThings3D"``, ``"Driving"`` or ``"Monkaa"``.
        pass_name: ``"clean"``, ``"final"`` or ``"both"``.
        transforms: see :class:`StereoMatchingDataset`.
    """

    def __init__(self, root: str, variant: str = "FlyingThings3D", pass_name: str = "clean",
                 transforms: Callable | None = None) -> None:
        super().__init__(root, transforms)
        verify_str_arg(variant, "variant", valid_values=("FlyingThings3D", "Driving", "Monkaa"))
        verify_str_arg(pass_name, "pass_name", valid_values=("clean", "final", "both"))
        passes = {"clean": ["frames_cleanpass"], "final": ["frames_finalpass"],
                  "both": ["frames_cleanpass", "frames_finalpass"]}[pass_name]
        base = Path(root) / "SceneFlow" / variant
        prefix = Path("*") if variant == "Monkaa" else Path("*") / "*" / "*"
        for frames in passes:
            self._images += self._scan_pairs(str(base / frames / prefix / "left" / "*.png"),
                                             str(base / frames / prefix / "right" / "*.png"))
            self._disparities += self._scan_pairs(
                str(base / "disparity" / prefix / "left" / "*.pfm"),
                str(base / "disparity" / prefix / "right" / "*.pfm"))

    def _read_disparity(self, file_path: str) -> tuple:
        return _pfm_disparity(file_path), None


class SintelStereo(StereoMatchingDataset):
    """Sintel stereo: ``(left, right, disparity, valid_mask)`` from
    ``Sintel/training/<pass>_{left,right}/<scene>/*.png``; the disparity of
    ``disparities/<scene>/<frame>.png`` is ``R * 4 + G / 2**6 + B / 2**14`` (float32), the
    mask is where both ``occlusions/`` and ``outofframe/`` masks are 0.

    Args:
        root: folder holding ``Sintel/``.
        pass_name: ``"final"``, ``"clean"`` or ``"both"`` (final then clean).
        transforms: see :class:`StereoMatchingDataset`.
    """

    _has_built_in_disparity_mask = True

    def __init__(self, root: str, pass_name: str = "final",
                 transforms: Callable | None = None) -> None:
        super().__init__(root, transforms)
        verify_str_arg(pass_name, "pass_name", valid_values=("final", "clean", "both"))
        base = Path(root) / "Sintel" / "training"
        for name in ["final", "clean"] if pass_name == "both" else [pass_name]:
            self._images += self._scan_pairs(str(base / f"{name}_left" / "*" / "*.png"),
                                             str(base / f"{name}_right" / "*" / "*.png"))
            self._disparities += self._scan_pairs(str(base / "disparities" / "*" / "*.png"))

    def _get_occlussion_mask_paths(self, file_path: str) -> tuple[str, str]:
        path = Path(file_path)
        sample_dir = path.parent.parent.parent
        masks = tuple(str(sample_dir / kind / path.parent.name / path.name)
                      for kind in ("occlusions", "outofframe"))
        for kind, mask in zip(("Occlusion", "Out of frame"), masks):
            if not os.path.exists(mask):
                raise FileNotFoundError(f"{kind} mask {mask} does not exist")
        return masks

    def _read_disparity(self, file_path: str | None) -> tuple:
        if file_path is None:
            return None, None
        rgb = _image_array(file_path, np.float32)
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"{file_path}: a Sintel disparity PNG has 3 channels, not shape "
                             f"{rgb.shape}")
        disparity = rgb[..., 0] * 4 + rgb[..., 1] / 2 ** 6 + rgb[..., 2] / 2 ** 14
        occlusions, out_of_frame = self._get_occlussion_mask_paths(file_path)
        valid = (_image_array(occlusions) == 0) & (_image_array(out_of_frame) == 0)
        return disparity[None], valid


class InStereo2k(StereoMatchingDataset):
    """InStereo2k: ``(left, right, disparity)`` from
    ``InStereo2k/<split>/<scene>/{left,right}.png`` and the 16-bit
    ``{left,right}_disp.png`` in 1/1024 pixel (float32).

    Args:
        root: folder holding ``InStereo2k/``.
        split: ``"train"`` or ``"test"``.
        transforms: see :class:`StereoMatchingDataset`.
    """

    def __init__(self, root: str, split: str = "train",
                 transforms: Callable | None = None) -> None:
        super().__init__(root, transforms)
        verify_str_arg(split, "split", valid_values=("train", "test"))
        base = Path(root) / "InStereo2k" / split / "*"
        self._images = self._scan_pairs(str(base / "left.png"), str(base / "right.png"))
        self._disparities = self._scan_pairs(str(base / "left_disp.png"),
                                             str(base / "right_disp.png"))

    def _read_disparity(self, file_path: str) -> tuple:
        return _image_array(file_path, np.float32)[None] / 1024.0, None


class ETH3DStereo(StereoMatchingDataset):
    """ETH3D two-view: ``(left, right, disparity, valid_mask)`` from
    ``ETH3D/two_view_<training|test>/<scene>/{im0,im1}.png``, the disparity of
    ``two_view_training_gt/<scene>/disp0GT.pfm`` and the mask of ``mask0nocc.png`` beside it
    (both None for the test split).

    Args:
        root: folder holding ``ETH3D/``.
        split: ``"train"`` or ``"test"``.
        transforms: see :class:`StereoMatchingDataset`.
    """

    _has_built_in_disparity_mask = True

    def __init__(self, root: str, split: str = "train",
                 transforms: Callable | None = None) -> None:
        super().__init__(root, transforms)
        verify_str_arg(split, "split", valid_values=("train", "test"))
        base = Path(root) / "ETH3D"
        images = base / ("two_view_training" if split == "train" else "two_view_test") / "*"
        self._images = self._scan_pairs(str(images / "im0.png"), str(images / "im1.png"))
        if split == "test":
            self._disparities = [(None, None)] * len(self._images)
        else:
            self._disparities = self._scan_pairs(
                str(base / "two_view_training_gt" / "*" / "disp0GT.pfm"))

    def _read_disparity(self, file_path: str | None) -> tuple:
        if file_path is None:
            return None, None
        mask = _image_array(Path(file_path).parent / "mask0nocc.png").astype(bool)
        return _pfm_disparity(file_path), mask
