"""ember.compile runs its model eagerly as compiled code: ``compiler.is_compiling()`` (and
``_dynamo.is_compiling()``) is True inside a compiled function or module and False outside or in
a ``disable`` wrapper; a module becomes an OptimizedModule around it, as in PyTorch."""
import io
import threading

import numpy as np
import pytest

import ember
from ember import compiler


def _probe():
    return (compiler.is_compiling(), compiler.is_dynamo_compiling(), ember._dynamo.is_compiling())


def test_is_compiling_inside_a_compiled_function_only():
    def f(x):
        return x + 1, _probe()

    g = ember.compile(f)
    assert g is not f and g.__wrapped__ is f and g.__name__ == "f"
    out, seen = g(ember.ones(2))
    assert seen == (True, True, True) and out.tolist() == [2.0, 2.0]
    assert f(ember.ones(2))[1] == (False, False, False)
    assert _probe() == (False, False, False)


def test_decorator_forms_and_nesting():
    @ember.compile
    def inner():
        return compiler.is_compiling()

    @ember.compile(mode="max-autotune", fullgraph=True)
    def outer():
        return inner(), compiler.is_compiling()

    assert inner() is True and outer() == (True, True) and not compiler.is_compiling()


def test_flag_resets_after_an_exception():
    @ember.compile
    def boom():
        raise ValueError("inside")

    with pytest.raises(ValueError, match="inside"):
        boom()
    assert not compiler.is_compiling()


def test_disable_runs_uncompiled_inside_compiled_code():
    @compiler.disable
    def eager():
        return compiler.is_compiling()

    @ember._dynamo.disable(recursive=False)
    def eager_too():
        return compiler.is_compiling()

    assert ember.compile(lambda: (eager(), eager_too(), compiler.is_compiling()))() == (
        False, False, True)
    assert eager.__name__ == "eager"


def test_disable_and_invalid_arguments():
    def f():
        return compiler.is_compiling()
    assert ember.compile(f, disable=True) is f
    with pytest.raises(RuntimeError, match="Either mode or options"):
        ember.compile(f, mode="max-autotune", options={"a": 1})
    with pytest.raises(AssertionError, match="callable"):
        ember.compile(5)


def test_flag_is_per_thread():
    seen = []
    started, release = threading.Event(), threading.Event()

    @ember.compile
    def hold():
        started.set()
        release.wait(5)

    thread = threading.Thread(target=hold)
    thread.start()
    started.wait(5)
    seen.append(compiler.is_compiling())  # this thread runs no compiled code
    release.set()
    thread.join()
    assert seen == [False]


class Net(ember.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = ember.nn.Linear(3, 2)
        self.seen = []

    def forward(self, x):
        self.seen.append(compiler.is_compiling())
        return self.lin(x)

    def helper(self):
        return compiler.is_compiling()


def test_compiled_module_wraps_the_module():
    net = Net()
    opt = ember.compile(net)
    assert isinstance(opt, ember.nn.Module) and type(opt).__name__ == "OptimizedModule"
    assert isinstance(opt, ember._dynamo.OptimizedModule) and opt._orig_mod is net
    x = ember.randn(4, 3)
    np.testing.assert_allclose(opt(x).detach().numpy(),
                               x.numpy() @ net.lin.weight.detach().numpy().T
                               + net.lin.bias.detach().numpy(), rtol=1e-6)
    assert net.seen == [True] and opt.helper() is False  # only calls run compiled
    net(x)
    assert net.seen == [True, False]
    assert list(opt.state_dict()) == ["_orig_mod.lin.weight", "_orig_mod.lin.bias"]
    assert [p for p in opt.parameters()] == [net.lin.weight, net.lin.bias]
    assert opt.lin is net.lin
    assert repr(opt).startswith("OptimizedModule(\n  (_orig_mod): Net(")


def test_compiled_module_shares_attributes_and_mode():
    net = Net()
    opt = ember.compile(net)
    opt.extra = 5
    assert net.extra == 5
    net.eval()
    assert opt.training is False
    opt.train()
    assert net.training is True and net.lin.training is True


def test_compiled_module_trains_and_saves():
    net = Net()
    opt = ember.compile(net)
    loss = opt(ember.ones(1, 3)).sum()
    loss.backward()
    np.testing.assert_allclose(net.lin.weight.grad.numpy(), np.ones((2, 3)))
    buffer = io.BytesIO()
    ember.save(opt, buffer)
    buffer.seek(0)
    loaded = ember.load(buffer, weights_only=False)
    assert type(loaded) is type(opt) and ember.equal(loaded._orig_mod.lin.weight,
                                                      net.lin.weight)
