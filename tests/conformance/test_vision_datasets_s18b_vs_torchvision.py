"""CelebA, Kitti, WIDERFace, Caltech101/256, DTD, Food101, OxfordIIITPet, StanfordCars,
FGVCAircraft, GTSRB, Country211, SUN397, Imagenette, RenderedSST2, SBDataset and Cityscapes
against real torchvision on the same on-disk fixtures (written by tests/test_vision_datasets_s18b):
the same number of samples in the same order, the same images (mode and pixels), targets
(values, dtypes, shapes), classes; and the same wrap_dataset_for_transforms_v2 samples."""
import numpy as np
import pytest

from ember.vision import datasets
from tests import test_vision_datasets_s18b as fixtures

torch = pytest.importorskip("torch")
pytest.importorskip("PIL")
from PIL import Image  # noqa: E402


@pytest.fixture(scope="module")
def tv():
    from tests.conformance.real_torchvision import real_torchvision
    return real_torchvision()


def _assert_same(ours, theirs, where="sample"):
    if isinstance(theirs, Image.Image):
        assert isinstance(ours, Image.Image), where
        assert (ours.mode, ours.size) == (theirs.mode, theirs.size), where
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs), err_msg=where)
    elif isinstance(theirs, torch.Tensor):
        assert type(ours).__name__ == type(theirs).__name__, where  # tv_tensors' classes too
        for attr in ("format", "canvas_size"):
            if hasattr(theirs, attr):
                assert str(getattr(ours, attr)) == str(getattr(theirs, attr)), where
        ours, theirs = ours.numpy(), theirs.numpy()
        assert (ours.dtype, ours.shape) == (theirs.dtype, theirs.shape), where
        np.testing.assert_array_equal(ours, theirs, err_msg=where)
    elif isinstance(theirs, np.ndarray):
        assert (ours.dtype, ours.shape) == (theirs.dtype, theirs.shape), where
        np.testing.assert_array_equal(ours, theirs, err_msg=where)
    elif isinstance(theirs, dict):
        assert isinstance(ours, dict) and ours.keys() == theirs.keys(), where
        for key in theirs:
            _assert_same(ours[key], theirs[key], f"{where}[{key!r}]")
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs)):
            _assert_same(a, b, f"{where}[{i}]")
    else:
        assert ours == theirs and type(ours) is type(theirs), where


def _assert_same_dataset(ours, theirs, attributes=("classes", "class_to_idx")):
    assert len(ours) == len(theirs)
    for attr in attributes:
        if hasattr(theirs, attr):
            assert getattr(ours, attr) == getattr(theirs, attr), attr
    for index in range(len(theirs)):
        _assert_same(ours[index], theirs[index], f"{type(ours).__name__}[{index}]")


CASES = [  # (fixture writer, class name, constructor kwargs, the attributes to compare)
    ("make_kitti", "Kitti", [{}, {"train": False}], ()),
    ("make_widerface", "WIDERFace", [{}, {"split": "val"}, {"split": "test"}], ()),
    ("make_caltech101", "Caltech101",
     [{}, {"target_type": ["annotation", "category"]}], ("categories", "annotation_categories")),
    ("make_caltech256", "Caltech256", [{}], ("categories",)),
    ("make_dtd", "DTD", [{}, {"split": "test", "partition": 2}], None),
    ("make_food101", "Food101", [{}, {"split": "test"}], None),
    ("make_oxford_pet", "OxfordIIITPet",
     [{}, {"target_types": ["segmentation", "binary-category", "category"]},
      {"split": "test", "target_types": []}], ("classes", "class_to_idx", "bin_classes")),
    # the fixture's test split has one annotation, which torchvision cannot iterate (0-d)
    ("make_stanford_cars", "StanfordCars", [{}], None),
    ("make_fgvc_aircraft", "FGVCAircraft",
     [{}, {"split": "test", "annotation_level": "manufacturer"}], None),
    ("make_gtsrb", "GTSRB", [{}, {"split": "test"}], ()),
    ("make_country211", "Country211", [{}, {"split": "test"}], None),
    ("make_sun397", "SUN397", [{}], None),
    ("make_imagenette", "Imagenette", [{"size": "160px"}, {"split": "val", "size": "160px"}],
     ("classes", "class_to_idx", "wnids", "wnid_to_idx")),
    ("make_rendered_sst2", "RenderedSST2", [{}, {"split": "val"}], None),
    ("make_sbd", "SBDataset", [{"mode": "segmentation"}, {"image_set": "val"}], ()),
    ("make_cityscapes", "Cityscapes",
     [{"target_type": ["instance", "semantic", "color", "polygon"]}], ("classes",)),
]


