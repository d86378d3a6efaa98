"""zuko and torchsde on ember, where both are installed (neither is a test dependency: their
packages require PyTorch; .ci/run installs them, and torchsde's trampoline, without
dependencies). Each library's script runs with ``torch`` resolved to ember in a fresh
interpreter:

- zuko: its README's training loop (negative log-likelihood, Adam) for NSF, MAF, NICE, RealNVP
  and a continuous flow (CNF, whose adjoint runs an autograd.Function that solves backwards) on
  2-D data, conditional and not, in float64; each flow's log-density, its transform's
  inverse, Jacobian (``torch.autograd.functional.jacobian``) and samples.
- torchsde: ``sdeint`` of geometric Brownian motion by Euler, Milstein and SRK on one seeded
  ``BrownianInterval``, an SDE with general (matrix) noise, an Ornstein-Uhlenbeck ensemble, a
  noiseless SDE, gradients by backpropagation and by ``sdeint_adjoint`` (Ito Milstein and
  Stratonovich reversible Heun) and a few training steps of a neural SDE with its KL term
  (``logqp``).

The values are checked here against NumPy: change of variables with the reported Jacobians and
central differences, the solvers' steps replayed on the reported Brownian increments, GBM's and
the OU process's closed forms.
tests/conformance/test_thirdparty_s19_botorch_zuko_torchsde_vs_torch.py compares every number
with real PyTorch's."""
from __future__ import annotations

import importlib.util
import math
import textwrap

import numpy as np
import pytest

from tests.acceptance import script_report

for _library in ("zuko", "torchsde"):
    if importlib.util.find_spec(_library) is None:  # (importing it would import torch)
        pytest.skip(f"{_library} is not installed", allow_module_level=True)

ZUKO_SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import json
    import torch
    import zuko
    from torch.autograd.functional import jacobian

    torch.manual_seed(0)
    torch.set_default_dtype(torch.float64)
    x = torch.randn(128, 2) @ torch.tensor([[1.0, 0.6], [0.0, 0.5]]) + torch.tensor([1.0, -1.0])
    context = torch.randn(128, 1)
    probes = torch.tensor([[0.5, -1.0], [1.5, -0.5], [-0.3, -1.4]])
    probe_context = torch.tensor([[0.3], [-1.0], [0.8]])
    flows = {"nsf": zuko.flows.NSF(2, transforms=2, hidden_features=[16, 16]),
             "nsf_conditional": zuko.flows.NSF(2, 1, transforms=2, hidden_features=[16, 16]),
             "maf": zuko.flows.MAF(2, 1, transforms=2, hidden_features=[16, 16]),
             "nice": zuko.flows.NICE(2, transforms=2, hidden_features=[16, 16]),
             "realnvp": zuko.flows.RealNVP(2, transforms=2, hidden_features=[16, 16]),
             "cnf": zuko.flows.CNF(2, hidden_features=[16, 16])}
    report = {"probes": out(probes)}
    for name, flow in flows.items():
        conditional = name in ("maf", "nsf_conditional")
        optimizer = torch.optim.Adam(flow.parameters(), lr=1e-3)
        losses = []
        for step in range(4):
            c = context if conditional else None
            loss = -flow(c).log_prob(x).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        rows = []
        for i in range(len(probes)):  # one distribution per context
            dist = flow(probe_context[i] if conditional else None)
            transform = dist.transform
            probe = probes[i]
            with torch.no_grad():
                z = transform(probe)
                log_prob = dist.log_prob(probe)
                round_trip = transform.inv(z)
                ladj = transform.log_abs_det_jacobian(probe, z)
                shifted = [[out(transform(probe + sign * 1e-6 * torch.eye(2)[j]))
                            for sign in (1, -1)] for j in range(2)]
            rows.append({"z": out(z), "log_prob": log_prob.item(), "ladj": ladj.item(),
                         "round_trip": out(round_trip), "shifted": shifted,
                         "jacobian": out(jacobian(transform, probe))})
        dist = flow(probe_context if conditional else None)
        torch.manual_seed(1)
        samples = dist.sample((5,))
        with torch.no_grad():
            rsamples, rlog_probs = dist.rsample_and_log_prob((4,))
            log_probs_again = dist.log_prob(rsamples)
        report[name] = {"losses": losses, "probes": rows, "sample_shape": list(samples.shape),
                        "rsample_log_prob": out(rlog_probs),
                        "log_prob_of_rsamples": out(log_probs_again)}
    print(json.dumps(report))
