"""Gradients of linalg.eig / eigvals, cholesky_ex (also where it fails), LU of rectangular
matrices, inv_ex / solve_ex / triangular solves of singular matrices, the phase checks of the
complex eigen and singular vectors, and frexp / nextafter / copysign / heaviside: float64
gradcheck and gradgradcheck, forward values against NumPy/SciPy.

Complex inputs enter the checks as (real, imaginary) float64 pairs and complex outputs leave as
real tensors, as gradcheck compares real Jacobians."""
import warnings

import numpy as np
import pytest
import scipy.linalg

import ember
from ember.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(7)
PHASE = r"specified up to multiplication by e\^\{i phi\}"


def t(a, grad=False):
    return ember.tensor(np.asarray(a), requires_grad=grad)


def _split(a):
    """float64 leaves for a real or complex array, and a function rebuilding it."""
    if np.iscomplexobj(a):
        return (t(a.real, True), t(a.imag, True)), lambda re, im: ember.complex(re, im)
    return (t(a, True),), lambda x: x


def _reals(*outs):
    res = []
    for o in outs:
        res.extend((o.real, o.imag) if o.is_complex() else (o,))
    return tuple(res)


def _check(fn, a, second_order=True):
    """gradcheck (and gradgradcheck) of the real outputs of ``fn`` at the matrix ``a``."""
    inputs, build = _split(a)

    def f(*xs):
        return _reals(*fn(build(*xs)))
    assert gradcheck(f, inputs, atol=1e-6)
    if second_order:
        assert gradgradcheck(f, inputs, atol=1e-5)


def _matrix(n=4, complex_=False, batch=()):
    a = RNG.standard_normal(batch + (n, n))
    return a + 1j * RNG.standard_normal(batch + (n, n)) if complex_ else a


# ---------------------------------------------------------------------------------------------
# eig / eigvals


@pytest.mark.parametrize("complex_", [False, True])
def test_eig_forward_matches_numpy(complex_):
    a = _matrix(4, complex_, (2,))
    w, v = ember.linalg.eig(t(a))
    assert w.dtype is ember.complex128 and v.dtype is ember.complex128
    w, v = w.numpy(), v.numpy()
    np.testing.assert_allclose(a @ v, v * w[..., None, :], atol=1e-10)
    np.testing.assert_allclose(np.linalg.norm(v, axis=-2), 1.0)
    np.testing.assert_allclose(np.sort_complex(w.ravel()),
                               np.sort_complex(np.linalg.eigvals(a).ravel()), atol=1e-10)
    np.testing.assert_allclose(ember.linalg.eigvals(t(a)).numpy(), w)


@pytest.mark.parametrize("complex_", [False, True])
@pytest.mark.parametrize("loss", ["values", "abs_vectors", "reconstruction"])
def test_eig_gradcheck_gauge_invariant(complex_, loss):
    a = _matrix(3, complex_)
    fns = {
        "values": lambda x: (ember.linalg.eig(x)[0],),
        "abs_vectors": lambda x: (ember.linalg.eig(x)[1].abs(),),
        "reconstruction": lambda x: _reconstruction(*ember.linalg.eig(x)),
    }
    _check(fns[loss], a)


def _reconstruction(w, v):
    return (v @ w.diag_embed() @ ember.linalg.inv(v),)


def test_eig_reconstruction_gradient_is_the_identity_map():
    a = _matrix(4)
    x = t(a, True)
    g = RNG.standard_normal((4, 4))
    (_reconstruction(*ember.linalg.eig(x))[0].real * t(g)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), g, atol=1e-10)
    assert x.grad.dtype is ember.float64


def test_eig_batched_eigenvalue_gradient_is_left_times_right_vectors():
    # d lambda_i / dA_jk = (V^-1)_ij V_ki: rows of V^-1 are the left eigenvectors
    a = _matrix(3, batch=(2,))
    c = np.array([1.0, -2.0, 0.5])
    x = t(a, True)
    (ember.linalg.eig(x)[0].real * t(c)).sum().backward()
    _, v = np.linalg.eig(a)
    expected = np.einsum("i,bij,bki->bjk", c, np.linalg.inv(v), v).real
    np.testing.assert_allclose(x.grad.numpy(), expected, atol=1e-10)


def test_eigvals_gradcheck_and_no_grad_path():
    _check(lambda x: (ember.linalg.eigvals(x),), _matrix(3, True))
    x = t(_matrix(3), True)
    assert ember.linalg.eigvals(x).grad_fn.name() == "LinalgEigBackward0"
    with ember.no_grad():
        assert not ember.linalg.eigvals(x).requires_grad


@pytest.mark.parametrize("op", ["eig", "eigh", "svd_u", "svd_vh"])
def test_loss_on_arbitrary_phase_raises(op):
    a = _matrix(3, True)
    x = t(a + a.conj().T if op == "eigh" else a, True)
    vectors = {"eig": lambda: ember.linalg.eig(x)[1], "eigh": lambda: ember.linalg.eigh(x)[1],
               "svd_u": lambda: ember.linalg.svd(x)[0], "svd_vh": lambda: ember.linalg.svd(x)[2]}
    with pytest.raises(RuntimeError, match=PHASE):
        vectors[op]().real.sum().backward()
    vectors[op]().abs().sum().backward()  # invariant: no error


