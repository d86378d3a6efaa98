"""float64 values become float16 through float32, as PyTorch's casts round them (a direct
rounding differs in a few values per 100,000: those just above a float16 tie that float32
rounds onto it): ``.to``/``.half()``, ``tensor``/``as_tensor`` with a dtype, from arrays and
lists, and ``copy_`` into a float16 tensor."""
import numpy as np

import ember

# just above the float16 tie between 1 and 1 + 2**-10: float32 rounds these onto the tie,
# which float16 then rounds to even (1.0); a direct rounding goes up
NEAR_TIES = np.array([1 + 2.0 ** -11 + 2.0 ** -40, -(1 + 2.0 ** -11 + 2.0 ** -40),
                      2048 + 1 + 2.0 ** -30, 0.1, 65504.0, 1e-7])
WANT = NEAR_TIES.astype(np.float32).astype(np.float16)


def test_the_cases_tell_the_two_roundings_apart():
    assert (NEAR_TIES.astype(np.float16) != WANT).sum() >= 2


def test_casts_round_through_float32():
    x = ember.tensor(NEAR_TIES)
    for got in (x.half(), x.to(ember.float16), x.to(dtype=ember.float16), x.type(ember.float16)):
        np.testing.assert_array_equal(got.numpy(), WANT)


def test_creation_with_a_float16_dtype_rounds_through_float32():
    for got in (ember.tensor(NEAR_TIES, dtype=ember.float16),
                ember.tensor(NEAR_TIES.tolist(), dtype=ember.float16),
                ember.as_tensor(NEAR_TIES, dtype=ember.float16)):
        np.testing.assert_array_equal(got.numpy(), WANT)


def test_other_casts_are_unchanged():
    np.testing.assert_array_equal(ember.tensor(NEAR_TIES).float().numpy(),
                                  NEAR_TIES.astype(np.float32))
    ints = ember.tensor([1, 2049, 70000], dtype=ember.float16)
    np.testing.assert_array_equal(ints.numpy(), np.array([1, 2048, np.inf], np.float16))


def test_copy_into_float16_rounds_through_float32():
    out = ember.zeros(len(NEAR_TIES), dtype=ember.float16)
    out.copy_(ember.tensor(NEAR_TIES))
    np.testing.assert_array_equal(out.numpy(), WANT)
