"""Acceptance: pytorch/examples ``vae/main.py`` runs unchanged on ember.

The example (BSD-3-Clause) trains its VAE (``F.binary_cross_entropy`` with reduction='sum',
the KL term, ``randn_like`` reparameterisation, Adam) on a tiny MNIST written as IDX files under
``../data`` and writes reconstructions and samples with ``torchvision.utils.save_image``.
"""

import re
import sys

import numpy as np
from acceptance_runner import run, write_mnist

VAE_MAIN = """
from __future__ import print_function
import argparse
import torch
import torch.utils.data
from torch import nn, optim
from torch.nn import functional as F
from torchvision import datasets, transforms
from torchvision.utils import save_image


parser = argparse.ArgumentParser(description='VAE MNIST Example')
parser.add_argument('--batch-size', type=int, default=128, metavar='N',
                    help='input batch size for training (default: 128)')
parser.add_argument('--epochs', type=int, default=10, metavar='N',
                    help='number of epochs to train (default: 10)')
parser.add_argument('--no-cuda', action='store_true', default=False,
                    help='enables CUDA training')
parser.add_argument('--seed', type=int, default=1, metavar='S',
                    help='random seed (default: 1)')
parser.add_argument('--log-interval', type=int, default=10, metavar='N',
                    help='how many batches to wait before logging training status')
args = parser.parse_args()
args.cuda = not args.no_cuda and torch.cuda.is_available()

torch.manual_seed(args.seed)

device = torch.device("cuda" if args.cuda else "cpu")

kwargs = {'num_workers': 1, 'pin_memory': True} if args.cuda else {}
train_loader = torch.utils.data.DataLoader(
    datasets.MNIST('../data', train=True, download=True,
                   transform=transforms.ToTensor()),
    batch_size=args.batch_size, shuffle=True, **kwargs)
test_loader = torch.utils.data.DataLoader(
    datasets.MNIST('../data', train=False, transform=transforms.ToTensor()),
    batch_size=args.batch_size, shuffle=True, **kwargs)


class VAE(nn.Module):
    def __init__(self):
        super(VAE, self).__init__()

        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5*logvar)
        eps = torch.randn_like(std)
        return mu + eps*std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


model = VAE().to(device)
optimizer = optim.Adam(model.parameters(), lr=1e-3)


# Reconstruction + KL divergence losses summed over all elements and batch
def loss_function(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction='sum')

    # see Appendix B from VAE paper:
    # Kingma and Welling. Auto-Encoding Variational Bayes. ICLR, 2014
    # https://arxiv.org/abs/1312.6114
    # 0.5 * sum(1 + log(sigma^2) - mu^2 - sigma^2)
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())

    return BCE + KLD


def train(epoch):
    model.train()
    train_loss = 0
    for batch_idx, (data, _) in enumerate(train_loader):
        data = data.to(device)
        optimizer.zero_grad()
        recon_batch, mu, logvar = model(data)
        loss = loss_function(recon_batch, data, mu, logvar)
        loss.backward()
        train_loss += loss.item()
        optimizer.step()
        if batch_idx % args.log_interval == 0:
            print('Train Epoch: {} [{}/{} ({:.0f}%)]\\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(data), len(train_loader.dataset),
                100. * batch_idx / len(train_loader),
                loss.item() / len(data)))

    print('====> Epoch: {} Average loss: {:.4f}'.format(
          epoch, train_loss / len(train_loader.dataset)))


def test(epoch):
    model.eval()
    test_loss = 0
    with torch.no_grad():
        for i, (data, _) in enumerate(test_loader):
            data = data.to(device)
            recon_batch, mu, logvar = model(data)
            test_loss += loss_function(recon_batch, data, mu, logvar).item()
            if i == 0:
                n = min(data.size(0), 8)
                comparison = torch.cat([data[:n],
                                      recon_batch.view(args.batch_size, 1, 28, 28)[:n]])
                save_image(comparison.cpu(),
                         'results/reconstruction_' + str(epoch) + '.png', nrow=n)

    test_loss /= len(test_loader.dataset)
    print('====> Test set loss: {:.4f}'.format(test_loss))

if __name__ == "__main__":
    for epoch in range(1, args.epochs + 1):
        train(epoch)
        test(epoch)
        with torch.no_grad():
            sample = torch.randn(64, 20).to(device)
            sample = model.decode(sample).cpu()
            save_image(sample.view(64, 1, 28, 28),
                       'results/sample_' + str(epoch) + '.png')
"""


def test_vae_trains_and_saves_images(tmp_path, monkeypatch):
    from PIL import Image
    write_mnist(tmp_path / "data", n_train=64, n_test=16)
    run_dir = tmp_path / "vae"
    (run_dir / "results").mkdir(parents=True)
    monkeypatch.chdir(run_dir)
    monkeypatch.setattr(sys, "argv", ["main.py", "--batch-size", "16", "--epochs", "3",
                                      "--log-interval", "2"])
    out = run(VAE_MAIN, __name__="__main__")["_stdout"]
    train_loss = [float(x) for x in re.findall(r"====> Epoch: \d Average loss: ([0-9.]+)", out)]
    test_loss = [float(x) for x in re.findall(r"====> Test set loss: ([0-9.]+)", out)]
    assert len(train_loss) == 3 and len(test_loss) == 3, out
    # Per image, the summed BCE starts near 784 * ln 2 (a uniform guess) and must fall.
    assert train_loss[-1] < train_loss[0] < 784 * np.log(2) + 50, train_loss
    assert test_loss[-1] < test_loss[0], test_loss
    assert len(re.findall(r"Train Epoch: 1 \[(0|32)/64", out)) == 2, out
    # 8 originals over 8 reconstructions, and an 8x8 grid of samples (28 px + 2 px padding).
    recon = Image.open(run_dir / "results" / "reconstruction_3.png")
    assert recon.size == (8 * 30 + 2, 2 * 30 + 2) and recon.mode == "RGB"
    sample = np.asarray(Image.open(run_dir / "results" / "sample_3.png"))
    assert sample.shape == (8 * 30 + 2, 8 * 30 + 2, 3)
    assert sample[2:30, 2:30].std() > 0  # a decoded image, not a blank tile
