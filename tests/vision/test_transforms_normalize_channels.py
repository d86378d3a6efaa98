"""Normalize with statistics for a different number of channels than the image: torchvision's
v1 subtracts and divides in place, so PyTorch's in-place broadcast errors; v2 subtracts the mean
out of place, so a three-value mean widens a one-channel image (a common MNIST mistake)."""

import re

import numpy as np
import pytest

import ember
import ember.vision.transforms as T
import ember.vision.transforms.functional as F1
import ember.vision.transforms.v2.functional as F2
from ember.vision import tv_tensors

HALF3 = (0.5, 0.5, 0.5)


WIDER = "output with shape {} doesn't match the broadcast shape {}"
SIZES = "The size of tensor a (3) must match the size of tensor b (2) at non-singleton dimension {}"


@pytest.mark.parametrize("shape, mean, std, message", [
    ((1, 4, 4), HALF3, HALF3, WIDER.format([1, 4, 4], [3, 4, 4])),
    ((2, 1, 4, 4), HALF3, (0.5,), WIDER.format([2, 1, 4, 4], [2, 3, 4, 4])),
    ((3, 4, 4), (0.5, 0.5), (0.5,), SIZES.format(0)),
    ((2, 3, 4, 4), (0.5,), (0.5, 0.5), SIZES.format(1)),
])
def test_v1_refuses_statistics_for_other_channels(shape, mean, std, message):
    image = ember.rand(*shape)
    for inplace in (False, True):
        with pytest.raises(RuntimeError, match=re.escape(message)):
            F1.normalize(image, mean, std, inplace=inplace)


def test_v1_compose_on_a_grey_image_raises_and_single_values_broadcast():
    from PIL import Image
    grey = Image.fromarray(np.full((6, 6), 255, np.uint8))
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        T.Compose([T.ToTensor(), T.Normalize(HALF3, HALF3)])(grey)
    out = T.Compose([T.ToTensor(), T.Normalize([0.5], [0.5])])(grey)
    assert out.shape == (1, 6, 6) and float(out.min()) == 1.0
    rgb = ember.rand(3, 4, 4)
    np.testing.assert_allclose(F1.normalize(rgb, [0.5], [0.25]).numpy(),
                               (rgb.numpy() - 0.5) / 0.25, rtol=1e-6)


def test_v2_widens_a_one_channel_image_out_of_place_only():
    image = ember.rand(1, 4, 4)
    for inpt in (image, tv_tensors.Image(image)):
        out = F2.normalize(inpt, HALF3, (0.5, 0.25, 1.0))
        assert out.shape == (3, 4, 4) and type(out) is type(inpt)
        expected = (image.numpy() - 0.5) / np.array([0.5, 0.25, 1.0], np.float32)[:, None, None]
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    # In place, and a std for more channels than the mean left after subtracting, refuse.
    for mean, std, inplace in ((HALF3, HALF3, True), ((0.5,), HALF3, False)):
        with pytest.raises(RuntimeError, match=re.escape(
                "output with shape [1, 4, 4] doesn't match the broadcast shape [3, 4, 4]")):
            F2.normalize(image.clone(), mean, std, inplace=inplace)
