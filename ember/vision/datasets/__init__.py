"""Data sets in torchvision's layout and formats."""
from ember.vision.datasets.cifar import CIFAR10, CIFAR100
from ember.vision.datasets.coco import CocoCaptions, CocoDetection
from ember.vision.datasets.eurosat import EuroSAT
from ember.vision.datasets.fakedata import FakeData
from ember.vision.datasets.flowers102 import Flowers102
from ember.vision.datasets.folder import DatasetFolder, ImageFolder
from ember.vision.datasets.imagenet import ImageNet
from ember.vision.datasets.inaturalist import INaturalist
from ember.vision.datasets.mnist import EMNIST, KMNIST, MNIST, FashionMNIST
from ember.vision.datasets.omniglot import Omniglot
from ember.vision.datasets.places365 import Places365
from ember.vision.datasets.qmnist import QMNIST
from ember.vision.datasets.semeion import SEMEION
from ember.vision.datasets.stl10 import STL10
from ember.vision.datasets.svhn import SVHN
from ember.vision.datasets.usps import USPS
from ember.vision.datasets.vision import VisionDataset
from ember.vision.datasets.voc import VOCDetection, VOCSegmentation

__all__ = ["CIFAR10", "CIFAR100", "CocoCaptions", "CocoDetection", "DatasetFolder", "EMNIST",
           "EuroSAT", "FakeData", "FashionMNIST", "Flowers102", "INaturalist", "ImageFolder",
           "ImageNet", "KMNIST", "MNIST", "Omniglot", "Places365", "QMNIST", "SEMEION", "STL10",
           "SVHN", "USPS", "VOCDetection", "VOCSegmentation", "VisionDataset",
           "wrap_dataset_for_transforms_v2"]


def __getattr__(name: str):
    # the wrapper lives with the TVTensors and imports this package: load it on first use
    if name == "wrap_dataset_for_transforms_v2":
        from ember.vision.tv_tensors._dataset_wrapper import wrap_dataset_for_transforms_v2
        return wrap_dataset_for_transforms_v2
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
