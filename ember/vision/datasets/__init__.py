"""Data sets in torchvision's layout and formats."""
from ember.vision.datasets.cifar import CIFAR10, CIFAR100
from ember.vision.datasets.eurosat import EuroSAT
from ember.vision.datasets.fakedata import FakeData
from ember.vision.datasets.flowers102 import Flowers102
from ember.vision.datasets.folder import DatasetFolder, ImageFolder
from ember.vision.datasets.mnist import EMNIST, KMNIST, MNIST, FashionMNIST
from ember.vision.datasets.omniglot import Omniglot
from ember.vision.datasets.qmnist import QMNIST
from ember.vision.datasets.semeion import SEMEION
from ember.vision.datasets.stl10 import STL10
from ember.vision.datasets.svhn import SVHN
from ember.vision.datasets.usps import USPS
from ember.vision.datasets.vision import VisionDataset

__all__ = ["CIFAR10", "CIFAR100", "DatasetFolder", "EMNIST", "FakeData", "FashionMNIST",
           "ImageFolder", "KMNIST", "MNIST", "VisionDataset",
           "EuroSAT", "Flowers102", "Omniglot", "QMNIST", "SEMEION", "STL10", "SVHN", "USPS"]
