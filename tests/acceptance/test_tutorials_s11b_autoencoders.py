"""Acceptance: "Autoencoder: A Deep Dive" (beginner_source/autoencoders_tutorial.py) runs on
ember.

Code from pytorch/tutorials (BSD-3-Clause), prose and comments removed; otherwise unchanged,
epoch counts included. Data: FashionMNIST and CIFAR-10 are small stand-ins written in their
on-disk formats (64 and 40 training images, so that ``train_model``'s reshape to
``[32, 784]`` holds for every FashionMNIST batch as it does for the real 60000). The
DataLoaders keep ``num_workers=2``. matplotlib and ``IPython.display`` are stubs.
"""
# The tutorial's code is kept verbatim, long lines and trailing spaces included.
# ruff: noqa: E501, W291, W293

import numpy as np
import pytest
from acceptance_runner import MATPLOTLIB, run, write_cifar10, write_idx

import ember
from ember.vision.datasets import CIFAR10

AUTOENCODERS = r'''
import torch
import torchvision

import numpy as np
import torch.nn as nn
import torch.nn.functional as F

import matplotlib.pyplot as plt

from torchvision import transforms
from IPython.display import clear_output


def make_dataloader(data_, batch_size: int):
    """Helper function to convert datasets to batches."""
    batch_size = 32

    train_loader = torch.utils.data.DataLoader(
        data_, batch_size=batch_size, shuffle=True, num_workers=2
    )

    return train_loader


def make_transforms():
    """Helper function to make the transforms for datasets."""
    transform = transforms.Compose(
        [
            transforms.ToTensor(),
        ]
    )
    return transform


def load_data_general(data_name: str):
    """Helper function to load the data."""
    transform_ = make_transforms()

    if data_name == "mnist":
        data_ = torchvision.datasets.FashionMNIST(
            root="./data", train=True, download=True, transform=transform_
        )
    elif data_name == "cifar":
        data_ = torchvision.datasets.CIFAR10(
            root="./data", train=True, download=True, transform=transform_
        )

    return data_


def load_batch_data(dataset_name: str):
    train_data = load_data_general(dataset_name)

    data_loader = make_dataloader(data_=train_data, batch_size=32)

    return data_loader


def load_mnist_data():
    """Load the MNIST dataset and covert it to batches."""

    return load_batch_data("mnist")


def load_cifar_data():
    """Load the CIFAR10 dataset and covert it to batches."""

    return load_batch_data("cifar")

def make_model(model_object, lr_rate=0.001, compress_=None):
    if not compress_:
        model_ = model_object()
    else:
        model_ = model_object(compress_)
    optimizer_ = torch.optim.Adam(model_.parameters(), lr=lr_rate)
    loss_ = nn.MSELoss()

    return model_, optimizer_, loss_


def test_model(loader_obj, model_, linear=True) -> None:
    batch_iter = iter(loader_obj)
    batch_images = next(batch_iter)
    tmp_image = batch_images[0][0, 0, :, :]
    plt.imshow(tmp_image)
    plt.title("Original Image")
    plt.show()

    plt.figure()
    if linear:
        model_input = tmp_image.reshape(28 * 28)
    else:
        model_input = tmp_image.reshape(1, 1, 28, 28)

    model_.eval()
    with torch.inference_mode():
        output = model_(model_input)
    plt.imshow(output.detach().numpy().reshape(28, 28))
    plt.title("Model's Regenerated Picture")
    plt.show()

    return


def train_model(
    model_obj: nn.Module,
    optimizer_obj,
    loss_obj,
    loader_obj,
    batch_s: int,
    epoch_num: int = 1,
    model_linear=True,
) -> nn.Module:
    """Train the input model with optimizer and loss function."""
    train_loss = []

    for epoch in range(epoch_num):
        for i, data_ in enumerate(loader_obj, 0):
            batches, targets = data_
            if model_linear:
                batches = batches.reshape([batch_s, 28 * 28])

            optimizer_obj.zero_grad()

            logits = model_obj(batches)

            loss = loss_obj(logits, batches)

            loss.backward()
            optimizer_obj.step()

            train_loss.append(loss.item())

    plt.plot(train_loss)
    plt.title("Training loss")
    plt.show()

    return model_obj


def add_noise(img_, noise_int: float) -> torch.Tensor:
    noise = np.random.normal(loc=0, scale=1, size=img_.shape)

    noisy = np.clip((img_.numpy() + noise * noise_int), 0, 1)
    noisy_tensor = torch.tensor(noisy, dtype=torch.float).reshape(1, 1, 28, 28)

    return noisy_tensor


def noisy_test(
    loader_obj, model_: nn.Module, linear: bool = True, noise_intensity: float = 0.2
):
    """Test the model by adding noise to the image."""
    batch_iter = iter(loader_obj)
    batch_images = next(batch_iter)
    tmp_image = batch_images[0][0, 0, :, :]
    plt.imshow(tmp_image)
    plt.title("Original Image")
    plt.show()

    noisy_img = add_noise(tmp_image, noise_intensity)
    plt.figure()
    plt.imshow(noisy_img.reshape(28, 28).numpy())
    plt.title("Noisy Image")
    plt.show()

    plt.figure()
    if linear:
        model_input = noisy_img.reshape(28 * 28)
    else:
        model_input = noisy_img.reshape(1, 1, 28, 28)

    model_.eval()
    with torch.inference_mode():
        output = model_(model_input)
    plt.imshow(output.detach().numpy().reshape(28, 28))
    plt.title("Model's Regenerated Image")
    plt.show()

    return


def image_show(img_: torch.tensor, img_title: str):
    """Convert the batches to grids and show image."""
    img_ = torchvision.utils.make_grid(img_)
    npimg = img_.numpy()
    plt.imshow(np.transpose(npimg, (1, 2, 0)))
    plt.title(img_title)
    plt.show()

    return


def test_cifar(cifar_model, data_loader_):
    """Test the CIFAR model"""
    dataiter = iter(data_loader_)
    images, labels = next(dataiter)

    image_show(images, "Original Image")

    cifar_model.eval()
    with torch.inference_mode():
        out_batch = cifar_model(images)
    image_show(out_batch, "Model's Regenerated Image")

    return


batch_size = 32

train_loader = load_mnist_data()

clear_output()


for i, data_ in enumerate(train_loader):
    print(i, data_[0].shape)
    if i==10:
        break

for i, data_ in enumerate(train_loader):
    plt.imshow(data_[0][i, :, :].view(28, 28))
    plt.show()
    if i==3:
        break


class AutoencoderLinear(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear_en_1 = nn.Linear(in_features=28*28, out_features=196)
        self.linear_en_2 = nn.Linear(in_features=196, out_features=98)
        self.linear_de_1 = nn.Linear(in_features=98, out_features=196)
        self.linear_de_2 = nn.Linear(in_features=196, out_features=28*28)

    def forward(self, x):
        encode_1 = F.leaky_relu(self.linear_en_1(x))
        encode_2 = F.leaky_relu(self.linear_en_2(encode_1))
        decode_1 = F.leaky_relu(self.linear_de_1(encode_2))
        decode_2 = F.sigmoid(self.linear_de_2(decode_1))
        return decode_2

model_aal, optimizer, loss_fn = make_model(AutoencoderLinear)


test_model(train_loader, model_aal)


model_aal = train_model(model_aal, optimizer, loss_fn, train_loader, batch_size, epoch_num=10)


test_model(train_loader, model_aal)


class AutoencoderLinearA(nn.Module):
    def __init__(self, compress_nodes):
        super().__init__()
        self.linear_en_1 = nn.Linear(in_features=28*28, out_features=196)
        self.linear_en_2 = nn.Linear(in_features=196, out_features=98)
        self.linear_de_1 = nn.Linear(in_features=98, out_features=196)
        self.linear_de_2 = nn.Linear(in_features=196, out_features=28*28)
        self.linear_en_c = nn.Linear(in_features=98, out_features=compress_nodes)
        self.linear_de_c = nn.Linear(in_features=compress_nodes, out_features=98)

    def forward(self, x):
        encode_1 = F.leaky_relu(self.linear_en_1(x))
        encode_2 = F.leaky_relu(self.linear_en_2(encode_1))
        encode_c = self.linear_en_c(encode_2)
        decode_c = self.linear_de_c(encode_c)
        decode_1 = F.leaky_relu(self.linear_de_1(decode_c))
        decode_2 = F.sigmoid(self.linear_de_2(decode_1))
        return decode_2

model_aala, optimizer, loss_fn = make_model(AutoencoderLinearA, compress_=10)
model_aala = train_model(model_aala, optimizer, loss_fn, train_loader, batch_size, epoch_num=10)


test_model(model_=model_aala, loader_obj=train_loader)


class AutoencoderCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(in_channels=1, out_channels=16, kernel_size=(5,5), stride=(1,1)),
            nn.LeakyReLU(),
            nn.Conv2d(in_channels=16, out_channels=64, kernel_size=(5,5), stride=(1,1)),
            nn.LeakyReLU(),
            nn.Conv2d(in_channels=64, out_channels=128, kernel_size=(2,2), stride=(2,2)),
            nn.LeakyReLU(),
            nn.Flatten(),
            nn.Linear(in_features=128*10*10, out_features=144)
        )
        self.decoder = nn.Sequential(
            nn.Linear(in_features=144, out_features=128*10*10),
            nn.Unflatten(1, (128, 10, 10)),
            nn.ConvTranspose2d(in_channels=128, out_channels=64, kernel_size=(2,2), stride=(2,2)),
            nn.LeakyReLU(),
            nn.ConvTranspose2d(in_channels=64, out_channels=16, kernel_size=(5,5), stride=(1,1)),
            nn.LeakyReLU(),
            nn.ConvTranspose2d(in_channels=16, out_channels=1, kernel_size=(5,5), stride=(1,1)),
            nn.Sigmoid()
        )

    def forward(self, x):
        encoded = self.encoder(x)
        decoded = self.decoder(encoded)
        return decoded

model_cnn, optimizer, loss_fn = make_model(AutoencoderCNN)
model_cnn = train_model(model_cnn, optimizer, loss_fn, train_loader, batch_size, epoch_num=5, model_linear=False)

test_model(train_loader, model_cnn, linear=False)


batch_iter = iter(train_loader)
batch_images = next(batch_iter)
tmp_image = batch_images[0][0, 0, :, :]
enc_output = model_cnn.encoder(tmp_image.reshape(1, 1, 28, 28))

plt.imshow(enc_output.detach().numpy().reshape(12, 12))
plt.title("Model's Encoder Output")
plt.show()


noisy_test(train_loader, model_cnn, linear=False, noise_intensity=0.3)


cifar_loader = load_cifar_data()


cifar_loader.dataset.data.shape


dataiter = iter(cifar_loader)
images, labels = next(dataiter)

image_show(images, "Original image")

class AutoencoderCNNCIF(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(in_channels=3, out_channels=32, kernel_size=(4,4), stride=(1,1), padding=2),
            nn.LeakyReLU(),
            nn.Conv2d(in_channels=32, out_channels=64, kernel_size=(5,5), stride=(2,2), padding=2),
            nn.LeakyReLU(),
            nn.Conv2d(in_channels=64, out_channels=128, kernel_size=(5,5), stride=(1,1)),
            nn.LeakyReLU(),
            nn.Conv2d(in_channels=128, out_channels=512, kernel_size=(3,3), stride=(2,2)),
            nn.LeakyReLU(),
            nn.Flatten(),
            nn.Linear(in_features=512*6*6, out_features=100)
        )
        self.decoder = nn.Sequential(
            nn.Linear(in_features=100, out_features=512*6*6),
            nn.Unflatten(1, (512, 6, 6)),
            nn.ConvTranspose2d(in_channels=512, out_channels=128, kernel_size=(3,3), stride=(2,2)),
            nn.LeakyReLU(),
            nn.ConvTranspose2d(in_channels=128, out_channels=64, kernel_size=(5,5), stride=(1,1)),
            nn.LeakyReLU(),
            nn.ConvTranspose2d(in_channels=64, out_channels=32, kernel_size=(5,5), stride=(2,2), padding=2),
            nn.LeakyReLU(),
            nn.ConvTranspose2d(in_channels=32, out_channels=3, kernel_size=(4,4), stride=(1,1), padding=2),
            nn.Sigmoid()
        )

    def forward(self, x):
        encoded = self.encoder(x)
        decoded = self.decoder(encoded)
        return decoded

model_cifar, optimizer_cifar, loss_cifar = make_model(AutoencoderCNNCIF, .001)
model_cifar = train_model(model_cifar, optimizer_cifar, loss_cifar, cifar_loader, 32, 3, False)

test_cifar(model_cifar, cifar_loader)
'''

