"""Graph structure: grad_fn names, next_functions, leaves, requires_grad, retain_grad, .grad
accumulation, detach() and .data."""
import weakref

import numpy as np
import pytest

import ember
from ember.autograd.function import AccumulateGrad


def leaf(*shape, dtype=ember.float64):
    return ember.randn(*shape, dtype=dtype, requires_grad=True)


@pytest.mark.parametrize("fn, name", [
    (lambda x, y: x + y, "AddBackward0"),
    (lambda x, y: x - y, "SubBackward0"),
    (lambda x, y: x * y, "MulBackward0"),
    (lambda x, y: x / y, "DivBackward0"),
    (lambda x, y: x + 2, "AddBackward0"),
    (lambda x, y: 2 - x, "RsubBackward1"),
    (lambda x, y: x.mean(), "MeanBackward0"),
    (lambda x, y: x.sum(), "SumBackward0"),
    (lambda x, y: x.exp(), "ExpBackward0"),
    (lambda x, y: x.tanh(), "TanhBackward0"),
    (lambda x, y: x.sigmoid(), "SigmoidBackward0"),
    (lambda x, y: x.relu(), "ReluBackward0"),
    (lambda x, y: x ** 2, "PowBackward0"),
    (lambda x, y: x @ y.t(), "MmBackward0"),
    (lambda x, y: x.t(), "TBackward0"),
    (lambda x, y: x.view(-1), "ViewBackward0"),
    (lambda x, y: x.reshape(-1), "ViewBackward0"),
    (lambda x, y: x[0], "SelectBackward0"),
    (lambda x, y: x[:, 1:], "SliceBackward0"),
    (lambda x, y: -x, "NegBackward0"),
    (lambda x, y: x.clone(), "CloneBackward0"),
    (lambda x, y: x.unsqueeze(0), "UnsqueezeBackward0"),
    (lambda x, y: x.transpose(0, 1), "TransposeBackward0"),
    (lambda x, y: x.permute(1, 0), "PermuteBackward0"),
    (lambda x, y: ember.cat([x, y]), "CatBackward0"),
    (lambda x, y: x.max(), "MaxBackward1"),
    (lambda x, y: x.min(), "MinBackward1"),
    (lambda x, y: x.amax(0), "AmaxBackward0"),
    (lambda x, y: x.amin(), "AminBackward0"),
    (lambda x, y: x.abs(), "AbsBackward0"),
    (lambda x, y: x.log(), "LogBackward0"),
    (lambda x, y: x.sqrt(), "SqrtBackward0"),
    (lambda x, y: x.expand(2, 3, 3), "ExpandBackward0"),
    (lambda x, y: x.squeeze(), "SqueezeBackward0"),
    (lambda x, y: x.float(), "ToCopyBackward0"),
])
def test_grad_fn_names(fn, name):
    x, y = leaf(3, 3), leaf(3, 3)
    assert fn(x, y).grad_fn.name() == name
    assert type(fn(x, y).grad_fn).__name__ == name


def test_grad_accumulator_outlives_graphs_but_not_its_leaf():
    x = leaf(3)
    acc = (x * 2).grad_fn.next_functions[0][0]
    (x * 3).sum().backward()  # a later graph reuses the leaf's node
    assert (x + 1).grad_fn.next_functions[0][0] is acc and acc.variable is x
    ref = weakref.ref(x)
    del x  # the node refers back weakly: no cycle keeps the leaf alive
    assert ref() is None and acc.variable is None


def test_next_functions_leaves_and_scalars():
    x, y = leaf(2), leaf(2)
    z = x * y
    (a, ia), (b, ib) = z.grad_fn.next_functions
    assert isinstance(a, AccumulateGrad) and a.variable is x and ia == 0
    assert isinstance(b, AccumulateGrad) and b.variable is y and ib == 0
    # the accumulator is cached per leaf
    assert (x + 1).grad_fn.next_functions[0][0] is a
    for op in (lambda t: t + 2, lambda t: t - 2, lambda t: t * 2, lambda t: t / 2):
        nf = op(x).grad_fn.next_functions
        assert len(nf) == 2 and nf[1] == (None, 0)
    w = (z + 1).sum()
    assert w.grad_fn.next_functions[0][0].next_functions[0][0] is z.grad_fn


def test_next_functions_constant_operand():
    x = leaf(2)
    c = ember.ones(2, dtype=ember.float64)
    assert (x * c).grad_fn.next_functions[1] == (None, 0)


def test_is_leaf_and_requires_grad():
    a = ember.ones(2)
    assert a.is_leaf and not a.requires_grad and a.grad_fn is None
    b = a.requires_grad_()
    assert b is a and a.requires_grad and a.is_leaf
    c = a * 2
    assert not c.is_leaf and c.requires_grad
    d = ember.ones(2) * 2
    assert d.is_leaf and not d.requires_grad
    with pytest.raises(RuntimeError, match="you can only change requires_grad flags of leaf"):
        c.requires_grad_(False)
    with pytest.raises(RuntimeError, match="^only Tensors of floating point dtype can require "
                                           "gradients$"):
        ember.ones(2, dtype=ember.int64).requires_grad_()
    a.requires_grad_(False)
    assert not a.requires_grad


def test_grad_accumulates_across_backward_calls():
    x = leaf(3)
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(3, 5.0))
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(3, 3.0))


def test_grad_of_shared_input_is_summed():
    x = leaf(3)
    y = x * x + x
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().numpy() + 1)


def test_non_leaf_grad_is_none_and_retain_grad():
    x = leaf(3)
    y = x * 2
    z = y * y
    y.retain_grad()
    assert y.retains_grad and not x.retains_grad
    z.sum().backward(retain_graph=True)
    np.testing.assert_allclose(y.grad.numpy(), 2 * y.detach().numpy())
    z.sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), 4 * y.detach().numpy())
    w = x * 3
    w.sum().backward()
    with pytest.warns(UserWarning, match="not a leaf Tensor"):  # as PyTorch warns
        assert w.grad is None
    x.retain_grad()  # a no-op on leaves
    with pytest.raises(RuntimeError, match="can't retain_grad on Tensor that has "
                                           "requires_grad=False"):
        ember.ones(2).retain_grad()


def test_detach_shares_storage_and_version_counter():
    x = leaf(3)
    y = x * 2
    d = y.detach()
    assert d.requires_grad is False and d.grad_fn is None and d.is_leaf
    d[0] = 100.0
    assert y[0].item() == 100.0
    assert y._version == d._version == 1
    z = x.exp()
    z.detach().zero_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_detach_inplace():
    x = leaf(2)
    y = x * 2
    y.detach_()
    assert y.grad_fn is None and not y.requires_grad


def test_data_shares_storage_not_history():
    x = leaf(3)
    d = x.data
    assert not d.requires_grad and d.grad_fn is None
    d.mul_(2)
    np.testing.assert_allclose(x.detach().numpy(), d.numpy())
    y = x.exp()
    y.data.zero_()  # .data is invisible to autograd: no version error
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.zeros(3))
    x.data = ember.zeros(3, dtype=ember.float64)
    assert x.requires_grad and x.sum().item() == 0.0


def test_backward_errors():
    x = leaf(3)
    with pytest.raises(RuntimeError, match="^grad can be implicitly created only for scalar "
                                           "outputs$"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="^element 0 of tensors does not require grad and "
                                           "does not have a grad_fn$"):
        ember.ones(2).sum().backward()
    y = (x.exp()).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward()
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 2).backward(ember.ones(4, dtype=ember.float64))
