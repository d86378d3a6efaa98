"""ember.special against SciPy, with gradchecks of the functions it differentiates itself."""
import math

import numpy as np
import pytest
import scipy.special as sp

import ember
from ember import special
from ember.autograd import gradcheck

X = np.linspace(-3.0, 3.0, 11)


@pytest.mark.parametrize(("name", "oracle", "x"), [
    ("erfcx", sp.erfcx, X),
    ("i0e", sp.i0e, X),
    ("i1", sp.i1, X),
    ("i1e", sp.i1e, X),
    ("ndtr", sp.ndtr, X),
    ("log_ndtr", sp.log_ndtr, np.linspace(-40.0, 3.0, 11)),
    ("ndtri", sp.ndtri, np.linspace(0.01, 0.99, 11)),
    ("entr", sp.entr, np.array([-1.0, 0.0, 0.5, 2.0, np.nan])),
    ("bessel_j0", sp.j0, X),
    ("modified_bessel_k1", sp.k1, np.linspace(0.5, 3.0, 6)),
    ("scaled_modified_bessel_k0", sp.k0e, np.linspace(0.5, 3.0, 6)),
])
def test_values_match_scipy(name, oracle, x):
    out = getattr(special, name)(ember.tensor(x))
    assert out.dtype == ember.float64
    np.testing.assert_allclose(out.numpy(), oracle(x), rtol=1e-10, atol=1e-12)


def test_float32_and_integer_inputs_keep_torch_dtypes():
    assert special.i0e(ember.ones(3)).dtype == ember.float32
    assert special.ndtr(ember.tensor([0, 1])).dtype == ember.float32
    assert special.i1(ember.tensor([1, 2])).dtype == ember.float32


def test_aliases_are_the_ember_ops():
    assert special.expit is ember.sigmoid
    assert special.gammaln is ember.lgamma
    assert special.psi is ember.digamma
    x = ember.tensor([2.0, 3.0])
    np.testing.assert_allclose(special.multigammaln(x, 2).numpy(),
                               [sp.multigammaln(v, 2) for v in (2.0, 3.0)])


def test_xlog1py_is_zero_where_input_is_zero():
    out = special.xlog1py(ember.tensor([0.0, 2.0, 0.0]), ember.tensor([-1.0, 1.0, np.nan]))
    np.testing.assert_allclose(out.numpy(), [0.0, 2 * math.log(2.0), np.nan])


def test_zeta_matches_scipy():
    out = special.zeta(ember.tensor([2.0, 3.0]), 2.0)
    np.testing.assert_allclose(out.numpy(), sp.zeta([2.0, 3.0], 2.0))


@pytest.mark.parametrize(("name", "x"), [
    ("erfcx", X), ("i0e", X), ("i1e", X), ("ndtr", X), ("log_ndtr", X),
    ("ndtri", np.linspace(0.05, 0.95, 7)), ("entr", np.linspace(0.2, 3.0, 7)),
])
def test_gradcheck(name, x):
    t = ember.tensor(x, dtype=ember.float64, requires_grad=True)
    assert gradcheck(getattr(special, name), (t,))


def test_gradcheck_xlog1py():
    a = ember.tensor([0.5, 1.5, -2.0], dtype=ember.float64, requires_grad=True)
    b = ember.tensor([0.3, 2.0, 1.0], dtype=ember.float64, requires_grad=True)
    assert gradcheck(special.xlog1py, (a, b))


def test_i1e_gradient_at_zero_is_half():
    x = ember.zeros(1, dtype=ember.float64, requires_grad=True)
    special.i1e(x).sum().backward()
    assert x.grad.item() == 0.5
