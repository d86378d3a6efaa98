"""Custom ``Function.jvp`` in forward-mode AD and ``gradcheck(check_forward_ad=True)`` (NumPy is
the oracle)."""
import numpy as np
import pytest

import ember
import ember.autograd.forward_ad as fwAD
from ember.autograd import Function, gradcheck
from ember.autograd.gradcheck import GradcheckError

rng = np.random.default_rng(0)
X = rng.uniform(0.2, 1.5, 5)
T = rng.standard_normal(5)
calls = []


class Exp(Function):
    """The forward-mode AD tutorial's Function: a jvp and no backward."""

    @staticmethod
    def forward(ctx, x):
        result = x.exp()
        ctx.result = result
        return result

    @staticmethod
    def jvp(ctx, g):
        calls.append("jvp")
        out = g * ctx.result
        del ctx.result
        return out


class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        ctx.save_for_forward(x)
        return x ** 3

    @staticmethod
    def jvp(ctx, x_t):
        calls.append("jvp")
        (x,) = ctx.saved_tensors
        return 3 * x ** 2 * x_t

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 3 * x ** 2 * grad


class Square(Function):  # no jvp: forward AD goes through backward, as before
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 2 * x * grad


def _tangent(fn, x=X, t=T):
    with fwAD.dual_level():
        dual = fwAD.make_dual(ember.tensor(x), ember.tensor(t))
        primal, tangent = fwAD.unpack_dual(fn(dual))
        return primal.detach().numpy(), tangent.numpy()


def test_tutorial_function_without_backward():
    calls.clear()
    primal, tangent = _tangent(lambda d: Exp.apply(d) * 2)
    np.testing.assert_allclose(primal, 2 * np.exp(X))
    np.testing.assert_allclose(tangent, 2 * T * np.exp(X))
    assert calls == ["jvp"]


def test_saved_for_forward_and_composition():
    calls.clear()
    _, tangent = _tangent(lambda d: Cube.apply(d.sin()).sum())
    np.testing.assert_allclose(tangent, np.sum(3 * np.sin(X) ** 2 * np.cos(X) * T))
    assert calls == ["jvp"]
    _, tangent = _tangent(Square.apply)
    np.testing.assert_allclose(tangent, 2 * X * T)


def test_jvp_runs_only_for_inputs_with_tangents():
    calls.clear()
    x = ember.tensor(X, requires_grad=True)
    Cube.apply(x).sum().backward()  # reverse mode only
    np.testing.assert_allclose(x.grad.numpy(), 3 * X ** 2)
    with fwAD.dual_level():
        Cube.apply(ember.tensor(X))
        Cube.apply(x)  # an input without tangent
    assert calls == []
    with pytest.raises(NotImplementedError, match="backward"):
        Exp.apply(ember.tensor(X, requires_grad=True)).sum().backward()


def test_an_input_that_needs_reverse_mode_uses_backward():
    calls.clear()
    w = ember.tensor(X, requires_grad=True)
    with fwAD.dual_level():
        dual = fwAD.make_dual(w, ember.tensor(T))
        out = Cube.apply(dual)
        tangent = fwAD.unpack_dual(out).tangent
        out.sum().backward()
    np.testing.assert_allclose(tangent.detach().numpy(), 3 * X ** 2 * T)
    np.testing.assert_allclose(w.grad.numpy(), 3 * X ** 2)
    assert calls == []


def test_wrong_number_of_tangents():
    class Two(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, x * 3

        @staticmethod
        def jvp(ctx, x_t):
            return x_t * 2

    with fwAD.dual_level(), pytest.raises(RuntimeError, match="incorrect number of forward"):
        Two.apply(fwAD.make_dual(ember.tensor(X), ember.tensor(T)))


def test_only_functions_defining_jvp_take_the_jvp_path():
    assert Exp._defines_jvp and Cube._defines_jvp
    assert not Square._defines_jvp and not ember.ops.elementwise.Mul._defines_jvp


def test_gradcheck_forward_ad():
    x = ember.tensor(X, requires_grad=True)
    assert gradcheck(Exp.apply, (x,), check_forward_ad=True, check_backward_ad=False)
    assert gradcheck(Cube.apply, (x,), check_forward_ad=True)
    y = ember.tensor(X[:3], requires_grad=True)
    assert gradcheck(lambda a, b: (a[:3] * b).sin(), (x, y), check_forward_ad=True)

    class Wrong(Exp):
        @staticmethod
        def jvp(ctx, g):
            return g

    with pytest.raises(GradcheckError, match="computed with forward mode mismatch"):
        gradcheck(Wrong.apply, (x,), check_forward_ad=True, check_backward_ad=False)
    assert not gradcheck(Wrong.apply, (x,), check_forward_ad=True, check_backward_ad=False,
                         raise_exception=False)
    with pytest.raises(AssertionError, match="at least one of"):
        gradcheck(Exp.apply, (x,), check_forward_ad=False, check_backward_ad=False)
