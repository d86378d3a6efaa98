"""Resize and RandomResizedCrop as torchvision prints them (open_clip prints its preprocessing),
and RandomResizedCrop / resized_crop honouring ``antialias`` on tensors."""
import math

import numpy as np

import ember
import ember.vision.transforms.functional as F
from ember.vision import transforms as T


def test_resize_repr_names_every_option():
    resize = T.Resize(32, interpolation=T.InterpolationMode.BICUBIC)
    assert repr(resize) == "Resize(size=32, interpolation=bicubic, max_size=None, antialias=True)"


def test_random_resized_crop_repr_rounds_scale_and_ratio_to_four_places():
    crop = T.RandomResizedCrop(32, scale=(0.9, 1.0), interpolation=T.InterpolationMode.BICUBIC)
    assert repr(crop) == ("RandomResizedCrop(size=(32, 32), scale=(0.9, 1.0), "
                          "ratio=(0.75, 1.3333), interpolation=bicubic, antialias=True)")


def test_resized_crop_passes_antialias_to_resize():
    image = ember.rand(3, 40, 48)
    plain = F.resized_crop(image, 2, 3, 36, 40, [9, 10], antialias=False)
    np.testing.assert_array_equal(
        plain.numpy(), F.resize(image[:, 2:38, 3:43], [9, 10], antialias=False).numpy())
    smoothed = F.resized_crop(image, 2, 3, 36, 40, [9, 10], antialias=True)
    assert not np.allclose(plain.numpy(), smoothed.numpy())  # a 4x downsampling


def test_random_resized_crop_without_antialias():
    image = ember.rand(3, 40, 48)
    crop = T.RandomResizedCrop(8, scale=(1.0, 1.0), ratio=(1.2, 1.2), antialias=False)
    # the whole image is the only crop of that area and ratio: its width 48 = round(sqrt(1920
    # * 1.2)) and height 40
    assert math.isclose(48 / 40, 1.2)
    np.testing.assert_array_equal(crop(image).numpy(),
                                  F.resize(image, [8, 8], antialias=False).numpy())
