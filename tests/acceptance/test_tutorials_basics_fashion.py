"""Acceptance: the "Learn the Basics" tutorials on FashionMNIST run on ember.

Code from pytorch/tutorials beginner_source/basics/{quickstart,data,transforms,buildmodel,
optimization}_tutorial.py and introyt/trainingyt.py (BSD-3-Clause), prose and comments removed,
epoch counts reduced (``EPOCHS``); otherwise unchanged. ``datasets.FashionMNIST(root="data", download=True)`` finds
small idx files already in ``data/FashionMNIST/raw`` and downloads nothing; matplotlib is a stub.
(tensorqs and autogradqs are in test_basics.py; saveloadrun needs vgg16's pretrained weights.)
"""
# The tutorials' code is kept verbatim, long lines and trailing spaces included.
# ruff: noqa: E501, W291, W293

import re

import numpy as np
import pytest
from acceptance_runner import MATPLOTLIB, run, write_idx

import ember


@pytest.fixture
def fashion_dir(tmp_path, monkeypatch):
    """``data/FashionMNIST/raw``: 256 train and 64 test images, class k a bright bar at rows
    2k..2k+1 on noise (learnable in a few steps)."""
    rng = np.random.default_rng(0)
    raw = tmp_path / "data" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, n in (("train", 256), ("t10k", 64)):
        labels = np.arange(n) % 10
        rng.shuffle(labels)
        images = rng.integers(0, 60, (n, 28, 28))
        for i, label in enumerate(labels):
            images[i, 2 + 2 * label:4 + 2 * label, 4:24] = 255
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    monkeypatch.chdir(tmp_path)
    ember.manual_seed(0)
    return tmp_path


# quickstart_tutorial.py
QUICKSTART = """
import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets
from torchvision.transforms import ToTensor

training_data = datasets.FashionMNIST(
    root="data",
    train=True,
    download=True,
    transform=ToTensor(),
)

test_data = datasets.FashionMNIST(
    root="data",
    train=False,
    download=True,
    transform=ToTensor(),
)

batch_size = 64

train_dataloader = DataLoader(training_data, batch_size=batch_size)
test_dataloader = DataLoader(test_data, batch_size=batch_size)

for X, y in test_dataloader:
    print(f"Shape of X [N, C, H, W]: {X.shape}")
    print(f"Shape of y: {y.shape} {y.dtype}")
    break

device = (
    "cuda"
    if torch.cuda.is_available()
    else "mps"
    if torch.backends.mps.is_available()
    else "cpu"
)
print(f"Using {device} device")

class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28*28, 512),
            nn.ReLU(),
            nn.Linear(512, 512),
            nn.ReLU(),
            nn.Linear(512, 10)
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits

model = NeuralNetwork().to(device)
print(model)

loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)

def train(dataloader, model, loss_fn, optimizer):
    size = len(dataloader.dataset)
    model.train()
    for batch, (X, y) in enumerate(dataloader):
        X, y = X.to(device), y.to(device)

        pred = model(X)
        loss = loss_fn(pred, y)

        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

        if batch % 100 == 0:
            loss, current = loss.item(), (batch + 1) * len(X)
            print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")

def test(dataloader, model, loss_fn):
    size = len(dataloader.dataset)
    num_batches = len(dataloader)
    model.eval()
    test_loss, correct = 0, 0
    with torch.no_grad():
        for X, y in dataloader:
            X, y = X.to(device), y.to(device)
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
    test_loss /= num_batches
    correct /= size
    print(f"Test Error: \\n Accuracy: {(100*correct):>0.1f}%, Avg loss: {test_loss:>8f} \\n")

epochs = EPOCHS
for t in range(epochs):
    print(f"Epoch {t+1}\\n-------------------------------")
    train(train_dataloader, model, loss_fn, optimizer)
    test(test_dataloader, model, loss_fn)
print("Done!")

torch.save(model.state_dict(), "model.pth")
print("Saved PyTorch Model State to model.pth")

model = NeuralNetwork().to(device)
model.load_state_dict(torch.load("model.pth", weights_only=True))

classes = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]

model.eval()
x, y = test_data[0][0], test_data[0][1]
with torch.no_grad():
    x = x.to(device)
    pred = model(x)
    predicted, actual = classes[pred[0].argmax(0)], classes[y]
    print(f'Predicted: "{predicted}", Actual: "{actual}"')
"""


