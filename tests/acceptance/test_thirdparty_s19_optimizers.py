"""torch-optimizer, schedulefree and lion-pytorch on ember, where they are installed (none is a
test dependency: their packages require PyTorch; .ci/run installs them, and torch-optimizer's
pytorch-ranger, without dependencies). Each optimizer takes a few steps on a small quadratic
``0.5 * sum(a * (w - c) ** 2)`` from one start (Adahessian with ``backward(create_graph=True)``:
its Hutchinson estimate of the diagonal Hessian is exact there), Lookahead wraps SGD, the
schedule-free optimizers switch between ``train()`` and ``eval()``, and AdamWScheduleFree and
Lion train a tiny MLP, with ``torch`` resolved to ember in a fresh interpreter; the update rules
of AdaBound, DiffGrad, Yogi, Lamb, Lookahead, Adahessian, Lion and the schedule-free SGD and
AdamW (in the paper's x, z form) are checked here in NumPy, the other optimizers by their
descent. tests/conformance/test_thirdparty_s19_lucidrains_optimizers_vs_torch.py compares every
number with real PyTorch's."""
from __future__ import annotations

import functools
import importlib.util
import textwrap

import numpy as np
import pytest

from tests.acceptance import script_report

if any(importlib.util.find_spec(name) is None  # (importing them would import torch)
       for name in ("torch_optimizer", "schedulefree", "lion_pytorch")):
    pytest.skip("torch-optimizer, schedulefree or lion-pytorch is not installed",
                allow_module_level=True)

SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import json
    import torch
    from torch import nn
    import torch_optimizer
    import schedulefree
    from lion_pytorch import Lion

    CURVATURE = torch.tensor([[1.0, 2.0, 0.5], [3.0, 0.25, 1.5]])
    CENTER = torch.tensor([[0.5, -1.0, 2.0], [-0.5, 1.0, 0.0]])
    START = torch.tensor([[1.0, 0.5, -1.0], [2.0, -2.0, 0.5]])
    STEPS = 5


    def quadratic(w):
        return 0.5 * (CURVATURE * (w - CENTER) ** 2).sum()


    def descend(make, create_graph=False):
        """the parameter after each of STEPS steps of ``make([w])`` on the quadratic"""
        w = nn.Parameter(START.clone())
        optimizer = make([w])
        if hasattr(optimizer, "train"):  # schedule-free: steps only in train mode
            optimizer.train()
        trajectory, losses = [], []
        for _ in range(STEPS):
            optimizer.zero_grad()
            loss = quadratic(w)
            loss.backward(create_graph=create_graph)
            optimizer.step()
            trajectory.append(out(w))
            losses.append(loss.item())
        run = {"w": trajectory, "loss": losses}
        if hasattr(optimizer, "eval"):
            optimizer.eval()
            run["eval"] = out(w)
            optimizer.train()
            run["train_again"] = out(w)
        return run

    torch.manual_seed(0)
    makers = {
        "adabound": lambda p: torch_optimizer.AdaBound(p, lr=0.01, final_lr=0.1, gamma=0.5),
        "diffgrad": lambda p: torch_optimizer.DiffGrad(p, lr=0.1),
        "yogi": lambda p: torch_optimizer.Yogi(p, lr=0.1),
        "lamb": lambda p: torch_optimizer.Lamb(p, lr=0.1, weight_decay=0.01),
        "lookahead": lambda p: torch_optimizer.Lookahead(torch.optim.SGD(p, lr=0.1), k=2,
                                                         alpha=0.5),
        "lion": lambda p: Lion(p, lr=0.1, weight_decay=0.1),
        "sgd_schedule_free": lambda p: schedulefree.SGDScheduleFree(
            p, lr=0.1, momentum=0.9, warmup_steps=2, weight_decay=0.01),
        "adamw_schedule_free": lambda p: schedulefree.AdamWScheduleFree(
            p, lr=0.1, warmup_steps=2, weight_decay=0.01),
        # no NumPy rule below: compared with PyTorch only
        "adamp": lambda p: torch_optimizer.AdamP(p, lr=0.1, weight_decay=0.01),
        "radam": lambda p: torch_optimizer.RAdam(p, lr=0.1),
        "shampoo": lambda p: torch_optimizer.Shampoo(p, lr=0.1),
        "madgrad": lambda p: torch_optimizer.MADGRAD(p, lr=0.1),
        "novograd": lambda p: torch_optimizer.NovoGrad(p, lr=0.1),
        "ranger": lambda p: torch_optimizer.Ranger(p, lr=0.1),
        "radam_schedule_free": lambda p: schedulefree.RAdamScheduleFree(p, lr=0.1),
    }
    report = {name: descend(make) for name, make in makers.items()}
    report["adahessian"] = descend(lambda p: torch_optimizer.Adahessian(p, lr=0.15),
                                   create_graph=True)

    # a tiny MLP regression, as in the libraries' READMEs
    torch.manual_seed(1)
    inputs = torch.randn(16, 3)
    targets = inputs @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3
    mlp_optimizers = {
        "adamw_schedule_free": lambda p: schedulefree.AdamWScheduleFree(p, lr=0.05,
                                                                         warmup_steps=3),
        "lion": lambda p: Lion(p, lr=0.01),
    }
    for name, make in mlp_optimizers.items():
        model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
        optimizer = make(model.parameters())
        schedule_free = hasattr(optimizer, "eval")
        if schedule_free:
            optimizer.train()
        model.train()
        losses = []
        for _ in range(20):
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(inputs), targets)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        if schedule_free:
            optimizer.eval()
        model.eval()
        with torch.no_grad():
            final = nn.functional.mse_loss(model(inputs), targets).item()
        report["mlp_" + name] = {"loss": losses, "final": final}
    print(json.dumps(report))
