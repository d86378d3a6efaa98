"""ChannelShuffle, CrossMapLRN2d, SyncBatchNorm, AdaptiveLogSoftmaxWithLoss, NLLLoss2d and
Container without torch: NumPy oracles, self-consistency and float64 gradchecks."""
import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.autograd import gradcheck
from ember.nn.modules.channelshuffle import channel_shuffle
from ember.nn.modules.crossmaplrn import _cross_map_lrn2d


def _leaf(array):
    return ember.tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


def test_channel_shuffle_permutation_and_errors():
    x = np.arange(2 * 6 * 2, dtype=np.float64).reshape(2, 6, 2)
    out = channel_shuffle(ember.tensor(x), 3).numpy()
    np.testing.assert_array_equal(out, x[:, [0, 2, 4, 1, 3, 5]])
    np.testing.assert_array_equal(nn.ChannelShuffle(3)(ember.tensor(x)).numpy(), out)
    with pytest.raises(RuntimeError, match="divisible by groups"):
        channel_shuffle(ember.tensor(x), 4)
    with pytest.raises(RuntimeError, match="> 2 dims"):
        channel_shuffle(ember.zeros(2, 4), 2)


def _lrn_loop(x, size, alpha, beta, k):
    """Lua Torch's running-sum loop, channel by channel."""
    channels = x.shape[1]
    pre = int((size - 1) / 2 + 1)
    sq = x ** 2
    scale = np.zeros_like(x)
    scale[:, 0] = sq[:, :min(pre, channels)].sum(1)
    for c in range(1, channels):
        scale[:, c] = scale[:, c - 1]
        if c < channels - pre + 1:
            scale[:, c] += sq[:, c + pre - 1]
        if c > pre:
            scale[:, c] -= sq[:, c - pre]
    return x * (scale * alpha / size + k) ** -beta


@pytest.mark.parametrize("size", [1, 2, 3, 4, 6])
def test_cross_map_lrn2d_matches_loop_and_gradcheck(size):
    x = np.random.default_rng(0).standard_normal((2, 5, 2, 3))
    out = nn.CrossMapLRN2d(size, 0.1, 0.75, 2.0)(ember.tensor(x)).numpy()
    np.testing.assert_allclose(out, _lrn_loop(x, size, 0.1, 0.75, 2.0), atol=1e-12)
    assert gradcheck(lambda t: _cross_map_lrn2d(t, size, 0.5, 0.75, 2.0), (_leaf(x[:1]),))


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 6), (2, 3, 2, 3)])
def test_sync_batchnorm_is_batchnorm_on_one_process(shape):
    x = np.random.default_rng(1).standard_normal(shape)
    plain = nn.BatchNorm2d if len(shape) == 4 else nn.BatchNorm1d
    bn, sbn = plain(3).double(), nn.SyncBatchNorm(3).double()
    a, b = _leaf(x), _leaf(x)
    (bn(a) ** 3).sum().backward()
    (sbn(b) ** 3).sum().backward()
    np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(sbn.running_var.numpy(), bn.running_var.numpy(), atol=1e-12)
    with pytest.raises(ValueError, match="at least 2D"):
        sbn(ember.zeros(3))


def test_sync_batchnorm_function_matches_batch_norm(monkeypatch):
    """The all-reduce path with a one-process 'sum' is batch norm, forward and backward."""
    from ember.nn.modules import batchnorm
    monkeypatch.setattr(batchnorm, "_summed", lambda t, group: t)
    rng = np.random.default_rng(2)
    x, w, bias = rng.standard_normal((4, 3, 5)), rng.standard_normal(3), rng.standard_normal(3)

    def sync(a, b, c):
        return batchnorm._SyncBatchNormTrain.apply(a, b, c, 1e-5, None, [])

    def plain(a, b, c):
        return ember.nn.functional.batch_norm(a, None, None, b, c, True)
    args = (_leaf(x), _leaf(w), _leaf(bias))
    np.testing.assert_allclose(sync(*args).detach().numpy(), plain(*args).detach().numpy(),
                               atol=1e-12)
    assert gradcheck(sync, args)


def test_convert_sync_batchnorm_shares_state():
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.Sequential(nn.BatchNorm2d(4)))
    weight = model[1].weight
    model[1].eval()
    out = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert isinstance(out[1], nn.SyncBatchNorm) and isinstance(out[2][0], nn.SyncBatchNorm)
    assert out[1].weight is weight and not out[1].training
    single = nn.SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm3d(2))
    assert type(single) is nn.SyncBatchNorm


def test_adaptive_log_softmax_consistency_and_gradcheck():
    ember.manual_seed(0)
    asm = nn.AdaptiveLogSoftmaxWithLoss(6, 12, [3, 7], div_value=2.0, head_bias=True).double()
    assert [n for n, _ in asm.named_parameters()] == [
        "head.weight", "head.bias", "tail.0.0.weight", "tail.0.1.weight", "tail.1.0.weight",
        "tail.1.1.weight"]
    x = np.random.default_rng(3).standard_normal((7, 6))
    y = ember.tensor([0, 2, 3, 6, 7, 11, 5])
    with ember.no_grad():
        logp = asm.log_prob(ember.tensor(x)).numpy()
        out, loss = asm(ember.tensor(x), y)
    np.testing.assert_allclose(np.exp(logp).sum(1), 1.0, atol=1e-12)
    np.testing.assert_allclose(out.numpy(), logp[np.arange(7), y.numpy()], atol=1e-12)
    np.testing.assert_allclose(float(loss), -out.numpy().mean(), atol=1e-12)
    np.testing.assert_array_equal(asm.predict(ember.tensor(x)).numpy(), logp.argmax(1))
    assert gradcheck(lambda t: asm(t, y).loss, (_leaf(x),))


def test_nllloss2d_and_container_warn():
    with pytest.warns(FutureWarning):
        loss = nn.NLLLoss2d(reduction="sum")
    x = ember.tensor(np.log(np.full((1, 2, 2, 2), 0.5)))
    np.testing.assert_allclose(float(loss(x, ember.zeros(1, 2, 2, dtype=ember.int64))),
                               4 * np.log(2))
    with pytest.warns(FutureWarning):
        c = nn.Container(relu=nn.ReLU())
    assert list(dict(c.named_children())) == ["relu"]


def test_modules_utils_helpers():
    from collections import OrderedDict

    from ember.nn.modules.utils import (
        _list_with_default,
        _pair,
        _reverse_repeat_tuple,
        _triple,
        consume_prefix_in_state_dict_if_present,
    )
    assert _pair(3) == (3, 3) and _pair([1, 2]) == (1, 2) and _triple(1) == (1, 1, 1)
    assert _reverse_repeat_tuple((1, 2), 2) == (2, 2, 1, 1)
    assert _list_with_default([None, 4], [7, 8, 9]) == [8, 4]
    sd = OrderedDict([("module.fc.weight", 1), ("other", 2)])
    sd._metadata = OrderedDict([("", {}), ("module", {}), ("module.fc", {})])
    consume_prefix_in_state_dict_if_present(sd, "module.")
    assert list(sd) == ["other", "fc.weight"]
    assert list(sd._metadata) == ["", "fc"]
