"""Acceptance: PyTorch's recipes (recipes_source/recipes/*.py) run on ember.

Code from pytorch/tutorials (BSD-3-Clause), prose and comments removed; data come from files
the tests write. Constants such as epoch counts are reduced where noted; API calls are unchanged.
"""

import re

import numpy as np
import pytest
from acceptance_runner import run, run_script, write_cifar10

import ember
from ember.vision.datasets import CIFAR10

# The model the state_dict / saving / loading recipes share.
RECIPE_NET = """
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

optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
"""

NET_KEYS = {"conv1.weight": (6, 3, 5, 5), "conv1.bias": (6,), "conv2.weight": (16, 6, 5, 5),
            "conv2.bias": (16,), "fc1.weight": (120, 400), "fc1.bias": (120,),
            "fc2.weight": (84, 120), "fc2.bias": (84,), "fc3.weight": (10, 84), "fc3.bias": (10,)}


# recipes/defining_a_neural_network.py
DEFINING_A_NEURAL_NETWORK = """
import torch
import torch.nn as nn
import torch.nn.functional as F

class Net(nn.Module):
    def __init__(self):
      super(Net, self).__init__()
      self.conv1 = nn.Conv2d(1, 32, 3, 1)
      self.conv2 = nn.Conv2d(32, 64, 3, 1)
      self.dropout1 = nn.Dropout2d(0.25)
      self.dropout2 = nn.Dropout2d(0.5)
      self.fc1 = nn.Linear(9216, 128)
      self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
      x = self.conv1(x)
      x = F.relu(x)
      x = self.conv2(x)
      x = F.relu(x)
      x = F.max_pool2d(x, 2)
      x = self.dropout1(x)
      x = x.flatten(start_dim=1)
      x = self.fc1(x)
      x = F.relu(x)
      x = self.dropout2(x)
      x = self.fc2(x)
      output = F.log_softmax(x, dim=1)
      return output

my_nn = Net()
print(my_nn)

random_data = torch.rand((1, 1, 28, 28))

my_nn = Net()
result = my_nn(random_data)
print (result)
"""


def test_defining_a_neural_network():
    # PyTorch warns too: dropout2 sees the 2-D output of fc1.
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout2d"):
        ns = run(DEFINING_A_NEURAL_NETWORK)
    result = ns["result"]
    assert result.shape == (1, 10) and result.grad_fn.name() == "LogSoftmaxBackward0"
    np.testing.assert_allclose(result.exp().sum().item(), 1.0, rtol=1e-5)
    assert "(dropout1): Dropout2d(p=0.25, inplace=False)" in ns["_stdout"]
    assert "(fc1): Linear(in_features=9216, out_features=128, bias=True)" in ns["_stdout"]


# recipes/what_is_state_dict.py (after the shared Net and optimizer)
WHAT_IS_STATE_DICT = """
print("Model's state_dict:")
for param_tensor in net.state_dict():
    print(param_tensor, "\\t", net.state_dict()[param_tensor].size())

print()

print("Optimizer's state_dict:")
for var_name in optimizer.state_dict():
    print(var_name, "\\t", optimizer.state_dict()[var_name])
"""


def test_what_is_state_dict():
    ns = run(RECIPE_NET + WHAT_IS_STATE_DICT)
    out = ns["_stdout"]
    for key, shape in NET_KEYS.items():
        assert f"{key} \t torch.Size({list(shape)})" in out
    assert list(ns["net"].state_dict()) == list(NET_KEYS)
    # PyTorch 2's SGD param group, parameters numbered in order
    assert ("param_groups \t [{'lr': 0.001, 'momentum': 0.9, 'dampening': 0, 'weight_decay': 0, "
            "'nesterov': False, 'maximize': False, 'foreach': None, 'differentiable': False, "
            "'fused': None, 'params': [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]}]") in out
    assert "state \t {}" in out


# recipes/saving_and_loading_a_general_checkpoint.py
GENERAL_CHECKPOINT = """
EPOCH = 5
PATH = "model.pt"
LOSS = 0.4

torch.save({
            'epoch': EPOCH,
            'model_state_dict': net.state_dict(),
            'optimizer_state_dict': optimizer.state_dict(),
            'loss': LOSS,
            }, PATH)

model = Net()
optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)

checkpoint = torch.load(PATH)
model.load_state_dict(checkpoint['model_state_dict'])
optimizer.load_state_dict(checkpoint['optimizer_state_dict'])
epoch = checkpoint['epoch']
loss = checkpoint['loss']

model.eval()
# - or -
model.train()
"""


