"""Acceptance: the "PyTorch for former Torch users" nn / parallelism tutorials and the blitz's data
parallelism tutorial run on ember, compared with PyTorch running the same code.

Code from pytorch/tutorials (BSD-3-Clause): beginner_source/former_torchies/nnft_tutorial.py,
beginner_source/former_torchies/parallelism_tutorial.py (its definitions: the model that wraps
a block in ``DataParallel`` and ``data_parallel`` composed from the ``nn.parallel`` primitives,
called by the test without devices, the CPU path) and beginner_source/blitz/data_parallel_tutorial.py;
prose and comments removed, otherwise unchanged.
"""
# The tutorials' code is kept verbatim, long lines and trailing spaces included.
# ruff: noqa: E501, W291, W293

import re

import numpy as np
import pytest
from acceptance_runner import run
from torch_runner import run_torch

import ember

# former_torchies/nnft_tutorial.py
NNFT = r'''
import torch
import torch.nn as nn
import torch.nn.functional as F


class MNISTConvNet(nn.Module):

    def __init__(self):
        super(MNISTConvNet, self).__init__()
        self.conv1 = nn.Conv2d(1, 10, 5)
        self.pool1 = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(10, 20, 5)
        self.pool2 = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, input):
        x = self.pool1(F.relu(self.conv1(input)))
        x = self.pool2(F.relu(self.conv2(x)))

        x = x.flatten(start_dim=1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return x


net = MNISTConvNet()
print(net)

input = torch.randn(1, 1, 28, 28)
out = net(input)
print(out.size())

target = torch.tensor([3], dtype=torch.long)
loss_fn = nn.CrossEntropyLoss()  # LogSoftmax + ClassNLL Loss
err = loss_fn(out, target)
err.backward()

print(err)

print(net.conv1.weight.grad.size())

print(net.conv1.weight.data.norm())  # norm of the weight
print(net.conv1.weight.grad.data.norm())  # norm of the gradients


def printnorm(self, input, output):
    print('Inside ' + self.__class__.__name__ + ' forward')
    print('')
    print('input: ', type(input))
    print('input[0]: ', type(input[0]))
    print('output: ', type(output))
    print('')
    print('input size:', input[0].size())
    print('output size:', output.data.size())
    print('output norm:', output.data.norm())


net.conv2.register_forward_hook(printnorm)

out = net(input)


def printgradnorm(self, grad_input, grad_output):
    print('Inside ' + self.__class__.__name__ + ' backward')
    print('Inside class:' + self.__class__.__name__)
    print('')
    print('grad_input: ', type(grad_input))
    print('grad_input[0]: ', type(grad_input[0]))
    print('grad_output: ', type(grad_output))
    print('grad_output[0]: ', type(grad_output[0]))
    print('')
    print('grad_input size:', grad_input[0].size())
    print('grad_output size:', grad_output[0].size())
    print('grad_input norm:', grad_input[0].norm())


net.conv2.register_backward_hook(printgradnorm)

out = net(input)
err = loss_fn(out, target)
err.backward()


class RNN(nn.Module):

    def __init__(self, data_size, hidden_size, output_size):
        super(RNN, self).__init__()

        self.hidden_size = hidden_size
        input_size = data_size + hidden_size

        self.i2h = nn.Linear(input_size, hidden_size)
        self.h2o = nn.Linear(hidden_size, output_size)

    def forward(self, data, last_hidden):
        input = torch.cat((data, last_hidden), 1)
        hidden = self.i2h(input)
        output = self.h2o(hidden)
        return hidden, output


rnn = RNN(50, 20, 10)

loss_fn = nn.MSELoss()

batch_size = 10
TIMESTEPS = 5

batch = torch.randn(batch_size, 50)
hidden = torch.zeros(batch_size, 20)
target = torch.zeros(batch_size, 10)

loss = 0
for t in range(TIMESTEPS):
    hidden, output = rnn(batch, hidden)
    loss += loss_fn(output, target)
loss.backward()
'''


def _structure(stdout: str) -> list:
    """The printed lines with tensor values dropped and ember's class name read as torch's."""
    text = stdout.replace("ember._tensor.Tensor", "torch.Tensor")
    return [line for line in text.splitlines() if not re.search(r"tensor\(|^\s+\[|^\s*-?\d", line)]


