"""GPyTorch on ember, where GPyTorch is installed (it is not a test dependency: its package
requires PyTorch; .ci/run installs it, linear_operator, jaxtyping and wadler-lindig without
dependencies). The "Simple GP Regression" tutorial in float64 (an ExactGP with a constant mean
and a scaled RBF kernel, Adam on the exact marginal log likelihood, predictions with
``fast_pred_var`` and a confidence region) on the Cholesky paths and on the conjugate-gradient /
Lanczos ones (``max_cholesky_size(0)``), Matern, periodic, sum and product kernels, posterior
samples and a fantasy update, a multitask GP (Kronecker algebra), variational GPs (SVGP with a
Gaussian and a Bernoulli likelihood), KISS-GP (grid interpolation) and linear_operator's own
solves and log-determinants, with ``torch`` resolved to ember in a fresh interpreter; the
posteriors are checked here against the exact GP algebra in NumPy for the learned
hyperparameters. tests/conformance/test_thirdparty_s17_gpytorch_ignite_vs_torch.py compares every
number with real PyTorch's."""
from __future__ import annotations

import functools
import importlib.util
import math
import textwrap

import numpy as np
import pytest
from scipy.special import ndtr

from tests.acceptance import script_report

if importlib.util.find_spec("gpytorch") is None:  # (importing it would import torch)
    pytest.skip("gpytorch is not installed", allow_module_level=True)

