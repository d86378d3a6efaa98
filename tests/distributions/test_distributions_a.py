"""ember.distributions: location-scale and transformed families, transforms, biject_to and KL,
against SciPy and closed forms (the torch comparison is tests/conformance/)."""
import math

import numpy as np
import pytest
from scipy import stats

import ember
import ember.distributions as D
from ember.distributions import constraints

X = np.array([0.3, 1.2, 2.5])


def _t(a):
    return ember.tensor(np.asarray(a, dtype=np.float64))


SCIPY_CASES = [
    (lambda: D.Laplace(_t([0.1, -0.2, 1.0]), _t([1.0, 2.0, 0.5])),
     stats.laplace(loc=[0.1, -0.2, 1.0], scale=[1.0, 2.0, 0.5])),
    (lambda: D.Cauchy(_t([0.1, -0.2, 1.0]), _t([1.0, 2.0, 0.5])),
     stats.cauchy(loc=[0.1, -0.2, 1.0], scale=[1.0, 2.0, 0.5])),
    (lambda: D.Gumbel(_t([0.1, -0.2, 1.0]), _t([1.0, 2.0, 0.5])),
     stats.gumbel_r(loc=[0.1, -0.2, 1.0], scale=[1.0, 2.0, 0.5])),
    (lambda: D.Exponential(_t([0.5, 1.0, 2.0])), stats.expon(scale=[2.0, 1.0, 0.5])),
    (lambda: D.LogNormal(_t([0.1, -0.2, 1.0]), _t([1.0, 2.0, 0.5])),
     stats.lognorm(s=[1.0, 2.0, 0.5], scale=np.exp([0.1, -0.2, 1.0]))),
    (lambda: D.HalfNormal(_t([1.0, 2.0, 0.5])), stats.halfnorm(scale=[1.0, 2.0, 0.5])),
    (lambda: D.HalfCauchy(_t([1.0, 2.0, 0.5])), stats.halfcauchy(scale=[1.0, 2.0, 0.5])),
    (lambda: D.Weibull(_t([1.0, 2.0, 0.5]), _t([1.5, 0.8, 3.0])),
     stats.weibull_min(c=[1.5, 0.8, 3.0], scale=[1.0, 2.0, 0.5])),
    (lambda: D.Pareto(_t([0.2, 0.1, 0.3]), _t([3.0, 2.5, 4.0])),
     stats.pareto(b=[3.0, 2.5, 4.0], scale=[0.2, 0.1, 0.3])),
    (lambda: D.GeneralizedPareto(_t([0.0, 0.1, 0.2]), _t([1.0, 2.0, 3.0]), _t([0.2, 0.0, -0.1])),
     stats.genpareto(c=[0.2, 0.0, -0.1], loc=[0.0, 0.1, 0.2], scale=[1.0, 2.0, 3.0])),
    (lambda: D.VonMises(_t([0.1, -0.2, 1.0]), _t([1.0, 2.0, 0.5])),
     stats.vonmises(kappa=[1.0, 2.0, 0.5], loc=[0.1, -0.2, 1.0])),
]


@pytest.mark.parametrize("i", range(len(SCIPY_CASES)))
def test_log_prob_cdf_icdf_entropy_and_moments_vs_scipy(i):
    make, ref = SCIPY_CASES[i]
    d = make()
    np.testing.assert_allclose(d.log_prob(_t(X)).numpy(), ref.logpdf(X), rtol=1e-8)
    if isinstance(d, D.VonMises):
        return
    np.testing.assert_allclose(d.cdf(_t(X)).numpy(), ref.cdf(X), rtol=1e-8)
    q = np.array([0.1, 0.5, 0.9])
    np.testing.assert_allclose(d.icdf(_t(q)).numpy(), ref.ppf(q), rtol=1e-8)
    np.testing.assert_allclose(d.entropy().numpy(), ref.entropy(), rtol=1e-8)
    mean = ref.mean()
    finite = np.isfinite(mean)
    np.testing.assert_allclose(d.mean.numpy()[finite], mean[finite], rtol=1e-8)
    var = ref.var()
    finite = np.isfinite(var)
    np.testing.assert_allclose(d.variance.numpy()[finite], var[finite], rtol=1e-8)


def test_kumaraswamy_density_and_moments_closed_form():
    a, b = np.array([0.7, 2.0, 3.0]), np.array([1.5, 0.9, 4.0])
    d = D.Kumaraswamy(_t(a), _t(b))
    x = np.array([0.2, 0.5, 0.7])
    pdf = a * b * x ** (a - 1) * (1 - x ** a) ** (b - 1)
    np.testing.assert_allclose(d.log_prob(_t(x)).numpy(), np.log(pdf), rtol=1e-10)
    grid = np.linspace(1e-6, 1 - 1e-6, 200001)
    dens = np.exp(d.log_prob(_t(np.broadcast_to(grid[:, None], (grid.size, 3)).copy()))
                  .numpy())
    np.testing.assert_allclose(np.trapezoid(dens * grid[:, None], grid, axis=0),
                               d.mean.numpy(), rtol=1e-3)


