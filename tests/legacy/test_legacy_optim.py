"""ember.legacy.optim: the same iterates as ember.optim where the algorithms agree, the
textbook recurrence where they differ (nag, rmsprop), and convergence on Rosenbrock."""
import numpy as np
import pytest

import ember
import ember.optim  # noqa: F401  (not yet re-exported by ember)
from ember.legacy import optim

D = ember.float64
_rng = np.random.default_rng(0)
_M = _rng.standard_normal((5, 5))
A = ember.tensor(_M @ _M.T / 5 + np.eye(5) * 0.5)
B = ember.tensor(_rng.standard_normal(5))
X0 = ember.tensor(_rng.standard_normal(5))


def quadratic(x):
    """``0.5 x'Ax - b'x`` and its gradient."""
    ax = A @ x
    return float(0.5 * (x * ax).sum() - (B * x).sum()), ax - B


def _ember_iterates(make_opt, steps: int, closure_steps: bool = False):
    p = ember.nn.Parameter(X0.clone())
    opt = make_opt([p])
    out = []

    def closure():
        opt.zero_grad()
        loss = 0.5 * (p * (A @ p)).sum() - (B * p).sum()
        loss.backward()
        return loss
    for _ in range(steps):
        if closure_steps:
            opt.step(closure)
        else:
            closure()
            opt.step()
        out.append(p.detach().clone())
    return out, opt


def _legacy_iterates(fn, config, steps: int):
    x = X0.clone()
    state = {}
    out = []
    for _ in range(steps):
        fn(quadratic, x, config, state)
        out.append(x.clone())
    return out, state


EQUIVALENT = {
    "sgd": (optim.sgd, {"learningRate": 0.1}, lambda p: ember.optim.SGD(p, lr=0.1)),
    "sgd_momentum_wd": (optim.sgd, {"learningRate": 0.05, "momentum": 0.9, "dampening": 0,
                                    "weightDecay": 0.01},
                        lambda p: ember.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.01)),
    "sgd_dampening": (optim.sgd, {"learningRate": 0.05, "momentum": 0.8, "dampening": 0.3},
                      lambda p: ember.optim.SGD(p, lr=0.05, momentum=0.8, dampening=0.3)),
    "sgd_nesterov": (optim.sgd, {"learningRate": 0.05, "momentum": 0.9, "dampening": 0,
                                 "nesterov": True},
                     lambda p: ember.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
    "adam": (optim.adam, {"learningRate": 0.05, "epsilon": 0.0},
             lambda p: ember.optim.Adam(p, lr=0.05, eps=0.0)),
    "adam_wd": (optim.adam, {"learningRate": 0.05, "beta1": 0.8, "epsilon": 0.0,
                             "weightDecay": 0.1},
                lambda p: ember.optim.Adam(p, lr=0.05, betas=(0.8, 0.999), eps=0.0,
                                           weight_decay=0.1)),
    "adamax": (optim.adamax, {"learningRate": 0.05, "epsilon": 1e-8},
               lambda p: ember.optim.Adamax(p, lr=0.05, eps=1e-8)),
    "adagrad": (optim.adagrad, {"learningRate": 0.3, "learningRateDecay": 0.05},
                lambda p: ember.optim.Adagrad(p, lr=0.3, lr_decay=0.05)),
    "adadelta": (optim.adadelta, {"rho": 0.8, "eps": 1e-4},
                 lambda p: ember.optim.Adadelta(p, lr=1.0, rho=0.8, eps=1e-4)),
    "rprop": (optim.rprop, {"stepsize": 0.05},
              lambda p: ember.optim.Rprop(p, lr=0.05)),
    "asgd": (optim.asgd, {"eta0": 0.1, "lambda": 1e-2, "alpha": 0.75, "t0": 3},
             lambda p: ember.optim.ASGD(p, lr=0.1, lambd=1e-2, alpha=0.75, t0=3)),
}


@pytest.mark.parametrize("name", sorted(EQUIVALENT))
def test_same_iterates_as_ember_optim(name):
    fn, config, make_opt = EQUIVALENT[name]
    ours, state = _legacy_iterates(fn, config, 12)
    theirs, opt = _ember_iterates(make_opt, 12)
    # ember.optim.ASGD keeps eta in a float32 scalar tensor, as PyTorch does
    rtol = 1e-7 if name == "asgd" else 1e-10
    for a, b in zip(ours, theirs):
        ember.testing.assert_close(a, b, rtol=rtol, atol=1e-12)
    if name == "asgd":
        ax = next(iter(opt.state.values()))["ax"]
        ember.testing.assert_close(state["ax"], ax, rtol=rtol, atol=1e-12)


def test_lbfgs_same_iterates_as_ember_optim():
    x = X0.clone()
    config = {"maxIter": 4, "tolFun": 1e-14, "tolX": 1e-14}
    optim.lbfgs(quadratic, x, config)
    (theirs,), _ = _ember_iterates(
        lambda p: ember.optim.LBFGS(p, max_iter=4, tolerance_grad=1e-14,
                                    tolerance_change=1e-14), 1, closure_steps=True)
    ember.testing.assert_close(x, theirs, rtol=1e-10, atol=1e-12)
    # a second call resumes from the history kept in config
    optim.lbfgs(quadratic, x, config)
    assert quadratic(x)[0] <= quadratic(theirs)[0]


