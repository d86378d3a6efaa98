"""ember.gradient (torch.gradient) against NumPy's gradient: uniform steps, per-dim steps,
coordinates, first- and second-order edges; and ember.binomial's moments."""
import numpy as np
import pytest

import ember


def _np_gradient_cases():
    rng = np.random.default_rng(0)
    coords = np.cumsum(rng.random(6)) + 0.1
    return [({}, (1.0, 1.0), {}), ({"spacing": 2.0}, (2.0, 2.0), {}),
            ({"spacing": [2.0, 0.5]}, (2.0, 0.5), {}),
            ({"edge_order": 2}, (1.0, 1.0), {"edge_order": 2}),
            ({"spacing": [ember.arange(5.0), ember.tensor(coords)]}, (np.arange(5.0), coords),
             {}),
            ({"spacing": [ember.arange(5.0), ember.tensor(coords)], "edge_order": 2},
             (np.arange(5.0), coords), {"edge_order": 2})]


def test_gradient_matches_numpy():
    f = np.random.default_rng(1).standard_normal((5, 6))
    for kwargs, spacing, np_kwargs in _np_gradient_cases():
        got = ember.gradient(ember.tensor(f), **kwargs)
        for g, w in zip(got, np.gradient(f, *spacing, **np_kwargs)):
            np.testing.assert_allclose(g.numpy(), w, rtol=1e-12, atol=1e-12)
    assert ember.gradient(ember.tensor([1, 2, 4]))[0].tolist() == [1.0, 1.5, 2.0]
    two = ember.gradient(ember.tensor([1.0, 3.0]), spacing=[ember.tensor([0.0, 2.0])])[0]
    np.testing.assert_array_equal(two.numpy(), np.gradient([1.0, 3.0], [0.0, 2.0]))


def test_gradient_is_differentiable_and_checks_sizes():
    x = ember.tensor(np.random.default_rng(2).standard_normal(7), requires_grad=True)
    assert ember.autograd.gradcheck(lambda t: ember.gradient(t, edge_order=2)[0], (x,))
    with pytest.raises(RuntimeError, match="at least"):
        ember.gradient(ember.ones(2), edge_order=2)


def test_binomial_draws_have_binomial_moments():
    ember.manual_seed(0)
    count = ember.full((20000,), 10.0)
    prob = ember.full((20000,), 0.3)
    draws = ember.binomial(count, prob)
    assert draws.dtype == ember.float32 and 0 <= draws.min().item() and draws.max().item() <= 10
    assert draws.mean().item() == pytest.approx(3.0, abs=0.05)
    assert draws.var().item() == pytest.approx(10 * 0.3 * 0.7, abs=0.1)