SCRIPT = textwrap.dedent('''
import json
import math
import warnings
import torch
import gpytorch
from linear_operator import operators
from linear_operator.utils.cholesky import psd_safe_cholesky

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)


def out(v):
    if isinstance(v, torch.Tensor):
        return v.detach().tolist()
    return v


train_x = torch.linspace(0, 1, 12)
train_y = torch.sin(train_x * (2 * math.pi)) + 0.1 * torch.randn(train_x.size())
test_x = torch.linspace(0, 1, 7)


class ExactGPModel(gpytorch.models.ExactGP):
    def __init__(self, train_x, train_y, likelihood, kernel):
        super().__init__(train_x, train_y, likelihood)
        self.mean_module = gpytorch.means.ConstantMean()
        self.covar_module = gpytorch.kernels.ScaleKernel(kernel)

    def forward(self, x):
        return gpytorch.distributions.MultivariateNormal(self.mean_module(x), self.covar_module(x))


def hyperparameters(model, likelihood):
    """every kernel's constrained hyperparameters, by module name"""
    found = {"constant": out(model.mean_module.constant)}
    if hasattr(likelihood, "noise"):
        found["noise"] = out(likelihood.noise)[0]
    for name, module in model.covar_module.named_modules():
        for attr in ("outputscale", "lengthscale", "period_length", "variance"):
            is_kernel = isinstance(module, gpytorch.kernels.Kernel)
            value = getattr(module, attr, None) if is_kernel else None
            if isinstance(value, torch.Tensor):
                found[f"{name or 'scale'}.{attr}"] = value.reshape(-1)[0].item()
    return found


def train(model, likelihood, x, y, iterations, lr=0.1):
    model.train()
    likelihood.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    mll = gpytorch.mlls.ExactMarginalLogLikelihood(likelihood, model)
    losses = []
    for _ in range(iterations):
        optimizer.zero_grad()
        loss = -mll(model(x), y)
        loss.backward()
        losses.append(loss.item())
        optimizer.step()
    model.eval()
    likelihood.eval()
    return losses


def exact_run(kernel, iterations=20):
    likelihood = gpytorch.likelihoods.GaussianLikelihood()
    model = ExactGPModel(train_x, train_y, likelihood, kernel)
    losses = train(model, likelihood, train_x, train_y, iterations)
    with torch.no_grad(), gpytorch.settings.fast_pred_var():
        pred = likelihood(model(test_x))
        lower, upper = pred.confidence_region()
    return {"losses": losses, "hyper": hyperparameters(model, likelihood),
            "mean": out(pred.mean), "variance": out(pred.variance),
            "lower": out(lower), "upper": out(upper)}


report = {"train_x": out(train_x), "train_y": out(train_y), "test_x": out(test_x)}
with gpytorch.settings.max_cholesky_size(10000):
    report["rbf"] = exact_run(gpytorch.kernels.RBFKernel())
    report["matern"] = exact_run(gpytorch.kernels.MaternKernel(nu=2.5), iterations=10)
    report["periodic"] = exact_run(gpytorch.kernels.PeriodicKernel(), iterations=10)
with gpytorch.settings.max_cholesky_size(0):  # conjugate gradients and Lanczos
    report["rbf_cg"] = exact_run(gpytorch.kernels.RBFKernel(), iterations=10)

# Sum and product kernels; posterior samples, log-probabilities and a fantasy update.
kernel = (gpytorch.kernels.RBFKernel() * gpytorch.kernels.PeriodicKernel()
          + gpytorch.kernels.LinearKernel())
with gpytorch.settings.max_cholesky_size(10000):
    likelihood = gpytorch.likelihoods.GaussianLikelihood()
    model = ExactGPModel(train_x, train_y, likelihood, kernel)
    losses = train(model, likelihood, train_x, train_y, 5)
    with torch.no_grad():
        pred = likelihood(model(test_x))
        torch.manual_seed(1)
        samples = pred.rsample(torch.Size([3]))
        fantasy_x, fantasy_y = torch.tensor([0.5, 0.55]), torch.tensor([1.0, 0.9])
        fantasy = model.get_fantasy_model(fantasy_x, fantasy_y)
        fantasy_pred = fantasy(test_x)
report["composite"] = {
    "losses": losses, "hyper": hyperparameters(model, likelihood), "mean": out(pred.mean),
    "covariance": out(pred.covariance_matrix), "samples": out(samples),
    "log_prob": out(pred.log_prob(torch.zeros(7))), "fantasy_x": out(fantasy_x),
    "fantasy_y": out(fantasy_y), "fantasy_mean": out(fantasy_pred.mean),
    "fantasy_variance": out(fantasy_pred.variance)}


# A multitask GP: Kronecker-structured covariance (eigendecompositions of its factors).
class MultitaskGPModel(gpytorch.models.ExactGP):
    def __init__(self, train_x, train_y, likelihood):
        super().__init__(train_x, train_y, likelihood)
        self.mean_module = gpytorch.means.MultitaskMean(gpytorch.means.ConstantMean(),
                                                        num_tasks=2)
        self.covar_module = gpytorch.kernels.MultitaskKernel(gpytorch.kernels.RBFKernel(),
                                                             num_tasks=2, rank=1)

    def forward(self, x):
        return gpytorch.distributions.MultitaskMultivariateNormal(self.mean_module(x),
                                                                  self.covar_module(x))


multi_y = torch.stack([train_y, torch.cos(train_x * (2 * math.pi)) + 0.1 * torch.randn(12)], -1)
likelihood = gpytorch.likelihoods.MultitaskGaussianLikelihood(num_tasks=2)
model = MultitaskGPModel(train_x, multi_y, likelihood)
losses = train(model, likelihood, train_x, multi_y, 6)
with torch.no_grad(), gpytorch.settings.fast_pred_var():
    pred = model(test_x)
report["multitask"] = {
    "losses": losses, "train_y": out(multi_y), "mean": out(pred.mean),
    "variance": out(pred.variance), "noise": out(likelihood.noise),
    "task_noises": out(likelihood.task_noises),
    "constants": [out(m.constant) for m in model.mean_module.base_means],
    "lengthscale": out(model.covar_module.data_covar_module.lengthscale).pop()[0],
    "task_covar": out(model.covar_module.task_covar_module.covar_matrix.to_dense())}


class SVGPModel(gpytorch.models.ApproximateGP):
    def __init__(self, inducing_points):
        distribution = gpytorch.variational.CholeskyVariationalDistribution(inducing_points.size(0))
        strategy = gpytorch.variational.VariationalStrategy(
            self, inducing_points, distribution, learn_inducing_locations=True)
        super().__init__(strategy)
        self.mean_module = gpytorch.means.ConstantMean()
        self.covar_module = gpytorch.kernels.ScaleKernel(gpytorch.kernels.RBFKernel())

    def forward(self, x):
        return gpytorch.distributions.MultivariateNormal(self.mean_module(x), self.covar_module(x))


def variational_run(model, likelihood, y, steps):
    model.train()
    likelihood.train()
    optimizer = torch.optim.Adam([*model.parameters(), *likelihood.parameters()], lr=0.05)
    mll = gpytorch.mlls.VariationalELBO(likelihood, model, num_data=y.size(0))
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = -mll(model(train_x), y)
        loss.backward()
        losses.append(loss.item())
        optimizer.step()
    model.eval()
    likelihood.eval()
    distribution = model.variational_strategy._variational_distribution
    with torch.no_grad():
        latent = model(test_x)
        pred = likelihood(latent)
    return {"losses": losses, "hyper": hyperparameters(model, likelihood),
            "inducing": out(model.variational_strategy.inducing_points[:, 0]),
            "variational_mean": out(distribution.variational_mean),
            "chol_variational_covar": out(distribution.chol_variational_covar),
            "latent_mean": out(latent.mean), "latent_variance": out(latent.variance),
            "mean": out(pred.mean), "variance": out(pred.variance)}


likelihood = gpytorch.likelihoods.GaussianLikelihood()
report["svgp"] = variational_run(SVGPModel(train_x[::3].clone()), likelihood, train_y, 8)


# GP classification: a Bernoulli likelihood (Gauss-Hermite quadrature in the ELBO).
classes = (train_y > 0).to(torch.float64)
report["classification"] = variational_run(SVGPModel(train_x[::3].clone()),
                                           gpytorch.likelihoods.BernoulliLikelihood(), classes, 6)


# KISS-GP: a grid-interpolated kernel (Toeplitz algebra, sparse interpolation).
class KissGP(gpytorch.models.ExactGP):
    def __init__(self, x, y, likelihood):
        super().__init__(x, y, likelihood)
        self.mean_module = gpytorch.means.ConstantMean()
        self.covar_module = gpytorch.kernels.ScaleKernel(gpytorch.kernels.GridInterpolationKernel(
            gpytorch.kernels.RBFKernel(), grid_size=32, num_dims=1))

    def forward(self, x):
        return gpytorch.distributions.MultivariateNormal(self.mean_module(x), self.covar_module(x))


likelihood = gpytorch.likelihoods.GaussianLikelihood()
model = KissGP(train_x, train_y, likelihood)
losses = train(model, likelihood, train_x, train_y, 4)
with torch.no_grad():
    pred = likelihood(model(test_x))
report["kiss"] = {"losses": losses, "hyper": hyperparameters(model, likelihood),
                  "mean": out(pred.mean), "variance": out(pred.variance)}

# linear_operator's own algebra: jittered Cholesky, Kronecker and low-rank solves, logdets.
a = torch.randn(6, 6)
spd = a @ a.mT + 6 * torch.eye(6)
rhs = torch.randn(6, 2)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    jittered = psd_safe_cholesky(torch.ones(4, 4))
kron = operators.KroneckerProductLinearOperator(operators.DenseLinearOperator(spd[:3, :3]),
                                                operators.DenseLinearOperator(spd[3:, 3:]))
kron_rhs = torch.randn(9, 2)
root = torch.randn(6, 2)
diag = torch.rand(6) + 0.5
low_rank = operators.LowRankRootAddedDiagLinearOperator(
    operators.LowRankRootLinearOperator(root), operators.DiagLinearOperator(diag))
report["operators"] = {
    "spd": out(spd), "rhs": out(rhs), "kron_rhs": out(kron_rhs), "root": out(root),
    "diag": out(diag), "jittered": out(jittered), "jitter_warnings": len(caught),
    "kron_solve": out(kron.add_diagonal(torch.tensor(0.5)).solve(kron_rhs)),
    "kron_logdet": out(kron.add_diagonal(torch.tensor(0.5)).logdet()),
    "low_rank_solve": out(low_rank.solve(rhs)), "low_rank_logdet": out(low_rank.logdet()),
    "eigvals": out(operators.DenseLinearOperator(spd).eigh()[0])}
print(json.dumps(report))
''')

