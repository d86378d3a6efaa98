"""Pyro (probabilistic programming on PyTorch) on ember, where pyro-ppl is installed (it is not a
test dependency: its package requires PyTorch; CI installs it without). Bayesian linear
regression fitted by SVI (Trace_ELBO with AutoNormal, AutoDiagonalNormal, AutoMultivariateNormal,
AutoLowRankMultivariateNormal and AutoDelta guides; Adam and ClippedAdam), a hand-written guide
under TraceMeanField_ELBO with vectorised particles, a PyroModule, an enumerated mixture under
TraceEnum_ELBO, NUTS, poutine's trace/replay/condition/block, Predictive, and pyro.distributions'
log_prob, rsample, enumerate_support, expand, mask, flows and constraint bijections, with
``torch`` resolved to ember in a fresh interpreter; the values are checked here against
NumPy/SciPy and for consistency. tests/conformance/test_thirdparty_s17_pyro_vs_torch.py runs
the same script on real PyTorch and compares every number."""
from __future__ import annotations

import functools
import importlib.util
import textwrap

import numpy as np
import pytest
from scipy import special, stats

from tests.acceptance import script_report

if importlib.util.find_spec("pyro") is None:  # (importing it would import torch)
    pytest.skip("pyro-ppl is not installed", allow_module_level=True)

SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import json

    import torch
    import pyro
    import pyro.distributions as dist
    import pyro.distributions.transforms as T
    from pyro import poutine
    from pyro.distributions import constraints
    from pyro.infer import (MCMC, NUTS, SVI, Predictive, Trace_ELBO, TraceEnum_ELBO,
                            TraceMeanField_ELBO, config_enumerate)
    from pyro.infer.autoguide import (AutoDelta, AutoDiagonalNormal, AutoLowRankMultivariateNormal,
                                      AutoMultivariateNormal, AutoNormal)
    from pyro.nn import PyroModule, PyroSample
    from pyro.optim import Adam, ClippedAdam




    pyro.set_rng_seed(0)
    X = torch.randn(24, 2)
    y = X @ torch.tensor([1.5, -0.7]) + 0.3 + 0.2 * torch.randn(24)
    report = {"data": {"X": out(X), "y": out(y)}}


    def model(X, y=None):  # (X * w).sum(-1): w may carry a dim of vectorised particles
        w = pyro.sample("w", dist.Normal(torch.zeros(2), torch.ones(2)).to_event(1))
        b = pyro.sample("b", dist.Normal(0.0, 1.0))
        sigma = pyro.param("sigma", torch.tensor(0.5), constraint=constraints.positive)
        with pyro.plate("data", X.shape[0]):
            return pyro.sample("obs", dist.Normal((X * w).sum(-1) + b, sigma), obs=y)


    def fit(guide, optim, loss, steps):
        svi = SVI(model, guide, optim, loss)
        losses = [svi.step(X, y) for _ in range(steps)]
        store = pyro.get_param_store()
        return {"losses": losses, "params": {k: out(store[k]) for k in sorted(store.keys())}}


    svi = {}
    for name, guide_cls, optim in [
            ("auto_normal", AutoNormal, Adam({"lr": 0.05})),
            ("auto_diagonal", AutoDiagonalNormal, ClippedAdam({"lr": 0.05, "clip_norm": 5.0})),
            ("auto_mvn", AutoMultivariateNormal, Adam({"lr": 0.05})),
            ("auto_lowrank", AutoLowRankMultivariateNormal, Adam({"lr": 0.05})),
            ("auto_delta", AutoDelta, Adam({"lr": 0.05}))]:
        pyro.clear_param_store()
        pyro.set_rng_seed(1)
        guide = guide_cls(model)
        svi[name] = fit(guide, optim, Trace_ELBO(), 60)
        svi[name]["median"] = out(guide.median(X, y))
    report["svi"] = svi


    def mean_field_guide(X, y=None):
        w_loc = pyro.param("w_loc", torch.zeros(2))
        w_scale = pyro.param("w_scale", torch.ones(2), constraint=constraints.positive)
        b_loc = pyro.param("b_loc", torch.tensor(0.0))
        b_scale = pyro.param("b_scale", torch.tensor(1.0), constraint=constraints.positive)
        pyro.sample("w", dist.Normal(w_loc, w_scale).to_event(1))
        pyro.sample("b", dist.Normal(b_loc, b_scale))


    pyro.clear_param_store()
    pyro.set_rng_seed(2)
    report["mean_field"] = fit(mean_field_guide, Adam({"lr": 0.1}),
                              TraceMeanField_ELBO(num_particles=3, vectorize_particles=True), 40)

    # poutine on the fitted mean-field guide
    pyro.set_rng_seed(3)
    guide_trace = poutine.trace(mean_field_guide).get_trace(X, y)
    model_trace = poutine.trace(poutine.replay(model, trace=guide_trace)).get_trace(X, y)
    conditioned = poutine.condition(model, data={"w": torch.tensor([1.0, -1.0]),
                                                 "b": torch.tensor(0.5)})
    cond_trace = poutine.trace(conditioned).get_trace(X, y)
    blocked = poutine.trace(poutine.block(model, hide=["w"])).get_trace(X, y)
    model_trace.compute_log_prob()
    report["poutine"] = {
        "guide_sites": [k for k, s in guide_trace.nodes.items() if s["type"] == "sample"],
        "replayed_w": out(model_trace.nodes["w"]["value"]),
        "guide_w": out(guide_trace.nodes["w"]["value"]),
        "replayed_b": out(model_trace.nodes["b"]["value"]),
        "log_prob_sum": model_trace.log_prob_sum().item(),
        "obs_log_prob": out(model_trace.nodes["obs"]["log_prob"]),
        "cond_log_prob_sum": cond_trace.log_prob_sum().item(),
        "blocked_sites": [k for k, s in blocked.nodes.items() if s["type"] == "sample"],
    }
    pyro.set_rng_seed(4)
    predictive = Predictive(model, guide=mean_field_guide, num_samples=5)
    samples = predictive(X)
    report["predictive"] = {k: out(v) for k, v in sorted(samples.items())}

    # a PyroModule: nn.Linear with sampled weights, two particles per step; the param store's
    # state saved and restored


    class BayesianLinear(PyroModule):
        def __init__(self):
            super().__init__()
            self.linear = PyroModule[torch.nn.Linear](2, 1)
            self.linear.weight = PyroSample(dist.Normal(0.0, 1.0).expand([1, 2]).to_event(2))
            self.linear.bias = PyroSample(dist.Normal(0.0, 1.0).expand([1]).to_event(1))

        def forward(self, X, y=None):
            mean = self.linear(X).squeeze(-1)
            with pyro.plate("data", X.shape[0]):
                return pyro.sample("obs", dist.Normal(mean, 0.2), obs=y)


    pyro.clear_param_store()
    pyro.set_rng_seed(8)
    module = BayesianLinear()
    module_guide = AutoNormal(module)
    module_svi = SVI(module, module_guide, Adam({"lr": 0.05}),
                     Trace_ELBO(num_particles=2))
    module_losses = [module_svi.step(X, y) for _ in range(30)]
    elbo = Trace_ELBO().differentiable_loss(module, module_guide, X, y)
    elbo.backward()
    store = pyro.get_param_store()
    state = store.get_state()
    pyro.clear_param_store()
    store.set_state(state)
    report["pyro_module"] = {
        "losses": module_losses, "differentiable_loss": elbo.item(),
        "params": {k: out(store[k]) for k in sorted(store.keys())},
        "grads": {k: out(v.grad) for k, v in sorted(store.named_parameters())},
        "quantiles": out(module_guide.quantiles([0.25, 0.75]))}

    # an enumerated two-component mixture: the loss is the exact negative log marginal likelihood
    data = torch.tensor([-2.1, -1.7, -2.4, 1.9, 2.2, 2.6, 1.5, -1.9])


    @config_enumerate
    def mixture(data):
        weights = pyro.param("weights", torch.tensor([0.4, 0.6]), constraint=constraints.simplex)
        locs = pyro.param("locs", torch.tensor([-1.0, 1.0]))
        scale = pyro.param("scale", torch.tensor(1.0), constraint=constraints.positive)
        with pyro.plate("points", len(data)):
            z = pyro.sample("z", dist.Categorical(weights))
            pyro.sample("x", dist.Normal(locs[z], scale), obs=data)


    def empty_guide(data):
        pass


    pyro.clear_param_store()
    enum_svi = SVI(mixture, empty_guide, Adam({"lr": 0.1}), TraceEnum_ELBO(max_plate_nesting=1))
    enum_losses = [enum_svi.step(data) for _ in range(30)]
    store = pyro.get_param_store()
    report["enum"] = {"data": out(data), "losses": enum_losses,
                      "params": {k: out(store[k]) for k in ["locs", "scale", "weights"]}}

    # NUTS on a normal's mean and scale (float64: NUTS turns float32's last-bit differences in
    # summation order into different trees, where float64's stay far below the reported digits)


    def normal_model(obs):
        mu = pyro.sample("mu", dist.Normal(0.0, 10.0))
        sigma = pyro.sample("sigma", dist.HalfNormal(2.0))
        with pyro.plate("n", len(obs)):
            pyro.sample("obs", dist.Normal(mu, sigma), obs=obs)


    torch.set_default_dtype(torch.float64)
    pyro.set_rng_seed(5)
    obs = 1.0 + 0.5 * torch.randn(12)
    mcmc = MCMC(NUTS(normal_model), warmup_steps=40, num_samples=40, disable_progbar=True)
    mcmc.run(obs)
    chains = mcmc.get_samples()
    report["nuts"] = {"obs": out(obs), "chain": {k: out(v) for k, v in sorted(chains.items())},
                      "mean": {k: v.mean().item() for k, v in sorted(chains.items())},
                      "step_size": mcmc.kernel.step_size}
    torch.set_default_dtype(torch.float32)

    # distributions: log_prob and rsample
    pyro.set_rng_seed(6)
    value = torch.tensor([0.3, 0.6])
    dists = {
        "normal_event": dist.Normal(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 2.0])).to_event(1),
        "categorical": dist.Categorical(torch.tensor([0.2, 0.3, 0.5])),
        "mvn": dist.MultivariateNormal(torch.tensor([0.0, 1.0]),
                                       torch.tensor([[2.0, 0.5], [0.5, 1.0]])),
        "dirichlet": dist.Dirichlet(torch.tensor([1.5, 2.0, 3.0])),
        "gamma": dist.Gamma(torch.tensor([2.0, 3.0]), torch.tensor([1.0, 0.5])),
        "beta": dist.Beta(torch.tensor([2.0, 0.5]), torch.tensor([3.0, 1.5])),
        "lognormal": dist.LogNormal(torch.tensor([0.0, 0.5]), torch.tensor([1.0, 0.3])),
    }
    values = {"normal_event": value, "categorical": torch.tensor([0, 2, 1]), "mvn": value,
              "dirichlet": torch.tensor([0.2, 0.3, 0.5]), "gamma": value, "beta": value,
              "lognormal": value}
    report["dists"] = {}
    for name, d in dists.items():
        entry = {"log_prob": out(d.log_prob(values[name])), "batch_shape": list(d.batch_shape),
                 "event_shape": list(d.event_shape)}
        entry["sample"] = out(d.rsample((3,)) if d.has_rsample else d.sample((3,)))
        report["dists"][name] = entry
    report["dists"]["categorical"]["support"] = out(dists["categorical"].enumerate_support())
    report["kl_normal"] = out(torch.distributions.kl_divergence(
        dist.Normal(0.0, 1.0), dist.Normal(1.0, 2.0)))

    pyro.set_rng_seed(7)
    flow = T.AffineAutoregressive(pyro.nn.AutoRegressiveNN(2, [4]))
    flow_dist = dist.TransformedDistribution(dist.Normal(torch.zeros(2), torch.ones(2)).to_event(1),
                                             [flow])
    flow_x = flow_dist.rsample((3,))
    report["flow"] = {"sample": out(flow_x), "log_prob": out(flow_dist.log_prob(flow_x)),
                      "inverse": out(flow.inv(flow_x)),
                      "log_det": out(flow.log_abs_det_jacobian(flow.inv(flow_x), flow_x))}

    # constraints and their bijections: values, inverses, log-det-Jacobians
    unconstrained = torch.tensor([[-1.0, 0.5, 2.0], [0.3, -0.2, 0.1], [1.0, 1.5, -0.5]])
    report["bijections"] = {}
    biject_to, transform_to = torch.distributions.biject_to, torch.distributions.transform_to
    for name, constraint, x, registry in [
            ("positive", constraints.positive, unconstrained[0], biject_to),
            ("unit_interval", constraints.unit_interval, unconstrained[0], biject_to),
            ("interval", constraints.interval(-1.0, 3.0), unconstrained[0], biject_to),
            ("simplex", constraints.simplex, unconstrained[0], biject_to),
            ("corr_cholesky", constraints.corr_cholesky, unconstrained[0], biject_to),
            ("lower_cholesky", constraints.lower_cholesky, unconstrained, transform_to),
            ("positive_definite", constraints.positive_definite, unconstrained, transform_to)]:
        transform = registry(constraint)
        z = transform(x)
        report["bijections"][name] = {
            "value": out(z), "inverse": out(transform.inv(z)), "check": out(constraint.check(z))}
        if registry is biject_to:  # transform_to's maps may not be bijections, with no Jacobian
            report["bijections"][name]["log_det"] = out(transform.log_abs_det_jacobian(x, z))
    normal = dist.Normal(torch.tensor(0.5), torch.tensor(2.0))
    report["shapes"] = {
        "expand": out(normal.expand([3]).log_prob(torch.tensor([0.0, 1.0, 2.0]))),
        "expand_batch": list(normal.expand([4, 3]).batch_shape),
        "mask": out(dist.Normal(torch.zeros(3), 1.0).mask(torch.tensor([True, False, True]))
                    .log_prob(torch.ones(3))),
        "bernoulli_support": out(dist.Bernoulli(torch.tensor([0.3, 0.6])).enumerate_support()),
        "bernoulli_support_noexpand": out(dist.Bernoulli(torch.tensor([0.3, 0.6]))
                                          .enumerate_support(expand=False)),
        "independent_shape": [list(dist.Normal(torch.zeros(4, 3), 1.0).to_event(1).batch_shape),
                              list(dist.Normal(torch.zeros(4, 3), 1.0).to_event(1).event_shape)]}

    print(json.dumps(report))
