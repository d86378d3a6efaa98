import math

import numpy as np
import pytest
from scipy import stats

import ember
from ember.distributions import Bernoulli, Categorical, Normal, Uniform, kl_divergence


def test_normal_log_prob_entropy_and_rsample_grad():
    loc = ember.tensor([0.5, -1.0], dtype=ember.float64, requires_grad=True)
    scale = ember.tensor([1.5, 0.3], dtype=ember.float64, requires_grad=True)
    d = Normal(loc, scale)
    x = np.array([0.1, -0.7])
    np.testing.assert_allclose(d.log_prob(ember.tensor(x, dtype=ember.float64)).detach().numpy(),
                               stats.norm(loc=[0.5, -1.0], scale=[1.5, 0.3]).logpdf(x))
    np.testing.assert_allclose(d.entropy().detach().numpy(),
                               stats.norm(scale=[1.5, 0.3]).entropy())
    s = d.rsample((1000,))
    assert tuple(s.shape) == (1000, 2)
    s.mean().backward()
    np.testing.assert_allclose(loc.grad.numpy(), [0.5, 0.5])
    assert d.sample().requires_grad is False


def test_uniform_and_bernoulli():
    u = Uniform(ember.tensor(1.0), ember.tensor(3.0))
    assert math.isclose(u.log_prob(ember.tensor(2.0)).item(), -math.log(2.0), rel_tol=1e-6)
    # outside the support: ValueError by default (as in torch), -inf without validation
    with pytest.raises(ValueError):
        u.log_prob(ember.tensor(5.0))
    u = Uniform(ember.tensor(1.0), ember.tensor(3.0), validate_args=False)
    assert u.log_prob(ember.tensor(5.0)).item() == -math.inf
    samples = u.sample((500,))
    assert float(samples.min()) >= 1.0 and float(samples.max()) < 3.0
    b = Bernoulli(probs=ember.tensor([0.2, 0.9], dtype=ember.float64))
    v = ember.tensor([1.0, 0.0], dtype=ember.float64)
    np.testing.assert_allclose(b.log_prob(v).numpy(), np.log([0.2, 0.1]), rtol=1e-6)
    np.testing.assert_allclose(b.entropy().numpy(),
                               stats.bernoulli([0.2, 0.9]).entropy(), rtol=1e-6)


def test_categorical_sample_frequencies_and_log_prob():
    probs = ember.tensor([0.1, 0.6, 0.3], dtype=ember.float64)
    c = Categorical(probs=probs)
    draws = c.sample((20000,)).numpy()
    freq = np.bincount(draws, minlength=3) / draws.size
    np.testing.assert_allclose(freq, [0.1, 0.6, 0.3], atol=0.02)
    np.testing.assert_allclose(c.log_prob(ember.tensor([1, 2])).numpy(), np.log([0.6, 0.3]))
    np.testing.assert_allclose(c.entropy().item(), stats.entropy([0.1, 0.6, 0.3]))
    logits = ember.tensor([[0.0, 1.0], [2.0, -1.0]], requires_grad=True)
    lp = Categorical(logits=logits).log_prob(ember.tensor([1, 0]))
    lp.sum().backward()
    assert logits.grad is not None


def test_kl_divergence_normal_closed_form():
    p = Normal(ember.tensor(0.0), ember.tensor(1.0))
    q = Normal(ember.tensor(1.0), ember.tensor(2.0))
    expected = math.log(2.0) + (1 + 1) / (2 * 4) - 0.5
    assert math.isclose(kl_divergence(p, q).item(), expected, rel_tol=1e-6)


def test_requires_one_parameterisation():
    with pytest.raises(ValueError):
        Categorical()
