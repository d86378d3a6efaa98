"""Pooling kernels of ember.backend.kernels against a NumPy oracle that copies the windows out."""
import numpy as np
import pytest

from ember.backend import kernels as K


def _oracle_max(x, kernel, stride, dilation):
    win = K.windows(x, kernel, stride, dilation)
    flat = win.reshape(win.shape[:win.ndim - len(kernel)] + (-1,))
    nan = np.isnan(flat)
    arg = np.where(nan.any(-1), nan.argmax(-1), flat.argmax(-1))  # first NaN, else first max
    return np.take_along_axis(flat, arg[..., None], -1)[..., 0], arg


GEOMETRIES = [((2, 2), (2, 2), (1, 1)), ((3, 3), (2, 2), (1, 1)), ((3, 2), (1, 1), (2, 1)),
              ((2, 2), (3, 3), (1, 1))]


@pytest.mark.parametrize("kernel,stride,dilation", GEOMETRIES)
def test_window_max_matches_argmax_with_ties_and_nan(kernel, stride, dilation):
    rng = np.random.default_rng(0)
    x = rng.integers(-2, 3, (2, 3, 9, 8)).astype(np.float32)  # many ties
    x[0, 0, 1, 1] = x[1, 2, 4, 5] = np.nan
    values, arg = K.window_max(x, kernel, stride, dilation)
    ref_values, ref_arg = _oracle_max(x, kernel, stride, dilation)
    np.testing.assert_array_equal(values, ref_values)
    np.testing.assert_array_equal(arg, ref_arg)


@pytest.mark.parametrize("kernel,stride,dilation", GEOMETRIES)
def test_window_scatter_is_the_adjoint_of_the_gather(kernel, stride, dilation):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 9, 8))
    _, arg = K.window_max(x, kernel, stride, dilation)
    g = rng.standard_normal(arg.shape)
    g[0, 0, 0, 0] = np.inf  # an infinite gradient must not leak NaN into unselected elements
    out = K.window_scatter(g, arg, x.shape, kernel, stride, dilation)
    ref = np.zeros_like(x)
    win = K.windows(ref, kernel, stride, dilation)
    offs = np.unravel_index(arg, kernel)
    for idx in np.ndindex(arg.shape):
        win[idx + tuple(o[idx] for o in offs)] += g[idx]  # one element of ref
    np.testing.assert_allclose(out, ref)
