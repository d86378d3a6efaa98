"""Reduction, statistics, scan, sorting and indexing fixes from the OpInfo audit, checked
against real PyTorch."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


def _same(lib_out, torch_out, **tol):
    """Values, dtypes and shapes of one result (or a tuple of them) agree."""
    if isinstance(torch_out, (tuple, list)):
        assert len(lib_out) == len(torch_out)
        for a, b in zip(lib_out, torch_out):
            _same(a, b, **tol)
        return
    assert tuple(lib_out.shape) == tuple(torch_out.shape)
    assert str(lib_out.dtype) == str(torch_out.dtype)
    want = torch_out.detach()
    if want.dtype == torch.bfloat16:
        want, lib_out = want.float(), lib_out.float()
    np.testing.assert_allclose(lib_out.detach().numpy(), want.numpy(), **tol)


def _both(make):
    """``make(lib)`` for ember and for torch, on the same data."""
    return make(ember), make(torch)


def _arr(lib, a, dtype=None):
    t = lib.tensor(np.asarray(a))
    return t if dtype is None else t.to(getattr(lib, dtype))


CASES = {
    "cov_one_row": lambda L: L.cov(_arr(L, [[1.0, 4.0, 2.5]])),
    "cov_complex_weights": lambda L: L.cov(
        _arr(L, [1 + 2j, -0.5 + 1j, 3 - 1j]), correction=0,
        fweights=_arr(L, [1, 2, 1], "int32"), aweights=_arr(L, [0.5, 1.0, 2.0], "float32")),
    "cov_float32_float64_weights": lambda L: L.cov(
        _arr(L, [[1.0, 2.0, 0.5]], "float32"), aweights=_arr(L, [1.0, 2.0, 3.0])),
    "corrcoef_one_row": lambda L: L.corrcoef(_arr(L, [[1.0, 4.0, 2.5]])),
    "corrcoef_complex": lambda L: L.corrcoef(
        _arr(L, [[1 + 2j, 3 - 1j, 0.5 + 0.5j], [2 - 1j, 0 + 1j, 1 + 1j]])),
    "diff_n0_prepend_append": lambda L: L.diff(
        _arr(L, np.arange(25.0).reshape(5, 5)), 0, 0, _arr(L, np.ones((1, 5))),
        _arr(L, np.ones((2, 5)))),
    "diff_n_past_size": lambda L: L.diff(_arr(L, np.arange(27.0).reshape(3, 3, 3)), 6, 1),
    "diff_bool": lambda L: L.diff(_arr(L, [True, False, False, True, True]), 2),
    "gradient_spacing_none": lambda L: L.gradient(
        _arr(L, np.arange(5.0) ** 2), spacing=None, dim=None, edge_order=1),
    "hash_tensor_0d": lambda L: L.hash_tensor(_arr(L, 3.0), dim=0, keepdim=True),
    "hash_tensor_bfloat16": lambda L: L.hash_tensor(_arr(L, [1.5, -2.25], "bfloat16")),
    "histogramdd_decreasing_edges": lambda L: L.histogramdd(
        _arr(L, np.linspace(-3, 3, 10).reshape(5, 2)), [_arr(L, [1.0, -1.0]),
                                                        _arr(L, [-2.0, 0.0, 3.0])]),
    "logsumexp_complex": lambda L: L.logsumexp(_arr(L, [0.3 + 10j, -0.2 + 9j, 0.1 - 7.5j]), 0),
    "quantile_0d_dim": lambda L: L.quantile(_arr(L, 2.5), 0.5, dim=0, keepdim=True),
    "nanquantile_0d_vector_q": lambda L: L.nanquantile(_arr(L, 2.5), _arr(L, [0.2, 0.9]),
                                                       dim=-1),
    "var_mean_unbiased": lambda L: L.var_mean(_arr(L, np.arange(25.0).reshape(5, 5)), True),
    "std_mean_unbiased": lambda L: L.std_mean(_arr(L, np.arange(25.0).reshape(5, 5)), False),
    "searchsorted_sorter": lambda L: L.searchsorted(
        _arr(L, [3.0, 1.0, 2.0, 7.0, 5.0]), _arr(L, [0.5, 2.0, 2.5, 7.0, 9.0]), right=True,
        sorter=_arr(L, [1, 2, 0, 4, 3])),
    "searchsorted_empty": lambda L: L.searchsorted(L.zeros(0, 0), L.zeros(0, 0)),
    "searchsorted_0d_value": lambda L: L.searchsorted(_arr(L, [1, 3, 5]), _arr(L, 4)),
    "unique_consecutive_dim": lambda L: L.unique_consecutive(
        _arr(L, [[1, 1, 2], [1, 1, 2], [3, 3, 3], [1, 1, 2]]), True, True, dim=-2),
    "gather_empty_uint8": lambda L: L.gather(_arr(L, np.arange(5.0)), 0,
                                             L.zeros(2, 0, dtype=L.uint8)),
    "index_fill_0d": lambda L: L.index_fill(_arr(L, 2.0), 0, _arr(L, [0]), _arr(L, 5.0)),
    "scatter_reduce_bool_amax": lambda L: L.scatter_reduce(
        _arr(L, [True, False, True, False]), 0, _arr(L, [0, 0, 1, 3]),
        _arr(L, [False, False, True, True]), "amax", include_self=False),
    "scatter_reduce_bool_amin": lambda L: L.scatter_reduce(
        _arr(L, [True, False, True, False]), 0, _arr(L, [0, 0, 1, 3]),
        _arr(L, [False, False, True, True]), "amin"),
    "take_along_dim_wraps": lambda L: L.take_along_dim(
        _arr(L, np.arange(10.0).reshape(2, 5)), _arr(L, [[-1, 7], [-6, 4]]), 1),
    "cumsum_0d_int8": lambda L: L.cumsum(_arr(L, 3, "int8"), 0),
    "cumprod_0d_uint8": lambda L: L.cumprod(_arr(L, 3, "uint8"), 0),
    "cumsum_half_given_dtype": lambda L: L.cumsum(L.ones(4096, dtype=L.float16), 0,
                                                  dtype=L.float16),
    "var_half": lambda L: L.var(_arr(L, (np.arange(60.0).reshape(3, 20) * 7.3) % 41,
                                     "float16"), 1, correction=2),
    "index_add_uint8_negative_alpha": lambda L: L.index_add(
        _arr(L, [10, 20], "uint8"), 0, _arr(L, [0, 1]), _arr(L, [3, 30], "uint8"), alpha=-1),
    "trapezoid_uint8": lambda L: L.trapezoid(_arr(L, [[200, 100, 250]], "uint8"),
                                             _arr(L, [[1, 5, 200]], "uint8")),
    "cumulative_trapezoid_int8": lambda L: L.cumulative_trapezoid(
        _arr(L, [[100, 90, -50]], "int8"), _arr(L, [[1, 120, -100]], "int8")),
    "trapezoid_int_dx": lambda L: L.trapezoid(_arr(L, [1, 2, 3]), dx=2),
    "trapezoid_empty_int": lambda L: L.trapezoid(L.zeros(0, dtype=L.int64)),
    "trapezoid_x_fewer_dims": lambda L: L.trapezoid(
        L.ones(2, 3, 4), _arr(L, np.arange(12.0).reshape(3, 4)), dim=1),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch(name):
    got, want = _both(CASES[name])
    _same(got, want, rtol=1e-6, atol=1e-12)


def test_logcumsumexp_complex_branch_matches():
    rng = np.random.default_rng(0)
    for trial in range(60):
        x = rng.normal(size=(3, int(rng.integers(1, 25)))) * rng.choice([0.1, 1, 5])
        x = x + 1j * rng.uniform(-20, 20, size=x.shape)
        if trial % 3 == 0:
            x.real = np.round(x.real)  # equal real parts
        for dt, tol in (("complex128", 1e-9), ("complex64", 1e-4)):
            got = ember.logcumsumexp(_arr(ember, x, dt), 1)
            want = torch.logcumsumexp(_arr(torch, x, dt), 1)
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype, ulp", [("float16", 2.0 ** -10), ("bfloat16", 2.0 ** -7)])
def test_logcumsumexp_half_matches(dtype, ulp):
    x = np.random.default_rng(1).normal(size=(5, 5, 5)) * 3
    for dim in (0, 1, 2):  # computed in float32: one rounding of the result apart at most
        got = ember.logcumsumexp(_arr(ember, x, dtype), dim)
        want = torch.logcumsumexp(_arr(torch, x, dtype), dim)
        _same(got, want, rtol=ulp, atol=0)


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
def test_histc_matches_bin_for_bin(dtype):
    rng = np.random.default_rng(2)
    for _ in range(150):
        x = rng.normal(size=int(rng.integers(1, 300))) * rng.choice([1, 5])
        bins = int(rng.integers(1, 120))
        lo, hi = float(rng.choice([0, -3, -10])), float(rng.choice([0, 3, 10]))
        got = ember.histc(_arr(ember, x, dtype), bins, lo, hi)
        want = torch.histc(_arr(torch, x, dtype), bins, lo, hi)
        _same(got, want, rtol=0, atol=0)


def test_quantile_gradient_reaches_q():
    x = np.array([0.25, 1.5, -1.0, 3.0])
    grads = []
    for lib in (ember, torch):
        q = lib.tensor([0.2, 0.7], dtype=lib.float64, requires_grad=True)
        lib.quantile(_arr(lib, x), q).sum().backward()
        grads.append(q.grad.numpy())
    np.testing.assert_allclose(*grads, rtol=1e-12)


def test_cov_aweights_gradient():
    x = np.random.default_rng(3).normal(size=(2, 4))
    grads = []
    for lib in (ember, torch):
        xs = lib.tensor(x, requires_grad=True)
        w = lib.tensor([0.5, 1.0, 2.0, 1.5], dtype=lib.float64, requires_grad=True)
        lib.cov(xs, aweights=w).sum().backward()
        grads.append((xs.grad.numpy(), w.grad.numpy()))
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


ERRORS = {
    "kthvalue_empty_dim": lambda L: L.kthvalue(L.zeros(0, 2), 1, 0),
    "kthvalue_bool": lambda L: L.kthvalue(_arr(L, [True, False]), 1),
    "median_empty_dim": lambda L: L.median(L.zeros(2, 0), 1),
    "median_bool": lambda L: L.median(_arr(L, [True, False]), 0),
    "median_all_bool": lambda L: L.median(_arr(L, [True, False])),
    "nanmedian_empty_dim": lambda L: L.nanmedian(L.zeros(0, 2), 0),
    "mode_empty_dim": lambda L: L.mode(L.zeros(0, 2), 0),
    "topk_bool": lambda L: L.topk(_arr(L, [True, False]), 1),
    "logcumsumexp_int": lambda L: L.logcumsumexp(_arr(L, [1, 2]), 0),
    "nanmean_int": lambda L: L.nanmean(_arr(L, [1, 2])),
    "quantile_empty": lambda L: L.quantile(L.zeros(0, 3), 0.5, dim=1),
    "nanquantile_q_range": lambda L: L.nanquantile(L.zeros(3), 1.5),
    "quantile_interpolation": lambda L: L.quantile(L.zeros(3), 0.5, interpolation="foo"),
    "norm_inf_empty": lambda L: L.norm(L.zeros(0, 2), float("inf")),
    "norm_neg_inf_empty_dim": lambda L: L.norm(L.zeros(2, 0), float("-inf"), 1),
    "diff_negative_order": lambda L: L.diff(L.zeros(3), -1),
    "unique_consecutive_0d_dim": lambda L: L.unique_consecutive(L.zeros(()), dim=0),
    "take_along_dim_int32": lambda L: L.take_along_dim(L.zeros(2, 3), L.zeros(2, 1).int(), 1),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_error_matches_torch(name):
    with pytest.raises(Exception) as want:
        ERRORS[name](torch)
    with pytest.raises(type(want.value)) as got:
        ERRORS[name](ember)
    assert str(got.value) == str(want.value)


def test_unique_nan_matches():
    x = [float("nan"), 1.0, float("nan"), 1.0]
    got, want = _both(lambda L: L.unique(_arr(L, x), return_inverse=True, return_counts=True))
    _same(got, want)