def test_quickstart(fashion_dir):
    ns = run(QUICKSTART, EPOCHS=3)
    out = ns["_stdout"]
    assert "Shape of X [N, C, H, W]: torch.Size([64, 1, 28, 28])" in out
    assert "Shape of y: torch.Size([64]) torch.int64" in out and "Using cpu device" in out
    # plain SGD at lr 1e-3 from log(10): the test loss goes down a little every epoch
    test_losses = [float(x) for x in re.findall(r"Avg loss: ([0-9.]+)", out)]
    assert len(test_losses) == 3 and abs(test_losses[0] - np.log(10)) < 0.1
    assert all(b < a for a, b in zip(test_losses, test_losses[1:])), test_losses
    assert re.search(r"loss: \d\.\d{6}  \[   64/  256\]", out), out
    # the reloaded model predicts what the trained one did
    assert f'Actual: "{ns["classes"][int(ns["y"])]}"' in out
    state = ember.load(fashion_dir / "model.pth", weights_only=True)
    assert list(state) == [f"linear_relu_stack.{i}.{p}" for i in (0, 2, 4)
                           for p in ("weight", "bias")]
    assert ember.equal(state["linear_relu_stack.4.bias"], ns["model"].linear_relu_stack[4].bias)


# optimization_tutorial.py, after the model and data of the quickstart
OPTIMIZATION = """
learning_rate = 1e-3
batch_size = 64
epochs = 5

loss_fn = nn.CrossEntropyLoss()

optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)

def train_loop(dataloader, model, loss_fn, optimizer):
    size = len(dataloader.dataset)
    model.train()
    for batch, (X, y) in enumerate(dataloader):
        pred = model(X)
        loss = loss_fn(pred, y)

        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

        if batch % 100 == 0:
            loss, current = loss.item(), batch * batch_size + len(X)
            print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")


def test_loop(dataloader, model, loss_fn):
    model.eval()
    size = len(dataloader.dataset)
    num_batches = len(dataloader)
    test_loss, correct = 0, 0

    with torch.no_grad():
        for X, y in dataloader:
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()

    test_loss /= num_batches
    correct /= size
    print(f"Test Error: \\n Accuracy: {(100*correct):>0.1f}%, Avg loss: {test_loss:>8f} \\n")

loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)

epochs = EPOCHS
for t in range(epochs):
    print(f"Epoch {t+1}\\n-------------------------------")
    train_loop(train_dataloader, model, loss_fn, optimizer)
    test_loop(test_dataloader, model, loss_fn)
print("Done!")
"""


def test_optimization_loop_matches_manual_sgd(fashion_dir):
    ns = run(QUICKSTART, EPOCHS=0)
    ns = run("model = NeuralNetwork()\nstart = [p.detach().clone() for p in model.parameters()]",
             ns)
    ns = run(OPTIMIZATION, ns, EPOCHS=1)
    # Oracle: the same four mini-batches through plain NumPy SGD on the starting weights.
    w = [p.numpy().astype(np.float64) for p in ns["start"]]
    for X, y in ns["train_dataloader"]:
        x = X.numpy().reshape(len(X), -1).astype(np.float64)
        h1 = x @ w[0].T + w[1]
        a1 = np.maximum(h1, 0)
        h2 = a1 @ w[2].T + w[3]
        a2 = np.maximum(h2, 0)
        logits = a2 @ w[4].T + w[5]
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        d = p.copy()
        d[np.arange(len(y)), y.numpy()] -= 1
        d /= len(y)
        g5, g4 = d.sum(0), d.T @ a2
        d2 = (d @ w[4]) * (h2 > 0)
        g3, g2 = d2.sum(0), d2.T @ a1
        d1 = (d2 @ w[2]) * (h1 > 0)
        g1, g0 = d1.sum(0), d1.T @ x
        for i, g in enumerate((g0, g1, g2, g3, g4, g5)):
            w[i] -= 1e-3 * g
    for got, want in zip(ns["model"].parameters(), w):
        np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-4, atol=1e-6)
    assert "loss: " in ns["_stdout"] and "[   64/  256]" in ns["_stdout"]


