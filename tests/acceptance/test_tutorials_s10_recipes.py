"""Acceptance: three recipes run on ember; where their printout is deterministic it is compared
with PyTorch running the same code.

Code from pytorch/tutorials (BSD-3-Clause), prose and comments removed:
- recipes_source/calculating_layer_output_dimensions.py: a LeNet-like model whose guessed
  ``Linear`` width fails with a shape error (a ``RuntimeError``, caught and printed by the
  recipe; ember's message names the module and both sizes), the
  output-size formula, and shape printing inside ``forward``. Not run: approach 3, which needs
  the third-party ``torchinfo`` package (not installed here).
- recipes_source/inspecting_model_parameters.py: ``parameters()``/``named_parameters()``
  shapes, ``numel``, frozen parameters, f-string ``=`` reprs of ``torch.Size`` and bools, the
  per-layer totals. Not run: its two ``torchinfo.summary`` calls (same reason).
- recipes_source/torch_compile_torch_function_modes.py: a ``BaseTorchFunctionMode`` that turns
  ``Tensor.add`` into ``torch.mul``, active around and inside ``torch.compile``-d functions.
  Its capability check (``torch.cuda.get_device_capability()``, which raises without CUDA in
  PyTorch too) is dropped.
"""
# The recipes' code is kept verbatim, long lines and trailing spaces included.
# ruff: noqa: E501, W291, W293

import re

import numpy as np
from acceptance_runner import run
from torch_runner import run_torch

import ember
import ember.overrides

LAYER_OUTPUT_DIMENSIONS = r'''
import torch

class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 32, 3)
        self.conv2 = torch.nn.Conv2d(32, 64, 3)
        self.pool = torch.nn.MaxPool2d(kernel_size=(2, 2))
        self.relu = torch.nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        x = self.pool(x)

class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 32, 3)
        self.conv2 = torch.nn.Conv2d(32, 64, 3)
        self.pool = torch.nn.MaxPool2d(kernel_size=(2, 2))
        self.flatten = torch.nn.Flatten()
        self.fc1 = torch.nn.Linear(64 * 10 * 10, 128)
        self.relu = torch.nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        x = self.pool(x)
        x = self.flatten(x)
        x = self.relu(self.fc1(x))
        return x

model = Net()

x = torch.ones(1, 1, 28, 28)  # batch_size, channels, height, width
try:
    _ = model(x)
except RuntimeError as e:
    print(f'Error occured: {e}')
import math

def calc_shape(c_in, h_in, w_in, c_out=None, kernel=(3, 3), padding=(0, 0), dilation=(1, 1), stride=(1, 1)):
    c_out = c_in if c_out is None else c_out
    h_out = math.floor(((h_in + 2 * padding[0] - dilation[0] * (kernel[0] - 1) - 1) / stride[0]) + 1)
    w_out = math.floor(((w_in + 2 * padding[1] - dilation[1] * (kernel[1] - 1) - 1) / stride[1]) + 1)
    return c_out, h_out, w_out

input_h_w = (1, 28, 28)
print(f"Input shape (c, h, w) : {input_h_w}")

conv1_out = calc_shape(*input_h_w, c_out=32)
print(f"Post Conv2d.0 shape   : {conv1_out}")

conv2_out = calc_shape(*conv1_out, c_out=64)
print(f"Post Conv2d.1 shape   : {conv2_out}")

pool_out = calc_shape(*conv2_out, kernel=(2, 2), stride=(2, 2))
print(f"Post MaxPool2d.0 shape: {pool_out}")
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 32, 3)
        self.conv2 = torch.nn.Conv2d(32, 64, 3)
        self.pool = torch.nn.MaxPool2d(kernel_size=(2, 2))
        self.flatten = torch.nn.Flatten()
        self.fc1 = torch.nn.Linear(64 * 12 * 12, 128)
        self.relu = torch.nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        x = self.pool(x)
        x = self.flatten(x)
        x = self.relu(self.fc1(x))
        return x

model = Net()
x = torch.ones(1, 1, 28, 28)  # batch_size, channels, height, width
try:
    _ = model(x)
except RuntimeError as e:
    print(f'Error occured: {e}')

class DebugNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 32, 3)
        self.conv2 = torch.nn.Conv2d(32, 64, 3)
        self.pool = torch.nn.MaxPool2d(kernel_size=(2, 2))
        self.relu = torch.nn.ReLU(inplace=True)

    def forward(self, x):
        print(f"input shape: {x.shape}")
        x = self.relu(self.conv1(x))
        print(f"after conv1 shape: {x.shape}")
        x = self.relu(self.conv2(x))
        print(f"after conv2 shape: {x.shape}")
        x = self.pool(x)
        print(f"after pool shape: {x.shape}")

model = DebugNet()
x = torch.ones(1, 1, 28, 28)  # batch_size, channels, height, width
try:
    _ = model(x)
except RuntimeError as e:
    print(f'Error occured: {e}')

class DebugNet2(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(1, 32, 3),
            torch.nn.ReLU(inplace=True),
            torch.nn.Conv2d(32, 64, 3),
            torch.nn.ReLU(inplace=True),
            torch.nn.MaxPool2d(kernel_size=(2, 2)),
        )
        self.classifier = torch.nn.Sequential(
            torch.nn.Flatten(),
            torch.nn.Linear(64 * 12 * 12, 128),
            torch.nn.ReLU(inplace=True),
            torch.nn.Linear(128, 10),
        )

    def forward(self, x):
        print(f"input shape: {x.shape}")
        x = self.features(x)
        print(f"post features shape: {x.shape}")
        x = self.classifier(x)
        return x

model = DebugNet2()
x = torch.ones(1, 1, 28, 28)  # batch_size, channels, height, width
try:
    _ = model(x)
except RuntimeError as e:
    print(f'Error occured: {e}')
'''

