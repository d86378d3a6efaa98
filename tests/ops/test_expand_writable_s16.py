"""An expand that repeats no element (only new or kept size-1 dims) is a writable view, as in
PyTorch: transformers registers ``arange(n).expand((1, -1))`` buffers and ``copy_``s into
them. Expands that repeat elements still refuse in-place writes."""
import numpy as np
import pytest

import ember


@pytest.mark.parametrize("sizes", [(1, -1), (1, 1, 5), (5,), (-1,)])
def test_expand_without_repeats_writes_through(sizes):
    base = ember.arange(5)
    view = base.expand(sizes)
    view.copy_(ember.arange(5).mul(2).expand(sizes))
    np.testing.assert_array_equal(base.numpy(), np.arange(5) * 2)
    view.add_(1)
    np.testing.assert_array_equal(base.numpy(), np.arange(5) * 2 + 1)


def test_expand_as_itself_takes_in_place_ops():
    column = ember.zeros(3, 1)
    column.expand_as(column).add_(1)
    np.testing.assert_array_equal(column.numpy(), np.ones((3, 1)))


def test_expand_with_repeats_refuses_writes():
    with pytest.raises(RuntimeError, match="more than one element"):
        ember.arange(3).expand(2, 3).add_(1)


def test_expand_without_repeats_keeps_gradient():
    leaf = ember.arange(3.0, requires_grad=True)
    leaf.expand(1, 1, 3).mul(ember.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(leaf.grad.numpy(), [1.0, 2.0, 3.0])