def test_svd_phase_invariant_product_passes():
    x = t(_matrix(3, True), True)
    u, s, vh = ember.linalg.svd(x)
    (100 * (u @ vh)[0, 0].imag).backward()
    assert np.isfinite(x.grad.numpy()).all()


def test_eig_repeated_eigenvalues_keep_the_gradient_finite():
    # Not differentiable there; as eigh, eig drops the terms of zero gaps (PyTorch: NaN), so
    # only the entries that couple distinct eigenvalues carry the reconstruction's gradient.
    x = t(np.diag([1.0, 1.0, 2.0]), True)
    w, v = ember.linalg.eig(x)
    _reconstruction(w, v)[0].real.sum().backward()
    expected = np.ones((3, 3))
    expected[0, 1] = expected[1, 0] = 0.0
    np.testing.assert_allclose(x.grad.numpy(), expected, atol=1e-12)
    y = t(np.diag([1.0, 1.0, 2.0]), True)
    w, v = ember.linalg.eigh(y)
    (v @ w.diag_embed() @ v.mT).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), expected, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Cholesky


def _spd(n=4, complex_=False):
    a = _matrix(n, complex_)
    return a @ a.conj().T + n * np.eye(n)


@pytest.mark.parametrize("complex_", [False, True])
@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_ex_gradcheck(complex_, upper):
    # Through a Hermitian X + X^H: the gradient is checked on the directions that count.
    def fn(x):
        factor, info = ember.linalg.cholesky_ex(x + x.mH, upper=upper)
        assert int(info) == 0
        return (factor,)
    _check(fn, _spd(3, complex_) / 2)


def _partial_cholesky_oracle(a):
    """LAPACK's left-looking partial factor of a matrix whose leading minor k fails."""
    n = a.shape[-1]
    k = next(k for k in range(1, n + 1) if np.linalg.eigvalsh(a[:k, :k]).min() <= 0)
    low = np.tril(a).astype(a.dtype)
    j = k - 1
    if j:
        low[:j, :j] = np.linalg.cholesky(a[:j, :j])
        low[j:, :j] = scipy.linalg.solve_triangular(low[:j, :j], a[j:, :j].conj().T,
                                                    lower=True).conj().T
    low[j, j] = a[j, j].real - np.sum(np.abs(low[j, :j]) ** 2)
    return low, k


@pytest.mark.parametrize("complex_", [False, True])
def test_cholesky_ex_not_positive_definite(complex_):
    good = _spd(5, complex_)
    bad = good.copy()
    bad[3, 3] -= 100
    a = np.stack([good, bad, -np.eye(5)])
    x = t(a, True)
    factor, info = ember.linalg.cholesky_ex(x)
    assert info.tolist() == [0, 4, 1] and info.dtype is ember.int32
    expected, k = _partial_cholesky_oracle(bad)
    assert k == 4
    np.testing.assert_allclose(factor.detach().numpy()[1], expected, atol=1e-12)
    np.testing.assert_allclose(factor.detach().numpy()[2], -np.eye(5))
    np.testing.assert_allclose(factor.detach().numpy()[0], np.linalg.cholesky(good))
    assert factor.requires_grad
    factor.real.sum().backward()  # runs, as PyTorch's does on the partial factor
    assert x.grad.shape == a.shape
    with pytest.raises(ember.linalg.LinAlgError, match=r"linalg.cholesky_ex: \(Batch element 1\)"
                       r".*leading minor of order 4 is not positive-definite"):
        ember.linalg.cholesky_ex(x, check_errors=True)
    with pytest.raises(ember.linalg.LinAlgError, match=r"^cholesky: \(Batch element 1\)"):
        ember.cholesky(x)


def test_cholesky_double_backward_complex():
    _check(lambda x: (ember.linalg.cholesky(x @ x.mH + 3 * ember.eye(3)),), _matrix(3, True))


# ---------------------------------------------------------------------------------------------
# LU of rectangular matrices, singular inverses and solves


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 4, 3), (2, 3, 4), (4, 4)])
@pytest.mark.parametrize("complex_", [False, True])
def test_lu_factor_rectangular_gradcheck(shape, complex_):
    a = RNG.standard_normal(shape)
    if complex_:
        a = a + 1j * RNG.standard_normal(shape)
    _check(lambda x: (ember.linalg.lu_factor(x).LU,), a)
    _check(lambda x: ember.linalg.lu(x)[1:], a, second_order=False)
    packed, piv = ember.linalg.lu_factor(t(a))
    p, low, up = ember.lu_unpack(packed, piv)
    np.testing.assert_allclose((p @ low @ up).numpy(), a, atol=1e-12)


