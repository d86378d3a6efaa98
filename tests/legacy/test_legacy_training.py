"""Lua-Torch-style training loops written in Python: forward, criterion, zeroGradParameters,
backward, updateParameters (or a flat-parameter ``optim`` closure)."""
import numpy as np

import ember
from ember.legacy import nn, optim


def _blobs(n: int, seed: int):
    """Three Gaussian classes in 4-d."""
    rng = np.random.default_rng(seed)
    centers = np.array([[2.0, 0, 0, 1], [-2, 1, 0, -1], [0, -2, 2, 0]])
    labels = rng.integers(0, 3, n)
    points = centers[labels] + rng.standard_normal((n, 4)) * 0.7
    return ember.tensor(points, dtype=ember.float32), ember.tensor(labels)


def _accuracy(model, x, y) -> float:
    model.evaluate()
    pred = model.forward(x).argmax(1)
    model.training()
    return float((pred == y).float().mean())


def test_mlp_learns_with_update_parameters():
    ember.manual_seed(0)
    x, y = _blobs(300, 0)
    xt, yt = _blobs(200, 1)
    model = nn.Sequential()
    model.add(nn.Linear(4, 16)).add(nn.ReLU()).add(nn.Dropout(0.1)).add(nn.Linear(16, 3))
    model.add(nn.LogSoftMax())
    criterion = nn.ClassNLLCriterion()
    first = None
    for _ in range(30):
        for i in range(0, 300, 30):
            inputs, targets = x[i:i + 30], y[i:i + 30]
            output = model.forward(inputs)
            loss = criterion.forward(output, targets)
            first = loss if first is None else first
            model.zeroGradParameters()
            model.backward(inputs, criterion.backward(output, targets))
            model.updateParameters(0.1)
    assert loss < first / 4
    assert _accuracy(model, xt, yt) > 0.95


def _bars(n: int, seed: int):
    """8x8 images with a horizontal bar, a vertical bar or a diagonal, plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    images = rng.standard_normal((n, 1, 8, 8)) * 0.3
    for k, (label, pos) in enumerate(zip(labels, rng.integers(1, 7, n))):
        if label == 0:
            images[k, 0, pos, :] += 1
        elif label == 1:
            images[k, 0, :, pos] += 1
        else:
            images[k, 0] += np.eye(8)[:, ::(1 if pos % 2 else -1)]
    return ember.tensor(images, dtype=ember.float32), ember.tensor(labels)


def test_convnet_learns_with_flat_parameters_and_optim_sgd():
    ember.manual_seed(0)
    x, y = _bars(240, 0)
    xt, yt = _bars(150, 1)
    model = nn.Sequential()
    model.add(nn.SpatialConvolution(1, 6, 3, 3, 1, 1, 1, 1))
    model.add(nn.SpatialBatchNormalization(6)).add(nn.ReLU())
    model.add(nn.SpatialMaxPooling(2, 2))
    model.add(nn.View(6 * 4 * 4).setNumInputDims(3))
    model.add(nn.Linear(96, 3)).add(nn.LogSoftMax())
    criterion = nn.ClassNLLCriterion()
    params, grads = model.flattenParameters()
    assert params.numel() == 6 * 9 + 6 + 12 + 96 * 3 + 3
    config, state = {"learningRate": 0.05, "momentum": 0.9, "dampening": 0}, {}
    for _ in range(6):
        for i in range(0, 240, 24):
            inputs, targets = x[i:i + 24], y[i:i + 24]

            def feval(p, inputs=inputs, targets=targets):
                # p is params itself: the modules see the same storage
                grads.zero_()
                output = model.forward(inputs)
                loss = criterion.forward(output, targets)
                model.backward(inputs, criterion.backward(output, targets))
                return loss, grads

            optim.sgd(feval, params, config, state)
    assert float(grads.abs().sum()) > 0
    assert _accuracy(model, xt, yt) > 0.95