@pytest.mark.parametrize("writer,name,kwargs_list,attributes", CASES, ids=[c[1] for c in CASES])
def test_samples_match_torchvision(tv, tmp_path, writer, name, kwargs_list, attributes):
    if name in ("Caltech101", "StanfordCars", "SBDataset"):
        pytest.importorskip("scipy")
    getattr(fixtures, writer)(str(tmp_path))
    for kwargs in kwargs_list:
        ours = getattr(datasets, name)(str(tmp_path), **kwargs)
        theirs = getattr(tv.datasets, name)(str(tmp_path), **kwargs)
        _assert_same_dataset(ours, theirs, ("classes", "class_to_idx") if attributes is None
                             else attributes)


def test_celeba_matches_torchvision(tv, tmp_path, monkeypatch):
    root = str(tmp_path)
    fixtures.make_celeba(root)
    for cls in (datasets.CelebA, tv.datasets.CelebA):
        monkeypatch.setattr(cls, "file_list", fixtures.celeba_file_list(cls, root))
    # a split of one image trips torchvision (a 0-d index), so the fixture has two per split
    for split in ("train", "valid", "test", "all"):
        kwargs = {"split": split, "target_type": ["landmarks", "attr", "bbox", "identity"]}
        ours, theirs = datasets.CelebA(root, **kwargs), tv.datasets.CelebA(root, **kwargs)
        assert ours.filename == theirs.filename and ours.attr_names == theirs.attr_names
        _assert_same_dataset(ours, theirs, ())
    _assert_same_dataset(datasets.CelebA(root, target_type="identity"),
                         tv.datasets.CelebA(root, target_type="identity"), ())


def _wrapped_pairs(tv, root, monkeypatch):
    fixtures.make_celeba(root)
    for cls in (datasets.CelebA, tv.datasets.CelebA):
        monkeypatch.setattr(cls, "file_list", fixtures.celeba_file_list(cls, root))
    fixtures.make_kitti(root)
    fixtures.make_widerface(root)
    fixtures.make_caltech101(root)
    fixtures.make_caltech256(root)
    fixtures.make_gtsrb(root)
    fixtures.make_imagenette(root)
    fixtures.make_oxford_pet(root)
    fixtures.make_sbd(root)
    fixtures.make_cityscapes(root)
    return [
        ("CelebA", {"target_type": ["bbox", "identity"]}, None),
        ("Kitti", {}, None), ("Kitti", {}, "all"), ("Kitti", {"train": False}, None),
        ("WIDERFace", {}, None), ("WIDERFace", {}, ["bbox", "pose"]),
        ("WIDERFace", {"split": "test"}, None),
        ("Caltech101", {}, None), ("Caltech256", {}, None), ("GTSRB", {}, None),
        ("Imagenette", {"size": "160px"}, None),
        ("OxfordIIITPet", {"target_types": ["segmentation", "category"]}, None),
        ("SBDataset", {"mode": "segmentation"}, None),
        # not "instance": the 16-bit PNG becomes a uint16 tensor, and torchvision's wrapper
        # then compares it with `>=`, which real torch lacks for uint16 on the CPU
        ("Cityscapes", {"target_type": "semantic"}, None),
    ]


def test_wrapped_samples_match_torchvision(tv, tmp_path, monkeypatch):
    pytest.importorskip("scipy")
    root = str(tmp_path)
    for name, kwargs, target_keys in _wrapped_pairs(tv, root, monkeypatch):
        ours = datasets.wrap_dataset_for_transforms_v2(getattr(datasets, name)(root, **kwargs),
                                                       target_keys=target_keys)
        theirs = tv.datasets.wrap_dataset_for_transforms_v2(
            getattr(tv.datasets, name)(root, **kwargs), target_keys=target_keys)
        assert len(ours) == len(theirs)
        for index in range(len(theirs)):
            _assert_same(ours[index], theirs[index], f"wrapped {name}[{index}]")