def test_saving_and_loading_a_general_checkpoint(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # One SGD step first, so that the checkpoint holds a momentum buffer per parameter.
    step = "import torch.nn.functional as F\nnet(torch.randn(2, 3, 32, 32)).sum().backward()\n" \
        "optimizer.step()\n"
    ns = run(RECIPE_NET + step + GENERAL_CHECKPOINT)
    assert ns["epoch"] == 5 and ns["loss"] == 0.4 and ns["model"].training
    for (name, p), q in zip(ns["net"].named_parameters(), ns["model"].parameters()):
        assert p is not q and ember.equal(p, q), name
    state = ns["optimizer"].state_dict()["state"]
    assert sorted(state) == list(range(10))
    saved = ember.load(tmp_path / "model.pt", weights_only=True)
    assert ember.equal(state[9]["momentum_buffer"],
                       saved["optimizer_state_dict"]["state"][9]["momentum_buffer"])


# recipes/saving_and_loading_models_for_inference.py, run as a script (pickling the whole
# model needs its class in an importable module, ``__main__``). Since PyTorch 2.6 the recipe
# passes ``weights_only=False`` to load a whole pickled model.
MODELS_FOR_INFERENCE = """
import torch.nn.functional as F
""" + RECIPE_NET + """
PATH = "state_dict_model.pt"

torch.save(net.state_dict(), PATH)

model = Net()
model.load_state_dict(torch.load(PATH))
model.eval()

PATH = "entire_model.pt"

torch.save(net, PATH)

model = torch.load(PATH, weights_only=False)
model.eval()

x = torch.randn(2, 3, 32, 32)
print("same outputs:", torch.equal(model(x), net(x)), type(model).__name__, model.training)
try:
    torch.load(PATH)
except Exception as e:
    print("weights_only load refused:", type(e).__name__)
"""


def test_saving_and_loading_models_for_inference(tmp_path):
    (tmp_path / "recipe.py").write_text(MODELS_FOR_INFERENCE)
    proc = run_script(tmp_path, "recipe.py")
    assert proc.returncode == 0, proc.stderr
    assert "same outputs: True Net False" in proc.stdout
    # PyTorch 2.6+ refuses a pickled class under the default weights_only=True, and so does ember
    assert "weights_only load refused: UnpicklingError" in proc.stdout
    state = ember.load(tmp_path / "state_dict_model.pt")
    assert {k: tuple(v.shape) for k, v in state.items()} == NET_KEYS


# recipes/warmstarting_model_using_parameters_from_a_different_model.py
WARMSTARTING = """
import torch
import torch.nn as nn
import torch.optim as optim

class NetA(nn.Module):
    def __init__(self):
        super(NetA, self).__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

netA = NetA()

class NetB(nn.Module):
    def __init__(self):
        super(NetB, self).__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

netB = NetB()

PATH = "model.pt"

torch.save(netA.state_dict(), PATH)

result = netB.load_state_dict(torch.load(PATH), strict=False)
"""


def test_warmstarting_model_from_a_different_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ns = run(WARMSTARTING)
    assert ns["result"].missing_keys == [] and ns["result"].unexpected_keys == []
    assert repr(ns["result"]) == "<All keys matched successfully>"
    for (name, a), b in zip(ns["netA"].named_parameters(), ns["netB"].parameters()):
        assert ember.equal(a, b), name
    # With a key that does not match, strict=False loads the rest and reports it.
    ns = run("""
    sd = netA.state_dict()
    sd["fc4.weight"] = sd.pop("fc3.weight")
    partial = NetB()
    result = partial.load_state_dict(sd, strict=False)
    """, ns)
    assert ns["result"].missing_keys == ["fc3.weight"]
    assert ns["result"].unexpected_keys == ["fc4.weight"]
    assert ember.equal(ns["partial"].fc3.bias, ns["netA"].fc3.bias)


# recipes/zeroing_out_gradients.py
ZEROING_OUT_GRADIENTS = """
import torch

import torch.nn as nn
import torch.nn.functional as F

import torch.optim as optim

import torchvision
import torchvision.transforms as transforms

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
criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)

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
            print('[%d, %5d] loss: %.3f' %
                  (epoch + 1, i + 1, running_loss / 2000))
            running_loss = 0.0

print('Finished Training')
"""


def test_zeroing_out_gradients_trains_on_cifar10(tmp_path, monkeypatch):
    md5 = write_cifar10(tmp_path / "data", per_batch=16, n_test=8)
    monkeypatch.setattr(CIFAR10, "train_list", [[f"data_batch_{i}", md5[f"data_batch_{i}"]]
                                                for i in range(1, 6)])
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", md5["test_batch"]]])
    monkeypatch.chdir(tmp_path)
    ember.manual_seed(0)
    # 80 images: 20 mini-batches per epoch, a loss line every 5 instead of every 2000.
    code = ZEROING_OUT_GRADIENTS.replace("i % 2000 == 1999", "i % 5 == 4").replace(
        "running_loss / 2000", "running_loss / 5").replace("lr=0.001", "lr=0.01")
    ns = run(code)
    out = ns["_stdout"]
    losses = [float(x) for x in re.findall(r"\] loss: ([0-9.]+)", out)]
    assert len(losses) == 2 * 4 and out.rstrip().endswith("Finished Training"), out
    assert np.mean(losses[-2:]) < np.mean(losses[:2]), losses
    params = list(ns["net"].parameters())
    assert all(p.grad is not None and bool(p.grad.isfinite().all()) for p in params)
    ns["optimizer"].zero_grad()
    assert all(p.grad is None for p in params)  # set_to_none, PyTorch 2's default
    assert len(ns["testset"]) == 8 and len(ns["trainset"]) == 80


# recipes/module_load_state_dict_tips.py: the vanilla path and ``torch.load(mmap=True)``
# (the ``torch.device('meta')`` parts need a meta device, which ember does not have).
MODULE_LOAD_TIPS = """
import torch
from torch import nn

class SomeModule(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linears = nn.ModuleList([nn.Linear(1, 1) for i in range(10)])

    def forward(self, x):
        return self.linears(x)


m = SomeModule()
torch.save(m.state_dict(), 'checkpoint.pth')
state_dict = torch.load('checkpoint.pth', mmap=True)

state_dict = torch.load('checkpoint.pth')
m2 = SomeModule()
m2.load_state_dict(state_dict)

state_dict = torch.load('checkpoint.pth', mmap=True)
m3 = SomeModule()
m3.load_state_dict(state_dict)
m4 = SomeModule()
m4.load_state_dict(state_dict, assign=True)
"""


def test_module_load_state_dict_tips(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ns = run(MODULE_LOAD_TIPS)
    m, sd = ns["m"], ns["state_dict"]
    assert len(sd) == 20
    for other in (ns["m2"], ns["m3"], ns["m4"]):
        for (name, p), q in zip(m.named_parameters(), other.parameters()):
            assert ember.equal(p, q) and isinstance(q, ember.nn.Parameter), name
    # assign=True adopts the loaded tensors themselves; a plain load copies into its own
    assert ns["m4"].linears[3].weight._data is sd["linears.3.weight"]._data
    assert ns["m3"].linears[3].weight._data is not sd["linears.3.weight"]._data


# recipes/swap_tensors.py, its first two cells (the rest needs ``__torch_dispatch__``
# subclasses and ``torch.__future__``, which ember does not have).
SWAP_TENSORS = """
import torch
import torch.nn as nn
t1 = torch.arange(2)
t2 = torch.arange(3)
print(f"Before swapping, t1: {t1}, t2: {t2}")
torch.utils.swap_tensors(t1, t2)
print(f"After swapping, t1: {t1}, t2: {t2}")

mod = torch.nn.Linear(1, 2, bias=False)
optimizer = torch.optim.SGD(mod.parameters())
print(f"weight in mod: {mod.weight}")
print(f"weight in optimizer: {optimizer.param_groups[0]['params']}")
mod.weight = torch.nn.Parameter(2 * mod.weight)
print(f"weight in mod: {mod.weight}")
print(f"weight in optimizer: {optimizer.param_groups[0]['params']}")
"""


def test_swap_tensors_recipe():
    ns = run(SWAP_TENSORS)
    out = ns["_stdout"]
    assert "Before swapping, t1: tensor([0, 1]), t2: tensor([0, 1, 2])" in out
    assert "After swapping, t1: tensor([0, 1, 2]), t2: tensor([0, 1])" in out
    # Replacing the Parameter leaves the optimizer holding the old one: the recipe's point.
    mod, opt = ns["mod"], ns["optimizer"]
    old = opt.param_groups[0]["params"][0]
    assert old is not mod.weight and ember.equal(mod.weight, 2 * old)
