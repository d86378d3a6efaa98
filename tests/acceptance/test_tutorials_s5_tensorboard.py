"""Acceptance: the TensorBoard tutorials run on ember; what they log is read back with
TensorBoard's own event reader.

Code from pytorch/tutorials (BSD-3-Clause), prose and comments removed:
beginner_source/introyt/tensorboardyt_tutorial.py (reduced: the validation interval, every 1000
mini-batches -> every 16, as the data set is 128 images) and the "Visualizing models, data and
training with TensorBoard" tutorial (beginner_source/blitz/tensorboard_tutorial.py, with
``next(dataiter)`` for ``dataiter.next()`` as in its maintained revision,
intermediate_source/tensorboard_tutorial.rst; unchanged otherwise, so its every-1000-batches
``add_figure`` branch, which needs a real Matplotlib, does not run on the small data set).
``torchvision.datasets.FashionMNIST('./data', download=True)`` finds small idx files already in
``data/FashionMNIST/raw`` and downloads nothing; matplotlib is a stub.
"""
# The tutorial's code is kept verbatim, long lines and trailing spaces included.
# ruff: noqa: E501, W291, W293

import numpy as np
import pytest
from acceptance_runner import MATPLOTLIB, run, write_idx

import ember

TENSORBOARD_YT = r'''
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim

import torchvision
import torchvision.transforms as transforms

import matplotlib.pyplot as plt
import numpy as np

from torch.utils.tensorboard import SummaryWriter

transform = transforms.Compose(
    [transforms.ToTensor(),
    transforms.Normalize((0.5,), (0.5,))])

training_set = torchvision.datasets.FashionMNIST('./data',
    download=True,
    train=True,
    transform=transform)
validation_set = torchvision.datasets.FashionMNIST('./data',
    download=True,
    train=False,
    transform=transform)

training_loader = torch.utils.data.DataLoader(training_set,
                                              batch_size=4,
                                              shuffle=True,
                                              num_workers=2)


validation_loader = torch.utils.data.DataLoader(validation_set,
                                                batch_size=4,
                                                shuffle=False,
                                                num_workers=2)

classes = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
        'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle Boot')

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

writer = SummaryWriter('runs/fashion_mnist_experiment_1')

writer.add_image('Four Fashion-MNIST Images', img_grid)
writer.flush()

class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
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
    

net = Net()
criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)

print(len(validation_loader))
for epoch in range(1):  # loop over the dataset multiple times
    running_loss = 0.0

    for i, data in enumerate(training_loader, 0):
        # basic training loop
        inputs, labels = data
        optimizer.zero_grad()
        outputs = net(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()

        running_loss += loss.item()
        if i % 16 == 15:    # Every 1000 mini-batches...
            print('Batch {}'.format(i + 1))
            # Check against the validation set
            running_vloss = 0.0
            
            net.train(False) # Don't need to track gradents for validation
            for j, vdata in enumerate(validation_loader, 0):
                vinputs, vlabels = vdata
                voutputs = net(vinputs)
                vloss = criterion(voutputs, vlabels)
                running_vloss += vloss.item()
            net.train(True) # Turn gradients back on for training
            
            avg_loss = running_loss / 16
            avg_vloss = running_vloss / len(validation_loader)
            
            # Log the running loss averaged per batch
            writer.add_scalars('Training vs. Validation Loss',
                            { 'Training' : avg_loss, 'Validation' : avg_vloss },
                            epoch * len(training_loader) + i)

            running_loss = 0.0
print('Finished Training')

writer.flush()

dataiter = iter(training_loader)
images, labels = next(dataiter)

writer.add_graph(net, images)
writer.flush()

def select_n_random(data, labels, n=100):
    assert len(data) == len(labels)

    perm = torch.randperm(len(data))
    return data[perm][:n], labels[perm][:n]

images, labels = select_n_random(training_set.data, training_set.targets)

class_labels = [classes[label] for label in labels]

features = images.view(-1, 28 * 28)
writer.add_embedding(features,
                    metadata=class_labels,
                    label_img=images.unsqueeze(1))
writer.flush()
writer.close()
'''


