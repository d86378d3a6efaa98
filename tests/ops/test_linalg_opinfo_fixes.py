"""Linear-algebra fixes found by the OpInfo audit, checked against NumPy / SciPy, hand-computed
values and float64 gradcheck: empty (0, 0) matrices in the LU / LDL solvers, matrix norms of
empty matrices and their gradients at zero, ``pinv`` (hermitian, and its gradient on
rank-deficient matrices), ``lstsq``'s fields per driver, integer and bool ``addmm``-family
scales, matmul's backward on empty shapes, ``tensordot`` of size-1 dims, ``torch.lu(out=)``
and ``matrix_exp``'s float32 accuracy."""
import numpy as np
import pytest
import scipy.linalg

import ember
from ember.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(11)


def t(a, grad=False):
    return ember.tensor(np.asarray(a), requires_grad=grad)


# ---------------------------------------------------------------------------------------------
# Empty matrices


@pytest.mark.parametrize("batch", [(), (2,)])
def test_solvers_accept_empty_matrices(batch):
    A = ember.zeros(*batch, 0, 0, dtype=ember.float64)
    inv, info = ember.linalg.inv_ex(A)
    assert inv.shape == (*batch, 0, 0) and info.tolist() == ([0] * batch[0] if batch else 0)
    x, info = ember.linalg.solve_ex(A, ember.zeros(*batch, 0, 3, dtype=ember.float64))
    assert x.shape == (*batch, 0, 3)
    LU, piv, info = ember.linalg.lu_factor_ex(A)
    assert LU.shape == (*batch, 0, 0) and piv.shape == (*batch, 0)
    assert ember.linalg.lu_solve(LU, piv, ember.zeros(*batch, 0, 4, dtype=ember.float64),
                                 adjoint=True).shape == (*batch, 0, 4)
    LD, piv = ember.linalg.ldl_factor(A)
    assert LD.shape == (*batch, 0, 0) and piv.shape == (*batch, 0)
    assert ember.linalg.ldl_solve(LD, piv, ember.zeros(*batch, 0, 5, dtype=ember.float64)
                                  ).shape == (*batch, 0, 5)
    assert ember.linalg.cond(A).tolist() == ([0.0] * batch[0] if batch else 0.0)


def test_lu_factor_of_matrices_with_an_empty_side():
    LU, piv, info = ember.linalg.lu_factor_ex(ember.zeros(3, 0, 4))
    assert LU.shape == (3, 0, 4) and piv.shape == (3, 0) and info.tolist() == [0, 0, 0]
    P, L, U = ember.linalg.lu(ember.zeros(2, 3, 0))
    assert P.shape == (2, 3, 3) and L.shape == (2, 3, 0) and U.shape == (2, 0, 0)


@pytest.mark.parametrize("shape", [(0, 0), (0, 3), (3, 0), (2, 0, 0)])
@pytest.mark.parametrize("ord", ["fro", "nuc", 2, 1, np.inf])
def test_max_type_matrix_norms_of_empty_matrices_are_zero(shape, ord):
    res = ember.linalg.matrix_norm(ember.zeros(*shape), ord)
    assert res.shape == shape[:-2] and not res.any()


@pytest.mark.parametrize("p", ["fro", "nuc", 1, -1, np.inf, -np.inf])
def test_cond_of_singular_matrices_is_inf(p):
    a = np.stack([[[1.0, 2.0], [2.0, 4.0]], np.diag([2.0, 0.5])])
    res = ember.linalg.cond(t(a), p).tolist()
    assert res[0] == np.inf
    assert res[1] == pytest.approx(np.linalg.cond(a[1], p))
    A = t(RNG.standard_normal((3, 3)), True)
    assert gradcheck(lambda x: ember.linalg.cond(x, p), (A,))


# ---------------------------------------------------------------------------------------------
# Norm gradients at zero


@pytest.mark.parametrize("dtype", [ember.float64, ember.complex128])
@pytest.mark.parametrize("ord", ["fro", None])
def test_frobenius_norm_gradient_at_zero_is_zero(dtype, ord):
    A = ember.zeros(4, 5, dtype=dtype, requires_grad=True)
    ember.linalg.norm(A, ord).backward()
    assert A.grad.abs().max().item() == 0.0


