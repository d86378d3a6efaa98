"""Custom autograd.Function: ctx API, multiple outputs, non-tensor args, setup_context style,
gradcheck/gradgradcheck themselves and detect_anomaly."""
import warnings

import numpy as np
import pytest

import ember
from ember.autograd import Function, gradcheck, gradgradcheck
from ember.autograd.gradcheck import GradcheckError


def leaf(*shape):
    return ember.randn(*shape, dtype=ember.float64, requires_grad=True)


def npy(t):
    return t.detach().numpy()


class Exp(Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * y


class ScaledMul(Function):
    """x * y * scale with a Python scale argument; records needs_input_grad."""

    seen_needs = None

    @staticmethod
    def forward(ctx, x, y, scale):
        ctx.save_for_backward(x, y)
        ctx.scale = scale
        ScaledMul.seen_needs = ctx.needs_input_grad
        return x * y * scale

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        gx = grad * y * ctx.scale if ctx.needs_input_grad[0] else None
        gy = grad * x * ctx.scale if ctx.needs_input_grad[1] else None
        return gx, gy, None


class SplitSign(Function):
    """Two outputs: the positive and the negative part."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0), x.clamp(max=0)

    @staticmethod
    def backward(ctx, gpos, gneg):
        (x,) = ctx.saved_tensors
        return gpos * (x > 0) + gneg * (x <= 0)


class Cube(Function):
    """setup_context style (forward without ctx)."""

    @staticmethod
    def forward(x):
        return x ** 3

    @staticmethod
    def setup_context(ctx, inputs, output):
        (x,) = inputs
        ctx.save_for_backward(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x ** 2


def test_custom_function_forward_backward_and_name():
    x = leaf(4)
    y = Exp.apply(x)
    assert y.grad_fn.name() == "ExpBackward" and not y.is_leaf
    assert isinstance(y.grad_fn, ember.autograd.function.BackwardCFunction)
    y.sum().backward()
    np.testing.assert_allclose(npy(x.grad), np.exp(npy(x)))
    assert gradcheck(Exp.apply, (leaf(3),))
    assert gradgradcheck(Exp.apply, (leaf(3),))


def test_custom_function_without_grad_returns_plain_tensor():
    y = Exp.apply(ember.ones(2))
    assert y.grad_fn is None and not y.requires_grad
    with ember.no_grad():
        assert Exp.apply(leaf(2)).grad_fn is None


def test_needs_input_grad_and_non_tensor_args():
    x, y = leaf(3), ember.randn(3, dtype=ember.float64)
    out = ScaledMul.apply(x, y, 2.0)
    assert ScaledMul.seen_needs == (True, False, False)
    out.sum().backward()
    np.testing.assert_allclose(npy(x.grad), 2 * npy(y))
    assert gradcheck(lambda a, b: ScaledMul.apply(a, b, 3.0), (leaf(3), leaf(3)))


def test_multiple_outputs():
    x = leaf(6)
    pos, neg = SplitSign.apply(x)
    assert pos.grad_fn is neg.grad_fn
    (pos * 2).sum().backward()  # neg's grad is materialized as zeros
    np.testing.assert_allclose(npy(x.grad), 2.0 * (npy(x) > 0))
    assert gradcheck(SplitSign.apply, (leaf(5),))


def test_set_materialize_grads_false_passes_none():
    seen = []

    class Two(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x.clone(), x.clone()

        @staticmethod
        def backward(ctx, g1, g2):
            seen.append((g1 is None, g2 is None))
            return g1

    a, b = Two.apply(leaf(2))
    a.sum().backward()
    assert seen == [(False, True)]


def test_setup_context_style():
    x = leaf(3)
    Cube.apply(x).sum().backward()
    np.testing.assert_allclose(npy(x.grad), 3 * npy(x) ** 2)
    assert gradcheck(Cube.apply, (leaf(3),))


def test_mark_dirty():
    class AddOneInplace(Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, grad):
            return grad

    x = leaf(3)
    h = x * 2
    out = AddOneInplace.apply(h)
    assert out is h and h.grad_fn.name() == "AddOneInplaceBackward"
    np.testing.assert_allclose(npy(h), 2 * npy(x) + 1)
    (out * out).sum().backward()
    np.testing.assert_allclose(npy(x.grad), 4 * (2 * npy(x) + 1))


def test_mark_non_differentiable():
    class SortWithIndex(Function):
        @staticmethod
        def forward(ctx, x):
            values, idx = x.sort()
            ctx.mark_non_differentiable(idx)
            ctx.save_for_backward(idx)
            return values, idx

        @staticmethod
        def backward(ctx, g, gi):
            (idx,) = ctx.saved_tensors
            out = ember.zeros_like(g)
            out[idx] = g
            return out

    x = leaf(5)
    values, idx = SortWithIndex.apply(x)
    assert values.requires_grad and not idx.requires_grad
    (values * ember.arange(5, dtype=ember.float64)).sum().backward()
    expected = np.zeros(5)
    expected[np.argsort(npy(x))] = np.arange(5)
    np.testing.assert_allclose(npy(x.grad), expected)


def test_returning_an_input_makes_an_alias_with_history():
    class Identity(Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, grad):
            return grad * 2

    x = leaf(2)
    y = Identity.apply(x)
    assert y is not x and x.is_leaf and y.grad_fn is not None
    y.sum().backward()
    np.testing.assert_allclose(npy(x.grad), np.full(2, 2.0))


def test_saved_tensor_modified_inplace_raises():
    x = leaf(3)
    h = x * 1
    y = Exp.apply(h)
    y.add_(1)  # Exp saved its output
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()



def test_saved_tensors_after_backward_raises_even_when_nothing_was_saved():
    class Double(Function):  # saves nothing, yet reads saved_tensors (PyTorch raises too)
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            assert ctx.saved_tensors == ()
            return grad * 2

    y = Double.apply(leaf(3)).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()
    z = Double.apply(leaf(3)).sum()
    z.backward(retain_graph=True)
    z.backward()  # retained: the node still answers ()

def test_wrong_gradient_shape_is_reported():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, grad):
            return ember.ones(7, dtype=ember.float64)

    with pytest.raises(RuntimeError, match="returned an invalid gradient at index 0 - got "
                                           r"\[7\] but expected shape compatible with \[3\]"):
        Bad.apply(leaf(3)).sum().backward()


def test_once_differentiable_is_usable():
    class Sq(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @ember.autograd.function.once_differentiable
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return 2 * x * grad

    x = leaf(3)
    Sq.apply(x).sum().backward()
    np.testing.assert_allclose(npy(x.grad), 2 * npy(x))


def test_gradcheck_detects_wrong_backward():
    class Wrong(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad * 3

    x = leaf(3)
    with pytest.raises(GradcheckError, match="Jacobian mismatch for output 0 with respect to "
                                             "input 0"):
        gradcheck(Wrong.apply, (x,))
    assert issubclass(GradcheckError, RuntimeError)
    assert gradcheck(Wrong.apply, (x,), raise_exception=False) is False
    with pytest.raises(ValueError, match="at least one input tensor to require gradient"):
        gradcheck(Wrong.apply, (ember.ones(2, dtype=ember.float64),))


def test_gradcheck_non_contiguous_input_and_float32_warning():
    x = ember.randn(3, 4, dtype=ember.float64).t().requires_grad_()
    assert not x.is_contiguous()
    assert gradcheck(lambda t: (t * t).sum(1), (x,))
    with pytest.warns(UserWarning, match="not a double precision"):
        gradcheck(lambda t: t * 2, (ember.ones(2, requires_grad=True),), eps=1e-2)


def test_gradgradcheck_detects_wrong_double_backward():
    class WrongSecond(Function):
        """Correct first derivative of x**2, but its backward is not differentiable right."""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 2 * x.detach()  # detach hides x from the second derivative

    x = leaf(3)
    assert gradcheck(WrongSecond.apply, (x,))
    assert gradgradcheck(WrongSecond.apply, (x,), raise_exception=False) is False
    with pytest.raises(GradcheckError):
        gradgradcheck(WrongSecond.apply, (x,))


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_detect_anomaly_names_the_op_with_nan():
    x = ember.tensor([0.0, 1.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with ember.autograd.detect_anomaly():
            y = x.sqrt() * 0.0
            with pytest.raises(RuntimeError, match="Function 'SqrtBackward0' returned nan "
                                                   "values in its 0th output."):
                y.sum().backward()
    # without anomaly mode the NaN just propagates
    x.grad = None
    (x.sqrt() * 0.0).sum().backward()
    assert np.isnan(x.grad.numpy()[0])


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_detect_anomaly_warns_with_forward_trace():
    x = ember.tensor([0.0], requires_grad=True)
    with pytest.warns(UserWarning) as record:
        with ember.autograd.detect_anomaly():
            y = x.sqrt() * 0.0
            with pytest.raises(RuntimeError):
                y.sum().backward()
    messages = [str(r.message) for r in record]
    assert any("Anomaly Detection has been enabled" in m for m in messages)
    assert any("Error detected in SqrtBackward0" in m and "test_function.py" in m
               for m in messages)
    assert not ember.autograd.anomaly_mode.is_anomaly_enabled()


def test_backward_must_return_one_grad_per_input():
    class Count(Function):
        n = 1

        @staticmethod
        def forward(ctx, x, y):
            return x + y

        @staticmethod
        def backward(ctx, g):
            return (g,) * Count.n

    x, y = leaf(2), leaf(2)
    with pytest.raises(RuntimeError, match=r"^function CountBackward returned an incorrect "
                                           r"number of gradients \(expected 2, got 1\)$"):
        Count.apply(x, y).sum().backward()
    Count.n = 3
    with pytest.raises(RuntimeError, match=r"expected 2, got 3"):
        Count.apply(x, y).sum().backward()


def test_mark_dirty_on_leaf_and_version_bump():
    class Inc(Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(RuntimeError, match="^a leaf Variable that requires grad has been used "
                                           "in an in-place operation.$"):
        Inc.apply(leaf(2))
    h = leaf(2) * 1
    Inc.apply(h)
    assert h._version == 2  # the add_ and the dirty mark, as in PyTorch


def test_non_tensor_and_none_outputs():
    class Mixed(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, None, 3

        @staticmethod
        def backward(ctx, g, g_none, g_int):
            assert g_none is None and g_int is None
            return g * 2

    x = leaf(2)
    a, b, c = Mixed.apply(x)
    assert b is None and c == 3
    a.sum().backward()
    np.testing.assert_allclose(npy(x.grad), np.full(2, 2.0))


def test_once_differentiable_blocks_double_backward():
    class Sq(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @ember.autograd.function.once_differentiable
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return 2 * x * grad

    x = leaf(3)
    (g,) = ember.autograd.grad(Sq.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(npy(g), 2 * npy(x))
    assert not g.requires_grad


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_anomaly_modes_without_nan_check_and_as_function():
    from ember.autograd import anomaly_mode
    with ember.autograd.detect_anomaly(check_nan=False):
        assert anomaly_mode.is_anomaly_enabled()
        assert not anomaly_mode.is_anomaly_check_nan_enabled()
        x = ember.tensor([0.0], requires_grad=True)
        (x.sqrt() * 0.0).sum().backward()  # NaN passes: only traces are kept
        assert np.isnan(x.grad.numpy()[0])
    assert not anomaly_mode.is_anomaly_enabled() and anomaly_mode.is_anomaly_check_nan_enabled()
    ember.autograd.set_detect_anomaly(True)
    try:
        assert anomaly_mode.is_anomaly_enabled()
    finally:
        ember.autograd.set_detect_anomaly(False)
    assert not anomaly_mode.is_anomaly_enabled()
