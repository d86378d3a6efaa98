"""Double backward through piecewise activations and pooling against PyTorch: which
parameters get a gradient (zeros or None) and its values."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

CASES = {
    "relu": lambda F, t: F.relu(t), "leaky_relu": lambda F, t: F.leaky_relu(t, 0.2),
    "hardtanh": lambda F, t: F.hardtanh(t), "relu6": lambda F, t: F.relu6(t),
    "threshold": lambda F, t: F.threshold(t, 0.1, 2.0),
    "rrelu": lambda F, t: F.rrelu(t, training=False),
    "hardshrink": lambda F, t: F.hardshrink(t), "softshrink": lambda F, t: F.softshrink(t),
    "max_pool2d": lambda F, t: F.max_pool2d(t.view(4, 1, 2, 4), 2).flatten(1),
    "adaptive_max_pool1d": lambda F, t: F.adaptive_max_pool1d(t.unsqueeze(1), 3).squeeze(1),
    "clamp": lambda F, t: t.clamp(-0.5, 0.5), "amax": lambda F, t: t.amax(1, keepdim=True),
    "elu": lambda F, t: F.elu(t), "hardswish": lambda F, t: F.hardswish(t),
}


def _run(lib, activation, weights, x):
    F = lib.nn.functional
    x = lib.tensor(x, requires_grad=True)
    w1, b1, w2 = (lib.tensor(w, requires_grad=True) for w in weights)
    y = activation(F, F.linear(x, w1, b1))
    out = F.linear(F.pad(y, (0, 8 - y.shape[-1])), w2)
    (g,) = lib.autograd.grad(out, x, lib.ones(4, 1, dtype=lib.float64), create_graph=True)
    (g ** 2).sum().backward()
    return [None if t.grad is None else t.grad.detach().numpy() for t in (x, w1, b1, w2)]


@pytest.mark.parametrize("name", CASES)
def test_double_backward_matches_torch(name):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3))
    weights = rng.standard_normal((8, 3)), rng.standard_normal(8), rng.standard_normal((1, 8))
    ours = _run(ember, CASES[name], weights, x)
    theirs = _run(torch, CASES[name], weights, x)
    for a, b in zip(ours, theirs):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_prelu_double_backward_matches_torch():
    rng = np.random.default_rng(2)
    x, slope = rng.standard_normal((3, 4, 5)), np.array([0.1, 0.2, 0.3, 0.4])
    results = []
    for lib in (ember, torch):
        xt, wt = lib.tensor(x, requires_grad=True), lib.tensor(slope, requires_grad=True)
        y = lib.nn.functional.prelu(xt, wt)
        gx, gw = lib.autograd.grad((y ** 2).sum(), (xt, wt), create_graph=True)
        (gx.sum() + (gw ** 2).sum()).backward()
        results.append([y.detach().numpy(), gx.detach().numpy(), gw.detach().numpy(),
                        xt.grad.numpy(), wt.grad.numpy(), y.grad_fn.name()])
    for a, b in zip(*results):
        if isinstance(a, str):
            assert a == b
        else:
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_prelu_refuses_mixed_dtypes_as_torch():
    x = np.ones((2, 3))
    for lib in (ember, torch):
        with pytest.raises(RuntimeError, match="Type promoting not supported. Got Double and "):
            lib.nn.functional.prelu(lib.tensor(x), lib.tensor([0.25], dtype=lib.float32))
