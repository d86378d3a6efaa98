"""Double backward of the smooth and hard activations against PyTorch: values at random points
and at the points where the pieces meet, and hardsigmoid's second derivative, which PyTorch
does not implement (it raises)."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

CASES = {
    "hardswish": lambda F, x: F.hardswish(x),
    "silu": lambda F, x: F.silu(x),
    "mish": lambda F, x: F.mish(x),
    "elu": lambda F, x: F.elu(x, 1.3),
    "elu_": lambda F, x: F.elu(x.clone(), 1.3, inplace=True),
    "selu": lambda F, x: F.selu(x),
    "celu": lambda F, x: F.celu(x, 0.7),
    "gelu": lambda F, x: F.gelu(x),
    "gelu_tanh": lambda F, x: F.gelu(x, approximate="tanh"),
    "softplus": lambda F, x: F.softplus(x),
    "softplus_threshold": lambda F, x: F.softplus(x, 2.0, 3.0),
    "softplus_negative_beta": lambda F, x: F.softplus(x, -2.0, 3.0),
    "logsigmoid": lambda F, x: F.logsigmoid(x),
    "tanhshrink": lambda F, x: F.tanhshrink(x),
    "softsign": lambda F, x: F.softsign(x),
}

# Random points, the joins (0, +-3, beta * x = +-3 at +-1.5) and saturated tails.
_X = np.concatenate([np.random.default_rng(0).standard_normal(16) * 4,
                     [0.0, -3.0, 3.0, 1.5, -1.5, -1e-3, 25.0, -25.0, -40.0]])


def _double_backward(lib, activation):
    x = lib.tensor(_X, requires_grad=True)
    upstream = lib.tensor(np.linspace(-1.5, 1.5, _X.size), requires_grad=True)
    y = activation(lib.nn.functional, x)
    (g,) = lib.autograd.grad(y, x, upstream, create_graph=True)
    gx, gu = lib.autograd.grad((g * g).sum(), (x, upstream))
    return g.detach().numpy(), gx.numpy(), gu.numpy()


@pytest.mark.parametrize("name", CASES)
def test_double_backward_matches_torch(name):
    ours = _double_backward(ember, CASES[name])
    theirs = _double_backward(torch, CASES[name])
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def _hardsigmoid_double_backward(lib, upstream: bool, inplace: bool, dtype):
    x = lib.tensor(_X, dtype=dtype, requires_grad=True)
    y = lib.nn.functional.hardsigmoid(x.clone() if inplace else x, inplace=inplace)
    grad_output = (lib.ones(_X.size, dtype=dtype, requires_grad=True) if upstream
                   else lib.ones_like(y))
    (g,) = lib.autograd.grad(y, x, grad_output, create_graph=True)
    assert g.requires_grad
    assert len(g.grad_fn.next_functions) == 1 + upstream
    with pytest.raises(RuntimeError) as info:
        lib.autograd.grad(g.sum(), grad_output if upstream else x)
    return str(info.value)


@pytest.mark.parametrize("upstream", [False, True])
@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_hardsigmoid_double_backward_raises_as_torch(upstream, inplace, dtype):
    ours = _hardsigmoid_double_backward(ember, upstream, inplace, getattr(ember, dtype))
    theirs = _hardsigmoid_double_backward(torch, upstream, inplace, getattr(torch, dtype))
    assert ours == theirs == "derivative for aten::hardsigmoid_backward is not implemented"


def test_hardsigmoid_first_derivative_matches_torch():
    results = []
    for lib in (ember, torch):
        x = lib.tensor(_X, requires_grad=True)
        (g,) = lib.autograd.grad(lib.nn.functional.hardsigmoid(x).sum(), x, create_graph=True)
        (plain,) = lib.autograd.grad(lib.nn.functional.hardsigmoid(x).sum(), x)
        assert not plain.requires_grad
        results.append((g.detach().numpy(), plain.numpy()))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)  # 1/6 rounded to float32, as PyTorch's kernel has it


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_logsigmoid_saturated_tail_matches_torch(dtype):
    """No linear cut-off: log(sigmoid(-25)) is -25 - 1.4e-11 and its slope 1 - 1.4e-11."""
    x = np.array([-800.0, -40.0, -25.0, -21.0, 0.0, 21.0, 800.0, -np.inf, np.inf, np.nan])
    results = []
    for lib in (ember, torch):
        xt = lib.tensor(x, dtype=getattr(lib, dtype), requires_grad=True)
        y = lib.nn.functional.logsigmoid(xt)
        (g,) = lib.autograd.grad(y.sum(), xt)
        results.append((y.detach().numpy(), g.numpy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-15, atol=0)
