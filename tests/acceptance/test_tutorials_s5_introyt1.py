"""Acceptance: the "Introduction to PyTorch" video tutorial (beginner_source/introyt/introyt1_tutorial.py)
runs on ember: tensor basics (compared with PyTorch's printout, random values aside), LeNet,
and CIFAR-10 training and testing.

Code from pytorch/tutorials (BSD-3-Clause), prose and comments removed, otherwise unchanged
(2 epochs over the small data set; its every-2000-batches loss print does not fire).
``torchvision.datasets.CIFAR10(root='./data', download=True)`` finds small pickled batches the
test writes in ``data/cifar-10-batches-py`` (their md5 sums stand in for the real ones);
matplotlib is a stub.
"""
# The tutorial's code is kept verbatim, long lines and trailing spaces included.
# ruff: noqa: E501, W291, W293

import re

import pytest
from acceptance_runner import MATPLOTLIB, run, write_cifar10
from torch_runner import run_torch

import ember
from ember.vision.datasets import CIFAR10

TENSORS = r'''
import torch

z = torch.zeros(5, 3)
print(z)
print(z.dtype)

i = torch.ones((5, 3), dtype=torch.int16)
print(i)

torch.manual_seed(1729)
r1 = torch.rand(2, 2)
print('A random tensor:')
print(r1)

r2 = torch.rand(2, 2)
print('\nA different random tensor:')
print(r2) # new values

torch.manual_seed(1729)
r3 = torch.rand(2, 2)
print('\nShould match r1:')
print(r3) # repeats values of r1 because of re-seed

ones = torch.ones(2, 3)
print(ones)

twos = torch.ones(2, 3) * 2 # every element is multiplied by 2
print(twos)

threes = ones + twos       # addition allowed because shapes are similar
print(threes)              # tensors are added element-wise
print(threes.shape)        # this has the same dimensions as input tensors

r1 = torch.rand(2, 3)
r2 = torch.rand(3, 2)

r = (torch.rand(2, 2) - 0.5) * 2 # values between -1 and 1
print('A random matrix, r:')
print(r)

print('\nAbsolute value of r:')
print(torch.abs(r))

print('\nInverse sine of r:')
print(torch.asin(r))

print('\nDeterminant of r:')
print(torch.det(r))
print('\nSingular value decomposition of r:')
print(torch.svd(r))

print('\nAverage and standard deviation of r:')
print(torch.std_mean(r))
print('\nMaximum value of r:')
print(torch.max(r))
'''

LENET = r'''

import torch                     # for all things PyTorch
import torch.nn as nn            # for torch.nn.Module, the parent object for PyTorch models
import torch.nn.functional as F  # for the activation function


class LeNet(nn.Module):

    def __init__(self):
        super(LeNet, self).__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)  # 5*5 from image dimension
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(-1, self.num_flat_features(x))
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x

    def num_flat_features(self, x):
        size = x.size()[1:]  # all dimensions except the batch dimension
        num_features = 1
        for s in size:
            num_features *= s
        return num_features


net = LeNet()
print(net)                         # what does the object tell us about itself?

input = torch.rand(1, 1, 32, 32)   # stand-in for a 32x32 black & white image
print('\nImage batch shape:')
print(input.shape)

output = net(input)                # we don't call forward() directly
print('\nRaw output:')
print(output)
print(output.shape)
'''

