"""ember.linalg's decompositions and solvers against NumPy/SciPy, with float64 gradchecks of
the differentiable ones (SVD, eigh, Cholesky, triangular solves, matrix_exp, lstsq)."""
import numpy as np
import pytest
import scipy.linalg

import ember
from ember.autograd import gradcheck, gradgradcheck

rng = np.random.default_rng(1)


def t(a, grad=False):
    return ember.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def spd(n=3):
    a = rng.standard_normal((n, n))
    return a @ a.T + n * np.eye(n)


def _svd_loss(x):
    # Invariant to the signs of singular vectors, so finite differences are well defined.
    u, s, vh = ember.linalg.svd(x, full_matrices=False)
    return (u[..., :, :1] @ vh[..., :1, :]).pow(2).sum() + (u * s.unsqueeze(-2) @ vh).sum() \
        + s.sum()


@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (2, 3, 3)])
def test_svd_gradcheck(shape):
    assert gradcheck(_svd_loss, (t(rng.standard_normal(shape), True),))


def test_svd_values_and_legacy_form():
    a = rng.standard_normal((5, 3))
    u, s, vh = ember.linalg.svd(t(a), full_matrices=False)
    np.testing.assert_allclose((u.numpy() * s.numpy()) @ vh.numpy(), a)
    np.testing.assert_allclose(s.numpy(), np.linalg.svd(a, compute_uv=False))
    U, S, V = ember.svd(t(a))
    np.testing.assert_allclose((U.numpy() * S.numpy()) @ V.numpy().T, a)
    assert ember.svd(t(a), some=False).U.shape == (5, 5)
    assert gradcheck(ember.linalg.svdvals, (t(a, True),))
    assert gradcheck(ember.linalg.pinv, (t(a, True),))
    np.testing.assert_allclose(ember.pinverse(t(a)).numpy(), np.linalg.pinv(a), atol=1e-12)


def test_eigh_gradcheck_and_values():
    a = rng.standard_normal((3, 3))
    w, v = ember.linalg.eigh(t(a + a.T))
    np.testing.assert_allclose(w.numpy(), np.linalg.eigvalsh(a + a.T))
    np.testing.assert_allclose(ember.linalg.eigvalsh(t(a + a.T)).numpy(), w.numpy())

    def loss(x):
        w, v = ember.linalg.eigh(x + x.mT)
        return w.sum() + (v[:, :1] @ v[:, :1].mT).pow(2).sum()
    assert gradcheck(loss, (t(a, True),))


def test_cholesky_family():
    a = spd()
    low = ember.linalg.cholesky(t(a)).numpy()
    np.testing.assert_allclose(low, np.linalg.cholesky(a))
    np.testing.assert_allclose(ember.cholesky(t(a), upper=True).numpy(), low.T)
    assert gradcheck(lambda x: ember.linalg.cholesky(x @ x.mT + 3 * ember.eye(3).double()),
                     (t(rng.standard_normal((3, 3)), True),))
    b = rng.standard_normal((3, 2))
    np.testing.assert_allclose(ember.cholesky_solve(t(b), t(low)).numpy(),
                               np.linalg.solve(a, b))
    np.testing.assert_allclose(ember.cholesky_solve(t(b), t(low.T), upper=True).numpy(),
                               np.linalg.solve(a, b))
    np.testing.assert_allclose(ember.cholesky_inverse(t(low)).numpy(), np.linalg.inv(a))
    with pytest.raises(ember.linalg.LinAlgError, match="positive-definite"):
        ember.linalg.cholesky(t(-np.eye(2)))
    L, info = ember.linalg.cholesky_ex(t(-np.eye(2)))
    assert info.item() == 1 and info.dtype is ember.int32


def test_solve_triangular_and_gradcheck():
    a = np.triu(rng.standard_normal((3, 3))) + 3 * np.eye(3)
    b = rng.standard_normal((3, 2))
    x = ember.linalg.solve_triangular(t(a), t(b), upper=True).numpy()
    np.testing.assert_allclose(x, scipy.linalg.solve_triangular(a, b))
    x = ember.linalg.solve_triangular(t(a), t(b.T), upper=True, left=False).numpy()
    np.testing.assert_allclose(x @ a, b.T)
    x = ember.linalg.solve_triangular(t(a.T), t(b), upper=False, unitriangular=True).numpy()
    np.testing.assert_allclose(x, scipy.linalg.solve_triangular(a.T, b, lower=True,
                                                                unit_diagonal=True))
    assert gradcheck(lambda m, r: ember.linalg.solve_triangular(m, r, upper=True),
                     (t(a, True), t(b, True)))
    assert gradgradcheck(lambda m, r: ember.linalg.solve_triangular(m, r, upper=False),
                         (t(a.T, True), t(b, True)))
    sol, coef = ember.triangular_solve(t(b), t(a))
    np.testing.assert_allclose(sol.numpy(), scipy.linalg.solve_triangular(a, b))


