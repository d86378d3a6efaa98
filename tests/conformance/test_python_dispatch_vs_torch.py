"""Dispatch modes and selective activation checkpointing against PyTorch: the aten overloads a
mode sees in the forward, the values and gradients of results a handler replaces, and SAC
gradients of a network with dropout from the same seed."""
import functools

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


def _mode_class(lib):
    from importlib import import_module
    base = import_module(f"{lib.__name__}.utils._python_dispatch").TorchDispatchMode

    class Log(base):
        def __init__(self):
            super().__init__()
            self.ops = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if str(func) != "aten.detach.default":  # PyTorch's autograd detaches saved outputs
                self.ops.append(str(func))
            return func(*args, **(kwargs or {}))
    return Log


PROGRAMS = {
    "mlp": lambda lib, x, w: (lib.nn.functional.linear(x, w).relu() * 2 + 1).sum(),
    "softmax_mean": lambda lib, x, w: lib.softmax(x, -1).mean(0),
    "views": lambda lib, x, w: x.t().reshape(-1)[2] + x[0].sum(),
    "matmul": lambda lib, x, w: (x @ w.t()).tanh().exp(),
    "reductions": lambda lib, x, w: x.max(1).values + x.amax(0).sum() + x.sigmoid().sum(1),
    "in_place": lambda lib, x, w: x.clone().add_(1).mul_(w.sum()).clamp_(-1, 1),
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_forward_overloads_match(name):
    ops = {}
    for lib in (ember, torch):
        lib.manual_seed(0)
        x = lib.randn(4, 3, requires_grad=True)
        w = lib.randn(2, 3, requires_grad=True)
        with _mode_class(lib)() as log:
            PROGRAMS[name](lib, x, w)
        ops[lib.__name__] = log.ops
    assert ops["ember"] == ops["torch"]


def test_replaced_results_values_and_gradients_match():
    results = {}
    for lib in (ember, torch):
        base = _mode_class(lib).__mro__[1]

        class Scale(base):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                out = func(*args, **(kwargs or {}))
                if str(func) in ("aten.exp.default", "aten.mul.Tensor", "aten.tanh.default"):
                    return out * 3
                return out

        x = lib.tensor([[0.3, -1.2, 0.7]], dtype=lib.float64, requires_grad=True)
        with Scale():
            y = (x.exp() * x).tanh().sum()
        y.backward()
        results[lib.__name__] = (y.item(), x.grad.numpy())
    assert results["ember"][0] == pytest.approx(results["torch"][0], rel=1e-12)
    np.testing.assert_allclose(results["ember"][1], results["torch"][1], rtol=1e-12)


def _sac_run(lib):
    """Gradients of a checkpointed MLP with dropout that saves its addmm outputs, and the
    (is_recompute, op) pairs its policy was asked about, but dropout's: PyTorch's CPU dropout
    runs as empty_like/bernoulli_/div_/mul, ember's as one op."""
    from importlib import import_module
    ckpt = import_module(f"{lib.__name__}.utils.checkpoint")
    lib.manual_seed(0)
    net = lib.nn.Sequential(lib.nn.Linear(6, 8), lib.nn.GELU(), lib.nn.Dropout(0.3),
                            lib.nn.Linear(8, 3))
    x = lib.randn(5, 6, requires_grad=True)
    seen = []

    def policy(ctx, op, *args, **kwargs):
        seen.append((ctx.is_recompute, str(op)))
        return op == lib.ops.aten.addmm.default

    lib.manual_seed(1)
    out = ckpt.checkpoint(net, x, use_reentrant=False, context_fn=functools.partial(
        ckpt.create_selective_checkpoint_contexts, policy))
    out.pow(2).sum().backward()
    grads = [x.grad.numpy()] + [p.grad.numpy() for p in net.parameters()]
    return grads, [s for s in seen if "addmm" in s[1] or "gelu" in s[1]]


def test_selective_checkpoint_gradients_match():
    (got, got_asked), (want, want_asked) = _sac_run(ember), _sac_run(torch)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    assert got_asked == want_asked


def _custom_op_log(lib):
    @lib.library.custom_op("dispatch_conformance::scaled", mutates_args=())
    def scaled(x: lib.Tensor, factor: float) -> lib.Tensor:
        return x * factor

    x = lib.ones(3, requires_grad=True)
    with _mode_class(lib)() as log:
        scaled(x, 3.0).exp().sum()
    return log.ops


def test_custom_op_is_seen_whole():
    assert _custom_op_log(ember) == _custom_op_log(torch) == [
        "dispatch_conformance.scaled.default", "aten.exp.default", "aten.sum.default"]


def _convolution_arguments(lib):
    seen = []
    base = _mode_class(lib).__mro__[1]

    class Arguments(base):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if str(func) == "aten.convolution.default":
                seen.append([tuple(a.shape) if isinstance(a, lib.Tensor) else a for a in args])
            return func(*args, **(kwargs or {}))

    lib.manual_seed(0)
    x = lib.randn(2, 4, 7, 7, requires_grad=True)
    w = lib.randn(6, 2, 3, 3, requires_grad=True)
    with Arguments():
        y = lib.nn.functional.conv2d(x, w, lib.randn(6), stride=2, padding=1, groups=2)
        lib.nn.functional.conv1d(lib.randn(1, 2, 5), lib.randn(3, 2, 2), dilation=2)
    y.sum().backward()
    return seen, x.grad.numpy()


def test_convolution_arguments_follow_the_schema():
    """Handlers read an operator's arguments by its schema (flop counters do): ember's
    convolution is shown with aten.convolution's nine."""
    (got, got_grad), (want, want_grad) = _convolution_arguments(ember), _convolution_arguments(
        torch)
    assert got == want
    np.testing.assert_allclose(got_grad, want_grad, rtol=1e-5)
