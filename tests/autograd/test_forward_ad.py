"""autograd.forward_ad: tangents against hand-computed derivatives and float64 central
differences, the level mechanics, caching, reverse mode through tangents, and the errors."""
import numpy as np
import pytest

import ember
import ember.autograd.forward_ad as fwAD
from ember import nn


def _t(a) -> ember.Tensor:
    return ember.tensor(np.asarray(a, dtype=np.float64))


def _fd_jvp(f, xs, ts, eps: float = 1e-6) -> np.ndarray:
    """Central difference of ``f`` (NumPy arrays in, one out) along the tangents ``ts``."""
    plus = f(*[x + eps * t for x, t in zip(xs, ts)])
    minus = f(*[x - eps * t for x, t in zip(xs, ts)])
    return (plus - minus) / (2 * eps)


def _jvp(f, xs, ts):
    with fwAD.dual_level():
        duals = [fwAD.make_dual(_t(x), _t(t)) for x, t in zip(xs, ts)]
        out = f(*duals)
        primal, tangent = fwAD.unpack_dual(out)
        return primal.detach().numpy(), tangent.numpy()


rng = np.random.default_rng(0)


def test_elementwise_hand_derivative():
    x, t, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.standard_normal(4)
    primal, tangent = _jvp(lambda a: a ** 2 + ember.tensor(y) ** 2, [x], [t])
    np.testing.assert_allclose(primal, x ** 2 + y ** 2)
    np.testing.assert_allclose(tangent, 2 * x * t)


def test_matmul_with_two_dual_inputs():
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    ta, tb = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    _, tangent = _jvp(lambda p, q: p @ q, [a, b], [ta, tb])
    np.testing.assert_allclose(tangent, ta @ b + a @ tb)


@pytest.mark.parametrize("f, g", [
    (lambda x, y: (x.sin() * y.exp()).sum(dim=1), lambda x, y: (np.sin(x) * np.exp(y)).sum(1)),
    (lambda x, y: ember.tanh(x @ y.T).softmax(-1),
     lambda x, y: (lambda z: np.exp(z) / np.exp(z).sum(-1, keepdims=True))(np.tanh(x @ y.T))),
    (lambda x, y: (x / (1 + y ** 2)).log1p().cumsum(0)[1:],
     lambda x, y: np.cumsum(np.log1p(x / (1 + y ** 2)), 0)[1:]),
    (lambda x, y: ember.cat([x.t(), y.t()], 1).reshape(-1)[::3] * x.mean(),
     lambda x, y: np.concatenate([x.T, y.T], 1).reshape(-1)[::3] * x.mean()),
])
def test_nested_ops_vs_finite_differences(f, g):
    x, y = rng.uniform(0.1, 1.0, (3, 4)), rng.uniform(0.1, 1.0, (3, 4))
    tx, ty = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    primal, tangent = _jvp(f, [x, y], [tx, ty])
    np.testing.assert_allclose(primal, g(x, y), rtol=1e-12)
    np.testing.assert_allclose(tangent, _fd_jvp(g, [x, y], [tx, ty]), rtol=1e-6, atol=1e-8)


def test_module_parameters_made_dual():
    model = nn.Linear(5, 3).double()
    x = _t(rng.standard_normal((4, 5)))
    params = dict(model.named_parameters())
    tangents = {name: ember.rand_like(p) for name, p in params.items()}
    with fwAD.dual_level():
        for name, p in params.items():
            delattr(model, name)
            setattr(model, name, fwAD.make_dual(p, tangents[name]))
        jvp = fwAD.unpack_dual(model(x)).tangent
    expected = x.numpy() @ tangents["weight"].numpy().T + tangents["bias"].numpy()
    np.testing.assert_allclose(jvp.detach().numpy(), expected, rtol=1e-12)


def test_functional_call_with_dual_parameters_of_an_mlp():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    x = rng.standard_normal((5, 3))
    names = [n for n, _ in model.named_parameters()]
    values = [p.detach().numpy().copy() for p in model.parameters()]
    tangents = [rng.standard_normal(v.shape) for v in values]

    def numpy_mlp(*ps):
        w1, b1, w2, b2 = ps
        return np.tanh(x @ w1.T + b1) @ w2.T + b2

    with fwAD.dual_level():
        duals = {n: fwAD.make_dual(_t(v), _t(t)) for n, v, t in zip(names, values, tangents)}
        out = ember.func.functional_call(model, duals, (_t(x),))
        jvp = fwAD.unpack_dual(out).tangent
    np.testing.assert_allclose(jvp.numpy(), _fd_jvp(numpy_mlp, values, tangents),
                               rtol=1e-6, atol=1e-9)


