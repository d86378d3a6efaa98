"""Gamma, Dirichlet, Poisson and binomial draws on the CPU: PyTorch's rejection samplers run
element by element on the generator's stream (the numbers are checked against PyTorch in
tests/conformance/test_random_variates_s15_vs_torch.py). Here: their moments against the
distributions' formulas, their edge cases, determinism after ``manual_seed``, and the
read-ahead of uniforms leaving the stream exactly where drawing one at a time would."""
import numpy as np
import pytest

import ember
from ember.backend.host_random import HostDraws, _ReadAhead

N = 20_000


def _moments(draws: np.ndarray):
    return draws.mean(0), draws.var(0)


def _close(value, want, spread, sigmas=5.0):
    """``value`` within ``sigmas`` standard errors (``spread`` / sqrt(N)) of ``want``."""
    assert np.all(np.abs(value - want) <= sigmas * spread / np.sqrt(N) + 1e-12)


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64])
def test_gamma_moments(dtype):
    alpha = np.array([0.3, 1.0, 2.5, 40.0])
    ember.manual_seed(0)
    x = ember._standard_gamma(ember.tensor(alpha, dtype=dtype).expand(N, 4)).numpy()
    assert x.dtype == np.dtype(str(dtype).split(".")[-1]) and np.all(x > 0)
    mean, var = _moments(x.astype(np.float64))
    _close(mean, alpha, np.sqrt(alpha))  # Gamma(a, 1): mean a, variance a
    _close(var, alpha, np.sqrt(2 * alpha * alpha + 6 * alpha))  # (fourth central moment)


def test_gamma_of_zero_is_the_smallest_normal():
    for dtype in (ember.float32, ember.float64):
        x = ember._standard_gamma(ember.zeros(3, dtype=dtype)).numpy()
        np.testing.assert_array_equal(x, np.finfo(x.dtype).tiny)


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64])
def test_dirichlet_moments_and_simplex(dtype):
    alpha = np.array([0.5, 2.0, 7.5])
    ember.manual_seed(1)
    x = ember._sample_dirichlet(ember.tensor(alpha, dtype=dtype).expand(N, 3)).numpy()
    np.testing.assert_allclose(x.sum(-1), 1.0, rtol=1e-6 if dtype == ember.float32 else 1e-14)
    assert np.all((x > 0) & (x < 1))
    total = alpha.sum()
    mean = alpha / total
    mean_got, var_got = _moments(x.astype(np.float64))
    _close(mean_got, mean, np.sqrt(mean * (1 - mean) / (total + 1)))
    np.testing.assert_allclose(var_got, mean * (1 - mean) / (total + 1), rtol=0.1)


def test_dirichlet_of_tiny_concentrations_stays_inside_the_simplex():
    x = ember._sample_dirichlet(ember.full((50, 4), 1e-3)).numpy()
    assert np.all(x >= np.finfo(np.float32).tiny) and np.all(x < 1)


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64])
def test_poisson_moments(dtype):
    rates = np.array([0.0, 0.7, 4.0, 9.5, 10.0, 30.0, 2000.0])  # both methods
    ember.manual_seed(2)
    x = ember.poisson(ember.tensor(rates, dtype=dtype).expand(N, 7)).numpy()
    assert np.all(x == np.round(x)) and np.all(x[:, 0] == 0)
    mean, var = _moments(x.astype(np.float64))
    _close(mean, rates, np.sqrt(rates))
    _close(var, rates, np.sqrt(2 * rates * rates + rates))


def test_poisson_rejects_negative_rates():
    with pytest.raises(RuntimeError, match="non-negative"):
        ember.poisson(ember.tensor([1.0, -0.5]))


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64])
def test_binomial_moments(dtype):
    # inversion (count p < 10), BTRS, and both again drawn for 1 - p above 1/2
    count = np.array([20.0, 200.0, 15.0, 3000.0, 10.0])
    prob = np.array([0.2, 0.35, 0.8, 0.9, 0.5])
    ember.manual_seed(3)
    x = ember.binomial(ember.tensor(count, dtype=dtype).expand(N, 5),
                       ember.tensor(prob, dtype=dtype).expand(N, 5)).numpy()
    assert np.all(x == np.round(x)) and np.all((x >= 0) & (x <= count))
    mean, var = _moments(x.astype(np.float64))
    want = count * prob * (1 - prob)
    _close(mean, count * prob, np.sqrt(want))
    _close(var, want, np.sqrt(2 * want * want + want))


