"""PCAM (HDF5 through h5py) and LSUN (LMDB through lmdb) on tiny fixtures written here in the
real layouts: the samples, their order and targets, the class-name checks, and clear errors for
corrupt files. The ``make_*`` writers are shared with
tests/conformance/test_vision_datasets_s19_vs_torchvision.py; each returns what the samples
must be."""
import io
import os

import numpy as np
import pytest

from ember.vision import datasets

pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

_PCAM_X = "camelyonpatch_level_2_split_{}_x.h5"
_PCAM_Y = "camelyonpatch_level_2_split_{}_y.h5"


def make_pcam(root, split="valid", n=5):
    """``root/pcam`` with one split of n 96x96 patches; returns (images, labels)."""
    h5py = pytest.importorskip("h5py")
    folder = os.path.join(root, "pcam")
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 96, 96, 3), dtype=np.uint8)
    labels = rng.integers(0, 2, n).astype(np.uint8)
    with h5py.File(os.path.join(folder, _PCAM_X.format(split)), "w") as f:
        f["x"] = images
    with h5py.File(os.path.join(folder, _PCAM_Y.format(split)), "w") as f:
        f["y"] = labels.reshape(n, 1, 1, 1)
    return images, labels


def make_lsun(root, classes=("bedroom_val", "tower_val"), sizes=(3, 2)):
    """One LMDB database per class with JPEG/PNG entries; returns per class the decoded RGB
    images in key order."""
    lmdb = pytest.importorskip("lmdb")
    os.makedirs(root, exist_ok=True)
    rng = np.random.default_rng(1)
    expected = {}
    for name, count in zip(classes, sizes):
        env = lmdb.open(os.path.join(root, f"{name}_lmdb"), map_size=1 << 22)
        entries = {}
        with env.begin(write=True) as txn:
            for i in range(count):
                pixels = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
                buf = io.BytesIO()
                Image.fromarray(pixels).save(buf, format="PNG")
                key = f"{name}-{count - i:04d}".encode()  # keys stored out of insertion order
                txn.put(key, buf.getvalue())
                entries[key] = pixels
        env.close()
        expected[name] = [entries[k] for k in sorted(entries)]
    return expected


def test_pcam_samples_and_labels(tmp_path):
    images, labels = make_pcam(tmp_path, "valid")
    ds = datasets.PCAM(str(tmp_path), split="val")
    assert len(ds) == 5
    for i in range(5):
        image, label = ds[i]
        assert image.mode == "RGB" and image.size == (96, 96)
        np.testing.assert_array_equal(np.asarray(image), images[i])
        assert label == int(labels[i]) and type(label) is int
    ds = datasets.PCAM(str(tmp_path), split="val", transform=lambda im: np.asarray(im).sum(),
                       target_transform=lambda t: t + 10)
    assert ds[2] == (images[2].sum(), int(labels[2]) + 10)
    assert "split=val" in repr(ds)


def test_pcam_missing_split_and_bad_arguments(tmp_path):
    make_pcam(tmp_path, "valid")
    with pytest.raises(RuntimeError, match="Dataset not found"):
        datasets.PCAM(str(tmp_path), split="train")
    with pytest.raises(ValueError, match="split"):
        datasets.PCAM(str(tmp_path), split="validation")


def test_pcam_corrupt_or_wrong_files_raise_clearly(tmp_path):
    make_pcam(tmp_path, "valid")
    images_path = os.path.join(tmp_path, "pcam", _PCAM_X.format("valid"))
    with open(images_path, "r+b") as f:
        f.truncate(100)
    with pytest.raises(RuntimeError, match="not a readable HDF5 file"):
        datasets.PCAM(str(tmp_path), split="val")
    h5py = pytest.importorskip("h5py")
    with h5py.File(images_path, "w") as f:
        f["pixels"] = np.zeros((5, 96, 96, 3), np.uint8)
    with pytest.raises(RuntimeError, match="no dataset 'x'"):
        datasets.PCAM(str(tmp_path), split="val")
    with h5py.File(images_path, "w") as f:
        f["x"] = np.zeros((4, 96, 96, 3), np.uint8)  # one image fewer than labels
    with pytest.raises(RuntimeError, match="same N"):
        datasets.PCAM(str(tmp_path), split="val")


def test_lsun_classes_targets_and_order(tmp_path):
    expected = make_lsun(tmp_path)
    ds = datasets.LSUN(str(tmp_path), classes=["bedroom_val", "tower_val"])
    assert len(ds) == 5 and ds.indices == [3, 5]
    got = [ds[i] for i in range(5)]
    assert [t for _, t in got] == [0, 0, 0, 1, 1]
    for (image, _), pixels in zip(got, expected["bedroom_val"] + expected["tower_val"]):
        assert image.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(image), pixels)
    one = ds.dbs[1]  # (LMDB opens a database once per process)
    assert isinstance(one, datasets.LSUNClass) and len(one) == 2 and one[1][1] is None
    np.testing.assert_array_equal(np.asarray(one[1][0]), expected["tower_val"][1])
    del ds, one
    ds = datasets.LSUN(str(tmp_path), classes=["tower_val"], transform=lambda im: im.size,
                       target_transform=lambda t: t - 1)
    assert ds[0] == ((7, 6), -1) and "Classes: ['tower_val']" in repr(ds)


def test_lsun_split_names_expand_to_every_category(tmp_path):
    with pytest.raises(RuntimeError, match="not a readable LMDB"):
        datasets.LSUN(str(tmp_path), classes="val")  # bedroom_val_lmdb ... are missing
    ds = datasets.LSUN.__new__(datasets.LSUN)
    assert ds._verify_classes("val")[:2] == ["bedroom_val", "bridge_val"]
    assert len(ds._verify_classes("train")) == 10 and ds._verify_classes("test") == ["test"]
    with pytest.raises(ValueError, match="LSUN class"):
        ds._verify_classes(["attic_train"])
    with pytest.raises(ValueError, match="postfix"):
        ds._verify_classes(["bedroom_dev"])
    with pytest.raises(ValueError, match="Expected type str"):
        ds._verify_classes(["bedroom_train", 3])
    with pytest.raises(ValueError, match="Iterable"):
        ds._verify_classes(3)


def test_lsun_corrupt_entry_names_the_key(tmp_path):
    lmdb = pytest.importorskip("lmdb")
    env = lmdb.open(os.path.join(tmp_path, "kitchen_val_lmdb"), map_size=1 << 20)
    with env.begin(write=True) as txn:
        txn.put(b"broken", b"\x89PNG not really")
    env.close()
    ds = datasets.LSUN(str(tmp_path), classes=["kitchen_val"])
    with pytest.raises(RuntimeError, match="broken"):
        ds[0]