# the script's report, run under ``command_prefix`` (``-m ember.compat``: on ember)
run_script = functools.partial(script_report.run_script, SCRIPT, "gpytorch_script.py")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return run_script("-m", "ember.compat", tmp_path=tmp_path_factory.mktemp("gpytorch"))


def _distances(x1, x2) -> np.ndarray:
    return np.abs(np.asarray(x1)[:, None] - np.asarray(x2)[None, :])


def _kernel(name: str, hyper: dict, x1, x2) -> np.ndarray:
    """The scaled kernel of the script's run ``name`` in NumPy (GPyTorch's parametrizations:
    the periodic kernel divides by its lengthscale, not its square)."""
    d = _distances(x1, x2)
    if name in ("rbf", "rbf_cg", "svgp", "classification", "kiss"):
        lengthscale = hyper["base_kernel.lengthscale"] if name != "kiss" else \
            hyper["base_kernel.base_kernel.lengthscale"]
        base = np.exp(-0.5 * (d / lengthscale) ** 2)
    elif name == "matern":
        r = math.sqrt(5) * d / hyper["base_kernel.lengthscale"]
        base = (1 + r + r ** 2 / 3) * np.exp(-r)
    elif name == "periodic":
        base = np.exp(-2 * np.sin(math.pi * d / hyper["base_kernel.period_length"]) ** 2
                      / hyper["base_kernel.lengthscale"])
    else:  # composite: rbf * periodic + linear
        rbf = np.exp(-0.5 * (d / hyper["base_kernel.kernels.0.kernels.0.lengthscale"]) ** 2)
        periodic = np.exp(-2 * np.sin(
            math.pi * d / hyper["base_kernel.kernels.0.kernels.1.period_length"]) ** 2
            / hyper["base_kernel.kernels.0.kernels.1.lengthscale"])
        linear = hyper["base_kernel.kernels.1.variance"] * np.outer(x1, x2)
        base = rbf * periodic + linear
    return hyper["scale.outputscale"] * base


