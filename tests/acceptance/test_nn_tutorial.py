"""Acceptance: "What is torch.nn really?" runs on ember.

Code from pytorch/tutorials beginner_source/nn_tutorial.py (BSD-3-Clause), prose and comments
removed. The MNIST download is replaced by small synthetic arrays of the same layout (784
features, 10 classes, labels from a hidden linear teacher so that the task is learnable);
``from IPython.core.debugger import set_trace`` and plotting are left out.
"""

import numpy as np
import pytest
from acceptance_runner import require, require_attrs, run

import ember


def synthetic_mnist(n_train=512, n_valid=256, seed=0):
    """Arrays shaped like the tutorial's pickled MNIST: float32 (n, 784), int64 labels."""
    rng = np.random.default_rng(seed)
    teacher = rng.standard_normal((784, 10)).astype(np.float32)
    # Mostly-zero pixels in [0, 1), like MNIST (the tutorial's lr = 0.5 assumes that scale).
    x = rng.random((n_train + n_valid, 784), dtype=np.float32)
    x *= rng.random(x.shape) < 0.15
    y = (x @ teacher).argmax(1).astype(np.int64)
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


DATA = """
import torch

x_train, y_train, x_valid, y_valid = map(
    torch.tensor, (x_train, y_train, x_valid, y_valid)
)
n, c = x_train.shape
x_train, x_train.shape, y_train.min(), y_train.max()
print(x_train, y_train)
print(x_train.shape)
print(y_train.min(), y_train.max())
"""

FROM_SCRATCH = """
import math

weights = torch.randn(784, 10) / math.sqrt(784)
weights.requires_grad_()
bias = torch.zeros(10, requires_grad=True)

def log_softmax(x):
    return x - x.exp().sum(-1).log().unsqueeze(-1)

def model(xb):
    return log_softmax(xb @ weights + bias)

bs = 64  # batch size

xb = x_train[0:bs]  # a mini-batch from x
preds = model(xb)  # predictions
preds[0], preds.shape
print(preds[0], preds.shape)

def nll(input, target):
    return -input[range(target.shape[0]), target].mean()

loss_func = nll

yb = y_train[0:bs]
print(loss_func(preds, yb))

def accuracy(out, yb):
    preds = torch.argmax(out, dim=1)
    return (preds == yb).float().mean()

print(accuracy(preds, yb))
"""

TRAIN_FROM_SCRATCH = """
lr = 0.5  # learning rate
epochs = 2  # how many epochs to train for

for epoch in range(epochs):
    for i in range((n - 1) // bs + 1):
        start_i = i * bs
        end_i = start_i + bs
        xb = x_train[start_i:end_i]
        yb = y_train[start_i:end_i]
        pred = model(xb)
        loss = loss_func(pred, yb)

        loss.backward()
        with torch.no_grad():
            weights -= weights.grad * lr
            bias -= bias.grad * lr
            weights.grad.zero_()
            bias.grad.zero_()

print(loss_func(model(xb), yb), accuracy(model(xb), yb))
"""

FUNCTIONAL = """
import torch.nn.functional as F

loss_func = F.cross_entropy

def model(xb):
    return xb @ weights + bias

print(loss_func(model(xb), yb), accuracy(model(xb), yb))
"""

MODULE = """
from torch import nn

class Mnist_Logistic(nn.Module):
    def __init__(self):
        super().__init__()
        self.weights = nn.Parameter(torch.randn(784, 10) / math.sqrt(784))
        self.bias = nn.Parameter(torch.zeros(10))

    def forward(self, xb):
        return xb @ self.weights + self.bias

model = Mnist_Logistic()

print(loss_func(model(xb), yb))

def fit():
    for epoch in range(epochs):
        for i in range((n - 1) // bs + 1):
            start_i = i * bs
            end_i = start_i + bs
            xb = x_train[start_i:end_i]
            yb = y_train[start_i:end_i]
            pred = model(xb)
            loss = loss_func(pred, yb)

            loss.backward()
            with torch.no_grad():
                for p in model.parameters():
                    p -= p.grad * lr
                model.zero_grad()
"""

FIT = """
fit()

print(loss_func(model(xb), yb))
"""

LINEAR = """
class Mnist_Logistic(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(784, 10)

    def forward(self, xb):
        return self.lin(xb)

model = Mnist_Logistic()
print(loss_func(model(xb), yb))
"""