def test_nnft_hooks_and_recurrent_net():
    ns = run(NNFT)
    out = ns["_stdout"]
    assert "torch.Size([1, 10])" in out and "torch.Size([10, 1, 5, 5])" in out
    # the forward hook fired for both later forwards, the backward hook once
    assert out.count("Inside Conv2d forward") == 2 and out.count("Inside Conv2d backward") == 1
    assert "input size: torch.Size([1, 10, 12, 12])" in out
    assert "grad_input size: torch.Size([1, 10, 12, 12])" in out
    assert "grad_output size: torch.Size([1, 20, 8, 8])" in out
    # the RNN example: one Linear reused over 5 steps, its gradient summed over them
    rnn, batch = ns["rnn"], ns["batch"]
    assert ns["loss"].grad_fn.name() == "AddBackward0"
    w = rnn.i2h.weight.detach().clone().requires_grad_()
    hidden, loss = ember.zeros(10, 20), 0
    for _ in range(5):
        hidden = ember.cat((batch, hidden), 1) @ w.T + rnn.i2h.bias
        loss = loss + ((rnn.h2o(hidden)) ** 2).mean()
    loss.backward()
    np.testing.assert_allclose(rnn.i2h.weight.grad.numpy(), w.grad.numpy(), rtol=1e-4, atol=1e-7)
    with pytest.warns(FutureWarning):  # PyTorch deprecates register_backward_hook
        expected = run_torch(NNFT)["_stdout"]  # skips without PyTorch
    assert _structure(ns["_stdout"]) == _structure(expected)


# blitz/data_parallel_tutorial.py
DATA_PARALLEL = r'''
import torch
import torch.nn as nn
from torch.utils.data import Dataset, DataLoader

input_size = 5
output_size = 2

batch_size = 30
data_size = 100

device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")

class RandomDataset(Dataset):

    def __init__(self, size, length):
        self.len = length
        self.data = torch.randn(length, size)

    def __getitem__(self, index):
        return self.data[index]

    def __len__(self):
        return self.len

rand_loader = DataLoader(dataset=RandomDataset(input_size, 100),
                         batch_size=batch_size, shuffle=True)

class Model(nn.Module):

    def __init__(self, input_size, output_size):
        super(Model, self).__init__()
        self.fc = nn.Linear(input_size, output_size)

    def forward(self, input):
        output = self.fc(input)
        print("\tIn Model: input size", input.size(),
              "output size", output.size())

        return output

model = Model(input_size, output_size)
if torch.cuda.device_count() > 1:
  print("Let's use", torch.cuda.device_count(), "GPUs!")
  model = nn.DataParallel(model)

model.to(device)

for data in rand_loader:
    input = data.to(device)
    output = model(input)
    print("Outside: input size", input.size(),
          "output_size", output.size())
'''


def test_data_parallel_tutorial_prints_what_torch_prints():
    ns = run(DATA_PARALLEL)
    assert ns["_stdout"] == run_torch(DATA_PARALLEL)["_stdout"]
    assert ns["_stdout"].count("Outside: input size torch.Size([30, 5]) output_size torch.Size([30, 2])") == 3
    assert "Outside: input size torch.Size([10, 5]) output_size torch.Size([10, 2])" in ns["_stdout"]


# former_torchies/parallelism_tutorial.py
PARALLELISM = r'''
import torch.nn as nn


class DataParallelModel(nn.Module):

    def __init__(self):
        super().__init__()
        self.block1 = nn.Linear(10, 20)

        self.block2 = nn.Linear(20, 20)
        self.block2 = nn.DataParallel(self.block2)

        self.block3 = nn.Linear(20, 20)

    def forward(self, x):
        x = self.block1(x)
        x = self.block2(x)
        x = self.block3(x)
        return x


def data_parallel(module, input, device_ids, output_device=None):
    if not device_ids:
        return module(input)

    if output_device is None:
        output_device = device_ids[0]

    replicas = nn.parallel.replicate(module, device_ids)
    inputs = nn.parallel.scatter(input, device_ids)
    replicas = replicas[:len(inputs)]
    outputs = nn.parallel.parallel_apply(replicas, inputs)
    return nn.parallel.gather(outputs, output_device)


class DistributedModel(nn.Module):

    def __init__(self):
        super().__init__(
            embedding=nn.Embedding(1000, 10),
            rnn=nn.Linear(10, 10).cuda(0),
        )

    def forward(self, x):
        x = self.embedding(x)

        x = x.cuda(0)

        x = self.rnn(x)
        return x
'''

PARALLELISM_USE = """
import torch
model = DataParallelModel()
x = torch.randn(4, 10)
out = model(x)
cpu_out = data_parallel(model, x, [])
keys = list(model.state_dict())
"""


def test_parallelism_definitions():
    ns = run(PARALLELISM + PARALLELISM_USE)
    expected = run_torch(PARALLELISM + PARALLELISM_USE)
    assert ns["keys"] == expected["keys"]
    assert "block2.module.weight" in ns["keys"]
    assert ns["out"].shape == ns["cpu_out"].shape == (4, 20)
    assert ember.allclose(ns["out"], ns["cpu_out"])
