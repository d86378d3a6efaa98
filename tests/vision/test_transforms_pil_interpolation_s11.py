"""Transforms take Pillow's integer filter constants as torchvision does (``Image.BICUBIC``)."""

import numpy as np
import pytest
from PIL import Image

import ember
from ember.vision import transforms as T
from ember.vision.transforms import InterpolationMode
from ember.vision.transforms import functional as F


def _image() -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8))


@pytest.mark.parametrize("constant, mode", [
    (Image.NEAREST, InterpolationMode.NEAREST), (Image.BILINEAR, InterpolationMode.BILINEAR),
    (Image.BICUBIC, InterpolationMode.BICUBIC), (Image.BOX, InterpolationMode.BOX),
    (Image.HAMMING, InterpolationMode.HAMMING), (Image.LANCZOS, InterpolationMode.LANCZOS),
    (3, InterpolationMode.BICUBIC)])
def test_resize_takes_a_pillow_constant(constant, mode):
    img = _image()
    got = np.asarray(T.Resize(8, interpolation=constant)(img))
    np.testing.assert_array_equal(got, np.asarray(img.resize((12, 8), constant)))
    np.testing.assert_array_equal(got, np.asarray(T.Resize(8, interpolation=mode)(img)))
    assert T.Resize(8, interpolation=constant).interpolation is mode
    assert f"interpolation={mode.value}" in repr(T.Resize(8, interpolation=constant))


def test_functional_resize_of_a_tensor_takes_a_pillow_constant():
    x = ember.rand(3, 10, 12)
    np.testing.assert_array_equal(F.resize(x, [5, 6], Image.BICUBIC).numpy(),
                                  F.resize(x, [5, 6], InterpolationMode.BICUBIC).numpy())


def test_the_pil_pipeline_of_the_dqn_tutorial():
    screen = ember.rand(3, 16, 36)
    resize = T.Compose([T.ToPILImage(), T.Resize(8, interpolation=Image.BICUBIC), T.ToTensor()])
    as_bytes = (screen.numpy() * 255).astype(np.uint8).transpose(1, 2, 0)
    want = np.asarray(Image.fromarray(as_bytes).resize((18, 8), Image.BICUBIC))
    np.testing.assert_allclose(resize(screen).numpy(), want.transpose(2, 0, 1) / 255, atol=1e-6)


def test_other_geometric_transforms_take_pillow_constants():
    img = _image()
    assert T.RandomRotation(10, interpolation=Image.BILINEAR).interpolation is \
        InterpolationMode.BILINEAR
    assert T.RandomResizedCrop(8, interpolation=Image.BICUBIC).interpolation is \
        InterpolationMode.BICUBIC
    assert T.RandomAffine(5, interpolation=Image.NEAREST).interpolation is \
        InterpolationMode.NEAREST
    np.testing.assert_array_equal(np.asarray(F.rotate(img, 30, Image.BILINEAR)),
                                  np.asarray(img.rotate(30, Image.BILINEAR)))