@pytest.mark.parametrize("ord", ["nuc", 2])
def test_spectral_norms_of_complex_zero_have_finite_gradients(ord):
    # Only S is used: the gradient is U diag(dS) V^H with the factors LAPACK picked (amax
    # splits its gradient evenly among the tied singular values)
    A = ember.zeros(3, 3, dtype=ember.complex128, requires_grad=True)
    ember.linalg.matrix_norm(A, ord).backward()
    u, s, vh = np.linalg.svd(np.zeros((3, 3), complex))
    ds = np.ones(3) if ord == "nuc" else np.full(3, 1 / 3)
    np.testing.assert_allclose(A.grad.numpy(), (u * ds) @ vh, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Pseudo-inverse and rank


def _hermitian_from_lower(a):
    """The Hermitian matrix with a's lower triangle (the diagonal's imaginary part is not read)."""
    low = np.tril(a, -1)
    diag = np.diagonal(a, 0, -2, -1).real
    return low + low.conj().swapaxes(-1, -2) + diag[..., None] * np.eye(a.shape[-1])


@pytest.mark.parametrize("complex_", [False, True])
def test_hermitian_pinv_reads_the_lower_triangle(complex_):
    a = RNG.standard_normal((2, 5, 5)) + (1j * RNG.standard_normal((2, 5, 5)) if complex_ else 0)
    expected = np.linalg.pinv(_hermitian_from_lower(a))
    np.testing.assert_allclose(ember.linalg.pinv(t(a), hermitian=True).numpy(), expected,
                               atol=1e-10)
    rank = ember.linalg.matrix_rank(t(a), hermitian=True)
    assert rank.tolist() == np.linalg.matrix_rank(_hermitian_from_lower(a)).tolist()


def test_pinv_gradient_keeps_the_rank_of_a_rank_deficient_matrix():
    # B C is 4 x 3 of rank 1 for all B, C: the gradient is that of the constant-rank map
    B, C = t(RNG.standard_normal((4, 1)), True), t(RNG.standard_normal((1, 3)), True)
    assert gradcheck(lambda b, c: ember.linalg.pinv(b @ c), (B, C))


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (2, 4, 4)])
def test_pinv_gradients_of_full_rank_matrices(shape):
    A = t(RNG.standard_normal(shape), True)
    assert gradcheck(ember.linalg.pinv, (A,))
    assert gradgradcheck(ember.linalg.pinv, (A,))
    re, im = t(RNG.standard_normal(shape), True), t(RNG.standard_normal(shape), True)
    assert gradcheck(lambda r, i: ember.linalg.pinv(ember.complex(r, i)).real, (re, im))


def test_pinv_and_matrix_rank_with_batched_tolerances():
    a = RNG.standard_normal((2, 4, 4))
    atol = t([0.0, 100.0])
    assert ember.linalg.matrix_rank(t(a), atol=atol).tolist() == [4, 0]
    assert ember.linalg.matrix_rank(t(a), rtol=t([0.0, 1.0])).tolist() == [4, 0]
    p = ember.linalg.pinv(t(a), atol=atol).numpy()
    np.testing.assert_allclose(p[0], np.linalg.inv(a[0]), atol=1e-10)
    assert not p[1].any()


# ---------------------------------------------------------------------------------------------
# Least squares


@pytest.mark.parametrize("driver", ["gels", "gelsy", "gelsd", "gelss"])
@pytest.mark.parametrize("complex_", [False, True])
def test_lstsq_fields_follow_the_driver(driver, complex_):
    a = RNG.standard_normal((2, 4, 3)) + (1j * RNG.standard_normal((2, 4, 3)) if complex_ else 0)
    b = RNG.standard_normal((2, 4, 2)) + (1j * RNG.standard_normal((2, 4, 2)) if complex_ else 0)
    A, Bt = t(a, True), t(b)
    x, residuals, rank, s = ember.linalg.lstsq(A, Bt, driver=driver)
    expected = np.linalg.lstsq(a[0], b[0], rcond=None)
    np.testing.assert_allclose(x[0].detach().numpy(), expected[0], atol=1e-10)
    assert residuals.dtype == ember.float64 and residuals.requires_grad
    if driver == "gelsy":
        assert residuals.shape == (0,)
    else:
        np.testing.assert_allclose(residuals[0].detach().numpy(), expected[1], atol=1e-10)
    assert rank.dtype == ember.int64
    assert rank.shape == ((0,) if driver == "gels" else (2,))
    assert s.dtype == ember.float64
    if driver in ("gelsd", "gelss"):
        np.testing.assert_allclose(s[0].numpy(), expected[3], atol=1e-10)
    else:
        assert s.shape == (0,)


