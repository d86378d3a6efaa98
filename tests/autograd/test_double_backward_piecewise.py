"""A double backward through a piecewise-linear function (ReLU and kin, max pooling) gives the
layers before it zero gradients, not None: the first backward's mask or slope comes from a saved
tensor, and PyTorch's backward keeps an edge to it with zero derivative. Oracle: the exact
second derivative, which is zero for the bias before a piecewise-linear activation."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F

PIECEWISE = {
    "relu": F.relu,
    "relu_inplace": lambda h: F.relu(h.clone(), inplace=True),
    "leaky_relu": lambda h: F.leaky_relu(h, 0.2),
    "hardtanh": F.hardtanh,
    "relu6": F.relu6,
    "threshold": lambda h: F.threshold(h, 0.1, 2.0),
    "prelu": lambda h: F.prelu(h, ember.tensor([0.25], dtype=ember.float64)),
    "rrelu": lambda h: F.rrelu(h, training=False),
    "hardshrink": F.hardshrink,
    "softshrink": F.softshrink,
    "max_pool1d": lambda h: F.max_pool1d(h.unsqueeze(1), 2).squeeze(1),
    "max_pool2d": lambda h: F.max_pool2d(h.view(4, 1, 2, 4), 2).flatten(1),
    "adaptive_max_pool1d": lambda h: F.adaptive_max_pool1d(h.unsqueeze(1), 3).squeeze(1),
}


def _double_backward(activation):
    """(bias grad, input grad) of |d out / d x|^2 for out = Linear(activation(Linear(x)))."""
    rng = np.random.default_rng(0)
    x = ember.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    hidden, head = ember.nn.Linear(3, 8).double(), ember.nn.Linear(8, 1).double()
    y = activation(hidden(x))
    out = head(F.pad(y, (0, 8 - y.shape[-1])))
    (g,) = ember.autograd.grad(out, x, ember.ones(4, 1, dtype=ember.float64), create_graph=True)
    (g ** 2).sum().backward()
    return hidden.bias.grad, x.grad


@pytest.mark.parametrize("name", PIECEWISE)
def test_double_backward_gives_zero_grads(name):
    bias_grad, input_grad = _double_backward(PIECEWISE[name])
    assert bias_grad is not None and input_grad is not None
    np.testing.assert_array_equal(bias_grad.numpy(), np.zeros(8))
    np.testing.assert_array_equal(input_grad.numpy(), np.zeros((4, 3)))


def test_grad_of_relu_alone_is_differentiable():
    # d relu(x).sum() / dx is a mask: under create_graph it still requires grad (zero slope)
    x = ember.tensor([-1.0, 2.0, 3.0], dtype=ember.float64, requires_grad=True)
    (g,) = ember.autograd.grad(F.relu(x).sum(), x, create_graph=True)
    assert g.requires_grad
    g.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros(3))


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "hardshrink", "prelu", "max_pool2d",
                                  "adaptive_max_pool1d"])
def test_gradgradcheck(name):
    rng = np.random.default_rng(1)
    x = ember.tensor(rng.standard_normal((4, 8)), requires_grad=True)
    assert ember.autograd.gradgradcheck(PIECEWISE[name], (x,))