''')


# the script's report, run under ``command_prefix`` (``-m ember.compat``: on ember)
run_script = functools.partial(script_report.run_script, SCRIPT, "pyro_script.py")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return run_script("-m", "ember.compat", tmp_path=tmp_path_factory.mktemp("pyro"))


def _data(report) -> tuple[np.ndarray, np.ndarray]:
    return np.array(report["data"]["X"], np.float64), np.array(report["data"]["y"], np.float64)


def _decreases(losses: list) -> bool:
    return np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])


def test_svi_fits_the_least_squares_line(report):
    X, y = _data(report)
    fit = np.linalg.lstsq(np.c_[X, np.ones(len(X))], y, rcond=None)[0]
    for name, run in report["svi"].items():
        assert _decreases(run["losses"]), name
        median = np.r_[run["median"]["w"], run["median"]["b"]]
        np.testing.assert_allclose(median, fit, atol=0.25, err_msg=name)
        assert run["params"]["sigma"] > 0
    assert sorted(report["svi"]["auto_normal"]["params"]) == [
        "AutoNormal.locs.b", "AutoNormal.locs.w", "AutoNormal.scales.b", "AutoNormal.scales.w",
        "sigma"]
    mvn = report["svi"]["auto_mvn"]["params"]
    scale_tril = np.array(mvn["AutoMultivariateNormal.scale_tril"])  # unit lower triangular
    assert np.allclose(np.triu(scale_tril, 1), 0) and np.allclose(np.diag(scale_tril), 1)
    mean_field = report["mean_field"]
    assert _decreases(mean_field["losses"])
    params = mean_field["params"]
    np.testing.assert_allclose(np.r_[params["w_loc"], params["b_loc"]], fit, atol=0.25)
    assert min(params["w_scale"] + [params["b_scale"]]) > 0


def test_poutine_log_densities_match_scipy(report):
    X, y = _data(report)
    sigma = report["mean_field"]["params"]["sigma"]  # the param store's after that fit

    def log_joint(w, b):
        """log p(w, b, y) of the model, and each observation's log-density."""
        obs = stats.norm.logpdf(y, X @ w + b, sigma)
        return stats.norm.logpdf(w).sum() + stats.norm.logpdf(b) + obs.sum(), obs

    trace = report["poutine"]
    assert trace["guide_sites"] == ["w", "b"] and trace["blocked_sites"] == ["b", "data", "obs"]
    assert trace["replayed_w"] == trace["guide_w"]
    total, obs = log_joint(np.array(trace["replayed_w"]), trace["replayed_b"])
    np.testing.assert_allclose(trace["obs_log_prob"], obs, rtol=1e-4)
    assert np.isclose(trace["log_prob_sum"], total, rtol=1e-4)
    assert np.isclose(trace["cond_log_prob_sum"], log_joint(np.array([1.0, -1.0]), 0.5)[0],
                      rtol=1e-4)
    assert {k: np.shape(v) for k, v in report["predictive"].items()} == {
        "b": (5, 1), "obs": (5, 24), "w": (5, 1, 2)}


def test_pyro_module_and_param_store(report):
    run = report["pyro_module"]
    assert _decreases(run["losses"])
    names = ["AutoNormal.locs.linear.bias", "AutoNormal.locs.linear.weight",
             "AutoNormal.scales.linear.bias", "AutoNormal.scales.linear.weight"]
    assert sorted(run["params"]) == names and sorted(run["grads"]) == names
    assert all(np.all(np.isfinite(g)) and np.any(np.array(g) != 0) for g in run["grads"].values())
    low, high = (np.array(q) for q in run["quantiles"]["linear.weight"])
    assert np.all(low < high)


def test_enumerated_mixture_loss_is_the_marginal_likelihood(report):
    data = np.array(report["enum"]["data"], np.float64)
    # the first step's loss is at the initial parameters
    mixture = 0.4 * stats.norm.pdf(data, -1.0, 1.0) + 0.6 * stats.norm.pdf(data, 1.0, 1.0)
    losses = report["enum"]["losses"]
    assert np.isclose(losses[0], -np.log(mixture).sum(), rtol=1e-5)
    assert losses[-1] < 0.6 * losses[0]
    params = report["enum"]["params"]
    np.testing.assert_allclose(params["locs"], [-2.0, 2.0], atol=0.3)
    assert np.isclose(sum(params["weights"]), 1.0, atol=1e-6)


def test_nuts_samples_the_posterior(report):
    obs = np.array(report["nuts"]["obs"])
    chain = report["nuts"]["chain"]
    assert len(chain["mu"]) == len(chain["sigma"]) == 40 and min(chain["sigma"]) > 0
    assert len(set(chain["mu"])) > 20  # the chain moves
    assert abs(report["nuts"]["mean"]["mu"] - obs.mean()) < 0.25
    assert abs(report["nuts"]["mean"]["sigma"] - obs.std()) < 0.25


def test_distributions_match_scipy(report):
    got = report["dists"]
    value = np.array([0.3, 0.6])
    np.testing.assert_allclose(got["normal_event"]["log_prob"],
                               stats.norm.logpdf(value, [0.0, 1.0], [1.0, 2.0]).sum(), rtol=1e-5)
    np.testing.assert_allclose(got["categorical"]["log_prob"], np.log([0.2, 0.5, 0.3]),
                               rtol=1e-5)
    assert got["categorical"]["support"] == [0, 1, 2]
    mvn = stats.multivariate_normal([0.0, 1.0], [[2.0, 0.5], [0.5, 1.0]])
    np.testing.assert_allclose(got["mvn"]["log_prob"], mvn.logpdf(value), rtol=1e-5)
    np.testing.assert_allclose(got["dirichlet"]["log_prob"],
                               stats.dirichlet([1.5, 2.0, 3.0]).logpdf([0.2, 0.3, 0.5]), rtol=1e-5)
    np.testing.assert_allclose(got["gamma"]["log_prob"],
                               stats.gamma.logpdf(value, [2.0, 3.0], scale=[1.0, 2.0]), rtol=1e-5)
    np.testing.assert_allclose(got["beta"]["log_prob"],
                               stats.beta.logpdf(value, [2.0, 0.5], [3.0, 1.5]), rtol=1e-5)
    np.testing.assert_allclose(got["lognormal"]["log_prob"], stats.lognorm.logpdf(
        value, [1.0, 0.3], scale=np.exp([0.0, 0.5])), rtol=1e-5)
    shapes = {name: (d["batch_shape"], d["event_shape"], np.shape(d["sample"]))
              for name, d in got.items()}
    assert shapes == {"normal_event": ([], [2], (3, 2)), "categorical": ([], [], (3,)),
                      "mvn": ([], [2], (3, 2)), "dirichlet": ([], [3], (3, 3)),
                      "gamma": ([2], [], (3, 2)), "beta": ([2], [], (3, 2)),
                      "lognormal": ([2], [], (3, 2))}
    assert np.allclose(np.sum(got["dirichlet"]["sample"], -1), 1, atol=1e-6)
    assert np.all(np.array(got["gamma"]["sample"]) > 0)
    assert np.all((np.array(got["beta"]["sample"]) > 0) & (np.array(got["beta"]["sample"]) < 1))
    assert np.isclose(report["kl_normal"], np.log(2.0) + 2.0 / 8.0 - 0.5, rtol=1e-6)
    shapes = report["shapes"]
    np.testing.assert_allclose(shapes["expand"], stats.norm.logpdf([0.0, 1.0, 2.0], 0.5, 2.0),
                               rtol=1e-6)
    assert shapes["expand_batch"] == [4, 3] and shapes["independent_shape"] == [[4], [3]]
    np.testing.assert_allclose(shapes["mask"], [stats.norm.logpdf(1.0), 0.0,
                                                stats.norm.logpdf(1.0)], rtol=1e-6)
    assert shapes["bernoulli_support"] == [[0.0, 0.0], [1.0, 1.0]]
    assert shapes["bernoulli_support_noexpand"] == [[0.0], [1.0]]


def test_flow_density_is_the_change_of_variables(report):
    flow = report["flow"]
    base = stats.norm.logpdf(np.array(flow["inverse"])).sum(-1)
    np.testing.assert_allclose(flow["log_prob"], base - np.array(flow["log_det"]), rtol=1e-5,
                               atol=1e-5)


def test_bijections_reach_their_constraints(report):
    got = report["bijections"]
    x = np.array([-1.0, 0.5, 2.0])
    for name in ["positive", "unit_interval", "interval", "simplex", "corr_cholesky"]:
        np.testing.assert_allclose(got[name]["inverse"], x, atol=1e-5, err_msg=name)
        assert got[name]["check"] in (True, [True] * 3), name
    np.testing.assert_allclose(got["positive"]["value"], np.exp(x), rtol=1e-6)
    np.testing.assert_allclose(got["positive"]["log_det"], x, rtol=1e-6)
    np.testing.assert_allclose(got["unit_interval"]["value"], special.expit(x), rtol=1e-6)
    np.testing.assert_allclose(got["interval"]["value"], -1.0 + 4.0 * special.expit(x), rtol=1e-6)
    simplex = np.array(got["simplex"]["value"])
    assert simplex.shape == (4,) and np.all(simplex > 0) and np.isclose(simplex.sum(), 1)
    corr = np.array(got["corr_cholesky"]["value"])
    np.testing.assert_allclose(np.linalg.norm(corr, axis=1), 1.0, rtol=1e-6)
    lower = np.array(got["lower_cholesky"]["value"])
    assert np.all(np.triu(lower, 1) == 0) and np.all(np.diag(lower) > 0)
    definite = np.array(got["positive_definite"]["value"])
    assert np.allclose(definite, definite.T) and np.all(np.linalg.eigvalsh(definite) > 0)
