"""torchdiffeq on ember, where torchdiffeq is installed (it is not a test dependency: its package
requires PyTorch; .ci/run installs it without dependencies). A small neural ODE (an
``nn.Module``) solved by dopri5, rk4 and euler, gradients by backpropagation through the solver
and by the adjoint method, an event (a falling body reaching the ground) with gradients of its
time, and a few training steps run with ``torch`` resolved to ember in a fresh interpreter; the
values are checked here against SciPy's ``solve_ivp``, NumPy's Runge-Kutta steps and closed
forms. tests/conformance/test_thirdparty_s17_kornia_torchdiffeq_vs_torch.py compares every
value with real PyTorch's."""
from __future__ import annotations

import functools
import importlib.util
import textwrap

import numpy as np
import pytest

from tests.acceptance import script_report

if importlib.util.find_spec("torchdiffeq") is None:  # (importing it would import torch)
    pytest.skip("torchdiffeq is not installed", allow_module_level=True)
solve_ivp = pytest.importorskip("scipy.integrate").solve_ivp

SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import json
    import torch
    from torch import nn
    from torchdiffeq import odeint, odeint_adjoint, odeint_event


    class ODEFunc(nn.Module):
        """dy/dt = net(y), counting its evaluations"""
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
            self.nfe = 0

        def forward(self, t, y):
            self.nfe += 1
            return self.net(y)

    torch.manual_seed(0)
    func = ODEFunc().double()
    y0 = torch.tensor([[1.0, 0.0], [0.5, -0.5]], dtype=torch.float64)
    t = torch.linspace(0.0, 1.0, 6, dtype=torch.float64)
    report = {"weights": out(dict(func.state_dict())), "y0": out(y0), "t": out(t)}

    solves = {"dopri5": {"rtol": 1e-9, "atol": 1e-11},
              "rk4": {"options": {"step_size": 0.1}},
              "euler": {"options": {"step_size": 0.1}}}
    report["solve"] = {}
    for method, kwargs in solves.items():
        func.nfe = 0
        with torch.no_grad():
            solution = odeint(func, y0, t, method=method, **kwargs)
        report["solve"][method] = {"y": out(solution), "nfe": func.nfe}

    def loss_and_grads(solve):
        """one loss's gradients through ``solve`` (odeint: backpropagation; odeint_adjoint)"""
        func.zero_grad()
        start = y0.clone().requires_grad_(True)
        func.nfe = 0
        solution = solve(func, start, t, rtol=1e-9, atol=1e-11, method="dopri5")
        loss = (solution[-1] ** 2).sum() + solution[2, :, 0].sum()
        forward_nfe = func.nfe
        loss.backward()
        return {"loss": loss.item(), "y0": out(start.grad), "nfe": [forward_nfe, func.nfe],
                "params": out(dict((name, p.grad) for name, p in func.named_parameters()))}

    report["backprop"] = loss_and_grads(odeint)
    report["adjoint"] = loss_and_grads(odeint_adjoint)

    class Ballistic(nn.Module):
        """a falling body: d(height, velocity)/dt = (velocity, -g)"""
        def __init__(self):
            super().__init__()
            self.g = nn.Parameter(torch.tensor(9.81, dtype=torch.float64))

        def forward(self, t, state):
            height, velocity = state.unbind(-1)
            return torch.stack([velocity, -self.g * torch.ones_like(velocity)], -1)

    ball = Ballistic()
    start = torch.tensor([2.0, 1.0], dtype=torch.float64, requires_grad=True)
    event_t, trajectory = odeint_event(ball, start, torch.tensor(0.0, dtype=torch.float64),
                                       event_fn=lambda t, state: state[0], method="dopri5",
                                       rtol=1e-10, atol=1e-12)
    event_t.backward()
    report["event"] = {"t": event_t.item(), "final_state": out(trajectory[-1]),
                       "grad_start": out(start.grad), "grad_g": ball.g.grad.item()}

    # a few training steps of a float32 neural ODE fitting two circular orbits
    torch.manual_seed(1)
    model = ODEFunc()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    times = torch.linspace(0.0, 1.0, 5)
    targets = torch.stack([torch.stack([torch.cos(times), -torch.sin(times)], -1),
                           0.5 * torch.stack([torch.sin(times), torch.cos(times)], -1)], 1)
    losses, nfes = [], []
    for step in range(5):
        optimizer.zero_grad()
        model.nfe = 0
        predicted = odeint(model, targets[0], times, method="dopri5", rtol=1e-4, atol=1e-6)
        loss = ((predicted - targets) ** 2).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        nfes.append(model.nfe)
    report["training"] = {"losses": losses, "nfe": nfes,
                          "weights": out(dict(model.state_dict()))}
    print(json.dumps(report))
