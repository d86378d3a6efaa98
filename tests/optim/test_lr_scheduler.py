"""Schedulers: each chainable sequence against its documented closed form over 100 epochs,
composition, ReduceLROnPlateau's patience, and state_dict round trips."""
import math
from bisect import bisect_right

import numpy as np
import pytest

import ember
import ember.optim as optim
from ember.optim import lr_scheduler as sched

LR = 0.1


def _opt(**kwargs):
    return optim.SGD([ember.zeros(2, requires_grad=True)], lr=LR, **kwargs)


def _sequence(opt, s, epochs=100):
    lrs = [s.get_last_lr()[0]]
    for _ in range(epochs):
        opt.step()
        s.step()
        lrs.append(s.get_last_lr()[0])
        assert lrs[-1] == opt.param_groups[0]["lr"]
    return np.array(lrs)


E = np.arange(101)
CLOSED = [
    ("StepLR", dict(step_size=7, gamma=0.5), LR * 0.5 ** (E // 7)),
    ("MultiStepLR", dict(milestones=[10, 30, 60], gamma=0.3),
     LR * 0.3 ** np.array([bisect_right([10, 30, 60], e) for e in E])),
    ("ExponentialLR", dict(gamma=0.96), LR * 0.96 ** E),
    ("ConstantLR", dict(factor=0.25, total_iters=13), LR * np.where(E < 13, 0.25, 1.0)),
    ("LinearLR", dict(start_factor=0.1, end_factor=0.9, total_iters=37),
     LR * (0.1 + 0.8 * np.minimum(E, 37) / 37)),
    ("PolynomialLR", dict(total_iters=60, power=2.0), LR * (1 - np.minimum(E, 60) / 60) ** 2),
    ("CosineAnnealingLR", dict(T_max=30, eta_min=0.001),
     0.001 + (LR - 0.001) * (1 + np.cos(np.pi * E / 30)) / 2),
    ("LambdaLR", dict(lr_lambda=lambda e: 1 / (1 + e)), LR / (1 + E)),
    ("MultiplicativeLR", dict(lr_lambda=lambda e: 0.9), LR * 0.9 ** E),
]


@pytest.mark.parametrize("name,kwargs,expected", CLOSED, ids=[c[0] for c in CLOSED])
def test_chainable_matches_closed_form(name, kwargs, expected):
    opt = _opt()
    lrs = _sequence(opt, getattr(sched, name)(opt, **kwargs))
    np.testing.assert_allclose(lrs, expected, rtol=1e-9, atol=1e-15)


def test_cosine_warm_restarts():
    opt = _opt()
    lrs = _sequence(opt, sched.CosineAnnealingWarmRestarts(opt, T_0=5, T_mult=2, eta_min=0.01))
    # Restarts at epochs 5, 15, 35, 75 with periods 5, 10, 20, 40.
    starts = [0, 5, 15, 35, 75]
    periods = [5, 10, 20, 40, 80]
    for e, lr in enumerate(lrs):
        i = bisect_right(starts, e) - 1
        t_cur = e - starts[i]
        assert lr == pytest.approx(0.01 + (LR - 0.01) * (1 + math.cos(math.pi * t_cur
                                                                     / periods[i])) / 2)


def test_cyclic_triangular_and_momentum():
    opt = _opt(momentum=0.9)
    s = sched.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=4)
    lrs = [s.get_last_lr()[0]]
    moms = [opt.param_groups[0]["momentum"]]
    for _ in range(20):
        opt.step()
        s.step()
        lrs.append(s.get_last_lr()[0])
        moms.append(opt.param_groups[0]["momentum"])
    x = np.abs(np.arange(21) / 4 - 2 * np.floor(1 + np.arange(21) / 8) + 1)
    frac = np.maximum(0, 1 - x)
    np.testing.assert_allclose(lrs, 0.01 + 0.09 * frac, rtol=1e-12)
    np.testing.assert_allclose(moms, 0.9 - 0.1 * frac, rtol=1e-12)


def test_one_cycle_shape():
    opt = _opt(momentum=0.9)
    s = sched.OneCycleLR(opt, max_lr=1.0, total_steps=100, pct_start=0.25)
    lrs = _sequence(opt, s, epochs=99)
    assert lrs[0] == pytest.approx(1.0 / 25)
    assert lrs.argmax() == 24 and lrs[24] == pytest.approx(1.0)
    assert lrs[-1] == pytest.approx(1.0 / 25 / 1e4)
    assert np.all(np.diff(lrs[:25]) > 0) and np.all(np.diff(lrs[24:]) < 0)
    opt.step()
    with pytest.raises(ValueError, match="Tried to step 101 times"):
        s.step()
        s.step()


def test_sequential_and_chained():
    opt = _opt()
    s = sched.SequentialLR(opt, [sched.ConstantLR(opt, factor=0.5, total_iters=100),
                                 sched.ExponentialLR(opt, gamma=0.9)], milestones=[3])
    lrs = _sequence(opt, s, epochs=6)
    np.testing.assert_allclose(lrs, [0.05, 0.05, 0.05, 0.1, 0.09, 0.081, 0.0729])
    opt = _opt()
    s = sched.ChainedScheduler([sched.ConstantLR(opt, factor=0.5, total_iters=2),
                                sched.ExponentialLR(opt, gamma=0.9)])
    lrs = _sequence(opt, s, epochs=4)
    np.testing.assert_allclose(lrs, [0.05, 0.045, 0.081, 0.0729, 0.06561])


def test_reduce_on_plateau():
    opt = _opt()
    s = sched.ReduceLROnPlateau(opt, patience=2, factor=0.5, cooldown=1, min_lr=0.02)
    metrics = [1.0] + [0.9] * 15
    lrs = []
    for m in metrics:
        s.step(m)
        lrs.append(s.get_last_lr()[0])
    # Three bad epochs in a row halve the lr, the next epoch is a cooldown, floor at min_lr.
    assert lrs == [0.1] * 4 + [0.05] * 4 + [0.025] * 4 + [0.02] * 4
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        sched.ReduceLROnPlateau(opt, factor=1.0)


@pytest.mark.parametrize("make", [
    lambda o: sched.StepLR(o, 3, 0.5),
    lambda o: sched.CosineAnnealingLR(o, T_max=10),
    lambda o: sched.CyclicLR(o, 0.01, 0.1, step_size_up=3),
    lambda o: sched.OneCycleLR(o, max_lr=0.5, total_steps=40),
    lambda o: sched.SequentialLR(o, [sched.LinearLR(o, 0.5, total_iters=4),
                                     sched.ExponentialLR(o, 0.9)], milestones=[4]),
], ids=["StepLR", "CosineAnnealingLR", "CyclicLR", "OneCycleLR", "SequentialLR"])
def test_state_dict_resume(make):
    opt_a = _opt(momentum=0.9)
    full = _sequence(opt_a, make(opt_a), epochs=30)
    opt_b = _opt(momentum=0.9)
    s_b = make(opt_b)
    _sequence(opt_b, s_b, epochs=12)
    opt_c = _opt(momentum=0.9)
    s_c = make(opt_c)
    opt_c.load_state_dict(opt_b.state_dict())
    s_c.load_state_dict(s_b.state_dict())
    rest = _sequence(opt_c, s_c, epochs=18)
    np.testing.assert_allclose(rest, full[12:], rtol=1e-12)


def test_warns_when_stepped_before_optimizer():
    opt = _opt()
    s = sched.StepLR(opt, 2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        s.step()


def test_errors():
    with pytest.raises(TypeError, match="is not an Optimizer"):
        sched.StepLR(object(), 2)
    opt = _opt()
    with pytest.raises(KeyError, match="initial_lr"):
        sched.StepLR(opt, 2, last_epoch=3)
    with pytest.raises(ValueError, match="Expected positive integer T_0"):
        sched.CosineAnnealingWarmRestarts(opt, T_0=0)
    with pytest.raises(ValueError, match="Expected 1 lr_lambdas"):
        sched.LambdaLR(opt, [lambda e: 1, lambda e: 2])