@pytest.fixture
def fashion_dir(tmp_path, monkeypatch):
    """``data/FashionMNIST/raw``: 128 train and 32 test images, class k a bright bar at rows
    2k..2k+1 on noise."""
    rng = np.random.default_rng(0)
    raw = tmp_path / "data" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, n in (("train", 128), ("t10k", 32)):
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


def test_tensorboard_yt(fashion_dir):
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    ns = run(TENSORBOARD_YT, modules=MATPLOTLIB)
    assert ns["_stdout"].split("\n")[:3] == ["8", "Batch 16", "Batch 32"]
    logdir = fashion_dir / "runs" / "fashion_mnist_experiment_1"

    def read(folder):
        acc = event_accumulator.EventAccumulator(str(folder), size_guidance={"images": 0})
        acc.Reload()
        return acc

    main = read(logdir)
    image = main.Images("Four Fashion-MNIST Images")[0]
    assert (image.height, image.width) == (32, 122)  # make_grid of 4 28x28 images, padding 2
    train = read(logdir / "Training vs. Validation Loss_Training").Scalars("Training vs. Validation Loss")
    valid = read(logdir / "Training vs. Validation Loss_Validation").Scalars("Training vs. Validation Loss")
    assert [e.step for e in train] == [e.step for e in valid] == [15, 31]
    assert all(0 < e.value < 5 for e in train + valid)
    graph = {n.name: n for n in main.Graph().node}
    assert list(graph["Net/Conv2d[conv1]/Convolution"].input)[0] == "input/input.0"
    assert "Net/Linear[fc3]/weight" in graph and "output/output.0" in graph
    projector = logdir / "00000" / "default"
    assert np.loadtxt(projector / "tensors.tsv").shape == (100, 784)
    labels = (projector / "metadata.tsv").read_text().splitlines()
    assert len(labels) == 100 and set(labels) <= set(ns["classes"])
    assert 'tensor_path: "00000/default/tensors.tsv"' in (logdir / "projector_config.pbtxt").read_text()


