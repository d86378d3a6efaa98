"""Part B distributions on their own: the implicit gamma / Dirichlet gradients against
SciPy's inverse CDFs, sample shapes and moments at a fixed seed, gradcheck of log_prob and KL."""
import numpy as np
import pytest
from scipy import special, stats

import ember
import ember.distributions as D

F64 = ember.float64


def t64(x, requires_grad=False):
    return ember.tensor(np.asarray(x, dtype=np.float64), requires_grad=requires_grad)


# ---------------------------------------------------------------------------------------------
# The implicit reparameterization gradients, against finite differences of the inverse CDF


@pytest.mark.parametrize("alpha", [1e-3, 0.05, 0.4, 1.0, 2.5, 8.0, 60.0, 150.0, 1e4, 1e6])
def test_standard_gamma_grad_is_the_inverse_cdf_derivative(alpha):
    u = np.array([0.01, 0.2, 0.5, 0.8, 0.99])
    x = special.gammaincinv(alpha, u)
    h = 1e-5 * alpha
    expected = (special.gammaincinv(alpha + h, u) - special.gammaincinv(alpha - h, u)) / (2 * h)
    got = ember._standard_gamma_grad(t64(np.full(5, alpha)), t64(x)).numpy()
    usable = x > 1e-200  # (the finite differences lose digits near underflow)
    np.testing.assert_allclose(got[usable], expected[usable], rtol=1e-6)


@pytest.mark.parametrize("a, b", [(0.3, 0.6), (2.0, 3.0), (0.05, 4.0), (30.0, 2.0),
                                  (15.0, 400.0), (200.0, 300.0), (1e5, 3e5)])
def test_dirichlet_grad_is_the_beta_inverse_cdf_derivative(a, b):
    u = np.array([0.02, 0.3, 0.5, 0.7, 0.98])
    x = special.betaincinv(a, b, u)
    h = 1e-5 * a
    dx = (special.betaincinv(a + h, b, u) - special.betaincinv(a - h, b, u)) / (2 * h)
    got = ember._dirichlet_grad(t64(x), t64(np.full(5, a)), t64(np.full(5, a + b)))
    # torch's convention: the Beta derivative over (1 - x) (see _SampleDirichlet.backward).
    np.testing.assert_allclose(got.numpy(), dx / (1 - x), rtol=1e-5)


def test_standard_gamma_samples_seeded_dtype_and_degenerate_draws():
    alpha = ember.tensor([0.5, 2.0, 9.0], dtype=ember.float32)
    ember.manual_seed(5)
    first = ember._standard_gamma(alpha)
    ember.manual_seed(5)
    np.testing.assert_array_equal(first.numpy(), ember._standard_gamma(alpha).numpy())
    assert first.dtype == ember.float32
    a = t64([1e-4] * 50, requires_grad=True)
    x = ember._standard_gamma(a)
    x.sum().backward()
    assert np.isfinite(a.grad.numpy()).all()  # underflowed draws (x == 0) get 0


def test_sample_dirichlet_tiny_concentrations_stay_on_the_simplex():
    ember.manual_seed(0)
    x = ember._sample_dirichlet(t64([[1e-3, 2e-3, 1e-3]] * 200))
    np.testing.assert_allclose(x.numpy().sum(-1), 1.0)
    assert np.isfinite(x.numpy()).all()


def test_sample_dirichlet_pathwise_jacobian_is_unbiased():
    """E[d x_i / d alpha_j] = d E[x_i] / d alpha_j = delta_ij / A - alpha_i / A^2."""
    alpha = np.array([0.5, 1.5, 3.0])
    a = t64(np.tile(alpha, (40000, 1)), requires_grad=True)
    ember.manual_seed(2)
    x = ember._sample_dirichlet(a)
    total = alpha.sum()
    for i in range(3):
        (grad,) = ember.autograd.grad(x[:, i].sum(), [a], retain_graph=True)
        expected = (np.arange(3) == i) / total - alpha[i] / total**2
        np.testing.assert_allclose(grad.numpy().mean(0), expected, atol=0.01)


# ---------------------------------------------------------------------------------------------
# Samples: shapes and moments at a fixed seed (loose statistical tolerance)

N = 40000