def test_lstsq_residuals_are_empty_for_wide_or_rank_deficient_matrices():
    wide = ember.linalg.lstsq(t(RNG.standard_normal((2, 3))), t(RNG.standard_normal((2, 2))),
                              driver="gelsd")
    assert wide.residuals.shape == (0,) and wide.rank.shape == ()
    a = RNG.standard_normal((4, 1)) @ RNG.standard_normal((1, 3))
    deficient = ember.linalg.lstsq(t(a), t(RNG.standard_normal((4, 2))), driver="gelsd")
    assert deficient.residuals.shape == (0,) and deficient.rank.item() == 1


# ---------------------------------------------------------------------------------------------
# addmm family: integer and bool scales


def test_integer_products_truncate_float_scales():
    i, m = np.array([[1, 2], [3, 4]]), np.array([[1, 2], [3, 4]])
    # 1.6 -> 1 and 2.7 -> 2, as C's conversion
    expected = 1 * i + 2 * (m @ m)
    out = ember.addmm(t(i), t(m), t(m), beta=1.6, alpha=2.7)
    assert out.dtype == ember.int64 and out.tolist() == expected.tolist()
    assert ember.addmv(t(i[0]), t(m), t(m[0]), beta=1.6, alpha=2.7).tolist() == \
        (i[0] + 2 * (m @ m[0])).tolist()
    assert ember.baddbmm(t(i[None]), t(m[None]), t(m[None]), beta=0.6, alpha=0.2
                         ).tolist() == [[[0, 0], [0, 0]]]
    ones = np.ones((2, 1, 1), np.int64)
    assert ember.addbmm(t([[1, 2]]), t(ones), t(np.ones((2, 1, 2), np.int64)), beta=-1.9,
                        alpha=2.9).tolist() == [[3, 2]]


def test_addr_on_bool_is_logical():
    b = t([True, False])
    assert ember.addr(t([[False, False], [True, False]]), b, b, beta=3, alpha=2).tolist() == \
        [[True, False], [True, False]]
    assert ember.addr(t(True), b, b, beta=1, alpha=0).tolist() == [[True, True], [True, True]]
    assert ember.addr(t(True), b, b, beta=0, alpha=1).tolist() == [[True, False], [False, False]]
    out = ember.addr(t([[1, 2], [3, 4]]), t([1, 2]), t([3, 4]), beta=2, alpha=3)
    assert out.dtype == ember.int64 and out.tolist() == [[11, 16], [24, 32]]
    with pytest.raises(RuntimeError, match="argument alpha must not be a floating point"):
        ember.addr(t([[1]]), t([1]), t([1]), alpha=0.5)


# ---------------------------------------------------------------------------------------------
# matmul, tensordot, lu(out=), matrix_exp


@pytest.mark.parametrize("sa,sb", [((5, 5, 0), (0, 5)), ((5, 0, 5), (5, 3)), ((2, 3, 4), (4, 0))])
def test_matmul_backward_of_empty_shapes(sa, sb):
    a, b = t(RNG.standard_normal(sa), True), t(RNG.standard_normal(sb), True)
    (a @ b).sum().backward()
    assert a.grad.shape == sa and b.grad.shape == sb
    assert not a.grad.any() and not b.grad.any()


def test_tensordot_contracts_a_size_one_dim_with_the_others_sum():
    a, b = RNG.standard_normal((1, 1, 3)), RNG.standard_normal((2, 1, 2))
    out = ember.tensordot(t(a), t(b), dims=((0, 1), (2, 0)))
    expected = np.einsum("abk,jbc->kj", a, b.sum((0, 2), keepdims=True))
    np.testing.assert_allclose(out.numpy(), expected)
    A, B = t(a, True), t(b, True)
    assert gradcheck(lambda x, y: ember.tensordot(x, y, dims=((0, 1), (2, 0))), (A, B))


def test_legacy_lu_writes_out():
    a = t(RNG.standard_normal((3, 4)))
    out = (ember.empty(0, dtype=ember.float64), ember.empty(0, dtype=ember.int32),
           ember.empty(0, dtype=ember.int32))
    res = ember.lu(a, True, True, out=out)
    assert res[0] is out[0]
    lu, piv = scipy.linalg.lu_factor(a.numpy())
    np.testing.assert_allclose(out[0].numpy(), lu)
    assert out[1].tolist() == (piv + 1).tolist() and out[2].item() == 0


