"""QMNIST, SVHN, STL10, USPS and Omniglot on tiny files written here in each data set's on-disk
format (IDX, MAT v5, raw column-major binaries, bzip2 LIBSVM text, PNG folders); no network."""
import bz2
import gzip
import hashlib
import lzma
import os
import shutil
import struct
import tarfile
import zipfile

import numpy as np
import pytest

import ember
from ember.vision import datasets, transforms
from ember.vision.datasets._helpers import list_dir, list_files, verify_str_arg

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402


def _md5(path) -> str:
    return hashlib.md5(open(path, "rb").read()).hexdigest()


def _idx_bytes(array: np.ndarray) -> bytes:
    code = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C}[array.dtype]
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += b"".join(struct.pack(">i", s) for s in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


# ---------------------------------------------------------------------------------- QMNIST

def _write_qmnist(root, prefix, n, seed=0):
    rng = np.random.default_rng(seed)
    raw = os.path.join(root, "QMNIST", "raw")
    os.makedirs(raw, exist_ok=True)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 5000, (n, 8)).astype(np.int32)
    labels[:, 0] = rng.integers(0, 10, n)
    with gzip.open(os.path.join(raw, f"{prefix}-images-idx3-ubyte.gz"), "wb") as f:
        f.write(_idx_bytes(images))
    with open(os.path.join(raw, f"{prefix}-labels-idx2-int"), "wb") as f:
        f.write(_idx_bytes(labels))
    return images, labels


def test_qmnist_compat_targets_and_full_rows(tmp_path):
    images, labels = _write_qmnist(tmp_path, "qmnist-train", 4)
    ds = datasets.QMNIST(str(tmp_path))
    assert ds.what == "train" and len(ds) == 4
    assert ds.data.dtype == ember.uint8 and ds.targets.dtype == ember.int64
    assert ds.targets.shape == (4, 8)
    img, target = ds[2]
    assert isinstance(img, Image.Image) and img.mode == "L"
    np.testing.assert_array_equal(np.asarray(img), images[2])
    assert target == int(labels[2, 0]) and isinstance(target, int)
    full = datasets.QMNIST(str(tmp_path), compat=False)
    _, row = full[2]
    np.testing.assert_array_equal(row.numpy(), labels[2])
    assert ds.classes[3] == "3 - three" and ds.class_to_idx["9 - nine"] == 9
    assert "Split: train" in repr(ds)


def test_qmnist_test10k_and_test50k_slice_the_test_file(tmp_path):
    _, labels = _write_qmnist(tmp_path, "qmnist-test", 10003)
    assert len(datasets.QMNIST(str(tmp_path), train=False)) == 10003
    ten = datasets.QMNIST(str(tmp_path), what="test10k")
    fifty = datasets.QMNIST(str(tmp_path), what="test50k", target_transform=lambda y: -y)
    assert len(ten) == 10000 and len(fifty) == 3
    assert fifty[0][1] == -int(labels[10000, 0])


def test_qmnist_bad_what_and_missing_files(tmp_path):
    with pytest.raises(ValueError, match="Unknown value 'val' for argument what"):
        datasets.QMNIST(str(tmp_path), what="val")
    with pytest.raises(RuntimeError, match="Dataset not found"):
        datasets.QMNIST(str(tmp_path), what="nist")


def test_qmnist_download_unpacks_verified_local_archive(tmp_path):
    raw = tmp_path / "QMNIST" / "raw"
    raw.mkdir(parents=True)
    images = np.arange(2 * 28 * 28, dtype=np.int64).reshape(2, 28, 28).astype(np.uint8)
    labels = np.arange(16, dtype=np.int32).reshape(2, 8)
    md5 = {}
    for name, array in (("xnist-images-idx3-ubyte.xz", images),
                        ("xnist-labels-idx2-int.xz", labels)):
        with lzma.open(raw / name, "wb") as f:
            f.write(_idx_bytes(array))
        md5[name] = _md5(raw / name)
    with pytest.raises(RuntimeError, match="Dataset not found"):
        datasets.QMNIST(str(tmp_path), what="nist")
    base = "http://127.0.0.1:9/"
    Local = type("QMNIST", (datasets.QMNIST,), {"resources": {
        "nist": [(base + name, digest) for name, digest in md5.items()]}})
    ds = Local(str(tmp_path), what="nist", download=True)  # verified: unpacked, not fetched
    np.testing.assert_array_equal(ds.data.numpy(), images)
    assert ds[1][1] == 8 and (raw / "xnist-labels-idx2-int").exists()
    (raw / "xnist-labels-idx2-int").unlink()
    md5["xnist-labels-idx2-int.xz"] = "0" * 32
    Bad = type("QMNIST", (datasets.QMNIST,), {"resources": {
        "nist": [(base + name, digest) for name, digest in md5.items()]}})
    with pytest.raises(RuntimeError, match="MD5"):
        Bad(str(tmp_path), what="nist", download=True)


