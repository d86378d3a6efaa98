"""``ember.utils.swap_tensors``: two tensor objects exchange contents; references follow."""
import numpy as np
import pytest

import ember


def test_swap_values_shapes_and_dtypes():
    t1, t2 = ember.arange(2), ember.arange(3.0)
    alias = t1
    ember.utils.swap_tensors(t1, t2)
    assert alias is t1 and t1.dtype == ember.float32 and t2.dtype == ember.int64
    np.testing.assert_array_equal(t1.numpy(), [0., 1., 2.])
    np.testing.assert_array_equal(t2.numpy(), [0, 1])


def test_swap_class_attributes_and_grad():
    p = ember.nn.Parameter(ember.ones(2))
    p.note = "param"
    q = ember.zeros(3)
    ember.utils.swap_tensors(p, q)
    assert type(p) is ember.Tensor and not p.requires_grad and not hasattr(p, "note")
    assert type(q) is ember.nn.Parameter and q.requires_grad and q.note == "param"
    # the gradient sink of the swapped-in leaf writes to the object now holding it
    (q * 3).sum().backward()
    np.testing.assert_array_equal(q.grad.numpy(), [3., 3.])
    assert p.grad is None


def test_optimizer_sees_swapped_parameter():
    model = ember.nn.Linear(2, 1, bias=False)
    opt = ember.optim.SGD(model.parameters(), lr=0.5)
    new = ember.nn.Parameter(ember.tensor([[1., 2.]]))
    ember.utils.swap_tensors(model.weight, new)
    model(ember.tensor([[1., 1.]])).sum().backward()
    opt.step()
    np.testing.assert_allclose(opt.param_groups[0]["params"][0].detach().numpy(), [[0.5, 1.5]])


def test_swap_rejects_non_tensors():
    with pytest.raises(TypeError):
        ember.utils.swap_tensors(ember.ones(1), np.ones(1))
