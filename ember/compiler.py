"""``torch.compiler``: ember runs eagerly and compiles nothing, so ``compile`` gives back a
callable that runs the original as it is (a function wrapped, a module as an
:class:`OptimizedModule` around it, as PyTorch's), marking the call as compiled so that
``is_compiling`` answers True inside it, as it does in code TorchDynamo traces; the
graph-shaping decorators return their function unchanged. Code written for ``torch.compile``
runs as it would with compilation disabled, at eager speed."""
from __future__ import annotations

import functools
import threading
from collections.abc import Callable

__all__ = ["allow_in_graph", "assume_constant_result", "compile", "cudagraph_mark_step_begin",
           "disable", "get_default_backend", "is_compiling", "is_dynamo_compiling",
           "is_exporting", "list_backends", "nested_compile_region", "reset",
           "set_default_backend", "set_stance", "substitute_in_graph", "wrap_numpy"]

_default_backend = "inductor"


class _Compiling(threading.local):
    """How many compiled calls this thread is inside (0 inside a ``disable`` wrapper)."""
    depth = 0


_compiling = _Compiling()


def _run_compiled(fn: Callable, args: tuple, kwargs: dict):
    state = _compiling
    state.depth += 1
    try:
        return fn(*args, **kwargs)
    finally:
        state.depth -= 1


def _compiled_function(fn: Callable) -> Callable:
    def compiled(*args, **kwargs):
        return _run_compiled(fn, args, kwargs)
    # the function's name and docstring, not its __dict__ (``fn`` may be any callable object)
    return functools.update_wrapper(compiled, fn, updated=())


@functools.lru_cache(maxsize=None)
def _module_class():
    """OptimizedModule, made on first use: it subclasses ember.nn.Module, which imports much of
    ember (this module is imported with ember itself)."""
    from ember.nn import Module

    class OptimizedModule(Module):
        """What ``compile`` makes of a module: a module holding it as ``_orig_mod`` (so its
        ``state_dict`` keys start with ``_orig_mod.``, as PyTorch's do) whose calls run the
        module as compiled code; other attributes are the module's, read and written."""

        _own = frozenset({"_orig_mod", "training"})  # the attributes the wrapper keeps

        def __init__(self, mod: Module) -> None:
            super().__init__()
            self._orig_mod = mod

        def forward(self, *args, **kwargs):
            return _run_compiled(self._orig_mod, args, kwargs)

        @property
        def training(self) -> bool:
            return self._orig_mod.training

        @training.setter
        def training(self, value: bool) -> None:
            # Module.__init__ sets the default before ``_orig_mod`` exists: nothing to forward
            mod = self.__dict__.get("_modules", {}).get("_orig_mod")
            if mod is not None:
                mod.training = value

        def __getattr__(self, name: str):
            modules = self.__dict__.get("_modules", {})
            if name == "_orig_mod" or "_orig_mod" not in modules:
                return super().__getattr__(name)
            return getattr(modules["_orig_mod"], name)

        def __setattr__(self, name: str, value) -> None:
            if name in self._own or "_orig_mod" not in self._modules:
                super().__setattr__(name, value)
            else:
                setattr(self._orig_mod, name, value)

    OptimizedModule.__module__ = __name__
    OptimizedModule.__qualname__ = "OptimizedModule"  # pickled by name: see __getattr__
    return OptimizedModule


def __getattr__(name: str):
    if name == "OptimizedModule":
        return _module_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def compile(model: Callable | None = None, *, fullgraph: bool = False, dynamic=None,  # noqa: A001
            backend="inductor", mode=None, options=None, disable: bool = False, **kwargs):
    """``torch.compile`` without a compiler: a callable that runs ``model`` eagerly as compiled
    code (``is_compiling()`` is True inside). A module gives an ``OptimizedModule`` sharing its
    parameters; a function, a wrapper with its name. Works as ``compile(fn)``, ``@compile`` and
    ``@compile(mode="max-autotune")``; ``disable=True`` gives ``model`` back.

    Example::

        >>> f = ember.compile(lambda x: ember.compiler.is_compiling())
        >>> f(ember.ones(1)), ember.compiler.is_compiling()
        (True, False)
    """
    if model is None:
        return functools.partial(compile, fullgraph=fullgraph, dynamic=dynamic, backend=backend,
                                 mode=mode, options=options, disable=disable, **kwargs)
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be "
                           "specified at the same time.")
    if not callable(model):
        raise AssertionError(f"A callable function is expected, but {type(model)} is provided.")
    if disable:
        return model
    from ember.nn import Module
    if isinstance(model, Module):
        return _module_class()(model)
    return _compiled_function(model)


def disable(fn: Callable | None = None, recursive: bool = True, *, reason: str | None = None):
    """Exclude ``fn`` from compilation: a wrapper that runs it as uncompiled code
    (``is_compiling()`` is False inside, even when called from compiled code); a decorator when
    ``fn`` is None. A module is returned as it is."""
    if fn is None:
        return functools.partial(disable, recursive=recursive, reason=reason)
    from ember.nn import Module
    if isinstance(fn, Module):
        return fn

    def eager(*args, **kwargs):
        state = _compiling
        depth, state.depth = state.depth, 0
        try:
            return fn(*args, **kwargs)
        finally:
            state.depth = depth
    return functools.update_wrapper(eager, fn, updated=())


def allow_in_graph(fn: Callable) -> Callable:
    """Let the compiler put ``fn`` in its graph unexamined: ``fn`` itself."""
    return fn


def assume_constant_result(fn: Callable) -> Callable:
    """Let the compiler fold ``fn``'s result into a constant: ``fn`` itself."""
    return fn


def substitute_in_graph(original_fn: Callable, *, can_constant_fold_through: bool = False,
                        skip_signature_check: bool = False) -> Callable:
    """A decorator registering a traceable stand-in for ``original_fn``: it returns the
    stand-in unchanged (nothing is traced)."""
    return lambda fn: fn


def nested_compile_region(fn: Callable | None = None, **kwargs):
    """Mark a region compiled once and reused: ``fn`` itself."""
    return (lambda f: f) if fn is None else fn


def wrap_numpy(fn: Callable) -> Callable:
    """Let a NumPy function take and return tensors when compiled: ``fn`` itself here."""
    return fn


def is_compiling() -> bool:
    """Whether the caller runs inside a function or module given by ``compile`` (and not in a
    ``disable`` wrapper that it calls), as PyTorch answers while TorchDynamo traces it."""
    return _compiling.depth > 0


def is_dynamo_compiling() -> bool:
    """``is_compiling``: ember's compiled code is all "traced" by the one stand-in."""
    return _compiling.depth > 0


def is_exporting() -> bool:
    """False: ember never exports graphs."""
    return False


def reset() -> None:
    """Clear compilation caches: there are none."""


def cudagraph_mark_step_begin() -> None:
    """Mark the start of a CUDA-graph step: nothing to mark."""


def list_backends(exclude_tags=("debug", "experimental")) -> list:
    """The compiler backends ``compile`` accepts (all run eagerly here)."""
    return ["cudagraphs", "inductor", "onnxrt", "openxla", "tvm"]


def set_default_backend(backend) -> None:
    global _default_backend
    _default_backend = backend


def get_default_backend():
    return _default_backend


def set_stance(stance: str = "default", *, skip_guard_eval_unsafe: bool = False,
               force_backend=None):
    """Set how compiled functions behave ("default", "force_eager", ...); every stance runs
    eagerly here. Usable as a context manager or decorator, as in PyTorch."""
    return _Stance()


class _Stance:
    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def __call__(self, fn: Callable) -> Callable:
        return fn
