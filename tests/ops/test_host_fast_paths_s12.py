"""The host-overhead fast paths give what the general paths give: Mul's backward on the arrays
(same dtype, real, no graph), relu through ``ndarray.clip``, ``is_number`` on arrays."""
import numpy as np
import pytest

import ember
from ember.autograd import gradcheck
from ember.ops._util import is_number


@pytest.mark.parametrize("dtype_a, dtype_b", [
    (ember.float32, ember.float32),  # the array fast path
    (ember.float32, ember.float64),  # mixed dtypes: through mul, cast back by the engine
    (ember.float16, ember.float16),
    (ember.complex64, ember.complex64),  # conjugates: through mul
])
def test_mul_backward_matches_numpy(dtype_a, dtype_b):
    rng = np.random.default_rng(0)
    a_np = rng.standard_normal((3, 4))
    b_np = rng.standard_normal((4,))
    if dtype_a.is_complex:
        a_np = a_np + 1j * rng.standard_normal((3, 4))
        b_np = b_np + 1j * rng.standard_normal((4,))
    a = ember.tensor(a_np, dtype=dtype_a, requires_grad=True)
    b = ember.tensor(b_np, dtype=dtype_b, requires_grad=True)
    loss = (a * b).sum()
    (loss.abs() if dtype_a.is_complex else loss).backward()
    assert a.grad.dtype is dtype_a and b.grad.dtype is dtype_b
    assert a.grad.shape == a.shape and b.grad.shape == b.shape
    if not dtype_a.is_complex:
        tol = 1e-2 if dtype_a is ember.float16 else 1e-6
        np.testing.assert_allclose(a.grad.numpy(), np.broadcast_to(b_np, (3, 4)), rtol=tol,
                                   atol=tol)
        np.testing.assert_allclose(b.grad.numpy(), a_np.sum(0), rtol=tol, atol=tol)


def test_mul_double_backward_and_gradcheck():
    a = ember.randn(3, 4, dtype=ember.float64, requires_grad=True)
    b = ember.randn(3, 4, dtype=ember.float64, requires_grad=True)
    assert gradcheck(lambda x, y: x * y, (a, b))
    (ga,) = ember.autograd.grad((a * b * a).sum(), a, create_graph=True)
    (gga,) = ember.autograd.grad(ga.sum(), a)  # d/da sum(2ab) = 2b
    np.testing.assert_allclose(gga.numpy(), 2 * b.detach().numpy())


def test_mul_backward_fast_path_is_not_a_view_of_saved():
    a = ember.randn(2, 2, requires_grad=True)
    b = ember.randn(2, 2, requires_grad=True)
    (a * b).sum().backward()
    ga = a.grad.clone()
    b.data.mul_(2)  # the gradient was computed before: it must not change
    np.testing.assert_array_equal(a.grad.numpy(), ga.numpy())


def test_relu_keeps_negative_zero_and_nan():
    x = ember.tensor([-0.0, float("nan"), -1.0, 2.0, float("-inf")])
    out = ember.relu(x).numpy()
    assert np.signbit(out[0]) and out[0] == 0
    assert np.isnan(out[1])
    np.testing.assert_array_equal(out[2:], [0.0, 2.0, 0.0])
    assert ember.relu(ember.tensor([1, -2], dtype=ember.float64)).dtype is ember.float64


def test_clamp_one_bound_through_the_method():
    x = ember.tensor([-2.0, -0.0, 0.5, float("nan")])
    np.testing.assert_array_equal(ember.clamp(x, min=0).numpy()[:3], [0.0, -0.0, 0.5])
    assert np.isnan(ember.clamp(x, max=0).numpy()[3])


def test_is_number_on_arrays_and_scalars():
    assert not is_number(np.zeros(3))
    assert not is_number(ember.zeros(3))
    assert is_number(np.float32(1)) and is_number(1.5) and is_number(True)
