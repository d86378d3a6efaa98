"""The torch.* functions added for API coverage (pointwise extras, statistics, reshaping,
windows, in-place forms) against NumPy, with float64 gradchecks where differentiable."""
import math

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck

rng = np.random.default_rng(0)


def t(a, grad=False):
    return ember.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


# ---------------------------------------------------------------------------------------------
# Pointwise


def test_pointwise_values_match_numpy():
    x = rng.standard_normal(7)
    x[0] = 0.0
    y = rng.standard_normal(7)
    np.testing.assert_allclose(ember.sinc(t(x)).numpy(), np.sinc(x))
    np.testing.assert_allclose(ember.deg2rad(t(x)).numpy(), np.deg2rad(x))
    np.testing.assert_allclose(ember.rad2deg(t(x)).numpy(), np.rad2deg(x))
    np.testing.assert_allclose(ember.copysign(t(x), t(y)).numpy(), np.copysign(x, y))
    np.testing.assert_allclose(ember.ldexp(t(x), ember.tensor([3])).numpy(), np.ldexp(x, 3))
    np.testing.assert_allclose(ember.logaddexp2(t(x), t(y)).numpy(), np.logaddexp2(x, y))
    np.testing.assert_allclose(ember.i0(t(x)).numpy(), np.i0(x))
    np.testing.assert_array_equal(ember.nextafter(t(x), t(y)).numpy(), np.nextafter(x, y))
    m, e = ember.frexp(t(x))
    np.testing.assert_array_equal(m.numpy(), np.frexp(x)[0])
    assert e.dtype is ember.int32


def test_integer_pointwise_ops():
    a, b = ember.tensor([4, 6, 9]), ember.tensor([6, 4, 3])
    np.testing.assert_array_equal(ember.gcd(a, b).numpy(), [2, 2, 3])
    np.testing.assert_array_equal(ember.lcm(a, b).numpy(), [12, 12, 9])
    h = ember.heaviside(ember.tensor([-1.0, 0.0, 2.0]), ember.tensor([0.5, 0.5, 0.5]))
    np.testing.assert_array_equal(h.numpy(), [0.0, 0.5, 1.0])
    with pytest.raises(RuntimeError):
        ember.gcd(ember.tensor([1.0]), ember.tensor([2.0]))


def test_int_inputs_give_float_results():
    assert ember.deg2rad(ember.tensor([180])).dtype is ember.float32
    assert ember.sinc(ember.tensor([1])).dtype is ember.float32
    assert ember.copysign(ember.tensor([1]), -1).dtype is ember.float32


def test_aliases():
    a, b = t([1.0, 2.0]), t([3.0, 4.0])
    np.testing.assert_array_equal(ember.divide(a, b).numpy(), [1 / 3, 0.5])
    np.testing.assert_array_equal(ember.multiply(a, b).numpy(), [3.0, 8.0])
    np.testing.assert_array_equal(ember.subtract(a, b).numpy(), [-2.0, -2.0])
    assert ember.positive(a) is a
    with pytest.raises(RuntimeError):
        ember.positive(ember.tensor([True]))


@pytest.mark.parametrize("fn", [
    ember.sinc, ember.deg2rad, ember.rad2deg, ember.i0,
    lambda x: ember.copysign(x, ember.tensor([1.0, -1.0, 2.0, -0.0], dtype=ember.float64)),
    lambda x: ember.ldexp(x, ember.tensor([1, 2, 0, -1])),
    lambda x: ember.logaddexp2(x, x * 0.5 + 1),
    lambda x: ember.mvlgamma(x.abs() + 2, 3),
])
def test_pointwise_gradcheck(fn):
    assert gradcheck(fn, (t([0.3, -1.2, 0.0, 2.5], True),))


def test_sinc_and_i0_second_order():
    from ember.autograd import gradgradcheck
    assert gradgradcheck(ember.sinc, (t([0.3, -1.2, 0.7], True),))
    assert gradgradcheck(ember.i0, (t([0.3, -1.2, 0.7], True),))


def test_sinc_gradient_at_zero_is_zero():
    x = t([0.0], True)
    ember.sinc(x).sum().backward()
    assert x.grad.item() == 0.0


# ---------------------------------------------------------------------------------------------
# In-place forms