def test_qmnist_wrong_label_layout_raises(tmp_path):
    raw = tmp_path / "QMNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "qmnist-train-images-idx3-ubyte").write_bytes(_idx_bytes(np.zeros((2, 28, 28),
                                                                              np.uint8)))
    (raw / "qmnist-train-labels-idx2-int").write_bytes(_idx_bytes(np.zeros(2, np.int32)))
    with pytest.raises(RuntimeError, match="one label row per image"):
        datasets.QMNIST(str(tmp_path))


# ------------------------------------------------------------------------------------ SVHN

def _write_svhn(root, split="train", n=5, seed=0):
    import scipy.io
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
    y = rng.integers(1, 11, (n, 1)).astype(np.uint8)
    y[0] = 10
    path = os.path.join(root, f"{split}_32x32.mat")
    scipy.io.savemat(path, {"X": x, "y": y})
    return x, y, path


def _svhn_with_md5(split, md5):
    url, name, _ = datasets.SVHN.split_list[split]
    return type("SVHN", (datasets.SVHN,), {"split_list": {split: [url, name, md5]}})


def test_svhn_samples_labels_and_transform(tmp_path):
    x, y, path = _write_svhn(tmp_path)
    Local = _svhn_with_md5("train", _md5(path))
    ds = Local(str(tmp_path), transform=transforms.ToTensor())
    assert len(ds) == 5 and ds.data.shape == (5, 3, 32, 32) and ds.data.dtype == np.uint8
    np.testing.assert_array_equal(ds.labels, np.where(y[:, 0] == 10, 0, y[:, 0]))
    assert ds.labels[0] == 0
    img, target = ds[3]
    np.testing.assert_allclose(img.numpy(), x[:, :, :, 3].transpose(2, 0, 1) / 255.0,
                               rtol=1e-6)
    assert target == int(y[3, 0]) % 10
    raw = Local(str(tmp_path))[3][0]
    assert raw.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(raw), x[:, :, :, 3])


def test_svhn_missing_corrupt_and_bad_split(tmp_path):
    with pytest.raises(RuntimeError, match="Dataset not found or corrupted"):
        datasets.SVHN(str(tmp_path))
    _, _, path = _write_svhn(tmp_path)
    with pytest.raises(RuntimeError, match="corrupted"):  # right name, wrong MD5
        datasets.SVHN(str(tmp_path))
    with open(path, "r+b") as f:
        f.truncate(300)
    with pytest.raises(RuntimeError, match="corrupt"):
        _svhn_with_md5("train", _md5(path))(str(tmp_path))
    with pytest.raises(ValueError, match="Valid values are {'train', 'test', 'extra'}"):
        datasets.SVHN(str(tmp_path), split="val")


def test_svhn_mat_without_images_raises(tmp_path):
    import scipy.io
    path = tmp_path / "test_32x32.mat"
    scipy.io.savemat(str(path), {"y": np.ones((2, 1))})
    with pytest.raises(RuntimeError, match="expected X"):
        _svhn_with_md5("test", _md5(path))(str(tmp_path), split="test")


# ----------------------------------------------------------------------------------- STL10

def _write_stl10(root, n_train=4, n_test=3, n_unlabeled=2, seed=0):
    """Each image is written as STL-10 stores it: per channel, column after column."""
    rng = np.random.default_rng(seed)
    folder = os.path.join(root, "stl10_binary")
    os.makedirs(folder, exist_ok=True)
    out = {}
    for stem, n in (("train", n_train), ("test", n_test), ("unlabeled", n_unlabeled)):
        images = rng.integers(0, 256, (n, 96, 96, 3), dtype=np.uint8)
        images.transpose(0, 3, 2, 1).tofile(os.path.join(folder, f"{stem}_X.bin"))
        out[stem] = [images]
        if stem != "unlabeled":
            labels = rng.integers(1, 11, n).astype(np.uint8)
            labels.tofile(os.path.join(folder, f"{stem}_y.bin"))
            out[stem].append(labels)
    with open(os.path.join(folder, "class_names.txt"), "w") as f:
        f.write("\n".join(f"class{i}" for i in range(10)) + "\n")
    with open(os.path.join(folder, "fold_indices.txt"), "w") as f:
        f.write("\n".join(" ".join(str(j) for j in ((i, i + 1) if i < 3 else (0,)))
                          for i in range(10)) + "\n")
    return out, folder


