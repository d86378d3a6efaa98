"""``ember._higher_order_ops`` (torch._higher_order_ops): scan, associative_scan, map, cond and
while_loop run eagerly; values against NumPy loops, gradients with gradcheck."""
import numpy as np
import pytest

import ember
from ember._higher_order_ops import associative_scan, cond, foreach_map, map, scan, while_loop
from ember.autograd import gradcheck


def test_scan_carry_and_stacked_outputs():
    carry, ys = scan(lambda c, x: (c + x, (c + x) * 2.0), ember.tensor(0), ember.arange(1, 5))
    assert carry.item() == 10
    np.testing.assert_array_equal(ys.numpy(), [2.0, 6.0, 12.0, 20.0])


@pytest.mark.parametrize("reverse", [False, True])
def test_scan_pytree_outputs_along_dim(reverse):
    x = np.arange(6.0).reshape(2, 3)
    init = ember.zeros(2, dtype=ember.float64)
    carry, (prod, sums) = scan(lambda c, s: (c + s, (c * s, s.sum())), init, ember.tensor(x),
                               dim=1, reverse=reverse)
    c, prods, totals = np.zeros(2), np.zeros((2, 3)), np.zeros(3)
    for i in (reversed(range(3)) if reverse else range(3)):
        prods[:, i], totals[i] = c * x[:, i], x[:, i].sum()
        c = c + x[:, i]
    np.testing.assert_allclose(carry.numpy(), c)
    np.testing.assert_allclose(prod.numpy(), prods)
    np.testing.assert_allclose(sums.numpy(), totals)


def test_scan_carry_must_keep_its_shape():
    with pytest.raises(RuntimeError, match="carry"):
        scan(lambda c, x: ((c + x).sum(), c), ember.zeros(4), ember.ones(3, 4))


def test_scan_gradcheck():
    xs = ember.randn(4, 3, dtype=ember.float64, requires_grad=True)
    h0 = ember.randn(3, dtype=ember.float64, requires_grad=True)

    def f(h0, xs):
        carry, ys = scan(lambda h, x: (ember.tanh(h * x + x), h.sin()), h0, xs)
        return carry, ys
    assert gradcheck(f, (h0, xs))


@pytest.mark.parametrize("reverse", [False, True])
def test_associative_scan_generic(reverse):
    x = np.arange(1.0, 7.0).reshape(2, 3)
    got = associative_scan(lambda a, b: a * b + 1, ember.tensor(x), dim=1, reverse=reverse,
                           combine_mode="generic")
    want = x.copy()
    order = list(reversed(range(3))) if reverse else list(range(3))
    for prev, i in zip(order, order[1:]):
        want[:, i] = want[:, prev] * x[:, i] + 1
    np.testing.assert_allclose(got.numpy(), want)


def test_associative_scan_pytree_and_pointwise_needs_cuda():
    a, b = np.array([0.5, 2.0]), np.arange(8.0).reshape(4, 2)

    def op(x, y):
        return y[0] * x[0], y[0] * x[1] + y[1]
    powers, states = associative_scan(op, (ember.tensor(np.tile(a, (4, 1))), ember.tensor(b)),
                                      dim=0, combine_mode="generic")
    s = np.zeros(2)
    for t in range(4):
        s = a * s + b[t]
        np.testing.assert_allclose(states[t].numpy(), s)
        np.testing.assert_allclose(powers[t].numpy(), a ** (t + 1))
    with pytest.raises(ValueError, match="CUDA"):
        associative_scan(lambda p, q: p + q, ember.arange(5.0), 0)


def test_map_slices_dim0_with_extra_args():
    sums, scaled = map(lambda x, y: (x.sum(), x * y), ember.arange(6.0).reshape(3, 2),
                       ember.tensor(2.0))
    np.testing.assert_array_equal(sums.numpy(), [1.0, 5.0, 9.0])
    np.testing.assert_array_equal(scaled.numpy(), np.arange(6.0).reshape(3, 2) * 2)
    np.testing.assert_array_equal(map(lambda x, y: x ** y, ember.arange(5), ember.tensor(2))
                                  .numpy(), np.arange(5) ** 2)


def test_cond_and_while_loop():
    x = ember.tensor([0.5, -1.0])
    np.testing.assert_allclose(cond(x.sum() > 0, ember.cos, ember.sin, (x,)).numpy(),
                               np.sin([0.5, -1.0]), rtol=1e-6)
    i, s = while_loop(lambda i, s: i < 5, lambda i, s: (i + 1, s + i),
                      (ember.tensor(0), ember.tensor(0)))
    assert (i.item(), s.item()) == (5, 10)


def test_dynamo_config_flags():
    assert ember._dynamo.config.cache_size_limit == 8
    assert ember._dynamo.config.capture_scalar_outputs is False


def test_foreach_map_lists_scalars_and_kwargs():
    a = [np.array([1.0, 2.0]), np.array([3.0])]
    b = [np.array([5.0, 7.0]), np.array([-1.0])]
    got = foreach_map(ember.lerp, [ember.tensor(x) for x in a], [ember.tensor(x) for x in b], 0.25)
    for g, x, y in zip(got, a, b):
        np.testing.assert_allclose(g.numpy(), x + 0.25 * (y - x))
    got = foreach_map(ember.add, [ember.tensor(x) for x in a], ember.tensor(1.0), alpha=3)
    for g, x in zip(got, a):
        np.testing.assert_allclose(g.numpy(), x + 3.0)
    with pytest.raises(ValueError, match="same length"):
        foreach_map(ember.add, [ember.ones(1)], [ember.ones(1)] * 2)


def test_logging_set_logs_records_settings():
    ember._logging.set_logs(output_code=True, recompiles=True)
    ember._logging.set_logs(graph_breaks=True)
    assert ember._logging._settings == {"graph_breaks": True}
    ember._logging.set_logs()
