"""Follow-ups against NumPy/SciPy oracles and finite differences: xlogy/xlog1py, the incomplete
gamma functions' gradient in x, cholesky_solve's gradients."""
import numpy as np
import pytest
import scipy.special as sp

import ember
from ember.autograd import gradcheck, gradgradcheck


def _leaf(values, dtype=ember.float64):
    return ember.tensor(values, dtype=dtype, requires_grad=True)


@pytest.mark.parametrize(("fn", "ref"), [(ember.xlogy, sp.xlogy),
                                         (ember.special.xlog1py, sp.xlog1py)])
def test_xlogy_family_computes_in_the_promoted_dtype(fn, ref):
    x, y = np.array([1.5, 0.0, 2.0]), np.array([0.1, 0.3, 7.0], np.float32)
    out = fn(ember.tensor(x), ember.tensor(y))
    assert out.dtype is ember.float64
    np.testing.assert_allclose(out.numpy(), ref(x, y.astype(np.float64)), rtol=1e-15)


@pytest.mark.parametrize("fn", [ember.xlogy, ember.special.xlog1py])
def test_xlogy_family_gradients_and_second_derivatives(fn):
    x, y = _leaf([0.5, 1.5, -2.0, 0.7]), _leaf([0.3, 2.0, 1.0, 4.0])
    assert gradcheck(fn, (x, y))
    assert gradgradcheck(fn, (x, y))


def test_xlogy_gradient_at_zero_input_is_the_log():
    x, y = _leaf([0.0, 0.0, 0.0]), _leaf([3.0, 0.0, -1.0])
    ember.xlogy(x, y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [np.log(3.0), 0.0, 0.0])


@pytest.mark.parametrize(("fn", "sign"), [(ember.igamma, 1.0), (ember.igammac, -1.0)])
def test_incomplete_gamma_gradient_in_x(fn, sign):
    a = np.array([0.5, 1.5, 4.0])
    x = _leaf([0.7, 2.0, 3.5])
    fn(ember.tensor(a), x).sum().backward()
    density = np.exp((a - 1) * np.log(x.detach().numpy()) - x.detach().numpy() - sp.gammaln(a))
    np.testing.assert_allclose(x.grad.numpy(), sign * density, rtol=1e-12)
    assert gradgradcheck(lambda t: fn(ember.tensor(a), t), (x.detach().requires_grad_(),))


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_solve_gradcheck_through_its_triangle(upper):
    rng = np.random.default_rng(0)
    m = rng.standard_normal((2, 3, 3))
    factor = np.linalg.cholesky(m @ m.transpose(0, 2, 1) + 3 * np.eye(3))
    factor = _leaf(factor.transpose(0, 2, 1) if upper else factor)
    b = _leaf(rng.standard_normal((3, 2)))

    def solve(rhs, f):  # the function reads one triangle: differentiate that one
        return ember.cholesky_solve(rhs, f.triu() if upper else f.tril(), upper)

    assert gradcheck(solve, (b, factor))
    assert gradgradcheck(solve, (b, factor))


def test_cholesky_solve_matches_numpy():
    rng = np.random.default_rng(1)
    m = rng.standard_normal((4, 4))
    a = m @ m.T + 4 * np.eye(4)
    b = rng.standard_normal((4, 3))
    low = np.linalg.cholesky(a)
    np.testing.assert_allclose(ember.cholesky_solve(ember.tensor(b), ember.tensor(low)).numpy(),
                               np.linalg.solve(a, b), rtol=1e-10)
    np.testing.assert_allclose(
        ember.cholesky_solve(ember.tensor(b), ember.tensor(low.T), upper=True).numpy(),
        np.linalg.solve(a, b), rtol=1e-10)