OPTIM = """
from torch import optim

def get_model():
    model = Mnist_Logistic()
    return model, optim.SGD(model.parameters(), lr=lr)

model, opt = get_model()
print(loss_func(model(xb), yb))
"""

OPTIM_TRAIN = """
for epoch in range(epochs):
    for i in range((n - 1) // bs + 1):
        start_i = i * bs
        end_i = start_i + bs
        xb = x_train[start_i:end_i]
        yb = y_train[start_i:end_i]
        pred = model(xb)
        loss = loss_func(pred, yb)

        loss.backward()
        opt.step()
        opt.zero_grad()

print(loss_func(model(xb), yb))
"""

DATASET_AND_LOADER = """
from torch.utils.data import TensorDataset

train_ds = TensorDataset(x_train, y_train)

model, opt = get_model()

for epoch in range(epochs):
    for i in range((n - 1) // bs + 1):
        xb, yb = train_ds[i * bs: i * bs + bs]
        pred = model(xb)
        loss = loss_func(pred, yb)

        loss.backward()
        opt.step()
        opt.zero_grad()

print(loss_func(model(xb), yb))

from torch.utils.data import DataLoader

train_ds = TensorDataset(x_train, y_train)
train_dl = DataLoader(train_ds, batch_size=bs)

model, opt = get_model()

for epoch in range(epochs):
    for xb, yb in train_dl:
        pred = model(xb)
        loss = loss_func(pred, yb)

        loss.backward()
        opt.step()
        opt.zero_grad()

print(loss_func(model(xb), yb))
"""

VALIDATION = """
train_ds = TensorDataset(x_train, y_train)
train_dl = DataLoader(train_ds, batch_size=bs, shuffle=True)

valid_ds = TensorDataset(x_valid, y_valid)
valid_dl = DataLoader(valid_ds, batch_size=bs * 2)

model, opt = get_model()

for epoch in range(epochs):
    model.train()
    for xb, yb in train_dl:
        pred = model(xb)
        loss = loss_func(pred, yb)

        loss.backward()
        opt.step()
        opt.zero_grad()

    model.eval()
    with torch.no_grad():
        valid_loss = sum(loss_func(model(xb), yb) for xb, yb in valid_dl)

    print(epoch, valid_loss / len(valid_dl))

def loss_batch(model, loss_func, xb, yb, opt=None):
    loss = loss_func(model(xb), yb)

    if opt is not None:
        loss.backward()
        opt.step()
        opt.zero_grad()

    return loss.item(), len(xb)

import numpy as np

val_losses = []

def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
    for epoch in range(epochs):
        model.train()
        for xb, yb in train_dl:
            loss_batch(model, loss_func, xb, yb, opt)

        model.eval()
        with torch.no_grad():
            losses, nums = zip(
                *[loss_batch(model, loss_func, xb, yb) for xb, yb in valid_dl]
            )
        val_loss = np.sum(np.multiply(losses, nums)) / np.sum(nums)

        print(epoch, val_loss)
        val_losses.append(val_loss)

def get_data(train_ds, valid_ds, bs):
    return (
        DataLoader(train_ds, batch_size=bs, shuffle=True),
        DataLoader(valid_ds, batch_size=bs * 2),
    )

train_dl, valid_dl = get_data(train_ds, valid_ds, bs)
model, opt = get_model()
fit(epochs, model, loss_func, opt, train_dl, valid_dl)
"""

CNN = """
class Mnist_CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, kernel_size=3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(16, 16, kernel_size=3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(16, 10, kernel_size=3, stride=2, padding=1)

    def forward(self, xb):
        xb = xb.view(-1, 1, 28, 28)
        xb = F.relu(self.conv1(xb))
        xb = F.relu(self.conv2(xb))
        xb = F.relu(self.conv3(xb))
        xb = F.avg_pool2d(xb, 4)
        return xb.view(-1, xb.size(1))

lr = 0.1

model = Mnist_CNN()
opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)

fit(epochs, model, loss_func, opt, train_dl, valid_dl)

class Lambda(nn.Module):
    def __init__(self, func):
        super().__init__()
        self.func = func

    def forward(self, x):
        return self.func(x)


def preprocess(x):
    return x.view(-1, 1, 28, 28)

model = nn.Sequential(
    Lambda(preprocess),
    nn.Conv2d(1, 16, kernel_size=3, stride=2, padding=1),
    nn.ReLU(),
    nn.Conv2d(16, 16, kernel_size=3, stride=2, padding=1),
    nn.ReLU(),
    nn.Conv2d(16, 10, kernel_size=3, stride=2, padding=1),
    nn.ReLU(),
    nn.AvgPool2d(4),
    Lambda(lambda x: x.view(x.size(0), -1)),
)

opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)

fit(epochs, model, loss_func, opt, train_dl, valid_dl)
"""


