"""SEMEION (text rows) and EuroSAT (an image folder inside a zip) on tiny files written here;
no network."""
import hashlib
import os
import zipfile

import numpy as np
import pytest

from ember.vision import datasets, transforms

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402


def _md5(path) -> str:
    return hashlib.md5(open(path, "rb").read()).hexdigest()


def _write_semeion(root, n=4, seed=0):
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 2, (n, 256))
    digits = rng.integers(0, 10, n)
    one_hot = np.eye(10, dtype=np.int64)[digits]
    path = os.path.join(root, "semeion.data")
    with open(path, "w") as f:
        for p, h in zip(pixels, one_hot):
            f.write(" ".join(f"{v:.4f}" for v in p) + " " + " ".join(str(v) for v in h) + " \n")
    Local = type("SEMEION", (datasets.SEMEION,), {"md5_checksum": _md5(path)})
    return Local, (pixels * 255).astype(np.uint8).reshape(n, 16, 16), digits


def test_semeion_pixels_labels_transforms(tmp_path):
    Local, images, digits = _write_semeion(tmp_path)
    ds = Local(str(tmp_path), download=False)
    assert len(ds) == 4 and ds.data.dtype == np.uint8 and ds.data.shape == (4, 16, 16)
    np.testing.assert_array_equal(ds.data, images)
    np.testing.assert_array_equal(ds.labels, digits)
    img, target = ds[3]
    assert img.mode == "L" and target == int(digits[3]) and isinstance(target, int)
    np.testing.assert_array_equal(np.asarray(img), images[3])
    with_t = Local(str(tmp_path), transform=transforms.ToTensor(), target_transform=str)
    x, y = with_t[0]  # download=True (the default) finds the verified file: nothing fetched
    assert x.shape == (1, 16, 16) and y == str(digits[0])
    np.testing.assert_allclose(x.numpy()[0], images[0] / 255.0)


def test_semeion_missing_and_corrupt(tmp_path):
    with pytest.raises(RuntimeError, match="Dataset not found or corrupted"):
        datasets.SEMEION(str(tmp_path), download=False)
    _write_semeion(tmp_path)
    with pytest.raises(RuntimeError, match="corrupted"):  # the real file's MD5 differs
        datasets.SEMEION(str(tmp_path), download=False)
    (tmp_path / "semeion.data").write_text("1 0 1\n0 1 zz\n")
    Bad = type("SEMEION", (datasets.SEMEION,),
               {"md5_checksum": _md5(tmp_path / "semeion.data")})
    with pytest.raises(RuntimeError, match="corrupt"):
        Bad(str(tmp_path), download=False)
    (tmp_path / "semeion.data").write_text(" ".join(["0"] * 266) + "\n")
    Bad.md5_checksum = _md5(tmp_path / "semeion.data")
    with pytest.raises(RuntimeError, match="one-hot"):
        Bad(str(tmp_path), download=False)


def _eurosat_zip(tmp_path, seed=0):
    rng = np.random.default_rng(seed)
    written = {}
    archive = tmp_path / "eurosat" / "EuroSAT.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as z:
        for cls, count in (("River", 2), ("Forest", 1)):
            for k in range(count):
                pixels = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
                path = tmp_path / f"{cls}_{k}.png"
                Image.fromarray(pixels).save(path)
                z.write(path, f"2750/{cls}/{cls}_{k + 1}.png")
                written[(cls, k)] = pixels
    return written, archive


def test_eurosat_unpacks_verified_zip_and_reads_classes(tmp_path):
    written, archive = _eurosat_zip(tmp_path)
    with pytest.raises(RuntimeError, match="Dataset not found"):
        datasets.EuroSAT(str(tmp_path))
    Local = type("EuroSAT", (datasets.EuroSAT,), {"md5": _md5(archive)})
    ds = Local(str(tmp_path), download=True)  # verified local zip: unpacked, nothing fetched
    assert ds.root == str(tmp_path) and len(ds) == 3
    assert ds.classes == ["Forest", "River"] and ds.targets == [0, 1, 1]
    img, target = ds[2]
    assert img.mode == "RGB" and target == 1
    np.testing.assert_array_equal(np.asarray(img), written[("River", 1)])
    x, _ = datasets.EuroSAT(str(tmp_path), transform=transforms.ToTensor())[0]
    np.testing.assert_allclose(x.numpy(), written[("Forest", 0)].transpose(2, 0, 1) / 255.0,
                               rtol=1e-6)


def test_eurosat_corrupt_zip_is_refused(tmp_path):
    _, archive = _eurosat_zip(tmp_path)
    with pytest.raises(RuntimeError, match="MD5"):  # the real zip's MD5 differs
        datasets.EuroSAT(str(tmp_path), download=True)
    assert not (tmp_path / "eurosat" / "2750").exists()
