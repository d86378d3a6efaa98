"""Acceptance: pytorch/examples ``mnist/main.py`` runs unchanged on ember.

The example's code (BSD-3-Clause) is kept as written, in its current revision (device from
``torch.accelerator``) and its 2023 revision (``torch.backends.mps``); it reads a tiny MNIST
written as IDX files under ``../data`` and is driven through its own argparse options.
"""

import re
import sys

import pytest
from acceptance_runner import run, write_mnist

import ember

MNIST_MAIN = """
import argparse
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torchvision import datasets, transforms
from torch.optim.lr_scheduler import StepLR


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        output = F.log_softmax(x, dim=1)
        return output


def train(args, model, device, train_loader, optimizer, epoch):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        if batch_idx % args.log_interval == 0:
            print('Train Epoch: {} [{}/{} ({:.0f}%)]\\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(data), len(train_loader.dataset),
                100. * batch_idx / len(train_loader), loss.item()))
            if args.dry_run:
                break


def test(model, device, test_loader):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction='sum').item()  # sum up batch loss
            pred = output.argmax(dim=1, keepdim=True)  # get the index of the max log-probability
            correct += pred.eq(target.view_as(pred)).sum().item()

    test_loss /= len(test_loader.dataset)

    print('\\nTest set: Average loss: {:.4f}, Accuracy: {}/{} ({:.0f}%)\\n'.format(
        test_loss, correct, len(test_loader.dataset),
        100. * correct / len(test_loader.dataset)))


def main():
    # Training settings
    parser = argparse.ArgumentParser(description='PyTorch MNIST Example')
    parser.add_argument('--batch-size', type=int, default=64, metavar='N',
                        help='input batch size for training (default: 64)')
    parser.add_argument('--test-batch-size', type=int, default=1000, metavar='N',
                        help='input batch size for testing (default: 1000)')
    parser.add_argument('--epochs', type=int, default=14, metavar='N',
                        help='number of epochs to train (default: 14)')
    parser.add_argument('--lr', type=float, default=1.0, metavar='LR',
                        help='learning rate (default: 1.0)')
    parser.add_argument('--gamma', type=float, default=0.7, metavar='M',
                        help='Learning rate step gamma (default: 0.7)')
    parser.add_argument('--no-accel', action='store_true',
                        help='disables accelerator')
    parser.add_argument('--dry-run', action='store_true',
                        help='quickly check a single pass')
    parser.add_argument('--seed', type=int, default=1, metavar='S',
                        help='random seed (default: 1)')
    parser.add_argument('--log-interval', type=int, default=10, metavar='N',
                        help='how many batches to wait before logging training status')
    parser.add_argument('--save-model', action='store_true',
                        help='For Saving the current Model')
    args = parser.parse_args()

    use_accel = not args.no_accel and torch.accelerator.is_available()

    torch.manual_seed(args.seed)

    if use_accel:
        device = torch.accelerator.current_accelerator()
    else:
        device = torch.device("cpu")

    train_kwargs = {'batch_size': args.batch_size}
    test_kwargs = {'batch_size': args.test_batch_size}
    if use_accel:
        accel_kwargs = {'num_workers': 1,
                        'persistent_workers': True,
                       'pin_memory': True,
                       'shuffle': True}
        train_kwargs.update(accel_kwargs)
        test_kwargs.update(accel_kwargs)

    transform=transforms.Compose([
        transforms.ToTensor(),
        transforms.Normalize((0.1307,), (0.3081,))
        ])
    dataset1 = datasets.MNIST('../data', train=True, download=True,
                       transform=transform)
    dataset2 = datasets.MNIST('../data', train=False,
                       transform=transform)
    train_loader = torch.utils.data.DataLoader(dataset1,**train_kwargs)
    test_loader = torch.utils.data.DataLoader(dataset2, **test_kwargs)

    model = Net().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=args.lr)

    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    for epoch in range(1, args.epochs + 1):
        train(args, model, device, train_loader, optimizer, epoch)
        test(model, device, test_loader)
        scheduler.step()

    if args.save_model:
        torch.save(model.state_dict(), "mnist_cnn.pt")


if __name__ == '__main__':
    main()
"""

# The 2023 revision picks the device with torch.cuda / torch.backends.mps instead.
ACCEL_DEVICE = """
    use_accel = not args.no_accel and torch.accelerator.is_available()

    torch.manual_seed(args.seed)

    if use_accel:
        device = torch.accelerator.current_accelerator()
    else:
        device = torch.device("cpu")
"""
MPS_DEVICE = """
    use_cuda = not args.no_cuda and torch.cuda.is_available()
    use_mps = not args.no_mps and torch.backends.mps.is_available()
    use_accel = use_cuda

    torch.manual_seed(args.seed)

    if use_cuda:
        device = torch.device("cuda")
    elif use_mps:
        device = torch.device("mps")
    else:
        device = torch.device("cpu")
"""
ACCEL_OPTION = """    parser.add_argument('--no-accel', action='store_true',
                        help='disables accelerator')
"""
MPS_OPTIONS = """    parser.add_argument('--no-cuda', action='store_true', default=False,
                        help='disables CUDA training')
    parser.add_argument('--no-mps', action='store_true', default=False,
                        help='disables macOS GPU training')
"""
MNIST_MAIN_2023 = MNIST_MAIN.replace(ACCEL_DEVICE, MPS_DEVICE).replace(ACCEL_OPTION, MPS_OPTIONS)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """``tmp/run`` as the working directory, a tiny MNIST in ``tmp/data`` (the '../data')."""
    write_mnist(tmp_path / "data", n_train=48, n_test=20)
    (tmp_path / "run").mkdir()
    monkeypatch.chdir(tmp_path / "run")
    return tmp_path / "run"


def _train_losses(out: str) -> list:
    return [float(x) for x in re.findall(r"\tLoss: ([0-9.]+)", out)]


@pytest.mark.parametrize("code,accel_flag", [(MNIST_MAIN, "--no-accel"),
                                             (MNIST_MAIN_2023, "--no-cuda")],
                         ids=["accelerator", "mps-2023"])
def test_mnist_main_trains_and_saves(workdir, monkeypatch, code, accel_flag):
    assert MNIST_MAIN_2023 != MNIST_MAIN
    monkeypatch.setattr(sys, "argv", ["main.py", "--batch-size", "8", "--test-batch-size", "10",
                                      "--epochs", "2", "--log-interval", "1", "--save-model",
                                      accel_flag])
    ns = run(code, __name__="__main__")
    out = ns["_stdout"]
    losses = _train_losses(out)
    assert len(losses) == 12, out
    assert sum(losses[-3:]) < sum(losses[:3]), losses
    accuracy = [int(x) for x in re.findall(r"Accuracy: (\d+)/20", out)]
    assert len(accuracy) == 2 and accuracy[-1] >= 10, out
    state = ember.load(workdir / "mnist_cnn.pt")
    model = ns["Net"]()
    model.load_state_dict(state)
    assert ember.equal(model.fc2.weight, state["fc2.weight"])
    assert state["conv1.weight"].shape == (32, 1, 3, 3)


def test_mnist_main_dry_run_stops_after_first_batch(workdir, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["main.py", "--batch-size", "8", "--test-batch-size", "20",
                                      "--epochs", "1", "--dry-run"])
    out = run(MNIST_MAIN, __name__="__main__")["_stdout"]
    assert len(_train_losses(out)) == 1
    assert "Test set: Average loss:" in out
    assert not (workdir / "mnist_cnn.pt").exists()
