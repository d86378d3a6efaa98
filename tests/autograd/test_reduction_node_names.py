"""``sum``/``mean`` over given dims record ``SumBackward1``/``MeanBackward1``, as PyTorch names
them (a full reduction is ``...Backward0``)."""
import numpy as np
import pytest

import ember


@pytest.mark.parametrize("call,name", [
    (lambda x: x.sum(), "SumBackward0"), (lambda x: x.sum(1), "SumBackward1"),
    (lambda x: x.sum((0, 1)), "SumBackward1"), (lambda x: x.sum(0, keepdim=True), "SumBackward1"),
    (lambda x: x.sum(dtype=ember.float64), "SumBackward0"), (lambda x: x.mean(), "MeanBackward0"),
    (lambda x: x.mean(0), "MeanBackward1"), (lambda x: x.mean((0, 1)), "MeanBackward1")])
def test_reduction_node_name_and_gradient(call, name):
    x = ember.arange(6.0).reshape(2, 3).requires_grad_()
    out = call(x)
    assert out.grad_fn.name() == name
    out.sum().backward()
    n = 6 if name.startswith("Mean") and out.numel() == 1 else 2 if name.startswith("Mean") else 1
    np.testing.assert_allclose(x.grad.numpy(), np.full((2, 3), 1 / n))