''')

TORCHSDE_SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import json
    import math
    import torch
    import torchsde
    from torch import nn

    torch.manual_seed(0)
    dtype = torch.float64
    dt = 2.0 ** -6  # steps land exactly on the output times
    ts = torch.linspace(0, 1, 5, dtype=dtype)


    class GBM(nn.Module):
        """geometric Brownian motion: dY = mu Y dt + sigma Y dW (Ito or Stratonovich)"""
        noise_type = "diagonal"

        def __init__(self, sde_type="ito"):
            super().__init__()
            self.sde_type = sde_type
            self.mu = nn.Parameter(torch.tensor(0.5, dtype=dtype))
            self.sigma = nn.Parameter(torch.tensor(0.3, dtype=dtype))

        def f(self, t, y):
            return self.mu * y

        def g(self, t, y):
            return self.sigma * y


    gbm = GBM()
    y0 = torch.tensor([[1.0], [0.5], [2.0], [1.5]], dtype=dtype)
    bm = torchsde.BrownianInterval(t0=0.0, t1=1.0, size=(4, 1), dtype=dtype, entropy=7,
                                   levy_area_approximation="space-time")
    report = {"y0": out(y0), "ts": out(ts), "solve": {}}
    for method in ("euler", "milstein", "srk"):
        with torch.no_grad():
            report["solve"][method] = out(torchsde.sdeint(gbm, y0, ts, bm=bm, method=method,
                                                          dt=dt))
    report["increments"] = [out(bm(k * dt, (k + 1) * dt)) for k in range(64)]
    report["w"] = [out(bm(0.0, t)) for t in ts.tolist()[1:]]

    # gradients of sum(Y(1)): through the solver and by the adjoint SDE
    def gradients(sde, solve, method, **kwargs):
        sde.zero_grad()
        start = y0.clone().requires_grad_(True)
        ys = solve(sde, start, ts, bm=bm, method=method, dt=dt, **kwargs)
        ys[-1].sum().backward()
        return {"y1": out(ys[-1]), "y0": out(start.grad), "mu": sde.mu.grad.item(),
                "sigma": sde.sigma.grad.item()}

    report["gradients"] = {
        "milstein": gradients(gbm, torchsde.sdeint, "milstein"),
        "milstein_adjoint": gradients(gbm, torchsde.sdeint_adjoint, "milstein")}
    stratonovich = GBM("stratonovich")
    report["gradients"]["heun"] = gradients(stratonovich, torchsde.sdeint, "reversible_heun")
    report["gradients"]["heun_adjoint"] = gradients(
        stratonovich, torchsde.sdeint_adjoint, "reversible_heun",
        adjoint_method="adjoint_reversible_heun")


    class General(nn.Module):
        """dY = A Y dt + B(Y) dW with two states driven by three Brownian motions"""
        noise_type = "general"
        sde_type = "ito"

        def f(self, t, y):
            return y @ torch.tensor([[-0.5, 0.2], [0.1, -0.3]], dtype=dtype).T

        def g(self, t, y):
            scale = torch.tensor([[0.2, 0.1, 0.0], [0.0, 0.1, 0.3]], dtype=dtype)
            return scale * (1 + y.abs()).unsqueeze(-1)


    general_bm = torchsde.BrownianInterval(t0=0.0, t1=1.0, size=(2, 3), dtype=dtype, entropy=11)
    general_y0 = torch.tensor([[1.0, -1.0], [0.5, 2.0]], dtype=dtype)
    with torch.no_grad():
        general = torchsde.sdeint(General(), general_y0, ts, bm=general_bm, method="euler", dt=dt)
    report["general"] = {"y0": out(general_y0), "y": out(general),
                         "increments": [out(general_bm(k * dt, (k + 1) * dt)) for k in range(64)]}


    class OrnsteinUhlenbeck(nn.Module):
        """dY = theta (m - Y) dt + s dW"""
        noise_type = "additive"
        sde_type = "ito"

        def f(self, t, y):
            return 2.0 * (1.0 - y)

        def g(self, t, y):
            return torch.full((y.shape[0], 1, 1), 0.5, dtype=y.dtype)  # (batch, state, noise)


    paths = torch.full((4000, 1), -1.0, dtype=dtype)
    with torch.no_grad():
        ou = torchsde.sdeint(OrnsteinUhlenbeck(), paths, ts, method="srk", dt=dt,
                             bm=torchsde.BrownianInterval(t0=0.0, t1=1.0, size=(4000, 1),
                                                          dtype=dtype, entropy=3,
                                                          levy_area_approximation="space-time"))
    report["ou"] = {"mean": out(ou.mean((1, 2))), "variance": out(ou.var((1, 2)))}


    class Decay(nn.Module):
        """a noiseless SDE: dY = -Y dt"""
        noise_type = "diagonal"
        sde_type = "ito"

        def f(self, t, y):
            return -y

        def g(self, t, y):
            return torch.zeros_like(y)


    with torch.no_grad():
        report["decay"] = {method: out(torchsde.sdeint(Decay(), torch.ones(1, 1, dtype=dtype), ts,
                                                       method=method, dt=dt)[:, 0, 0])
                           for method in ("euler", "milstein")}


    class NeuralSDE(nn.Module):
        """a learnt drift f, a fixed prior drift h, a learnt diagonal diffusion g"""
        noise_type = "diagonal"
        sde_type = "ito"

        def __init__(self):
            super().__init__()
            self.drift = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
            self.diffusion = nn.Sequential(nn.Linear(1, 8), nn.Softplus(), nn.Linear(8, 1),
                                           nn.Sigmoid())

        def f(self, t, y):
            return self.drift(torch.cat([y, t.expand_as(y)], -1))

        def h(self, t, y):
            return -y

        def g(self, t, y):
            return self.diffusion(y)


    torch.manual_seed(2)
    model = NeuralSDE().to(dtype)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    starts = torch.zeros(64, 1, dtype=dtype)
    training_ts = torch.tensor([0.0, 0.5, 1.0], dtype=dtype)
    losses, kls = [], []
    for step in range(4):
        # (logqp adds a state channel, the log-ratio's, and so a Brownian channel)
        brownian = torchsde.BrownianInterval(t0=0.0, t1=1.0, size=(64, 2), dtype=dtype,
                                             entropy=100 + step)
        ys, log_ratio = torchsde.sdeint(model, starts, training_ts, bm=brownian, dt=0.125,
                                        method="euler", logqp=True)
        kl = log_ratio.sum(0).mean()
        loss = (ys[-1].mean() - 1.0) ** 2 + (ys[-1].std() - 0.5) ** 2 + 0.01 * kl
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        kls.append(kl.item())
    report["neural"] = {"losses": losses, "kl": kls, "log_ratio_shape": list(log_ratio.shape)}
    print(json.dumps(report))
''')


