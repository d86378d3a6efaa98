"""A leaf's ``.grad`` may take over the incoming gradient's array (as PyTorch's AccumulateGrad
does) only when nothing else can see that array: otherwise an in-place accumulation into one
``.grad`` would change another tensor. Every case here checks values against NumPy."""
import numpy as np
import pytest

import ember
from ember._tensor import _make
from ember.autograd import function
from ember.autograd.function import grad_accumulator


def _require_plain_frames():
    """Another library's frame evaluator (PyTorch's Dynamo, after a test compiled with real
    torch in this process) adds references to every frame's arguments: ember then copies every
    gradient (safe), and a test that a gradient is taken has no premise."""
    if function._refs_of_engine_argument() != function._ENGINE_REFS:
        pytest.skip("a frame evaluation hook installed in this process changes reference counts")


def _leaf(*shape):
    return ember.tensor(np.arange(np.prod(shape), dtype=np.float64).reshape(shape) / 7,
                        requires_grad=True)


def test_an_unshared_gradient_is_taken_without_a_copy():
    _require_plain_frames()
    x = _leaf(3)
    buffer = [_make(np.full(3, 2.0))]  # as the engine holds it: in its buffer list only
    address = buffer[0]._data.ctypes.data  # (holding the array itself would share it)
    grad_accumulator(x).accumulate(buffer[0], create_graph=False)
    assert x.grad._data.ctypes.data == address
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 2.0])


def test_a_gradient_held_elsewhere_is_copied():
    x = _leaf(3)
    held = _make(np.full(3, 2.0))
    buffer = [held]
    grad_accumulator(x).accumulate(buffer[0], create_graph=False)
    assert not np.shares_memory(x.grad._data, held._data)
    x.grad.add_(1)
    np.testing.assert_array_equal(held.numpy(), [2.0, 2.0, 2.0])


def test_one_gradient_reaching_two_leaves_gives_each_its_own_array():
    a, b = _leaf(2, 3), _leaf(2, 3)
    (a + b).sum().backward()  # AddBackward passes one gradient to both
    assert not np.shares_memory(a.grad._data, b.grad._data)
    (a + b).sum().backward()  # the second pass accumulates in place
    a.grad.mul_(10)
    np.testing.assert_array_equal(a.grad.numpy(), np.full((2, 3), 20.0))
    np.testing.assert_array_equal(b.grad.numpy(), np.full((2, 3), 2.0))


def test_a_retained_gradient_is_not_aliased_by_the_leaf():
    x = _leaf(2, 3)
    y = x.view(6)
    y.retain_grad()
    weights = np.arange(6.0)
    (y * ember.tensor(weights)).sum().backward()
    x.grad.add_(100)
    np.testing.assert_array_equal(y.grad.numpy(), weights)
    np.testing.assert_array_equal(x.grad.numpy(), weights.reshape(2, 3) + 100)


def test_a_gradient_kept_by_a_hook_is_not_aliased():
    x = _leaf(4)
    kept = []
    x.register_hook(kept.append)
    (x * 3).sum().backward()
    x.grad.zero_()
    np.testing.assert_array_equal(kept[0].numpy(), np.full(4, 3.0))


def test_the_callers_gradient_is_never_taken():
    x = _leaf(2, 3)
    given = ember.ones(6) * 5
    x.view(6).backward(given)  # ViewBackward's gradient is a view of ``given``
    x.grad.add_(1)
    np.testing.assert_array_equal(given.numpy(), np.full(6, 5.0))
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 6.0))


def test_linear_weight_gradient_accumulates_correctly_when_taken():
    # nn.Linear's weight gradient arrives as a transposed view of a transposed product: the
    # whole-array case that may be taken over
    rng = np.random.default_rng(0)
    x_np, w_np = rng.standard_normal((5, 4)), rng.standard_normal((3, 4))
    x, w = ember.tensor(x_np), ember.tensor(w_np, requires_grad=True)
    for _ in range(2):
        ember.nn.functional.linear(x, w).sum().backward()
    expected = 2 * np.ones((5, 3)).T @ x_np
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-12)
    assert w.grad._data.flags.c_contiguous and w.grad._base is None


def test_module_gradients_match_numpy_over_steps():
    rng = np.random.default_rng(1)
    model = ember.nn.Linear(4, 2).double()
    x_np = rng.standard_normal((6, 4))
    w_np, b_np = model.weight.detach().numpy().copy(), model.bias.detach().numpy().copy()
    for step in range(1, 4):
        model(ember.tensor(x_np)).pow(2).sum().backward()
        y = x_np @ w_np.T + b_np
        np.testing.assert_allclose(model.weight.grad.numpy(), step * (2 * y).T @ x_np,
                                   rtol=1e-12)
        np.testing.assert_allclose(model.bias.grad.numpy(), step * (2 * y).sum(0), rtol=1e-12)


def test_a_reshaped_unshared_gradient_is_taken_without_a_copy():
    _require_plain_frames()
    x = _leaf(2, 3)
    owner = np.full((6,), 2.0)
    buffer = [_make(owner.reshape(2, 3))]  # a sum reshaped: its owner held by the view alone
    address = owner.ctypes.data
    del owner
    grad_accumulator(x).accumulate(buffer[0], create_graph=False)
    assert x.grad._data.ctypes.data == address
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 2.0))


def test_a_view_whose_owner_is_held_elsewhere_is_copied():
    x = _leaf(2, 3)
    owner = np.full((6,), 2.0)
    buffer = [_make(owner.reshape(2, 3))]
    grad_accumulator(x).accumulate(buffer[0], create_graph=False)
    assert not np.shares_memory(x.grad._data, owner)
    x.grad.add_(1)
    np.testing.assert_array_equal(owner, np.full(6, 2.0))


def test_layer_norm_affine_gradients_accumulate_over_steps():
    rng = np.random.default_rng(2)
    x_np = rng.standard_normal((4, 5))
    ln = ember.nn.LayerNorm(5).double()
    xhat = (x_np - x_np.mean(1, keepdims=True)) / np.sqrt(x_np.var(1, keepdims=True) + 1e-5)
    for step in range(1, 3):
        ln(ember.tensor(x_np)).pow(2).sum().backward()
        np.testing.assert_allclose(ln.weight.grad.numpy(), step * (2 * xhat * xhat).sum(0),
                                   rtol=1e-10)
        np.testing.assert_allclose(ln.bias.grad.numpy(), step * (2 * xhat).sum(0), rtol=1e-10)
