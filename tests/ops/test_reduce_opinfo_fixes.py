"""Regressions from the OpInfo audit of reductions, statistics, scans, sorting and indexing:
oracles are NumPy, hand-computed values and float64 gradcheck."""
import cmath
import math

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck


def _t(a):
    return ember.tensor(np.asarray(a))


# --- covariance ------------------------------------------------------------------------------

def test_cov_of_one_variable_is_0d():
    x = np.array([[1.0, 4.0, 2.0]])
    got = ember.cov(_t(x))
    assert got.shape == ()
    np.testing.assert_allclose(got.item(), np.cov(x))
    assert ember.corrcoef(_t(x)).shape == ()


def test_cov_complex_with_weights_matches_numpy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5)) + 1j * rng.normal(size=(2, 5))
    fw = np.array([1, 2, 1, 3, 1])
    aw = rng.uniform(0.1, 1.0, size=5)
    for ddof in (0, 1):
        got = ember.cov(_t(x), correction=ddof, fweights=_t(fw), aweights=_t(aw))
        np.testing.assert_allclose(got.numpy(), np.cov(x, ddof=ddof, fweights=fw, aweights=aw),
                                   rtol=1e-12)


def test_corrcoef_complex_clips_each_part():
    x = _t(np.array([[1 + 2j, 3 - 1j, 0.5 + 0.5j], [2 - 1j, 0 + 1j, 1 + 1j]]))
    c = ember.corrcoef(x).numpy()
    assert np.all(np.abs(c.real) <= 1) and np.all(np.abs(c.imag) <= 1)
    np.testing.assert_allclose(c.diagonal(), [1, 1], atol=1e-12)


# --- diff, gradient --------------------------------------------------------------------------

def test_diff_order_zero_is_a_copy_of_input_alone():
    x = _t(np.arange(6.0).reshape(2, 3))
    got = ember.diff(x, 0, 0, _t(np.ones((1, 3))), _t(np.ones((2, 3))))
    assert got.shape == (2, 3) and np.array_equal(got.numpy(), x.numpy())
    got.add_(1)
    assert x[0, 0].item() == 0.0


def test_diff_order_past_the_size_is_empty():
    x = _t(np.arange(27.0).reshape(3, 3, 3))
    assert ember.diff(x, 6, 1).shape == (3, 0, 3)
    assert ember.diff(_t([1, 2, 3]), 5).shape == (0,)


def test_diff_of_bool_is_xor():
    x = np.array([True, False, False, True, True])
    for n in (1, 2, 3):
        np.testing.assert_array_equal(ember.diff(_t(x), n).numpy(), np.diff(x, n))
    assert ember.diff(_t(x)).dtype is ember.bool


def test_diff_errors():
    with pytest.raises(RuntimeError, match="order must be non-negative"):
        ember.diff(_t([1.0, 2.0]), -1)
    with pytest.raises(RuntimeError, match="at least one-dimensional"):
        ember.diff(ember.tensor(1.0))


def test_gradient_with_spacing_none():
    x = np.arange(25.0).reshape(5, 5) ** 2
    got = ember.gradient(_t(x), spacing=None, dim=None, edge_order=2)
    for g, want in zip(got, np.gradient(x, edge_order=2)):
        np.testing.assert_allclose(g.numpy(), want)


# --- hash_tensor -----------------------------------------------------------------------------

def test_hash_tensor_of_0d_along_dim():
    x = ember.tensor(3.0)
    want = np.array(3.0).view(np.uint64)
    assert ember.hash_tensor(x, dim=0, keepdim=True).item() == want
    assert ember.hash_tensor(x, dim=-1).shape == ()
    with pytest.raises(IndexError):
        ember.hash_tensor(x, dim=1)


def test_hash_tensor_bfloat16_widens_to_float64():
    x = ember.tensor([1.5, -2.0]).to(ember.bfloat16)
    want = np.bitwise_xor.reduce(np.array([1.5, -2.0]).view(np.uint64))
    assert ember.hash_tensor(x).item() == want


# --- histograms ------------------------------------------------------------------------------