# transforms_tutorial.py
TRANSFORMS = """
import torch
from torchvision import datasets
from torchvision.transforms import ToTensor, Lambda

ds = datasets.FashionMNIST(
    root="data",
    train=True,
    download=True,
    transform=ToTensor(),
    target_transform=Lambda(lambda y: torch.zeros(10, dtype=torch.float).scatter_(0, torch.tensor(y), value=1))
)

target_transform = Lambda(lambda y: torch.zeros(
    10, dtype=torch.float).scatter_(dim=0, index=torch.tensor(y), value=1))
"""


def test_transforms_one_hot_targets(fashion_dir):
    ns = run(TRANSFORMS)
    image, target = ns["ds"][0]
    label = int(ns["ds"].targets[0])
    assert image.shape == (1, 28, 28) and image.dtype == ember.float32
    assert 0 <= image.min().item() and image.max().item() == 1.0
    np.testing.assert_array_equal(target.numpy(), np.eye(10, dtype=np.float32)[label])
    np.testing.assert_array_equal(ns["target_transform"](3).numpy(), np.eye(10)[3])


# buildmodel_tutorial.py
BUILD_MODEL = """
import os
import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

device = (
    "cuda"
    if torch.cuda.is_available()
    else "mps"
    if torch.backends.mps.is_available()
    else "cpu"
)
print(f"Using {device} device")

class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28*28, 512),
            nn.ReLU(),
            nn.Linear(512, 512),
            nn.ReLU(),
            nn.Linear(512, 10),
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits

model = NeuralNetwork().to(device)
print(model)

X = torch.rand(1, 28, 28, device=device)
logits = model(X)
pred_probab = nn.Softmax(dim=1)(logits)
y_pred = pred_probab.argmax(1)
print(f"Predicted class: {y_pred}")

input_image = torch.rand(3,28,28)
print(input_image.size())

flatten = nn.Flatten()
flat_image = flatten(input_image)
print(flat_image.size())

layer1 = nn.Linear(in_features=28*28, out_features=20)
hidden1 = layer1(flat_image)
print(hidden1.size())

print(f"Before ReLU: {hidden1}\\n\\n")
hidden1 = nn.ReLU()(hidden1)
print(f"After ReLU: {hidden1}")

seq_modules = nn.Sequential(
    flatten,
    layer1,
    nn.ReLU(),
    nn.Linear(20, 10)
)
input_image = torch.rand(3,28,28)
logits = seq_modules(input_image)

softmax = nn.Softmax(dim=1)
pred_probab = softmax(logits)

print(f"Model structure: {model}\\n\\n")

for name, param in model.named_parameters():
    print(f"Layer: {name} | Size: {param.size()} | Values : {param[:2]} \\n")
"""


def test_build_model():
    ns = run(BUILD_MODEL)
    out = ns["_stdout"]
    for size in ("torch.Size([3, 28, 28])", "torch.Size([3, 784])", "torch.Size([3, 20])"):
        assert size in out
    assert re.search(r"Predicted class: tensor\(\[\d\]\)", out)
    assert (ns["hidden1"] >= 0).all() and ns["pred_probab"].shape == (3, 10)
    np.testing.assert_allclose(ns["pred_probab"].sum(1).detach().numpy(), 1, rtol=1e-6)
    assert "Layer: linear_relu_stack.0.weight | Size: torch.Size([512, 784]) | Values : " \
           "tensor([[" in out
    assert "grad_fn=<SliceBackward0>" in out  # param[:2] of a Parameter
    assert "(0): Linear(in_features=784, out_features=512, bias=True)" in out


