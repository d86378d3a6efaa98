"""ember.optim.swa_utils against NumPy oracles (running means, EMAs, BatchNorm statistics)."""
import math

import numpy as np
import pytest

import ember
from ember import nn
from ember.optim.swa_utils import (
    SWALR,
    AveragedModel,
    get_ema_avg_fn,
    get_ema_multi_avg_fn,
    update_bn,
)


def _snapshots(model, steps, scale=0.1):
    """Perturb ``model`` ``steps`` times; yield the parameters (NumPy) after each change."""
    for i in range(steps):
        with ember.no_grad():
            for p in model.parameters():
                p.add_(ember.randn(p.shape) * scale * (i + 1))
        yield [p.detach().numpy().copy() for p in model.parameters()]


def test_averaged_model_is_the_running_mean():
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    swa = AveragedModel(model)
    history = []
    for snap in _snapshots(model, 5):
        swa.update_parameters(model)
        history.append(snap)
    assert swa.n_averaged.item() == 5 and swa.n_averaged.dtype == ember.long
    for i, p in enumerate(swa.module.parameters()):
        expected = np.mean([h[i] for h in history], axis=0)
        np.testing.assert_allclose(p.detach().numpy(), expected, rtol=1e-5, atol=1e-6)
    x = ember.randn(2, 3)
    assert ember.equal(swa(x), swa.module(x))
    assert [n for n, _ in swa.named_buffers()] == ["n_averaged"]


@pytest.mark.parametrize("multi", [True, False])
def test_ema(multi):
    ember.manual_seed(1)
    model = nn.Linear(3, 3)
    decay = 0.9
    swa = (AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay)) if multi
           else AveragedModel(model, avg_fn=get_ema_avg_fn(decay)))
    ema = None
    for snap in _snapshots(model, 4):
        swa.update_parameters(model)
        ema = [s.copy() for s in snap] if ema is None else \
            [decay * e + (1 - decay) * s for e, s in zip(ema, snap)]
    for p, e in zip(swa.module.parameters(), ema):
        np.testing.assert_allclose(p.detach().numpy(), e, rtol=1e-5, atol=1e-6)


def test_buffers_copied_or_averaged():
    model = nn.BatchNorm1d(3)
    plain, averaged = AveragedModel(model), AveragedModel(model, use_buffers=True)
    means = []
    for value in (1.0, 3.0):
        model.running_mean.fill_(value)
        means.append(value)
        plain.update_parameters(model)
        averaged.update_parameters(model)
    np.testing.assert_allclose(plain.module.running_mean.numpy(), [3.0] * 3)
    np.testing.assert_allclose(averaged.module.running_mean.numpy(), [np.mean(means)] * 3)


def test_avg_fn_and_multi_avg_fn_exclusive():
    with pytest.raises(AssertionError):
        AveragedModel(nn.Linear(1, 1), avg_fn=get_ema_avg_fn(), multi_avg_fn=get_ema_multi_avg_fn())


def test_update_bn_recomputes_statistics():
    ember.manual_seed(2)
    model = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5))
    model.eval()
    batches = [ember.randn(8, 4) for _ in range(3)]
    loader = [(b, ember.zeros(8)) for b in batches]
    update_bn(loader, model)
    with ember.no_grad():
        feats = np.concatenate([model[0](b).numpy() for b in batches])
    bn = model[1]
    np.testing.assert_allclose(bn.running_mean.numpy(), feats.mean(0), rtol=1e-5, atol=1e-6)
    per_batch_var = [model[0](b).detach().numpy().var(0, ddof=1) for b in batches]
    np.testing.assert_allclose(bn.running_var.numpy(), np.mean(per_batch_var, 0), rtol=1e-5)
    assert bn.momentum == 0.1 and not model.training
    assert bn.num_batches_tracked.item() == 3


def test_swalr_anneals_to_swa_lr():
    opt = ember.optim.SGD([nn.Parameter(ember.zeros(1))], lr=1.0)
    sched = SWALR(opt, swa_lr=0.1, anneal_epochs=4, anneal_strategy="linear")
    lrs = []
    for _ in range(6):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    # linear annealing from 1.0: after epoch k the lr is swa_lr * a + 1.0 * (1 - a), a = k / 4
    expected = [0.1 * min(1, k / 4) + 1.0 * (1 - min(1, k / 4)) for k in range(1, 7)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)
    with pytest.raises(ValueError, match="anneal_strategy"):
        SWALR(opt, 0.1, anneal_strategy="step")
    with pytest.raises(ValueError, match="anneal_epochs"):
        SWALR(opt, 0.1, anneal_epochs=-1)


def test_swalr_cosine_first_value():
    opt = ember.optim.SGD([nn.Parameter(ember.zeros(1))], lr=0.5)
    SWALR(opt, swa_lr=0.05, anneal_epochs=3)
    alpha = (1 - math.cos(0)) / 2
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05 * alpha + 0.5 * (1 - alpha))