def test_inv_ex_and_solve_ex_of_singular_matrices():
    a = np.stack([[[1.0, 2.0], [2.0, 4.0]], [[2.0, 1.0], [1.0, 3.0]]])
    b = np.array([[1.0], [2.0]])
    x = t(a, True)
    inv, info = ember.linalg.inv_ex(x)
    assert info.tolist() == [2, 0]
    with warnings.catch_warnings(), np.errstate(all="ignore"):  # the singular oracle
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        lu, piv = scipy.linalg.lu_factor(a[0])
        np.testing.assert_array_equal(inv.detach().numpy()[0],
                                      scipy.linalg.lu_solve((lu, piv), np.eye(2)))
    np.testing.assert_allclose(inv.detach().numpy()[1], np.linalg.inv(a[1]))
    g = RNG.standard_normal((2, 2, 2))
    with np.errstate(invalid="ignore"):  # summing inf and -inf
        (inv * t(g)).sum().backward()
    grad = x.grad.numpy()
    assert not np.isfinite(grad[0]).any()
    ainv = np.linalg.inv(a[1])
    np.testing.assert_allclose(grad[1], -ainv.T @ g[1] @ ainv.T, atol=1e-12)

    bb = t(b, True)
    for left in (True, False):
        res, info = ember.linalg.solve_ex(x, bb if left else bb.mT, left=left)
        assert res.requires_grad and info.tolist() == [2, 0]
        expected = np.linalg.solve(a[1], b)
        np.testing.assert_allclose(res.detach().numpy()[1], expected if left else expected.T)
    vec = ember.linalg.solve_ex(x, bb[:, 0])[0]
    assert tuple(vec.shape) == (2, 2) and vec.requires_grad


def test_triangular_solves_of_singular_factors_do_not_raise():
    a = t([[1.0, 2.0], [0.0, 0.0]])
    x = ember.linalg.solve_triangular(a, t([[1.0], [2.0]]), upper=True)
    np.testing.assert_array_equal(x.numpy(), [[-np.inf], [np.inf]])
    x = ember.cholesky_solve(t([[1.0], [2.0]]), t([[1.0, 0.0], [0.0, 0.0]]))
    assert np.isnan(x.numpy()).all()


# ---------------------------------------------------------------------------------------------
# frexp, nextafter, copysign, heaviside


def test_frexp_gradient():
    x = np.array([3.0, -0.3, 1e-3, 17.5, -700.0])
    _check(lambda v: (ember.frexp(v).mantissa,), x)
    edge = t([0.0, np.inf, np.nan, 1.7e308, 1e-310, 6.0], True)
    mantissa, exponent = ember.frexp(edge)
    m_np, e_np = np.frexp(edge.detach().numpy())
    np.testing.assert_array_equal(mantissa.detach().numpy(), m_np)
    np.testing.assert_array_equal(exponent.numpy(), e_np)
    assert exponent.dtype is ember.int32 and not exponent.requires_grad
    mantissa.sum().backward()
    # grad / 2 ** exponent: 0 where 2 ** 1024 overflows, inf where 2 ** -1029 is subnormal
    np.testing.assert_array_equal(edge.grad.numpy(), [1.0, 1.0, 1.0, 0.0, np.inf, 0.125])


def test_nextafter_gradient_is_identity_in_input_zero_in_other():
    x, y = t([1.0, -2.0, 3.0], True), t([2.0, -3.0, 3.0], True)
    out = ember.nextafter(x, y)
    np.testing.assert_array_equal(out.detach().numpy(), np.nextafter(x.detach().numpy(),
                                                                     y.detach().numpy()))
    gx, gy = ember.autograd.grad((out * t([1.0, 2.0, 3.0])).sum(), (x, y))
    np.testing.assert_array_equal(gx.numpy(), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(gy.numpy(), [0.0, 0.0, 0.0])


def test_copysign_gradients():
    x, y = t([0.0, 2.0, -3.0, 1.5], True), t([-1.0, -0.0, 0.0, 2.0], True)
    out = ember.copysign(x, y)
    np.testing.assert_array_equal(out.detach().numpy(), np.copysign(x.detach().numpy(),
                                                                    y.detach().numpy()))
    gx, gy = ember.autograd.grad(out.sum(), (x, y))
    np.testing.assert_array_equal(gx.numpy(), [0.0, -1.0, -1.0, 1.0])
    np.testing.assert_array_equal(gy.numpy(), [0.0, 0.0, 0.0, 0.0])
    assert ember.copysign(x, -1.0).grad_fn.name() == "CopysignBackward1"
    f32 = ember.copysign(t(np.ones(2, np.float32)), t(np.float64(-1.0)))
    assert f32.dtype is ember.float32


def test_heaviside_is_recorded_but_has_no_derivative():
    x, v = t([-1.0, 0.0, 2.0], True), t([0.5, 0.5, 0.5])
    out = ember.heaviside(x, v)
    np.testing.assert_array_equal(out.detach().numpy(), [0.0, 0.5, 1.0])
    assert out.requires_grad
    with pytest.raises(RuntimeError, match="derivative for aten::heaviside is not implemented"):
        out.sum().backward()
    np.testing.assert_array_equal(ember.heaviside(t([-1, 0, 3]), t([7])).numpy(), [0, 7, 1])