CIFAR = r'''
import torch
import torchvision
import torchvision.transforms as transforms

transform = transforms.Compose(
    [transforms.ToTensor(),
     transforms.Normalize((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))])

trainset = torchvision.datasets.CIFAR10(root='./data', train=True,
                                        download=True, transform=transform)

trainloader = torch.utils.data.DataLoader(trainset, batch_size=4,
                                          shuffle=True, num_workers=2)

import matplotlib.pyplot as plt
import numpy as np

classes = ('plane', 'car', 'bird', 'cat',
           'deer', 'dog', 'frog', 'horse', 'ship', 'truck')

def imshow(img):
    img = img / 2 + 0.5     # unnormalize
    npimg = img.numpy()
    plt.imshow(np.transpose(npimg, (1, 2, 0)))


dataiter = iter(trainloader)
images, labels = next(dataiter)

imshow(torchvision.utils.make_grid(images))
print(' '.join('%5s' % classes[labels[j]] for j in range(4)))

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim

import torchvision
import torchvision.transforms as transforms

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

transform = transforms.Compose(
    [transforms.ToTensor(),
     transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])

trainset = torchvision.datasets.CIFAR10(root='./data', train=True,
                                        download=True, transform=transform)
trainloader = torch.utils.data.DataLoader(trainset, batch_size=4,
                                          shuffle=True, num_workers=2)

testset = torchvision.datasets.CIFAR10(root='./data', train=False,
                                       download=True, transform=transform)
testloader = torch.utils.data.DataLoader(testset, batch_size=4,
                                         shuffle=False, num_workers=2)

classes = ('plane', 'car', 'bird', 'cat',
           'deer', 'dog', 'frog', 'horse', 'ship', 'truck')

import matplotlib.pyplot as plt
import numpy as np



def imshow(img):
    img = img / 2 + 0.5     # unnormalize
    npimg = img.numpy()
    plt.imshow(np.transpose(npimg, (1, 2, 0)))


dataiter = iter(trainloader)
images, labels = next(dataiter)

imshow(torchvision.utils.make_grid(images))
print(' '.join('%5s' % classes[labels[j]] for j in range(4)))

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
        x = x.view(-1, 16 * 5 * 5)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


net = Net()

criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)

for epoch in range(2):  # loop over the dataset multiple times

    running_loss = 0.0
    for i, data in enumerate(trainloader, 0):
        inputs, labels = data

        optimizer.zero_grad()

        outputs = net(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()

        running_loss += loss.item()
        if i % 2000 == 1999:    # print every 2000 mini-batches
            print('[%d, %5d] loss: %.3f' %
                  (epoch + 1, i + 1, running_loss / 2000))
            running_loss = 0.0

print('Finished Training')

correct = 0
total = 0
with torch.no_grad():
    for data in testloader:
        images, labels = data
        outputs = net(images)
        _, predicted = torch.max(outputs.data, 1)
        total += labels.size(0)
        correct += (predicted == labels).sum().item()

print('Accuracy of the network on the 10000 test images: %d %%' % (
    100 * correct / total))
'''


def _numbers_hidden(text: str) -> str:
    return "".join(re.sub(r"-?\d+\.\d+(e[-+]\d+)?", "#", text).split())


def test_tensors_print_as_torch_prints():
    ns = run(TENSORS)
    theirs = run_torch(TENSORS)
    # Random values differ between the generators; layout, dtypes and result types do not.
    assert _numbers_hidden(ns["_stdout"]) == _numbers_hidden(theirs["_stdout"])
    out = ns["_stdout"]
    first, again = out.split("A random tensor:\n")[1].split("\n")[:2], out.split("Should match r1:\n")[1].split("\n")[:2]
    assert first == again  # manual_seed(1729) repeats the draw
    assert "torch.return_types.svd(" in out and "dtype=torch.int16)" in out


def test_lenet():
    ns = run(LENET)
    assert ns["output"].shape == (1, 10)
    assert "(fc1): Linear(in_features=400, out_features=120, bias=True)" in ns["_stdout"]
    assert "Image batch shape:\ntorch.Size([1, 1, 32, 32])" in ns["_stdout"]


@pytest.fixture
def cifar_dir(tmp_path, monkeypatch):
    md5 = write_cifar10(tmp_path / "data", per_batch=80)
    monkeypatch.setattr(CIFAR10, "train_list", [[f"data_batch_{i}", md5[f"data_batch_{i}"]] for i in range(1, 6)])
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", md5["test_batch"]]])
    monkeypatch.chdir(tmp_path)
    ember.manual_seed(0)
    return tmp_path


def test_cifar10_training(cifar_dir):
    ns = run(CIFAR, modules=MATPLOTLIB)
    lines = ns["_stdout"].splitlines()
    assert len(lines[0].split()) == 4 and set(lines[0].split()) <= set(ns["classes"])
    assert lines[2] == "Finished Training"
    accuracy = int(re.search(r"test images: (\d+) %", lines[3]).group(1))
    assert ns["total"] == 20 and accuracy == 100 * ns["correct"] // 20
    # 200 steps at the tutorial's lr=0.001: the training loss has fallen below a fresh net's.
    images = ember.stack([ns["trainset"][i][0] for i in range(400)])
    targets = ember.tensor([ns["trainset"][i][1] for i in range(400)])
    with ember.no_grad():
        trained = ns["criterion"](ns["net"](images), targets).item()
        fresh = ns["criterion"](ns["Net"]()(images), targets).item()
    assert trained < fresh - 0.005, (trained, fresh)