def test_histogramdd_edges_taken_as_given():
    rng = np.random.default_rng(1)
    pts = rng.normal(size=(40, 2))
    edges = [np.array([-2.0, -0.5, 0.0, 2.0]), np.array([-1.0, 1.0, 3.0])]
    w = rng.uniform(size=40)
    for density in (False, True):
        hist, bin_edges = ember.histogramdd(_t(pts), [_t(e) for e in edges], weight=_t(w),
                                            density=density)
        want, _ = np.histogramdd(pts, edges, weights=w, density=density)
        np.testing.assert_allclose(hist.numpy(), want, rtol=1e-12)
        np.testing.assert_array_equal(bin_edges[1].numpy(), edges[1])
    # decreasing edges (NumPy refuses them): no point lies between the first and last edge
    hist, _ = ember.histogramdd(_t(pts), [_t([1.0, -1.0]), _t([2.0, 1.0])])
    np.testing.assert_array_equal(hist.numpy(), [[0.0]])


def test_histc_bins_by_linear_position():
    x = _t([0.0, 1.0, 2.0, 3.0, 3.5, -1.0])
    np.testing.assert_array_equal(ember.histc(x, 3, 0, 3).numpy(), [1, 1, 2])
    # in float16, (6.6 + 10) * 100 / 20 rounds to 82.94: bin 82, where NumPy's search of the
    # edges gives 83 (6.6 is the left edge of bin 83 in float16)
    y = ember.tensor([6.6], dtype=ember.float16)
    np.testing.assert_array_equal(ember.histc(y, 100, -10, 10).numpy().nonzero()[0], [82])


@pytest.mark.parametrize("args, match", [
    (([1.0, float("nan")], 0, 0), "range of \\[nan, nan\\] is not finite"),
    (([1.0, 2.0], 0, float("inf")), "is not finite"),
    (([1.0, 2.0], 3, 1), "max must be larger than min")])
def test_histc_range_errors(args, match):
    data, lo, hi = args
    with pytest.raises(RuntimeError, match=match):
        ember.histc(_t(data), 10, lo, hi)


# --- logsumexp, logcumsumexp -----------------------------------------------------------------

def test_logsumexp_complex_principal_branch():
    x = np.array([0.3 + 10.0j, -0.2 + 9.0j, 0.1 - 7.5j])
    got = ember.logsumexp(_t(x), 0).item()
    s = np.exp(x).sum()
    assert got.imag == pytest.approx(np.angle(s), abs=1e-12)
    assert got.real == pytest.approx(np.log(abs(s)), abs=1e-12)


def _running_log_add_exp(row):
    """The running log(exp(a) + exp(b)): the one of larger real part (b, the new element, on a
    tie) plus log1p(exp(other - it))."""
    out, acc = [], None
    for b in row:
        if acc is None:
            acc = b
        else:
            lo, hi = (acc, b) if acc.real <= b.real else (b, acc)
            acc = hi + cmath.log(1 + cmath.exp(lo - hi))
        out.append(acc)
    return out


def test_logcumsumexp_complex_follows_the_running_sum():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 7)) + 1j * rng.uniform(-20, 20, size=(3, 7))
    x[0, :3] = [0 - 9.9j, 0 - 0.2j, 0 + 6.3j]  # equal real parts
    got = ember.logcumsumexp(_t(x), 1).numpy()
    want = np.array([_running_log_add_exp(list(row)) for row in x])
    np.testing.assert_allclose(got, want, atol=1e-10)


def test_logcumsumexp_complex_gradcheck():
    x = ember.tensor([[0.3 + 4.0j, -0.1 - 5.0j, 1.0 + 2.0j]], dtype=ember.complex128,
                     requires_grad=True)
    assert gradcheck(lambda t: ember.logcumsumexp(t, 1), (x,))


