"""Edge cases of the indexing and sorting ops, and of where / copysign / heaviside / cosine
similarity, checked against NumPy: NumPy's ``axis=`` and ``out=`` keywords, refusals of complex
input, NaN ranking, and the result dtypes of Python-number operands."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F

RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 4))
IDX = np.array([[2, 0, 1, 1]])
IDX1 = np.array([2, 0, 2])


def _t(a, requires_grad=False):
    return ember.tensor(a, requires_grad=requires_grad)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_sort_axis_and_out(axis):
    vals, idx = ember.empty(0, dtype=ember.float64), ember.empty(0, dtype=ember.long)
    got = ember.sort(_t(A), axis=axis, out=(vals, idx))
    assert got.values is vals and got.indices is idx
    np.testing.assert_array_equal(vals.numpy(), np.sort(A, axis=axis))
    np.testing.assert_array_equal(idx.numpy(), np.argsort(A, axis=axis, kind="stable"))
    out = ember.empty(0, dtype=ember.long)
    assert ember.argsort(_t(A), axis=axis, stable=True, out=out) is out
    np.testing.assert_array_equal(out.numpy(), np.argsort(A, axis=axis, kind="stable"))


def test_msort_topk_kthvalue_out_and_axis():
    out = ember.empty(0, dtype=ember.float64)
    assert ember.msort(_t(A), out=out) is out
    np.testing.assert_array_equal(out.numpy(), np.sort(A, axis=0))
    top = ember.topk(_t(A), 2, axis=0)
    np.testing.assert_array_equal(top.values.numpy(), -np.sort(-A, axis=0)[:2])
    kv = ember.kthvalue(_t(A), 2, axis=1, keepdims=True)
    np.testing.assert_array_equal(kv.values.numpy(), np.sort(A, axis=1)[:, 1:2])
    outs = (ember.empty(0, dtype=ember.float64), ember.empty(0, dtype=ember.long))
    ember.kthvalue(_t(A), 3, 1, out=outs)
    np.testing.assert_array_equal(outs[0].numpy(), np.sort(A, axis=1)[:, 2])
    np.testing.assert_array_equal(outs[1].numpy(), np.argsort(A, axis=1)[:, 2])


def test_topk_ranks_nan_largest():
    a = A.copy()
    a[np.arange(3), np.argmin(a, axis=1)] = np.nan
    top = _t(a).topk(1)
    assert np.isnan(top.values.numpy()).all()
    np.testing.assert_array_equal(top.indices.numpy()[:, 0], np.argmin(A, axis=1))
    low = _t(a).topk(3, largest=False)  # NaN is never among the smallest
    assert not np.isnan(low.values.numpy()).any()


@pytest.mark.parametrize("op", ["sort", "argsort", "msort", "topk"])
def test_ordering_ops_refuse_complex(op):
    z = _t(A + 1j * A)
    args = (1,) if op == "topk" else ()
    with pytest.raises(RuntimeError):
        getattr(ember, op)(z, *args)


def test_kthvalue_refuses_complex():
    with pytest.raises(NotImplementedError):
        ember.kthvalue(_t(A + 1j), 1)


def test_gather_index_select_take_along_dim_axis_and_out():
    x = _t(A)
    expected = np.take_along_axis(A[:1], IDX, axis=1)  # gather reads only index's rows
    np.testing.assert_array_equal(ember.gather(x, axis=1, index=_t(IDX)).numpy(), expected)
    out = ember.empty(0, dtype=ember.float64)
    assert ember.gather(x, 1, _t(IDX), out=out) is out
    np.testing.assert_array_equal(out.numpy(), expected)
    np.testing.assert_array_equal(ember.take_along_dim(x, _t(IDX), axis=1).numpy(),
                                  np.take_along_axis(A, IDX, axis=1))  # (broadcasts)
    out = ember.empty(0, dtype=ember.float64)
    assert ember.index_select(x, axis=0, index=_t(IDX1), out=out) is out
    np.testing.assert_array_equal(out.numpy(), A[IDX1])


def test_gather_out_of_range_index_is_runtime_error():
    with pytest.raises(RuntimeError):
        ember.gather(_t(A), 1, ember.full((3, 1), 4))


def test_scatter_family_axis_and_out():
    x, src = _t(A), _t(A[:1] * 2)
    expected = A.copy()
    expected[0, IDX[0]] = A[0] * 2  # later writes win: positions 0, 2 and 1
    out = ember.empty(0, dtype=ember.float64)
    assert ember.scatter(x, axis=1, index=_t(IDX), src=src, out=out) is out
    np.testing.assert_array_equal(out.numpy(), expected)
    added = A.copy()
    np.add.at(added, (np.zeros(4, int), IDX[0]), A[0] * 2)
    np.testing.assert_allclose(ember.scatter_add(x, axis=1, index=_t(IDX), src=src).numpy(),
                               added)
    red = A.copy()
    np.maximum.at(red, (np.zeros(4, int), IDX[0]), A[0] * 2)
    np.testing.assert_array_equal(
        ember.scatter_reduce(x, axis=1, index=_t(IDX), src=src, reduce="amax").numpy(), red)


def test_index_add_and_fill_axis():
    expected = A.copy()
    np.add.at(expected, IDX1, A)
    np.testing.assert_allclose(
        ember.index_add(_t(A), axis=0, index=_t(IDX1), source=_t(A)).numpy(), expected)
    filled = A.copy()
    filled[:, IDX1] = 0.5
    np.testing.assert_array_equal(
        ember.index_fill(_t(A), axis=1, index=_t(IDX1), value=0.5).numpy(), filled)


def test_masked_select_and_take_out():
    out = ember.empty(0, dtype=ember.float64)
    assert ember.masked_select(_t(A), _t(A) > 0, out=out) is out
    np.testing.assert_array_equal(out.numpy(), A[A > 0])
    out = ember.empty(0, dtype=ember.float64)
    assert ember.take(_t(A), _t(IDX1), out=out) is out
    np.testing.assert_array_equal(out.numpy(), A.reshape(-1)[IDX1])


def test_scatter_reduce_complex():
    z = _t(A + 1j * A, requires_grad=True)
    index = ember.zeros(3, 2, dtype=ember.long)
    with pytest.raises(RuntimeError):
        z.scatter_reduce(1, index, z, "sum")
    with pytest.raises(NotImplementedError):
        z.detach().scatter_reduce(1, index, z.detach(), "amax")
    got = z.detach().scatter_reduce(1, index, z.detach(), "sum")
    expected = A + 1j * A
    expected[:, 0] += (A[:, 0] + A[:, 1]) * (1 + 1j)
    np.testing.assert_allclose(got.numpy(), expected)


@pytest.mark.parametrize("a,b,dtype", [(1.0, 0, ember.float32), (1, 0, ember.int64),
                                       (True, False, ember.bool), (True, 0, ember.int64),
                                       (1j, 0, ember.complex64), (2, 0.5, ember.float32)])
def test_where_python_numbers_take_default_dtypes(a, b, dtype):
    cond = _t(A) > 0
    got = ember.where(cond, a, b)
    assert got.dtype is dtype
    np.testing.assert_array_equal(got.numpy(), np.where(A > 0, a, b).astype(got.numpy().dtype))


def test_where_tensor_dtype_wins_over_python_numbers():
    assert ember.where(_t(A) > 0, _t(A), 0.5).dtype is ember.float64


@pytest.mark.parametrize("x_dtype,o_dtype,expected", [
    (ember.float32, ember.float32, ember.float32), (ember.float32, ember.float64, ember.float64),
    (ember.float16, ember.float32, ember.float32), (ember.int64, ember.float64, ember.float64)])
def test_copysign_dtypes_and_values(x_dtype, o_dtype, expected):
    x, o = A * 4, -A.T.copy().reshape(3, 4)
    got = ember.copysign(_t(x).to(x_dtype), _t(o).to(o_dtype))
    assert got.dtype is expected
    ref = np.copysign(x.astype(x_dtype.np_dtype), o)
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-3)


def test_heaviside_keeps_integer_dtype_and_zeros_nan():
    got = ember.heaviside(ember.tensor([-3, 0, 2], dtype=ember.int8),
                          ember.tensor([7], dtype=ember.int8))
    assert got.dtype is ember.int8
    np.testing.assert_array_equal(got.numpy(), [0, 7, 1])
    got = ember.heaviside(ember.tensor([np.nan, -1.0, 0.0, 2.0]), ember.tensor(0.5))
    np.testing.assert_array_equal(got.numpy(), [0, 0, 0.5, 1])


def test_rprop_keeps_float64_steps():
    x = ember.tensor([1.0, -2.0], dtype=ember.float64)
    from ember.legacy.optim import rprop
    state = {}
    for _ in range(3):
        x, _ = rprop(lambda v: ((v * v).sum(), 2 * v), x, {"stepsize": 0.1}, state)
    assert state["stepsize"].dtype is ember.float64
    np.testing.assert_array_equal(state["stepsize"].numpy(), [0.1 * 1.2 ** 2] * 2)


def test_cosine_similarity_zero_vector_gradient_is_finite():
    x = ember.zeros(4, requires_grad=True)
    y = _t(A[0], requires_grad=True)
    F.cosine_similarity(x, y, dim=0).backward()
    np.testing.assert_array_equal(y.grad.numpy(), np.zeros(4))
    assert np.isfinite(x.grad.numpy()).all()


@pytest.mark.parametrize("dtype", [ember.complex64, ember.int64])
def test_cosine_similarity_refuses_non_floating(dtype):
    with pytest.raises(RuntimeError):
        F.cosine_similarity(_t(A).to(dtype), _t(A).to(dtype))


def test_complex_silu_embedding_compute_but_do_not_differentiate():
    z = A + 1j * A[::-1]
    np.testing.assert_allclose(F.silu(_t(z)).numpy(), z / (1 + np.exp(-z)))
    np.testing.assert_array_equal(F.embedding(ember.tensor([1, 0]), _t(z)).numpy(), z[[1, 0]])
    with pytest.raises(RuntimeError):
        F.silu(_t(z, requires_grad=True))
    with pytest.raises(RuntimeError):
        F.embedding(ember.tensor([1, 0]), _t(z, requires_grad=True))


def test_mse_loss_refuses_complex():
    with pytest.raises(NotImplementedError):
        F.mse_loss(_t(A), _t(A + 1j))


def test_slogdet_named_result():
    m = A[:, :3]
    sign, logabsdet = np.linalg.slogdet(m)
    for res in (ember.slogdet(_t(m)), ember.linalg.slogdet(_t(m))):
        assert res._fields == ("sign", "logabsdet")
        np.testing.assert_allclose(res.sign.numpy(), sign)
        np.testing.assert_allclose(res.logabsdet.numpy(), logabsdet)


def test_statistics_methods_axis():
    x = _t(A)
    np.testing.assert_allclose(x.quantile(0.5, axis=1, keepdims=True).numpy(),
                               np.quantile(A, 0.5, axis=1, keepdims=True))
    np.testing.assert_allclose(x.nanquantile(0.25, axis=0).numpy(),
                               np.nanquantile(A, 0.25, axis=0))
    np.testing.assert_array_equal(x.nanmedian(axis=1).values.numpy(),
                                  np.sort(A, axis=1)[:, 1])
