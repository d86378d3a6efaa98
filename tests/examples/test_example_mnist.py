"""The main job, ``python -m ember.examples.mnist``, smoke-run on tiny IDX files made here."""
import gzip
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

from ember.examples import mnist


def _idx(array):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    return header + b"".join(struct.pack(">i", s) for s in array.shape) + array.tobytes()


def _tiny_mnist(root, n_train=64, n_test=32):
    """Two easily told-apart classes: bright top half (label 0) vs bright bottom half (1)."""
    raw = root / "MNIST" / "raw"
    os.makedirs(raw)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 2, n).astype(np.uint8)
        images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
        for img, y in zip(images, labels):
            img[14 * y:14 * y + 14] += 200
        with gzip.open(raw / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
            f.write(_idx(images))
        with gzip.open(raw / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(_idx(labels))


def test_main_trains_and_writes_plot_and_checkpoint(tmp_path):
    _tiny_mnist(tmp_path / "data")
    history = mnist.main(["--data", str(tmp_path / "data"), "--epochs", "2", "--batch-size",
                          "16", "--lr", "0.02", "--out", str(tmp_path / "out"),
                          "--no-progress"])
    assert [h["epoch"] for h in history] == [1, 2]
    assert history[-1]["test_acc"] >= 90.0  # two separable classes
    assert (tmp_path / "out" / "mnist_history.png").read_bytes()[:4] == b"\x89PNG"
    import ember
    state = ember.load(str(tmp_path / "out" / "lenet5_mnist.pt"))
    assert state["conv1.weight"].shape == (6, 1, 5, 5)


def test_main_with_workers_and_limit(tmp_path):
    _tiny_mnist(tmp_path / "data")
    history = mnist.main(["--data", str(tmp_path / "data"), "--epochs", "1",
                          "--limit-train", "32", "--workers", "2", "--out",
                          str(tmp_path / "out"), "--no-progress"])
    assert len(history) == 1 and np.isfinite(history[0]["train_loss"])


def test_missing_data_says_where_to_put_files(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist, "_candidate_sources", lambda: [])
    monkeypatch.setattr(mnist.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(SystemExit) as info:
        mnist.load_split(str(tmp_path / "nothing"), True)
    assert os.path.join("MNIST", "raw") in str(info.value)
    assert "train-images-idx3-ubyte.gz" in str(info.value)


def test_prepare_data_links_a_local_copy(tmp_path, monkeypatch):
    _tiny_mnist(tmp_path / "src")
    monkeypatch.setattr(mnist, "_candidate_sources", lambda: [tmp_path / "src" / "MNIST" / "raw"])
    mnist.prepare_data(str(tmp_path / "data"))
    raw = tmp_path / "data" / "MNIST" / "raw"
    assert sorted(os.listdir(raw)) == sorted(os.listdir(tmp_path / "src" / "MNIST" / "raw"))
    assert len(mnist.load_split(str(tmp_path / "data"), False)) == 32


def test_module_entry_point_help():
    out = subprocess.run([sys.executable, "-m", "ember.examples.mnist", "--help"],
                         capture_output=True, text=True, timeout=120,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(
                             os.path.abspath(__file__)))))
    assert out.returncode == 0 and "--limit-train" in out.stdout


def test_device_option_defaults_to_what_is_available(tmp_path):
    import ember
    parser = mnist.training_parser("test", 1, str(tmp_path))
    assert parser.parse_args([]).device == ("cuda" if ember.cuda.is_available() else "cpu")
    if ember.cuda.is_available():
        pytest.skip("a GPU is present: --device cuda would train on it")
    _tiny_mnist(tmp_path / "data")
    with pytest.raises(RuntimeError, match="CuPy or an NVIDIA GPU is missing"):
        mnist.main(["--data", str(tmp_path / "data"), "--epochs", "1", "--device", "cuda",
                    "--out", str(tmp_path / "out"), "--no-progress"])
