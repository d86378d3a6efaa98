"""ReLU's gradient is ``where(result <= 0, 0, grad)`` (PyTorch's threshold backward), exact in
every float dtype: a NaN result passes its gradient and an inf gradient of a dead unit gives
0. Both array paths (the CPU's bit mask, the GPU's ``where`` on the bits) against NumPy."""
import ml_dtypes
import numpy as np
import pytest

import ember
from ember.backend import special

DTYPES = [np.float16, ml_dtypes.bfloat16, np.float32, np.float64]


def _cases(dtype):
    result = np.array([np.nan, -0.0, 0.0, 2.0, 1e-30, np.inf, -np.nan], dtype)
    grad = np.array([1.0, np.inf, -np.inf, 3.0, np.nan, -2.0, 5.0], dtype)
    return result, grad


def _oracle(result, grad):
    wide = result.astype(np.float64)
    return np.where(wide <= 0, 0.0, grad.astype(np.float64))


@pytest.mark.parametrize("dtype", DTYPES)
def test_both_array_paths_match_numpy_where(dtype):
    result, grad = _cases(dtype)
    want = _oracle(result, grad)
    with np.errstate(invalid="ignore"):  # ml_dtypes flags NaN comparisons
        dead = result <= 0
    for got in (special.grad_where(grad, drop=dead), special._select_bits(np, dead, grad)):
        assert got.dtype == grad.dtype
        np.testing.assert_array_equal(got.astype(np.float64), want)


def test_strided_gradient():
    result = np.maximum(np.random.default_rng(0).standard_normal((4, 6)), 0).astype(np.float32)
    grad = np.random.default_rng(1).standard_normal((6, 4)).astype(np.float32).T
    np.testing.assert_array_equal(special.grad_where(grad, drop=result <= 0),
                                  _oracle(result, grad).astype(np.float32))


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16", "float16"])
def test_relu_backward_nan_and_inf(dtype):
    dt = getattr(ember, dtype)
    x = ember.tensor([float("nan"), -1.0, 0.0, 2.0], dtype=dt, requires_grad=True)
    ember.relu(x).backward(ember.tensor([1.0, float("inf"), float("inf"), 3.0], dtype=dt))
    assert x.grad.dtype is dt
    assert x.grad.float().tolist() == [1.0, 0.0, 0.0, 3.0]


def test_double_backward_is_linear_in_grad():
    x = ember.tensor([float("nan"), -1.0, 0.0, 2.0], dtype=ember.float64, requires_grad=True)
    g = ember.tensor([1.0, 5.0, 6.0, 3.0], dtype=ember.float64, requires_grad=True)
    (gx,) = ember.autograd.grad(ember.relu(x), x, g, create_graph=True)
    assert gx.tolist() == [1.0, 0.0, 0.0, 3.0]
    (gg,) = ember.autograd.grad(gx.sum(), g)
    assert gg.tolist() == [1.0, 0.0, 0.0, 1.0]


def test_zero_dim_arrays_stay_arrays():
    for value, want in ((1.0, 2.0), (0.0, 0.0), (float("nan"), 2.0)):
        got = special.grad_where(np.array(2.0), drop=np.array(value) <= 0)
        assert isinstance(got, np.ndarray) and got.shape == () and float(got) == want