def test_lu_family_matches_scipy():
    a = rng.standard_normal((4, 4))
    P, L, U = ember.linalg.lu(t(a))
    np.testing.assert_allclose(P.numpy() @ L.numpy() @ U.numpy(), a)
    sp_p, sp_l, sp_u = scipy.linalg.lu(a)
    np.testing.assert_allclose(P.numpy(), sp_p)
    LU, piv = ember.linalg.lu_factor(t(a))
    sp_lu, sp_piv = scipy.linalg.lu_factor(a)
    np.testing.assert_allclose(LU.numpy(), sp_lu)
    np.testing.assert_array_equal(piv.numpy(), sp_piv + 1)
    b = rng.standard_normal((4, 2))
    np.testing.assert_allclose(ember.linalg.lu_solve(LU, piv, t(b)).numpy(),
                               np.linalg.solve(a, b))
    np.testing.assert_allclose(ember.linalg.lu_solve(LU, piv, t(b), adjoint=True).numpy(),
                               np.linalg.solve(a.T, b))
    np.testing.assert_allclose(ember.lu_solve(t(b), LU, piv).numpy(), np.linalg.solve(a, b))
    P2, L2, U2 = ember.lu_unpack(*ember.lu(t(a)))
    np.testing.assert_allclose(P2.numpy(), P.numpy())
    wide = rng.standard_normal((2, 3, 5))
    P, L, U = ember.linalg.lu(t(wide))
    np.testing.assert_allclose(P.numpy() @ L.numpy() @ U.numpy(), wide)


def test_singular_inputs_raise_linalg_error():
    assert issubclass(ember.linalg.LinAlgError, RuntimeError)
    with pytest.raises(ember.linalg.LinAlgError, match="singular"):
        ember.linalg.inv(t(np.zeros((2, 2))))
    with pytest.raises(ember.linalg.LinAlgError, match="singular"):
        ember.linalg.solve(t(np.zeros((2, 2))), t(np.ones(2)))
    inv, info = ember.linalg.inv_ex(t(np.zeros((2, 2))))
    assert info.item() == 1
    res, info = ember.linalg.solve_ex(t(np.eye(2)), t(np.ones(2)))
    assert info.item() == 0
    np.testing.assert_allclose(res.numpy(), [1.0, 1.0])


def test_matrix_exp_matches_scipy_and_gradchecks():
    for scale in (0.1, 1.0, 8.0):
        a = rng.standard_normal((3, 3)) * scale
        np.testing.assert_allclose(ember.linalg.matrix_exp(t(a)).numpy(), scipy.linalg.expm(a),
                                   rtol=1e-10)
    batch = rng.standard_normal((2, 3, 3))
    np.testing.assert_allclose(ember.matrix_exp(t(batch)).numpy(), scipy.linalg.expm(batch),
                               rtol=1e-10)
    assert gradcheck(ember.linalg.matrix_exp, (t(rng.standard_normal((3, 3)), True),))


def test_lstsq_rank_cond():
    a = rng.standard_normal((5, 3))
    b = rng.standard_normal((5, 2))
    sol = ember.linalg.lstsq(t(a), t(b)).solution.numpy()
    np.testing.assert_allclose(sol, np.linalg.lstsq(a, b, rcond=None)[0])
    assert gradcheck(lambda m, r: ember.linalg.lstsq(m, r).solution, (t(a, True), t(b, True)))
    low_rank = a @ rng.standard_normal((3, 5))
    assert ember.linalg.matrix_rank(t(low_rank)).item() == 3
    assert ember.linalg.matrix_rank(t(a), atol=10.0).item() == np.sum(
        np.linalg.svd(a, compute_uv=False) > 10.0)
    sq = rng.standard_normal((3, 3))
    for p in (None, 2, "fro", "nuc", 1, -1, np.inf, -np.inf, -2):
        np.testing.assert_allclose(ember.linalg.cond(t(sq), p).numpy(), np.linalg.cond(sq, p))


def test_eig_tensor_inverses_vecdot_vander():
    a = rng.standard_normal((3, 3))
    w = ember.linalg.eigvals(t(a)).numpy()
    np.testing.assert_allclose(np.sort_complex(w), np.sort_complex(np.linalg.eigvals(a)))
    w, v = ember.linalg.eig(t(a))
    np.testing.assert_allclose(a @ v.numpy(), v.numpy() * w.numpy(), atol=1e-12)
    big = rng.standard_normal((4, 6, 8, 3))
    np.testing.assert_allclose(ember.linalg.tensorinv(t(big), ind=2).numpy(),
                               np.linalg.tensorinv(big, ind=2))
    m, r = rng.standard_normal((2, 3, 6)), rng.standard_normal((2, 3))
    np.testing.assert_allclose(ember.linalg.tensorsolve(t(m), t(r)).numpy(),
                               np.linalg.tensorsolve(m, r))
    x, y = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    np.testing.assert_allclose(ember.linalg.vecdot(t(x), t(y)).numpy(), np.sum(x * y, -1))
    v = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(ember.linalg.vander(t(v)).numpy(),
                                  np.vander(v, increasing=True))
    np.testing.assert_array_equal(ember.linalg.diagonal(t(big[0])).numpy(),
                                  np.diagonal(big[0], 0, -2, -1))
    assert ember.linalg.matmul is ember.matmul


@pytest.mark.parametrize("ord", ["fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf])
def test_matrix_norm_matches_numpy(ord):
    a = rng.standard_normal((2, 3, 4))
    np.testing.assert_allclose(ember.linalg.matrix_norm(t(a), ord).numpy(),
                               np.linalg.norm(a, ord, axis=(-2, -1)))


@pytest.mark.parametrize("left, b_shape", [(True, (4, 2)), (False, (2, 4))])
def test_solve_triangular_names_incompatible_shapes(left, b_shape):
    equation = "AX = B" if left else "XA = B"
    with pytest.raises(RuntimeError, match=f"{equation} \\(3x3 and {b_shape[0]}x{b_shape[1]}\\)"):
        ember.linalg.solve_triangular(ember.eye(3), ember.ones(*b_shape), upper=True, left=left)
