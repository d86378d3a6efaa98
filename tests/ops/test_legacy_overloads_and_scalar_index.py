"""PyTorch 1's scalar-first ``add``/``sub``/``addcmul``/``addcdiv`` overloads, and the 0-d
``index``/``src`` that scatter and gather read as one element (both met in PyTorch's
tutorials: ``p.data.add_(-lr, p.grad)``, ``zeros(10).scatter_(0, tensor(y), value=1)``)."""
import numpy as np
import pytest

import ember


@pytest.mark.parametrize("name,expected", [("add", [3., 5.]), ("sub", [-1., -3.]),
                                           ("add_", [3., 5.]), ("sub_", [-1., -3.])])
def test_scalar_first_alpha(name, expected):
    a = ember.tensor([1., 1.])
    b = ember.tensor([1., 2.])
    with pytest.warns(UserWarning, match=f"This overload of {name} is deprecated"):
        out = getattr(a, name)(2.0, b)  # add(Number alpha, Tensor other) = a + alpha * b
    np.testing.assert_array_equal(out.numpy(), expected)
    assert (out is a) == name.endswith("_")


def test_functional_scalar_first_and_gradients():
    a = ember.tensor([1., 2.], requires_grad=True)
    b = ember.tensor([3., 4.], requires_grad=True)
    with pytest.warns(UserWarning):
        out = ember.add(a, 0.5, b)
    out.sum().backward()
    np.testing.assert_array_equal(out.detach().numpy(), [2.5, 4.])
    np.testing.assert_array_equal(b.grad.numpy(), [0.5, 0.5])


@pytest.mark.parametrize("name,expected", [("addcmul", [1 + 2 * 6.]), ("addcdiv", [1 + 2 * 1.5]),
                                           ("addcmul_", [1 + 2 * 6.]),
                                           ("addcdiv_", [1 + 2 * 1.5])])
def test_scalar_first_value(name, expected):
    a, t1, t2 = ember.tensor([1.]), ember.tensor([3.]), ember.tensor([2.])
    with pytest.warns(UserWarning, match="deprecated"):
        out = getattr(a, name)(2.0, t1, t2)  # addcmul(Number value, Tensor, Tensor)
    np.testing.assert_allclose(out.numpy(), expected)


def test_tensor_second_argument_is_still_an_error():
    a = ember.ones(2)
    with pytest.raises(TypeError):
        a.add(a, 2)


def test_scatter_one_hot_from_0d_index():
    y = ember.zeros(10).scatter_(0, ember.tensor(3), value=1)
    np.testing.assert_array_equal(y.numpy(), np.eye(10)[3])
    y = ember.zeros(5).scatter(dim=0, index=ember.tensor(1), src=ember.tensor(7.))
    np.testing.assert_array_equal(y.numpy(), [0, 7, 0, 0, 0])
    y = ember.zeros(5).scatter_add(0, ember.tensor(4), ember.tensor(2.))
    np.testing.assert_array_equal(y.numpy(), [0, 0, 0, 0, 2])
    y = ember.zeros(5).scatter_reduce(0, ember.tensor(0), ember.tensor(2.), "sum")
    np.testing.assert_array_equal(y.numpy(), [2, 0, 0, 0, 0])


def test_scatter_0d_src_gradient():
    src = ember.tensor(2.0, requires_grad=True)
    ember.zeros(3).scatter(0, ember.tensor(1), src).mul(ember.arange(3.)).sum().backward()
    assert src.grad.shape == () and src.grad.item() == 1.0


def test_gather_0d_index_gives_0d():
    x = ember.arange(5., requires_grad=True)
    out = x.gather(0, ember.tensor(3))
    assert out.shape == () and out.item() == 3.0
    out.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, 0, 1, 0])


def test_0d_index_into_2d_is_an_error():
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        ember.zeros(2, 2).scatter(0, ember.tensor(1), value=2)
