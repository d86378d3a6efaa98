"""geoopt, torchcde, laplace-torch and sbi on ember, each where it is installed (none is a test
dependency: their packages require PyTorch; .ci/run installs them without dependencies, with
laplace-torch's curvature backends asdfghjkl, backpack-for-pytorch, unfoldNd, curvlinops-for-
pytorch and einconv, and sbi's nflows). Each library's README paths run on tiny problems with
``torch`` resolved to ember in a fresh interpreter, its values checked here against closed
forms, NumPy and SciPy:

- geoopt: RiemannianAdam on the (canonical) Stiefel manifold finds the top eigenvectors of a
  symmetric matrix, RiemannianSGD with Nesterov momentum on the Euclidean Stiefel manifold
  solves a Procrustes problem (the polar factor), the sphere's minimum of a quadratic form, the
  Poincare ball's maps and distance in closed form and a Frechet mean, the SPD manifold's
  affine-invariant distance, and a module holding a ManifoldParameter.
- torchcde: natural cubic, Hermite (backward differences) and linear interpolation against
  SciPy's splines and NumPy's ``interp`` (missing values filled), a neural CDE's gradients by
  backpropagation through rk4 and by the adjoint method, and two CDEs with closed-form
  solutions (dz = A dX, dz = z dX).
- laplace-torch: full, diagonal and Kronecker-factored GGN Laplace on a tiny regression MLP,
  checked against the network's Jacobians in NumPy (the GGN, the posterior precision, the GLM
  predictive variance, the marginal likelihood and its maximisation), the predictive variance
  shrinking with more data, and a last-layer Laplace classifier's probit and MC predictives.
- sbi: NPE with a MAF and a mixture density network on x = theta + noise, whose posterior is
  close to N(x_o, 0.1^2 I).

tests/conformance/test_thirdparty_s20_scientific_vs_torch.py compares every number with real
PyTorch's."""
from __future__ import annotations

import functools
import math
import textwrap

import numpy as np
import pytest

from tests.acceptance import script_report

