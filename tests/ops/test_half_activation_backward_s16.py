"""tanh's and sigmoid's gradients in half precision as PyTorch's CPU kernels compute them:
tanh's ``grad * (1 - y * y)`` in float32 rounded once, for bfloat16 and float16; sigmoid's
``grad * (1 - y) * y`` in float32 rounded once for bfloat16, and in float16 itself, in that
order, for float16. (Rounding each product to bfloat16 moves gradients by an ulp, which a
bf16 autocast training run then carries into its losses.)"""
import numpy as np
import pytest

import ember

BF16 = ember.bfloat16.np_dtype


def gradients(op, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = ember.tensor(rng.standard_normal(4096).astype(np.float32)).to(dtype).requires_grad_()
    g = ember.tensor(rng.standard_normal(4096).astype(np.float32)).to(dtype)
    y = op(x)
    y.backward(g)
    return y.detach().numpy(), g.numpy(), x.grad.numpy()


@pytest.mark.parametrize("dtype, np_dtype", [(ember.bfloat16, BF16), (ember.float16, np.float16)])
def test_tanh_backward_computes_in_float32(dtype, np_dtype):
    y, g, grad = gradients(ember.tanh, dtype)
    y, g = y.astype(np.float32), g.astype(np.float32)
    expected = (g * (1 - y * y)).astype(np_dtype)
    assert grad.dtype == np_dtype and np.array_equal(grad, expected)


def test_sigmoid_backward_bfloat16_in_float32_and_float16_in_float16():
    y, g, grad = gradients(ember.sigmoid, ember.bfloat16)
    y, g = y.astype(np.float32), g.astype(np.float32)
    assert np.array_equal(grad, (g * (1 - y) * y).astype(BF16))
    y, g, grad = gradients(ember.sigmoid, ember.float16)
    assert np.array_equal(grad, g * (np.float16(1) - y) * y)
