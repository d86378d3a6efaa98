"""Seeded CPU gamma, Dirichlet, Poisson and binomial draws are PyTorch's: after the same
``manual_seed`` ember gives PyTorch's numbers and leaves the generator in PyTorch's state (its
engine and its cached normal), for ``_standard_gamma``, ``_sample_dirichlet``, ``poisson``,
``binomial`` and the distributions that sample through them.

Every draw is bit for bit PyTorch's, float32 included (the float kernels' float steps are
rounded to float as PyTorch's are), with one exception: a Dirichlet sample divides by its
row's sum, which PyTorch adds in its vectorised order; rows of up to 4 entries are summed in
order by both, longer rows may differ in the last bit of that double sum (float64 results
within 4 ulps; float32 results round the same)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402

SEEDS = [0, 7, 2 ** 40 + 3]
DTYPES = ["float32", "float64"]
# gamma: 0 (drawn as the smallest normal), the boost below 1, Marsaglia-Tsang above
ALPHAS = [0.0, 1e-3, 0.1, 0.5, 0.999, 1.0, 1.5, 3.0, 10.0, 250.0, 1e5]
# Poisson: 0, products of uniforms below 10, the transformed rejection from 10, and infinity
# (which PyTorch's conversion to int64 turns into its minimum)
RATES = [0.0, 1e-3, 0.5, 3.0, 9.99, 10.0, 12.5, 100.0, 1e4, 1e7, float("inf")]
# binomial: count 0, p 0 and 1, inversion (count * p < 10), BTRS (>= 10), both for p > 1/2,
# and counts beyond 2^24 (whose float sums round)
COUNTS = [0, 5, 10, 20, 100, 1000, 30, 100, 5000, 7, 50, 10 ** 6, 3 * 10 ** 7, 10 ** 9,
          2 ** 25 + 1]
PROBS = [0.3, 0.0, 1.0, 0.2, 0.05, 0.3, 0.5, 0.9, 0.97, 0.6, 0.999, 0.42, 0.5, 1e-8, 0.999]


def _numpy(t):
    return t.detach().numpy()


def both(seed, make, ulps=0):
    """``make(lib)`` after ``lib.manual_seed(seed)`` on both libraries: equal draws (within
    ``ulps`` units in the last place), equal generator states after, and equal next draws."""
    outs = []
    for lib in (ember, torch):
        lib.manual_seed(seed)
        drawn = make(lib)
        outs.append((_numpy(drawn), _numpy(lib.get_rng_state()), _numpy(lib.rand(5))))
    (mine, my_state, my_next), (theirs, their_state, their_next) = outs
    assert mine.dtype == theirs.dtype and mine.shape == theirs.shape
    if ulps:
        spacing = np.spacing(np.abs(theirs).astype(theirs.dtype))
        assert np.all(np.abs(mine - theirs) <= ulps * spacing)
    else:
        np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_array_equal(my_state, their_state)
    np.testing.assert_array_equal(my_next, their_next)
    return mine


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_standard_gamma(seed, dtype):
    alpha = np.array(ALPHAS * 20)
    both(seed, lambda lib: lib._standard_gamma(lib.tensor(alpha, dtype=getattr(lib, dtype))))


@pytest.mark.parametrize("dtype", DTYPES)
def test_standard_gamma_visits_a_strided_input_in_output_order(dtype):
    alpha = np.linspace(0.2, 5.0, 24).reshape(4, 6)
    both(1, lambda lib: lib._standard_gamma(lib.tensor(alpha, dtype=getattr(lib, dtype)).t()))
    both(2, lambda lib: lib._standard_gamma(lib.tensor(alpha[0], dtype=getattr(lib, dtype))
                                            .expand(3, 6)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_sample_dirichlet(seed, dtype):
    rows = [[0.1, 2.0, 3.0], [5.0, 0.5, 1.0], [1e-3, 1e-3, 1e-3], [50.0, 1.0, 0.01]]
    both(seed, lambda lib: lib._sample_dirichlet(lib.tensor(rows * 5, dtype=getattr(lib, dtype))))
    wide = np.linspace(0.05, 4.0, 4 * 17).reshape(4, 17)
    ulps = 4 if dtype == "float64" else 0  # (the row sums' order: see the module note)
    both(seed, lambda lib: lib._sample_dirichlet(lib.tensor(wide, dtype=getattr(lib, dtype))),
         ulps=ulps)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_poisson(seed, dtype):
    rates = np.array(RATES * 20)
    drawn = both(seed, lambda lib: lib.poisson(lib.tensor(rates, dtype=getattr(lib, dtype))))
    assert np.all(drawn[rates == 0] == 0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_binomial(seed, dtype):
    count, prob = np.array(COUNTS * 20, float), np.array(PROBS * 20)

    def draw(lib):
        dt = getattr(lib, dtype)
        return lib.binomial(lib.tensor(count, dtype=dt), lib.tensor(prob, dtype=dt))

    drawn = both(seed, draw)
    assert np.all(drawn[(count == 0) | (prob == 0)] == 0)
    np.testing.assert_array_equal(drawn[prob == 1], count[prob == 1])


def test_generator_argument_draws_from_that_generator():
    def draw(lib):
        gen = lib.Generator().manual_seed(11)
        rates = lib.tensor(RATES)
        return lib.cat([lib.poisson(rates, gen), lib._standard_gamma(lib.tensor(ALPHAS), gen),
                        lib.binomial(lib.tensor([40.0, 3.0]), lib.tensor([0.5, 0.5]), gen)])
    both(5, draw)


def test_gamma_takes_the_normal_cached_before_it_and_leaves_its_own():
    def draw(lib):
        lib.randn(1, dtype=lib.float64)  # one double normal: its pair's sine half is cached
        out = lib._standard_gamma(lib.tensor([2.0, 3.0, 0.7], dtype=lib.float64))
        lib.poisson(lib.tensor([4.0, 40.0]))  # uniforms only: the cache stays
        return out
    for seed in SEEDS:
        both(seed, draw)


def test_negative_rate_raises():
    for lib in (ember, torch):
        with pytest.raises(RuntimeError, match="invalid Poisson rate"):
            lib.poisson(lib.tensor([1.0, -1.0]))


def _distribution_draws(lib, dtype):
    D, dt = lib.distributions, getattr(lib, dtype)

    def t(values):
        return lib.tensor(values, dtype=dt)

    return [
        D.Gamma(t([0.5, 2.0, 30.0]), t([1.0, 3.0, 0.5])).sample((40,)),
        D.Beta(t([0.5, 2.0]), t([3.0, 0.2])).sample((40,)),
        D.Dirichlet(t([0.3, 1.0, 4.0])).sample((40,)),
        D.Chi2(t([1.0, 5.0])).sample((40,)),
        D.StudentT(t([3.0, 30.0])).sample((40,)),
        D.Poisson(t([0.0, 2.5, 25.0])).sample((40,)),
        D.Binomial(t([10.0, 200.0]), t([0.3, 0.7])).sample((40,)),
        D.NegativeBinomial(t([3.0, 20.0]), t([0.4, 0.8])).sample((40,)),
    ]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_distributions_sample(seed, dtype):
    # StudentT draws its normals with randn (to a few ulps: see test_random_streams_s14), the
    # rest of each sample is exact
    mine = []
    for lib in (ember, torch):
        lib.manual_seed(seed)
        mine.append([_numpy(x) for x in _distribution_draws(lib, dtype)] +
                    [_numpy(lib.rand(5))])
    for index, (a, b) in enumerate(zip(*mine)):
        assert a.dtype == b.dtype and a.shape == b.shape
        if index == 4:
            np.testing.assert_allclose(a, b, rtol=1e-5 if dtype == "float32" else 1e-12)
        else:
            np.testing.assert_array_equal(a, b)
