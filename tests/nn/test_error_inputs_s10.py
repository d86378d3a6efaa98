"""Bad calls to nn ops refused as PyTorch refuses them (type and message), from PyTorch's
OpInfo ``error_inputs``; and the NLL / BCE gradient edge cases."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F


def _x(*shape):
    return ember.randn(*shape, dtype=ember.float64)


@pytest.mark.parametrize("call, match", [
    (lambda: F.conv1d(_x(1, 1, 4), _x(1, 1, 2), dilation=-1), "dilation should be greater"),
    (lambda: F.conv2d(_x(1, 1, 4, 4), _x(1, 1, 2, 2), dilation=0), "dilation should be greater"),
    (lambda: F.conv3d(_x(1, 1, 4, 4, 4), _x(1, 1, 2, 2, 2), padding=-1),
     "negative padding is not supported"),
    (lambda: F.conv2d(_x(1, 1, 4, 4), _x(1, 1, 2, 2), padding="same", stride=2),
     "padding='same' is not supported for strided convolutions"),
    (lambda: F.conv2d(_x(1, 1, 4, 4), _x(1, 1, 2, 2), padding="full"), "Invalid padding string"),
    (lambda: F.conv2d(_x(1, 1, 4, 4), _x(1, 1, 2, 2), stride=0), "non-positive stride"),
    (lambda: F.conv_transpose2d(_x(1, 1, 4, 4), _x(1, 1, 2, 2), padding=-1),
     "negative padding is not supported"),
    (lambda: F.conv_transpose2d(_x(1, 1, 4, 4), _x(1, 1, 2, 2), stride=0), "non-positive stride"),
    (lambda: F.avg_pool1d(_x(0, 1, 49), 2, 50, -1), "pad must be non-negative"),
    (lambda: F.avg_pool2d(_x(3, 3, 3), (2, 2), divisor_override=0), "divisor must be not zero"),
    (lambda: F.avg_pool3d(_x(3, 3, 3, 3), (2, 2, 2), divisor_override=0),
     "divisor must be not zero"),
    (lambda: F.avg_pool2d(_x(1, 0, 4, 4), 2), "non-batch dimensions must have positive length"),
    (lambda: F.max_pool1d(_x(0, 1, 49), 2, 50, -1, return_indices=True),
     "pad must be non-negative"),
    (lambda: F.max_pool1d(_x(0, 10), 1), "non-batch dimensions must have positive length"),
    (lambda: F.max_pool1d(_x(3, 3, 3), 1, 1, 0, 0), "dilation should be greater than zero"),
    (lambda: F.max_pool3d(_x(0, 1, 2, 10), 1), "non-batch dimensions must have positive length"),
    (lambda: F.max_unpool1d(_x(8, 8), ember.zeros(8, 7, dtype=ember.int64), 3, 2),
     "Expected shape of indices to be same as that of the input tensor"),
    (lambda: F.max_unpool2d(_x(1, 1, 4, 4), ember.zeros(1, 1, 4, 1, dtype=ember.int64), 3, 2),
     "Expected shape of indices"),
    (lambda: F.max_unpool3d(_x(1, 1, 4, 4, 4), ember.zeros(1, 1, 4, 4, 1, dtype=ember.int64),
                            3, 2), "Expected shape of indices"),
    (lambda: F.max_unpool2d(_x(1, 1, 2, 2), ember.zeros(1, 1, 2, 2), 2),
     "elements in indices should be type int64"),
    (lambda: F.embedding(ember.zeros(2, 2, dtype=ember.int64), _x()), "'weight' must be 2-D"),
    (lambda: F.embedding(ember.zeros(2, 2, dtype=ember.int64), _x(1, 1, 1)),
     "'weight' must be 2-D"),
    (lambda: F.layer_norm(_x(1, 2, 3), ()), "normalized_shape to be at least 1-dimensional"),
    (lambda: F.rms_norm(_x(1, 2, 3), []), "normalized_shape to be at least 1-dimensional"),
    (lambda: ember.native_layer_norm(_x(1, 2, 3), (), None, None, 1e-5),
     "normalized_shape to be at least 1-dimensional"),
    (lambda: F.pad(_x(1, 1, 8), (1, 1), mode="reflect", value=1.0),
     "Padding mode \"reflect\" doesn't take in value argument"),
    (lambda: F.pad(_x(1, 2, 5, 5), (-7, 1), mode="replicate"), "Negative padding value"),
])
def test_runtime_errors(call, match):
    with pytest.raises(RuntimeError, match=match):
        call()


def test_embedding_bag_weight_must_be_2d():
    with pytest.raises(ValueError, match="weight has to be a 2D Tensor, but got Tensor of "
                                         "dimension 1"):
        F.embedding_bag(ember.zeros(2, 2, dtype=ember.int64), _x(3))


def test_valid_calls_still_pass():
    assert F.avg_pool2d(_x(1, 1, 4, 4), 2, divisor_override=3).shape == (1, 1, 2, 2)
    assert F.max_pool2d(_x(0, 1, 4, 4), 2).shape == (0, 1, 2, 2)  # empty batch is fine
    assert F.adaptive_avg_pool2d(_x(2, 0, 4, 4), 2).shape == (2, 0, 2, 2)
    assert F.pad(_x(1, 2, 5, 5), (-5, 0), mode="replicate").shape == (1, 2, 5, 0)
    assert F.pad(_x(1, 1, 8), (1, 1), mode="replicate", value=0.0).shape == (1, 1, 10)


def test_native_batch_norm_accepts_zero_eps_in_training():
    x = ember.tensor([[1.0, 2.0], [3.0, 6.0]], dtype=ember.float64)
    out, mean, invstd = ember.native_batch_norm(x, None, None, None, None, True, 0.1, 0.0)
    np.testing.assert_allclose(out.numpy(), [[-1.0, -1.0], [1.0, 1.0]])
    np.testing.assert_allclose(mean.numpy(), [2.0, 4.0])
    np.testing.assert_allclose(invstd.numpy(), [1.0, 0.5])


def test_hinge_embedding_loss_keeps_infinite_inputs():
    x = ember.tensor([float("inf"), -2.0, 0.5], dtype=ember.float64)
    t = ember.tensor([1.0, -1.0, -1.0], dtype=ember.float64)
    got = F.hinge_embedding_loss(x, t, reduction="none").numpy()
    np.testing.assert_array_equal(got, [np.inf, 3.0, 0.5])


def test_margin_ranking_loss_of_integers_is_float():
    a = ember.tensor([[1, 5], [3, 2]])
    b = ember.tensor([[2], [1]])
    t = ember.tensor([[1, -1]])
    out = F.margin_ranking_loss(a, b, t, reduction="none")
    assert out.dtype == ember.float32
    np.testing.assert_array_equal(out.numpy(), [[1.0, 3.0], [0.0, 1.0]])
    assert F.margin_ranking_loss(a, b, t).item() == pytest.approx(1.25)


@pytest.mark.parametrize("loss", [F.nll_loss, F.cross_entropy])
def test_all_ignored_mean_gives_nan_loss_and_zero_grad(loss):
    x = _x(3, 4).requires_grad_()
    out = loss(x, ember.full((3,), -100, dtype=ember.int64))
    assert np.isnan(out.item())
    out.backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((3, 4)))


def test_bce_target_grad_is_infinite_at_saturated_input():
    x = ember.tensor([0.0, 0.5, 1.0], dtype=ember.float64)
    t = ember.tensor([0.2, 0.3, 0.7], dtype=ember.float64, requires_grad=True)
    F.binary_cross_entropy(x, t).backward()
    np.testing.assert_array_equal(t.grad.numpy(), [np.inf, 0.0, -np.inf])


def test_bce_target_gradcheck():
    x = ember.tensor([0.2, 0.5, 0.9], dtype=ember.float64)
    t = ember.tensor([0.1, 0.3, 0.7], dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(lambda t: F.binary_cross_entropy(x, t), (t,))


@pytest.mark.parametrize("shape, name", [((2, 3), "NllLossBackward0"),
                                         ((2, 3, 4), "NllLoss2DBackward0"),
                                         ((2, 3, 4, 4), "NllLoss2DBackward0")])
def test_nll_node_names(shape, name):
    x = _x(*shape).requires_grad_()
    target = ember.zeros((shape[0],) + shape[2:], dtype=ember.int64)
    assert type(F.nll_loss(x, target).grad_fn).__name__ == name
    assert type(F.cross_entropy(x, target).grad_fn).__name__ == name