GEOOPT_SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import copy
    import json
    import torch
    import geoopt

    torch.set_num_threads(1)
    torch.manual_seed(0)
    f64 = torch.float64
    report = {}

    # Stiefel (canonical metric): the top-2 eigenvectors of a symmetric A maximise tr(X^T A X)
    A = torch.randn(5, 5, dtype=f64)
    A = A + A.T
    stiefel = geoopt.Stiefel()
    start = stiefel.random(5, 2, dtype=f64)
    X = geoopt.ManifoldParameter(start.clone(), manifold=stiefel)
    optimizer = geoopt.optim.RiemannianAdam([X], lr=0.05)
    for _ in range(150):
        optimizer.zero_grad()
        loss = -torch.trace(X.T @ A @ X)
        loss.backward()
        optimizer.step()
    U = stiefel.proju(X, torch.randn(5, 2, dtype=f64))
    report["stiefel"] = {"A": out(A), "start": out(start), "X": out(X), "loss": loss.item(),
                         "tangent": out(U), "retr": out(stiefel.retr(X, 0.3 * U)),
                         "on_manifold": bool(stiefel.check_point_on_manifold(X)),
                         "is_tangent": bool(stiefel.check_vector_on_tangent(X, U)),
                         "adam_state": sorted(optimizer.state_dict()["state"][0])}

    # the Euclidean-metric Stiefel manifold, RiemannianSGD with Nesterov momentum: the
    # Procrustes problem min ||Y - M||, solved by M's polar factor
    M = torch.randn(4, 3, dtype=f64)
    euclidean_stiefel = geoopt.EuclideanStiefel()
    Y = geoopt.ManifoldParameter(euclidean_stiefel.random(4, 3, dtype=f64),
                                 manifold=euclidean_stiefel)
    optimizer = geoopt.optim.RiemannianSGD([Y], lr=0.1, momentum=0.5, nesterov=True)
    for _ in range(150):
        optimizer.zero_grad()
        loss = (Y - M).pow(2).sum()
        loss.backward()
        optimizer.step()
    report["procrustes"] = {"M": out(M), "Y": out(Y), "loss": loss.item()}

    # the unit sphere: v^T B v is smallest at the eigenvector of B's smallest eigenvalue
    sphere = geoopt.Sphere()
    v = geoopt.ManifoldParameter(sphere.projx(torch.ones(4, dtype=f64)), manifold=sphere)
    B = torch.diag(torch.tensor([3.0, 1.0, -2.0, 0.5], dtype=f64))
    optimizer = geoopt.optim.RiemannianSGD([v], lr=0.1, momentum=0.5)
    for _ in range(100):
        optimizer.zero_grad()
        loss = v @ B @ v
        loss.backward()
        optimizer.step()
    report["sphere"] = {"v": out(v), "loss": loss.item()}

    # the Poincare ball of curvature -1: its maps and distance, and the Frechet mean of three
    # points (where the logarithms towards them sum to zero)
    ball = geoopt.PoincareBall(c=1.0)
    u = torch.tensor([[0.3, -0.2], [-0.1, 0.5], [0.7, 0.4]], dtype=f64)
    points = ball.expmap0(u)
    x, y = points[0], points[1]
    report["ball"] = {"u": out(u), "expmap0": out(points), "logmap0": out(ball.logmap0(points)),
                      "mobius_add": out(ball.mobius_add(x, y)), "dist": ball.dist(x, y).item(),
                      "dist0": out(ball.dist0(points)),
                      "expmap_logmap": out(ball.expmap(x, ball.logmap(x, y)))}
    p = geoopt.ManifoldParameter(ball.expmap0(torch.tensor([0.5, 0.5], dtype=f64)),
                                 manifold=ball)
    optimizer = geoopt.optim.RiemannianSGD([p], lr=0.05)
    for _ in range(40):
        optimizer.zero_grad()
        loss = ball.dist(p, points).pow(2).sum()
        loss.backward()
        optimizer.step()
    report["ball"]["frechet"] = {"p": out(p), "loss": loss.item(),
                                 "logmap_sum": out(ball.logmap(p.detach(), points).sum(0))}

    # symmetric positive definite matrices, affine-invariant metric
    spd = geoopt.SymmetricPositiveDefinite()
    P = torch.diag(torch.tensor([1.0, 2.0, 4.0], dtype=f64))
    Q = torch.diag(torch.tensor([2.0, 2.0, 0.5], dtype=f64))
    report["spd"] = {"dist": spd.dist(P, Q).item(),
                     "expmap_logmap": out(spd.expmap(P, spd.logmap(P, Q)))}

    # a module holding a manifold parameter: registration, state_dict, deepcopy
    class Embedding(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = geoopt.ManifoldParameter(
                ball.expmap0(0.1 * torch.randn(3, 2, dtype=f64)), manifold=ball)

    module = Embedding()
    clone = copy.deepcopy(module)
    report["module"] = {"names": [name for name, _ in module.named_parameters()],
                        "is_parameter": isinstance(module.weight, torch.nn.Parameter),
                        "manifold": type(clone.weight.manifold).__name__,
                        "clone_equal": bool(torch.equal(clone.weight, module.weight)),
                        "weight": out(module.weight)}
    print(json.dumps(report))
''')

TORCHCDE_SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import json
    import torch
    import torchcde

    torch.set_num_threads(1)
    torch.manual_seed(0)
    f64 = torch.float64
    report = {}

    # a (batch 2, length 7, channels 3) path on uneven times, and a copy with a missing value
    t = torch.tensor([0.0, 0.3, 0.5, 1.0, 1.2, 1.7, 2.0], dtype=f64)
    x = torch.randn(2, 7, 3, dtype=f64)
    x_gap = x.clone()
    x_gap[0, 3, 1] = float("nan")
    queries = torch.tensor([0.1, 0.45, 0.77, 1.5, 1.99], dtype=f64)
    kinds = {"natural": (torchcde.natural_cubic_coeffs, torchcde.CubicSpline),
             "hermite": (torchcde.hermite_cubic_coefficients_with_backward_differences,
                         torchcde.CubicSpline),
             "linear": (torchcde.linear_interpolation_coeffs, torchcde.LinearInterpolation)}
    report["t"], report["x"], report["queries"] = out(t), out(x), out(queries)
    for name, (coefficients, interpolation) in kinds.items():
        path = interpolation(coefficients(x, t=t), t=t)
        gap_path = interpolation(coefficients(x_gap, t=t), t=t)
        report[name] = {
            "at_knots": out(torch.stack([path.evaluate(s) for s in t], 1)),
            "at_queries": out(torch.stack([path.evaluate(s) for s in queries], 1)),
            "derivative": out(torch.stack([path.derivative(s) for s in queries], 1)),
            "gap_filled": out(gap_path.evaluate(t[3])[0]),
            "interval": out(path.interval), "grid_points": out(path.grid_points)}

    class VectorField(torch.nn.Module):
        """f(z), a (hidden x channels) matrix: dz = f(z) dX"""
        def __init__(self, hidden: int, channels: int):
            super().__init__()
            self.linear = torch.nn.Linear(hidden, hidden * channels)
            self.hidden, self.channels = hidden, channels

        def forward(self, t, z):
            return torch.tanh(self.linear(z)).view(*z.shape[:-1], self.hidden, self.channels)

    # a neural CDE's gradients (in the data and the weights) by backpropagation through rk4
    # and by the adjoint method
    func = VectorField(2, 3).double()
    z0 = torch.tensor([[0.1, -0.2], [0.3, 0.0]], dtype=f64)
    report["cde"] = {"weights": out(dict(func.state_dict())), "z0": out(z0)}
    for adjoint in (False, True):
        func.zero_grad()
        data = x.clone().requires_grad_(True)
        coeffs = torchcde.hermite_cubic_coefficients_with_backward_differences(data, t=t)
        path = torchcde.CubicSpline(coeffs, t=t)
        kwargs = {"adjoint_params": tuple(func.parameters()) + (coeffs,)} if adjoint else {}
        z = torchcde.cdeint(X=path, func=func, z0=z0, t=t, adjoint=adjoint, method="rk4",
                            options={"step_size": 0.05}, **kwargs)
        loss = z[:, -1].pow(2).sum() + z[:, 3, 0].sum()
        loss.backward()
        report["cde"]["adjoint" if adjoint else "backprop"] = {
            "z": out(z), "loss": loss.item(), "grad_x": out(data.grad),
            "grad_weight": out(func.linear.weight.grad)}

    # closed forms: dz = A dX gives z(t) = z0 + A (X(t) - X(t0)) (midpoint steps are exact for
    # a piecewise-linear X whose knots are on the step grid); dz = z dX_0 gives
    # z(t) = z0 exp(X_0(t) - X_0(t0)), dopri5 told the knots as jump times
    A = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.2, -0.3]], dtype=f64)
    linear_path = torchcde.LinearInterpolation(torchcde.linear_interpolation_coeffs(x, t=t), t=t)
    z = torchcde.cdeint(X=linear_path, func=lambda t, z: A.expand(*z.shape[:-1], 2, 3), z0=z0,
                        t=t, adjoint=False, method="midpoint", options={"step_size": 0.1})

    def exponential_field(t, w):
        return torch.cat([w.unsqueeze(-1), torch.zeros(*w.shape, 2, dtype=f64)], -1)

    spline = torchcde.CubicSpline(torchcde.natural_cubic_coeffs(x, t=t), t=t)
    w = torchcde.cdeint(X=spline, func=exponential_field, z0=torch.ones(2, 1, dtype=f64), t=t,
                        adjoint=False, method="dopri5", rtol=1e-10, atol=1e-12,
                        options={"jump_t": t})
    report["closed_form"] = {"A": out(A), "linear": out(z), "exponential": out(w)}
    print(json.dumps(report))
''')

