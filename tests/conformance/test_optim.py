"""ember.optim against real PyTorch: the same model, data and start, parameters compared after
every step; LBFGS iterates; each scheduler's learning-rate sequence over 100 epochs."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402
import ember.optim as eoptim  # noqa: E402
import ember.optim.lr_scheduler as esched  # noqa: E402

STEPS = 60

# (optimizer name, kwargs): several option combinations for each optimizer.
CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.5, maximize=True)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, maximize=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("Adam", dict(lr=0.01, betas=(0.3, 0.9), weight_decay=0.1, maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, amsgrad=True, weight_decay=0.5)),
    ("AdamW", dict(lr=0.01, amsgrad=True, maximize=True, betas=(0.4, 0.9))),
    ("Adamax", dict(lr=0.01)),
    ("Adamax", dict(lr=0.01, weight_decay=0.1, betas=(0.8, 0.95))),
    ("NAdam", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.01)),
    ("RAdam", dict(lr=0.01, weight_decay=0.1)),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, betas=(0.9, 0.9))),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.5)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, alpha=0.9)),
    ("Rprop", dict(lr=0.01)),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-4, 0.1), maximize=True)),
    ("ASGD", dict(lr=0.05)),
    ("ASGD", dict(lr=0.05, t0=10, lambd=0.01, weight_decay=0.1)),
]


def _problem(dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((16, 5)).astype(dtype)
    y = rng.standard_normal((16, 3)).astype(dtype)
    w = rng.standard_normal((5, 3)).astype(dtype)
    b = rng.standard_normal(3).astype(dtype)
    return x, y, w, b


def _loss(lib, x, y, w, b, sign=1.0):
    r = x @ w + b - y
    loss = (r * r).mean() + (w * w * w * w).sum() * 0.01  # a quartic term: the Hessian varies
    return loss * sign  # maximize=True climbs the negated loss


def _pair(name, kwargs, dtype):
    x, y, w, b = _problem(dtype)
    tp = [torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)]
    ep = [ember.tensor(w, requires_grad=True), ember.tensor(b, requires_grad=True)]
    # Two groups, the second with its own lr, to exercise per-group options.
    topt = getattr(torch.optim, name)([{"params": [tp[0]]},
                                       {"params": [tp[1]], "lr": kwargs.get("lr", 1.0) / 2}],
                                      **kwargs)
    eopt = getattr(eoptim, name)([{"params": [ep[0]]},
                                  {"params": [ep[1]], "lr": kwargs.get("lr", 1.0) / 2}],
                                 **kwargs)
    tdata = (torch.tensor(x), torch.tensor(y))
    edata = (ember.tensor(x), ember.tensor(y))
    return tp, ep, topt, eopt, tdata, edata


def _tol(dtype):
    # float32: PyTorch's FMA-fused kernels round differently in the last bit, which drifts.
    return dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in
                                                     enumerate(CASES)])
def test_optimizer_trajectory(name, kwargs, dtype):
    tp, ep, topt, eopt, (tx, ty), (ex, ey) = _pair(name, kwargs, dtype)
    sign = -1.0 if kwargs.get("maximize") else 1.0
    for step in range(STEPS):
        topt.zero_grad()
        _loss(torch, tx, ty, *tp, sign=sign).backward()
        topt.step()
        eopt.zero_grad()
        _loss(ember, ex, ey, *ep, sign=sign).backward()
        eopt.step()
        for t, e in zip(tp, ep):
            np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(),
                                       err_msg=f"{name} {kwargs} step {step}", **_tol(dtype))


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in
                                                     enumerate(CASES)])
def test_optimizer_trajectory_in_pieces(name, kwargs, monkeypatch):
    # The 5x3 weight in pieces of 4 values (ember.backend.fused's cache blocking).
    from ember.backend import fused
    monkeypatch.setattr(fused, "BLOCK", 4)
    test_optimizer_trajectory(name, kwargs, np.float64)


@pytest.mark.parametrize("name,kwargs", CASES[::3], ids=[n for n, _ in CASES[::3]])
def test_state_dict_matches_torch(name, kwargs):
    tp, ep, topt, eopt, (tx, ty), (ex, ey) = _pair(name, kwargs, np.float64)
    for _ in range(3):
        topt.zero_grad()
        _loss(torch, tx, ty, *tp).backward()
        topt.step()
        eopt.zero_grad()
        _loss(ember, ex, ey, *ep).backward()
        eopt.step()
    tsd, esd = topt.state_dict(), eopt.state_dict()
    assert esd["param_groups"] == tsd["param_groups"]
    assert esd["state"].keys() == tsd["state"].keys()
    for k in tsd["state"]:
        assert esd["state"][k].keys() == tsd["state"][k].keys()
        for key, tv in tsd["state"][k].items():
            ev = esd["state"][k][key]
            assert str(ev.dtype).split(".")[-1] == str(tv.dtype).split(".")[-1], key
            np.testing.assert_allclose(ev.numpy(), tv.numpy(), rtol=1e-10, atol=1e-12)


def _rosenbrock(lib, xy):
    return (1 - xy[0]) ** 2 + 100 * (xy[1] - xy[0] ** 2) ** 2


@pytest.mark.parametrize("kwargs", [dict(lr=1, max_iter=5),
                                    dict(lr=0.5, max_iter=10, history_size=3),
                                    dict(lr=1, max_iter=20, line_search_fn="strong_wolfe"),
                                    dict(lr=1, max_iter=7, history_size=4,
                                         line_search_fn="strong_wolfe", tolerance_change=1e-12)])
def test_lbfgs_iterates(kwargs):
    tx = torch.tensor([-1.5, 2.0], dtype=torch.float64, requires_grad=True)
    ex = ember.tensor([-1.5, 2.0], dtype=ember.float64, requires_grad=True)
    topt = torch.optim.LBFGS([tx], **kwargs)
    eopt = eoptim.LBFGS([ex], **kwargs)

    def closure(opt, lib, x):
        def f():
            opt.zero_grad()
            loss = _rosenbrock(lib, x)
            loss.backward()
            return loss
        return f

    # Rosenbrock's valley amplifies last-bit differences (PyTorch's add uses FMA, its dot
    # another summation order) about 100x per step() of 10 iterations: the first steps agree
    # to 1e-10, later ones to 1e-6, and both reach the same minimum.
    for step in range(8):
        tl = topt.step(closure(topt, torch, tx))
        el = eopt.step(closure(eopt, ember, ex))
        tol = 1e-10 if step < 3 else 1e-6
        assert el.item() == pytest.approx(tl.item(), rel=tol, abs=tol * 1e-2), step
        np.testing.assert_allclose(ex.detach().numpy(), tx.detach().numpy(), rtol=tol,
                                   atol=1e-12, err_msg=f"step {step}")
        ts, es = topt.state[tx], eopt.state[ex]
        assert es["func_evals"] == ts["func_evals"] and es["n_iter"] == ts["n_iter"]


# (scheduler name, kwargs, optimizer kwargs); lambdas are written so both libraries get them.
SCHEDULERS = [
    ("LambdaLR", dict(lr_lambda=lambda e: 0.97 ** e), {}),
    ("MultiplicativeLR", dict(lr_lambda=lambda e: 0.95 if e % 3 else 1.01), {}),
    ("StepLR", dict(step_size=7, gamma=0.5), {}),
    ("MultiStepLR", dict(milestones=[10, 30, 30, 60], gamma=0.3), {}),
    ("ConstantLR", dict(factor=0.25, total_iters=13), {}),
    ("LinearLR", dict(start_factor=0.1, end_factor=0.9, total_iters=37), {}),
    ("ExponentialLR", dict(gamma=0.96), {}),
    ("PolynomialLR", dict(total_iters=60, power=2.0), {}),
    ("CosineAnnealingLR", dict(T_max=30, eta_min=0.001), {}),
    ("CosineAnnealingWarmRestarts", dict(T_0=7, T_mult=2, eta_min=0.01), {}),
    ("CosineAnnealingWarmRestarts", dict(T_0=9), {}),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.2, step_size_up=7, step_size_down=11),
     dict(momentum=0.9)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.2, step_size_up=5, mode="triangular2"),
     dict(momentum=0.9)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.2, step_size_up=5, mode="exp_range",
                      gamma=0.98, cycle_momentum=False), {}),
    ("OneCycleLR", dict(max_lr=0.3, total_steps=101), dict(momentum=0.9)),
    ("OneCycleLR", dict(max_lr=0.3, total_steps=101, anneal_strategy="linear",
                        three_phase=True, pct_start=0.2), dict(momentum=0.9)),
]


def _run_schedule(lib, optim_mod, make, steps=100):
    p = lib.zeros(2, requires_grad=True)
    opt = optim_mod.SGD([{"params": [p]}, {"params": [lib.zeros(1, requires_grad=True)],
                                           "lr": 0.05}], lr=0.1, **make[2])
    sched = make[0](opt)
    lrs = [sched.get_last_lr()]
    momenta = [[g.get("momentum") for g in opt.param_groups]]
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr())
        momenta.append([g.get("momentum") for g in opt.param_groups])
    assert lrs[-1] == [g["lr"] for g in opt.param_groups]
    return lrs, momenta


@pytest.mark.parametrize("name,kwargs,okw", SCHEDULERS,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(SCHEDULERS)])
def test_scheduler_sequence(name, kwargs, okw):
    t = _run_schedule(torch, torch.optim,
                      (lambda o: getattr(torch.optim.lr_scheduler, name)(o, **kwargs), 0, okw))
    e = _run_schedule(ember, eoptim, (lambda o: getattr(esched, name)(o, **kwargs), 0, okw))
    np.testing.assert_allclose(np.array(e[0], float), np.array(t[0], float), rtol=1e-12)
    if okw:
        np.testing.assert_allclose(np.array(e[1], float), np.array(t[1], float), rtol=1e-12)


def _composite(lib, optim_mod, kind, steps=100):
    sch = optim_mod.lr_scheduler
    p = lib.zeros(2, requires_grad=True)
    opt = optim_mod.SGD([p], lr=0.1)
    if kind == "sequential":
        s = sch.SequentialLR(opt, [sch.LinearLR(opt, 0.1, total_iters=10),
                                   sch.CosineAnnealingLR(opt, T_max=40),
                                   sch.ExponentialLR(opt, 0.97)], milestones=[10, 50])
    elif kind == "chained":
        s = sch.ChainedScheduler([sch.ConstantLR(opt, 0.5, total_iters=20),
                                  sch.ExponentialLR(opt, 0.98), sch.StepLR(opt, 9, 0.7)])
    else:
        s = sch.ReduceLROnPlateau(opt, patience=3, factor=0.5, cooldown=2, min_lr=1e-4)
    lrs = []
    for epoch in range(steps):
        opt.step()
        if kind == "plateau":
            s.step(1.0 / (1 + epoch % 13) + (epoch // 13) * 0.001)
        else:
            s.step()
        lrs.append(s.get_last_lr()[0])
    return lrs


@pytest.mark.parametrize("kind", ["sequential", "chained", "plateau"])
def test_composite_scheduler_sequence(kind):
    np.testing.assert_allclose(_composite(ember, eoptim, kind), _composite(torch, torch.optim,
                                                                          kind), rtol=1e-12)


def test_closed_form_epoch_argument():
    for lib, om in ((torch, torch.optim), (ember, eoptim)):
        p = lib.zeros(1, requires_grad=True)
        opt = om.SGD([p], lr=1.0)
        s = om.lr_scheduler.StepLR(opt, 3, 0.5)
        with pytest.warns(UserWarning):
            s.step(7)
        assert math.isclose(s.get_last_lr()[0], 0.25)
