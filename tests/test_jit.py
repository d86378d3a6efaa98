"""ember.jit: TorchScript's entry points run eagerly; scripted modules share the module's
parameters and save/load through ember.save/ember.load."""
import pytest

import ember
from ember import jit


def test_script_and_trace_give_modules_that_share_parameters():
    model = ember.nn.Linear(3, 2)
    x = ember.randn(4, 3)
    for scripted in (jit.script(model), jit.trace(model, x), jit.trace(model, (x,)),
                     jit.trace_module(model, {"forward": ember.randn(1, 3)})):
        assert isinstance(scripted, ember.nn.Linear) and isinstance(scripted, jit.ScriptModule)
        assert scripted.weight is model.weight and ember.equal(scripted(x), model(x))
        assert scripted.original_name == "Linear" and repr(scripted) == repr(model)
        assert jit.script(scripted) is scripted
    scripted = jit.script(model)
    scripted.extra = ember.nn.ReLU()  # its own registry: the model is unchanged
    assert not hasattr(model, "extra")
    assert jit.freeze(model) is model
    assert jit.optimize_for_inference(model) is model


def test_scripted_save_and_load_round_trip(tmp_path):
    model = ember.nn.Sequential(ember.nn.Linear(3, 4), ember.nn.ReLU(), ember.nn.Linear(4, 1))
    x = ember.randn(5, 3)
    jit.script(model).save(str(tmp_path / "scripted.pt"))
    loaded = jit.load(str(tmp_path / "scripted.pt"))
    assert isinstance(loaded, jit.ScriptModule) and ember.equal(loaded(x), model(x))
    jit.save(model, str(tmp_path / "plain.pt"))
    assert ember.equal(jit.load(str(tmp_path / "plain.pt"))(x), model(x))
    with pytest.raises(TypeError, match="module"):
        jit.save(lambda t: t, str(tmp_path / "fn.pt"))
    ember.save({"not": "a module"}, str(tmp_path / "dict.pt"))
    with pytest.raises(RuntimeError, match="no module"):
        jit.load(str(tmp_path / "dict.pt"))


def test_trace_runs_the_example_inputs_once_without_grad():
    calls = []

    def fn(x, y):
        calls.append(ember.is_grad_enabled())
        return x + y
    assert jit.trace(fn, (ember.ones(2), ember.ones(2))).__wrapped__ is fn
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


def test_lazy_submodules():
    assert ember.jit is jit
    assert ember.xpu.is_available() is False and ember.xpu.device_count() == 0
    assert ember.mps.is_available() is False and ember.mps.device_count() == 0
    for mod in (ember.xpu, ember.mps):
        mod.manual_seed(0)
        mod.synchronize()
        mod.empty_cache()


def test_isinstance_refines_parameterised_containers():
    """``torch.jit.isinstance`` checks every element against the container's element types
    (MONAI's BasicUNet calls it in forward); bare containers need their element types."""
    from typing import Dict, List, Optional, Tuple, Union

    t = ember.zeros(2)
    matching = [([1, 2], List[int]), ([], List[str]), ({"a": t}, Dict[str, ember.Tensor]),
                ({"a": [1]}, Dict[str, List[int]]), ((1, "a"), Tuple[int, str]),
                (None, Optional[int]), (3, Optional[int]), (3, Union[str, int]), (3, int | None),
                (t, ember.Tensor), ("s", (int, str))]
    for obj, target in matching:
        assert jit.isinstance(obj, target), (obj, target)
    mismatching = [([1, "a"], List[int]), ((1, "a", 2), Tuple[int, str]), ("x", Optional[int]),
                   ({1: t}, Dict[str, ember.Tensor]), ((1, 2), List[int]), (t, int)]
    for obj, target in mismatching:
        assert not jit.isinstance(obj, target), (obj, target)
    for bare in (List, list, Dict):
        with pytest.raises(RuntimeError):
            jit.isinstance([1], bare)
