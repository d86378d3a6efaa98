"""Gradients through complex tensors against PyTorch's convention (dL/dx + i dL/dy, i.e.
grad * conj(f'(z)) for holomorphic f): every op here, on complex and on real inputs."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
Z = RNG.standard_normal(4) + 1j * RNG.standard_normal(4)
Z2 = RNG.standard_normal(4) + 1j * RNG.standard_normal(4)
X = RNG.standard_normal(4)
W = RNG.standard_normal(4) + 1j * RNG.standard_normal(4)

UNARY = ["exp", "log", "sin", "cos", "tan", "sinh", "cosh", "tanh", "sqrt", "rsqrt",
         "reciprocal", "sigmoid", "abs", "angle", "conj", "neg", "square", "log1p", "expm1",
         "asin", "acos", "atan", "asinh", "acosh", "atanh", "log10", "log2", "sgn", "real",
         "imag", "exp2"]

BINARY = {
    "mul": lambda a, b: a * b, "div": lambda a, b: a / b, "sub": lambda a, b: a - b,
    "pow": lambda a, b: a ** b, "mul_scalar": lambda a, b: a * (1.5 - 2j),
    "div_scalar": lambda a, b: a / (0.5 + 1j), "rdiv": lambda a, b: (2 - 1j) / a,
    "pow_scalar": lambda a, b: a ** 2.5, "rpow": lambda a, b: (1.5 + 0.5j) ** a,
    "matmul": lambda a, b: (a.reshape(2, 2) @ b.reshape(2, 2)).reshape(-1),
    "mv": lambda a, b: a.reshape(2, 2) @ b[:2], "dot": lambda a, b: a.dot(b).reshape(1),
    "vdot": lambda a, b: a.vdot(b).reshape(1), "prod": lambda a, b: a.prod().reshape(1),
    "cumprod": lambda a, b: a.cumprod(0), "logsumexp": lambda a, b: a.logsumexp(0).reshape(1),
    "inverse": lambda a, b: a.reshape(2, 2).inverse().reshape(-1),
    "det": lambda a, b: a.reshape(2, 2).det().reshape(1),
    "addmm": lambda a, b: a.reshape(2, 2).addmm(a.reshape(2, 2), b.reshape(2, 2)).reshape(-1),
    "outer": lambda a, b: a.outer(b).reshape(-1), "lerp": lambda a, b: a.lerp(b, 0.3),
    "addcmul": lambda a, b: a.addcmul(a, b, value=0.5), "norm": lambda a, b: a.norm().reshape(1),
}


def _loss(lib, y):
    w = lib.tensor(np.resize(W, tuple(y.shape)))
    return (y * w).real.sum() if y.is_complex() else (y * w.real).sum()


def _grads(lib, fn, *inputs):
    tensors = [lib.tensor(v, requires_grad=True) for v in inputs]
    _loss(lib, fn(lib, *tensors)).backward()
    return [None if t.grad is None else
            t.grad.resolve_conj().numpy() if lib is torch else t.grad.numpy() for t in tensors]


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("kind", ["complex", "real"])
def test_unary(name, kind):
    value = Z if kind == "complex" else X

    def fn(lib, a):
        return getattr(lib, name)(a)
    try:
        theirs = _grads(torch, fn, value)
    except RuntimeError:
        pytest.skip("torch has no gradient here")
    np.testing.assert_allclose(_grads(ember, fn, value)[0], theirs[0], rtol=1e-10,
                               atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("name", list(BINARY))
@pytest.mark.parametrize("kinds", ["cc", "rc", "cr"])
def test_binary(name, kinds):
    a = Z if kinds[0] == "c" else X
    b = Z2 if kinds[1] == "c" else X[::-1].copy()

    def fn(lib, x, y):
        return BINARY[name](x, y)
    try:
        theirs = _grads(torch, fn, a, b)
    except RuntimeError:
        pytest.skip("torch refuses mixed real and complex operands here")
    for e, t in zip(_grads(ember, fn, a, b), theirs):
        assert (e is None) == (t is None)
        if t is not None:
            np.testing.assert_allclose(e, t, rtol=1e-10, atol=1e-12, equal_nan=True)


def test_abs_double_backward_at_complex_zero_matches_torch():
    """sgn's composite divides by 1 where |z| = 0, so no NaN reaches the second derivative."""
    results = []
    for lib in (torch, ember):
        z = lib.tensor([0j, 1 + 1j, -2 + 0.5j], dtype=lib.complex128, requires_grad=True)
        (g,) = lib.autograd.grad(z.abs().sum(), [z], create_graph=True)
        (gg,) = lib.autograd.grad(lib.view_as_real(g).sum(), [z])
        results.append(gg.resolve_conj().numpy())
    np.testing.assert_allclose(results[1], results[0], atol=1e-12)
