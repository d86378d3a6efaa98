"""Gaps geoopt and laplace-torch found (tests/acceptance/test_thirdparty_s20_scientific.py): a
Parameter subclass may take constructor arguments of its own in ``__new__`` alone (geoopt's
``ManifoldParameter(data, manifold=...)``), as PyTorch's Parameter has no ``__init__``; the
``ember.func`` transforms called under ``no_grad`` give results that do not require grad even
for inputs that do (curvlinops computes laplace-torch's GGN that way, and a Hessian recording a
graph made its marginal-likelihood loop backpropagate through a freed graph); ``Tensor.tile``
takes its repeats as separate arguments (laplace-torch's ``tile(bsize, 1, 1)``)."""
from __future__ import annotations

import numpy as np
import pytest

import ember
from ember.func import grad, jacrev, jvp, linearize, vjp


class TaggedParameter(ember.nn.Parameter):
    """A parameter carrying a tag given to its constructor, as geoopt's ManifoldParameter."""

    def __new__(cls, data=None, tag=None, requires_grad=True):
        instance = super().__new__(cls, data, requires_grad)
        instance.tag = tag
        return instance


def test_a_parameter_subclass_takes_its_own_constructor_arguments():
    weight = TaggedParameter(ember.ones(2, 3), tag="sphere")
    assert weight.tag == "sphere" and weight.requires_grad and weight.is_leaf
    assert isinstance(weight, ember.nn.Parameter)
    module = ember.nn.Module()
    module.weight = TaggedParameter(ember.zeros(2), tag="ball", requires_grad=False)
    assert [name for name, _ in module.named_parameters()] == ["weight"]
    assert module.weight.tag == "ball" and not module.weight.requires_grad
    plain = ember.nn.Parameter(ember.ones(2), requires_grad=False)  # still as before
    assert type(plain) is ember.nn.Parameter and not plain.requires_grad


def _cube(x):
    return x ** 3


def test_transforms_under_no_grad_give_results_without_grad():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    ones = ember.ones(2)
    with ember.no_grad():
        output, vjp_fn = vjp(_cube, x)
        (cotangent_grad,) = vjp_fn(ones)
        primal, tangent = jvp(_cube, (x,), (ones,))
        gradient = grad(lambda v: _cube(v).sum())(x)
        jacobian = jacrev(_cube)(x)
        linearized_output, jvp_fn = linearize(_cube, x)
        linearized_tangent = jvp_fn(ones)
    results = [output, cotangent_grad, primal, tangent, gradient, jacobian, linearized_output,
               linearized_tangent]
    assert not any(r.requires_grad for r in results)
    np.testing.assert_allclose(cotangent_grad.numpy(), [3.0, 12.0])
    np.testing.assert_allclose(tangent.numpy(), [3.0, 12.0])
    np.testing.assert_allclose(gradient.numpy(), [3.0, 12.0])
    np.testing.assert_allclose(jacobian.numpy(), np.diag([3.0, 12.0]))
    np.testing.assert_allclose(linearized_tangent.numpy(), [3.0, 12.0])


def test_transforms_with_grad_keep_the_outer_graph():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    gradient = grad(lambda v: _cube(v).sum())(x)  # 3 x^2, differentiable again: 6 x
    assert gradient.requires_grad
    (second,) = ember.autograd.grad(gradient.sum(), x)
    np.testing.assert_allclose(second.numpy(), [6.0, 12.0])
    # a vjp_fn follows the grad mode it is called in
    _, vjp_fn = vjp(_cube, x)
    assert vjp_fn(ember.ones(2))[0].requires_grad
    with ember.no_grad():
        assert not vjp_fn(ember.ones(2))[0].requires_grad


def test_nested_transforms_under_no_grad():
    x = ember.tensor([0.5, -1.0], requires_grad=True)
    with ember.no_grad():
        hessian = jacrev(grad(lambda v: (v.sin() * v[0]).sum()))(x)
    assert not hessian.requires_grad
    a, b = 0.5, -1.0  # f = a sin a + a sin b
    expected = [[2 * np.cos(a) - a * np.sin(a), np.cos(b)], [np.cos(b), -a * np.sin(b)]]
    np.testing.assert_allclose(hessian.numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("call", [lambda t: t.tile(2, 1, 1), lambda t: t.tile((2, 1, 1)),
                                  lambda t: t.tile([2, 1, 1]), lambda t: t.tile(dims=(2, 1, 1))],
                         ids=["varargs", "tuple", "list", "keyword"])
def test_tile_takes_its_repeats_as_arguments_or_a_sequence(call):
    values = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(call(ember.tensor(values)).numpy(), np.tile(values, (2, 1, 1)))


def test_tile_with_one_repeat_and_fewer_repeats_than_dims():
    values = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(ember.tensor(values).tile(2).numpy(), np.tile(values, 2))
    np.testing.assert_array_equal(ember.tensor(values).tile(2, 2).numpy(),
                                  np.tile(values, (2, 2)))
