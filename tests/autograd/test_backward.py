"""backward() and autograd.grad: arguments, hooks, higher-order gradients, long graphs."""
import numpy as np
import pytest

import ember
from ember.autograd import grad, gradcheck, gradgradcheck


def leaf(*shape):
    return ember.randn(*shape, dtype=ember.float64, requires_grad=True)


def npy(t):
    return t.detach().numpy()


def test_backward_with_gradient_argument():
    x = leaf(3)
    y = x * 2
    v = ember.tensor([1.0, 0.1, 0.01], dtype=ember.float64)
    y.backward(v)
    np.testing.assert_allclose(npy(x.grad), 2 * npy(v))
    z = x * 3
    z.backward(gradient=ember.ones(3, dtype=ember.float64))
    np.testing.assert_allclose(npy(x.grad), 2 * npy(v) + 3)


def test_backward_retain_graph_allows_second_call():
    x = leaf(3)
    y = (x.exp()).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(npy(x.grad), 2 * np.exp(npy(x)))


def test_backward_inputs_restricts_accumulation():
    x, w = leaf(3), leaf(3)
    y = (x * w).sum()
    y.backward(inputs=[w])
    assert x.grad is None
    np.testing.assert_allclose(npy(w.grad), npy(x))
    h = x * 2
    (h * w).sum().backward(inputs=[h])  # a non-leaf input gets .grad like a leaf
    np.testing.assert_allclose(npy(h.grad), npy(w))
    assert x.grad is None
    with pytest.raises(RuntimeError, match="cannot be empty"):
        (x * w).sum().backward(inputs=[])


def test_backward_create_graph_double_backward():
    x = leaf(3)
    y = (x ** 3).sum()
    y.backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    np.testing.assert_allclose(npy(g), 3 * npy(x) ** 2)
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(npy(x.grad), 6 * npy(x))


def test_autograd_grad_basic_and_non_leaf_inputs():
    x = leaf(3)
    h = x.sin()
    y = (h * h).sum()
    gh, gx = grad(y, [h, x])
    np.testing.assert_allclose(npy(gh), 2 * np.sin(npy(x)))
    np.testing.assert_allclose(npy(gx), 2 * np.sin(npy(x)) * np.cos(npy(x)))
    assert x.grad is None and not gx.requires_grad
    (g1,) = grad((x * 2).sum(), x)
    np.testing.assert_allclose(npy(g1), np.full(3, 2.0))


def test_autograd_grad_allow_unused_and_grad_outputs():
    x, u = leaf(3), leaf(3)
    y = x * 2
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
        grad(y.sum(), [x, u])
    y = x * 2
    gx, gu = grad(y.sum(), [x, u], allow_unused=True)
    assert gu is None
    np.testing.assert_allclose(npy(gx), np.full(3, 2.0))
    v = ember.tensor([1.0, 2.0, 3.0], dtype=ember.float64)
    (gx,) = grad(x * 2, x, grad_outputs=v)
    np.testing.assert_allclose(npy(gx), 2 * npy(v))
    gx, gu = grad((x * 2).sum(), [x, u], materialize_grads=True)
    np.testing.assert_allclose(npy(gu), np.zeros(3))
    with pytest.raises(RuntimeError, match="does not require grad"):
        grad((x * 2).sum(), [ember.ones(3)])


def test_autograd_grad_create_graph():
    x = leaf(4)
    (g,) = grad((x ** 3).sum(), x, create_graph=True)
    assert g.requires_grad and g.grad_fn is not None
    (gg,) = grad(g.sum(), x)
    np.testing.assert_allclose(npy(gg), 6 * npy(x))