def test_half_scans_and_var_accumulate_in_float32():
    rng = np.random.default_rng(3)
    ones = np.ones(4096, np.float16)
    got = ember.cumsum(_t(ones), 0, dtype=ember.float16).numpy()
    np.testing.assert_array_equal(got, np.cumsum(ones, dtype=np.float32).astype(np.float16))
    x = (rng.normal(size=(5, 40)) * 30).astype(np.float16)
    got = ember.var(_t(x), 1, correction=2).numpy()
    np.testing.assert_array_equal(got, np.var(x.astype(np.float32), 1, ddof=2).astype(np.float16))
    y = rng.normal(size=(4, 30)).astype(np.float16)
    want = np.logaddexp.accumulate(y.astype(np.float32), 1).astype(np.float16)
    got = ember.logcumsumexp(_t(y), 1).numpy().astype(np.float32)
    np.testing.assert_allclose(got, want.astype(np.float32), rtol=2e-3)


@pytest.mark.parametrize("fn", [ember.cumsum, ember.cumprod])
def test_scans_of_0d_integers_give_int64(fn):
    out = fn(ember.tensor(3, dtype=ember.int8), 0)
    assert out.dtype is ember.int64 and out.shape == () and out.item() == 3
    with pytest.raises(IndexError):
        fn(ember.tensor(3), 1)


# --- quantile, var_mean ----------------------------------------------------------------------

def test_quantile_of_0d_along_dim():
    x = ember.tensor(2.5)
    assert ember.quantile(x, 0.5, dim=0).item() == 2.5
    assert ember.nanquantile(x, 0.5, dim=-1, keepdim=True).shape == ()
    q = ember.tensor([0.2, 0.7])
    assert ember.quantile(x, q, dim=0, keepdim=True).shape == (2,)
    assert ember.quantile(x, q[0], dim=0).shape == ()


def test_quantile_gradient_reaches_q():
    x = _t([0.25, 1.5, -1.0, 3.0])
    q = ember.tensor([0.2, 0.7], dtype=ember.float64, requires_grad=True)
    assert gradcheck(lambda q: ember.quantile(x, q), (q,))
    assert gradcheck(lambda q: ember.nanquantile(x, q), (q,))


@pytest.mark.parametrize("name", ["var_mean", "std_mean"])
def test_var_mean_with_unbiased_positional(name):
    x = np.random.default_rng(4).normal(size=(5, 5))
    spread, mean = getattr(ember, name)(_t(x), True)
    assert mean.shape == () and spread.shape == ()
    np.testing.assert_allclose(mean.item(), x.mean())
    want = x.var(ddof=1) if name == "var_mean" else x.std(ddof=1)
    np.testing.assert_allclose(spread.item(), want)


# --- searchsorted, unique_consecutive --------------------------------------------------------

def test_searchsorted_with_sorter():
    seq = np.array([3.0, 1.0, 2.0, 7.0, 5.0])
    sorter = np.argsort(seq)
    vals = np.array([0.5, 2.0, 2.5, 7.0, 9.0])
    for side in ("left", "right"):
        got = ember.searchsorted(_t(seq), _t(vals), side=side, sorter=_t(sorter))
        np.testing.assert_array_equal(got.numpy(), np.searchsorted(seq, vals, side, sorter))


def test_searchsorted_empty_batches():
    assert ember.searchsorted(ember.zeros(0, 0), ember.zeros(0, 0)).shape == (0, 0)
    assert ember.searchsorted(ember.zeros(2, 3), ember.zeros(2, 0)).shape == (2, 0)
    np.testing.assert_array_equal(ember.searchsorted(ember.zeros(2, 0), ember.ones(2, 3)),
                                  np.zeros((2, 3)))
    with pytest.raises(RuntimeError, match="side and right can't be set to opposites"):
        ember.searchsorted(ember.zeros(3), ember.ones(1), right=True, side="left")


