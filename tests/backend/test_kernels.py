"""Pooling kernels of ember.backend.kernels against a NumPy oracle that copies the windows out."""
import numpy as np
import pytest

from ember.backend import kernels as K


def _oracle_max(x, kernel, stride, dilation):
    win = K.windows(x, kernel, stride, dilation)
    flat = win.reshape(win.shape[:win.ndim - len(kernel)] + (-1,))
    nan = np.isnan(flat)
    last_nan = nan.shape[-1] - 1 - nan[..., ::-1].argmax(-1)
    arg = np.where(nan.any(-1), last_nan, flat.argmax(-1))  # last NaN, else first max
    return np.take_along_axis(flat, arg[..., None], -1)[..., 0], arg


def _flat_offsets(args, kernel, stride, dilation):
    return np.ravel_multi_index(K.window_offsets(args, kernel, stride, dilation), kernel)


GEOMETRIES = [((2, 2), (2, 2), (1, 1)), ((3, 3), (2, 2), (1, 1)), ((3, 2), (1, 1), (2, 1)),
              ((2, 2), (3, 3), (1, 1)), ((1, 3), (1, 2), (1, 1)), ((2, 2), (2, 2), (2, 1))]


@pytest.mark.parametrize("kernel,stride,dilation", GEOMETRIES)
@pytest.mark.parametrize("nan", [False, True])
def test_window_max_matches_argmax_with_ties_and_nan(kernel, stride, dilation, nan):
    rng = np.random.default_rng(0)
    x = rng.integers(-2, 3, (2, 3, 9, 8)).astype(np.float32)  # many ties
    if nan:
        x[0, 0, 1, 1] = x[0, 0, 2, 0] = x[1, 2, 4, 5] = x[1, 2, 4, 6] = np.nan
    values, args = K.window_max(x, kernel, stride, dilation)
    ref_values, ref_arg = _oracle_max(x, kernel, stride, dilation)
    np.testing.assert_array_equal(values, ref_values)
    np.testing.assert_array_equal(_flat_offsets(args, kernel, stride, dilation), ref_arg)
    win = K.windows(x, kernel, stride, dilation)
    np.testing.assert_array_equal(K.window_gather(x, args, kernel, stride, dilation), values)
    assert not np.shares_memory(values, x) and not np.shares_memory(values, win)


def test_window_max_3d_and_integers():
    rng = np.random.default_rng(2)
    x = rng.integers(-3, 4, (2, 2, 5, 6, 7)).astype(np.int32)
    kernel, stride, dilation = (2, 3, 2), (2, 1, 2), (1, 1, 2)
    values, args = K.window_max(x, kernel, stride, dilation)
    win = K.windows(x, kernel, stride, dilation)
    flat = win.reshape(win.shape[:5] + (-1,))
    np.testing.assert_array_equal(values, flat.max(-1))
    np.testing.assert_array_equal(_flat_offsets(args, kernel, stride, dilation), flat.argmax(-1))


@pytest.mark.parametrize("kernel,stride,dilation", GEOMETRIES)
def test_window_scatter_is_the_adjoint_of_the_gather(kernel, stride, dilation):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 9, 8))
    _, args = K.window_max(x, kernel, stride, dilation)
    arg = _flat_offsets(args, kernel, stride, dilation)
    g = rng.standard_normal(arg.shape)
    g[0, 0, 0, 0] = np.inf  # an infinite gradient must not leak NaN into unselected elements
    out = K.window_scatter(g, args, x.shape, kernel, stride, dilation)
    ref = np.zeros_like(x)
    win = K.windows(ref, kernel, stride, dilation)
    offs = np.unravel_index(arg, kernel)
    for idx in np.ndindex(arg.shape):
        win[idx + tuple(o[idx] for o in offs)] += g[idx]  # one element of ref
    np.testing.assert_allclose(out, ref)