def test_nag_is_sutskever_momentum():
    lr, mom = 0.05, 0.9
    ours, _ = _legacy_iterates(optim.nag, {"learningRate": lr, "momentum": mom}, 10)
    a, b, x = A.numpy(), B.numpy(), X0.numpy().copy()
    v = np.zeros_like(x)
    for step in ours:
        g = a @ (x + mom * v) - b
        v = mom * v - lr * g
        x = x + v
        np.testing.assert_allclose(step.numpy(), x, rtol=1e-10, atol=1e-12)


def test_rmsprop_recurrence():
    lr, alpha, eps = 0.01, 0.9, 1e-8
    ours, _ = _legacy_iterates(optim.rmsprop,
                               {"learningRate": lr, "alpha": alpha, "epsilon": eps}, 10)
    a, b, x = A.numpy(), B.numpy(), X0.numpy().copy()
    m = np.ones_like(x)  # Lua starts the mean square at one
    for step in ours:
        g = a @ x - b
        m = alpha * m + (1 - alpha) * g * g
        x = x - lr * g / (np.sqrt(m) + eps)
        np.testing.assert_allclose(step.numpy(), x, rtol=1e-10, atol=1e-12)


def test_sgd_learning_rate_decay_and_per_element_rates():
    lrs = ember.tensor([1.0, 0.5, 0.0, 2.0, 1.0], dtype=D)
    ours, _ = _legacy_iterates(optim.sgd, {"learningRate": 0.1, "learningRateDecay": 0.5,
                                           "learningRates": lrs}, 3)
    a, b, x = A.numpy(), B.numpy(), X0.numpy().copy()
    for n, step in enumerate(ours):
        x = x - 0.1 / (1 + n * 0.5) * lrs.numpy() * (a @ x - b)
        np.testing.assert_allclose(step.numpy(), x, rtol=1e-12)
    assert float(ours[-1][2]) == float(X0[2])


def test_cg_solves_a_quadratic():
    x = X0.clone()
    _, f_hist, _ = optim.cg(quadratic, x, {"maxIter": 30})
    ember.testing.assert_close(x, ember.linalg.solve(A, B), rtol=1e-6, atol=1e-6)
    assert all(f1 >= f2 for f1, f2 in zip(f_hist, f_hist[1:]))


def test_lswolfe_satisfies_strong_wolfe():
    x = X0.clone()
    f, g = quadratic(x)
    d = -g
    gtd = float((g * d).sum())
    f_new, g_new, x_new, t, n = optim.lswolfe(quadratic, x, 10.0, d, f, g, gtd)
    assert f_new <= f + 1e-4 * t * gtd
    assert abs(float((g_new * d).sum())) <= -0.9 * gtd
    ember.testing.assert_close(x_new, X0 + t * d)
    assert f_new == pytest.approx(quadratic(x_new)[0])


def rosenbrock(x):
    a, b = x[0], x[1]
    f = (1 - a) ** 2 + 100 * (b - a * a) ** 2
    g = ember.stack([-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)])
    return f.item(), g


ROSENBROCK = {
    "sgd": (optim.sgd, {"learningRate": 1e-3, "momentum": 0.9, "dampening": 0}, 3000),
    "sgd_nesterov": (optim.sgd, {"learningRate": 1e-3, "momentum": 0.9, "dampening": 0,
                                 "nesterov": True}, 3000),
    "nag": (optim.nag, {"learningRate": 1e-3, "momentum": 0.9}, 3000),
    "adam": (optim.adam, {"learningRate": 0.02}, 3000),
    "adamax": (optim.adamax, {"learningRate": 0.05}, 4000),
    "adagrad": (optim.adagrad, {"learningRate": 0.3}, 9000),
    "adadelta": (optim.adadelta, {"rho": 0.9999, "eps": 1e-6}, 10000),
    "rmsprop": (optim.rmsprop, {"learningRate": 1e-3, "alpha": 0.9}, 5000),
    "rprop": (optim.rprop, {"stepsize": 0.01, "niter": 3000}, 1),
    "asgd": (optim.asgd, {"eta0": 2e-3, "lambda": 0, "t0": 1000}, 5000),
    "lbfgs": (optim.lbfgs, {"maxIter": 100}, 1),
    "lbfgs_lswolfe": (optim.lbfgs, {"maxIter": 100, "lineSearch": optim.lswolfe}, 1),
    "cg": (optim.cg, {"maxIter": 100}, 1),
}


@pytest.mark.parametrize("name", sorted(ROSENBROCK))
def test_rosenbrock(name):
    fn, config, calls = ROSENBROCK[name]
    x = ember.tensor([-1.0, 1.5], dtype=D)
    state = {}
    for _ in range(calls):
        out = fn(rosenbrock, x, config, state)
    assert out[0] is x
    np.testing.assert_allclose(x.numpy(), [1.0, 1.0], atol=3e-2)
