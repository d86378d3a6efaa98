"""ember.optim.swa_utils against torch.optim.swa_utils on the same weights and schedules."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


def _pair(seed=0):
    """The same small BatchNorm network in both libraries."""
    torch.manual_seed(seed)
    t = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.BatchNorm1d(6), torch.nn.ReLU(),
                            torch.nn.Linear(6, 2)).double()
    e = ember.nn.Sequential(ember.nn.Linear(4, 6), ember.nn.BatchNorm1d(6), ember.nn.ReLU(),
                            ember.nn.Linear(6, 2)).double()
    e.load_state_dict({k: ember.from_numpy(v.numpy().copy()) for k, v in t.state_dict().items()})
    return t, e


def _perturb(t, e, rng, step):
    with torch.no_grad():
        for tp, ep in zip(t.parameters(), e.parameters()):
            noise = rng.standard_normal(tuple(tp.shape)) * 0.1 * step
            tp.add_(torch.from_numpy(noise))
            with ember.no_grad():
                ep.add_(ember.from_numpy(noise))
        t[1].running_mean.add_(step)
        e[1].running_mean.add_(step)


@pytest.mark.parametrize("kind", ["swa", "ema", "ema_fn", "buffers"])
def test_averaged_model_matches_torch(kind):
    tsw, esw = torch.optim.swa_utils, ember.optim.swa_utils
    t, e = _pair()
    kwargs = {"swa": ({}, {}),
              "ema": ({"multi_avg_fn": tsw.get_ema_multi_avg_fn(0.8)},
                      {"multi_avg_fn": esw.get_ema_multi_avg_fn(0.8)}),
              "ema_fn": ({"avg_fn": tsw.get_ema_avg_fn(0.7)}, {"avg_fn": esw.get_ema_avg_fn(0.7)}),
              "buffers": ({"use_buffers": True}, {"use_buffers": True})}[kind]
    ta, ea = tsw.AveragedModel(t, **kwargs[0]), esw.AveragedModel(e, **kwargs[1])
    rng = np.random.default_rng(0)
    for step in range(1, 6):
        _perturb(t, e, rng, step)
        ta.update_parameters(t)
        ea.update_parameters(e)
    ts, es = ta.state_dict(), ea.state_dict()
    assert list(ts) == list(es)
    for k in ts:
        np.testing.assert_allclose(es[k].numpy(), ts[k].numpy(), rtol=1e-12, atol=1e-12,
                                   err_msg=k)
    x = np.random.default_rng(1).standard_normal((5, 4))
    ta.eval()
    ea.eval()
    np.testing.assert_allclose(ea(ember.from_numpy(x)).detach().numpy(),
                               ta(torch.from_numpy(x)).detach().numpy(), rtol=1e-12)


def test_update_bn_matches_torch():
    t, e = _pair(3)
    xs = [np.random.default_rng(i).standard_normal((7, 4)) for i in range(4)]
    torch.optim.swa_utils.update_bn([(torch.from_numpy(x), 0) for x in xs], t)
    ember.optim.swa_utils.update_bn([(ember.from_numpy(x), 0) for x in xs], e)
    for k, v in t.state_dict().items():
        np.testing.assert_allclose(e.state_dict()[k].numpy(), v.numpy(), rtol=1e-12, err_msg=k)


@pytest.mark.parametrize("strategy", ["cos", "linear"])
@pytest.mark.parametrize("anneal_epochs", [0, 1, 3, 10])
def test_swalr_sequence_matches_torch(strategy, anneal_epochs):
    lrs = {}
    for lib in (torch, ember):
        p = lib.nn.Parameter(lib.zeros(1))
        opt = lib.optim.SGD([{"params": [p]}, {"params": [lib.nn.Parameter(lib.zeros(1))],
                                                "lr": 0.3}], lr=0.9, momentum=0.5)
        sched = lib.optim.swa_utils.SWALR(opt, swa_lr=[0.05, 0.01], anneal_epochs=anneal_epochs,
                                          anneal_strategy=strategy)
        seq = [sched.get_last_lr()]
        for _ in range(15):
            opt.step()
            sched.step()
            seq.append(sched.get_last_lr())
        lrs[lib.__name__] = seq
    np.testing.assert_allclose(lrs["ember"], lrs["torch"], rtol=1e-13)
