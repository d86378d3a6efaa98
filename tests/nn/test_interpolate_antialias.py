"""F.interpolate(antialias=True) against PIL's resampling filters (the reference PyTorch's
antialiased modes follow: bilinear, bicubic with a = -0.5, Lanczos-3), with float64 gradients."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.autograd import gradcheck

Image = pytest.importorskip("PIL.Image")
FILTERS = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "lanczos": Image.LANCZOS}


@pytest.mark.parametrize("mode", list(FILTERS))
@pytest.mark.parametrize("size", [(10, 13), (3, 40), (50, 17), (1, 1)])
def test_matches_pil(mode, size):
    plane = np.random.default_rng(0).standard_normal((32, 40)).astype(np.float32)
    want = np.asarray(Image.fromarray(plane, "F").resize(size[::-1], FILTERS[mode]))
    got = F.interpolate(ember.tensor(plane)[None, None], size=size, mode=mode, antialias=True)
    np.testing.assert_allclose(got[0, 0].numpy(), want, atol=2e-6)


def test_scale_factor_and_batches():
    images = np.random.default_rng(1).standard_normal((2, 3, 24, 30)).astype(np.float32)
    got = F.interpolate(ember.tensor(images), scale_factor=0.5, mode="bilinear", antialias=True)
    assert got.shape == (2, 3, 12, 15)
    want = np.asarray(Image.fromarray(images[1, 2], "F").resize((15, 12), Image.BILINEAR))
    np.testing.assert_allclose(got[1, 2].numpy(), want, atol=2e-6)


@pytest.mark.parametrize("mode", list(FILTERS))
def test_gradients(mode):
    x = ember.tensor(np.random.default_rng(2).standard_normal((1, 2, 9, 7)), requires_grad=True)
    assert gradcheck(lambda t: F.interpolate(t, size=(4, 3), mode=mode, antialias=True), (x,))


def test_refusals():
    with pytest.raises(ValueError, match="requires antialias=True"):
        F.interpolate(ember.ones(1, 1, 4, 4), size=2, mode="lanczos")
    with pytest.raises(ValueError, match="does not support align_corners"):
        F.interpolate(ember.ones(1, 1, 4, 4), size=2, mode="lanczos", antialias=True,
                      align_corners=True)
    with pytest.raises(ValueError, match="restricted to bilinear"):
        F.interpolate(ember.ones(1, 1, 4), size=2, mode="linear", antialias=True)
    with pytest.raises(ValueError, match="restricted to bilinear"):
        F.interpolate(ember.ones(1, 1, 4, 4), size=2, mode="nearest", antialias=True)