# data_tutorial.py: the FashionMNIST part and the DataLoader (its CustomImageDataset needs
# pandas and image files on disk)
DATA = """
import torch
from torch.utils.data import Dataset
from torchvision import datasets
from torchvision.transforms import ToTensor
import matplotlib.pyplot as plt


training_data = datasets.FashionMNIST(
    root="data",
    train=True,
    download=True,
    transform=ToTensor()
)

test_data = datasets.FashionMNIST(
    root="data",
    train=False,
    download=True,
    transform=ToTensor()
)

labels_map = {
    0: "T-Shirt",
    1: "Trouser",
    2: "Pullover",
    3: "Dress",
    4: "Coat",
    5: "Sandal",
    6: "Shirt",
    7: "Sneaker",
    8: "Bag",
    9: "Ankle Boot",
}
figure = plt.figure(figsize=(8, 8))
cols, rows = 3, 3
for i in range(1, cols * rows + 1):
    sample_idx = torch.randint(len(training_data), size=(1,)).item()
    img, label = training_data[sample_idx]
    figure.add_subplot(rows, cols, i)
    plt.title(labels_map[label])
    plt.axis("off")
    plt.imshow(img.squeeze(), cmap="gray")
plt.show()

from torch.utils.data import DataLoader

train_dataloader = DataLoader(training_data, batch_size=64, shuffle=True)
test_dataloader = DataLoader(test_data, batch_size=64, shuffle=True)

train_features, train_labels = next(iter(train_dataloader))
print(f"Feature batch shape: {train_features.size()}")
print(f"Labels batch shape: {train_labels.size()}")
img = train_features[0].squeeze()
label = train_labels[0]
plt.imshow(img, cmap="gray")
plt.show()
print(f"Label: {label}")
"""


def test_datasets_and_dataloaders(fashion_dir):
    ns = run(DATA, modules=MATPLOTLIB)
    out = ns["_stdout"]
    assert "Feature batch shape: torch.Size([64, 1, 28, 28])" in out
    assert "Labels batch shape: torch.Size([64])" in out
    assert re.search(r"Label: \d\n", out)
    assert len(ns["training_data"]) == 256 and len(ns["test_data"]) == 64
    # the label of the shown image is the row of its bright bar (the fixture's encoding)
    img, label = ns["img"], int(ns["label"])
    assert img.shape == (28, 28) and img[2 + 2 * label, 10].item() == 1.0
    # shuffle=True: one pass visits every image once
    seen = sorted(int(i) for _, y in ns["train_dataloader"] for i in y)
    assert seen == sorted(int(t) for t in ns["training_data"].targets)