def test_matrix_exp_float32_is_accurate_for_large_norms():
    a = RNG.standard_normal((4, 5, 5)) * 6
    expected = np.stack([scipy.linalg.expm(m) for m in a])
    got = ember.linalg.matrix_exp(t(a.astype(np.float32))).numpy()
    scale = np.abs(expected).max(axis=(-2, -1), keepdims=True)
    assert (np.abs(got - expected) / scale).max() < 2e-6
    np.testing.assert_allclose(ember.linalg.matrix_exp(t(a)).numpy(), expected, rtol=1e-11,
                               atol=1e-11 * scale.max())


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.float64])
def test_addbmm_keeps_the_dtype_and_sums_the_batch(dtype):
    a = RNG.integers(0, 5, (5, 10)).astype(dtype)
    b1 = RNG.integers(0, 5, (4, 5, 3)).astype(dtype)
    b2 = RNG.integers(0, 5, (4, 3, 10)).astype(dtype)
    out = ember.addbmm(t(a), t(b1), t(b2), beta=2, alpha=3)
    assert out.dtype == t(a).dtype
    np.testing.assert_array_equal(out.numpy(), (2 * a + 3 * np.einsum("bij,bjk->ik", b1, b2)
                                                ).astype(dtype))
    assert not ember.addbmm(ember.zeros(2, 3), ember.ones(0, 2, 4), ember.ones(0, 4, 3)).any()
    with pytest.raises(RuntimeError, match="same number of batches, got 3 and 2"):
        ember.addbmm(ember.ones(2, 4), ember.ones(3, 2, 5), ember.ones(2, 5, 4))


def test_addbmm_gradients():
    args = [t(RNG.standard_normal(s), True) for s in [(5, 10), (4, 5, 3), (4, 3, 10)]]
    assert gradcheck(lambda a, b, c: ember.addbmm(a, b, c, beta=0.5, alpha=2.0), args)


def test_tensordot_of_size_one_dims_keeps_integer_dtypes():
    a, b = ember.ones(1, 1, 1, dtype=ember.int32), ember.ones(2, 1, 2, dtype=ember.int32)
    out = ember.tensordot(a, b, dims=((0, 1), (2, 0)))
    assert out.dtype == ember.int32 and out.tolist() == [[4]]


@pytest.mark.parametrize("dtype", [ember.float16, ember.bfloat16])
def test_matrix_exp_half_precision_does_not_overflow(dtype):
    a = RNG.standard_normal((5, 5)) * 3
    got = ember.linalg.matrix_exp(t(a).to(dtype))
    assert got.dtype == dtype
    expected = scipy.linalg.expm(a)
    assert np.abs(got.float().numpy() - expected).max() < 1e-2 * np.abs(expected).max()


def test_multi_dot_multiplies_in_the_cheapest_order():
    ms = [RNG.standard_normal(s) for s in [(10, 2), (2, 30), (30, 3), (3, 40), (40, 1)]]
    xs = [t(m, True) for m in ms]
    out = ember.linalg.multi_dot(xs)
    np.testing.assert_allclose(out.detach().numpy(), np.linalg.multi_dot(ms), rtol=1e-12)
    assert gradcheck(lambda *a: ember.linalg.multi_dot(list(a)), xs)
    vec = ember.linalg.multi_dot([t(ms[0][:, 0]), t(ms[0]), t(ms[1][:, 0])])
    np.testing.assert_allclose(vec.item(), ms[0][:, 0] @ ms[0] @ ms[1][:, 0])


@pytest.mark.parametrize("tensors,match", [
    ([ember.ones(2, 2)], "expected at least 2 tensors but got 1"),
    ([ember.ones(2, 2, 2), ember.ones(2, 2)], "the first tensor must be 1D or 2D but got 3D"),
    ([ember.ones(2, 2), ember.ones(2), ember.ones(2, 2)], "tensor 1 must be 2D but got 1D"),
    ([ember.ones(2, 3), ember.ones(2, 2)], r"shapes \[2, 3\] and \[2, 2\] cannot be multiplied"),
])
def test_multi_dot_errors(tensors, match):
    with pytest.raises(RuntimeError, match=match):
        ember.linalg.multi_dot(tensors)


def test_matrix_chain_order_of_the_textbook_example():
    # CLRS 15.2: 30x35, 35x15, 15x5, 5x10, 10x20, 20x25 is best as ((A1 (A2 A3)) ((A4 A5) A6))
    from ember.ops.linalg import _chain_order
    dims = [30, 35, 15, 5, 10, 20, 25]
    mats = [ember.zeros(dims[i], dims[i + 1]) for i in range(6)]
    split = _chain_order(mats)

    def paren(i, j):
        if i == j:
            return f"A{i + 1}"
        k = split[i][j]
        return f"({paren(i, k)} {paren(k + 1, j)})"
    assert paren(0, 5) == "((A1 (A2 A3)) ((A4 A5) A6))"
