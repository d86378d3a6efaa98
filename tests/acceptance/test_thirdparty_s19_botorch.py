"""BoTorch on ember, where BoTorch is installed (it is not a test dependency: its package requires
PyTorch; .ci/run installs it, pyre-extensions and multipledispatch without dependencies, beside
GPyTorch and linear_operator). Its README's loop in float64 (a SingleTaskGP with Normalize and
Standardize fitted by ``fit_gpytorch_mll``, SciPy's L-BFGS-B through autograd; its posterior;
analytic and Monte-Carlo (Sobol) expected improvement; ``optimize_acqf`` with restarts, q=2
batches and a linear constraint), a few Bayesian-optimisation steps on Branin and a
multi-objective step (Pareto front, hypervolume, qEHVI), with ``torch`` resolved to ember in a
fresh interpreter; the values are checked here against the exact GP algebra and the closed forms
of EI and UCB in NumPy and SciPy. tests/conformance/
test_thirdparty_s19_botorch_zuko_torchsde_vs_torch.py compares every number with real
PyTorch's."""
from __future__ import annotations

import functools
import importlib.util
import math
import textwrap

import numpy as np
import pytest

from tests.acceptance import script_report

if importlib.util.find_spec("botorch") is None:  # (importing it would import torch)
    pytest.skip("botorch is not installed", allow_module_level=True)
stats = pytest.importorskip("scipy.stats")

SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import json
    import math
    import warnings
    import torch
    from gpytorch.mlls import ExactMarginalLogLikelihood, SumMarginalLogLikelihood
    from botorch.acquisition import (ExpectedImprovement, LogExpectedImprovement,
                                     UpperConfidenceBound, qExpectedImprovement,
                                     qLogExpectedImprovement, qLogNoisyExpectedImprovement)
    from botorch.acquisition.multi_objective.monte_carlo import qExpectedHypervolumeImprovement
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import ModelListGP, SingleTaskGP
    from botorch.models.transforms import Normalize, Standardize
    from botorch.optim import optimize_acqf
    from botorch.sampling import SobolQMCNormalSampler
    from botorch.test_functions import Branin, BraninCurrin
    from botorch.utils.multi_objective.box_decompositions.non_dominated import (
        FastNondominatedPartitioning)
    from botorch.utils.multi_objective.hypervolume import Hypervolume
    from botorch.utils.multi_objective.pareto import is_non_dominated
    from botorch.utils.sampling import draw_sobol_samples

    warnings.simplefilter("ignore")  # (BoTorch warns of unscaled inputs and jitter)
    torch.manual_seed(0)
    dtype = torch.float64

    # BoTorch's README: fit a GP, maximise log expected improvement
    train_x = torch.rand(10, 2, dtype=dtype)
    train_y = (torch.sin(6 * train_x[:, :1]) + torch.cos(4 * train_x[:, 1:])
               + 0.05 * torch.randn(10, 1, dtype=dtype))
    gp = SingleTaskGP(train_x, train_y, input_transform=Normalize(d=2),
                      outcome_transform=Standardize(m=1))
    mll = ExactMarginalLogLikelihood(gp.likelihood, gp)
    gp.train()
    with torch.no_grad():
        initial_loss = -mll(gp(*gp.train_inputs), gp.train_targets).item()
    fit_gpytorch_mll(mll)
    gp.train()
    loss = -mll(gp(*gp.train_inputs), gp.train_targets)
    loss.backward()
    gp.eval()
    test_x = torch.tensor([[0.1, 0.2], [0.5, 0.5], [0.9, 0.3], [0.7, 0.95]], dtype=dtype)
    posterior = gp.posterior(test_x)
    noisy = gp.posterior(test_x, observation_noise=True)
    report = {
        "train_x": out(train_x), "train_y": out(train_y), "test_x": out(test_x),
        "fit": {"initial_loss": initial_loss, "loss": loss.item(),
                "grad_norm": max(p.grad.abs().max().item() for p in gp.parameters()),
                "lengthscale": out(gp.covar_module.lengthscale[0]),
                "noise": gp.likelihood.noise.item(), "constant": gp.mean_module.constant.item(),
                "y_mean": gp.outcome_transform.means.item(),
                "y_std": gp.outcome_transform.stdvs.item()},
        "posterior": {"mean": out(posterior.mean[:, 0]), "variance": out(posterior.variance[:, 0]),
                      "noisy_variance": out(noisy.variance[:, 0])}}

    best_f = train_y.median()  # (the test points then improve on it by more than QMC's error)
    bounds = torch.stack([torch.zeros(2, dtype=dtype), torch.ones(2, dtype=dtype)])
    batch = test_x.unsqueeze(1)  # (b, q=1, d)
    with torch.no_grad():
        acquisition = {
            "best_f": best_f.item(),
            "ei": out(ExpectedImprovement(gp, best_f=best_f)(batch)),
            "log_ei": out(LogExpectedImprovement(gp, best_f=best_f)(batch)),
            "ucb": out(UpperConfidenceBound(gp, beta=0.2)(batch)),
            "qei": out(qExpectedImprovement(
                gp, best_f=best_f, sampler=SobolQMCNormalSampler(torch.Size([1024]), seed=0))(
                    batch)),
            "qlog_ei": out(qLogExpectedImprovement(
                gp, best_f=best_f, sampler=SobolQMCNormalSampler(torch.Size([1024]), seed=0))(
                    batch))}
    best_f = train_y.max()  # the README's
    acquisition["best_y"] = best_f.item()
    log_ei = LogExpectedImprovement(gp, best_f=best_f)
    candidate, value = optimize_acqf(log_ei, bounds=bounds, q=1, num_restarts=4, raw_samples=32)
    acquisition["candidate"], acquisition["candidate_value"] = out(candidate[0]), value.item()
    q_log_ei = qLogExpectedImprovement(gp, best_f=best_f,
                                       sampler=SobolQMCNormalSampler(torch.Size([64]), seed=1))
    pair, pair_value = optimize_acqf(q_log_ei, bounds=bounds, q=2, num_restarts=2, raw_samples=16)
    acquisition["pair"], acquisition["pair_value"] = out(pair), pair_value.item()
    ucb = UpperConfidenceBound(gp, beta=0.2)
    constrained, constrained_value = optimize_acqf(
        ucb, bounds=bounds, q=1, num_restarts=2, raw_samples=16,
        inequality_constraints=[(torch.tensor([0, 1]), torch.tensor([-1.0, -1.0], dtype=dtype),
                                 -0.8)])  # x0 + x1 <= 0.8
    acquisition["constrained"] = out(constrained[0])
    acquisition["constrained_value"] = constrained_value.item()
    report["acquisition"] = acquisition

    # Bayesian optimisation of Branin (negated: maximised), q=1 per step with noisy log EI
    branin = Branin(negate=True).to(dtype)
    x = draw_sobol_samples(bounds=branin.bounds, n=6, q=1, seed=0).squeeze(1)
    y = branin(x).unsqueeze(-1)
    best = [y.max().item()]
    for step in range(3):
        model = SingleTaskGP(x, y, input_transform=Normalize(d=2, bounds=branin.bounds),
                             outcome_transform=Standardize(m=1))
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
        acq = qLogNoisyExpectedImprovement(
            model, X_baseline=x, sampler=SobolQMCNormalSampler(torch.Size([64]), seed=step))
        new_x, _ = optimize_acqf(acq, bounds=branin.bounds, q=1, num_restarts=2, raw_samples=16)
        x = torch.cat([x, new_x])
        y = torch.cat([y, branin(new_x).unsqueeze(-1)])
        best.append(y.max().item())
    report["loop"] = {"x": out(x), "y": out(y[:, 0]), "best": best,
                      "optimum": -branin.optimal_value}

    # multi-objective: Pareto front, hypervolume and qEHVI of two independent GPs
    problem = BraninCurrin(negate=True).to(dtype)
    mo_x = draw_sobol_samples(bounds=problem.bounds, n=8, q=1, seed=3).squeeze(1)
    mo_y = problem(mo_x)
    models = ModelListGP(*(SingleTaskGP(mo_x, mo_y[:, i:i + 1], outcome_transform=Standardize(m=1))
                           for i in range(2)))
    fit_gpytorch_mll(SumMarginalLogLikelihood(models.likelihood, models))
    ref_point = torch.tensor([-200.0, -15.0], dtype=dtype)
    pareto = is_non_dominated(mo_y)
    ehvi = qExpectedHypervolumeImprovement(
        models, ref_point=ref_point,
        partitioning=FastNondominatedPartitioning(ref_point=ref_point, Y=mo_y),
        sampler=SobolQMCNormalSampler(torch.Size([32]), seed=0))
    with torch.no_grad():
        ehvi_values = ehvi(mo_x[:3].unsqueeze(1))
    report["multi_objective"] = {
        "y": out(mo_y), "pareto": out(pareto),
        "hypervolume": Hypervolume(ref_point).compute(mo_y[pareto]),
        "ehvi_at_observed": out(ehvi_values)}
    print(json.dumps(report))
