"""Acceptance: more recipes (recipes_source/recipes/*.py) run on ember, compared with PyTorch
running the same code where the result is deterministic.

Code from pytorch/tutorials (BSD-3-Clause): changing_default_device.py,
reasoning_about_shapes.py, saving_multiple_models_in_one_file.py, save_load_across_devices.py
(its CPU cells; the DataParallel cell needs a wrapped model the recipe never builds),
tensorboard_with_pytorch.py and tuning_guide.py (the cells that run on a CPU without
TorchScript's oneDNN fuser or torch.fx); prose and comments removed. ``'cuda'`` is ``'cpu'``
(and, in a second run, ``'meta'``); otherwise unchanged.
"""
# The recipes' code is kept verbatim, long lines and trailing spaces included.
# ruff: noqa: E501, W291, W293

import numpy as np
import pytest
from acceptance_runner import run
from torch_runner import run_torch

import ember

# recipes/changing_default_device.py
CHANGING_DEFAULT_DEVICE = """
import torch

USE_CUDA = False

mod = torch.nn.Linear(20, 30)
if USE_CUDA:
    mod.cuda()

device = 'cpu'
if USE_CUDA:
    device = 'cuda'
inp = torch.randn(128, 20, device=device)
print(mod(inp).device)

with torch.device('cuda'):
    mod = torch.nn.Linear(20, 30)
    print(mod.weight.device)
    print(mod(torch.randn(128, 20)).device)

torch.set_default_device('cuda')

mod = torch.nn.Linear(20, 30)
print(mod.weight.device)
print(mod(torch.randn(128, 20)).device)
"""


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_changing_default_device(device):
    code = CHANGING_DEFAULT_DEVICE.replace("'cuda'", repr(device))
    try:
        ns = run(code)
    finally:
        ember.set_default_device(None)
    assert ns["_stdout"].split() == ["cpu"] + [device] * 4
    assert ns["mod"].weight.device.type == device
    assert ember.empty(1).device.type == "cpu"  # the default was put back
    torch = pytest.importorskip("torch")
    try:
        expected = run_torch(code)["_stdout"]
    finally:
        torch.set_default_device(None)
    assert ns["_stdout"] == expected


# recipes/reasoning_about_shapes.py
REASONING_ABOUT_SHAPES = """
import torch
import timeit

t = torch.rand(2, 3, 10, 10, device="meta")
conv = torch.nn.Conv2d(3, 5, 2, device="meta")
start = timeit.default_timer()
out = conv(t)
end = timeit.default_timer()

print(out)
print(f"Time taken: {end-start}")

t_large = torch.rand(2**10, 3, 2**16, 2**16, device="meta")
start = timeit.default_timer()
out = conv(t_large)
end = timeit.default_timer()

print(out)
print(f"Time taken: {end-start}")

import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1) # flatten all dimensions except batch
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x

def fw_hook(module, input, output):
    print(f"Shape of output to {module} is {output.shape}.")

with torch.device("meta"):
    net = Net()
    inp = torch.randn((1024, 3, 32, 32))

for name, layer in net.named_modules():
    layer.register_forward_hook(fw_hook)

out = net(inp)
"""


def test_reasoning_about_shapes():
    ns = run(REASONING_ABOUT_SHAPES)
    expected = run_torch(REASONING_ABOUT_SHAPES)["_stdout"]
    drop_times = lambda text: [line for line in text.splitlines() if not line.startswith("Time taken")]  # noqa: E731
    assert drop_times(ns["_stdout"]) == drop_times(expected)
    assert ns["out"].device.type == "meta" and ns["out"].shape == (1024, 10)
    assert "tensor(..., device='meta', size=(1024, 5, 65535, 65535)," in ns["_stdout"]
    assert "Shape of output to Linear(in_features=400, out_features=120, bias=True) is torch.Size([1024, 120])." in ns["_stdout"]


# recipes/saving_multiple_models_in_one_file.py
SAVING_MULTIPLE_MODELS = """
import torch
import torch.nn as nn
import torch.optim as optim

class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.flatten(start_dim=1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x

netA = Net()
netB = Net()

optimizerA = optim.SGD(netA.parameters(), lr=0.001, momentum=0.9)
optimizerB = optim.SGD(netB.parameters(), lr=0.001, momentum=0.9)

PATH = "model.pt"

torch.save({
            'modelA_state_dict': netA.state_dict(),
            'modelB_state_dict': netB.state_dict(),
            'optimizerA_state_dict': optimizerA.state_dict(),
            'optimizerB_state_dict': optimizerB.state_dict(),
            }, PATH)

modelA = Net()
modelB = Net()
optimModelA = optim.SGD(modelA.parameters(), lr=0.001, momentum=0.9)
optimModelB = optim.SGD(modelB.parameters(), lr=0.001, momentum=0.9)

checkpoint = torch.load(PATH)
modelA.load_state_dict(checkpoint['modelA_state_dict'])
modelB.load_state_dict(checkpoint['modelB_state_dict'])
optimizerA.load_state_dict(checkpoint['optimizerA_state_dict'])
optimizerB.load_state_dict(checkpoint['optimizerB_state_dict'])

modelA.eval()
modelB.eval()
modelA.train()
modelB.train()
"""


