"""Acceptance: the "PyTorch for former Torch users" tutorials run on ember.

Code from pytorch/tutorials beginner_source/former_torchies/{tensor,nn}_tutorial.py
(BSD-3-Clause), prose and comments removed; otherwise unchanged.
"""
# The tutorials' code is kept verbatim (a tab included).
# ruff: noqa: E501, W291, W293

import numpy as np
from acceptance_runner import run

import ember

# former_torchies/tensor_tutorial.py
TENSORS = r"""
import torch
a = torch.empty(5, 7, dtype=torch.float)

a = torch.randn(5, 7, dtype=torch.double)
print(a)
print(a.size())

a.fill_(3.5)

b = a.add(4.0)

print(a, b)

b = a[0, 3]  # select 1st row, 4th column from a

b = a[:, 3:5]  # selects all rows, 4th column and  5th column from a

x = torch.ones(5, 5)
print(x)

z = torch.empty(5, 2)
z[:, 0] = 10
z[:, 1] = 100
print(z)

x.index_add_(1, torch.tensor([4, 0], dtype=torch.long), z)
print(x)

a = torch.ones(5)
print(a)

b = a.numpy()
print(b)

a.add_(1)
print(a)
print(b) 	# see how the numpy array changed in value

import numpy as np
a = np.ones(5)
b = torch.from_numpy(a)
np.add(a, 1, out=a)
print(a)
print(b)  # see how changing the np array changed the torch Tensor automatically

if torch.cuda.is_available():

    a = torch.full((10,), 3, device=torch.device("cuda"))
    print(type(a))
    b = a.to(torch.device("cpu"))
"""

# former_torchies/nn_tutorial.py
NN = r"""
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

        x = x.view(x.size(0), -1)
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
"""


def test_former_torchies_tensors():
    ns = run(TENSORS)
    out = ns["_stdout"]
    assert "torch.Size([5, 7])" in out and "dtype=torch.float64" in out
    # index_add_ along dim 1: column 4 gets z[:, 0] = 10, column 0 gets z[:, 1] = 100
    want = np.ones((5, 5), np.float32)
    want[:, 4] += 10
    want[:, 0] += 100
    np.testing.assert_array_equal(ns["x"].numpy(), want)
    assert "tensor([[101.,   1.,   1.,   1.,  11.]," in out
    # both NumPy bridges share memory
    assert "tensor([2., 2., 2., 2., 2.])\n[2. 2. 2. 2. 2.]" in out
    assert "[2. 2. 2. 2. 2.]\ntensor([2., 2., 2., 2., 2.], dtype=torch.float64)" in out


def test_former_torchies_nn():
    ns = run(NN)
    out = ns["_stdout"]
    assert "torch.Size([1, 10])" in out and "torch.Size([10, 1, 5, 5])" in out
    # the forward hook fired for both later forwards, the backward hook once
    assert out.count("Inside Conv2d forward") == 2 and out.count("Inside Conv2d backward") == 1
    assert "input size: torch.Size([1, 10, 12, 12])" in out
    assert "output size: torch.Size([1, 20, 8, 8])" in out
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