def test_multivariate_normals_vs_scipy():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(3, 3))
    cov = A @ A.T + np.eye(3)
    loc = rng.normal(size=3)
    x = rng.normal(size=(4, 3))
    ref = stats.multivariate_normal(loc, cov)
    for kwargs in (dict(covariance_matrix=_t(cov)), dict(precision_matrix=_t(np.linalg.inv(cov))),
                   dict(scale_tril=_t(np.linalg.cholesky(cov)))):
        d = D.MultivariateNormal(_t(loc), **kwargs)
        np.testing.assert_allclose(d.log_prob(_t(x)).numpy(), ref.logpdf(x), rtol=1e-10)
        np.testing.assert_allclose(d.entropy().item(), ref.entropy(), rtol=1e-10)
        np.testing.assert_allclose(d.covariance_matrix.numpy(), cov, rtol=1e-10)
        np.testing.assert_allclose(d.precision_matrix.numpy(), np.linalg.inv(cov), rtol=1e-8)
    W, diag = rng.normal(size=(3, 2)), rng.uniform(0.5, 1.5, size=3)
    low_rank = D.LowRankMultivariateNormal(_t(loc), _t(W), _t(diag))
    ref = stats.multivariate_normal(loc, W @ W.T + np.diag(diag))
    np.testing.assert_allclose(low_rank.log_prob(_t(x)).numpy(), ref.logpdf(x), rtol=1e-10)
    np.testing.assert_allclose(low_rank.entropy().item(), ref.entropy(), rtol=1e-10)
    scale_tril = low_rank.scale_tril.numpy()
    np.testing.assert_allclose(scale_tril @ scale_tril.T, W @ W.T + np.diag(diag), rtol=1e-10)


def test_rsample_is_reparameterized_and_seeded():
    loc = ember.tensor([0.5, -1.0], dtype=ember.float64, requires_grad=True)
    scale = ember.tensor([1.5, 0.3], dtype=ember.float64, requires_grad=True)
    ember.manual_seed(0)
    s = D.Laplace(loc, scale).rsample((5000,))
    s.mean().backward()
    np.testing.assert_allclose(loc.grad.numpy(), [0.5, 0.5])
    ember.manual_seed(0)
    again = D.Laplace(loc, scale).sample((5000,))
    np.testing.assert_array_equal(s.detach().numpy(), again.numpy())
    np.testing.assert_allclose(again.numpy().mean(0), [0.5, -1.0], atol=0.1)


UNIVARIATE_TRANSFORMS = [
    (D.ExpTransform(), np.array([-1.0, 0.2, 1.5])),
    (D.SigmoidTransform(), np.array([-1.0, 0.2, 1.5])),
    (D.TanhTransform(), np.array([-1.0, 0.2, 1.5])),
    (D.SoftplusTransform(), np.array([-1.0, 0.2, 1.5])),
    (D.PowerTransform(_t(2.5)), np.array([0.3, 0.9, 1.5])),
    (D.AffineTransform(1.0, -2.0), np.array([-1.0, 0.2, 1.5])),
    (D.ExpTransform().inv, np.array([0.3, 0.9, 1.5])),
    (D.ComposeTransform([D.AffineTransform(0.5, 3.0), D.SigmoidTransform()]),
     np.array([-1.0, 0.2, 1.5])),
]


