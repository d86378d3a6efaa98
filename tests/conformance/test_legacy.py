"""ember.legacy against real PyTorch: the spatial legacy modules against torch.nn.functional
(outputs, gradInput, parameter gradients) and the legacy optimizers against torch.optim."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402
from ember.legacy import nn, optim  # noqa: E402

pytestmark = pytest.mark.conformance


def _t(x):
    return torch.tensor(x.numpy(), requires_grad=x.is_floating_point())


def _check(legacy, torch_fn, x, params=()):
    """``torch_fn(torch_x, *torch_params)``; ``params`` are (legacy weight, legacy grad)."""
    legacy.double()
    x = x.double()
    out = legacy.forward(x)
    g = ember.randn(*out.shape, dtype=ember.float64)
    legacy.zeroGradParameters()
    gin = legacy.backward(x, g)
    tx = _t(x)
    tparams = [_t(w) for w, _ in params]
    tout = torch_fn(tx, *tparams)
    tout.backward(torch.tensor(g.numpy()))
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(gin.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-10)
    for (_, grad), tp in zip(params, tparams):
        np.testing.assert_allclose(grad.numpy(), tp.grad.numpy(), rtol=1e-9, atol=1e-10)


def test_spatial_convolution():
    m = nn.SpatialConvolution(3, 4, 3, 2, 2, 1, 1, 0).double()
    _check(m, lambda x, w, b: torch.nn.functional.conv2d(x, w, b, (1, 2), (0, 1)),
           ember.randn(2, 3, 6, 7), [(m.weight, m.gradWeight), (m.bias, m.gradBias)])


def test_spatial_full_convolution():
    m = nn.SpatialFullConvolution(3, 2, 3, 3, 2, 2, 1, 1, 1, 1).double()
    _check(m, lambda x, w, b: torch.nn.functional.conv_transpose2d(x, w, b, 2, 1, 1),
           ember.randn(2, 3, 4, 3), [(m.weight, m.gradWeight), (m.bias, m.gradBias)])


def test_temporal_convolution():
    m = nn.TemporalConvolution(3, 5, 3, 2).double()

    def ref(x, w, b):
        w = w.reshape(5, 3, 3).permute(0, 2, 1)
        return torch.nn.functional.conv1d(x.transpose(1, 2), w, b, 2).transpose(1, 2)
    _check(m, ref, ember.randn(2, 9, 3), [(m.weight, m.gradWeight), (m.bias, m.gradBias)])


@pytest.mark.parametrize("ceil", [False, True])
def test_pooling(ceil):
    mx = nn.SpatialMaxPooling(3, 3, 2, 2, 1, 1)
    av = nn.SpatialAveragePooling(3, 3, 2, 2, 1, 1, ceil_mode=ceil)
    if ceil:
        mx.ceil()
    x = ember.randn(2, 2, 8, 7)
    _check(mx, lambda t: torch.nn.functional.max_pool2d(t, 3, 2, 1, ceil_mode=ceil), x)
    _check(av, lambda t: torch.nn.functional.avg_pool2d(t, 3, 2, 1, ceil_mode=ceil), x)


def test_spatial_batch_normalization():
    m = nn.SpatialBatchNormalization(3).double()
    rm, rv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    _check(m, lambda x, w, b: torch.nn.functional.batch_norm(x, rm, rv, w, b, True, 0.1, 1e-5),
           ember.randn(4, 3, 3, 2), [(m.weight, m.gradWeight), (m.bias, m.gradBias)])
    np.testing.assert_allclose(m.running_var.numpy(), rv.numpy(), rtol=1e-12)


def _quadratic():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((4, 4))
    a = a @ a.T / 4 + np.eye(4)
    b = rng.standard_normal(4)
    x0 = rng.standard_normal(4)
    return a, b, x0


OPTIMIZERS = {
    "sgd_nesterov": (optim.sgd, {"learningRate": 0.05, "momentum": 0.9, "dampening": 0,
                                 "nesterov": True, "weightDecay": 0.01},
                     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True,
                                               weight_decay=0.01)),
    "adam": (optim.adam, {"learningRate": 0.05, "epsilon": 0.0},
             lambda p: torch.optim.Adam(p, lr=0.05, eps=0.0)),
    "adamax": (optim.adamax, {"learningRate": 0.05, "epsilon": 1e-8},
               lambda p: torch.optim.Adamax(p, lr=0.05)),
    "adagrad": (optim.adagrad, {"learningRate": 0.2, "learningRateDecay": 0.1},
                lambda p: torch.optim.Adagrad(p, lr=0.2, lr_decay=0.1)),
    "adadelta": (optim.adadelta, {"rho": 0.8}, lambda p: torch.optim.Adadelta(p, rho=0.8)),
    "rprop": (optim.rprop, {"stepsize": 0.05}, lambda p: torch.optim.Rprop(p, lr=0.05)),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_matches_torch(name):
    fn, config, make = OPTIMIZERS[name]
    a, b, x0 = _quadratic()
    ea, eb = ember.tensor(a), ember.tensor(b)
    x = ember.tensor(x0)
    state = {}
    p = torch.tensor(x0, requires_grad=True)
    opt = make([p])
    ta, tb = torch.tensor(a), torch.tensor(b)
    for _ in range(10):
        fn(lambda v: (0.0, ea @ v - eb), x, config, state)
        opt.zero_grad()
        (0.5 * p @ ta @ p - tb @ p).backward()
        opt.step()
        np.testing.assert_allclose(x.numpy(), p.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_lbfgs_matches_torch():
    a, b, x0 = _quadratic()
    ea, eb = ember.tensor(a), ember.tensor(b)
    x = ember.tensor(x0)

    def f(v):
        return float(0.5 * v @ (ea @ v) - eb @ v), ea @ v - eb
    optim.lbfgs(f, x, {"maxIter": 4, "tolFun": 1e-14, "tolX": 1e-14})
    p = torch.tensor(x0, requires_grad=True)
    opt = torch.optim.LBFGS([p], max_iter=4, tolerance_grad=1e-14, tolerance_change=1e-14)
    ta, tb = torch.tensor(a), torch.tensor(b)

    def closure():
        opt.zero_grad()
        loss = 0.5 * p @ ta @ p - tb @ p
        loss.backward()
        return loss
    opt.step(closure)
    np.testing.assert_allclose(x.numpy(), p.detach().numpy(), rtol=1e-10, atol=1e-12)
