"""Half-precision ops that compute in float32 and round once (as PyTorch's CPU kernels do), and
dtype rules found by running the OpInfo samples in float16, bfloat16, int32, uint8, complex64.
Oracles: the same arithmetic in NumPy float32 (or float64), rounded to the half type."""
import math

import ml_dtypes
import numpy as np
import pytest

import ember

HALVES = {"float16": np.float16, "bfloat16": ml_dtypes.bfloat16}


def _half(values, name):
    """An ember tensor of ``name`` holding ``values`` rounded, and those rounded values."""
    a = np.asarray(values, np.float32).astype(HALVES[name])
    return ember.tensor(a.astype(np.float32)).to(getattr(ember, name)), a


def _values(t):
    return t.float().numpy()


@pytest.fixture(params=list(HALVES))
def half(request):
    return request.param


def _rng():
    return np.random.default_rng(0)


def test_log_softmax_and_softmax_round_as_pytorch(half):
    x, a = _half(_rng().standard_normal((6, 50)) * 4, half)
    w = a.astype(np.float32)
    shifted = w - w.max(1, keepdims=True)
    # PyTorch's last-dim kernel keeps the row's sum of exp and its log in the half type
    total = np.exp(shifted).sum(1, keepdims=True).astype(HALVES[half]).astype(np.float32)
    lse = np.log(total).astype(HALVES[half]).astype(np.float32)
    want_log = (shifted - lse).astype(HALVES[half]).astype(np.float32)
    want = (np.exp(shifted) / np.exp(shifted).sum(1, keepdims=True)).astype(HALVES[half])
    got_log = ember.log_softmax(x, 1)
    assert got_log.dtype == x.dtype and ember.softmax(x, 1).dtype == x.dtype
    np.testing.assert_allclose(_values(got_log), want_log, rtol=1e-2, atol=1e-3)
    np.testing.assert_allclose(_values(ember.softmax(x, 1)), want.astype(np.float32),
                               rtol=1e-2, atol=1e-4)
    # a near-zero log-probability: rounding exp, sum and log in half loses it entirely
    x, _ = _half([[10.0, 5.75, 0.0, -1.0]], half)
    exact = 10.0 - math.log(math.exp(10) + math.exp(5.75) + 1 + math.exp(-1))
    assert abs(_values(ember.log_softmax(x, 1))[0, 0] + 0.01439) < 2e-3, exact


def test_mvlgamma_terms_sum_in_float32(half):
    _, a = _half(_rng().uniform(2.5, 12, 40), half)
    x = ember.tensor(a.astype(np.float32)).to(getattr(ember, half))
    p = 4
    terms = [np.float32(math.lgamma(float(v) - i / 2)) for v in a.astype(np.float32)
             for i in range(p)]
    want = np.array(terms, np.float32).reshape(-1, p).sum(1) + p * (p - 1) / 4 * math.log(math.pi)
    got = ember.mvlgamma(x, p)
    assert got.dtype == x.dtype
    np.testing.assert_allclose(_values(got), want, rtol=2e-3 if half == "float16" else 1.6e-2)


def _scatter_case(half):
    src, a = _half(_rng().standard_normal((32, 64)) * 3, half)
    index = np.arange(32 * 64).reshape(32, 64) % 4
    return src, a.astype(np.float32), index


def test_scatter_add_and_reduce_accumulate_in_float32(half):
    src, a, index = _scatter_case(half)
    pos = (index, np.arange(64)[None, :].repeat(32, 0))
    wide = np.zeros((32, 64), np.float32)
    np.add.at(wide, pos, a)
    want = wide.astype(HALVES[half]).astype(np.float32)
    zeros = ember.zeros(32, 64, dtype=src.dtype)
    got = zeros.scatter_add(0, ember.tensor(index), src)
    assert got.dtype == src.dtype
    np.testing.assert_array_equal(_values(got), want)
    got = zeros.scatter_reduce(0, ember.tensor(index), src, "sum")
    np.testing.assert_array_equal(_values(got), want)
    count = np.zeros((32, 64), np.float32)
    np.add.at(count, pos, 1)
    mean = (wide / np.maximum(count + 1, 1)).astype(HALVES[half]).astype(np.float32)
    got = zeros.scatter_reduce(0, ember.tensor(index), src, "mean")
    np.testing.assert_array_equal(_values(got), mean)


