"""ember.special against torch.special: values, dtypes and gradients."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402
from ember import special  # noqa: E402

X = np.linspace(-2.5, 2.5, 9)
POSITIVE = np.linspace(0.25, 3.0, 9)
PROB = np.linspace(0.05, 0.95, 9)

UNARY = [
    ("expit", X), ("logit", PROB), ("erf", X), ("erfc", X), ("erfinv", np.linspace(-0.9, 0.9, 9)),
    ("erfcx", X), ("exp2", X), ("expm1", X), ("log1p", POSITIVE), ("gammaln", POSITIVE),
    ("digamma", POSITIVE), ("psi", POSITIVE), ("i0", X), ("i0e", X), ("i1", X), ("i1e", X),
    ("ndtr", X), ("ndtri", PROB), ("log_ndtr", X), ("sinc", X), ("round", X * 1.3),
    ("entr", np.concatenate([POSITIVE, [0.0, -1.0]])), ("bessel_j0", X), ("bessel_j1", X),
    ("bessel_y0", POSITIVE), ("bessel_y1", POSITIVE), ("modified_bessel_i0", X),
    ("modified_bessel_i1", X), ("modified_bessel_k0", POSITIVE),
    ("modified_bessel_k1", POSITIVE), ("scaled_modified_bessel_k0", POSITIVE),
    ("scaled_modified_bessel_k1", POSITIVE),
]

DIFFERENTIABLE = {"expit", "logit", "erf", "erfc", "erfinv", "erfcx", "exp2", "expm1", "log1p",
                  "gammaln", "digamma", "psi", "i0", "i0e", "i1", "i1e", "ndtr", "ndtri",
                  "log_ndtr", "sinc", "entr"}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("name", "x"), UNARY, ids=[n for n, _ in UNARY])
def test_unary_matches_torch(name, x, dtype):
    ours = getattr(special, name)(ember.tensor(x, dtype=getattr(ember, dtype)))
    theirs = getattr(torch.special, name)(torch.tensor(x, dtype=getattr(torch, dtype)))
    assert str(ours.dtype) == str(theirs.dtype)
    tol = 1e-5 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize(("name", "x"), [(n, x) for n, x in UNARY if n in DIFFERENTIABLE],
                         ids=[n for n, _ in UNARY if n in DIFFERENTIABLE])
def test_gradient_matches_torch(name, x):
    x = x[x > 0] if name == "entr" else x
    ours = ember.tensor(x, dtype=ember.float64, requires_grad=True)
    theirs = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    getattr(special, name)(ours).sum().backward()
    getattr(torch.special, name)(theirs).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-8, atol=1e-10)


def test_integer_input_dtype_matches_torch():
    for name in ("i0", "i1", "ndtr", "expit", "erf", "entr"):
        ours = getattr(special, name)(ember.tensor([1, 2]))
        theirs = getattr(torch.special, name)(torch.tensor([1, 2]))
        assert str(ours.dtype) == str(theirs.dtype), name


@pytest.mark.parametrize("name", ["xlogy", "xlog1py", "zeta"])
def test_binary_matches_torch(name):
    a = np.array([0.0, 1.5, 2.0, 3.0])
    b = np.array([0.5, 2.0, np.nan, 1.0])
    ours = getattr(special, name)(ember.tensor(a), ember.tensor(b)).numpy()
    theirs = getattr(torch.special, name)(torch.tensor(a), torch.tensor(b)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, equal_nan=True)


def test_reductions_and_polygamma_match_torch():
    x = np.random.default_rng(0).standard_normal((3, 4))
    e, t = ember.tensor(x), torch.tensor(x)
    for ours, theirs in [
        (special.softmax(e, 1), torch.special.softmax(t, 1)),
        (special.log_softmax(e, 0), torch.special.log_softmax(t, 0)),
        (special.logsumexp(e, 1, keepdim=True), torch.special.logsumexp(t, 1, keepdim=True)),
        (special.polygamma(2, e.abs() + 1), torch.special.polygamma(2, t.abs() + 1)),
        (special.multigammaln(e.abs() + 2, 3), torch.special.multigammaln(t.abs() + 2, 3)),
        (special.gammainc(e.abs() + 1, e.abs()), torch.special.gammainc(t.abs() + 1, t.abs())),
    ]:
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10)


def test_names_cover_torch_special():
    missing = {n for n in dir(torch.special) if not n.startswith("_") and not hasattr(special, n)}
    polynomials = {n for n in missing if n.endswith(("_polynomial_t", "_polynomial_u",
                                                     "_polynomial_v", "_polynomial_w",
                                                     "_polynomial_h", "_polynomial_he",
                                                     "_polynomial_l", "_polynomial_p"))}
    assert missing - polynomials <= {"airy_ai", "spherical_bessel_j0", "torch", "common_args",
                                     "multi_dim_common"}