''')

# the script's report, run under ``command_prefix`` (``-m ember.compat``: on ember)
run_script = functools.partial(script_report.run_script, SCRIPT, "optimizers_script.py")

CURVATURE = np.array([[1.0, 2.0, 0.5], [3.0, 0.25, 1.5]])
CENTER = np.array([[0.5, -1.0, 2.0], [-0.5, 1.0, 0.0]])
START = np.array([[1.0, 0.5, -1.0], [2.0, -2.0, 0.5]])
STEPS = 5


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return run_script("-m", "ember.compat", tmp_path=tmp_path_factory.mktemp("optimizers"))


def _gradient(w):
    return CURVATURE * (w - CENTER)


def _adam_moments(state, g, beta1=0.9, beta2=0.999):
    """Adam's first and second moments updated in ``state`` by ``g``; the step count."""
    state["t"] = state.get("t", 0) + 1
    state["m"] = beta1 * state.get("m", 0.0) + (1 - beta1) * g
    state["v"] = beta2 * state.get("v", 0.0) + (1 - beta2) * g * g
    return state["t"]


def adabound(w, g, state, lr=0.01, final_lr=0.1, gamma=0.5, eps=1e-8):
    t = _adam_moments(state, g)
    step_size = lr * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
    lower, upper = final_lr * (1 - 1 / (gamma * t + 1)), final_lr * (1 + 1 / (gamma * t))
    return w - np.clip(step_size / (np.sqrt(state["v"]) + eps), lower, upper) * state["m"]


def diffgrad(w, g, state, lr=0.1, eps=1e-8):
    friction = 1 / (1 + np.exp(-np.abs(state.get("previous", 0.0) - g)))
    state["previous"] = g
    t = _adam_moments(state, g)
    step_size = lr * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
    return w - step_size * state["m"] * friction / (np.sqrt(state["v"]) + eps)


def yogi(w, g, state, lr=0.1, eps=1e-3, initial=1e-6):
    t = state["t"] = state.get("t", 0) + 1
    state["m"] = 0.9 * state.get("m", initial) + 0.1 * g
    v = state.get("v", initial)
    state["v"] = v - 0.001 * np.sign(v - g * g) * g * g  # additive, unlike Adam's average
    denom = np.sqrt(state["v"]) / np.sqrt(1 - 0.999 ** t) + eps
    return w - lr / (1 - 0.9 ** t) * state["m"] / denom


def lamb(w, g, state, lr=0.1, weight_decay=0.01, eps=1e-6):
    _adam_moments(state, g)
    adam_step = state["m"] / (np.sqrt(state["v"]) + eps) + weight_decay * w
    trust_ratio = min(np.linalg.norm(w), 10.0) / np.linalg.norm(adam_step)
    return w - lr * trust_ratio * adam_step


def lookahead(w, g, state, lr=0.1, k=2, alpha=0.5):
    fast = w - lr * g
    t = state["t"] = state.get("t", 0) + 1
    if (t - 1) % k == 0:  # synchronises after steps 1, 1 + k, ...
        fast = alpha * fast + (1 - alpha) * state.get("slow", fast)
        state["slow"] = fast
    return fast


def adahessian(w, g, state, lr=0.15, eps=1e-4, hessian_power=0.5):
    # |H v| with v of +-1 entries is the diagonal Hessian, the curvature, exactly
    t = state["t"] = state.get("t", 0) + 1
    state["m"] = 0.9 * state.get("m", 0.0) + 0.1 * g
    state["h"] = 0.999 * state.get("h", 0.0) + 0.001 * CURVATURE ** 2
    denom = (np.sqrt(state["h"]) / np.sqrt(1 - 0.999 ** t)) ** hessian_power + eps
    return w - lr * state["m"] / (1 - 0.9 ** t) / denom


def lion(w, g, state, lr=0.1, weight_decay=0.1, beta1=0.9, beta2=0.99):
    m = state.get("m", np.zeros_like(w))
    w = w * (1 - lr * weight_decay) - lr * np.sign(beta1 * m + (1 - beta1) * g)
    state["m"] = beta2 * m + (1 - beta2) * g
    return w


def _schedule_free(w, g, state, lr, warmup_steps, beta, normalise):
    """One schedule-free step in the paper's form: the gradient at y = (1 - beta) z + beta x
    moves z by SGD; x averages the z's, weighted by the squared largest learning rate so far."""
    x, z = state.setdefault("x", w), state.setdefault("z", w)
    k = state["k"] = state.get("k", 0) + 1
    lr = lr * min(k / warmup_steps, 1.0)
    state["lr_max"] = max(lr, state.get("lr_max", 0.0))
    weight = state["lr_max"] ** 2
    state["weight_sum"] = state.get("weight_sum", 0.0) + weight
    z = state["z"] = z - lr * normalise(g, k)
    x = state["x"] = x + weight / state["weight_sum"] * (z - x)
    return (1 - beta) * z + beta * x


def sgd_schedule_free(w, g, state, lr=0.1, warmup_steps=2, momentum=0.9, weight_decay=0.01):
    return _schedule_free(w, g + weight_decay * w, state, lr, warmup_steps, momentum,
                          lambda g, k: g)


def adamw_schedule_free(w, g, state, lr=0.1, warmup_steps=2, beta1=0.9, beta2=0.999,
                        eps=1e-8, weight_decay=0.01):
    def normalise(g, k):
        state["v"] = beta2 * state.get("v", 0.0) + (1 - beta2) * g * g
        return g / (np.sqrt(state["v"] / (1 - beta2 ** k)) + eps) + weight_decay * w
    return _schedule_free(w, g, state, lr, warmup_steps, beta1, normalise)


UPDATE_RULES = [adabound, diffgrad, yogi, lamb, lookahead, adahessian, lion, sgd_schedule_free,
                adamw_schedule_free]


def _trajectory(rule):
    """(parameters after each step, losses before each step, the rule's final state)."""
    w, state, trajectory, losses = START.copy(), {}, [], []
    for _ in range(STEPS):
        losses.append(0.5 * (CURVATURE * (w - CENTER) ** 2).sum())
        w = rule(w, _gradient(w), state)
        trajectory.append(w)
    return np.array(trajectory), np.array(losses), state


@pytest.mark.parametrize("rule", UPDATE_RULES, ids=lambda rule: rule.__name__)
def test_update_rules_match_numpy(report, rule):
    trajectory, losses, _ = _trajectory(rule)
    np.testing.assert_allclose(report[rule.__name__]["w"], trajectory, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(report[rule.__name__]["loss"], losses, rtol=1e-5)


@pytest.mark.parametrize("rule", [sgd_schedule_free, adamw_schedule_free],
                         ids=lambda rule: rule.__name__)
def test_schedule_free_eval_holds_the_average_and_train_restores_y(report, rule):
    _, _, state = _trajectory(rule)
    run = report[rule.__name__]
    np.testing.assert_allclose(run["eval"], state["x"], rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(run["train_again"], run["w"][-1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["adamp", "radam", "shampoo", "madgrad", "novograd", "ranger",
                                  "radam_schedule_free"])
def test_other_optimizers_descend(report, name):
    final = np.array(report[name]["w"][-1])
    assert np.isfinite(final).all()
    assert 0.5 * (CURVATURE * (final - CENTER) ** 2).sum() < report[name]["loss"][0]
    if name == "radam_schedule_free":  # RAdam's rectification holds the first four steps
        np.testing.assert_array_equal(report[name]["w"][:4], [START] * 4)


@pytest.mark.parametrize("name", ["adamw_schedule_free", "lion"])
def test_mlp_training_fits(report, name):
    run = report["mlp_" + name]
    assert run["loss"][-1] < 0.5 * run["loss"][0]
    assert run["final"] < run["loss"][0]
