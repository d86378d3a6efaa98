"""GaussianBlur / gaussian_blur against SciPy: torchvision's kernel (a normalised sampled
Gaussian per axis) over the image reflected at its borders."""
import numpy as np
import pytest
import scipy.ndimage as ndimage

import ember
from ember.vision import transforms as T
from ember.vision.transforms import functional as F


def _oracle(image: np.ndarray, kx: int, ky: int, sx: float, sy: float) -> np.ndarray:
    def kernel(k, s):
        x = np.arange(k) - (k - 1) / 2
        pdf = np.exp(-0.5 * (x / s) ** 2)
        return pdf / pdf.sum()
    weights = np.outer(kernel(ky, sy), kernel(kx, sx))
    return np.stack([ndimage.correlate(c.astype(np.float64), weights, mode="mirror")
                     for c in image])


@pytest.mark.parametrize("kernel_size,sigma", [([5, 3], [1.2, 0.7]), (3, None), (7, 2.0)])
def test_gaussian_blur_matches_a_reflected_gaussian_correlation(kernel_size, sigma):
    x = np.random.default_rng(0).random((3, 9, 11)).astype(np.float32)
    kx, ky = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    if sigma is None:
        sx, sy = 0.15 * kx + 0.35, 0.15 * ky + 0.35
    else:
        sx, sy = (sigma, sigma) if isinstance(sigma, float) else sigma
    got = F.gaussian_blur(ember.tensor(x), kernel_size, sigma)
    assert got.dtype == ember.float32 and got.shape == (3, 9, 11)
    np.testing.assert_allclose(got.numpy(), _oracle(x, kx, ky, sx, sy), atol=1e-6)


def test_integer_and_pil_images_round_back():
    from PIL import Image
    u = (np.random.default_rng(1).random((1, 8, 8)) * 255).astype(np.uint8)
    want = np.round(_oracle(u, 3, 3, 0.8, 0.8)).astype(np.uint8)
    got = F.gaussian_blur(ember.tensor(u), 3, 0.8)
    assert got.dtype == ember.uint8
    np.testing.assert_array_equal(got.numpy(), want)
    blurred = F.gaussian_blur(Image.fromarray(u[0]), 3, 0.8)
    assert blurred.mode == "L"
    np.testing.assert_array_equal(np.asarray(blurred), want[0])


def test_transform_draws_sigma_and_checks_arguments():
    ember.manual_seed(0)
    blur = T.GaussianBlur(5, sigma=(0.5, 1.5))
    assert repr(blur) == "GaussianBlur(kernel_size=(5, 5), sigma=(0.5, 1.5))"
    assert 0.5 <= blur.get_params(0.5, 1.5) <= 1.5
    assert blur(ember.rand(3, 6, 6)).shape == (3, 6, 6)
    with pytest.raises(ValueError, match="odd and positive"):
        T.GaussianBlur(4)
    with pytest.raises(ValueError, match="positive"):
        T.GaussianBlur(3, sigma=0)