def start():
    x_train, y_train, x_valid, y_valid = synthetic_mnist()
    return run(DATA, x_train=x_train, y_train=y_train, x_valid=x_valid, y_valid=y_valid)


def batch_loss(ns):
    return ns["loss_func"](ns["model"](ns["xb"]), ns["yb"]).item()


def test_from_scratch_and_functional():
    ns = start()
    assert ns["x_train"].dtype == ember.float32 and ns["y_train"].dtype == ember.int64
    assert (ns["n"], ns["c"]) == (512, 784)
    run(FROM_SCRATCH, ns)
    preds = ns["preds"].detach().numpy().astype(np.float64)
    logits = ns["xb"].numpy() @ ns["weights"].detach().numpy() + ns["bias"].detach().numpy()
    logits = logits.astype(np.float64)
    expected = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    np.testing.assert_allclose(preds, expected, rtol=1e-5, atol=1e-5)
    yb = ns["yb"].numpy()
    np.testing.assert_allclose(ns["loss_func"](ns["preds"], ns["yb"]).item(),
                               -expected[np.arange(64), yb].mean(), rtol=1e-5)
    before = batch_loss(ns)

    run(TRAIN_FROM_SCRATCH, ns)
    after = batch_loss(ns)
    assert after < 0.8 * before
    scratch_acc = ns["accuracy"](ns["model"](ns["xb"]), ns["yb"]).item()

    # The tutorial's claim: F.cross_entropy on logits gives the same loss and accuracy.
    run(FUNCTIONAL, ns)
    np.testing.assert_allclose(batch_loss(ns), after, rtol=1e-5)
    assert ns["accuracy"](ns["model"](ns["xb"]), ns["yb"]).item() == scratch_acc


def test_module_and_linear_refactors():
    ns = start()
    for cell in (FROM_SCRATCH, TRAIN_FROM_SCRATCH, FUNCTIONAL):
        run(cell, ns)
    run(MODULE, ns)
    assert [name for name, _ in ns["model"].named_parameters()] == ["weights", "bias"]
    first = batch_loss(ns)
    run(FIT, ns)
    assert batch_loss(ns) < 0.8 * first
    run(LINEAR, ns)
    assert [name for name, _ in ns["model"].named_parameters()] == ["lin.weight", "lin.bias"]
    first = batch_loss(ns)
    run(FIT, ns)
    assert batch_loss(ns) < 0.8 * first


@pytest.fixture
def refactored():
    ns = start()
    for cell in (FROM_SCRATCH, TRAIN_FROM_SCRATCH, FUNCTIONAL, MODULE, FIT, LINEAR, FIT):
        run(cell, ns)
    return ns


def test_optim_refactor(refactored):
    require("ember.optim")
    run(OPTIM, refactored)
    first = batch_loss(refactored)
    run(OPTIM_TRAIN, refactored)
    assert batch_loss(refactored) < 0.8 * first


def test_dataset_and_dataloader_refactor(refactored):
    require("ember.optim", "ember.utils.data")
    run(OPTIM, refactored)
    run(DATASET_AND_LOADER, refactored)
    assert refactored["xb"].shape == (64, 784)
    assert batch_loss(refactored) < 0.8 * np.log(10)
    run(VALIDATION, refactored)
    assert len(refactored["valid_dl"]) == 2
    assert refactored["valid_loss"].item() / 2 < np.log(10)
    assert refactored["val_losses"][-1] < np.log(10)


def test_cnn_refactor(refactored):
    require("ember.optim", "ember.utils.data")
    require_attrs("ember.nn", "Conv2d", "AvgPool2d")
    require_attrs("ember.nn.functional", "avg_pool2d")
    for cell in (OPTIM, DATASET_AND_LOADER, VALIDATION, CNN):
        run(cell, refactored)
    assert np.isfinite(refactored["val_losses"][-1])
    assert refactored["val_losses"][-1] < np.log(10)
