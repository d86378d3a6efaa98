"""Acceptance: pytorch/examples ``mnist_rnn/main.py`` runs unchanged on ember.

The example (BSD-3-Clause) reads each 28x28 digit as 28 rows into an ``nn.LSTM``
(``batch_first``), then ``BatchNorm1d``, ``Dropout2d`` on a 2-D batch, Adadelta and ``StepLR``;
it reads a tiny MNIST written as IDX files under ``../data``.
"""

import re
import sys

from acceptance_runner import run, write_mnist

import ember

MNIST_RNN_MAIN = r"""
from __future__ import print_function

import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR
from torchvision import datasets, transforms


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.rnn = nn.LSTM(input_size=28, hidden_size=64, batch_first=True)
        self.batchnorm = nn.BatchNorm1d(64)
        self.dropout1 = nn.Dropout2d(0.25)
        self.dropout2 = nn.Dropout2d(0.5)
        self.fc1 = nn.Linear(64, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, input):
        # Shape of input is (batch_size,1, 28, 28)
        # converting shape of input to (batch_size, 28, 28)
        # as required by RNN when batch_first is set True
        input = input.reshape(-1, 28, 28)
        output, hidden = self.rnn(input)

        # RNN output shape is (seq_len, batch, input_size)
        # Get last output of RNN
        output = output[:, -1, :]
        output = self.batchnorm(output)
        output = self.dropout1(output)
        output = self.fc1(output)
        output = F.relu(output)
        output = self.dropout2(output)
        output = self.fc2(output)
        output = F.log_softmax(output, dim=1)
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
            print('Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(data), len(train_loader.dataset),
                       100. * batch_idx / len(train_loader), loss.item()))
            if args.dry_run:
                break


def test(args, model, device, test_loader):
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
            if args.dry_run:
                break

    test_loss /= len(test_loader.dataset)

    print('\nTest set: Average loss: {:.4f}, Accuracy: {}/{} ({:.0f}%)\n'.format(
        test_loss, correct, len(test_loader.dataset),
        100. * correct / len(test_loader.dataset)))


def main():
    # Training settings
    parser = argparse.ArgumentParser(description='PyTorch MNIST Example using RNN')
    parser.add_argument('--batch-size', type=int, default=64, metavar='N',
                        help='input batch size for training (default: 64)')
    parser.add_argument('--test-batch-size', type=int, default=1000, metavar='N',
                        help='input batch size for testing (default: 1000)')
    parser.add_argument('--epochs', type=int, default=14, metavar='N',
                        help='number of epochs to train (default: 14)')
    parser.add_argument('--lr', type=float, default=0.1, metavar='LR',
                        help='learning rate (default: 0.1)')
    parser.add_argument('--gamma', type=float, default=0.7, metavar='M',
                        help='learning rate step gamma (default: 0.7)')
    parser.add_argument('--cuda', action='store_true', default=False,
                        help='enables CUDA training')
    parser.add_argument('--mps', action="store_true",
                        help="enables MPS training")
    parser.add_argument('--xpu', action='store_true',
                        help='enables XPU training')
    parser.add_argument('--dry-run', action='store_true',
                        help='quickly check a single pass')
    parser.add_argument('--seed', type=int, default=1, metavar='S',
                        help='random seed (default: 1)')
    parser.add_argument('--log-interval', type=int, default=10, metavar='N',
                        help='how many batches to wait before logging training status')
    parser.add_argument('--save-model', action='store_true',
                        help='for Saving the current Model')
    args = parser.parse_args()

    if args.cuda and not args.mps:
        device = "cuda"
    elif args.mps and not args.cuda:
        device = "mps"
    elif args.xpu:
        device = "xpu"
    else:
        device = "cpu"

    device = torch.device(device)

    torch.manual_seed(args.seed)

    kwargs = {'num_workers': 1, 'pin_memory': True} if args.cuda else {}
    train_loader = torch.utils.data.DataLoader(
        datasets.MNIST('../data', train=True, download=True,
                       transform=transforms.Compose([
                           transforms.ToTensor(),
                           transforms.Normalize((0.1307,), (0.3081,))
                       ])),
        batch_size=args.batch_size, shuffle=True, **kwargs)
    test_loader = torch.utils.data.DataLoader(
        datasets.MNIST('../data', train=False, transform=transforms.Compose([
            transforms.ToTensor(),
            transforms.Normalize((0.1307,), (0.3081,))
        ])),
        batch_size=args.test_batch_size, shuffle=True, **kwargs)

    model = Net().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=args.lr)

    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    for epoch in range(1, args.epochs + 1):
        train(args, model, device, train_loader, optimizer, epoch)
        test(args, model, device, test_loader)
        scheduler.step()

    if args.save_model:
        torch.save(model.state_dict(), "mnist_rnn.pt")


if __name__ == '__main__':
    main()
"""


def test_mnist_rnn_trains_and_saves(tmp_path, monkeypatch):
    write_mnist(tmp_path / "data", n_train=64, n_test=20)
    workdir = tmp_path / "mnist_rnn"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    monkeypatch.setattr(sys, "argv", ["main.py", "--batch-size", "8", "--test-batch-size", "10",
                                      "--epochs", "4", "--lr", "1.0", "--gamma", "1.0",
                                      "--log-interval", "1",
                                      "--save-model"])
    ns = run(MNIST_RNN_MAIN, __name__="__main__")
    out = ns["_stdout"]
    losses = [float(x) for x in re.findall(r"\tLoss: ([0-9.]+)", out)]
    assert len(losses) == 32, out
    assert sum(losses[-8:]) < sum(losses[:8]), losses
    # The LSTM must carry the bar's row to its last step: slow on 64 images (PyTorch gives the
    # same losses), but above chance (2 of 20), with a falling test loss.
    accuracy = [int(x) for x in re.findall(r"Accuracy: (\d+)/20", out)]
    assert len(accuracy) == 4 and accuracy[-1] >= 4, out  # twice chance (2 of 20)
    test_loss = [float(x) for x in re.findall(r"Average loss: ([0-9.]+)", out)]
    assert test_loss[-1] < test_loss[0], test_loss
    state = ember.load(workdir / "mnist_rnn.pt")
    assert state["rnn.weight_ih_l0"].shape == (4 * 64, 28)
    assert state["batchnorm.num_batches_tracked"].item() == 32
    model = ns["Net"]()
    model.load_state_dict(state)
    assert ember.equal(model.fc2.weight, state["fc2.weight"])
