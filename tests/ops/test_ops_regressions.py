"""Regression tests for op bugs the table sweep found, where a table row alone would not show
the failure (several outputs of one node, messages, layouts)."""
import numpy as np
import pytest

import ember


def test_grad_of_several_outputs_of_one_node():
    # autograd.grad over outputs sharing a grad_fn (split) used to count its edges twice.
    x = ember.arange(10.0, dtype=ember.float64).reshape(5, 2).requires_grad_()
    a, b, c = ember.split(x, 2)
    (g,) = ember.autograd.grad([a, b], [x], [ember.ones_like(a), 2 * ember.ones_like(b)])
    np.testing.assert_array_equal(g.numpy(), [[1, 1], [1, 1], [2, 2], [2, 2], [0, 0]])


def test_double_backward_through_saved_0d_output():
    # A 0-d result is a NumPy scalar that _make rewraps; the saved output must stay linked.
    x = ember.tensor(0.5, dtype=ember.float64, requires_grad=True)
    (g,) = ember.autograd.grad(x.exp(), x, create_graph=True)
    (gg,) = ember.autograd.grad(g, x)
    assert gg.item() == pytest.approx(np.exp(0.5))


def test_contiguous_and_reshape_of_transposed():
    x = ember.arange(12.0).reshape(3, 4).t()
    assert not x.is_contiguous()
    assert x.contiguous().is_contiguous()
    np.testing.assert_array_equal(x.reshape(12).numpy(), np.arange(12.0).reshape(3, 4).T.ravel())
    np.testing.assert_array_equal(x.unfold(0, 2, 2).numpy(),
                                  np.arange(12.0).reshape(3, 4).T.reshape(2, 2, 3)
                                  .transpose(0, 2, 1))


def test_broadcast_error_is_runtime_error_with_pytorch_words():
    with pytest.raises(RuntimeError, match=r"size of tensor a \(3\) must match the size of "
                                           r"tensor b \(2\) at non-singleton dimension 0"):
        ember.ones(3, 4) + ember.ones(2, 4)
    with pytest.raises(RuntimeError, match="non-singleton dimension 1"):
        _ = ember.ones(2, 3) < ember.ones(2)


def test_messages_name_dtypes_as_pytorch():
    with pytest.raises(RuntimeError, match="Got: Long"):
        ember.tensor([1, 2]).mean()
    with pytest.raises(RuntimeError, match="alpha must not be a floating point"):
        ember.tensor([1, 2]).add(1, alpha=0.5)
    with pytest.raises(NotImplementedError, match="\"bitwise_not_cpu\" not implemented for "
                                                  "'Float'"):
        ember.tensor([1.0]).bitwise_not()
    with pytest.raises(RuntimeError, match="dot : expected both vectors to have same dtype, "
                                           "but found Float and Long"):
        ember.tensor([1.0, 2.0]) @ ember.tensor([1, 2])


def test_setitem_errors():
    t = ember.zeros(3, 4)
    with pytest.raises(TypeError, match="can't assign a list to a torch.FloatTensor"):
        t[0] = [1, 2, 3, 4]
    with pytest.raises(TypeError, match="can't assign a numpy.ndarray"):
        t[0] = np.arange(4.0)
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 3"):
        t[5] = 1.0
    with pytest.raises(RuntimeError, match=r"The expanded size of the tensor \(4\) must match "
                                           r"the existing size \(3\)"):
        t[0] = ember.ones(3)
    i = ember.zeros(3, dtype=ember.int64)
    with pytest.raises(RuntimeError, match="Index put requires the source and destination "
                                           "dtypes match, got Long for the destination and "
                                           "Float for the source."):
        i[ember.tensor([0])] = ember.tensor([1.5])
    i[i == 0] = ember.tensor(2.0)  # a 0-d value under a bool mask is a masked_fill: casts
    np.testing.assert_array_equal(i.numpy(), [2, 2, 2])


def test_getitem_index_errors_in_pytorch_words():
    x = ember.zeros(2, 3, 4)
    with pytest.raises(IndexError, match="too many indices for tensor of dimension 3"):
        x[0, 0, 0, 0]
    with pytest.raises(IndexError, match="index 3 is out of bounds for dimension 1 with size 3"):
        x[:, 3]


