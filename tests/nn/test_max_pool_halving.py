"""max_pool2d's 2x2 / stride 2 fast path (kernels._max_pool_halving) and the row-repeating
scatter of its backward, against a NumPy oracle: each window's first maximum in row-major order
(PyTorch's choice on ties), its flat index, and the gradient landing only there."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.autograd import gradcheck, gradgradcheck
from ember.backend import kernels


def _oracle(x: np.ndarray, k: int = 2):
    """Values, flat indices and the chosen-element mask of non-overlapping k x k max pooling."""
    n, c, h, w = x.shape
    ho, wo = h // k, w // k
    win = x[:, :, :ho * k, :wo * k].reshape(n, c, ho, k, wo, k).transpose(0, 1, 2, 4, 3, 5)
    flat = win.reshape(n, c, ho, wo, k * k)
    first = flat.argmax(-1)[..., None]  # argmax keeps the first of equal maxima
    values = np.take_along_axis(flat, first, -1)[..., 0]
    rows = np.arange(ho)[:, None] * k + first[..., 0] // k
    cols = np.arange(wo)[None, :] * k + first[..., 0] % k
    chosen = np.zeros(flat.shape, bool)
    np.put_along_axis(chosen, first, True, -1)
    mask = np.zeros(x.shape, bool)
    mask[:, :, :ho * k, :wo * k] = chosen.reshape(n, c, ho, wo, k, k).transpose(
        0, 1, 2, 4, 3, 5).reshape(n, c, ho * k, wo * k)
    return values, rows * w + cols, mask


SHAPES = [(2, 3, 8, 8), (1, 1, 2, 2), (3, 2, 6, 10), (2, 4, 200, 300), (1, 2, 4, 2)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int32, np.int16, np.uint8])
def test_values_indices_and_grad_match_oracle(shape, dtype):
    rng = np.random.default_rng(sum(shape))
    # rounded values and zeros (as after a relu) make many ties
    data = np.maximum(np.round(rng.standard_normal(shape) * 2), 0).astype(dtype)
    assert kernels._halving(data, (2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1))
    values, index, mask = _oracle(data)
    x = ember.tensor(data)
    out, idx = F.max_pool2d(x, 2, return_indices=True)
    np.testing.assert_array_equal(out.numpy(), values)
    np.testing.assert_array_equal(idx.numpy(), index)
    if np.dtype(dtype).kind == "f":
        xg = ember.tensor(data, requires_grad=True)
        g = rng.standard_normal(values.shape).astype(dtype)
        F.max_pool2d(xg, 2).backward(ember.tensor(g))
        np.testing.assert_array_equal(xg.grad.numpy(), _spread(g, mask))


def _spread(g: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Each window's gradient on its chosen element (the mask has one per 2x2 window)."""
    up = g.repeat(2, axis=2).repeat(2, axis=3)
    full = np.zeros(mask.shape, g.dtype)
    h, w = up.shape[2:]
    full[:, :, :h, :w] = up
    return np.where(mask, full, 0).astype(g.dtype)


def test_nan_and_infinities_take_the_general_rules():
    data = np.array([[[[1, np.nan, 2, 3], [0, 5, -np.inf, -np.inf],
                       [np.inf, 1, 4, 4], [2, 2, 4, 9]]]], np.float32)
    x = ember.tensor(data, requires_grad=True)
    out, idx = F.max_pool2d(x, 2, return_indices=True)
    values = out.detach().numpy()[0, 0].reshape(-1)
    assert np.isnan(values[0]) and idx.numpy()[0, 0, 0, 0] == 1
    np.testing.assert_array_equal(values[1:], [3, np.inf, 9])
    np.testing.assert_array_equal(idx.numpy()[0, 0].reshape(-1)[1:], [3, 8, 15])
    # an infinite gradient lands only on the chosen elements (no inf * 0 = NaN elsewhere)
    out.backward(ember.tensor(np.full((1, 1, 2, 2), np.inf, np.float32)))
    grad = x.grad.numpy()[0, 0].reshape(-1)
    assert np.isinf(grad[[1, 3, 8, 15]]).all()
    assert (np.delete(grad, [1, 3, 8, 15]) == 0).all()


@pytest.mark.parametrize("make", [
    lambda a: a[:, :, :, ::2],                  # strided, not C-contiguous
    lambda a: np.moveaxis(np.ascontiguousarray(np.moveaxis(a, 1, -1)), -1, 1),  # channels-last
    lambda a: a[:, :, :7, :7].copy(),           # odd sizes
])
def test_other_layouts_take_the_general_path(make):
    rng = np.random.default_rng(3)
    data = make(np.round(rng.standard_normal((2, 8, 8, 16)) * 2).astype(np.float32))
    values, index, _ = _oracle(data)
    out, idx = F.max_pool2d(ember.tensor(data), 2, return_indices=True)
    np.testing.assert_array_equal(out.numpy(), values)
    np.testing.assert_array_equal(idx.numpy(), index)


@pytest.mark.parametrize("fn", [
    lambda t: F.max_pool2d(t, 2),
    lambda t: F.max_pool3d(t.reshape(2, 2, 4, 3, 6), 2, ceil_mode=True),
    lambda t: F.max_pool2d(t.reshape(2, 2, 12, 6), 3, stride=3),
])
def test_gradcheck_through_the_row_repeating_scatter(fn):
    rng = np.random.default_rng(5)
    x = ember.tensor(rng.standard_normal((2, 2, 12, 6)), requires_grad=True)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))