@pytest.mark.parametrize("f, d2", [
    (lambda x: x ** 3, lambda x: 6 * x),
    (lambda x: x.tanh(), lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2)),
    (lambda x: x.sigmoid(),
     lambda x: (lambda s: s * (1 - s) * (1 - 2 * s))(1 / (1 + np.exp(-x)))),
    (lambda x: x.exp(), np.exp),
    (lambda x: x.sin(), lambda x: -np.sin(x)),
])
def test_second_derivatives_elementwise(f, d2):
    x = leaf(5)
    (g,) = grad(f(x).sum(), x, create_graph=True)
    (gg,) = grad(g.sum(), x)
    np.testing.assert_allclose(npy(gg), d2(npy(x)), rtol=1e-10, atol=1e-12)


def test_second_derivatives_softmax_matmul():
    x = leaf(2, 4)
    w = leaf(4, 3)
    assert gradgradcheck(lambda a: a.softmax(-1), (x,))
    assert gradgradcheck(lambda a, b: (a @ b).tanh(), (x, w))
    assert gradcheck(lambda a, b: (a @ b).softmax(0), (x, w))


def test_third_derivative():
    x = leaf(3)
    (g,) = grad((x ** 4).sum(), x, create_graph=True)
    (g2,) = grad(g.sum(), x, create_graph=True)
    (g3,) = grad(g2.sum(), x)
    np.testing.assert_allclose(npy(g3), 24 * npy(x))


def test_long_chain_has_no_recursion_limit():
    x = ember.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001 + 0.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0001 ** 10_000], rtol=1e-3)


def test_tensor_hooks_leaf_and_non_leaf():
    x = leaf(3)
    seen = []
    hx = x.register_hook(lambda g: seen.append(("x", npy(g).copy())))
    y = x * 2
    y.register_hook(lambda g: g * 10)  # replaces y's grad before it flows on
    y.sum().backward()
    np.testing.assert_allclose(npy(x.grad), np.full(3, 20.0))
    np.testing.assert_allclose(seen[0][1], np.full(3, 20.0))
    hx.remove()
    x.grad = None
    (x * 2).sum().backward()
    assert len(seen) == 1
    np.testing.assert_allclose(npy(x.grad), np.full(3, 2.0))
    x.register_hook(lambda g: g + 1)
    (x * 2).sum().backward()
    np.testing.assert_allclose(npy(x.grad), np.full(3, 5.0))
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't "
                                           "require gradient"):
        ember.ones(2).register_hook(lambda g: g)


def test_hook_handle_as_context_manager_and_retain_grad_sees_hooked_grad():
    x = leaf(3)
    y = x * 2
    y.retain_grad()
    with y.register_hook(lambda g: g * 3):
        pass
    y.sum().backward()
    np.testing.assert_allclose(npy(y.grad), np.ones(3))
    z = x * 2
    z.retain_grad()
    z.register_hook(lambda g: g * 3)  # registered later, still runs before retain_grad's
    z.sum().backward()
    np.testing.assert_allclose(npy(z.grad), np.full(3, 3.0))


def test_node_hooks():
    x = leaf(3)
    y = x * 2
    calls = []

    def pre(grad_outputs):
        calls.append("pre")
        return (grad_outputs[0] * 5,)

    def post(grad_inputs, grad_outputs):
        calls.append("post")
        np.testing.assert_allclose(npy(grad_outputs[0]), np.full(3, 5.0))
        return (grad_inputs[0] + 1, grad_inputs[1])

    y.grad_fn.register_prehook(pre)
    h = y.grad_fn.register_hook(post)
    y.sum().backward(retain_graph=True)
    assert calls == ["pre", "post"]
    np.testing.assert_allclose(npy(x.grad), np.full(3, 11.0))
    h.remove()
    x.grad = None
    y.sum().backward()
    np.testing.assert_allclose(npy(x.grad), np.full(3, 10.0))


def test_post_accumulate_grad_hook():
    x = leaf(2)
    seen = []
    x.register_post_accumulate_grad_hook(lambda t: seen.append(npy(t.grad).copy()))
    (x * 3).sum().backward()
    np.testing.assert_allclose(seen[0], np.full(2, 3.0))


