"""Argument and shape checks that PyTorch's modules make themselves (module_db error inputs)."""
import pytest

import ember
from ember import nn


@pytest.mark.parametrize("kwargs, exc, msg", [
    ({"bias": 1}, TypeError, "bias should be of type bool, got: int"),
    ({"batch_first": "False"}, TypeError, "batch_first should be of type bool, got: str"),
    ({"input_size": 3.0}, TypeError, "input_size should be of type int, got: float"),
    ({"hidden_size": 4.0}, TypeError, "hidden_size should be of type int, got: float"),
    ({"input_size": 0}, ValueError, "input_size must be greater than zero"),
    ({"hidden_size": 0}, ValueError, "hidden_size must be greater than zero"),
    ({"num_layers": 0}, ValueError, "num_layers must be greater than zero"),
    ({"dropout": "0.5"}, ValueError, "dropout should be a number"),
])
@pytest.mark.parametrize("cls", [nn.RNN, nn.GRU, nn.LSTM])
def test_rnn_constructor_checks(cls, kwargs, exc, msg):
    args = {"input_size": 3, "hidden_size": 4, **kwargs}
    with pytest.raises(exc, match=msg):
        cls(**args)


def test_rnn_dropout_single_layer_warns():
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        nn.GRU(3, 4, dropout=0.5)


@pytest.mark.parametrize("cls", [nn.RNN, nn.GRU, nn.LSTM])
def test_rnn_input_dtype_must_match_weights(cls):
    m = cls(3, 4)
    with pytest.raises(ValueError, match=r"RNN input dtype \(torch.float64\) does not match"):
        m(ember.randn(2, 1, 3, dtype=ember.float64))


@pytest.mark.parametrize("cls, hx, exc, msg", [
    (nn.RNNCell, ember.zeros(3, 1, 1, 4), ValueError,
     "RNNCell: Expected hidden to be 1D or 2D, got 4D instead"),
    (nn.GRUCell, ember.zeros(3, 1, 1, 4), ValueError,
     "GRUCell: Expected hidden to be 1D or 2D, got 4D instead"),
    (nn.LSTMCell, (ember.zeros(3, 1, 4), ember.zeros(3, 4)), ValueError,
     r"LSTMCell: Expected hx\[0\] to be 1D or 2D, got 3D instead"),
    (nn.RNNCell, ember.zeros(3, 5), RuntimeError,
     "hidden0 has inconsistent hidden_size: got 5, expected 4"),
    (nn.GRUCell, ember.zeros(2, 4), RuntimeError,
     "Input batch size 3 doesn't match hidden0 batch size 2"),
    (nn.LSTMCell, (ember.zeros(3, 4), ember.zeros(3, 5)), RuntimeError,
     "hidden1 has inconsistent hidden_size: got 5, expected 4"),
])
def test_cell_hidden_checks(cls, hx, exc, msg):
    with pytest.raises(exc, match=msg):
        cls(2, 4)(ember.zeros(3, 2), hx)


def test_cell_unbatched_still_runs():
    h, c = nn.LSTMCell(2, 4)(ember.zeros(2), (ember.zeros(4), ember.zeros(4)))
    assert h.shape == (4,) and c.shape == (4,)
    assert nn.GRUCell(2, 4)(ember.zeros(2), ember.zeros(4)).shape == (4,)


@pytest.mark.parametrize("cls, shape", [
    (nn.CircularPad1d, (2, 3, 4, 5)), (nn.CircularPad2d, (2, 3)), (nn.CircularPad3d, (2, 3))])
def test_circular_pad_rank_check(cls, shape):
    with pytest.raises(ValueError, match=r"expected \dD or \dD input \(got \dD input\)"):
        cls(1)(ember.zeros(*shape))


def test_circular_pad_values():
    out = nn.CircularPad1d((1, 2))(ember.arange(3.0).reshape(1, 3))
    assert out.tolist() == [[2.0, 0.0, 1.0, 2.0, 0.0, 1.0]]


def test_huber_delta_type():
    with pytest.raises(TypeError, match="delta must be a float or int"):
        nn.HuberLoss(delta=1 + 0j)


def test_linear_cross_entropy_constructor_checks():
    with pytest.raises(RuntimeError, match=r"expected weight shape to be \(2,\), got \(3,\)"):
        nn.LinearCrossEntropyLoss(3, 2, weight=ember.ones(3))
    with pytest.raises(RuntimeError, match=r"expected label_smoothing to be in range \[0, 1\]"):
        nn.LinearCrossEntropyLoss(3, 2, label_smoothing=2.0)
    m = nn.LinearCrossEntropyLoss(3, 2, out_features=[2])
    assert m.linear.out_features == 4
    assert "out_features=[2]" in repr(m)
    assert m(ember.randn(4, 3), ember.randint(0, 2, (4, 2))).shape == ()