def run_script(*command_prefix: str, tmp_path) -> dict:
    """Both libraries' reports, each script run under ``command_prefix`` (``-m ember.compat``:
    on ember)."""
    return {"zuko": script_report.run_script(ZUKO_SCRIPT, "zuko_script.py", *command_prefix,
                                             tmp_path=tmp_path),
            "torchsde": script_report.run_script(TORCHSDE_SCRIPT, "torchsde_script.py",
                                                 *command_prefix, tmp_path=tmp_path)}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return run_script("-m", "ember.compat", tmp_path=tmp_path_factory.mktemp("zuko_torchsde"))


FLOWS = ["nsf", "nsf_conditional", "maf", "nice", "realnvp", "cnf"]


@pytest.mark.parametrize("name", FLOWS)
def test_flow_log_density_is_the_change_of_variables(report, name):
    flow = report["zuko"][name]
    assert flow["losses"][-1] < flow["losses"][0]
    # CNF's transform, its log-determinant and its gradients (by the adjoint) are adaptive ODE
    # solves, each to its own tolerance
    tolerance = 1e-3 if name == "cnf" else 1e-9
    for probe, row in zip(report["zuko"]["probes"], flow["probes"]):
        z, jac = np.array(row["z"]), np.array(row["jacobian"])
        # the Jacobian by autograd agrees with central differences of the transform
        shifted = np.array(row["shifted"])  # (input coordinate, +/-, output coordinate)
        np.testing.assert_allclose(jac, ((shifted[:, 0] - shifted[:, 1]) / 2e-6).T,
                                   rtol=1e-5, atol=max(tolerance, 1e-6))
        ladj = np.linalg.slogdet(jac)[1]
        assert math.isclose(row["ladj"], ladj, rel_tol=tolerance, abs_tol=tolerance)
        base = -0.5 * (z @ z) - math.log(2 * math.pi)
        assert math.isclose(row["log_prob"], base + ladj, rel_tol=tolerance, abs_tol=tolerance)
        np.testing.assert_allclose(row["round_trip"], probe, atol=tolerance)
    contexts = 3 if name in ("maf", "nsf_conditional") else None
    assert flow["sample_shape"] == ([5, contexts, 2] if contexts else [5, 2])
    np.testing.assert_allclose(flow["rsample_log_prob"], flow["log_prob_of_rsamples"],
                               rtol=tolerance)


def _replay(y0, increments, drift, diffusion, correction=None):
    """Euler-Maruyama (plus Milstein's ``correction(y, dW)``) steps of dt = 1/64 on the
    reported increments, at the output times 0, 1/4, ..., 1."""
    states = [np.asarray(y0, dtype=float)]
    dt = 2.0 ** -6
    for dw in increments:
        dw = np.asarray(dw)
        y = states[-1]
        step = y + drift(y) * dt + diffusion(y, dw)
        states.append(step + correction(y, dw) if correction else step)
    return np.array(states[::16])


