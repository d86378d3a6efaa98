"""Session 10 fixes from PyTorch's OpInfo error_inputs and reference_inputs: refusals of bad
arguments, and values at the edges (NumPy/SciPy oracles)."""
import math

import numpy as np
import pytest
import scipy.special

import ember


def test_div_number_by_integer_tensor_gives_default_float():
    x = ember.tensor([2, 4])
    got = ember.div(3, x)
    assert got.dtype is ember.float32
    np.testing.assert_allclose(got.numpy(), np.array([1.5, 0.75], np.float32))
    assert ember.true_divide(1, ember.tensor([True])).dtype is ember.float32


def test_div_number_by_integer_tensor_trunc_stays_integer():
    got = ember.div(7, ember.tensor([2, -4]), rounding_mode="trunc")
    assert got.dtype is ember.int64
    np.testing.assert_array_equal(got.numpy(), np.trunc(7 / np.array([2, -4])).astype(np.int64))


def test_add_bool_with_integer_alpha_stays_bool():
    got = ember.add(ember.tensor([True, False, False]), ember.tensor([True, True, False]),
                    alpha=3)
    assert got.dtype is ember.bool
    np.testing.assert_array_equal(got.numpy(), [True, True, False])


def test_mvlgamma_below_domain_gives_log_abs_gamma_sum():
    x = np.array([0.1, 2.0, 3.0])
    got = ember.mvlgamma(ember.tensor(x), 3).numpy()
    want = sum(scipy.special.gammaln(x - j / 2) for j in range(3)) + 3 / 2 * math.log(math.pi)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_igamma_infinite_arguments_win_over_nan():
    inf, nan = math.inf, math.nan
    a = ember.tensor([inf, nan, inf, 1.0], dtype=ember.float64)
    x = ember.tensor([nan, inf, 5.0, 2.0], dtype=ember.float64)
    p = ember.igamma(a, x).numpy()
    q = ember.igammac(a, x).numpy()
    np.testing.assert_array_equal(p[:3], [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(q[:3], [1.0, 0.0, 1.0])
    np.testing.assert_allclose(p[3], scipy.special.gammainc(1.0, 2.0))
    for a, x in ((inf, inf), (inf, -inf), (-inf, inf)):  # still undefined
        assert math.isnan(ember.igamma(ember.tensor([a]), ember.tensor([x])).item())


@pytest.mark.parametrize("call, message", [
    (lambda: ember.isclose(ember.ones(()), ember.ones(()), rtol=-0.4), "rtol must be"),
    (lambda: ember.isclose(ember.ones(()), ember.ones(()), atol=-0.4), "atol must be"),
    (lambda: ember.cov(ember.ones(5), aweights=ember.ones(5, 5)), "one or fewer dimensions"),
    (lambda: ember.cov(ember.ones(5), fweights=ember.ones(1, dtype=ember.int64)), "same numel"),
    (lambda: ember.cov(ember.ones(5), fweights=-ember.ones(5, dtype=ember.int64)),
     "fweights cannot be negative"),
    (lambda: ember.cov(ember.ones(5), aweights=-ember.ones(5)), "aweights cannot be negative"),
    (lambda: ember.renorm(ember.tensor(1.0), 0.5, 0, 1.0), "at least 2 dimensions"),
    (lambda: ember.linalg.cross(ember.ones(5, 5, 3), ember.ones(5, 3)),
     "same number of dimensions"),
    (lambda: ember.histogramdd(ember.ones(5, 6), (1, 1, 1, 1, 1)), "size of bins"),
    (lambda: ember.index_add(ember.ones(3, 2), 0, ember.tensor([0, 1]), ember.ones(2)),
     "source tensor shape must match"),
    (lambda: ember.index_add(ember.ones(3, 2), 0, ember.tensor([0, 1]), ember.ones(3, 2)),
     "Number of indices"),
    (lambda: ember.narrow_copy(ember.ones(10, 5, 20), 3, 0, 0), "Expected dim <"),
    (lambda: ember.masked_scatter(ember.ones(1, 3), ember.ones(1, 3, dtype=ember.uint8),
                                  ember.ones(3, 4)), "only supports boolean masks"),
    (lambda: ember.masked_fill(ember.ones(2, 2), ember.tensor(True), 1j), "without overflow"),
    (lambda: ember.masked_fill(ember.ones(2, dtype=ember.uint8), ember.tensor(True), 300),
     "without overflow"),
    (lambda: ember.gather(ember.ones(2, 2), 1, ember.zeros(2, 2, dtype=ember.int64),
                          out=ember.ones(2, 2, dtype=ember.float64)), "Expected out tensor"),
    (lambda: ember.aminmax(ember.ones(3, 3), dim=0,
                           out=(ember.ones(3), ember.ones(3, dtype=ember.float64))),
     "Expected out tensor"),
    (lambda: ember.gradient(ember.ones(3, 3), spacing=0.1, dim=(1, -1)),
     "appears multiple times"),
    (lambda: ember.gradient(ember.ones(3, 3), spacing=[ember.arange(3.0),
                                                       ember.ones(3, device="meta")],
                            dim=(0, 1)), "same device"),
    (lambda: ember.complex(ember.ones(2, dtype=ember.float64), ember.ones(2, dtype=ember.float64),
                           out=ember.ones(2, dtype=ember.complex64)), "for argument 'out'"),
    (lambda: ember.multinomial(ember.ones(1, 2), 2, out=ember.ones(1, 2)), "Long tensor out"),
])
def test_bad_arguments_raise_runtime_error(call, message):
    with pytest.raises(RuntimeError, match=message):
        call()


def test_fixed_refusals_leave_valid_calls_alone():
    out = ember.empty(3, dtype=ember.int64)
    assert ember.multinomial(ember.ones(3), 3, out=out) is out
    np.testing.assert_array_equal(np.sort(out.numpy()), [0, 1, 2])
    got = ember.index_add(ember.zeros(3, 2), 0, ember.tensor([0, 2]), ember.ones(2, 2))
    np.testing.assert_array_equal(got.numpy(), [[1, 1], [0, 0], [1, 1]])
    filled = ember.ones(2, dtype=ember.uint8).masked_fill(ember.tensor(True), 255)
    np.testing.assert_array_equal(filled.numpy(), [255, 255])
    np.testing.assert_array_equal(ember.narrow_copy(ember.arange(5), 0, 1, 2).numpy(), [1, 2])
    c = ember.complex(ember.ones(2), ember.zeros(2), out=ember.empty(2, dtype=ember.complex64))
    np.testing.assert_array_equal(c.numpy(), [1, 1])