MOMENT_CASES = [
    (lambda: D.Gamma(t64([0.5, 3.0]), t64([2.0, 0.5])), stats.gamma([0.5, 3.0], scale=[0.5, 2])),
    (lambda: D.Chi2(t64([1.5, 6.0])), stats.chi2([1.5, 6.0])),
    (lambda: D.Beta(t64([0.5, 4.0]), t64([2.0, 1.5])), stats.beta([0.5, 4.0], [2.0, 1.5])),
    # concentrations above 4: the sample variance has a finite variance itself
    (lambda: D.InverseGamma(t64([6.0, 5.0]), t64([2.0, 1.0])),
     stats.invgamma([6.0, 5.0], scale=[2.0, 1.0])),
    (lambda: D.StudentT(t64([5.0, 9.0]), t64([1.0, -1.0]), t64([2.0, 0.5])),
     stats.t([5.0, 9.0], loc=[1.0, -1.0], scale=[2.0, 0.5])),
    (lambda: D.FisherSnedecor(t64([4.0, 10.0]), t64([9.0, 12.0])), stats.f([4.0, 10.0],
                                                                           [9.0, 12.0])),
    (lambda: D.Poisson(t64([0.5, 7.0])), stats.poisson([0.5, 7.0])),
    (lambda: D.Binomial(t64([5.0, 30.0]), t64([0.3, 0.9])), stats.binom([5, 30], [0.3, 0.9])),
    (lambda: D.Geometric(t64([0.2, 0.7])), stats.geom([0.2, 0.7], loc=-1)),
    (lambda: D.NegativeBinomial(t64([2.0, 6.5]), t64([0.3, 0.6])),
     stats.nbinom([2.0, 6.5], [0.7, 0.4])),
]


@pytest.mark.parametrize("make, reference", MOMENT_CASES,
                         ids=[type(m()).__name__ for m, _ in MOMENT_CASES])
def test_sample_moments(make, reference):
    d = make()
    ember.manual_seed(11)
    x = d.sample((N,))
    assert tuple(x.shape) == (N,) + tuple(d.batch_shape)
    mean, var = reference.mean(), reference.var()
    assert (np.abs(x.numpy().mean(0) - mean) <= 5 * np.sqrt(var / N)).all()
    np.testing.assert_allclose(x.numpy().var(0), var, rtol=0.1)
    np.testing.assert_allclose(d.mean.numpy(), mean, rtol=1e-10)
    np.testing.assert_allclose(d.variance.numpy(), var, rtol=1e-10)


def test_dirichlet_and_multinomial_samples():
    ember.manual_seed(0)
    conc = np.array([0.5, 2.0, 4.0])
    x = D.Dirichlet(t64(conc)).sample((N,)).numpy()
    np.testing.assert_allclose(x.mean(0), conc / conc.sum(), atol=0.01)
    probs = np.array([0.1, 0.3, 0.6])
    counts = D.Multinomial(12, t64(probs)).sample((5000,)).numpy()
    assert counts.shape == (5000, 3)
    assert (counts.sum(-1) == 12).all()
    np.testing.assert_allclose(counts.mean(0), 12 * probs, atol=0.1)


def test_one_hot_categorical_frequencies_and_straight_through_gradient():
    probs = t64([0.1, 0.6, 0.3], requires_grad=True)
    ember.manual_seed(1)
    samples = D.OneHotCategorical(probs).sample((20000,)).numpy()
    assert set(np.unique(samples.sum(-1))) == {1.0}
    np.testing.assert_allclose(samples.mean(0), [0.1, 0.6, 0.3], atol=0.015)
    st = D.OneHotCategoricalStraightThrough(probs)
    sample = st.rsample()
    (sample * t64([1.0, 2.0, 3.0])).sum().backward()
    # the gradient of the normalized probs: w - <w, p>
    np.testing.assert_allclose(probs.grad.numpy(), np.array([1.0, 2.0, 3.0]) - 2.2)


def test_lkj_cholesky_samples_are_correlation_factors():
    ember.manual_seed(3)
    d = D.LKJCholesky(4, t64([0.5, 3.0]))
    L = d.sample((2000,))
    assert tuple(L.shape) == (2000, 2, 4, 4)
    assert bool(d.support.check(L).all())
    corr = (L @ L.mT).numpy()
    np.testing.assert_allclose(np.diagonal(corr, axis1=-2, axis2=-1), 1.0)
    # LKJ(eta) marginals: r_ij ~ 2 Beta(b, b) - 1 with b = eta - 1 + d/2, variance 1/(2b + 1).
    b = np.array([0.5, 3.0]) - 1 + 4 / 2
    np.testing.assert_allclose(corr[:, :, 0, 1].var(0), 1 / (2 * b + 1), rtol=0.15)