# IPython is not installed here; the tutorial only clears a notebook cell's output.
IPYTHON = {"IPython": "", "IPython.display": "def clear_output(wait=False):\n    pass\n"}


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory):
    root = tmp_path_factory.mktemp("autoencoders")
    rng = np.random.default_rng(0)
    raw = root / "data" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    # Each class is a bright bar at its own rows on a dark background: a compressible image set.
    for prefix, n in (("train", 64), ("t10k", 32)):
        labels = np.arange(n) % 10
        rng.shuffle(labels)
        images = rng.integers(0, 30, (n, 28, 28))
        for i, label in enumerate(labels):
            images[i, 2 + 2 * label:4 + 2 * label, 4:24] = 255
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    md5 = write_cifar10(root / "data", per_batch=8, n_test=8)
    mp = pytest.MonkeyPatch()
    # The integrity check compares with the synthetic batches' md5s, so nothing is downloaded.
    mp.setattr(CIFAR10, "train_list", [[f"data_batch_{i}", md5[f"data_batch_{i}"]]
                                       for i in range(1, 6)])
    mp.setattr(CIFAR10, "test_list", [["test_batch", md5["test_batch"]]])
    mp.chdir(root)
    ember.manual_seed(0)
    np.random.seed(0)
    try:
        yield run(AUTOENCODERS, modules={**MATPLOTLIB, **IPYTHON})
    finally:
        mp.undo()


