"""ember.vision.datasets on tiny files written here in the real formats (IDX, CIFAR pickles,
image folders); no network and no shared data."""
import gzip
import hashlib
import os
import pickle
import struct
import tarfile

import numpy as np
import pytest

import ember
from ember.vision import datasets
from ember.vision.datasets.mnist import read_idx
from ember.vision.datasets.utils import check_integrity, extract_archive, safe_unpickle

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402


def _idx_bytes(array: np.ndarray) -> bytes:
    code = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C}[array.dtype]
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += b"".join(struct.pack(">i", s) for s in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def _write_mnist(raw, n_train=5, n_test=3, compress=True, seed=0):
    rng = np.random.default_rng(seed)
    os.makedirs(raw, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    md5s = {}
    for name, arr in arrays.items():
        blob = _idx_bytes(arr)
        path = os.path.join(raw, name + (".gz" if compress else ""))
        with (gzip.open(path, "wb") if compress else open(path, "wb")) as f:
            f.write(blob)
        md5s[name + ".gz"] = hashlib.md5(open(path, "rb").read()).hexdigest()
    return arrays, md5s


def _with_resources(cls, md5s):
    return type(cls.__name__, (cls,), {
        "resources": [(name, md5s[name]) for name, _ in cls.resources],
        "mirrors": ["http://127.0.0.1:9/"]})


def test_read_idx_plain_and_gzip(tmp_path):
    arr = np.arange(24, dtype=np.int32).reshape(2, 3, 4) - 5
    (tmp_path / "a").write_bytes(_idx_bytes(arr))
    with gzip.open(tmp_path / "a.gz", "wb") as f:
        f.write(_idx_bytes(arr))
    np.testing.assert_array_equal(read_idx(str(tmp_path / "a")), arr)
    np.testing.assert_array_equal(read_idx(str(tmp_path / "a.gz")), arr)


def test_read_idx_rejects_truncated_and_corrupt(tmp_path):
    blob = _idx_bytes(np.zeros((2, 2, 2), np.uint8))
    (tmp_path / "short").write_bytes(blob[:-1])
    with pytest.raises(RuntimeError, match="truncated"):
        read_idx(str(tmp_path / "short"))
    (tmp_path / "bad").write_bytes(b"\x01\x02" + blob[2:])
    with pytest.raises(RuntimeError, match="not an IDX file"):
        read_idx(str(tmp_path / "bad"))
    with gzip.open(tmp_path / "cut.gz", "wb") as f:
        f.write(blob * 50)
    data = (tmp_path / "cut.gz").read_bytes()
    (tmp_path / "cut.gz").write_bytes(data[:len(data) // 2])
    with pytest.raises(RuntimeError, match="corrupt or truncated"):
        read_idx(str(tmp_path / "cut.gz"))


@pytest.mark.parametrize("compress", [True, False])
def test_mnist_layout_samples_and_tensors(tmp_path, compress):
    arrays, _ = _write_mnist(tmp_path / "MNIST" / "raw", compress=compress)
    train = datasets.MNIST(str(tmp_path), train=True)
    test = datasets.MNIST(str(tmp_path), train=False)
    assert len(train) == 5 and len(test) == 3
    assert train.data.dtype == ember.uint8 and train.data.shape == (5, 28, 28)
    assert train.targets.dtype == ember.int64
    np.testing.assert_array_equal(train.data.numpy(), arrays["train-images-idx3-ubyte"])
    img, label = test[1]
    assert isinstance(img, Image.Image) and img.mode == "L"
    np.testing.assert_array_equal(np.asarray(img), arrays["t10k-images-idx3-ubyte"][1])
    assert label == int(arrays["t10k-labels-idx1-ubyte"][1]) and isinstance(label, int)
    assert train.class_to_idx["3 - three"] == 3
    assert "Split: Train" in repr(train)


def test_mnist_transforms_applied(tmp_path):
    _write_mnist(tmp_path / "MNIST" / "raw")
    from ember.vision import transforms
    ds = datasets.MNIST(str(tmp_path), transform=transforms.ToTensor(),
                        target_transform=lambda y: y + 100)
    x, y = ds[0]
    assert x.shape == (1, 28, 28) and x.dtype == ember.float32 and y >= 100
    np.testing.assert_allclose(x.numpy()[0], ds.data.numpy()[0] / 255.0, rtol=1e-6)


def test_mnist_missing_files_say_where(tmp_path):
    with pytest.raises(RuntimeError, match="Dataset not found") as info:
        datasets.MNIST(str(tmp_path))
    assert os.path.join("MNIST", "raw") in str(info.value)


def test_download_verifies_local_files(tmp_path):
    _, md5s = _write_mnist(tmp_path / "MNIST" / "raw")
    Local = _with_resources(datasets.MNIST, md5s)
    Local.__name__ = "MNIST"
    ds = Local(str(tmp_path), download=True)  # found locally, MD5s match: no network used
    assert len(ds) == 5


def test_download_wrong_md5_raises(tmp_path):
    _, md5s = _write_mnist(tmp_path / "MNIST" / "raw")
    md5s["t10k-labels-idx1-ubyte.gz"] = "0" * 32
    Bad = _with_resources(datasets.MNIST, md5s)
    Bad.__name__ = "MNIST"
    with pytest.raises(RuntimeError, match="MD5"):
        Bad(str(tmp_path), download=True)


def test_download_without_network_raises_clear_error(tmp_path):
    Offline = _with_resources(datasets.MNIST, {n: "0" * 32 for n, _ in datasets.MNIST.resources})
    Offline.__name__ = "MNIST"
    with pytest.raises(RuntimeError, match="place the file in"):
        Offline(str(tmp_path), download=True)


def test_official_mnist_checksums():
    assert dict(datasets.MNIST.resources)["train-images-idx3-ubyte.gz"] == \
        "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    assert datasets.MNIST.mirrors[0].startswith("https://ossci-datasets")


def test_fashion_kmnist_use_their_own_folders(tmp_path):
    _write_mnist(tmp_path / "FashionMNIST" / "raw")
    _write_mnist(tmp_path / "KMNIST" / "raw", n_train=4)
    assert len(datasets.FashionMNIST(str(tmp_path))) == 5
    assert datasets.FashionMNIST.classes[9] == "Ankle boot"
    assert len(datasets.KMNIST(str(tmp_path))) == 4
    with pytest.raises(RuntimeError):
        datasets.MNIST(str(tmp_path))


def test_emnist_split_files(tmp_path):
    raw = tmp_path / "EMNIST" / "raw"
    os.makedirs(raw)
    rng = np.random.default_rng(1)
    for s, n in (("train", 4), ("test", 2)):
        (raw / f"emnist-letters-{s}-images-idx3-ubyte").write_bytes(
            _idx_bytes(rng.integers(0, 255, (n, 28, 28), dtype=np.uint8)))
        (raw / f"emnist-letters-{s}-labels-idx1-ubyte").write_bytes(
            _idx_bytes(rng.integers(1, 27, n, dtype=np.uint8)))
    ds = datasets.EMNIST(str(tmp_path), split="letters", train=False)
    assert len(ds) == 2 and ds.classes[1] == "a" and len(ds.classes) == 27
    with pytest.raises(ValueError, match="split"):
        datasets.EMNIST(str(tmp_path), split="nope")
    assert len(datasets.EMNIST.classes_split_dict["balanced"]) == 47


def _write_cifar(root, folder="cifar-10-batches-py", train_names=None, test_names=("test_batch",),
                 label_key="labels", meta=("batches.meta", "label_names"), n=4):
    base = root / folder
    os.makedirs(base, exist_ok=True)
    rng = np.random.default_rng(2)
    train_names = train_names or [f"data_batch_{i}" for i in range(1, 6)]
    for name in list(train_names) + list(test_names):
        entry = {"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 label_key: [int(v) for v in rng.integers(0, 10, n)], "batch_label": name}
        with open(base / name, "wb") as f:
            pickle.dump(entry, f, protocol=2)
    with open(base / meta[0], "wb") as f:
        pickle.dump({meta[1]: [f"class{i}" for i in range(10)]}, f, protocol=2)
    return base


def test_cifar10_batches(tmp_path):
    base = _write_cifar(tmp_path)
    ds = datasets.CIFAR10(str(tmp_path), train=True)
    assert len(ds) == 20 and ds.data.shape == (20, 32, 32, 3)
    raw = pickle.load(open(base / "data_batch_1", "rb"))
    np.testing.assert_array_equal(ds.data[0], raw["data"][0].reshape(3, 32, 32).transpose(1, 2, 0))
    img, label = ds[0]
    assert img.mode == "RGB" and img.size == (32, 32) and label == raw["labels"][0]
    assert ds.classes[2] == "class2"
    assert len(datasets.CIFAR10(str(tmp_path), train=False)) == 4


def test_cifar100_fine_labels(tmp_path):
    _write_cifar(tmp_path, "cifar-100-python", ["train"], ["test"], "fine_labels",
                 ("meta", "fine_label_names"))
    ds = datasets.CIFAR100(str(tmp_path))
    assert len(ds) == 4 and ds.classes[0] == "class0"


def test_cifar_refuses_code_in_pickles(tmp_path):
    base = _write_cifar(tmp_path)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))
    with open(base / "data_batch_3", "wb") as f:
        pickle.dump({"data": Evil(), "labels": []}, f)
    with pytest.raises(RuntimeError, match="refusing to load"):
        datasets.CIFAR10(str(tmp_path))


def test_cifar_truncated_batch_raises(tmp_path):
    base = _write_cifar(tmp_path)
    blob = (base / "test_batch").read_bytes()
    (base / "test_batch").write_bytes(blob[:len(blob) // 3])
    with pytest.raises(RuntimeError, match="corrupt"):
        datasets.CIFAR10(str(tmp_path), train=False)


def test_cifar_download_uses_verified_local_archive(tmp_path):
    src = tmp_path / "src"
    _write_cifar(src)
    archive = tmp_path / "root" / "cifar-10-python.tar.gz"
    os.makedirs(archive.parent)
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    Local = type("CIFAR10", (datasets.CIFAR10,), {"tgz_md5": md5,
                                                  "url": "http://127.0.0.1:9/x.tar.gz"})
    ds = Local(str(tmp_path / "root"), download=True)
    assert len(ds) == 20
    Bad = type("CIFAR10", (datasets.CIFAR10,), {"tgz_md5": "1" * 32,
                                                "url": "http://127.0.0.1:9/x.tar.gz"})
    with pytest.raises(RuntimeError, match="MD5"):
        Bad(str(tmp_path / "root"), download=True)


def test_safe_unpickle_allows_arrays_and_containers(tmp_path):
    obj = {"a": np.arange(3), "b": [1, 2.5, "s"], "c": b"raw"}
    (tmp_path / "p").write_bytes(pickle.dumps(obj, protocol=2))
    back = safe_unpickle(str(tmp_path / "p"))
    np.testing.assert_array_equal(back["a"], obj["a"])
    assert back["b"] == obj["b"] and back["c"] == b"raw"


def test_extract_archive_and_integrity(tmp_path):
    (tmp_path / "f.txt").write_text("hello")
    with gzip.open(tmp_path / "g.txt.gz", "wb") as f:
        f.write(b"hello")
    out = extract_archive(str(tmp_path / "g.txt.gz"), str(tmp_path / "out"))
    assert open(out).read() == "hello"
    assert check_integrity(str(tmp_path / "f.txt"), hashlib.md5(b"hello").hexdigest())
    assert not check_integrity(str(tmp_path / "f.txt"), "0" * 32)
    assert not check_integrity(str(tmp_path / "missing"))


def _image_tree(root):
    rng = np.random.default_rng(3)
    for cls, count in (("cat", 2), ("dog", 3)):
        os.makedirs(root / cls / "sub", exist_ok=True)
        for i in range(count):
            arr = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
            where = root / cls / ("sub" if i == 2 else "") / f"{i}.png"
            Image.fromarray(arr).save(where)
    (root / "cat" / "notes.txt").write_text("not an image")


def test_image_folder(tmp_path):
    _image_tree(tmp_path)
    ds = datasets.ImageFolder(str(tmp_path))
    assert ds.classes == ["cat", "dog"] and ds.class_to_idx == {"cat": 0, "dog": 1}
    assert len(ds) == 5 and ds.targets == [0, 0, 1, 1, 1]
    img, label = ds[4]
    assert img.mode == "RGB" and img.size == (5, 6) and label == 1
    assert ds.imgs[4][0].endswith(os.path.join("dog", "sub", "2.png"))


def test_dataset_folder_custom_loader_and_errors(tmp_path):
    _image_tree(tmp_path)
    ds = datasets.DatasetFolder(str(tmp_path), loader=lambda p: open(p).read(),
                                extensions=(".txt",), allow_empty=True)
    assert len(ds) == 1 and ds[0] == ("not an image", 0)
    with pytest.raises(FileNotFoundError, match="Found no valid file"):
        datasets.DatasetFolder(str(tmp_path), loader=open, extensions=(".txt",))
    (tmp_path / "dog" / "broken.png").write_bytes(b"\x89PNG garbage")
    ds = datasets.ImageFolder(str(tmp_path))
    broken = [i for i, (p, _) in enumerate(ds.samples) if p.endswith("broken.png")][0]
    with pytest.raises(RuntimeError, match="cannot read the image"):
        ds[broken]


def test_fake_data_is_deterministic():
    ds = datasets.FakeData(size=3, image_size=(3, 4, 5), num_classes=4)
    a, b = ds[1], ds[1]
    assert a[0].size == (5, 4) and a[0].mode == "RGB"
    assert np.array_equal(np.asarray(a[0]), np.asarray(b[0])) and a[1] == b[1] < 4
    assert len(ds) == 3
    with pytest.raises(IndexError):
        ds[3]


def test_download_url_checks_md5(tmp_path):
    import hashlib

    from ember.vision.datasets.utils import download_url
    src = tmp_path / "src.bin"
    src.write_bytes(b"digits" * 100)
    md5 = hashlib.md5(src.read_bytes()).hexdigest()
    download_url(src.as_uri(), str(tmp_path / "root"), "a.bin", md5)
    assert (tmp_path / "root" / "a.bin").read_bytes() == src.read_bytes()
    with pytest.raises(RuntimeError, match="MD5 mismatch"):
        download_url(src.as_uri(), str(tmp_path / "root"), "b.bin", "0" * 32)
