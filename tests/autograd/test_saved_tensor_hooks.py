"""ember.autograd.graph: saved-tensor hooks, save_on_cpu, disabling, increment_version."""
import numpy as np
import pytest

import ember
from ember.autograd.graph import (
    Node,
    disable_saved_tensors_hooks,
    increment_version,
    save_on_cpu,
    saved_tensors_hooks,
)


def _grad_of_exp_square(x, context):
    a = ember.tensor(x, requires_grad=True)
    with context:
        y = (a * a).exp().sum()
    y.backward()
    return a.grad.numpy()


def test_hooks_see_every_saved_tensor_and_gradients_are_unchanged():
    x = np.array([0.5, -1.0, 2.0])
    expected = 2 * x * np.exp(x * x)
    log = []

    def pack(t):
        log.append(("pack", tuple(t.shape)))
        return t.detach().numpy().copy()  # anything may be stored

    def unpack(stored):
        log.append(("unpack", stored.shape))
        return ember.from_numpy(stored)
    np.testing.assert_allclose(_grad_of_exp_square(x, saved_tensors_hooks(pack, unpack)),
                               expected, rtol=1e-12)
    assert [k for k, _ in log].count("pack") == 3 and [k for k, _ in log].count("unpack") == 3
    np.testing.assert_allclose(_grad_of_exp_square(x, save_on_cpu()), expected, rtol=1e-12)


def test_innermost_hooks_apply_and_custom_functions_are_packed():
    seen = []

    class Triple(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 + 0 * x

    b = ember.ones(2, requires_grad=True)
    with saved_tensors_hooks(lambda t: seen.append("outer") or t, lambda t: t):
        with saved_tensors_hooks(lambda t: seen.append("inner") or t, lambda t: t):
            out = Triple.apply(b).sum()
    out.backward()
    assert seen == ["inner"] and b.grad.tolist() == [3.0, 3.0]


def test_unpack_must_return_a_tensor():
    a = ember.ones(2, requires_grad=True)
    with saved_tensors_hooks(lambda t: t, lambda t: "not a tensor"):
        y = (a * a).sum()
    with pytest.raises(TypeError, match="unpack_hook"):
        y.backward()


def test_disable_saved_tensors_hooks():
    with disable_saved_tensors_hooks("hooks are off here"):
        with pytest.raises(RuntimeError, match="hooks are off here"):
            with saved_tensors_hooks(lambda t: t, lambda t: t):
                pass
    with saved_tensors_hooks(lambda t: t, lambda t: t):  # allowed again outside
        pass


def test_increment_version_and_node_type():
    a = ember.ones(3, requires_grad=True)
    b = a * 1
    y = (b * b).sum()
    assert isinstance(y.grad_fn, Node)
    increment_version(b)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()
