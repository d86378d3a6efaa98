"""Data sets in torchvision's layout and formats."""
from ember.vision.datasets._optical_flow import (
    HD1K,
    FlyingChairs,
    FlyingThings3D,
    KittiFlow,
    Sintel,
)
from ember.vision.datasets._stereo_matching import (
    CarlaStereo,
    CREStereo,
    ETH3DStereo,
    FallingThingsStereo,
    InStereo2k,
    Kitti2012Stereo,
    Kitti2015Stereo,
    Middlebury2014Stereo,
    SceneFlowStereo,
    SintelStereo,
)
from ember.vision.datasets.caltech import Caltech101, Caltech256
from ember.vision.datasets.celeba import CelebA
from ember.vision.datasets.cifar import CIFAR10, CIFAR100
from ember.vision.datasets.cityscapes import Cityscapes
from ember.vision.datasets.clevr import CLEVRClassification
from ember.vision.datasets.coco import CocoCaptions, CocoDetection
from ember.vision.datasets.country211 import Country211
from ember.vision.datasets.dtd import DTD
from ember.vision.datasets.eurosat import EuroSAT
from ember.vision.datasets.fakedata import FakeData
from ember.vision.datasets.fer2013 import FER2013
from ember.vision.datasets.fgvc_aircraft import FGVCAircraft
from ember.vision.datasets.flickr import Flickr8k, Flickr30k
from ember.vision.datasets.flowers102 import Flowers102
from ember.vision.datasets.folder import DatasetFolder, ImageFolder
from ember.vision.datasets.food101 import Food101
from ember.vision.datasets.gtsrb import GTSRB
from ember.vision.datasets.imagenet import ImageNet
from ember.vision.datasets.imagenette import Imagenette
from ember.vision.datasets.inaturalist import INaturalist
from ember.vision.datasets.kitti import Kitti
from ember.vision.datasets.lfw import LFWPairs, LFWPeople
from ember.vision.datasets.lsun import LSUN, LSUNClass
from ember.vision.datasets.mnist import EMNIST, KMNIST, MNIST, FashionMNIST
from ember.vision.datasets.moving_mnist import MovingMNIST
from ember.vision.datasets.omniglot import Omniglot
from ember.vision.datasets.oxford_iiit_pet import OxfordIIITPet
from ember.vision.datasets.pcam import PCAM
from ember.vision.datasets.phototour import PhotoTour
from ember.vision.datasets.places365 import Places365
from ember.vision.datasets.qmnist import QMNIST
from ember.vision.datasets.rendered_sst2 import RenderedSST2
from ember.vision.datasets.sbd import SBDataset
from ember.vision.datasets.sbu import SBU
from ember.vision.datasets.semeion import SEMEION
from ember.vision.datasets.stanford_cars import StanfordCars
from ember.vision.datasets.stl10 import STL10
from ember.vision.datasets.sun397 import SUN397
from ember.vision.datasets.svhn import SVHN
from ember.vision.datasets.usps import USPS
from ember.vision.datasets.vision import VisionDataset
from ember.vision.datasets.voc import VOCDetection, VOCSegmentation
from ember.vision.datasets.widerface import WIDERFace

__all__ = ["CIFAR10", "CIFAR100", "CLEVRClassification", "CREStereo", "Caltech101", "Caltech256",
           "CarlaStereo", "CelebA", "Cityscapes", "CocoCaptions", "CocoDetection", "Country211",
           "DTD", "DatasetFolder", "EMNIST", "ETH3DStereo", "EuroSAT", "FER2013", "FGVCAircraft",
           "FakeData", "FallingThingsStereo", "FashionMNIST", "Flickr30k", "Flickr8k",
           "Flowers102", "FlyingChairs", "FlyingThings3D", "Food101", "GTSRB", "HD1K",
           "INaturalist", "ImageFolder", "ImageNet", "Imagenette", "InStereo2k", "KMNIST", "Kitti",
           "Kitti2012Stereo", "Kitti2015Stereo", "KittiFlow", "LFWPairs", "LFWPeople", "LSUN",
           "LSUNClass", "MNIST", "Middlebury2014Stereo", "MovingMNIST", "Omniglot",
           "OxfordIIITPet", "PCAM", "PhotoTour", "Places365", "QMNIST", "RenderedSST2",
           "SBDataset", "SBU", "SEMEION", "STL10", "SUN397", "SVHN", "SceneFlowStereo", "Sintel",
           "SintelStereo", "StanfordCars", "USPS", "VOCDetection", "VOCSegmentation",
           "VisionDataset", "WIDERFace", "wrap_dataset_for_transforms_v2"]


def __getattr__(name: str):
    # the wrapper lives with the TVTensors and imports this package: load it on first use
    if name == "wrap_dataset_for_transforms_v2":
        from ember.vision.tv_tensors._dataset_wrapper import wrap_dataset_for_transforms_v2
        return wrap_dataset_for_transforms_v2
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