def test_wishart_sample_mean():
    cov = np.array([[2.0, 0.5], [0.5, 1.0]])
    d = D.Wishart(t64(4.0), covariance_matrix=t64(cov))
    ember.manual_seed(4)
    x = d.rsample((20000,)).numpy()
    np.testing.assert_allclose(x.mean(0), 4.0 * cov, rtol=0.05)


def test_mixture_same_family_samples_and_moments():
    mix = D.Categorical(t64([0.3, 0.7]))
    comp = D.Normal(t64([-2.0, 3.0]), t64([0.5, 1.0]))
    gmm = D.MixtureSameFamily(mix, comp)
    ember.manual_seed(6)
    x = gmm.sample((N,)).numpy()
    np.testing.assert_allclose(x.mean(), gmm.mean.item(), atol=0.05)
    np.testing.assert_allclose(x.var(), gmm.variance.item(), rtol=0.03)
    assert gmm.mean.item() == pytest.approx(0.3 * -2.0 + 0.7 * 3.0)


# ---------------------------------------------------------------------------------------------
# gradcheck of log_prob, entropy and KL in float64


GRADCHECK_CASES = [
    ("Gamma", lambda c, r: D.Gamma(c, r), ([0.7, 2.5], [1.5, 0.5]), [0.3, 2.0]),
    ("Beta", lambda a, b: D.Beta(a, b), ([0.7, 2.5], [1.5, 0.5]), [0.3, 0.8]),
    ("Dirichlet", lambda c: D.Dirichlet(c), ([0.7, 2.5, 1.2],), [0.2, 0.5, 0.3]),
    ("StudentT", lambda df, s: D.StudentT(df, 1.0, s), ([2.5, 7.0], [1.5, 0.5]), [0.3, 2.0]),
    ("FisherSnedecor", lambda a, b: D.FisherSnedecor(a, b), ([2.5, 7.0], [3.5, 9.0]),
     [0.3, 2.0]),
    ("NegativeBinomial", lambda n, p: D.NegativeBinomial(n, p), ([2.5, 7.0], [0.3, 0.6]),
     [1.0, 4.0]),
    ("Binomial", lambda p: D.Binomial(10, logits=p), ([-0.5, 1.5],), [3.0, 9.0]),
]


@pytest.mark.parametrize("name, make, params, value", GRADCHECK_CASES,
                         ids=[c[0] for c in GRADCHECK_CASES])
def test_gradcheck_log_prob(name, make, params, value):
    inputs = tuple(t64(p, requires_grad=True) for p in params)
    assert ember.autograd.gradcheck(lambda *ps: make(*ps).log_prob(t64(value)), inputs)


def test_gradcheck_entropy_and_kl():
    c, r = t64([0.7, 2.5], True), t64([1.5, 0.5], True)
    assert ember.autograd.gradcheck(lambda c, r: D.Gamma(c, r).entropy(), (c, r))
    assert ember.autograd.gradcheck(
        lambda c, r: D.kl_divergence(D.Gamma(c, r), D.Gamma(r, c)), (c, r))
    assert ember.autograd.gradcheck(
        lambda c, r: D.kl_divergence(D.Beta(c, r), D.Beta(r, c)), (c, r))
    conc = t64([[0.7, 2.5, 1.1]], True)
    assert ember.autograd.gradcheck(
        lambda a: D.kl_divergence(D.Dirichlet(a), D.Dirichlet(a.flip(-1))), (conc,))


def test_wishart_redraws_singular_samples(monkeypatch):
    d = D.Wishart(t64([3.0, 4.0]), covariance_matrix=t64(np.eye(2)))
    draw = D.Wishart._bartlett_sampling
    calls = []

    def first_singular(self, sample_shape=()):
        sample = draw(self, sample_shape)
        if not calls:  # the first draw: the second sample comes out singular
            sample = sample.clone()
            sample[1] = 0.0
        calls.append(tuple(sample_shape))
        return sample

    monkeypatch.setattr(D.Wishart, "_bartlett_sampling", first_singular)
    with pytest.warns(UserWarning, match="Singular sample"):
        x = d.rsample((3,))
    assert calls == [(3,), (1,)]
    assert bool(d.support.check(x).all())
