"""F.interpolate(antialias=True) against PyTorch: bilinear, bicubic and Lanczos, by size and by
scale factor, align_corners both ways, float64, float32 and uint8."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402

SHAPES = [((32, 40), (10, 13)), ((17, 23), (5, 7)), ((20, 20), (40, 30)), ((8, 8), (1, 1))]


@pytest.mark.parametrize("mode, align_corners", [("bilinear", False), ("bilinear", True),
                                                 ("bicubic", False), ("bicubic", True),
                                                 ("lanczos", False)])
@pytest.mark.parametrize("shape, size", SHAPES)
def test_by_size_float64(mode, align_corners, shape, size):
    x = np.random.default_rng(0).standard_normal((2, 3) + shape)
    kwargs = dict(size=size, mode=mode, antialias=True, align_corners=align_corners)
    want = torch.nn.functional.interpolate(torch.tensor(x), **kwargs).numpy()
    got = ember.nn.functional.interpolate(ember.tensor(x), **kwargs).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("scale", [0.3, 0.5, 2.5])
def test_by_scale_factor_float32(scale):
    x = np.random.default_rng(1).standard_normal((1, 2, 21, 30)).astype(np.float32)
    kwargs = dict(scale_factor=scale, mode="bicubic", antialias=True)
    want = torch.nn.functional.interpolate(torch.tensor(x), **kwargs).numpy()
    got = ember.nn.functional.interpolate(ember.tensor(x), **kwargs).numpy()
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_uint8_within_one():
    x = np.random.default_rng(2).integers(0, 256, (1, 3, 37, 41)).astype(np.uint8)
    kwargs = dict(size=(11, 13), mode="bilinear", antialias=True)
    want = torch.nn.functional.interpolate(torch.tensor(x), **kwargs).numpy().astype(int)
    got = ember.nn.functional.interpolate(ember.tensor(x), **kwargs).numpy()
    assert got.dtype == np.uint8
    assert np.abs(got.astype(int) - want).max() <= 1


def test_gradients_match_torch():
    x = np.random.default_rng(3).standard_normal((1, 2, 9, 7))
    weights = np.random.default_rng(4).standard_normal((1, 2, 4, 3))
    grads = []
    for lib in (torch, ember):
        t = lib.tensor(x, requires_grad=True)
        out = lib.nn.functional.interpolate(t, size=(4, 3), mode="bicubic", antialias=True)
        (out * lib.tensor(weights)).sum().backward()
        grads.append(t.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12, atol=1e-12)