def _posterior(name, hyper, x, y, x_test, noise_on_test=True):
    """The exact GP posterior (mean, covariance) at ``x_test``, observations with the
    learned noise."""
    noise = hyper["noise"]
    k = _kernel(name, hyper, x, x) + noise * np.eye(len(x))
    k_star = _kernel(name, hyper, x_test, x)
    mean = hyper["constant"] + k_star @ np.linalg.solve(k, np.asarray(y) - hyper["constant"])
    covariance = _kernel(name, hyper, x_test, x_test) - k_star @ np.linalg.solve(k, k_star.T)
    return mean, covariance + (noise * np.eye(len(x_test)) if noise_on_test else 0)


def _negative_mll(name, hyper, x, y) -> float:
    """ExactMarginalLogLikelihood's loss: -log N(y; c, K + noise I) / n."""
    k = _kernel(name, hyper, x, x) + hyper["noise"] * np.eye(len(x))
    r = np.asarray(y) - hyper["constant"]
    logdet = np.linalg.slogdet(k)[1]
    return (0.5 * r @ np.linalg.solve(k, r) + 0.5 * logdet + 0.5 * len(x) * math.log(2 * math.pi)
            ) / len(x)


INITIAL = {"constant": 0.0, "noise": math.log(2) + 1e-4, "scale.outputscale": math.log(2),
           "base_kernel.lengthscale": math.log(2), "base_kernel.period_length": math.log(2)}