def test_unique_consecutive_along_dim():
    x = _t([[1, 1, 2], [1, 1, 2], [3, 3, 3], [1, 1, 2]])
    values, inverse, counts = ember.unique_consecutive(x, True, True, dim=0)
    np.testing.assert_array_equal(values.numpy(), [[1, 1, 2], [3, 3, 3], [1, 1, 2]])
    np.testing.assert_array_equal(inverse.numpy(), [0, 0, 1, 2])
    np.testing.assert_array_equal(counts.numpy(), [2, 1, 1])
    values, inverse, counts = ember.unique_consecutive(x, True, True, dim=-1)
    np.testing.assert_array_equal(values.numpy(), [[1, 2], [1, 2], [3, 3], [1, 2]])
    np.testing.assert_array_equal(inverse.numpy(), [0, 0, 1])
    np.testing.assert_array_equal(counts.numpy(), [2, 1])
    assert ember.unique_consecutive(ember.zeros(0, 3), dim=0).shape == (0, 3)
    with pytest.raises(RuntimeError, match="0 sized dimensions"):
        ember.unique_consecutive(ember.zeros(2, 0), dim=0)
    with pytest.raises(IndexError):
        ember.unique_consecutive(ember.tensor(1.0), dim=0)


# --- gather, scatter, index_*, take_along_dim ------------------------------------------------

def test_empty_index_of_any_dtype_reads_nothing():
    x = _t(np.arange(5.0))
    assert ember.gather(x, 0, ember.zeros(0, dtype=ember.uint8)).shape == (0,)
    assert ember.gather(x, 0, ember.zeros(2, 0, dtype=ember.uint8)).shape == (2, 0)
    for dt in (ember.uint8, ember.float32):
        got = ember.scatter(x, 0, ember.zeros(0, dtype=dt), x)
        np.testing.assert_array_equal(got.numpy(), x.numpy())
    with pytest.raises(RuntimeError, match="Expected dtype int32/int64 for index"):
        ember.gather(x, 0, ember.zeros(1, dtype=ember.uint8))


def test_index_fill_of_0d_with_0d_value():
    x = ember.tensor(2.0, requires_grad=True)
    v = ember.tensor(5.0, requires_grad=True)
    y = ember.index_fill(x * 1, 0, ember.tensor([0]), v)
    assert y.shape == () and y.item() == 5.0
    y.backward()
    assert x.grad.item() == 0.0 and v.grad.item() == 1.0
    z = ember.tensor(2.0)
    z.index_fill_(0, ember.tensor(0), 7)
    assert z.item() == 7.0


def test_scatter_reduce_bool_extremes():
    x = _t([True, False, True, False])
    idx = _t([0, 0, 1, 3])
    src = _t([False, False, True, True])
    got = ember.scatter_reduce(x, 0, idx, src, "amax", include_self=False)
    np.testing.assert_array_equal(got.numpy(), [False, True, True, True])
    got = ember.scatter_reduce(x, 0, idx, src, "amin", include_self=False)
    np.testing.assert_array_equal(got.numpy(), [False, True, True, True])
    got = ember.scatter_reduce(x, 0, idx, src, "amin")
    np.testing.assert_array_equal(got.numpy(), [False, False, True, False])


def test_take_along_dim_wraps_indices_modulo_the_size():
    x = _t(np.arange(10.0).reshape(2, 5))
    idx = np.array([[-1, 7], [-6, 4]])
    got = ember.take_along_dim(x, _t(idx), 1)
    np.testing.assert_array_equal(got.numpy(), np.take_along_axis(x.numpy(), idx % 5, 1))
    with pytest.raises(RuntimeError, match="out of bounds"):
        ember.take_along_dim(x, _t([-1, 0]))  # flattened: no wrapping
    with pytest.raises(RuntimeError, match="should be Long"):
        ember.take_along_dim(x, _t(idx).int(), 1)


def test_index_add_negative_alpha_wraps_unsigned():
    x = ember.tensor([10, 20], dtype=ember.uint8)
    src = ember.tensor([3, 30], dtype=ember.uint8)
    got = ember.index_add(x, 0, _t([0, 1]), src, alpha=-1)
    np.testing.assert_array_equal(got.numpy(), (np.array([10, 20]) - [3, 30]) % 256)


# --- trapezoid -------------------------------------------------------------------------------