def test_index_add_accumulates_in_float32_except_a_vector(half):
    src, a, _ = _scatter_case(half)
    index = np.arange(32) % 4
    wide = np.zeros((4, 64), np.float32)
    np.add.at(wide, index, a)
    got = ember.zeros(4, 64, dtype=src.dtype).index_add(0, ember.tensor(index), src)
    np.testing.assert_array_equal(_values(got), wide.astype(HALVES[half]).astype(np.float32))
    # a vector accumulates in its own precision, element by element (PyTorch's scalar kernel)
    flat = a.reshape(-1)
    narrow = np.zeros(4, HALVES[half])
    np.add.at(narrow, np.arange(flat.size) % 4, flat.astype(HALVES[half]))
    got = ember.zeros(4, dtype=src.dtype).index_add(0, ember.tensor(np.arange(flat.size) % 4),
                                                    src.reshape(-1))
    np.testing.assert_array_equal(_values(got), narrow.astype(np.float32))


@pytest.mark.parametrize("loss", ["mse", "bce", "bce_logits"])
def test_loss_means_accumulate_in_float32(half, loss):
    x, a = _half(_rng().standard_normal(4096) * 3, half)
    t, b = _half(_rng().uniform(0.05, 0.95, 4096), half)
    F = ember.nn.functional
    if loss == "mse":
        elementwise = (a - b) * (a - b)  # in the half type, as the kernel rounds each
        got = F.mse_loss(x, t)
    elif loss == "bce":
        p, q = _half(1 / (1 + np.exp(-a.astype(np.float32))), half)
        q = q.astype(np.float32)
        with np.errstate(divide="ignore"):  # logs clamped at -100, as PyTorch's BCE
            logs = np.maximum(np.log(q), -100), np.maximum(np.log(1 - q), -100)
        elementwise = -(b.astype(np.float32) * logs[0] + (1 - b.astype(np.float32)) * logs[1])
        got = F.binary_cross_entropy(p, t)
    else:
        z = a.astype(np.float32)
        elementwise = (1 - b.astype(np.float32)) * z + np.logaddexp(0, -z)
        got = F.binary_cross_entropy_with_logits(x, t)
    want = np.asarray(elementwise, np.float32).mean()
    assert got.dtype == x.dtype
    np.testing.assert_allclose(float(got), want, rtol=1e-2)


def test_floor_divide_in_float32_with_the_number_unrounded(half):
    x, a = _half(_rng().standard_normal(2048) * 3, half)
    want = np.floor_divide(a.astype(np.float32), np.float32(0.3))
    for got in (ember.floor_divide(x, 0.3), ember.div(x, 0.3, rounding_mode="floor")):
        assert got.dtype == x.dtype
        np.testing.assert_array_equal(_values(got), want)


def test_trunc_division_rounds_the_quotient_first(half):
    x, a = _half([139.0 * 0.7], half)
    y, b = _half([0.7], half)
    quotient = (a.astype(np.float32) / b.astype(np.float32)).astype(HALVES[half])
    np.testing.assert_array_equal(_values(ember.div(x, y, rounding_mode="trunc")),
                                  np.trunc(quotient.astype(np.float32)))


@pytest.mark.parametrize("decimals", [-1, 1, 2, 3])
def test_round_with_decimals_scales_in_float32(half, decimals):
    x, a = _half(_rng().standard_normal(4096) * 30, half)
    want = np.round(a.astype(np.float32), decimals).astype(HALVES[half]).astype(np.float32)
    got = ember.round(x, decimals=decimals)
    assert got.dtype == x.dtype
    np.testing.assert_array_equal(_values(got), want)


@pytest.mark.parametrize("a, b, want", [
    ("float16", "int64", "float16"), ("bfloat16", "int8", "bfloat16"),
    ("bfloat16", "float16", "float32"), ("int32", "int64", "float32"),
    ("int32", "float16", "float16"), ("float64", "int64", "float64"),
])
def test_ldexp_result_dtype(a, b, want):
    x = ember.tensor([3.0, -1.5, 0.25]).to(getattr(ember, a)) if a[0] == "f" or a[0] == "b" \
        else ember.tensor([3, -1, 2], dtype=getattr(ember, a))
    e = ember.tensor([2, -1, 3]).to(getattr(ember, b))
    got = ember.ldexp(x, e)
    assert got.dtype == getattr(ember, want)
    np.testing.assert_array_equal(got.float().numpy(),
                                  x.double().numpy() * 2.0 ** e.double().numpy())