''')

# the script's report, run under ``command_prefix`` (``-m ember.compat``: on ember)
run_script = functools.partial(script_report.run_script, SCRIPT, "botorch_script.py")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return run_script("-m", "ember.compat", tmp_path=tmp_path_factory.mktemp("botorch"))


def _posterior(report) -> tuple[np.ndarray, np.ndarray, float]:
    """The fitted GP's posterior (mean, variance) at the test points and its noise, in the
    outcome's units: an RBF kernel with ARD lengthscales (no output scale) on inputs normalised
    to the training data's bounding box, outcomes standardised by their mean and sample std."""
    fit = report["fit"]
    x, x_test = np.array(report["train_x"]), np.array(report["test_x"])
    low, high = x.min(0), x.max(0)
    lengthscale = np.array(fit["lengthscale"])

    def kernel(a, b):
        a = (a - low) / (high - low) / lengthscale
        b = (b - low) / (high - low) / lengthscale
        return np.exp(-0.5 * ((a[:, None] - b[None]) ** 2).sum(-1))
    y = (np.array(report["train_y"])[:, 0] - fit["y_mean"]) / fit["y_std"]
    k = kernel(x, x) + fit["noise"] * np.eye(len(x))
    k_star = kernel(x_test, x)
    mean = fit["constant"] + k_star @ np.linalg.solve(k, y - fit["constant"])
    variance = 1 - np.einsum("ij,ji->i", k_star, np.linalg.solve(k, k_star.T))
    return (fit["y_mean"] + fit["y_std"] * mean, fit["y_std"] ** 2 * variance,
            fit["y_std"] ** 2 * fit["noise"])


def test_fit_and_posterior_match_the_gp_algebra(report):
    y = np.array(report["train_y"])[:, 0]
    fit = report["fit"]
    assert math.isclose(fit["y_mean"], y.mean(), rel_tol=1e-12)
    assert math.isclose(fit["y_std"], y.std(ddof=1), rel_tol=1e-12)
    assert fit["loss"] < fit["initial_loss"]
    assert fit["grad_norm"] < 1e-3  # L-BFGS-B stopped at a stationary point
    mean, variance, noise = _posterior(report)
    posterior = report["posterior"]
    np.testing.assert_allclose(posterior["mean"], mean, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(posterior["variance"], variance, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(posterior["noisy_variance"], variance + noise, rtol=1e-6)


def _expected_improvement(mean, variance, best_f):
    sigma = np.sqrt(variance)
    z = (mean - best_f) / sigma
    return sigma * (z * stats.norm.cdf(z) + stats.norm.pdf(z))


def test_acquisition_values_match_closed_forms(report):
    mean, variance, _ = _posterior(report)
    acquisition = report["acquisition"]
    ei = _expected_improvement(mean, variance, acquisition["best_f"])
    np.testing.assert_allclose(acquisition["ei"], ei, rtol=1e-6, atol=1e-300)
    np.testing.assert_allclose(acquisition["log_ei"], np.log(ei), rtol=1e-6)
    np.testing.assert_allclose(acquisition["ucb"], mean + np.sqrt(0.2 * variance), rtol=1e-8)
    # 1024 scrambled Sobol points integrate the one-dimensional improvement closely
    np.testing.assert_allclose(acquisition["qei"], ei, rtol=0.02, atol=1e-6)
    large = ei > 1e-3  # (qLogEI smooths max(., 0) with a temperature of 1e-6 in log space)
    np.testing.assert_allclose(np.array(acquisition["qlog_ei"])[large], np.log(ei[large]),
                               atol=0.02)


def test_optimize_acqf_finds_the_maximum(report):
    acquisition = report["acquisition"]
    candidate = np.array(acquisition["candidate"])
    assert ((0 <= candidate) & (candidate <= 1)).all()
    # a 41 x 41 grid of the closed form never beats the optimiser's value
    grid = np.stack(np.meshgrid(*2 * [np.linspace(0, 1, 41)]), -1).reshape(-1, 2)
    grid_report = dict(report, test_x=grid.tolist())
    mean, variance, _ = _posterior(grid_report)
    best_on_grid = np.log(_expected_improvement(mean, variance, acquisition["best_y"]).max())
    assert acquisition["candidate_value"] >= best_on_grid - 1e-6
    mean, variance, _ = _posterior(dict(report, test_x=[candidate.tolist()]))
    assert math.isclose(acquisition["candidate_value"],
                        np.log(_expected_improvement(mean, variance, acquisition["best_y"]))[0],
                        rel_tol=1e-6)
    pair = np.array(acquisition["pair"])
    assert pair.shape == (2, 2) and ((0 <= pair) & (pair <= 1)).all()
    assert np.isfinite(acquisition["pair_value"])
    constrained = np.array(acquisition["constrained"])
    assert constrained.sum() <= 0.8 + 1e-6 and ((0 <= constrained) & (constrained <= 1)).all()
    mean, variance, _ = _posterior(dict(report, test_x=[constrained.tolist()]))
    assert math.isclose(acquisition["constrained_value"], (mean + np.sqrt(0.2 * variance))[0],
                        rel_tol=1e-6)


def _branin(x: np.ndarray) -> np.ndarray:
    b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    x1, x2 = x[:, 0], x[:, 1]
    return (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - t) * np.cos(x1) + 10


def test_bayesian_optimisation_loop_improves_on_branin(report):
    loop = report["loop"]
    x, y = np.array(loop["x"]), np.array(loop["y"])
    np.testing.assert_allclose(y, -_branin(x), rtol=1e-12)
    assert ((x[:, 0] >= -5) & (x[:, 0] <= 10) & (x[:, 1] >= 0) & (x[:, 1] <= 15)).all()
    assert len(np.unique(x, axis=0)) == len(x) == 9
    np.testing.assert_allclose(loop["best"], np.maximum.accumulate(y)[5:], rtol=1e-12)
    assert loop["best"][-1] > loop["best"][0] and loop["best"][-1] <= -loop["optimum"] + 1e-9


def test_pareto_front_hypervolume_and_ehvi(report):
    mo = report["multi_objective"]
    y = np.array(mo["y"])
    dominated = [any((other >= point).all() and (other > point).any() for other in y)
                 for point in y]
    assert mo["pareto"] == [not d for d in dominated]
    front = y[mo["pareto"]]
    front = front[np.argsort(-front[:, 0])]  # a 2-D staircase above the reference point
    ref = np.array([-200.0, -15.0])
    widths = front[:, 0] - np.append(front[1:, 0], ref[0])
    assert math.isclose(mo["hypervolume"], (widths * (front[:, 1] - ref[1])).sum(), rel_tol=1e-12)
    # an expected improvement of hypervolume: non-negative, none where nothing is uncertain
    ehvi = np.array(mo["ehvi_at_observed"])
    assert (ehvi >= 0).all() and np.isfinite(ehvi).all()