def _stl10_local(folder):
    def listed(files):
        return [[name, _md5(os.path.join(folder, name))] for name, _ in files]
    return type("STL10", (datasets.STL10,), {"train_list": listed(datasets.STL10.train_list),
                                              "test_list": listed(datasets.STL10.test_list)})


def test_stl10_splits_pixels_labels_classes(tmp_path):
    out, folder = _write_stl10(tmp_path)
    Local = _stl10_local(folder)
    train = Local(str(tmp_path))
    assert len(train) == 4 and train.data.shape == (4, 3, 96, 96)
    assert train.classes == [f"class{i}" for i in range(10)]
    img, target = train[1]
    assert img.mode == "RGB" and img.size == (96, 96)
    np.testing.assert_array_equal(np.asarray(img), out["train"][0][1])
    assert target == int(out["train"][1][1]) - 1
    test = Local(str(tmp_path), split="test")
    np.testing.assert_array_equal(test.labels, out["test"][1].astype(np.int64) - 1)
    unlabeled = Local(str(tmp_path), split="unlabeled")
    assert len(unlabeled) == 2 and unlabeled[1][1] == -1
    np.testing.assert_array_equal(np.asarray(unlabeled[1][0]), out["unlabeled"][0][1])
    both = Local(str(tmp_path), split="train+unlabeled", target_transform=lambda y: y * 10)
    assert len(both) == 6 and both[5][1] == -10 and list(both.labels[4:]) == [-1, -1]
    assert "Split: train+unlabeled" in repr(both)


def test_stl10_folds(tmp_path):
    out, folder = _write_stl10(tmp_path)
    Local = _stl10_local(folder)
    fold = Local(str(tmp_path), folds=2)
    assert len(fold) == 2
    np.testing.assert_array_equal(fold.labels, out["train"][1][[2, 3]].astype(np.int64) - 1)
    np.testing.assert_array_equal(np.asarray(fold[0][0]), out["train"][0][2])
    assert len(Local(str(tmp_path), split="train+unlabeled", folds=5)) == 3
    with pytest.raises(ValueError, match="range"):
        Local(str(tmp_path), folds=10)
    with pytest.raises(ValueError, match="Expected type None or int"):
        Local(str(tmp_path), folds="1")


def test_stl10_download_unpacks_verified_local_archive(tmp_path):
    out, folder = _write_stl10(tmp_path / "src")
    archive = tmp_path / "stl10_binary.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="stl10_binary")
    Local = type("STL10", (_stl10_local(folder),), {"tgz_md5": _md5(archive)})
    ds = Local(str(tmp_path), split="test", download=True)  # verified archive: unpacked
    assert (tmp_path / "stl10_binary" / "test_X.bin").exists()
    np.testing.assert_array_equal(np.asarray(ds[2][0]), out["test"][0][2])


def test_stl10_missing_truncated_and_bad_split(tmp_path):
    with pytest.raises(RuntimeError, match="Dataset not found or corrupted"):
        datasets.STL10(str(tmp_path))
    _, folder = _write_stl10(tmp_path)
    with pytest.raises(RuntimeError, match="corrupted"):  # MD5s of the real files differ
        datasets.STL10(str(tmp_path))
    with open(os.path.join(folder, "test_X.bin"), "r+b") as f:
        f.truncate(1000)
    with pytest.raises(RuntimeError, match="truncated"):
        _stl10_local(folder)(str(tmp_path), split="test")
    with pytest.raises(ValueError, match="Unknown value 'val' for argument split"):
        datasets.STL10(str(tmp_path), split="val")


# ------------------------------------------------------------------------------------ USPS

def _write_usps(path, n=4, seed=0):
    rng = np.random.default_rng(seed)
    values = rng.integers(-1000, 1001, (n, 256)) / 1000.0
    labels = rng.integers(1, 11, n)
    lines = [f"{label} " + " ".join(f"{j + 1}:{v:.6f}" for j, v in enumerate(row))
             for label, row in zip(labels, values)]
    with bz2.open(path, "wt") as f:
        f.write("\n".join(lines) + "\n")
    pixels = ((values.astype(np.float32) + 1) / 2 * 255).astype(np.uint8).reshape(n, 16, 16)
    return pixels, labels - 1