LAPLACE_SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import json
    import torch
    from torch.utils.data import DataLoader, TensorDataset
    from laplace import Laplace

    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)
    report = {}

    def data(n):
        inputs = torch.linspace(-2, 2, n).unsqueeze(-1)
        return inputs, torch.sin(2 * inputs) + 0.1 * torch.randn_like(inputs)

    X, y = data(16)
    model = torch.nn.Sequential(torch.nn.Linear(1, 6), torch.nn.Tanh(), torch.nn.Linear(6, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(150):
        optimizer.zero_grad()
        loss = ((model(X) - y) ** 2).mean()
        loss.backward()
        optimizer.step()
    report["train"] = {"loss": loss.item(), "X": out(X), "y": out(y),
                       "weights": out(dict(model.state_dict()))}
    X_test = torch.tensor([[-1.0], [0.0], [3.0]])
    report["X_test"] = out(X_test)
    loader = DataLoader(TensorDataset(X, y), batch_size=8)
    for structure in ["full", "diag", "kron"]:
        la = Laplace(model, "regression", subset_of_weights="all", hessian_structure=structure,
                     sigma_noise=0.2, prior_precision=1.0)
        la.fit(loader)
        before = la.log_marginal_likelihood().item()
        la.optimize_prior_precision(method="marglik", n_steps=100, lr=0.1)
        mean, var = la(X_test, pred_type="glm")
        as_matrix = (lambda m: m.to_matrix()) if structure == "kron" else (lambda m: m)
        report[structure] = {"H": out(as_matrix(la.H)),
                             "posterior_precision": out(as_matrix(la.posterior_precision)),
                             "prior_precision": out(la.prior_precision),
                             "log_marglik": [before, la.log_marginal_likelihood().item()],
                             "mean": out(mean), "var": out(var), "n_data": la.n_data}

    # more data at the same prior: the posterior tightens, the predictive variance shrinks
    variances = []
    for inputs, targets in ((X, y), data(64)):
        la = Laplace(model, "regression", subset_of_weights="all", hessian_structure="full",
                     sigma_noise=0.2, prior_precision=1.0)
        la.fit(DataLoader(TensorDataset(inputs, targets), batch_size=16))
        variances.append(out(la(X_test, pred_type="glm")[1].flatten()))
    report["more_data_var"] = variances

    # last-layer Laplace (the library's default) of a 3-class classifier
    torch.manual_seed(1)
    inputs = torch.randn(30, 2)
    labels = (inputs[:, 0] > 0).long() + (inputs[:, 1] > 0.5).long()
    classifier = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(),
                                     torch.nn.Linear(8, 3))
    optimizer = torch.optim.Adam(classifier.parameters(), lr=0.05)
    for _ in range(100):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(classifier(inputs), labels)
        loss.backward()
        optimizer.step()
    la = Laplace(classifier, "classification")
    la.fit(DataLoader(TensorDataset(inputs, labels), batch_size=10))
    la.optimize_prior_precision(method="marglik", n_steps=20)
    probit = la(inputs[:4], pred_type="glm", link_approx="probit")
    torch.manual_seed(2)
    sampled = la(inputs[:4], pred_type="glm", link_approx="mc", n_samples=50)
    report["classification"] = {
        "loss": loss.item(), "prior_precision": out(la.prior_precision),
        "map_probs": out(torch.softmax(classifier(inputs[:4]), -1)), "probit": out(probit),
        "mc": out(sampled), "log_marglik": la.log_marginal_likelihood().item(),
        "n_params": la.n_params}
    print(json.dumps(report))
''')

SBI_SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import json
    import os
    import torch
    from sbi.inference import NPE
    from sbi.utils import BoxUniform

    os.chdir(os.path.dirname(os.path.abspath(__file__)))  # sbi logs training to ./sbi-logs
    torch.set_num_threads(1)
    torch.manual_seed(0)
    report = {}
    # x = theta + N(0, 0.1^2) under a uniform prior on [-2, 2]^2: at x_o, well inside the box,
    # the posterior is close to N(x_o, 0.1^2 I)
    prior = BoxUniform(low=-2 * torch.ones(2), high=2 * torch.ones(2))

    def simulator(theta):
        return theta + 0.1 * torch.randn_like(theta)

    theta = prior.sample((400,))
    x = simulator(theta)
    x_o = torch.tensor([0.5, -0.5])
    report["prior"] = {"log_prob": out(prior.log_prob(torch.tensor([[0.0, 0.0], [3.0, 0.0]]))),
                       "theta_head": out(theta[:3])}
    grid = torch.tensor([[0.5, -0.5], [0.6, -0.5], [0.5, -0.3], [1.5, 1.5]])
    for estimator in ["maf", "mdn"]:
        torch.manual_seed(1)
        inference = NPE(prior=prior, density_estimator=estimator, show_progress_bars=False)
        inference.append_simulations(theta, x)
        density_estimator = inference.train(max_num_epochs=25, training_batch_size=50,
                                            show_train_summary=False)
        posterior = inference.build_posterior(density_estimator)
        samples = posterior.sample((300,), x=x_o, show_progress_bars=False)
        report[estimator] = {
            "epochs": inference.epoch,
            "validation_loss": inference._summary["best_validation_loss"][-1],
            "samples_head": out(samples[:3]), "mean": out(samples.mean(0)),
            "std": out(samples.std(0)), "inside_prior": bool((samples.abs() < 2).all()),
            "log_prob": out(posterior.log_prob(grid, x=x_o)),
            "map": out(posterior.set_default_x(x_o).map(num_iter=20, num_init_samples=50,
                                                        show_progress_bars=False))}
    print(json.dumps(report))
''')