def test_cat_keeps_grad_of_skipped_empty_tensor():
    a = ember.ones(2, 3, requires_grad=True)
    e = ember.zeros(0, requires_grad=True)
    ember.cat([a, e]).sum().backward()
    assert e.grad is not None and tuple(e.grad.shape) == (0,)
    with pytest.raises(ValueError):
        ember.cat([])


def test_int_and_array_index_follow_pytorch_dim_order():
    # PyTorch selects with ints first; NumPy would move the mask's dim to the front.
    x = ember.arange(12.0).reshape(4, 1, 3)
    mask = ember.tensor([True, True, False])
    assert tuple(x[0, :, mask].shape) == (1, 2)
    np.testing.assert_array_equal(x[0, :, mask].numpy(), [[0.0, 1.0]])
    # An Ellipsis that covers no dim leaves index arrays adjacent.
    y = ember.zeros(1, 2, 3)
    first = ember.tensor([True, False, False])
    assert tuple(y[None, ::2, ember.tensor([True, True]), ..., first].shape) == (1, 1, 2)
    x[0, :, mask] = ember.tensor([[-1.0, -2.0]])
    np.testing.assert_array_equal(x[0].numpy(), [[-1.0, -2.0, 2.0]])


def test_bool_operands_pytorch_refuses():
    t = ember.tensor([True, False])
    for fn in (lambda: t // t, lambda: t % t, lambda: t.fmod(t), lambda: t ** t,
               lambda: True ** t, lambda: ember.clamp(t, min=True)):
        with pytest.raises(NotImplementedError, match="not implemented for 'Bool'"):
            fn()


def test_zero_dim_tensors_along_dim_0():
    x = ember.tensor(0.75, dtype=ember.float64, requires_grad=True)
    assert x.flip(0).item() == 0.75 and x.transpose(0, -1).item() == 0.75
    np.testing.assert_array_equal(x.gather(0, ember.tensor([0, 0])).detach().numpy(), [0.75] * 2)
    assert x.scatter(0, ember.tensor(0), 2.0).item() == 2.0
    assert x.index_fill(0, ember.tensor([0]), 1.0).item() == 1.0
    assert x.index_select(0, ember.tensor([0])).shape == ()
    assert x.kthvalue(1).values.item() == 0.75 and x.median(0).indices.item() == 0
    assert tuple(ember.nonzero(x).shape) == (1, 0)
    (g,) = ember.autograd.grad(x.scatter_add(0, ember.tensor(0), x * 2), x)
    assert g.item() == 3.0
    for fn in (lambda: x.narrow(0, 0, 1), lambda: x.chunk(2), lambda: x.split(1),
               lambda: ember.cat([x, x]), lambda: x.tril(), lambda: ember.outer(x, x),
               lambda: x.kthvalue(2), lambda: x.index_select(0, ember.tensor([0, 0]))):
        with pytest.raises(RuntimeError):
            fn()


def test_tril_triu_zero_infinities_outside_the_triangle():
    x = ember.tensor([[1.0, float("inf")], [float("-inf"), 3.0]])
    np.testing.assert_array_equal(x.tril().numpy(), [[1.0, 0.0], [-np.inf, 3.0]])
    np.testing.assert_array_equal(x.triu().numpy(), [[1.0, np.inf], [0.0, 3.0]])


def test_as_strided_and_unfold_read_the_storage_of_views():
    base = ember.arange(12.0).reshape(3, 4)
    view = base[1:, 1:]
    assert view.storage_offset() == 5
    np.testing.assert_array_equal(view.as_strided((2, 2), (1, 2)).numpy(), [[5, 7], [6, 8]])
    np.testing.assert_array_equal(view.as_strided((2,), (1,), 0).numpy(), [0, 1])
    np.testing.assert_array_equal(base.t().as_strided((3,), (4,)).numpy(), [0, 4, 8])
    np.testing.assert_array_equal(ember.arange(10.0)[2:].unfold(0, 3, 2).numpy(),
                                  [[2, 3, 4], [4, 5, 6], [6, 7, 8]])
    # The gradient reaches only the storage the input covers.
    x = ember.arange(12.0, dtype=ember.float64).requires_grad_()
    y = x.reshape(3, 4).t()[1:].as_strided((2, 3), (3, 1), 2)
    (y * ember.arange(6.0, dtype=ember.float64).reshape(2, 3)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, 0, 1, 0, 3, 4, 5, 0, 0, 0, 0])
    with pytest.raises(RuntimeError, match="out of bounds for storage"):
        base.as_strided((4, 4), (4, 1))
