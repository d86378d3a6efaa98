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