# introyt/trainingyt.py
TRAINING_YT = r"""
import torch
import torchvision
import torchvision.transforms as transforms

from torch.utils.tensorboard import SummaryWriter
from datetime import datetime


transform = transforms.Compose(
    [transforms.ToTensor(),
    transforms.Normalize((0.5,), (0.5,))])

training_set = torchvision.datasets.FashionMNIST('./data', train=True, transform=transform, download=True)
validation_set = torchvision.datasets.FashionMNIST('./data', train=False, transform=transform, download=True)

training_loader = torch.utils.data.DataLoader(training_set, batch_size=4, shuffle=True)
validation_loader = torch.utils.data.DataLoader(validation_set, batch_size=4, shuffle=False)

classes = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
        'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle Boot')

print('Training set has {} instances'.format(len(training_set)))
print('Validation set has {} instances'.format(len(validation_set)))

import matplotlib.pyplot as plt
import numpy as np

def matplotlib_imshow(img, one_channel=False):
    if one_channel:
        img = img.mean(dim=0)
    img = img / 2 + 0.5     # unnormalize
    npimg = img.numpy()
    if one_channel:
        plt.imshow(npimg, cmap="Greys")
    else:
        plt.imshow(np.transpose(npimg, (1, 2, 0)))

dataiter = iter(training_loader)
images, labels = next(dataiter)

img_grid = torchvision.utils.make_grid(images)
matplotlib_imshow(img_grid, one_channel=True)
print('  '.join(classes[labels[j]] for j in range(4)))

import torch.nn as nn
import torch.nn.functional as F

class GarmentClassifier(nn.Module):
    def __init__(self):
        super(GarmentClassifier, self).__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 4 * 4, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.view(-1, 16 * 4 * 4)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x
    

model = GarmentClassifier()

loss_fn = torch.nn.CrossEntropyLoss()

dummy_outputs = torch.rand(4, 10)
dummy_labels = torch.tensor([1, 5, 3, 7])
    
print(dummy_outputs)
print(dummy_labels)

loss = loss_fn(dummy_outputs, dummy_labels)
print('Total loss for this batch: {}'.format(loss.item()))

optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)

def train_one_epoch(epoch_index, tb_writer):
    running_loss = 0.
    last_loss = 0.
    
    for i, data in enumerate(training_loader):
        inputs, labels = data
        
        optimizer.zero_grad()
        
        outputs = model(inputs)
        
        loss = loss_fn(outputs, labels)
        loss.backward()
        
        optimizer.step()
        
        running_loss += loss.item()
        if i % 1000 == 999:
            last_loss = running_loss / 1000 # loss per batch
            print('  batch {} loss: {}'.format(i + 1, last_loss))
            tb_x = epoch_index * len(training_loader) + i + 1
            tb_writer.add_scalar('Loss/train', last_loss, tb_x)
            running_loss = 0.
            
    return last_loss

timestamp = datetime.now().strftime('%Y%m%d_%H%M%S')
writer = SummaryWriter('runs/fashion_trainer_{}'.format(timestamp))
epoch_number = 0

EPOCHS = 5

best_vloss = 1_000_000.

for epoch in range(EPOCHS):
    print('EPOCH {}:'.format(epoch_number + 1))
    
    model.train(True)
    avg_loss = train_one_epoch(epoch_number, writer)
    

    running_vloss = 0.0
    model.eval()

    with torch.no_grad():
        for i, vdata in enumerate(validation_loader):
            vinputs, vlabels = vdata
            voutputs = model(vinputs)
            vloss = loss_fn(voutputs, vlabels)
            running_vloss += vloss
    
    avg_vloss = running_vloss / (i + 1)
    print('LOSS train {} valid {}'.format(avg_loss, avg_vloss))
    
    writer.add_scalars('Training vs. Validation Loss',
                    { 'Training' : avg_loss, 'Validation' : avg_vloss },
                    epoch_number + 1)
    writer.flush()
    
    if avg_vloss < best_vloss:
        best_vloss = avg_vloss
        model_path = 'model_{}_{}'.format(timestamp, epoch_number)
        torch.save(model.state_dict(), model_path)
    
    epoch_number += 1
"""


def test_training_yt(fashion_dir):
    ns = run(TRAINING_YT, modules=MATPLOTLIB)
    out = ns["_stdout"]
    assert "Training set has 256 instances" in out and "Validation set has 64 instances" in out
    # the dummy batch's cross-entropy, against NumPy
    logits, labels = ns["dummy_outputs"].numpy(), ns["dummy_labels"].numpy()
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    want = -logp[np.arange(4), labels].mean()
    assert f"Total loss for this batch: {want:.5f}"[:-1] in out
    # "LOSS train 0.0": no 1000-batch report in 64 batches, as in PyTorch
    valid = [float(v) for v in re.findall(r"LOSS train 0.0 valid ([0-9.]+)", out)]
    assert len(valid) == 5 and all(b < a for a, b in zip(valid, valid[1:])), valid
    # a checkpoint per improving epoch, and a TensorBoard event file with both scalars
    saved = sorted(fashion_dir.glob(f"model_{ns['timestamp']}_*"))
    assert len(saved) == sum(v < min(valid[:i], default=1e9) for i, v in enumerate(valid))
    state = ember.load(saved[-1], weights_only=True)
    assert list(state)[:2] == ["conv1.weight", "conv1.bias"]
    runs = fashion_dir / "runs" / f"fashion_trainer_{ns['timestamp']}"
    assert list(runs.glob("events.out.tfevents.*"))
    assert sorted(p.name for p in runs.iterdir() if p.is_dir()) == [
        "Training vs. Validation Loss_Training", "Training vs. Validation Loss_Validation"]
