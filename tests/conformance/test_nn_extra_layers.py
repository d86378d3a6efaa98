"""ChannelShuffle, CrossMapLRN2d, SyncBatchNorm (one process), AdaptiveLogSoftmaxWithLoss,
NLLLoss2d and Container against torch, with copied weights."""
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402
import ember.nn as enn  # noqa: E402
from ember.nn.modules.channelshuffle import channel_shuffle  # noqa: E402

tnn = torch.nn


def _copy(em, tm):
    em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})


@pytest.mark.parametrize("shape,groups", [((2, 6, 3, 3), 3), ((1, 4, 5), 2), ((2, 8, 1, 2, 2), 4)])
def test_channel_shuffle(shape, groups):
    x = np.random.default_rng(0).standard_normal(shape)
    tx, ex = torch.tensor(x, requires_grad=True), ember.tensor(x, requires_grad=True)
    to, eo = tnn.ChannelShuffle(groups)(tx), enn.ChannelShuffle(groups)(ex)
    np.testing.assert_array_equal(eo.detach().numpy(), to.detach().numpy())
    assert repr(enn.ChannelShuffle(groups)) == repr(tnn.ChannelShuffle(groups))
    np.testing.assert_array_equal(channel_shuffle(ex, groups).detach().numpy(),
                                  torch.nn.functional.channel_shuffle(tx, groups).detach().numpy())
    w = np.random.default_rng(1).standard_normal(shape)
    (to * torch.tensor(w)).sum().backward()
    (eo * ember.tensor(w)).sum().backward()
    np.testing.assert_array_equal(ex.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 9])
def test_cross_map_lrn2d_forward(size):
    x = np.random.default_rng(2).standard_normal((2, 7, 3, 3))
    want = tnn.CrossMapLRN2d(size, 1e-2, 0.75, 2)(torch.tensor(x))
    got = enn.CrossMapLRN2d(size, 1e-2, 0.75, 2)(ember.tensor(x))
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-12)
    assert repr(enn.CrossMapLRN2d(size)) == repr(tnn.CrossMapLRN2d(size))
    with pytest.raises(ValueError, match="Expected input to be 4D"):
        enn.CrossMapLRN2d(size)(ember.zeros(1, 2, 3))


@pytest.mark.parametrize("shape", [(4, 3), (4, 3, 5), (2, 3, 4, 4)])
def test_sync_batchnorm_single_process(shape):
    x = np.random.default_rng(3).standard_normal(shape)
    tm, em = tnn.SyncBatchNorm(3, momentum=0.2).double(), enn.SyncBatchNorm(3, momentum=0.2)
    em = em.double()
    assert repr(em) == repr(tm)
    tx, ex = torch.tensor(x, requires_grad=True), ember.tensor(x, requires_grad=True)
    # torch's SyncBatchNorm runs BatchNorm when not distributed, on every device
    to = tnn.functional.batch_norm(tx, tm.running_mean, tm.running_var, tm.weight, tm.bias,
                                   True, 0.2, tm.eps)
    eo = em(ex)
    np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(em.running_var.numpy(), tm.running_var.numpy(), atol=1e-12)
    em.eval()
    np.testing.assert_allclose(em(ex).detach().numpy(),
                               tnn.functional.batch_norm(tx, tm.running_mean, tm.running_var,
                                                         tm.weight, tm.bias).detach().numpy(),
                               atol=1e-12)


def test_convert_sync_batchnorm_matches_torch():
    def build(nn):
        return nn.Sequential(nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3),
                             nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3)))
    tm, em = build(tnn), build(enn)
    tm[1].running_mean.fill_(0.5)
    _copy(em, tm)
    tm, em = tnn.SyncBatchNorm.convert_sync_batchnorm(tm), \
        enn.SyncBatchNorm.convert_sync_batchnorm(em)
    assert repr(em) == repr(tm)
    assert list(em.state_dict()) == list(tm.state_dict())
    np.testing.assert_array_equal(em[1].running_mean.numpy(), tm[1].running_mean.numpy())


def _asm_pair(**kw):
    tm = tnn.AdaptiveLogSoftmaxWithLoss(8, 20, [4, 10, 15], div_value=2.0, **kw).double()
    em = enn.AdaptiveLogSoftmaxWithLoss(8, 20, [4, 10, 15], div_value=2.0, **kw).double()
    assert list(em.state_dict()) == list(tm.state_dict())
    _copy(em, tm)
    return tm, em


@pytest.mark.parametrize("head_bias", [False, True])
def test_adaptive_log_softmax_matches_torch(head_bias):
    tm, em = _asm_pair(head_bias=head_bias)
    assert repr(em) == repr(tm)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((9, 8))
    y = np.array([0, 3, 4, 9, 10, 14, 15, 19, 2])
    tx, ex = torch.tensor(x, requires_grad=True), ember.tensor(x, requires_grad=True)
    tout, eout = tm(tx, torch.tensor(y)), em(ex, ember.tensor(y))
    assert type(eout).__name__ == "_ASMoutput" and eout._fields == ("output", "loss")
    np.testing.assert_allclose(eout.output.detach().numpy(), tout.output.detach().numpy(),
                               atol=1e-12)
    np.testing.assert_allclose(eout.loss.item(), tout.loss.item(), atol=1e-12)
    tout.loss.backward()
    eout.loss.backward()
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), atol=1e-12)
    for (n, ep), (_, tp) in zip(em.named_parameters(), tm.named_parameters()):
        np.testing.assert_allclose(ep.grad.numpy(), tp.grad.numpy(), atol=1e-12, err_msg=n)
    with torch.no_grad(), ember.no_grad():
        np.testing.assert_allclose(em.log_prob(ember.tensor(x)).numpy(),
                                   tm.log_prob(torch.tensor(x)).numpy(), atol=1e-12)
        np.testing.assert_array_equal(em.predict(ember.tensor(x)).numpy(),
                                      tm.predict(torch.tensor(x)).numpy())
    # unbatched
    one = em(ember.tensor(x[1]), ember.tensor(y[1])).output
    assert one.shape == ()
    np.testing.assert_allclose(one.item(), tm(tx[1], torch.tensor(y[1])).output.item(),
                               atol=1e-12)


def test_adaptive_log_softmax_errors():
    em = enn.AdaptiveLogSoftmaxWithLoss(4, 10, [3])
    with pytest.raises(RuntimeError, match="Target values should be in \\[0, 9\\]"):
        em(ember.zeros(2, 4), ember.tensor([1, 10]))
    with pytest.raises(ValueError, match="cutoffs should be a sequence of unique"):
        enn.AdaptiveLogSoftmaxWithLoss(4, 10, [3, 3])
    with pytest.raises(RuntimeError, match="same size in the batch"):
        em(ember.zeros(2, 4), ember.tensor([1, 2, 3]))


def test_deprecated_names():
    with pytest.warns(FutureWarning, match="NLLLoss2d"):
        em = enn.NLLLoss2d()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tm = tnn.NLLLoss2d()
        tc = tnn.Container(a=tnn.ReLU())
    x = np.log(np.random.default_rng(5).dirichlet(np.ones(3), (2, 4, 4))).transpose(0, 3, 1, 2)
    y = np.random.default_rng(6).integers(0, 3, (2, 4, 4))
    np.testing.assert_allclose(float(em(ember.tensor(x), ember.tensor(y))),
                               float(tm(torch.tensor(x), torch.tensor(y))), atol=1e-12)
    with pytest.warns(FutureWarning, match="Container"):
        ec = enn.Container(a=enn.ReLU())
    assert repr(ec) == repr(tc)
