"""``Tensor.diagonal`` is a view that writes through, as in PyTorch (NumPy's diagonal is a
read-only view): GPyTorch zeroes the diagonal of a distance matrix with
``res.diagonal(dim1=-2, dim2=-1).fill_(0)``. In-place ops on the diagonal of a non-leaf keep
the gradient."""
import numpy as np
import pytest

import ember


@pytest.mark.parametrize("offset", [0, 1, -2])
def test_diagonal_writes_through(offset):
    base = ember.zeros(2, 3, 4)
    base.diagonal(offset, dim1=-2, dim2=-1).fill_(1.0)
    expected = np.zeros((2, 3, 4))
    rows = np.arange(3)
    cols = rows + offset
    keep = (cols >= 0) & (cols < 4)
    expected[:, rows[keep], cols[keep]] = 1.0
    np.testing.assert_array_equal(base.numpy(), expected)


def test_diagonal_in_place_add_between_the_first_two_dims():
    base = ember.arange(9.0).reshape(3, 3)
    base.diagonal().add_(ember.tensor([10.0, 20.0, 30.0]))
    np.testing.assert_array_equal(base.numpy(),
                                  np.arange(9.0).reshape(3, 3) + np.diag([10.0, 20.0, 30.0]))


def test_in_place_on_diagonal_of_non_leaf_keeps_gradient():
    leaf = ember.ones(3, 3, requires_grad=True)
    y = leaf * 2
    y.diagonal().mul_(ember.tensor([1.0, 2.0, 3.0]))
    (y * ember.arange(9.0).reshape(3, 3)).sum().backward()
    expected = 2 * np.arange(9.0).reshape(3, 3)
    expected[np.arange(3), np.arange(3)] *= [1.0, 2.0, 3.0]
    np.testing.assert_allclose(leaf.grad.numpy(), expected)