def test_inplace_forms_match_out_of_place():
    from ember.ops import inplace_forms as inpl
    x = rng.random(5) + 0.1
    for name in ["cos", "sin", "tan", "exp2", "expm1", "log1p", "log2", "log10", "rsqrt",
                 "sinh", "cosh", "trunc", "frac", "sinc", "deg2rad", "i0", "square", "erf"]:
        a = t(x)
        out = getattr(inpl, name + "_")(a)
        assert out is a
        expected = getattr(ember, name)(t(x)).numpy()
        np.testing.assert_allclose(a.numpy(), expected, err_msg=name)


def test_inplace_forms_keep_autograd_history():
    from ember.ops import inplace_forms as inpl
    x = t([0.5, 1.0], True)
    y = x * 1
    inpl.cos_(y)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), -np.sin([0.5, 1.0]))


def test_comparison_inplace_keeps_dtype():
    from ember.ops import inplace_forms as inpl
    a = ember.tensor([1.0, 2.0, 3.0])
    inpl.lt_(a, 2.5)
    assert a.dtype is ember.float32
    np.testing.assert_array_equal(a.numpy(), [1.0, 1.0, 0.0])


def test_torch_level_inplace_names():
    a = ember.tensor([0.25, 0.5])
    ember.cos_(a)
    np.testing.assert_allclose(a.numpy(), np.cos([0.25, 0.5]), rtol=1e-6)
    b = ember.tensor([1.0, -2.0])
    ember.clamp_min_(b, 0.0)
    np.testing.assert_array_equal(b.numpy(), [1.0, 0.0])


# ---------------------------------------------------------------------------------------------
# Statistics


def test_cov_corrcoef_match_numpy():
    x = rng.standard_normal((3, 6))
    fw = np.array([1, 2, 1, 3, 1, 1])
    aw = rng.random(6)
    np.testing.assert_allclose(ember.cov(t(x)).numpy(), np.cov(x))
    np.testing.assert_allclose(ember.cov(t(x), correction=0).numpy(), np.cov(x, ddof=0))
    np.testing.assert_allclose(
        ember.cov(t(x), fweights=ember.tensor(fw), aweights=t(aw)).numpy(),
        np.cov(x, fweights=fw, aweights=aw))
    np.testing.assert_allclose(ember.corrcoef(t(x)).numpy(), np.corrcoef(x))
    assert ember.cov(t(x[0])).shape == ()


def test_cov_gradcheck():
    aw = t(rng.random(5))
    assert gradcheck(lambda x: ember.cov(x, aweights=aw), (t(rng.random((2, 5)), True),))
    assert gradcheck(ember.corrcoef, (t(rng.random((3, 5)), True),))


@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
def test_quantile_matches_numpy(interpolation):
    x = rng.standard_normal((4, 9))
    q = [0.0, 0.25, 0.5, 0.9, 1.0]
    got = ember.quantile(t(x), t(q), dim=1, interpolation=interpolation).numpy()
    np.testing.assert_allclose(got, np.quantile(x, q, axis=1, method=interpolation))
    x[1, 3] = np.nan
    got = ember.nanquantile(t(x), 0.3, dim=1, keepdim=True, interpolation=interpolation)
    np.testing.assert_allclose(got.numpy(), np.nanquantile(x, 0.3, axis=1, keepdims=True,
                                                           method=interpolation))
    assert math.isnan(ember.quantile(t(x), 0.5, dim=1)[1].item())


def test_quantile_gradcheck():
    assert gradcheck(lambda x: ember.quantile(x, t([0.2, 0.7]), dim=0), (t(rng.random((5, 3)),
                                                                          True),))


def test_trapezoid_family_matches_numpy():
    y = rng.standard_normal((3, 6))
    x = np.sort(rng.random(6))
    np.testing.assert_allclose(ember.trapezoid(t(y), t(x)).numpy(), np.trapezoid(y, x))
    np.testing.assert_allclose(ember.trapezoid(t(y), dx=0.5, dim=0).numpy(),
                               np.trapezoid(y, dx=0.5, axis=0))
    np.testing.assert_allclose(ember.trapz(t(y), t(x)).numpy(), np.trapezoid(y, x))
    cum = ember.cumulative_trapezoid(t(y), t(x)).numpy()
    np.testing.assert_allclose(cum[:, -1], np.trapezoid(y, x))
    assert gradcheck(lambda a, b: ember.trapezoid(a, b), (t(y, True), t(x, True)))


