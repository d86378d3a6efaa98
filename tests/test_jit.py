"""ember.jit: TorchScript's entry points are eager no-ops; save/load point to ember.save."""
import pytest

import ember
from ember import jit


def test_script_and_trace_return_what_they_are_given():
    model = ember.nn.Linear(3, 2)
    assert jit.script(model) is model
    assert jit.trace(model, ember.randn(4, 3)) is model
    assert jit.trace(model, (ember.randn(4, 3),)) is model
    assert jit.trace_module(model, {"forward": ember.randn(1, 3)}) is model
    assert jit.freeze(model) is model
    assert jit.optimize_for_inference(model) is model


def test_trace_runs_the_example_inputs_once_without_grad():
    calls = []

    def fn(x, y):
        calls.append(ember.is_grad_enabled())
        return x + y
    assert jit.trace(fn, (ember.ones(2), ember.ones(2))) is fn
    assert calls == [False]
    with pytest.raises(TypeError):
        jit.trace(fn, ember.ones(2))  # one argument for a two-argument function


def test_decorators_keep_functions_callable():
    @jit.script
    def double(x):
        return 2 * x

    @jit.ignore
    def a():
        return 1

    @jit.ignore(drop=True)
    def b():
        return 2

    assert double(3) == 6 and a() == 1 and b() == 2
    assert jit.unused(a) is a and jit.export(a) is a
    assert jit.annotate(list, []) == []


def test_queries_and_fork_wait():
    assert jit.is_scripting() is False and jit.is_tracing() is False
    future = jit.fork(lambda x, y=1: x + y, 2, y=3)
    assert future.done() and jit.wait(future) == 5
    assert jit.Final[int] is not None


def test_save_and_load_name_the_alternative():
    with pytest.raises(NotImplementedError, match="state_dict"):
        jit.save(ember.nn.Linear(1, 1), "model.pt")
    with pytest.raises(NotImplementedError, match="ember.load"):
        jit.load("model.pt")


def test_lazy_submodules():
    assert ember.jit is jit
    assert ember.xpu.is_available() is False and ember.xpu.device_count() == 0
    assert ember.mps.is_available() is False and ember.mps.device_count() == 0
    for mod in (ember.xpu, ember.mps):
        mod.manual_seed(0)
        mod.synchronize()
        mod.empty_cache()
