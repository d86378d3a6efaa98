"""grid_sample / affine_grid without torch: NumPy oracles and float64 gradchecks."""
import itertools

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck
from ember.ops.sampling import affine_grid, grid_sample


def _leaf(array):
    return ember.tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


def _bilinear_zeros(x, gx, gy, align_corners):
    """Naive per-point bilinear sampling of one (C, H, W) image with zero padding."""
    _, h, w = x.shape
    if align_corners:
        px, py = (gx + 1) / 2 * (w - 1), (gy + 1) / 2 * (h - 1)
    else:
        px, py = ((gx + 1) * w - 1) / 2, ((gy + 1) * h - 1) / 2
    x0, y0 = int(np.floor(px)), int(np.floor(py))
    out = np.zeros(x.shape[0])
    for dy, dx in itertools.product((0, 1), repeat=2):
        xi, yi = x0 + dx, y0 + dy
        if 0 <= xi < w and 0 <= yi < h:
            out += x[:, yi, xi] * (1 - abs(px - xi)) * (1 - abs(py - yi))
    return out


@pytest.mark.parametrize("align_corners", [False, True])
def test_bilinear_matches_naive_loop(align_corners):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4, 5))
    g = rng.uniform(-1.3, 1.3, (2, 3, 2, 2))
    out = grid_sample(ember.tensor(x), ember.tensor(g), align_corners=align_corners).numpy()
    for n, i, j in itertools.product(range(2), range(3), range(2)):
        want = _bilinear_zeros(x[n], g[n, i, j, 0], g[n, i, j, 1], align_corners)
        np.testing.assert_allclose(out[n, :, i, j], want, atol=1e-12)


@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
def test_identity_grid_reproduces_input(mode, padding_mode):
    x = np.random.default_rng(1).standard_normal((2, 2, 3, 4))
    theta = ember.tensor([[[1.0, 0, 0], [0, 1, 0]]] * 2, dtype=ember.float64)
    for ac in (False, True):
        grid = affine_grid(theta, (2, 2, 3, 4), align_corners=ac)
        out = grid_sample(ember.tensor(x), grid, mode, padding_mode, align_corners=ac)
        np.testing.assert_allclose(out.numpy(), x, atol=1e-12)


def test_identity_grid_5d():
    x = np.random.default_rng(2).standard_normal((1, 2, 3, 2, 4))
    theta = ember.tensor([[[1.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]], dtype=ember.float64)
    grid = affine_grid(theta, (1, 2, 3, 2, 4), align_corners=False)
    assert grid.shape == (1, 3, 2, 4, 3)
    out = grid_sample(ember.tensor(x), grid, align_corners=False)
    np.testing.assert_allclose(out.numpy(), x, atol=1e-12)


def test_padding_modes_outside():
    x = ember.tensor([[[[1.0, 2.0, 3.0]]]], dtype=ember.float64)
    # pixel coordinates -1.25 and 4.0 (align_corners=False), mirrored at -0.5 and 2.5
    grid = ember.tensor([[[[-1.5, 0.0], [2.0, 0.0]]]], dtype=ember.float64)
    zeros = grid_sample(x, grid, padding_mode="zeros", align_corners=False)
    border = grid_sample(x, grid, padding_mode="border", align_corners=False)
    reflect = grid_sample(x, grid, padding_mode="reflection", align_corners=False)
    np.testing.assert_allclose(zeros.numpy().ravel(), [0.0, 0.0])
    np.testing.assert_allclose(border.numpy().ravel(), [1.0, 3.0])
    np.testing.assert_allclose(reflect.numpy().ravel(), [1.25, 2.0])


def test_nearest_rounds_half_to_even_and_zero_grid_grad():
    x = ember.tensor([[[[10.0, 20.0, 30.0, 40.0]]]], dtype=ember.float64)
    # align_corners=True: x = -1/3 maps to pixel 1.0, 0 to 1.5 (rounds to 2)
    grid = _leaf([[[[-1 / 3, 0.0], [0.0, 0.0]]]])
    out = grid_sample(x, grid, mode="nearest", align_corners=True)
    np.testing.assert_allclose(out.detach().numpy().ravel(), [20.0, 30.0])
    out.sum().backward()
    np.testing.assert_array_equal(grid.grad.numpy(), 0.0)


@pytest.mark.parametrize("mode,padding_mode,align_corners", [
    ("bilinear", "zeros", False), ("bilinear", "border", True),
    ("bilinear", "reflection", False), ("bilinear", "reflection", True),
    ("bicubic", "zeros", True), ("bicubic", "reflection", False),
])
def test_grid_sample_gradcheck(mode, padding_mode, align_corners):
    rng = np.random.default_rng(3)
    x = _leaf(rng.standard_normal((1, 2, 3, 4)))
    g = _leaf(rng.uniform(-1.4, 1.4, (1, 2, 3, 2)))

    def fn(a, b):
        return grid_sample(a, b, mode, padding_mode, align_corners)
    assert gradcheck(fn, (x, g))
    assert gradgradcheck(fn, (x, g))


@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
def test_grid_sample_5d_gradcheck(padding_mode):
    rng = np.random.default_rng(4)
    x = _leaf(rng.standard_normal((1, 2, 2, 3, 2)))
    g = _leaf(rng.uniform(-1.3, 1.3, (1, 2, 1, 2, 3)))
    assert gradcheck(lambda a, b: grid_sample(a, b, "bilinear", padding_mode, False), (x, g))


@pytest.mark.parametrize("size", [(2, 1, 3, 4), (2, 1, 2, 3, 2)])
def test_affine_grid_gradcheck_and_values(size):
    nd = len(size) - 2
    theta = _leaf(np.random.default_rng(5).standard_normal((2, nd, nd + 1)))
    assert gradcheck(lambda t: affine_grid(t, size, align_corners=False), (theta,))
    grid = affine_grid(theta, size, align_corners=True).detach().numpy()
    # the first point is the corner (-1, ..., -1, 1) mapped by theta
    corner = np.array([-1.0] * nd + [1.0])
    np.testing.assert_allclose(grid[(slice(None),) + (0,) * nd], theta.detach().numpy() @ corner)


def test_errors_and_warning():
    x = ember.zeros(1, 1, 3, 3)
    with pytest.raises(ValueError, match="expected mode"):
        grid_sample(x, ember.zeros(1, 2, 2, 2), mode="area", align_corners=False)
    with pytest.raises(ValueError, match="padding_mode"):
        grid_sample(x, ember.zeros(1, 2, 2, 2), padding_mode="edge", align_corners=False)
    with pytest.raises(RuntimeError, match="same batch size"):
        grid_sample(x, ember.zeros(2, 2, 2, 2), align_corners=False)
    with pytest.raises(RuntimeError, match="size 2 in last dimension"):
        grid_sample(x, ember.zeros(1, 2, 2, 3), align_corners=False)
    with pytest.raises(RuntimeError, match="bicubic"):
        grid_sample(ember.zeros(1, 1, 2, 2, 2), ember.zeros(1, 1, 1, 1, 3), mode="bicubic",
                    align_corners=False)
    with pytest.warns(UserWarning, match="align_corners=False"):
        grid_sample(x, ember.zeros(1, 2, 2, 2))
    with pytest.raises(ValueError, match="Nx2x3"):
        affine_grid(ember.zeros(1, 3, 4), (1, 1, 2, 2), align_corners=False)
    with pytest.raises(ValueError, match="floating point"):
        affine_grid(ember.zeros(1, 2, 3, dtype=ember.int64), (1, 1, 2, 2), align_corners=False)