TENSORBOARD_TUTORIAL = r"""
import matplotlib.pyplot as plt
import numpy as np

import torch
import torchvision
import torchvision.transforms as transforms

import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim

transform = transforms.Compose(
    [transforms.ToTensor(),
     transforms.Normalize((0.5,), (0.5,))])

trainset = torchvision.datasets.FashionMNIST('./data', download=True, train=True, transform=transform)
testset = torchvision.datasets.FashionMNIST('./data', download=True, train=False, transform=transform)

trainloader = torch.utils.data.DataLoader(trainset, batch_size=4,
                                          shuffle=True, num_workers=2)


testloader = torch.utils.data.DataLoader(testset, batch_size=4,
                                         shuffle=False, num_workers=2)

classes = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 
           'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle Boot')

def matplotlib_imshow(img, one_channel=False):
    if one_channel:
        img = img.mean(dim=0)
    img = img / 2 + 0.5     # unnormalize
    npimg = img.numpy()
    if one_channel:
        plt.imshow(npimg, cmap="Greys")
    else:
        plt.imshow(np.transpose(npimg, (1, 2, 0)))     
    
class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
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


net = Net()

criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)

from torch.utils.tensorboard import SummaryWriter

writer = SummaryWriter('runs/fashion_mnist_experiment_1')

dataiter = iter(trainloader)
images, labels = next(dataiter)

img_grid = torchvision.utils.make_grid(images)
    
matplotlib_imshow(img_grid, one_channel=True)

writer.add_image('four_fashion_mnist_images', img_grid)

writer.add_graph(net, images)
writer.close() 

def select_n_random(data, labels, n=100):
    '''
    Selects n random datapoints and their corresponding labels from a dataset
    '''    
    assert len(data) == len(labels)
    
    perm = torch.randperm(len(data))
    return data[perm][:n], labels[perm][:n]

images, labels = select_n_random(trainset.data, trainset.targets)

class_labels = [classes[lab] for lab in labels]
 
features = images.view(-1, 28 * 28)
writer.add_embedding(features, 
                     metadata=class_labels, 
                     label_img=images.unsqueeze(1))
writer.close()

def images_to_probs(net, images):
    '''
    Generates predictions and corresponding probabilities from a trained 
    network and a list of images
    '''
    output = net(images)
    _, preds_tensor = torch.max(output, 1)
    preds = np.squeeze(preds_tensor.numpy()) 
    return preds, [F.softmax(el, dim=0)[i].item() for i, el in zip(preds, output)]


def plot_classes_preds(net, images, labels):
    '''
    Generates matplotlib Figure using a trained network, along with images 
    and labels from a batch, that shows the network's top prediction along
    with its probability, alongside the actual label, coloring this 
    information based on whether the prediction was correct or not.
    Uses the "images_to_probs" function.
    '''
    preds, probs = images_to_probs(net, images)
    fig = plt.figure(figsize=(12, 48))
    for idx in np.arange(4):
        ax = fig.add_subplot(1, 4, idx+1, xticks=[], yticks=[])
        matplotlib_imshow(images[idx], one_channel=True)
        ax.set_title("{0}, {1:.1f}%\n(label: {2})".format(
            classes[preds[idx]], 
            probs[idx] * 100.0, 
            classes[labels[idx]]),
                     color=("green" if preds[idx]==labels[idx].item() else "red"))
    return fig


running_loss = 0.0
for epoch in range(1):  # loop over the dataset multiple times
    
    for i, data in enumerate(trainloader, 0):
        
        inputs, labels = data

        optimizer.zero_grad()

        outputs = net(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
    
        running_loss += loss.item()
        if i % 1000 == 999:    # every 1000 mini-batches...

            writer.add_scalar('training loss',
                              running_loss / 2000,
                              epoch * len(trainloader) + i)

            writer.add_figure('predictions vs. actuals',
                              plot_classes_preds(net, inputs, labels),
                              global_step=epoch * len(trainloader) + i)
            running_loss = 0.0            
print('Finished Training')

class_probs = []
class_preds = []
with torch.no_grad():
    for data in testloader:
        images, labels = data
        output = net(images)
        class_probs_batch = [F.softmax(el, dim=0) for el in output]
        _, class_preds_batch = torch.max(output, 1)

        class_probs.append(class_probs_batch)
        class_preds.append(class_preds_batch)
        
test_probs = torch.cat([torch.stack(batch) for batch in class_probs])        
test_preds = torch.cat(class_preds)

def add_pr_curve_tensorboard(class_index, test_probs, test_preds, global_step=0):
    '''
    Takes in a "class_index" from 0 to 9 and plots the corresponding
    precision-recall curve
    '''
    tensorboard_preds = test_preds == class_index
    tensorboard_probs = test_probs[:, class_index]    

    writer.add_pr_curve(classes[class_index], 
                        tensorboard_preds,
                        tensorboard_probs,
                        global_step=global_step)
    writer.close()

for i in range(len(classes)):
    add_pr_curve_tensorboard(i, test_probs, test_preds)
"""


def test_tensorboard_tutorial(fashion_dir):
    """It logs again after each ``writer.close()``: PyTorch's writer opens a new event file."""
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    ns = run(TENSORBOARD_TUTORIAL, modules=MATPLOTLIB)
    assert ns["_stdout"] == "Finished Training\n"
    logdir = fashion_dir / "runs" / "fashion_mnist_experiment_1"
    acc = event_accumulator.EventAccumulator(str(logdir), size_guidance={"tensors": 0, "images": 0})
    acc.Reload()
    assert acc.Images("four_fashion_mnist_images")[0].width == 122
    assert "Net/Linear[fc1]/weight" in {n.name for n in acc.Graph().node}
    assert sorted(acc.Tags()["tensors"]) == sorted(ns["classes"])  # one PR curve per class
    curve = np.array(acc.Tensors("Sandal")[0].tensor_proto.float_val).reshape(6, -1)
    assert curve.shape == (6, 127)  # TP, FP, TN, FN, precision, recall at 127 thresholds
    assert curve[0, 0] + curve[1, 0] == 32  # every test image is counted at threshold 0
    assert ns["test_probs"].shape == (32, 10) and ns["test_preds"].shape == (32,)
    assert len(list(logdir.glob("events.out.tfevents.*"))) == 11  # reopened after each close