def test_dual_tangent_identity_layout_and_level_exit():
    primal, tangent = _t(rng.standard_normal((3, 3))), _t(rng.standard_normal((3, 3)))
    with fwAD.dual_level() as level:
        assert level == 0 and fwAD._current_level == 0
        dual = fwAD.make_dual(primal, tangent)
        assert fwAD.unpack_dual(dual).tangent is tangent
        alt = fwAD.make_dual(primal, tangent.T)
        got = fwAD.unpack_dual(alt).tangent
        assert got is not tangent and got.stride() == primal.stride()
        np.testing.assert_array_equal(got.numpy(), tangent.numpy().T)
        unpacked = fwAD.unpack_dual(dual)
        assert isinstance(unpacked, fwAD.UnpackedDualTensor) and unpacked._fields == (
            "primal", "tangent")
        np.testing.assert_array_equal(unpacked.primal.numpy(), primal.numpy())
        assert fwAD.unpack_dual(unpacked.primal).tangent is None
        out = dual * 3
        assert fwAD.unpack_dual(primal).tangent is None  # the primal itself carries none
    assert fwAD._current_level == -1
    assert fwAD.unpack_dual(out).tangent is None and fwAD.unpack_dual(dual).tangent is None
    assert not dual.requires_grad  # it required grad only to carry its tangent


def test_tangent_cached_and_refreshed_after_in_place_update():
    x, t = _t([1.0, 2.0, 3.0]), _t([1.0, 1.0, 1.0])
    with fwAD.dual_level():
        d = fwAD.make_dual(x, t)
        y = d * 2
        first = fwAD.unpack_dual(y).tangent
        assert fwAD.unpack_dual(y).tangent is first
        y.mul_(d)  # y = 2 d^2: tangent 4 d t
        np.testing.assert_allclose(fwAD.unpack_dual(y).tangent.numpy(), [4.0, 8.0, 12.0])
        plain = ember.zeros(3, dtype=ember.float64)
        assert fwAD.unpack_dual(plain).tangent is None
        plain.add_(d.exp())
        np.testing.assert_allclose(fwAD.unpack_dual(plain).tangent.numpy(), np.exp([1, 2, 3]))


def test_no_dependency_and_non_differentiable_outputs():
    x = _t([0.5, -1.0])
    with fwAD.dual_level():
        d = fwAD.make_dual(x, _t([1.0, 1.0]))
        other = _t([1.0, 2.0]) * 2
        assert fwAD.unpack_dual(other).tangent is None
        assert fwAD.unpack_dual((d > 0).double()).tangent is None
        assert fwAD.unpack_dual(d.detach()).tangent is None
        assert fwAD.unpack_dual(d.argmax()).tangent is None
        np.testing.assert_array_equal(fwAD.unpack_dual(d.sign()).tangent.numpy(), [0, 0])


def test_reverse_mode_through_tangent_and_forward_over_reverse():
    x = ember.tensor([0.3, -0.7, 1.1], dtype=ember.float64, requires_grad=True)
    v = _t([1.0, 2.0, -1.0])
    xs, vs = x.detach().numpy(), v.numpy()
    hvp = 2 * np.exp(xs) * np.cos(xs) * vs  # f = sum(sin(x) exp(x)): f" = 2 exp(x) cos(x)
    with fwAD.dual_level():
        d = fwAD.make_dual(x, v)
        jvp = fwAD.unpack_dual((d.sin() * d.exp()).sum()).tangent
        assert jvp.requires_grad
        jvp.backward()
    np.testing.assert_allclose(x.grad.numpy(), hvp, rtol=1e-12)
    with fwAD.dual_level():
        d = fwAD.make_dual(x, v)
        (g,) = ember.autograd.grad((d.sin() * d.exp()).sum(), d, create_graph=True)
        np.testing.assert_allclose(fwAD.unpack_dual(g).tangent.detach().numpy(), hvp,
                                   rtol=1e-12)


def test_enter_exit_functions_and_decorator():
    assert fwAD.enter_dual_level() == 0
    try:
        with pytest.raises(RuntimeError, match="Nested forward mode AD"):
            fwAD.enter_dual_level()
        with pytest.raises(RuntimeError, match="not the last one"):
            fwAD.exit_dual_level(level=3)
    finally:
        fwAD.exit_dual_level()
    with pytest.raises(RuntimeError, match="positive number"):
        fwAD.exit_dual_level()

    @fwAD.dual_level()
    def jvp_of_square(x, t):
        return fwAD.unpack_dual(fwAD.make_dual(x, t) ** 2).tangent

    np.testing.assert_allclose(jvp_of_square(_t([3.0]), _t([1.0])).numpy(), [6.0])
    assert fwAD._current_level == -1


def test_errors():
    x = _t([1.0, 2.0])
    with pytest.raises(RuntimeError, match="no level exists"):
        fwAD.make_dual(x, x)
    assert fwAD.unpack_dual(x) == (x, None)
    with fwAD.dual_level():
        with pytest.raises(RuntimeError, match=r"Tensor is of size \[2\] while the given "
                                                r"forward gradient is of size \[3\]"):
            fwAD.make_dual(x, _t([1.0, 2.0, 3.0]))
        with pytest.raises(ValueError, match="primal to be floating point"):
            fwAD.make_dual(ember.arange(2), x)
        with pytest.raises(ValueError, match="tangent to be floating point"):
            fwAD.make_dual(x, ember.arange(2))
        d = fwAD.make_dual(x, x)
        for again in (d, d * 2):
            with pytest.raises(RuntimeError, match="already has a forward gradient"):
                fwAD.make_dual(again, x)
        with pytest.raises(RuntimeError, match="Invalid level"):
            fwAD.unpack_dual(d, level=4)
