"""ember.autograd.functional: vjp, jvp, jacobian, hessian, hvp, vhp (analytic oracles)."""
import numpy as np
import pytest

import ember
from ember.autograd import grad
from ember.autograd.functional import hessian, hvp, jacobian, jvp, vhp, vjp

X = np.array([1.0, 2.0, 3.0])


def x():
    return ember.tensor(X)


def f(a):
    return a ** 2 * a.sum()


def jac_f(a):  # d(a_i^2 S)/da_j = 2 a_i S delta_ij + a_i^2
    return np.diag(2 * a * a.sum()) + (a ** 2)[:, None]


def test_jacobian_single_and_tuple():
    np.testing.assert_allclose(jacobian(f, x()).numpy(), jac_f(X))
    ja, jb = jacobian(lambda a, b: a * b, (x(), x() * 2))
    np.testing.assert_allclose(ja.numpy(), np.diag(2 * X))
    np.testing.assert_allclose(jb.numpy(), np.diag(X))
    j2, js = jacobian(lambda a: (a * 2, a.sum()), x())
    np.testing.assert_allclose(j2.numpy(), 2 * np.eye(3))
    np.testing.assert_allclose(js.numpy(), np.ones(3))
    np.testing.assert_allclose(jacobian(lambda a: ember.ones(2), x()).numpy(), np.zeros((2, 3)))
    assert jacobian(lambda a: (a ** 2).reshape(3, 1), x()).shape == (3, 1, 3)


def test_hessian():
    np.testing.assert_allclose(hessian(lambda a: (a ** 3).sum(), x()).numpy(), np.diag(6 * X))
    (haa, hab), (hba, hbb) = hessian(lambda a, b: (a * b).sum(), (x(), x()))
    np.testing.assert_allclose(haa.numpy(), np.zeros((3, 3)))
    np.testing.assert_allclose(hab.numpy(), np.eye(3))
    np.testing.assert_allclose(hba.numpy(), np.eye(3))
    with pytest.raises(RuntimeError, match="should return a single element"):
        hessian(lambda a: a * 2, x())


def test_vjp_jvp_hvp_vhp():
    v = ember.tensor([1.0, -1.0, 2.0], dtype=ember.float64)
    out, g = vjp(f, x(), v)
    np.testing.assert_allclose(out.numpy(), X ** 2 * X.sum())
    np.testing.assert_allclose(g.numpy(), v.numpy() @ jac_f(X))
    out, g = jvp(f, x(), v)
    np.testing.assert_allclose(g.numpy(), jac_f(X) @ v.numpy())
    out, g = hvp(lambda a: (a ** 3).sum(), x(), v)
    assert out.item() == 36.0
    np.testing.assert_allclose(g.numpy(), 6 * X * v.numpy())
    _, g = vhp(lambda a: (a ** 3).sum(), x(), v)
    np.testing.assert_allclose(g.numpy(), 6 * X * v.numpy())
    _, g = vjp(lambda a: a.sum(), x())
    np.testing.assert_allclose(g.numpy(), np.ones(3))
    with pytest.raises(RuntimeError, match="can only be None"):
        vjp(f, x())
    assert not out.requires_grad and not g.requires_grad


def test_create_graph_keeps_history():
    a = x().requires_grad_()
    _, g = vjp(lambda t: (t ** 3).sum(), a, create_graph=True)
    assert g.requires_grad
    (gg,) = grad(g.sum(), a)
    np.testing.assert_allclose(gg.numpy(), 6 * X)


def test_second_derivative_through_detached_alias_is_zero():
    """x * x.detach(): the detached factor shares x's array but must stay a constant."""
    a = x().requires_grad_()
    (g,) = grad((a * a.detach()).sum(), a, create_graph=True)
    assert not g.requires_grad
    np.testing.assert_allclose(g.numpy(), X)