def test_gbm_solvers_replay_in_numpy_and_converge_to_the_closed_form(report):
    sde = report["torchsde"]
    y0, increments = sde["y0"], sde["increments"]
    mu, sigma, dt = 0.5, 0.3, 2.0 ** -6
    np.testing.assert_allclose(np.cumsum(increments, 0)[15::16], sde["w"], atol=1e-12)
    euler = _replay(y0, increments, lambda y: mu * y, lambda y, dw: sigma * y * dw)
    np.testing.assert_allclose(sde["solve"]["euler"], euler, rtol=1e-12)
    milstein = _replay(y0, increments, lambda y: mu * y, lambda y, dw: sigma * y * dw,
                       lambda y, dw: 0.5 * sigma ** 2 * y * (dw ** 2 - dt))
    np.testing.assert_allclose(sde["solve"]["milstein"], milstein, rtol=1e-12)
    times = np.array(sde["ts"])[1:, None, None]
    exact = np.array(y0) * np.exp((mu - sigma ** 2 / 2) * times + sigma * np.array(sde["w"]))
    errors = {method: np.abs(np.array(sde["solve"][method])[1:] - exact).max()
              for method in ("euler", "milstein", "srk")}
    assert errors["srk"] < 1e-3 and errors["milstein"] < 0.05 and errors["euler"] < 0.05
    assert errors["srk"] < errors["milstein"] and errors["srk"] < errors["euler"]


def test_general_noise_replays_in_numpy(report):
    general = report["torchsde"]["general"]
    a = np.array([[-0.5, 0.2], [0.1, -0.3]])
    scale = np.array([[0.2, 0.1, 0.0], [0.0, 0.1, 0.3]])
    expected = _replay(general["y0"], general["increments"], lambda y: y @ a.T,
                       lambda y, dw: np.einsum("bdm,bm->bd", scale * (1 + np.abs(y))[..., None],
                                               dw))
    np.testing.assert_allclose(general["y"], expected, rtol=1e-12, atol=1e-14)


def test_ornstein_uhlenbeck_moments_and_the_noiseless_case(report):
    sde = report["torchsde"]
    t = np.array(sde["ts"])
    mean = 1.0 - 2.0 * np.exp(-2.0 * t)
    variance = 0.25 / 4.0 * (1 - np.exp(-4.0 * t))
    # 4000 paths: the mean within 4 standard errors, the variance within 4 of its own
    np.testing.assert_allclose(sde["ou"]["mean"], mean, atol=4 * math.sqrt(0.0625 / 4000))
    np.testing.assert_allclose(sde["ou"]["variance"], variance,
                               atol=4 * math.sqrt(2 / 4000) * 0.0625)
    steps = np.arange(0, 65, 16)
    np.testing.assert_allclose(sde["decay"]["euler"], (1 - 2.0 ** -6) ** steps, rtol=1e-12)
    np.testing.assert_allclose(sde["decay"]["milstein"], (1 - 2.0 ** -6) ** steps, rtol=1e-12)
    np.testing.assert_allclose(sde["decay"]["euler"], np.exp(-t), rtol=0.01)


def test_backprop_and_adjoint_gradients(report):
    sde = report["torchsde"]
    gradients = sde["gradients"]
    y0, w1 = np.array(sde["y0"]), np.array(sde["w"][-1])
    for method, y1_exact in (("milstein", y0 * np.exp(0.5 - 0.045 + 0.3 * w1)),
                             ("heun", y0 * np.exp(0.5 + 0.3 * w1))):  # Ito, Stratonovich
        backprop, adjoint = gradients[method], gradients[f"{method}_adjoint"]
        np.testing.assert_allclose(backprop["y1"], y1_exact, rtol=0.02)
        # d Y(1) / d Y(0) = Y(1) / Y(0) for a linear SDE, on the discrete path too
        np.testing.assert_allclose(backprop["y0"], np.array(backprop["y1"]) / y0, rtol=1e-10)
        # d Y(1) / d mu = Y(1) and d Y(1) / d sigma = Y(1) (W(1) - sigma) (Ito's)
        sigma_factor = w1 - 0.3 if method == "milstein" else w1
        assert math.isclose(backprop["mu"], y1_exact.sum(), rel_tol=0.02)
        assert math.isclose(backprop["sigma"], (y1_exact * sigma_factor).sum(), rel_tol=0.05)
        # the adjoint of a reversible solver reconstructs the forward path: exact gradients
        tolerance = 1e-9 if method == "heun" else 0.02
        for key in ("y0", "mu", "sigma"):
            np.testing.assert_allclose(adjoint[key], backprop[key], rtol=tolerance)


def test_neural_sde_trains_with_its_kl_term(report):
    neural = report["torchsde"]["neural"]
    assert neural["losses"][-1] < neural["losses"][0]
    assert all(kl >= 0 for kl in neural["kl"])
    assert neural["log_ratio_shape"] == [2, 64]
