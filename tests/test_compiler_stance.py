"""torch.compiler.set_stance on ember: which calls of a compiled callable run as compiled code
(``is_compiling()`` inside), as PyTorch's TorchDynamo decides them, without a compiler: a new
input shape or Python number is a recompile, a second one makes it dynamic."""
import pytest

import ember
from ember import compiler


def _probe():
    @ember.compile
    def f(x, n=1):
        return compiler.is_compiling()
    return f


@pytest.fixture(autouse=True)
def default_stance():
    yield
    compiler.set_stance("default")


def test_force_eager_as_call_context_and_decorator():
    f, x = _probe(), ember.zeros(3)
    assert f(x)
    compiler.set_stance("force_eager")
    assert not f(x)
    compiler.set_stance("default")
    with compiler.set_stance("force_eager"):
        assert not f(x)
    assert f(x)

    @compiler.set_stance("force_eager")
    def eager_caller(v):
        return f(v)
    assert f(x) and not eager_caller(x) and f(x)  # decorating set nothing by itself


def test_fail_on_recompile_raises_for_a_new_shape_only():
    f = _probe()
    f(ember.zeros(3))
    with compiler.set_stance("fail_on_recompile"):
        assert f(ember.ones(3))
        with pytest.raises(RuntimeError, match="fail_on_recompile"):
            f(ember.zeros(4))
        with pytest.raises(RuntimeError, match="fail_on_recompile"):
            f(ember.zeros(3), n=2)  # a Python number is specialised too
    f(ember.zeros(4))  # recompiled with a dynamic size
    f(ember.zeros(3), n=2)
    f(ember.zeros(3), n=3)  # ... and with a dynamic number
    with compiler.set_stance("fail_on_recompile"):
        assert f(ember.zeros(9)) and f(ember.zeros(3), n=7)
        with pytest.raises(RuntimeError):
            f(ember.zeros(2, 2))  # another rank is still new
        with pytest.raises(RuntimeError):
            f(ember.zeros(3), n=2.5)  # so is a float where an int was


def test_eager_on_recompile_keeps_compiled_code_for_seen_inputs():
    f = _probe()
    assert f(ember.zeros(3))
    with compiler.set_stance("eager_on_recompile"):
        assert f(ember.zeros(3))
        assert not f(ember.zeros(4))
        assert f(ember.zeros(3))


def test_eager_then_compile_runs_the_first_call_eagerly():
    with compiler.set_stance("eager_then_compile"):
        f = _probe()
        assert not f(ember.zeros(3))
        assert f(ember.zeros(3))


def test_set_stance_is_forbidden_inside_compiled_code():
    @ember.compile
    def sets_stance(x):
        with compiler.set_stance("force_eager"):
            return x + 1
    with pytest.raises(AssertionError, match="forbidden callable"):
        sets_stance(ember.zeros(2))

    @compiler.set_stance("force_eager")
    def inner(x):
        return x + 1
    with pytest.raises(AssertionError, match="forbidden callable"):
        ember.compile(inner)(ember.zeros(2))
    assert compiler._Stance.name == "default"  # the failed calls restored nothing wrongly


def test_reset_forgets_what_was_compiled_and_modules_follow_the_stance():
    f = _probe()
    f(ember.zeros(3))
    compiler.reset()
    with compiler.set_stance("fail_on_recompile"):
        assert f(ember.zeros(5))  # a first compile again, not a recompile
    model = ember.compile(ember.nn.Linear(2, 2))
    model(ember.zeros(1, 2))
    with compiler.set_stance("fail_on_recompile"), pytest.raises(RuntimeError):
        model(ember.zeros(1, 3, 2))


def test_an_unknown_stance_is_refused():
    with pytest.raises(RuntimeError, match="invalid"):
        compiler.set_stance("sometimes")