@pytest.mark.parametrize("cls, shape", [
    (nn.LazyBatchNorm1d, (3, 5)), (nn.LazyBatchNorm2d, (3, 5, 2, 2)),
    (nn.LazyInstanceNorm1d, (3, 5, 4))])
def test_lazy_norm_converted_before_first_forward(cls, shape):
    # .to()/.double() before the first call must keep the buffers uninitialised
    m = cls(affine=True, track_running_stats=True).double()
    assert isinstance(m.running_mean, nn.parameter.UninitializedBuffer)
    assert m.running_mean.dtype == ember.float64
    x = ember.randn(*shape, dtype=ember.float64)
    out = m(x)
    assert out.dtype == ember.float64
    assert m.running_mean.shape == (5,) and m.running_mean.dtype == ember.float64
    assert not isinstance(m.running_mean, nn.parameter.UninitializedBuffer)


def test_triplet_with_distance_default_is_pairwise_distance_child():
    m = nn.TripletMarginWithDistanceLoss()
    assert isinstance(m.distance_function, nn.PairwiseDistance)
    assert "(distance_function): PairwiseDistance()" in repr(m)
    a, p, n = ember.ones(2, 3), ember.zeros(2, 3), ember.ones(2, 3) * 2
    # d(a, p) = d(a, n) = sqrt(3) (+ PairwiseDistance's eps), so the loss is the margin
    assert abs(m(a, p, n).item() - 1.0) < 1e-5


def test_kaiming_bad_mode_message():
    with pytest.raises(ValueError, match=r"please use one of \['fan_in', 'fan_out'\]"):
        nn.init.kaiming_normal_(ember.empty(3, 4), mode="foo")


@pytest.mark.parametrize("cls, x, hx, msg", [
    (nn.GRU, ember.zeros(5, 3), ember.zeros(1, 1, 4),
     "For unbatched 2-D input, hx should also be 2-D but got 3-D tensor"),
    (nn.RNN, ember.zeros(5, 2, 3), ember.zeros(2, 4),
     "For batched 3-D input, hx should also be 3-D but got 2-D tensor"),
    (nn.LSTM, ember.zeros(5, 2, 3), (ember.zeros(1, 2, 4), ember.zeros(2, 4)),
     r"For batched 3-D input, hx and cx should also be 3-D but got \(3-D, 2-D\) tensors"),
])
def test_rnn_hidden_rank_checks(cls, x, hx, msg):
    with pytest.raises(RuntimeError, match=msg):
        cls(3, 4)(x, hx)


def test_hardtanh_bounds_message():
    with pytest.raises(AssertionError, match=r"max_val \(1\) must be greater than min_val \(2\)"):
        nn.Hardtanh(2, 1)


def test_always_call_forward_hooks_run_when_forward_raises():
    calls = []
    handle = nn.modules.module.register_module_forward_hook(
        lambda m, a, o: calls.append(("global", o is None)), always_call=True)
    try:
        m = nn.Linear(2, 2)
        m.register_forward_hook(lambda m, a, o: calls.append("always"), always_call=True)
        m.register_forward_hook(lambda m, a, o: calls.append("plain"))
        m(ember.ones(2))
        with pytest.raises(RuntimeError):
            m(ember.ones(3))
    finally:
        handle.remove()
    m(ember.ones(2))
    assert calls == [("global", False), "always", "plain", ("global", True), "always",
                     "always", "plain"]


def test_always_call_hook_runs_when_a_pre_hook_raises():
    calls = []
    m = nn.Linear(2, 2)

    def bad(module, args):
        raise ValueError("pre")
    m.register_forward_pre_hook(bad)
    m.register_forward_hook(lambda mod, a, o: calls.append(o), always_call=True)
    with pytest.raises(ValueError, match="pre"):
        m(ember.ones(2))
    assert calls == [None]


def test_global_forward_hook_with_kwargs():
    seen = []
    handle = nn.modules.module.register_module_forward_hook(
        lambda m, a, k, o: seen.append(sorted(k)), with_kwargs=True)
    try:
        nn.Linear(2, 2)(input=ember.ones(2))
    finally:
        handle.remove()
    assert seen == [["input"]]
