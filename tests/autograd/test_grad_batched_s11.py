"""``autograd.grad`` with ``is_grads_batched`` and inside ``vmap`` (one graph, many cotangents)."""

import numpy as np
import pytest

import ember
from ember.func import vmap


def _graph():
    x = ember.tensor([0.5, -1.0, 2.0], dtype=ember.float64, requires_grad=True)
    return x, x ** 2 * x.sin()


def _jacobian(x: np.ndarray) -> np.ndarray:
    return np.diag(2 * x * np.sin(x) + x ** 2 * np.cos(x))


def test_is_grads_batched_gives_one_gradient_per_row():
    x, y = _graph()
    (jac,) = ember.autograd.grad(y, x, ember.eye(3, dtype=ember.float64), is_grads_batched=True)
    np.testing.assert_allclose(jac.numpy(), _jacobian(x.detach().numpy()), rtol=1e-12)
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        ember.autograd.grad(y, x, ember.ones(3, dtype=ember.float64))  # the graph was freed


def test_is_grads_batched_keeps_the_graph_when_asked_and_builds_one_with_create_graph():
    x, y = _graph()
    v = ember.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 1.0]], dtype=ember.float64)
    (rows,) = ember.autograd.grad(y, x, v, retain_graph=True, is_grads_batched=True)
    np.testing.assert_allclose(rows.numpy(), v.numpy() @ _jacobian(x.detach().numpy()))
    (rows,) = ember.autograd.grad(y, x, v, create_graph=True, is_grads_batched=True)
    assert rows.requires_grad
    (second,) = ember.autograd.grad(rows.sum(), x)
    xs = x.detach().numpy()
    d2 = 2 * np.sin(xs) + 4 * xs * np.cos(xs) - xs ** 2 * np.sin(xs)
    np.testing.assert_allclose(second.numpy(), v.numpy().sum(0) * d2, rtol=1e-12)


def test_is_grads_batched_rejects_unbatched_grad_outputs():
    x, y = _graph()
    with pytest.raises(IndexError, match="0-dim"):  # PyTorch's error too
        ember.autograd.grad(y.sum(), x, ember.tensor(1.0, dtype=ember.float64),
                            is_grads_batched=True)
    y2 = x * 3
    with pytest.raises(RuntimeError, match="batched"):
        ember.autograd.grad([y, y2], x, [ember.ones(2, 3, dtype=ember.float64),
                                         ember.ones(3, 3, dtype=ember.float64)],
                            is_grads_batched=True)


def test_grad_inside_vmap_walks_one_graph_per_sample():
    x, y = _graph()

    def vjp(v):
        return ember.autograd.grad(y, x, v)[0]  # no retain_graph, as in the vmap recipe

    jac = vmap(vjp)(ember.eye(3, dtype=ember.float64))
    np.testing.assert_allclose(jac.numpy(), _jacobian(x.detach().numpy()), rtol=1e-12)


def test_backward_inside_vmap_accumulates_every_sample():
    x, y = _graph()

    def step(v):
        y.backward(v)
        return v.sum()

    vmap(step)(ember.eye(3, dtype=ember.float64))
    np.testing.assert_allclose(x.grad.numpy(), _jacobian(x.detach().numpy()).sum(0))
