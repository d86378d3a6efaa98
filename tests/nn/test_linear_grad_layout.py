"""nn.Linear's weight gradient comes out contiguous (as PyTorch's does), whichever way the
input is batched, so the optimizers' elementwise updates run on matching layouts."""
import numpy as np
import pytest

import ember
import ember.nn as nn


@pytest.mark.parametrize("shape", [(7, 6), (3, 7, 6), (6,)])
def test_linear_weight_grad_is_contiguous_and_correct(shape):
    rng = np.random.default_rng(0)
    lin = nn.Linear(6, 5, dtype=ember.float64)
    x = rng.standard_normal(shape)
    g = rng.standard_normal(shape[:-1] + (5,))
    lin(ember.tensor(x)).backward(ember.tensor(g))
    grad = lin.weight.grad.numpy()
    assert lin.weight.grad._data.flags.c_contiguous
    expected = g.reshape(-1, 5).T @ x.reshape(-1, 6)
    np.testing.assert_allclose(grad, expected, atol=1e-12)


def test_matmul_with_transposed_weight_keeps_weight_layout():
    w = ember.randn(4, 3, requires_grad=True)
    x = ember.randn(2, 5, 3)
    (x @ w.t()).sum().backward()
    assert w.grad._data.flags.c_contiguous
    np.testing.assert_allclose(w.grad.numpy(), np.ones((2 * 5, 4)).T @ x.numpy().reshape(-1, 3),
                               rtol=1e-5)