@pytest.mark.parametrize("i", range(len(UNIVARIATE_TRANSFORMS)))
def test_univariate_transform_jacobian_matches_autograd(i):
    t, x = UNIVARIATE_TRANSFORMS[i]
    xe = _t(x).requires_grad_()
    y = t(xe)
    (dy,) = ember.autograd.grad(y.sum(), [xe])
    np.testing.assert_allclose(t.log_abs_det_jacobian(xe, y).detach().numpy(),
                               np.log(np.abs(dy.numpy())), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(t.inv(y).detach().numpy(), x, rtol=1e-9)


def test_vector_transforms_round_trip_and_jacobian():
    x = _t([[0.3, -1.2, 0.5], [1.0, 0.0, -0.4]])
    t = D.StickBreakingTransform()
    y = t(x)
    assert tuple(y.shape) == (2, 4) and bool(constraints.simplex.check(y).all())
    np.testing.assert_allclose(t.inv(y).numpy(), x.numpy(), rtol=1e-9, atol=1e-12)
    # the log-det of the map onto the first K-1 coordinates, by autograd
    for row in range(2):
        xr = x[row].clone().requires_grad_()
        jac = np.stack([ember.autograd.grad(t(xr)[k], [xr])[0].numpy() for k in range(3)])
        np.testing.assert_allclose(t.log_abs_det_jacobian(xr, t(xr)).item(),
                                   np.log(abs(np.linalg.det(jac))), rtol=1e-9)
    c = D.CorrCholeskyTransform()
    v = _t(np.linspace(-1, 1, 6))
    L = c(v)
    assert bool(constraints.corr_cholesky.check(L).all())
    np.testing.assert_allclose(c.inv(L).numpy(), v.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("constraint", [
    constraints.real, constraints.positive, constraints.greater_than(2.0),
    constraints.less_than(-1.0), constraints.interval(-1.0, 4.0), constraints.unit_interval,
    constraints.simplex, constraints.corr_cholesky, constraints.real_vector,
    constraints.independent(constraints.positive, 1),
])
def test_biject_to_round_trip(constraint):
    shape = (2, 6) if constraint is constraints.corr_cholesky else (2, 3)
    x = ember.randn(shape, dtype=ember.float64)
    t = D.biject_to(constraint)
    y = t(x)
    assert bool(constraint.check(y).all())
    np.testing.assert_allclose(t.inv(y).numpy(), x.numpy(), rtol=1e-7, atol=1e-9)
    assert bool(D.transform_to(constraint).codomain.check(D.transform_to(constraint)(x)).all())


def test_transformed_distribution_change_of_variables():
    base = D.Normal(_t([0.2, -0.3]), _t([1.0, 0.5]))
    d = D.TransformedDistribution(base, [D.ExpTransform()])
    log_normal = D.LogNormal(_t([0.2, -0.3]), _t([1.0, 0.5]))
    x = _t([0.7, 1.9])
    np.testing.assert_allclose(d.log_prob(x).numpy(), log_normal.log_prob(x).numpy())
    np.testing.assert_allclose(d.cdf(x).numpy(), log_normal.cdf(x).numpy())
    logistic = D.LogisticNormal(_t([0.0, 0.5]), _t([1.0, 2.0]))
    assert tuple(logistic.event_shape) == (3,) and tuple(logistic.batch_shape) == ()


def test_kl_normal_laplace_matches_monte_carlo():
    p = D.Normal(_t(0.3), _t(0.8))
    q = D.Laplace(_t(-0.2), _t(1.3))
    ember.manual_seed(0)
    x = p.sample((200000,))
    mc = (p.log_prob(x) - q.log_prob(x)).mean().item()
    assert math.isclose(D.kl_divergence(p, q).item(), mc, abs_tol=5e-3)
    assert D.kl_divergence(p, D.Uniform(_t(-1.0), _t(1.0))).item() == math.inf


def test_relaxed_distributions_sample_on_their_supports():
    ember.manual_seed(0)
    rb = D.RelaxedBernoulli(_t(0.5), probs=_t([0.2, 0.8]))
    s = rb.rsample((1000,))
    assert bool(constraints.unit_interval.check(s).all())
    np.testing.assert_allclose(s.numpy().mean(0), [0.2, 0.8], atol=0.08)
    rc = D.RelaxedOneHotCategorical(_t(0.3), probs=_t([0.1, 0.2, 0.7]))
    s = rc.rsample((1000,))
    assert bool(constraints.simplex.check(s).all())
    np.testing.assert_allclose(s.numpy().mean(0), [0.1, 0.2, 0.7], atol=0.08)


def test_von_mises_sample_is_circular_with_the_right_mean():
    ember.manual_seed(0)
    d = D.VonMises(_t([1.0, -2.5]), _t([4.0, 0.5]))
    s = d.sample((20000,)).numpy()
    assert s.min() >= -math.pi and s.max() < math.pi
    angle = np.angle(np.exp(1j * s).mean(0))
    np.testing.assert_allclose(angle, [1.0, -2.5], atol=0.1)
    np.testing.assert_allclose(1 - np.abs(np.exp(1j * s).mean(0)), d.variance.numpy(), atol=0.02)


@pytest.mark.parametrize("L_batch,x_batch", [((), (4,)), ((2,), (4, 2)), ((2,), (4, 1)),
                                             ((2, 1), (3,))])
def test_batch_mahalanobis_broadcasts_like_numpy(L_batch, x_batch):
    from ember.distributions.multivariate_normal import _batch_mahalanobis
    rng = np.random.default_rng(1)
    A = rng.normal(size=L_batch + (3, 3))
    L = np.linalg.cholesky(A @ np.swapaxes(A, -1, -2) + np.eye(3))
    x = rng.normal(size=x_batch + (3,))
    cov = L @ np.swapaxes(L, -1, -2)
    expected = np.einsum("...i,...ij,...j->...", x, np.linalg.inv(cov), x)
    np.testing.assert_allclose(_batch_mahalanobis(_t(L), _t(x)).numpy(), expected, rtol=1e-10)