def test_saving_multiple_models_in_one_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ns = run(SAVING_MULTIPLE_MODELS)
    for name in ("A", "B"):
        saved = ns[f"net{name}"].state_dict()
        loaded = ns[f"model{name}"].state_dict()
        assert list(saved) == list(loaded)
        for key in saved:
            assert ember.equal(saved[key], loaded[key])
    assert ns["modelA"].training and ns["optimizerA"].state_dict()["param_groups"][0]["momentum"] == 0.9
    # The file is PyTorch's format: PyTorch reads what ember wrote, tensor for tensor.
    torch = pytest.importorskip("torch")
    checkpoint = torch.load(tmp_path / "model.pt", weights_only=True)
    assert sorted(checkpoint) == ["modelA_state_dict", "modelB_state_dict",
                                  "optimizerA_state_dict", "optimizerB_state_dict"]
    for key, value in ns["netB"].state_dict().items():
        np.testing.assert_array_equal(checkpoint["modelB_state_dict"][key].numpy(), value.numpy())
    assert checkpoint["optimizerA_state_dict"]["param_groups"][0]["params"] == list(range(10))


# recipes/save_load_across_devices.py (the CPU cells)
SAVE_LOAD_ACROSS_DEVICES = """
import torch
import torch.nn as nn
import torch.optim as optim

class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.flatten(start_dim=1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x

net = Net()
print(net)

PATH = "model.pt"

torch.save(net.state_dict(), PATH)

device = torch.device('cpu')
model = Net()
model.load_state_dict(torch.load(PATH, map_location=device))

torch.save(net.state_dict(), PATH)

device = torch.device("cpu")
model = Net()
model.load_state_dict(torch.load(PATH))
model.to(device)

torch.save(net.state_dict(), PATH)

device = torch.device("cpu")
model = Net()
model.load_state_dict(torch.load(PATH, map_location="cpu"))
model.to(device)
"""


def test_save_load_across_devices(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ns = run(SAVE_LOAD_ACROSS_DEVICES)
    expected = run_torch(SAVE_LOAD_ACROSS_DEVICES)["_stdout"]
    assert ns["_stdout"] == expected
    for key, value in ns["net"].state_dict().items():
        assert ember.equal(ns["model"].state_dict()[key], value)
    assert ns["model"].fc3.weight.device.type == "cpu"


# recipes/tensorboard_with_pytorch.py
TENSORBOARD_WITH_PYTORCH = """
import torch
from torch.utils.tensorboard import SummaryWriter
writer = SummaryWriter()

x = torch.arange(-5, 5, 0.1).view(-1, 1)
y = -5 * x + 0.1 * torch.randn(x.size())

model = torch.nn.Linear(1, 1)
criterion = torch.nn.MSELoss()
optimizer = torch.optim.SGD(model.parameters(), lr = 0.1)

def train_model(iter):
    for epoch in range(iter):
        y1 = model(x)
        loss = criterion(y1, y)
        writer.add_scalar("Loss/train", loss, epoch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        
train_model(10)
writer.flush()

writer.close()
"""


def test_tensorboard_with_pytorch(tmp_path, monkeypatch):
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    monkeypatch.chdir(tmp_path)
    ember.manual_seed(0)
    ns = run(TENSORBOARD_WITH_PYTORCH)
    acc = event_accumulator.EventAccumulator(ns["writer"].get_logdir())
    acc.Reload()
    losses = acc.Scalars("Loss/train")
    assert [e.step for e in losses] == list(range(10))
    assert losses[-1].value < losses[0].value / 10  # y = -5x is learnt
    assert abs(ns["model"].weight.item() + 5) < 0.5


# recipes/tuning_guide.py: the general and CPU cells that need neither TorchScript's fusers
# nor torch.fx; ``model`` and ``optimizer`` are the recipe's free names, given a small model.
TUNING_GUIDE = """
model.zero_grad()
optimizer.zero_grad()

for param in model.parameters():
    param.grad = None

@torch.compile
def gelu(x):
    return x * 0.5 * (1.0 + torch.erf(x / 1.41421))

torch.set_float32_matmul_precision("high")

torch.backends.cudnn.benchmark = True
"""


def test_tuning_guide_general_cells():
    prelude = """
import torch
model = torch.nn.Linear(4, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
model(torch.randn(3, 4)).sum().backward()
"""
    try:
        ns = run(prelude + TUNING_GUIDE)
    finally:
        ember.set_float32_matmul_precision("highest")
        ember.backends.cudnn.benchmark = False
    assert all(p.grad is None for p in ns["model"].parameters())
    x = ember.linspace(-3, 3, 7)
    expected = 0.5 * x.numpy() * (1 + np.vectorize(__import__("math").erf)(x.numpy() / 1.41421))
    np.testing.assert_allclose(ns["gelu"](x).numpy(), expected, rtol=1e-5, atol=1e-6)