def test_usps_train_and_test(tmp_path):
    pixels, targets = _write_usps(tmp_path / "usps.bz2")
    test_pixels, _ = _write_usps(tmp_path / "usps.t.bz2", n=2, seed=1)
    ds = datasets.USPS(str(tmp_path))
    assert len(ds) == 4 and ds.data.dtype == np.uint8 and ds.data.shape == (4, 16, 16)
    assert ds.targets == [int(t) for t in targets]
    np.testing.assert_array_equal(ds.data, pixels)
    img, target = ds[2]
    assert img.mode == "L" and img.size == (16, 16) and target == int(targets[2])
    np.testing.assert_array_equal(np.asarray(img), pixels[2])
    test = datasets.USPS(str(tmp_path), train=False, transform=transforms.ToTensor())
    x, _ = test[1]
    assert x.shape == (1, 16, 16)
    np.testing.assert_allclose(x.numpy()[0], test_pixels[1] / 255.0, rtol=1e-6)


def test_usps_sparse_lines_fill_missing_features_with_zero(tmp_path):
    with bz2.open(tmp_path / "usps.bz2", "wt") as f:
        f.write("3 1:1 256:-1\n")
    img, target = datasets.USPS(str(tmp_path))[0]
    expected = np.full(256, 127, np.uint8)
    expected[0], expected[255] = 255, 0
    np.testing.assert_array_equal(np.asarray(img).reshape(-1), expected)
    assert target == 2


def test_usps_missing_and_corrupt(tmp_path):
    with pytest.raises(RuntimeError, match="Dataset not found"):
        datasets.USPS(str(tmp_path))
    (tmp_path / "usps.bz2").write_bytes(b"not bzip2 at all")
    with pytest.raises(RuntimeError, match="corrupt"):
        datasets.USPS(str(tmp_path))
    with bz2.open(tmp_path / "usps.bz2", "wt") as f:
        f.write("1 1:0.5 300:0.1\n")
    with pytest.raises(RuntimeError, match="line 1"):
        datasets.USPS(str(tmp_path))


# -------------------------------------------------------------------------------- Omniglot

def _write_omniglot(root, name="images_background", seed=0):
    """Two alphabets of two and one characters; the zip holds what the folder holds."""
    rng = np.random.default_rng(seed)
    folder = os.path.join(root, "omniglot-py")
    layout = {"Greek": {"character02": 2, "character01": 1}, "Bengali": {"character01": 2}}
    written = {}
    for alphabet, characters in layout.items():
        for character, count in characters.items():
            path = os.path.join(folder, name, alphabet, character)
            os.makedirs(path)
            for k in range(count):
                pixels = (rng.integers(0, 2, (8, 8)) * 255).astype(np.uint8)
                Image.fromarray(pixels, mode="L").convert("1").save(
                    os.path.join(path, f"img_{k:02d}.png"))
                written[(alphabet, character, k)] = pixels
    with zipfile.ZipFile(os.path.join(folder, name + ".zip"), "w") as z:
        for dirpath, _, files in os.walk(os.path.join(folder, name)):
            for file in files:
                path = os.path.join(dirpath, file)
                z.write(path, os.path.relpath(path, folder))
    return written, folder


def test_omniglot_characters_images_and_targets(tmp_path):
    written, folder = _write_omniglot(tmp_path)
    md5 = {"images_background": _md5(os.path.join(folder, "images_background.zip")),
           "images_evaluation": "0" * 32}
    Local = type("Omniglot", (datasets.Omniglot,), {"zips_md5": md5})
    ds = Local(str(tmp_path), transform=transforms.ToTensor())
    assert ds.root == folder and len(ds) == 5
    assert ds._characters == [os.path.join("Bengali", "character01"),
                              os.path.join("Greek", "character01"),
                              os.path.join("Greek", "character02")]
    assert [t for _, t in ds._flat_character_images] == [0, 0, 1, 2, 2]
    x, target = ds[4]
    assert target == 2 and x.shape == (1, 8, 8)
    np.testing.assert_array_equal(x.numpy()[0], written[("Greek", "character02", 1)] / 255.0)
    img, _ = Local(str(tmp_path))[0]
    assert img.mode == "L"
    with pytest.raises(RuntimeError, match="Dataset not found or corrupted"):
        Local(str(tmp_path), background=False)
    with pytest.raises(RuntimeError, match="corrupted"):  # the real zip's MD5 differs
        datasets.Omniglot(str(tmp_path))


def test_omniglot_download_unpacks_verified_local_zip(tmp_path):
    written, folder = _write_omniglot(tmp_path)
    shutil.rmtree(os.path.join(folder, "images_background"))
    md5 = {"images_background": _md5(os.path.join(folder, "images_background.zip"))}
    Local = type("Omniglot", (datasets.Omniglot,), {"zips_md5": md5})
    with pytest.raises(RuntimeError, match="unpack"):
        Local(str(tmp_path))
    ds = Local(str(tmp_path), download=True)  # verified zip: unpacked, nothing fetched
    assert len(ds) == 5
    np.testing.assert_array_equal(np.asarray(ds[0][0]), written[("Bengali", "character01", 0)])


