"""einsum keeps only the operands a gradient needs (PyTorch's rule): an operand that no other
operand's gradient uses may be written in place after the call, as torchode's Runge-Kutta steps
do with their stage buffer; one that a gradient does use still raises."""
from __future__ import annotations

import numpy as np
import pytest

import ember


def test_writing_into_an_operand_no_gradient_needs_is_allowed():
    weights = np.array([0.5, -2.0, 3.0])
    stages = ember.zeros(3, 2)  # the buffer, written stage by stage
    source = ember.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], requires_grad=True)
    stages[0] = source[0] * 2
    first = ember.einsum("j,jf->f", ember.tensor(weights[:1].tolist()), stages[:1])
    stages[1] = first + source[1]  # bumps the version of the slice einsum consumed
    total = ember.einsum("j,jf->f", ember.tensor(weights[:2].tolist()), stages[:2]).sum()
    total.backward()
    # total = w0 (2 s0) + w1 (w0 2 s0 + s1), per feature
    expected = np.zeros((3, 2))
    expected[0] = 2 * weights[0] + weights[1] * weights[0] * 2
    expected[1] = weights[1]
    np.testing.assert_allclose(source.grad.numpy(), expected)


def test_writing_into_an_operand_a_gradient_needs_still_raises():
    a = ember.ones(3, requires_grad=True)
    b = ember.tensor([1.0, 2.0, 3.0])
    out = ember.einsum("i,i->", a, b)  # d/da needs b
    b.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.backward()


def test_gradients_of_all_operands_when_all_require_grad():
    x = np.arange(6.0).reshape(2, 3)
    y = np.arange(12.0).reshape(3, 4) / 7
    a = ember.tensor(x, requires_grad=True)
    b = ember.tensor(y, requires_grad=True)
    ember.einsum("ij,jk->ik", a, b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), np.ones((2, 4)) @ y.T)
    np.testing.assert_allclose(b.grad.numpy(), x.T @ np.ones((2, 4)))