def test_data_loading(tutorial):
    lines = tutorial["_stdout"].splitlines()
    # 64 images in batches of 32: the loop over batches prints two
    assert lines == ["0 torch.Size([32, 1, 28, 28])", "1 torch.Size([32, 1, 28, 28])"], lines
    assert tutorial["cifar_loader"].dataset.data.shape == (40, 32, 32, 3)
    assert tutorial["images"].shape == (32, 3, 32, 32)


def test_every_autoencoder_learns(tutorial):
    # train_model plots its per-batch losses: linear, linear with a 10-wide code, CNN, CIFAR CNN
    curves = [list(args[0]) for args in tutorial["plt"].plots]
    assert [len(c) for c in curves] == [20, 20, 10, 6]
    for curve in curves[:3]:
        assert np.isfinite(curve).all()
        assert curve[-1] < curve[0], curve
    # Six Adam steps on the 3.7M-weight CIFAR model (two of them on a batch of 8) are too few
    # and too noisy for a trend: it only has to train without diverging.
    assert np.isfinite(curves[3]).all() and max(curves[3]) < 0.3, curves[3]
    # The sigmoid output starts near 0.5 everywhere; the linear autoencoder ends far below
    # the MSE of that constant guess.
    assert curves[0][-1] < 0.5 * curves[0][0]


def test_shapes_of_codes_and_reconstructions(tutorial):
    assert tutorial["enc_output"].shape == (1, 144)
    model_cnn = tutorial["model_cnn"]
    assert not model_cnn.training  # test_model switched it to eval mode
    x = tutorial["tmp_image"].reshape(1, 1, 28, 28)
    with ember.no_grad():
        out = model_cnn(x)
    assert out.shape == (1, 1, 28, 28)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    with ember.no_grad():
        rec = tutorial["model_cifar"](tutorial["images"][:2])
    assert rec.shape == (2, 3, 32, 32)


def test_add_noise_clips_to_unit_range(tutorial):
    img = tutorial["tmp_image"]
    noisy = tutorial["add_noise"](img, 0.3)
    assert noisy.shape == (1, 1, 28, 28) and noisy.dtype == ember.float32
    values = noisy.numpy()
    assert values.min() >= 0.0 and values.max() <= 1.0
