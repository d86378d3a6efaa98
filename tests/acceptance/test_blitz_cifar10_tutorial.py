"""Acceptance: the 60-minute blitz "Training a Classifier" (cifar10_tutorial.py) on ember.

The tutorial's code (pytorch/tutorials, BSD-3-Clause) runs as written on a tiny CIFAR-10 in the
real on-disk format (pickled batches in ``./data/cifar-10-batches-py``): ``download=True``
verifies the local batches (their md5s are patched to the synthetic files' so nothing is
fetched), DataLoaders run with ``num_workers=2``, LeNet trains with SGD + momentum, the state
dict is saved and reloaded with ``weights_only=True``, and accuracy is measured. Only the
logging interval (every 2000 mini-batches) is shortened and the learning rate raised (100 steps
instead of 25,000); matplotlib is a recording stub.
"""

import re

from acceptance_runner import run, write_cifar10

import ember
from ember.vision.datasets import CIFAR10

CIFAR10_TUTORIAL = r"""
import torch
import torchvision
import torchvision.transforms as transforms

########################################################################
# The output of torchvision datasets are PILImage images of range [0, 1].
# We transform them to Tensors of normalized range [-1, 1].

transform = transforms.Compose(
    [transforms.ToTensor(),
     transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])

batch_size = 4

trainset = torchvision.datasets.CIFAR10(root='./data', train=True,
                                        download=True, transform=transform)
trainloader = torch.utils.data.DataLoader(trainset, batch_size=batch_size,
                                          shuffle=True, num_workers=2)

testset = torchvision.datasets.CIFAR10(root='./data', train=False,
                                       download=True, transform=transform)
testloader = torch.utils.data.DataLoader(testset, batch_size=batch_size,
                                         shuffle=False, num_workers=2)

classes = ('plane', 'car', 'bird', 'cat',
           'deer', 'dog', 'frog', 'horse', 'ship', 'truck')

########################################################################
# Let us show some of the training images, for fun.

import matplotlib.pyplot as plt
import numpy as np

# functions to show an image


def imshow(img):
    img = img / 2 + 0.5     # unnormalize
    npimg = img.numpy()
    plt.imshow(np.transpose(npimg, (1, 2, 0)))
    plt.show()


# get some random training images
dataiter = iter(trainloader)
images, labels = next(dataiter)

# show images
imshow(torchvision.utils.make_grid(images))
# print labels
print(' '.join(f'{classes[labels[j]]:5s}' for j in range(batch_size)))


########################################################################
# 2. Define a Convolutional Neural Network

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


net = Net()

########################################################################
# 3. Define a Loss function and optimizer

import torch.optim as optim

criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)

########################################################################
# 4. Train the network

for epoch in range(2):  # loop over the dataset multiple times

    running_loss = 0.0
    for i, data in enumerate(trainloader, 0):
        # get the inputs; data is a list of [inputs, labels]
        inputs, labels = data

        # zero the parameter gradients
        optimizer.zero_grad()

        # forward + backward + optimize
        outputs = net(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()

        # print statistics
        running_loss += loss.item()
        if i % 2000 == 1999:    # print every 2000 mini-batches
            print(f'[{epoch + 1}, {i + 1:5d}] loss: {running_loss / 2000:.3f}')
            running_loss = 0.0

print('Finished Training')

########################################################################
# Let's quickly save our trained model:

PATH = './cifar_net.pth'
torch.save(net.state_dict(), PATH)

########################################################################
# 5. Test the network on the test data

dataiter = iter(testloader)
images, labels = next(dataiter)

# print images
imshow(torchvision.utils.make_grid(images))
print('GroundTruth: ', ' '.join(f'{classes[labels[j]]:5s}' for j in range(4)))

########################################################################
# Next, let's load back in our saved model (note: saving and re-loading the model
# wasn't necessary here, we only did it to illustrate how to do so):

net = Net()
net.load_state_dict(torch.load(PATH, weights_only=True))

########################################################################
# Okay, now let us see what the neural network thinks these examples above are:

outputs = net(images)

_, predicted = torch.max(outputs, 1)

print('Predicted: ', ' '.join(f'{classes[predicted[j]]:5s}'
                              for j in range(4)))

########################################################################
# Let us look at how the network performs on the whole dataset.

correct = 0
total = 0
# since we're not training, we don't need to calculate the gradients for our outputs
with torch.no_grad():
    for data in testloader:
        images, labels = data
        # calculate outputs by running images through the network
        outputs = net(images)
        # the class with the highest energy is what we choose as prediction
        _, predicted = torch.max(outputs, 1)
        total += labels.size(0)
        correct += (predicted == labels).sum().item()

print(f'Accuracy of the network on the 10000 test images: {100 * correct // total} %')

########################################################################
# what are the classes that performed well, and the classes that did
# not perform well:

# prepare to count predictions for each class
correct_pred = {classname: 0 for classname in classes}
total_pred = {classname: 0 for classname in classes}

# again no gradients needed
with torch.no_grad():
    for data in testloader:
        images, labels = data
        outputs = net(images)
        _, predictions = torch.max(outputs, 1)
        # collect the correct predictions for each class
        for label, prediction in zip(labels, predictions):
            if label == prediction:
                correct_pred[classes[label]] += 1
            total_pred[classes[label]] += 1


# print accuracy for each class
for classname, correct_count in correct_pred.items():
    accuracy = 100 * float(correct_count) / total_pred[classname]
    print(f'Accuracy for class: {classname:5s} is {accuracy:.1f} %')

########################################################################
# Training on GPU

device = torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')

# Assuming that we are on a CUDA machine, this should print a CUDA device:

print(device)

# %%%%%%INVISIBLE_CODE_BLOCK%%%%%%
del dataiter
# %%%%%%INVISIBLE_CODE_BLOCK%%%%%%
"""