def test_dist_renorm_histogram():
    a, b = rng.standard_normal(5), rng.standard_normal(5)
    np.testing.assert_allclose(ember.dist(t(a), t(b), 3).item(),
                               np.sum(np.abs(a - b) ** 3) ** (1 / 3))
    m = rng.standard_normal((3, 4)) * 3
    r = ember.renorm(t(m), 2, 0, 1.0).numpy()
    norms = np.linalg.norm(m, axis=1)
    expected = m * np.where(norms > 1.0, 1.0 / (norms + 1e-7), 1.0)[:, None]
    np.testing.assert_allclose(r, expected)
    assert gradcheck(lambda x: ember.renorm(x, 2, 0, 1.0), (t(m, True),))
    hist, edges = ember.histogram(t(m), 4)
    np_hist, np_edges = np.histogram(m, 4)
    np.testing.assert_array_equal(hist.numpy(), np_hist)
    np.testing.assert_allclose(edges.numpy(), np_edges)


# ---------------------------------------------------------------------------------------------
# Reshaping


def test_split_aliases_and_ravel():
    x = ember.arange(10.0)
    assert [p.shape[0] for p in ember.split_with_sizes(x, [3, 7])] == [3, 7]
    with pytest.raises(RuntimeError):
        ember.split_with_sizes(x, [3, 3])
    assert len(ember.unsafe_chunk(x, 3)) == 3
    assert len(ember.unsafe_split(x, 4)) == 3
    assert ember.ravel(x.reshape(2, 5).t()).shape == (10,)
    np.testing.assert_array_equal(ember.row_stack([x[:2], x[2:4]]).numpy(),
                                  np.vstack([np.arange(2.0), np.arange(2.0, 4.0)]))


def test_block_diag_combinations_vander():
    bd = ember.block_diag(ember.tensor([[1, 2]]), ember.tensor(3), ember.tensor([4, 5]))
    np.testing.assert_array_equal(bd.numpy(), [[1, 2, 0, 0, 0], [0, 0, 3, 0, 0],
                                               [0, 0, 0, 4, 5]])
    c = ember.combinations(ember.tensor([1, 2, 3]), 2)
    np.testing.assert_array_equal(c.numpy(), [[1, 2], [1, 3], [2, 3]])
    assert ember.combinations(ember.tensor([1, 2, 3]), 2, with_replacement=True).shape == (6, 2)
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(ember.vander(t(x)).numpy(), np.vander(x))
    np.testing.assert_array_equal(ember.vander(t(x), 4, increasing=True).numpy(),
                                  np.vander(x, 4, increasing=True))
    assert gradcheck(lambda a: ember.vander(a, 4), (t([0.0, 1.5, -2.0], True),))
    assert gradcheck(lambda a, b: ember.block_diag(a, b), (t([[1.0, 2.0]], True),
                                                         t([3.0], True)))


def test_scatter_ops_and_their_gradients():
    base = rng.standard_normal((4, 3))
    src = rng.standard_normal((2, 3))
    out = ember.slice_scatter(t(base), t(src), 0, 1, None, 2).numpy()
    expected = base.copy()
    expected[1::2] = src
    np.testing.assert_array_equal(out, expected)
    assert gradcheck(lambda a, b: ember.slice_scatter(a, b, 0, 1, None, 2),
                     (t(base, True), t(src, True)))
    assert gradcheck(lambda a, b: ember.select_scatter(a, b, 1, 2),
                     (t(base, True), t(base[:, 0], True)))
    sq = rng.standard_normal((3, 3))
    out = ember.diagonal_scatter(t(sq), t([7.0, 8.0]), 1).numpy()
    expected = sq.copy()
    expected[[0, 1], [1, 2]] = [7.0, 8.0]
    np.testing.assert_array_equal(out, expected)
    assert gradcheck(lambda a, b: ember.diagonal_scatter(a, b, -1),
                     (t(sq, True), t([1.0, 2.0], True)))


def test_view_as_real_complex_round_trip():
    z = np.array([1 + 2j, 3 - 1j])
    r = ember.view_as_real(ember.tensor(z))
    np.testing.assert_array_equal(r.numpy(), [[1, 2], [3, -1]])
    np.testing.assert_array_equal(ember.view_as_complex(r).numpy(), z)
    with pytest.raises(RuntimeError):
        ember.view_as_real(ember.ones(2))


