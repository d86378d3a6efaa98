"""A Lua-Torch-style convolutional network trained on real MNIST files (skipped when the
shared data set is absent)."""
import gzip
from pathlib import Path

import numpy as np
import pytest

import ember
from ember.legacy import nn

MNIST = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist"


def _idx(name: str) -> np.ndarray:
    """An IDX file (big-endian dims after a 4-byte magic whose last byte is the rank)."""
    raw = gzip.open(MNIST / name).read()
    ndim = raw[3]
    dims = np.frombuffer(raw, ">u4", ndim, 4)
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


@pytest.mark.slow
@pytest.mark.skipif(not MNIST.is_dir(), reason="MNIST files not available")
def test_lenet_on_mnist():
    ember.manual_seed(0)
    images = _idx("train-images-idx3-ubyte.gz")[:6000]
    labels = _idx("train-labels-idx1-ubyte.gz")[:6000]
    test_images = _idx("t10k-images-idx3-ubyte.gz")[:2000]
    test_labels = _idx("t10k-labels-idx1-ubyte.gz")[:2000]

    def prep(a):
        return ember.tensor((a[:, None] / 255.0 - 0.1307) / 0.3081, dtype=ember.float32)

    x, y = prep(images), ember.tensor(labels.astype(np.int64))
    model = nn.Sequential()
    model.add(nn.SpatialConvolution(1, 8, 5, 5)).add(nn.ReLU()).add(nn.SpatialMaxPooling(2, 2))
    model.add(nn.SpatialConvolution(8, 16, 5, 5)).add(nn.ReLU())
    model.add(nn.SpatialMaxPooling(2, 2))
    model.add(nn.View(16 * 4 * 4).setNumInputDims(3))
    model.add(nn.Linear(256, 10)).add(nn.LogSoftMax())
    criterion = nn.ClassNLLCriterion()
    for i in range(0, 6000, 50):
        inputs, targets = x[i:i + 50], y[i:i + 50]
        output = model.forward(inputs)
        criterion.forward(output, targets)
        model.zeroGradParameters()
        model.backward(inputs, criterion.backward(output, targets))
        model.updateParameters(0.1)
    model.evaluate()
    pred = model.forward(prep(test_images)).argmax(1).numpy()
    assert (pred == test_labels).mean() > 0.9
