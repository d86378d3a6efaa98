"""``torch.jit`` for an eager library: TorchScript compiles a Python function or module into a
graph, and ember runs Python eagerly, so ``script``, ``trace`` and friends hand back what they are
given (as ``ember.compile`` does), ``fork`` runs its call at once, and the queries report that no
scripting or tracing is in progress. Only TorchScript's file format has no stand-in: ``save`` and
``load`` say to use ``ember.save`` with a ``state_dict`` instead."""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Final, Generic, TypeVar

__all__ = [
    "Final", "Future", "annotate", "export", "fork", "freeze", "ignore", "interface",
    "is_scripting", "is_tracing", "load", "optimize_for_inference", "optimized_execution",
    "save", "script", "script_if_tracing", "script_method", "trace", "trace_module", "unused",
    "wait"]

T = TypeVar("T")


def script(obj: Any = None, optimize=None, _frames_up: int = 0, _rcb=None, example_inputs=None):
    """Return ``obj`` unchanged: the eager function or module already is what would run."""
    return obj


def _run_example(fn: Callable, example_inputs) -> None:
    # A tuple holds the positional arguments; anything else is the one argument, as in PyTorch.
    from ember.autograd.grad_mode import no_grad
    args = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    with no_grad():
        fn(*args)


def trace(func: Callable, example_inputs=None, optimize=None, check_trace: bool = True,
          check_inputs=None, check_tolerance: float = 1e-5, strict: bool = True, *,
          example_kwarg_inputs: dict | None = None, **kwargs) -> Callable:
    """Run ``func`` once on the example inputs (so that inputs it cannot take fail here, as
    tracing would) and return it unchanged."""
    if example_kwarg_inputs is not None:
        from ember.autograd.grad_mode import no_grad
        with no_grad():
            func(**example_kwarg_inputs)
    elif example_inputs is not None:
        _run_example(func, example_inputs)
    return func


def trace_module(mod, inputs: dict, optimize=None, check_trace: bool = True, check_inputs=None,
                 check_tolerance: float = 1e-5, strict: bool = True, **kwargs):
    """Run each named method of ``mod`` once on its example inputs and return ``mod``."""
    for name, example in inputs.items():
        _run_example(getattr(mod, name), example)
    return mod


def ignore(drop=False, **kwargs):
    """Leave a function to Python: a no-op, since everything is left to Python. Works bare
    (``@ignore``) and called (``@ignore(drop=True)``)."""
    return drop if callable(drop) else (lambda fn: fn)


def unused(fn: Callable) -> Callable:
    """Mark a method that scripting skips; it stays callable."""
    return fn


def export(fn: Callable) -> Callable:
    """Mark a method to compile besides ``forward``; a no-op."""
    return fn


def interface(obj: T) -> T:
    """Declare a TorchScript interface; the class is returned as is."""
    return obj


def script_method(fn: Callable) -> Callable:
    return fn


def script_if_tracing(fn: Callable) -> Callable:
    return fn


def annotate(the_type, the_value):
    """Give TorchScript the type of ``the_value``; returns the value."""
    return the_value


def is_scripting() -> bool:
    """False: code is never running under TorchScript in ember."""
    return False


def is_tracing() -> bool:
    """False: ``trace`` runs the function eagerly, without a tracer."""
    return False


class Future(Generic[T]):
    """The result of ``fork``: already computed, since the call ran synchronously."""

    def __init__(self, value: T) -> None:
        self._value = value

    def wait(self) -> T:
        return self._value

    def value(self) -> T:
        return self._value

    def done(self) -> bool:
        return True


def fork(func: Callable, *args, **kwargs) -> Future:
    """Call ``func(*args, **kwargs)`` now and wrap the result for ``wait``."""
    return Future(func(*args, **kwargs))


def wait(future: Future):
    """The value of a ``fork``."""
    return future.wait()


def freeze(mod, preserved_attrs: list[str] | None = None, optimize_numerics: bool = True):
    """Return ``mod``: there is no graph to inline its parameters into."""
    return mod


def optimize_for_inference(mod, other_methods: list[str] | None = None):
    """Return ``mod``: there is no graph to optimize."""
    return mod


@contextlib.contextmanager
def optimized_execution(should_optimize: bool):
    yield


def _no_script_files(what: str):
    raise NotImplementedError(
        f"ember.jit.{what}: ember has no TorchScript archive format; save the model's weights "
        "with ember.save(model.state_dict(), path) and load them with "
        "model.load_state_dict(ember.load(path))")


def save(m, f, _extra_files=None) -> None:
    """Not supported: TorchScript archives need a compiled graph (see ``ember.save``)."""
    _no_script_files("save")


def load(f, map_location=None, _extra_files=None, _restore_shapes: bool = False):
    """Not supported: TorchScript archives need a compiled graph (see ``ember.load``)."""
    _no_script_files("load")