def test_unravel_index_isin_fill():
    rows, cols = ember.unravel_index(ember.tensor([4, 5, -1]), (2, 3))
    np.testing.assert_array_equal(rows.numpy(), [1, 1, 1])
    np.testing.assert_array_equal(cols.numpy(), [1, 2, 2])
    np.testing.assert_array_equal(ember.isin(ember.tensor([1, 2, 3]), ember.tensor([2, 3])),
                                  [False, True, True])
    assert ember.isin(2, ember.tensor([1, 2])).item()
    a = ember.ones(3)
    np.testing.assert_array_equal(ember.fill(a, 2.0).numpy(), [2.0, 2.0, 2.0])
    assert a.sum().item() == 3.0
    ember.zero_(a)
    assert a.sum().item() == 0.0
    assert not ember.detach(ember.ones(1, requires_grad=True)).requires_grad


def test_fill_diagonal_and_put():
    from ember.ops.fill import fill_diagonal_
    from ember.ops.indexing import put
    a = ember.zeros(5, 2)
    fill_diagonal_(a, 1.0, wrap=True)
    expected = np.zeros((5, 2))
    np.fill_diagonal(expected, 1.0, wrap=True)
    np.testing.assert_array_equal(a.numpy(), expected)
    out = put(ember.zeros(2, 3), ember.tensor([0, 5]), ember.tensor([1.0, 2.0]))
    np.testing.assert_array_equal(out.numpy(), [[1, 0, 0], [0, 0, 2]])


# ---------------------------------------------------------------------------------------------
# Creation and windows


def test_empty_strided_and_frombuffer():
    e = ember.empty_strided((2, 3), (1, 2))
    assert e.shape == (2, 3) and e.stride() == (1, 2)
    buf = bytearray(np.arange(4, dtype=np.int32).tobytes())
    f = ember.frombuffer(buf, dtype=ember.int32)
    buf[0] = 9
    assert f[0].item() == 9


@pytest.mark.parametrize("n", [0, 1, 6, 7])
def test_windows_match_numpy_symmetric_forms(n):
    np.testing.assert_allclose(ember.hann_window(n, False, dtype=ember.float64).numpy(),
                               np.hanning(n))
    np.testing.assert_allclose(ember.hamming_window(n, False, dtype=ember.float64).numpy(),
                               np.hamming(n))
    np.testing.assert_allclose(ember.blackman_window(n, False, dtype=ember.float64).numpy(),
                               np.blackman(n), atol=1e-15)
    np.testing.assert_allclose(ember.bartlett_window(n, False, dtype=ember.float64).numpy(),
                               np.bartlett(n))
    np.testing.assert_allclose(ember.kaiser_window(n, False, 5.0, dtype=ember.float64).numpy(),
                               np.kaiser(n, 5.0))
    assert ember.hann_window(n).dtype is ember.float32


def test_stft_istft_round_trip():
    x = t(rng.standard_normal(400))
    w = ember.hann_window(64, dtype=ember.float64)
    spec = ember.stft(x, 64, hop_length=16, window=w, return_complex=True)
    assert spec.shape == (33, 26) and spec.is_complex()
    frame = np.pad(x.numpy(), 32, mode="reflect")[16 * 3:16 * 3 + 64] * w.numpy()
    np.testing.assert_allclose(spec[:, 3].numpy(), np.fft.rfft(frame))
    back = ember.istft(spec, 64, hop_length=16, window=w, length=400)
    np.testing.assert_allclose(back.numpy(), x.numpy(), atol=1e-10)
    with pytest.raises(RuntimeError):
        ember.stft(x, 64)


def test_incomplete_gamma_and_small_aliases():
    import scipy.special
    a, x = np.array([1.0, 2.5]), np.array([0.5, 3.0])
    np.testing.assert_allclose(ember.igamma(t(a), t(x)).numpy(), scipy.special.gammainc(a, x))
    np.testing.assert_allclose(ember.igammac(t(a), t(x)).numpy(), scipy.special.gammaincc(a, x))
    b = ember.ones(3)
    ember.fill_(b, 4.0)
    assert b.sum().item() == 12.0
    np.testing.assert_array_equal(ember.clip_(ember.tensor([-1.0, 2.0]), 0, 1).numpy(), [0, 1])
    np.testing.assert_array_equal(ember.put(ember.zeros(3), ember.tensor([2]),
                                            ember.tensor([1.0])).numpy(), [0, 0, 1])
    assert ember.get_device(ember.zeros(1)) == -1
    assert [p.shape[2] for p in ember.dsplit(ember.zeros(1, 1, 4), 2)] == [2, 2]