def test_backward_through_multiple_roots():
    x = leaf(3)
    a, b = x * 2, x * 3
    ember.autograd.backward([a.sum(), b.sum()])
    np.testing.assert_allclose(npy(x.grad), np.full(3, 5.0))
    x.grad = None
    a, b = x * 2, x * 3
    ember.autograd.backward([a, b], [ember.ones(3, dtype=ember.float64)] * 2)
    np.testing.assert_allclose(npy(x.grad), np.full(3, 5.0))


def test_integer_tensor_results_do_not_require_grad():
    x = leaf(4)
    assert not x.argmax().requires_grad
    assert not (x > 0).requires_grad
    vals, idx = x.max(0)
    assert vals.requires_grad and not idx.requires_grad


def _node_order(loss):
    """Names of the graph's nodes (AccumulateGrad aside) in the order backward runs them."""
    order, seen, stack = [], set(), [loss.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        if not node.name().endswith("AccumulateGrad"):
            node.register_prehook(lambda g, node=node: order.append(node.name()))
        stack.extend(f for f, _ in node.next_functions)
    loss.backward()
    return order


def test_nodes_run_latest_created_first():
    # Orders observed with PyTorch 2.x: of the ready nodes, the one created last runs first,
    # also when the node that just ran made it ready while an older one waits.
    x = leaf(3)
    a = x * 2
    b, c = a.exp(), a.sin()
    assert _node_order((b * c).sum()) == ["SumBackward0", "MulBackward0", "SinBackward0",
                                          "ExpBackward0", "MulBackward0"]
    a, b = x * 2, x * 3
    assert _node_order((a + b.exp()).sum()) == ["SumBackward0", "AddBackward0", "ExpBackward0",
                                                "MulBackward0", "MulBackward0"]


@pytest.mark.parametrize("shape", [(3, 4), (80, 70)])  # written out, and a broadcast view
def test_reduction_gradients_small_and_large(shape):
    x = leaf(*shape)
    seen = []
    x.register_hook(lambda g: seen.append(tuple(g.shape)))
    (x.sum() + x.mean() + x.sum(1, keepdim=True).sum() + x.mean(0).sum()).backward()
    n, m = shape
    want = 1 + 1 / (n * m) + 1 + 1 / n
    np.testing.assert_allclose(npy(x.grad), np.full(shape, want))
    assert seen == [shape]
    x.grad.add_(1)  # a leaf's .grad is its own writable array
    w = ember.tensor(2.0, dtype=ember.float64, requires_grad=True)
    (g,) = grad(x.sum(), x, grad_outputs=w, create_graph=True)
    assert g.requires_grad  # the expand of sum's backward is recorded, differentiable in w
    np.testing.assert_allclose(npy(g), np.full(shape, 2.0))
    (gw,) = grad((g * x).sum(), w)
    np.testing.assert_allclose(npy(gw), npy(x).sum())


def test_backward_through_scalar_mul_and_relu_twice_needs_retain_graph():
    x = leaf(3)
    for make in (lambda: (x * 2).sum(), lambda: (x + 1).relu().sum()):
        y = make()
        y.backward()
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            y.backward()


def test_relu_and_full_sum_gradients_through_their_fast_paths():
    x = ember.tensor([-1.0, 0.0, 2.0], dtype=ember.float64, requires_grad=True)
    for loss in (x.relu().sum(), ember.sum(x.relu()), x.relu().sum(keepdim=True).sum()):
        (g,) = grad(loss, x)
        np.testing.assert_array_equal(npy(g), [0.0, 0.0, 1.0])  # relu'(0) = 0, as PyTorch
    assert x.sum(keepdim=True).shape == (1,) and x.float().relu().dtype == ember.float32
    (g,) = grad((x * 3).relu().sum(), x, create_graph=True)
    np.testing.assert_array_equal(npy(g), [0.0, 0.0, 3.0])
    with pytest.raises(RuntimeError, match="^Boolean inputs not supported for relu$"):
        ember.tensor([True, False]).relu()
