"""The CPU generator is the Mersenne Twister seeded as PyTorch (``init_genrand``) and its
distributions turn the engine's words into values as ATen's CPU kernels; checked here against
NumPy's ``RandomState`` (the same engine, seeded by its own C code) and the kernels' formulas.
tests/conformance/test_random_streams_s14_vs_torch.py checks them against PyTorch itself."""
import math

import numpy as np
import pytest

import ember


def words(seed: int, count: int) -> np.ndarray:
    """The engine's first ``count`` words after seeding, by NumPy's legacy seeding."""
    engine = np.random.MT19937()
    engine.state = np.random.RandomState(seed & 0xFFFFFFFF).get_state(legacy=False)
    return engine.random_raw(count).astype(np.uint64)


@pytest.mark.parametrize("seed", [0, 7, 2 ** 40 + 3])
def test_uniforms_keep_24_or_53_bits_of_the_words(seed):
    w = words(seed, 12)
    ember.manual_seed(seed)
    np.testing.assert_array_equal(ember.rand(4).numpy(),
                                  ((w[:4] & 0xFFFFFF) / 2 ** 24).astype(np.float32))
    doubles = (((w[4::2] << np.uint64(32)) | w[5::2]) & np.uint64(2 ** 53 - 1)) / 2 ** 53
    np.testing.assert_array_equal(ember.rand(4, dtype=ember.float64).numpy(), doubles)


def test_integers_are_words_modulo_the_range_and_randperm_is_fisher_yates():
    w = words(5, 30)
    ember.manual_seed(5)
    np.testing.assert_array_equal(ember.randint(3, 13, (10,)).numpy(), (w[:10] % 10 + 3))
    order = list(range(8))
    for i, word in enumerate(w[10:17]):
        j = i + int(word) % (8 - i)
        order[i], order[j] = order[j], order[i]
    assert ember.randperm(8).tolist() == order


def test_normals_are_box_muller_in_blocks_of_sixteen():
    w = words(2, 32)
    u = (w & 0xFFFFFF).astype(np.float64) / 2 ** 24
    radius = np.sqrt(-2 * np.log(1 - u[:8]))
    expected = np.concatenate([radius * np.cos(2 * math.pi * u[8:16]),
                               radius * np.sin(2 * math.pi * u[8:16])])
    ember.manual_seed(2)
    np.testing.assert_allclose(ember.randn(16).numpy(), expected, rtol=1e-5, atol=1e-6)
    # fewer than 16: one by one in double precision, the pair's sine half kept for the next
    doubles = (((w[:4:2] << np.uint64(32)) | w[1:4:2]) & np.uint64(2 ** 53 - 1)) / 2 ** 53
    r, theta = math.sqrt(-2 * math.log1p(-doubles[1])), 2 * math.pi * doubles[0]
    ember.manual_seed(2)
    np.testing.assert_allclose(ember.randn(2, dtype=ember.float64).numpy(),
                               [r * math.cos(theta), r * math.sin(theta)], rtol=1e-14)


def test_state_is_pytorchs_layout_and_round_trips():
    ember.manual_seed(9)
    state = ember.get_rng_state()
    assert state.dtype == ember.uint8 and state.shape == (5056,)
    assert int.from_bytes(state.numpy()[:8].tobytes(), "little") == 9  # the seed comes first
    first = ember.randn(3, dtype=ember.float64)  # leaves a cached normal
    mid = ember.get_rng_state()
    after = ember.randn(5, dtype=ember.float64)
    ember.set_rng_state(state)
    np.testing.assert_array_equal(ember.randn(3, dtype=ember.float64).numpy(), first.numpy())
    ember.set_rng_state(mid)
    np.testing.assert_array_equal(ember.randn(5, dtype=ember.float64).numpy(), after.numpy())
    with pytest.raises(RuntimeError, match="Expected a CPUGeneratorImplState of size 5056"):
        ember.set_rng_state(ember.zeros(100, dtype=ember.uint8))
    bad = state.clone()
    bad[12:16] = 0  # "seeded" false
    with pytest.raises(RuntimeError, match="Invalid mt19937 state"):
        ember.set_rng_state(bad)


def test_generators_are_independent_streams_of_the_same_engine():
    g = ember.Generator().manual_seed(4)
    ember.manual_seed(4)
    expected = ember.rand(6)
    ember.manual_seed(99)
    np.testing.assert_array_equal(ember.rand(6, generator=g).numpy(), expected.numpy())
    assert g.initial_seed() == 4


def test_half_uniforms_never_reach_the_upper_bound():
    ember.manual_seed(0)
    for dtype in (ember.float16, ember.bfloat16):
        t = ember.empty(200_000, dtype=dtype).uniform_(-1, 3)
        assert t.min().item() >= -1 and t.max().item() < 3


def test_a_fresh_process_starts_from_a_nondeterministic_seed():
    """As PyTorch's default CPU generator; a new Generator starts from PyTorch's fixed seed."""
    import subprocess
    import sys
    code = "import ember; print(ember.initial_seed(), ember.rand(1).item())"
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout for _ in range(2)}
    assert len(runs) == 2
    assert ember.Generator().initial_seed() == 67280421310721