''')

# the script's report, run under ``command_prefix`` (``-m ember.compat``: on ember)
run_script = functools.partial(script_report.run_script, SCRIPT, "torchdiffeq_script.py")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return run_script("-m", "ember.compat", tmp_path=tmp_path_factory.mktemp("torchdiffeq"))


def _vector_field(weights: dict):
    """The script's network as a NumPy function of a (..., 2) state."""
    w0, b0 = np.array(weights["net.0.weight"]), np.array(weights["net.0.bias"])
    w2, b2 = np.array(weights["net.2.weight"]), np.array(weights["net.2.bias"])
    return lambda y: np.tanh(y @ w0.T + b0) @ w2.T + b2


def _reference(report, y0=None, t=None) -> np.ndarray:
    """The solution at ``t`` (the report's times) from ``y0``, by SciPy to 1e-12."""
    f = _vector_field(report["weights"])
    y0 = np.array(report["y0"]) if y0 is None else y0
    t = np.array(report["t"]) if t is None else t
    done = solve_ivp(lambda _, y: f(y.reshape(y0.shape)).ravel(), (t[0], t[-1]), y0.ravel(),
                     method="DOP853", t_eval=t, rtol=1e-12, atol=1e-12)
    return done.y.T.reshape(len(t), *y0.shape)


def _fixed_steps(report, step) -> np.ndarray:
    """The states every 0.1 from the report's ``y0`` by ``step(f, y, h)``, at the report's
    times (every second step)."""
    f = _vector_field(report["weights"])
    states = [np.array(report["y0"])]
    for _ in range(10):
        states.append(step(f, states[-1], 0.1))
    return np.array(states[::2])


def _rk4_three_eighths(f, y, h):
    """One step of Kutta's 3/8 rule, torchdiffeq's ``rk4``."""
    k1 = f(y)
    k2 = f(y + h * k1 / 3)
    k3 = f(y + h * (k2 - k1 / 3))
    k4 = f(y + h * (k1 - k2 + k3))
    return y + h * (k1 + 3 * (k2 + k3) + k4) / 8


def test_solutions_match_scipy_and_numpy_steps(report):
    solve = report["solve"]
    np.testing.assert_allclose(solve["dopri5"]["y"], _reference(report), atol=1e-8)
    np.testing.assert_allclose(solve["rk4"]["y"], _fixed_steps(report, _rk4_three_eighths),
                               atol=1e-12)
    np.testing.assert_allclose(solve["euler"]["y"],
                               _fixed_steps(report, lambda f, y, h: y + h * f(y)), atol=1e-12)
    np.testing.assert_allclose(solve["rk4"]["y"], _reference(report), atol=1e-5)
    assert solve["rk4"]["nfe"] == 40 and solve["euler"]["nfe"] == 10
    assert 0 < solve["dopri5"]["nfe"] and (solve["dopri5"]["nfe"] - 2) % 6 == 0


def test_backprop_and_adjoint_gradients_agree_with_finite_differences(report):
    backprop, adjoint = report["backprop"], report["adjoint"]
    y0 = np.array(report["y0"])

    def loss(start):
        solution = _reference(report, start)
        return (solution[-1] ** 2).sum() + solution[2, :, 0].sum()
    assert np.isclose(backprop["loss"], loss(y0), rtol=1e-8)
    numeric = np.zeros_like(y0)
    for index in np.ndindex(*y0.shape):
        delta = np.zeros_like(y0)
        delta[index] = 1e-5
        numeric[index] = (loss(y0 + delta) - loss(y0 - delta)) / 2e-5
    np.testing.assert_allclose(backprop["y0"], numeric, rtol=1e-6)
    np.testing.assert_allclose(adjoint["y0"], numeric, rtol=1e-6)
    assert sorted(adjoint["params"]) == sorted(report["weights"])
    for name, grad in backprop["params"].items():
        np.testing.assert_allclose(adjoint["params"][name], grad, rtol=1e-5, atol=1e-8)
    assert backprop["nfe"][0] == backprop["nfe"][1] == report["solve"]["dopri5"]["nfe"]
    forward, total = adjoint["nfe"]
    assert forward == backprop["nfe"][0] and total > forward  # the adjoint solve runs backward


def test_event_time_and_its_gradients_match_the_closed_form(report):
    event = report["event"]
    height, velocity, g = 2.0, 1.0, 9.81
    t = (velocity + np.sqrt(velocity ** 2 + 2 * g * height)) / g
    landing_velocity = velocity - g * t
    assert np.isclose(event["t"], t, rtol=1e-8)
    np.testing.assert_allclose(event["final_state"], [0.0, landing_velocity], atol=1e-8)
    # t solves height + velocity t - g t^2 / 2 = 0: implicit differentiation
    np.testing.assert_allclose(event["grad_start"],
                               [-1 / landing_velocity, -t / landing_velocity], rtol=1e-7)
    assert np.isclose(event["grad_g"], t ** 2 / 2 / landing_velocity, rtol=1e-7)


def test_training_reduces_the_loss(report):
    training = report["training"]
    losses = training["losses"]
    assert all(b < a for a, b in zip(losses, losses[1:]))
    assert losses[-1] < 0.5 * losses[0]
    assert all(n > 0 and (n - 2) % 6 == 0 for n in training["nfe"])