def test_trapezoid_integer_samples_add_in_their_dtype():
    y = np.array([[200, 100, 250]], np.uint8)
    x = np.array([[1, 5, 200]], np.uint8)
    dx = np.diff(x)  # uint8 arithmetic, wrapping as PyTorch's does
    want = ((y[:, :-1] + y[:, 1:]) * dx).astype(np.int64).sum(1) / 2.0
    np.testing.assert_allclose(ember.trapezoid(_t(y), _t(x)).numpy(), want)
    want = np.cumsum(((y[:, :-1] + y[:, 1:]) * dx).astype(np.int64), 1) / 2.0
    np.testing.assert_allclose(ember.cumulative_trapezoid(_t(y), _t(x)).numpy(), want)


def test_trapezoid_constant_spacing_and_empty():
    y = np.array([1.0, 2.0, 4.0, 3.0])
    assert ember.trapezoid(_t(y), dx=0.5).item() == pytest.approx(np.trapezoid(y, dx=0.5))
    assert ember.trapezoid(_t([1, 2, 3])).dtype is ember.float32
    empty = ember.trapezoid(ember.zeros(0, dtype=ember.int64))
    assert empty.dtype is ember.int64 and empty.item() == 0
    assert ember.cumulative_trapezoid(ember.zeros(2, 0)).shape == (2, 0)
    with pytest.raises(RuntimeError, match="bool is not supported"):
        ember.trapezoid(_t([True, False]))


def test_trapezoid_gradcheck():
    y = ember.tensor(np.random.default_rng(5).normal(size=(3, 4)), requires_grad=True)
    x = ember.tensor([0.0, 0.5, 1.5, 3.0], dtype=ember.float64, requires_grad=True)
    assert gradcheck(lambda y, x: ember.trapezoid(y, x), (y, x))
    assert gradcheck(lambda y: ember.cumulative_trapezoid(y, dx=0.3, dim=0), (y,))
    assert math.isfinite(ember.trapezoid(y, dx=2.0).sum().item())


# --- errors PyTorch raises -------------------------------------------------------------------

@pytest.mark.parametrize("call, error, match", [
    (lambda: ember.kthvalue(ember.zeros(0, 2), 1, 0), IndexError,
     "kthvalue\\(\\): Expected reduction dim 0 to have non-zero size"),
    (lambda: ember.median(ember.zeros(2, 0), 1), IndexError, "median\\(\\): Expected reduction"),
    (lambda: ember.nanmedian(ember.zeros(0, 2), 0), IndexError, "median\\(\\): Expected"),
    (lambda: ember.mode(ember.zeros(0, 2), 0), IndexError, "mode\\(\\): Expected reduction"),
    (lambda: ember.kthvalue(_t([True, False]), 1), NotImplementedError, "kthvalue_cpu"),
    (lambda: ember.median(_t([True, False]), 0), NotImplementedError, "median_out"),
    (lambda: ember.median(_t([True, False])), NotImplementedError, "median_cpu"),
    (lambda: ember.topk(_t([True, False]), 1), RuntimeError, "topk does not support bool"),
    (lambda: ember.logcumsumexp(_t([1, 2]), 0), NotImplementedError, "logcumsumexp_out_cpu"),
    (lambda: ember.nanmean(_t([1, 2])), RuntimeError, "floating point or complex dtype"),
    (lambda: ember.quantile(ember.zeros(0, 3), 0.5, dim=1), RuntimeError, "must be non-empty"),
    (lambda: ember.nanquantile(ember.zeros(3), 1.5), RuntimeError,
     "quantile\\(\\) q must be in the range"),
    (lambda: ember.quantile(ember.zeros(3), 0.5, interpolation="foo"), RuntimeError,
     "interpolation must be one of"),
    (lambda: ember.norm(ember.zeros(0, 2), float("inf")), RuntimeError,
     "cannot compute the inf norm on an empty tensor"),
    (lambda: ember.norm(ember.zeros(2, 0), float("-inf"), 1), RuntimeError,
     "cannot compute the -inf norm on the dimension 1"),
])
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_unique_keeps_each_nan():
    x = _t([np.nan, 1.0, np.nan, 1.0])
    values, inverse, counts = ember.unique(x, return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(values.numpy(), [1.0, np.nan, np.nan])
    np.testing.assert_array_equal(inverse.numpy(), [1, 0, 2, 0])
    np.testing.assert_array_equal(counts.numpy(), [2, 1, 1])