PYPLOT_STUB = """
shown = []


def imshow(image):
    shown.append(image)


def show():
    pass
"""


def test_cifar10_tutorial_trains_a_classifier(tmp_path, monkeypatch):
    md5 = write_cifar10(tmp_path / "data", per_batch=40, n_test=20)
    monkeypatch.setattr(CIFAR10, "train_list", [[f"data_batch_{i}", md5[f"data_batch_{i}"]]
                                                for i in range(1, 6)])
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", md5["test_batch"]]])
    monkeypatch.chdir(tmp_path)
    # 100 steps instead of 25,000: a larger step size, and a loss line every 10 mini-batches.
    code = CIFAR10_TUTORIAL.replace("i % 2000 == 1999", "i % 10 == 9").replace(
        "running_loss / 2000", "running_loss / 10").replace("lr=0.001", "lr=0.01")
    ns = run(code, modules={"matplotlib": "", "matplotlib.pyplot": PYPLOT_STUB})
    out = ns["_stdout"]
    losses = [float(x) for x in re.findall(r"\] loss: ([0-9.]+)", out)]
    assert len(losses) == 2 * 5, out  # 200 images / 4 per batch = 50 batches per epoch
    assert losses[-1] < losses[0] - 0.3, losses
    assert "Finished Training" in out and "GroundTruth: " in out and "Predicted: " in out
    accuracy = int(re.search(r"test images: (\d+) %", out).group(1))
    assert accuracy >= 30, out  # ten colour-coded classes: chance is 10 %
    assert len(re.findall(r"Accuracy for class: \w+ +is [0-9.]+ %", out)) == 10
    # imshow got make_grid's 4 images side by side, unnormalized to [0, 1], as HWC
    shown = ns["plt"].shown
    assert len(shown) == 2 and shown[0].shape == (36, 4 * 34 + 2, 3)
    assert 0 <= shown[0].min() and shown[0].max() <= 1
    reloaded = ember.load(tmp_path / "cifar_net.pth", weights_only=True)
    assert ember.equal(reloaded["fc3.weight"], ns["net"].fc3.weight)
    assert len(ns["trainset"]) == 200 and ns["trainset"].data.shape == (200, 32, 32, 3)