def test_binomial_edges():
    count = ember.tensor([0.0, 7.0, 7.0, 7.0])
    prob = ember.tensor([0.5, 0.0, 1.0, 1.0])
    assert ember.binomial(count, prob).tolist() == [0.0, 0.0, 7.0, 7.0]


def test_draws_repeat_after_manual_seed_and_continue_the_stream():
    def draws():
        return [ember._standard_gamma(ember.tensor([0.4, 3.0])),
                ember._sample_dirichlet(ember.tensor([[1.0, 2.0, 3.0]])),
                ember.poisson(ember.tensor([2.0, 50.0])),
                ember.binomial(ember.tensor([12.0, 400.0]), ember.tensor([0.4, 0.6])),
                ember.rand(4)]
    ember.manual_seed(9)
    first = [t.numpy() for t in draws()]
    ember.manual_seed(9)
    for a, b in zip(first, draws()):
        np.testing.assert_array_equal(a, b.numpy())
    ember.manual_seed(10)
    assert not any(np.array_equal(a, b.numpy()) for a, b in zip(first, draws()))


def test_a_generator_argument_leaves_the_default_stream_alone():
    ember.manual_seed(4)
    want = ember.rand(3).numpy()
    ember.manual_seed(4)
    gen = ember.Generator().manual_seed(4)
    ember.poisson(ember.full((100,), 5.0), gen)
    ember._standard_gamma(ember.full((100,), 2.0), gen)
    np.testing.assert_array_equal(ember.rand(3).numpy(), want)


@pytest.mark.parametrize("taken", [0, 5, 16, 17, 40, 100])
def test_read_ahead_rewinds_to_just_past_the_uniforms_used(taken):
    ahead, one_by_one = HostDraws(5), HostDraws(5)
    with _ReadAhead(ahead, 16) as stream:  # blocks of 16, then 32, 64: crossed at 16 and 48
        got = [stream.uniform() for _ in range(taken)]
    want = one_by_one.unit(taken + 3, np.float64)
    np.testing.assert_array_equal(got, want[:taken])
    np.testing.assert_array_equal(ahead.unit(3, np.float64), want[taken:])


def test_meta_tensors_draw_nothing():
    before = ember.get_rng_state().numpy()
    meta = ember.empty(4, device="meta")
    for out in (ember.poisson(meta), ember._standard_gamma(meta), ember._sample_dirichlet(meta),
                ember.binomial(meta, ember.empty(2, 1, device="meta"))):
        assert out.device.type == "meta"
    assert ember.binomial(meta, ember.empty(2, 1, device="meta")).shape == (2, 4)
    np.testing.assert_array_equal(ember.get_rng_state().numpy(), before)


def test_device_draws_samplers_run_over_an_array_modules_generator():
    # a GPU generator's samplers (CuPy's own algorithms), run here over NumPy's twin
    from ember.random import DeviceDraws
    draws = DeviceDraws(np.random.default_rng(0))
    alpha = np.full((N, 3), [0.5, 1.0, 4.0], np.float32)
    g, x = draws.gamma(alpha), draws.dirichlet(alpha)
    assert g.dtype == x.dtype == np.float32
    _close(g.mean(0), alpha[0], np.sqrt(alpha[0]))
    np.testing.assert_allclose(x.sum(-1), 1.0, rtol=1e-6)
    rates = np.full((N,), 6.0)
    assert draws.poisson(rates).dtype == np.float64
    _close(draws.poisson(rates).mean(), 6.0, np.sqrt(6.0))
    b = draws.binomial(np.full((N,), 30.0, np.float32), np.full((N,), 0.25, np.float32))
    assert b.dtype == np.float32
    _close(b.mean(), 7.5, np.sqrt(30 * 0.25 * 0.75))