# ------------------------------------------------------------------------------ Flowers102

def _write_flowers(root, n=5, seed=0):
    import scipy.io
    rng = np.random.default_rng(seed)
    base = os.path.join(root, "flowers-102")
    os.makedirs(os.path.join(base, "jpg"))
    colours = rng.integers(0, 256, (n, 3))
    for i in range(n):
        pixels = np.broadcast_to(colours[i].astype(np.uint8), (6, 5, 3))
        Image.fromarray(np.ascontiguousarray(pixels)).save(
            os.path.join(base, "jpg", f"image_{i + 1:05d}.jpg"), quality=100)
    labels = rng.integers(1, 103, n)
    scipy.io.savemat(os.path.join(base, "imagelabels.mat"), {"labels": labels[None]})
    scipy.io.savemat(os.path.join(base, "setid.mat"), {"trnid": np.array([[5, 1]]),
                                                       "valid": np.array([[2]]),
                                                       "tstid": np.array([[3, 4]])})
    md5 = {key: (name, _md5(os.path.join(base, name))) for key, name in
           (("label", "imagelabels.mat"), ("setid", "setid.mat"))}
    md5["image"] = datasets.Flowers102._file_dict["image"]
    return type("Flowers102", (datasets.Flowers102,), {"_file_dict": md5}), labels, base


def test_flowers102_splits_images_and_labels(tmp_path):
    Local, labels, base = _write_flowers(tmp_path)
    train = Local(str(tmp_path), transform=transforms.ToTensor())
    assert len(train) == 2 and train._labels == [labels[4] - 1, labels[0] - 1]
    x, target = train[0]
    expected = np.asarray(Image.open(os.path.join(base, "jpg", "image_00005.jpg")).convert("RGB"))
    np.testing.assert_allclose(x.numpy(), expected.transpose(2, 0, 1) / 255.0, rtol=1e-6)
    assert x.shape == (3, 6, 5) and target == labels[4] - 1
    test = Local(str(tmp_path), split="test", target_transform=str)
    img, target = test[1]
    assert img.mode == "RGB" and target == str(labels[3] - 1)
    assert len(Local(str(tmp_path), split="val")) == 1
    assert len(train.classes) == 102 and train.class_to_idx["rose"] == 73
    assert "split=train" in repr(train)


def test_flowers102_missing_and_corrupt(tmp_path):
    with pytest.raises(RuntimeError, match="Dataset not found or corrupted"):
        datasets.Flowers102(str(tmp_path))
    Local, _, base = _write_flowers(tmp_path)
    with pytest.raises(RuntimeError, match="corrupted"):  # the real files' MD5s differ
        datasets.Flowers102(str(tmp_path))
    with open(os.path.join(base, "setid.mat"), "wb") as f:
        f.write(b"MATLAB 5.0 MAT-file, truncated")
    md5 = dict(Local._file_dict, setid=("setid.mat", _md5(os.path.join(base, "setid.mat"))))
    Broken = type("Flowers102", (datasets.Flowers102,), {"_file_dict": md5})
    with pytest.raises(RuntimeError, match="corrupt"):
        Broken(str(tmp_path))
    with pytest.raises(ValueError, match="Unknown value 'all' for argument split"):
        datasets.Flowers102(str(tmp_path), split="all")


# ------------------------------------------------------------------------------ helpers

def test_verify_str_arg_and_listings(tmp_path):
    assert verify_str_arg("a", "mode", ("a", "b")) == "a"
    with pytest.raises(ValueError, match=r"Unknown value 'c' for argument mode. Valid values "
                                         r"are {'a', 'b'}."):
        verify_str_arg("c", "mode", ("a", "b"))
    with pytest.raises(ValueError, match="Expected type str for argument mode"):
        verify_str_arg(1, "mode")
    with pytest.raises(ValueError, match="custom"):
        verify_str_arg("c", "mode", ("a",), custom_msg="custom")
    for d in ("b", "a"):
        (tmp_path / d).mkdir()
    for f in ("y.png", "x.png", "z.txt"):
        (tmp_path / f).write_bytes(b"")
    assert list_dir(str(tmp_path)) == ["a", "b"]
    assert list_dir(str(tmp_path), prefix=True) == [str(tmp_path / "a"), str(tmp_path / "b")]
    assert list_files(str(tmp_path), ".png") == ["x.png", "y.png"]
    assert list_files(str(tmp_path), (".txt",), prefix=True) == [str(tmp_path / "z.txt")]