# library (its import name) -> its acceptance script
SCRIPTS = {"geoopt": GEOOPT_SCRIPT, "torchcde": TORCHCDE_SCRIPT, "laplace": LAPLACE_SCRIPT,
           "sbi": SBI_SCRIPT}


run_script = functools.partial(script_report.run_library_script, SCRIPTS)


def _report(library: str, tmp_path_factory) -> dict:
    return run_script(library, "-m", "ember.compat", tmp_path=tmp_path_factory.mktemp(library))


@pytest.fixture(scope="module")
def geoopt_report(tmp_path_factory):
    return _report("geoopt", tmp_path_factory)


@pytest.fixture(scope="module")
def torchcde_report(tmp_path_factory):
    return _report("torchcde", tmp_path_factory)


@pytest.fixture(scope="module")
def laplace_report(tmp_path_factory):
    return _report("laplace", tmp_path_factory)


@pytest.fixture(scope="module")
def sbi_report(tmp_path_factory):
    return _report("sbi", tmp_path_factory)


# ---------------------------------------------------------------------------------------------
# geoopt

def test_geoopt_stiefel_adam_finds_the_top_eigenspace(geoopt_report):
    report = geoopt_report["stiefel"]
    A, X, start = (np.array(report[k]) for k in ("A", "X", "start"))
    eigenvalues, eigenvectors = np.linalg.eigh(A)
    np.testing.assert_allclose(start.T @ start, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(X.T @ X, np.eye(2), atol=1e-10)
    assert math.isclose(report["loss"], -eigenvalues[-2:].sum(), rel_tol=1e-5)
    top = eigenvectors[:, -2:]
    np.testing.assert_allclose(X @ X.T, top @ top.T, atol=2e-3)  # the same subspace
    U, retracted = np.array(report["tangent"]), np.array(report["retr"])
    np.testing.assert_allclose(X.T @ U + U.T @ X, 0, atol=1e-12)  # a tangent vector at X
    np.testing.assert_allclose(retracted.T @ retracted, np.eye(2), atol=1e-12)
    assert report["on_manifold"] and report["is_tangent"]
    assert report["adam_state"] == ["exp_avg", "exp_avg_sq", "step"]


def test_geoopt_procrustes_and_sphere_minima(geoopt_report):
    procrustes = geoopt_report["procrustes"]
    M, Y = np.array(procrustes["M"]), np.array(procrustes["Y"])
    left, singular, right = np.linalg.svd(M, full_matrices=False)
    np.testing.assert_allclose(Y, left @ right, atol=1e-8)
    assert math.isclose(procrustes["loss"], (M ** 2).sum() + 3 - 2 * singular.sum(),
                        rel_tol=1e-10)
    sphere = geoopt_report["sphere"]
    np.testing.assert_allclose(np.abs(sphere["v"]), [0, 0, 1, 0], atol=1e-8)
    assert math.isclose(sphere["loss"], -2.0, rel_tol=1e-12)


def _mobius_add(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    xy, x2, y2 = x @ y, x @ x, y @ y
    return ((1 + 2 * xy + y2) * x + (1 - x2) * y) / (1 + 2 * xy + x2 * y2)


def test_geoopt_poincare_ball_closed_forms(geoopt_report):
    report = geoopt_report["ball"]
    u = np.array(report["u"])
    norms = np.linalg.norm(u, axis=1, keepdims=True)
    points = np.tanh(norms) * u / norms
    np.testing.assert_allclose(report["expmap0"], points, atol=1e-15)
    np.testing.assert_allclose(report["logmap0"], u, atol=1e-14)
    np.testing.assert_allclose(report["dist0"], 2 * norms[:, 0], rtol=1e-13)
    x, y = points[0], points[1]
    np.testing.assert_allclose(report["mobius_add"], _mobius_add(x, y), atol=1e-15)
    expected = np.arccosh(1 + 2 * ((x - y) ** 2).sum() / ((1 - x @ x) * (1 - y @ y)))
    assert math.isclose(report["dist"], expected, rel_tol=1e-12)
    np.testing.assert_allclose(report["expmap_logmap"], y, atol=1e-14)
    frechet = report["frechet"]
    np.testing.assert_allclose(frechet["logmap_sum"], 0, atol=1e-6)
    p = np.array(frechet["p"])
    distances = [np.arccosh(1 + 2 * ((p - q) ** 2).sum() / ((1 - p @ p) * (1 - q @ q)))
                 for q in points]
    assert math.isclose(frechet["loss"], sum(d ** 2 for d in distances), rel_tol=1e-10)


def test_geoopt_spd_distance_and_module(geoopt_report):
    spd = geoopt_report["spd"]
    assert math.isclose(spd["dist"], np.linalg.norm(np.log([2.0, 1.0, 0.125])), rel_tol=1e-12)
    np.testing.assert_allclose(spd["expmap_logmap"], np.diag([2.0, 2.0, 0.5]), atol=1e-12)
    module = geoopt_report["module"]
    assert module["names"] == ["weight"] and module["is_parameter"]
    assert module["manifold"] == "PoincareBall" and module["clone_equal"]
    assert np.linalg.norm(module["weight"], axis=1).max() < 1


# ---------------------------------------------------------------------------------------------
# torchcde

def test_torchcde_interpolations_match_scipy_and_numpy(torchcde_report):
    interpolate = pytest.importorskip("scipy.interpolate")
    report = torchcde_report
    t, x, queries = (np.array(report[k]) for k in ("t", "x", "queries"))
    for kind in ("natural", "hermite", "linear"):
        np.testing.assert_allclose(report[kind]["at_knots"], x, atol=1e-13)
        np.testing.assert_allclose(report[kind]["interval"], [t[0], t[-1]])
        np.testing.assert_allclose(report[kind]["grid_points"], t)
    natural = interpolate.CubicSpline(t, x, axis=1, bc_type="natural")
    np.testing.assert_allclose(report["natural"]["at_queries"], natural(queries), atol=1e-13)
    np.testing.assert_allclose(report["natural"]["derivative"], natural(queries, 1), atol=1e-12)
    # Hermite cubics with each knot's derivative its backward difference (the first: forward)
    slopes = np.diff(x, axis=1) / np.diff(t)[:, None]
    hermite = interpolate.CubicHermiteSpline(t, x, np.concatenate([slopes[:, :1], slopes], 1),
                                             axis=1)
    np.testing.assert_allclose(report["hermite"]["at_queries"], hermite(queries), atol=1e-13)
    np.testing.assert_allclose(report["hermite"]["derivative"], hermite(queries, 1), atol=1e-12)
    linear = np.stack([np.interp(queries, t, x[b, :, c]) for b in range(2) for c in range(3)], -1)
    np.testing.assert_allclose(report["linear"]["at_queries"],
                               linear.reshape(len(queries), 2, 3).transpose(1, 0, 2), atol=1e-14)
    segment = np.searchsorted(t, queries) - 1
    np.testing.assert_allclose(report["linear"]["derivative"], slopes[:, segment], atol=1e-13)
    # the missing x[0, 3, 1] is filled as if that observation were not there
    known_t, known_x = np.delete(t, 3), np.delete(x[0, :, 1], 3)
    filled = np.interp(t[3], known_t, known_x)
    assert math.isclose(report["linear"]["gap_filled"][1], filled, rel_tol=1e-13)
    assert math.isclose(report["hermite"]["gap_filled"][1], filled, rel_tol=1e-13)
    natural_without = interpolate.CubicSpline(known_t, known_x, bc_type="natural")
    assert math.isclose(report["natural"]["gap_filled"][1], natural_without(t[3]),
                        rel_tol=1e-12)
    for kind in ("natural", "hermite", "linear"):  # the other channels are observed there
        np.testing.assert_allclose(np.array(report[kind]["gap_filled"])[[0, 2]], x[0, 3, [0, 2]],
                                   atol=1e-13)


def test_torchcde_adjoint_gradients_agree_with_backpropagation(torchcde_report):
    report = torchcde_report["cde"]
    backprop, adjoint = report["backprop"], report["adjoint"]
    np.testing.assert_allclose(adjoint["z"], backprop["z"], atol=1e-14)
    assert math.isclose(adjoint["loss"], backprop["loss"], rel_tol=1e-14)
    z = np.array(backprop["z"])
    assert math.isclose(backprop["loss"], (z[:, -1] ** 2).sum() + z[:, 3, 0].sum(),
                        rel_tol=1e-13)
    np.testing.assert_allclose(z[:, 0], report["z0"], atol=1e-15)
    # the adjoint solves its own rk4 problem backwards: the two agree to its truncation error
    for name in ("grad_x", "grad_weight"):
        exact = np.array(backprop[name])
        assert np.abs(exact).max() > 1
        np.testing.assert_allclose(adjoint[name], exact, atol=1e-3 * np.abs(exact).max())


def test_torchcde_closed_form_solutions(torchcde_report):
    report = torchcde_report
    x, z0 = np.array(report["x"]), np.array(report["cde"]["z0"])
    A = np.array(report["closed_form"]["A"])
    np.testing.assert_allclose(report["closed_form"]["linear"],
                               z0[:, None] + (x - x[:, :1]) @ A.T, atol=1e-13)
    np.testing.assert_allclose(np.array(report["closed_form"]["exponential"])[..., 0],
                               np.exp(x[..., 0] - x[:, :1, 0]), rtol=1e-8)


# ---------------------------------------------------------------------------------------------
# laplace-torch

SIGMA = 0.2  # the scripts' observation noise


def _mlp_jacobian(weights: dict, inputs) -> tuple[np.ndarray, np.ndarray]:
    """(J, f): the 1-6-1 tanh MLP's outputs and their Jacobian in its parameters, flattened
    in ``parameters()`` order (0.weight, 0.bias, 2.weight, 2.bias)."""
    w0, b0 = np.array(weights["0.weight"])[:, 0], np.array(weights["0.bias"])
    w2, b2 = np.array(weights["2.weight"])[0], np.array(weights["2.bias"])
    x = np.array(inputs)[:, 0]
    hidden = np.tanh(np.outer(x, w0) + b0)
    back = w2 * (1 - hidden ** 2)
    jacobian = np.hstack([back * x[:, None], back, hidden, np.ones((len(x), 1))])
    return jacobian, hidden @ w2 + b2


def _log_marginal_likelihood(report, ggn: np.ndarray, prior_precision: float) -> float:
    """The Laplace evidence with a full GGN and an isotropic Gaussian prior around zero."""
    train = report["train"]
    jacobian, f = _mlp_jacobian(train["weights"], train["X"])
    y = np.array(train["y"])[:, 0]
    theta = np.concatenate([np.ravel(w) for w in train["weights"].values()])
    log_likelihood = (-0.5 * ((f - y) ** 2).sum() / SIGMA ** 2
                      - len(y) * math.log(SIGMA * math.sqrt(2 * math.pi)))
    posterior_precision = ggn / SIGMA ** 2 + prior_precision * np.eye(len(theta))
    log_det_ratio = (np.linalg.slogdet(posterior_precision)[1]
                     - len(theta) * math.log(prior_precision))
    return log_likelihood - 0.5 * (log_det_ratio + prior_precision * theta @ theta)


def test_laplace_full_ggn_predictive_and_marginal_likelihood(laplace_report):
    report = laplace_report
    train, full = report["train"], report["full"]
    jacobian, _ = _mlp_jacobian(train["weights"], train["X"])
    ggn = jacobian.T @ jacobian  # MSE's Gauss-Newton matrix (the loss Hessian is 2, halved)
    np.testing.assert_allclose(full["H"], ggn, rtol=1e-10, atol=1e-10)
    (prior_precision,) = full["prior_precision"]
    posterior_precision = ggn / SIGMA ** 2 + prior_precision * np.eye(len(ggn))
    np.testing.assert_allclose(full["posterior_precision"], posterior_precision, rtol=1e-10)
    test_jacobian, test_mean = _mlp_jacobian(train["weights"], report["X_test"])
    np.testing.assert_allclose(np.ravel(full["mean"]), test_mean, rtol=1e-12)
    variance = np.einsum("ij,jk,ik->i", test_jacobian, np.linalg.inv(posterior_precision),
                         test_jacobian)
    np.testing.assert_allclose(np.ravel(full["var"]), variance, rtol=1e-9)
    assert (variance > 0).all()
    before, after = full["log_marglik"]
    assert math.isclose(before, _log_marginal_likelihood(report, ggn, 1.0), rel_tol=1e-10)
    assert math.isclose(after, _log_marginal_likelihood(report, ggn, prior_precision),
                        rel_tol=1e-10)
    # the optimised prior precision (near-)maximises the evidence
    assert after > before
    for factor in (1.2, 1 / 1.2):
        assert after > _log_marginal_likelihood(report, ggn, prior_precision * factor)


def test_laplace_diagonal_and_kronecker_ggn(laplace_report):
    report = laplace_report
    train = report["train"]
    jacobian, _ = _mlp_jacobian(train["weights"], train["X"])
    ggn = jacobian.T @ jacobian
    diag = report["diag"]
    np.testing.assert_allclose(diag["H"], np.diag(ggn), rtol=1e-10)
    np.testing.assert_allclose(diag["posterior_precision"],
                               np.diag(ggn) / SIGMA ** 2 + diag["prior_precision"][0],
                               rtol=1e-10)
    # K-FAC: one block per weight and per bias, a Kronecker product of the summed output
    # gradients' outer products with the inputs' mean outer product (exact for the last layer's
    # weight, whose output gradient is 1)
    kron = np.array(report["kron"]["H"])
    x = np.array(train["X"])[:, 0]
    w0, b0 = np.array(train["weights"]["0.weight"])[:, 0], np.array(train["weights"]["0.bias"])
    w2 = np.array(train["weights"]["2.weight"])[0]
    hidden = np.tanh(np.outer(x, w0) + b0)
    gradients = w2 * (1 - hidden ** 2)
    output_factor = gradients.T @ gradients
    blocks = [output_factor * (x @ x) / len(x), output_factor, hidden.T @ hidden,
              np.array([[len(x)]])]
    expected = np.zeros_like(kron)
    start = 0
    for block in blocks:
        size = len(block)
        expected[start:start + size, start:start + size] = block
        start += size
    np.testing.assert_allclose(kron, expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(kron[12:18, 12:18], ggn[12:18, 12:18], rtol=1e-10)
    for structure in ("full", "diag", "kron"):
        result = report[structure]
        assert result["n_data"] == 16
        assert (np.array(result["var"]) > 0).all()
        before, after = result["log_marglik"]
        assert after > before
        np.testing.assert_allclose(result["mean"], report["full"]["mean"], rtol=1e-12)


def test_laplace_predictive_variance_shrinks_with_more_data(laplace_report):
    few, many = (np.array(v) for v in laplace_report["more_data_var"])
    assert (few > 0).all() and (many > 0).all() and (many < few).all()
    np.testing.assert_allclose(few, np.ravel(_prior_one_variances(laplace_report)), rtol=1e-9)


def _prior_one_variances(report) -> np.ndarray:
    """The full GLM predictive variances at prior precision 1 on the 16 training points."""
    train = report["train"]
    jacobian, _ = _mlp_jacobian(train["weights"], train["X"])
    test_jacobian, _ = _mlp_jacobian(train["weights"], report["X_test"])
    covariance = np.linalg.inv(jacobian.T @ jacobian / SIGMA ** 2 + np.eye(jacobian.shape[1]))
    return np.einsum("ij,jk,ik->i", test_jacobian, covariance, test_jacobian)


def test_laplace_last_layer_classification(laplace_report):
    report = laplace_report["classification"]
    assert report["n_params"] == 8 * 3 + 3  # the last layer's weight and bias
    map_probs, probit, sampled = (np.array(report[k]) for k in ("map_probs", "probit", "mc"))
    for probs in (probit, sampled):
        np.testing.assert_allclose(probs.sum(-1), 1, rtol=1e-12)
        assert (probs > 0).all()
        np.testing.assert_array_equal(probs.argmax(-1), map_probs.argmax(-1))
    # the weight uncertainty tempers the MAP's overconfidence
    assert (probit.max(-1) < map_probs.max(-1)).all()
    assert report["prior_precision"][0] > 0 and np.isfinite(report["log_marglik"])


# ---------------------------------------------------------------------------------------------
# sbi

def test_sbi_npe_posteriors_approach_the_true_posterior(sbi_report):
    report = sbi_report
    np.testing.assert_allclose(report["prior"]["log_prob"], [-math.log(16), -math.inf])
    x_o = np.array([0.5, -0.5])
    true_log_density = -math.log(2 * math.pi * 0.1 ** 2)
    for estimator, (mean_tol, std_range) in {"maf": (0.06, (0.07, 0.2)),
                                             "mdn": (0.1, (0.1, 0.4))}.items():
        result = report[estimator]
        assert result["epochs"] > 0 and result["inside_prior"]
        np.testing.assert_allclose(result["mean"], x_o, atol=mean_tol)
        assert all(std_range[0] < s < std_range[1] for s in result["std"])
        np.testing.assert_allclose(result["map"][0], x_o, atol=mean_tol)
        at_x_o, near, nearby, far = result["log_prob"]
        assert at_x_o > nearby > far and near > far + 5
        assert at_x_o < true_log_density + 0.5  # a broader fit than the true posterior
        assert np.abs(result["samples_head"]).max() < 2
    # the flow fits the Gaussian posterior better than the mixture after as many epochs
    assert report["maf"]["validation_loss"] < report["mdn"]["validation_loss"]
    assert report["maf"]["log_prob"][0] > true_log_density - 0.5