INSPECTING_MODEL_PARAMETERS = r'''
from torch import nn

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

model = NeuralNetwork()
print(model)

print([param.shape for param in model.parameters()])

for name, param in model.named_parameters():
    print(name, param.shape)

layer = nn.Linear(28*28, 512)

for name, param in layer.named_parameters():
    print(name, param.size())

for name, param in model.named_parameters():
    print(f'{name=}, {param.size()=}, {param.numel()=}')

print(f'Total model params: {sum(p.numel() for p in model.parameters()):,}')

print(f'Total model trainable params: {sum(p.numel() for p in model.parameters() if p.requires_grad):,}')

for name, param in model.named_parameters():
    if name == 'linear_relu_stack.0.weight':
        param.requires_grad = False
    print(f'{name=}, {param.size()=}, {param.numel()=}, {param.requires_grad=}')
print(f'Total model trainable params: {sum(p.numel() for p in model.parameters() if p.requires_grad):,}')

class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels=1, out_channels=32, kernel_size=3),
            nn.ReLU(inplace=True),
            nn.Conv2d(in_channels=32, out_channels=64, kernel_size=3),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=(2, 2)),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64 * 12 * 12, 128),
            nn.ReLU(inplace=True),
            nn.Linear(128, 10),
        )

    def forward(self, x):
        x = self.features(x)
        x = self.classifier(x)
        return x

cnn_model = CNN()
print(cnn_model)
print('-'*72)
for name, param in cnn_model.named_parameters():
    print(f'{name=}, {param.size()=}, {param.numel()=}, {param.requires_grad=}')
print('-'*72)
print(f'Total model trainable params: {sum(p.numel() for p in cnn_model.parameters() if p.requires_grad):,}')

import numpy as np

for name, param in cnn_model.named_parameters():
    print(f'{name=}, {param.size()=}, {np.prod(param.size())=} == {param.numel()=}')

from collections import defaultdict
layer_params = defaultdict(int)

for name, param in model.named_parameters():
    layer_params[name.rsplit('.', 1)[0]] += param.numel()

for name, total_params in layer_params.items():
    print(f'{name=} {total_params=:,}')

cnn_layer_params = defaultdict(int)

for name, param in cnn_model.named_parameters():
    cnn_layer_params[name.rsplit('.', 1)[0]] += param.numel()

for name, total_params in cnn_layer_params.items():
    print(f'{name=} {total_params=:,}')
'''

TORCH_FUNCTION_MODES = r'''
import torch

from torch.overrides import BaseTorchFunctionMode

class AddToMultiplyMode(BaseTorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func == torch.Tensor.add:
            func = torch.mul

        return super().__torch_function__(func, types, args, kwargs)

@torch.compile()
def test_fn(x, y):
    return x + y * x # Note: infix operators map to torch.Tensor.* methods

x = torch.rand(2, 2)
y = torch.rand_like(x)

with AddToMultiplyMode():
    z = test_fn(x, y)

assert torch.allclose(z, x * y * x)

@torch.compile()
def test_fn(x, y):
    with AddToMultiplyMode():
        return x + y * x # Note: infix operators map to torch.Tensor.* methods

x = torch.rand(2, 2)
y = torch.rand_like(x)
z = test_fn(x, y)

assert torch.allclose(z, x * y * x)
'''


def test_calculating_layer_output_dimensions():
    out = run(LAYER_OUTPUT_DIMENSIONS)["_stdout"]
    assert out.count("Error occured: ") == 1
    assert "Post MaxPool2d.0 shape: (64, 12, 12)" in out
    assert "after pool shape: torch.Size([1, 64, 12, 12])" in out
    assert "post features shape: torch.Size([1, 64, 12, 12])" in out
    # ember's shape error names the module (a message of its own, by design); the rest of the
    # printout is PyTorch's.
    error = re.search(r"Error occured: (.*)", out).group(1)
    assert "6400" in error and "9216" in error
    expected = run_torch(LAYER_OUTPUT_DIMENSIONS)["_stdout"]
    assert "(1x9216 and 6400x128)" in expected
    assert re.sub("Error occured: .*", "", out) == re.sub("Error occured: .*", "", expected)


def test_inspecting_model_parameters():
    ns = run(INSPECTING_MODEL_PARAMETERS)
    out = ns["_stdout"]
    assert "Total model params: 669,706" in out
    assert "Total model trainable params: 268,298" in out  # 669,706 - 401,408 frozen
    assert "name='linear_relu_stack.0.weight', param.size()=torch.Size([512, 784]), " \
           "param.numel()=401408, param.requires_grad=False" in out
    assert "np.prod(param.size())=np.int64(288) == param.numel()=288" in out \
        or "np.prod(param.size())=288 == param.numel()=288" in out
    assert out == run_torch(INSPECTING_MODEL_PARAMETERS)["_stdout"]


def test_torch_function_modes_with_compile():
    installed_before = ember.overrides._installed
    try:
        ns = run(TORCH_FUNCTION_MODES)
    finally:
        if not installed_before:
            ember.overrides._uninstall()
    x, y = ns["x"].numpy(), ns["y"].numpy()
    np.testing.assert_allclose(ns["z"].numpy(), x * y * x, rtol=1e-6)
    assert not re.search(r"\S", ns["_stdout"])