@pytest.mark.parametrize("name", ["rbf", "matern", "periodic", "rbf_cg"])
def test_exact_gp_posterior_matches_numpy(report, name):
    run = report[name]
    x, y, x_test = report["train_x"], report["train_y"], report["test_x"]
    mean, covariance = _posterior(name, run["hyper"], x, y, x_test)
    variance = np.diag(covariance)
    # Cholesky paths solve exactly; CG to its residual tolerance, Lanczos (LOVE) nearly so
    tol = 1e-6 if name == "rbf_cg" else 1e-8
    np.testing.assert_allclose(run["mean"], mean, rtol=tol, atol=tol)
    np.testing.assert_allclose(run["variance"], variance, rtol=1e-5 if name == "rbf_cg" else 1e-8)
    np.testing.assert_allclose(run["lower"], np.array(run["mean"]) - 2 * np.sqrt(run["variance"]))
    np.testing.assert_allclose(run["upper"], np.array(run["mean"]) + 2 * np.sqrt(run["variance"]))
    losses = run["losses"]
    if name != "rbf_cg":  # (CG's log-determinant is a stochastic estimate)
        assert math.isclose(losses[0], _negative_mll(name, INITIAL, x, y), rel_tol=1e-9)
        assert all(b < a for a, b in zip(losses, losses[1:]))
    else:
        assert math.isclose(losses[0], _negative_mll(name, INITIAL, x, y), rel_tol=0.1)
        assert losses[-1] < losses[0]


