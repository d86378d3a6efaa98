"""Behaviours PyTorch's tutorials rely on, checked against PyTorch itself: the deprecated
scalar-first overloads, 0-d scatter/gather indices, ``utils.swap_tensors``, and double backward
through a custom Function's saved outputs."""
import warnings

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("call", [
    lambda m, a, b: a.add(-0.5, b), lambda m, a, b: a.clone().sub_(2, b),
    lambda m, a, b: a.addcmul(0.3, b, b), lambda m, a, b: a.clone().addcdiv_(2, b, b + 3),
    lambda m, a, b: m.add(a, 1.5, b),
    lambda m, a, b: m.zeros(6).scatter_(0, m.tensor(4), value=1),
    lambda m, a, b: m.zeros(6).scatter(0, m.tensor(2), m.tensor(5.)),
    lambda m, a, b: m.zeros(6).scatter_add(0, m.tensor(1), m.tensor(2.)),
    lambda m, a, b: a.gather(0, m.tensor(2)),
])
def test_matches_torch(call):
    x = np.array([1., -2., 3., 0.5, 4., 2.], np.float32)
    y = np.array([0.5, 1., -1., 2., 3., 1.], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = call(ember, ember.tensor(x), ember.tensor(y))
        want = call(torch, torch.tensor(x), torch.tensor(y))
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)


def test_swap_tensors_matches_torch():
    results = []
    for m in (ember, torch):
        p, q = m.nn.Parameter(m.ones(2)), m.arange(3)
        m.utils.swap_tensors(p, q)
        results.append((type(p).__name__, p.tolist(), type(q).__name__, q.tolist(),
                        q.requires_grad))
    assert results[0] == results[1]


def _sinh_class(m):
    class Sinh(m.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            expx, expnegx = m.exp(x), m.exp(-x)
            ctx.save_for_backward(expx, expnegx)
            return (expx - expnegx) / 2, expx, expnegx

        @staticmethod
        def backward(ctx, g, g_exp, g_negexp):
            expx, expnegx = ctx.saved_tensors
            return g * (expx + expnegx) / 2 + g_exp * expx - g_negexp * expnegx
    return Sinh


def test_double_backward_through_saved_outputs_matches_torch():
    x0 = np.array([0.3, -1.2, 2.0])
    grads = []
    for m in (ember, torch):
        x = m.tensor(x0, requires_grad=True)
        (g,) = m.autograd.grad(_sinh_class(m).apply(x)[0].sum(), x, create_graph=True)
        (gg,) = m.autograd.grad((g * g).sum(), x)
        grads.append(gg.detach().numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12)


@pytest.mark.parametrize("index", [
    (slice(None), 3), slice(None, 2), 1, (Ellipsis, 1), None, (slice(None), slice(None)),
    (Ellipsis, slice(None)), (slice(0, 3), slice(0, 5)), slice(None, 5), (None, None),
    (Ellipsis, None), slice(0, -1), (slice(None), slice(None, None, 1)), Ellipsis,
    (slice(None),), slice(None), (1, slice(None, 2)), (slice(None, 2), 1), (None, 1),
    (1, None), (slice(None), None), slice(None, None, 2), (slice(1, None), 2)])
def test_basic_index_grad_fn_name_matches_torch(index):
    names = []
    for m in (ember, torch):
        p = m.nn.Parameter(m.ones(3, 5))
        names.append(p[index].grad_fn.name())
    assert names[0] == names[1]


@pytest.mark.parametrize("call", [
    lambda m, a, b: m.linalg.cross(a, b), lambda m, a, b: m.cross(a, b),
    lambda m, a, b: m.cross(a, b, dim=1), lambda m, a, b: m.linalg.cross(a[:1], b)])
def test_cross_default_dims_match_torch(call):
    a = np.arange(9, dtype=np.float32).reshape(3, 3)
    b = np.array([[1, 0, 2], [0, 3, 1], [2, 2, 0]], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = call(ember, ember.tensor(a), ember.tensor(b))
        want = call(torch, torch.tensor(a), torch.tensor(b))
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("call", [
    lambda x: x.sum(), lambda x: x.sum(1), lambda x: x.sum((0, 1)), lambda x: x.mean(),
    lambda x: x.mean(0), lambda x: x.sum(0, keepdim=True)])
def test_reduction_node_names_match_torch(call):
    names = [call(m.ones(2, 3, requires_grad=True)).grad_fn.name() for m in (ember, torch)]
    assert names[0] == names[1]