def test_composite_kernel_samples_log_prob_and_fantasy_match_numpy(report):
    run = report["composite"]
    x, y, x_test = report["train_x"], report["train_y"], report["test_x"]
    mean, covariance = _posterior("composite", run["hyper"], x, y, x_test)
    np.testing.assert_allclose(run["mean"], mean, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(run["covariance"], covariance, rtol=1e-6, atol=1e-9)
    samples = np.array(run["samples"])
    assert samples.shape == (3, 7) and np.isfinite(samples).all()
    assert np.abs(samples - mean).max() < 6 * np.sqrt(np.diag(covariance)).max()
    logdet = np.linalg.slogdet(covariance)[1]
    quadratic = mean @ np.linalg.solve(covariance, mean)
    expected = -0.5 * (quadratic + logdet + 7 * math.log(2 * math.pi))
    assert math.isclose(run["log_prob"], expected, rel_tol=1e-6)
    fantasy_mean, fantasy_covariance = _posterior(
        "composite", run["hyper"], x + run["fantasy_x"], y + run["fantasy_y"], x_test,
        noise_on_test=False)
    np.testing.assert_allclose(run["fantasy_mean"], fantasy_mean, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(run["fantasy_variance"], np.diag(fantasy_covariance), rtol=1e-5)


def test_multitask_posterior_matches_numpy(report):
    run = report["multitask"]
    x, x_test = np.array(report["train_x"]), np.array(report["test_x"])
    y = np.array(run["train_y"])  # (n, tasks), interleaved as index n * tasks + task
    task_covar = np.array(run["task_covar"])
    rbf = {"scale.outputscale": 1.0, "base_kernel.lengthscale": run["lengthscale"]}
    k = np.kron(_kernel("rbf", rbf, x, x), task_covar)
    k += np.diag(np.tile(run["task_noises"], len(x)) + run["noise"][0])
    k_star = np.kron(_kernel("rbf", rbf, x_test, x), task_covar)
    constants = np.array(run["constants"])
    mean = np.tile(constants, len(x_test)) + k_star @ np.linalg.solve(
        k, (y - constants).reshape(-1))
    variance = np.diag(np.kron(_kernel("rbf", rbf, x_test, x_test), task_covar)
                       - k_star @ np.linalg.solve(k, k_star.T))
    np.testing.assert_allclose(np.array(run["mean"]).reshape(-1), mean, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(np.array(run["variance"]).reshape(-1), variance, rtol=1e-4)
    assert np.allclose(task_covar, task_covar.T) and (np.linalg.eigvalsh(task_covar) > 0).all()
    assert run["losses"][-1] < run["losses"][0]


def _variational_latent(name, run, x_test):
    """The whitened variational strategy's q(f) at ``x_test``: K_xz L^-T m and
    K_xx + K_xz L^-T (S - I) L^-1 K_zx, with L the Cholesky factor of K_zz and GPyTorch's
    float64 jitter (1e-6) on both."""
    hyper, z = run["hyper"], run["inducing"]
    jitter = 1e-6
    chol = np.linalg.cholesky(_kernel(name, hyper, z, z) + jitter * np.eye(len(z)))
    interp = np.linalg.solve(chol, _kernel(name, hyper, z, x_test))
    m = np.array(run["variational_mean"])
    s_root = np.tril(np.array(run["chol_variational_covar"]))
    mean = hyper["constant"] + interp.T @ m
    middle = s_root @ s_root.T - np.eye(len(z))
    variance = np.diag(_kernel(name, hyper, x_test, x_test) + interp.T @ middle @ interp) + jitter
    return mean, variance


def test_variational_gps_match_numpy(report):
    x_test = report["test_x"]
    svgp = report["svgp"]
    mean, variance = _variational_latent("svgp", svgp, x_test)
    np.testing.assert_allclose(svgp["latent_mean"], mean, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(svgp["latent_variance"], variance, rtol=1e-7)
    np.testing.assert_allclose(svgp["variance"], variance + svgp["hyper"]["noise"], rtol=1e-7)
    assert all(b < a for a, b in zip(svgp["losses"], svgp["losses"][1:]))
    classifier = report["classification"]
    mean, variance = _variational_latent("classification", classifier, x_test)
    np.testing.assert_allclose(classifier["latent_mean"], mean, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(classifier["latent_variance"], variance, rtol=1e-7)
    # the Bernoulli (probit) marginal: Phi(mean / sqrt(1 + variance))
    np.testing.assert_allclose(classifier["mean"], ndtr(mean / np.sqrt(1 + variance)), rtol=1e-7)
    assert classifier["losses"][-1] < classifier["losses"][0]


def test_kiss_gp_approximates_the_exact_posterior(report):
    run = report["kiss"]
    mean, covariance = _posterior("kiss", run["hyper"], report["train_x"], report["train_y"],
                                  report["test_x"])
    # cubic interpolation on a 32-point grid: close to the exact kernel, not equal
    np.testing.assert_allclose(run["mean"], mean, atol=1e-4)
    np.testing.assert_allclose(run["variance"], np.diag(covariance), atol=1e-4)
    assert all(b < a for a, b in zip(run["losses"], run["losses"][1:]))


def test_linear_operators_match_numpy(report):
    ops = report["operators"]
    spd, rhs, kron_rhs = np.array(ops["spd"]), np.array(ops["rhs"]), np.array(ops["kron_rhs"])
    kron = np.kron(spd[:3, :3], spd[3:, 3:]) + 0.5 * np.eye(9)
    np.testing.assert_allclose(ops["kron_solve"], np.linalg.solve(kron, kron_rhs), rtol=1e-8)
    assert math.isclose(ops["kron_logdet"], np.linalg.slogdet(kron)[1], rel_tol=1e-9)
    root = np.array(ops["root"])
    low_rank = root @ root.T + np.diag(ops["diag"])
    np.testing.assert_allclose(ops["low_rank_solve"], np.linalg.solve(low_rank, rhs), rtol=1e-8)
    assert math.isclose(ops["low_rank_logdet"], np.linalg.slogdet(low_rank)[1], rel_tol=1e-9)
    np.testing.assert_allclose(ops["eigvals"], np.linalg.eigvalsh(spd), rtol=1e-10)
    # a singular matrix: one warning, the factor of ones + 1e-8 I
    jittered = np.array(ops["jittered"])
    assert ops["jitter_warnings"] == 1 and np.allclose(jittered, np.tril(jittered))
    np.testing.assert_allclose(jittered @ jittered.T, np.ones((4, 4)) + 1e-8 * np.eye(4),
                               atol=1e-12)
