"""``torch.compiler``: ember runs eagerly and compiles nothing, so ``compile`` gives back a
callable that runs the original as it is (a function wrapped, a module as an
:class:`OptimizedModule` around it, as PyTorch's), marking the call as compiled so that
``is_compiling`` answers True inside it, as it does in code TorchDynamo traces; the
graph-shaping decorators return their function unchanged. Code written for ``torch.compile``
runs as it would with compilation disabled, at eager speed."""
from __future__ import annotations

import functools
import threading
import weakref
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


class _Stance:
    """The stance ``set_stance`` chose (process-wide, as PyTorch's)."""
    name = "default"


_STANCES = ("default", "force_eager", "eager_on_recompile", "fail_on_recompile",
            "eager_then_compile")


def _signature(value):
    """What TorchDynamo's guards check of an argument: a tensor's dtype, device, grad flag and
    shape; a Python scalar's value (both specialised until a second one makes them dynamic);
    containers item by item; other objects' types."""
    from ember._tensor import Tensor
    if isinstance(value, Tensor):
        return ("tensor", value.dtype, value.device, value.requires_grad, tuple(value.shape))
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return (type(value), *map(_signature, value))
    if isinstance(value, dict):
        return (dict, *((k, _signature(v)) for k, v in value.items()))
    return type(value)


def _covers(entry, signature) -> bool:
    """Whether compiled code for ``entry`` takes ``signature``: a dynamic size is None, a
    dynamic number its type."""
    if entry is None:
        return True
    if entry is int or entry is float:
        return type(signature) is entry
    if isinstance(entry, tuple) and isinstance(signature, tuple):
        return len(entry) == len(signature) and all(map(_covers, entry, signature))
    return type(entry) is type(signature) and entry == signature


_CLASH = object()  # what _generalised gives for signatures that differ in structure


def _generalised(entry, signature):
    """``entry`` made dynamic where ``signature`` differs in a size (None) or a number of the
    same type (the type), as PyTorch's recompile with automatic dynamic shapes does;
    ``_CLASH`` where they differ in anything else."""
    if _covers(entry, signature):
        return entry
    if isinstance(entry, tuple) and isinstance(signature, tuple) and \
            len(entry) == len(signature):
        if entry[:1] == ("tensor",):  # same dtype, device and grad flag: dims go dynamic
            if signature[:4] != entry[:4] or len(entry[4]) != len(signature[4]):
                return _CLASH
            return entry[:4] + (tuple(a if a == b else None for a, b in
                                      zip(entry[4], signature[4])),)
        merged = tuple(map(_generalised, entry, signature))
        return _CLASH if any(m is _CLASH for m in merged) else merged
    if type(entry) is type(signature) and type(entry) in (int, float):
        return type(entry)  # a number seen with two values is dynamic
    return _CLASH


class _CompiledCode:
    """The inputs a compiled callable has "compiled" for, to tell a call that PyTorch would
    recompile (the stances ``fail_on_recompile`` and ``eager_on_recompile`` react to it)."""

    def __init__(self, fn: Callable) -> None:
        self.fn = fn
        self.entries: list = []
        self.called = False
        _ALL_CODE.add(self)

    def compiled_call(self, args: tuple, kwargs: dict) -> bool:
        """Whether this call runs as compiled code; raises where the stance forbids it."""
        stance = _Stance.name
        if stance == "force_eager":
            return False
        if stance == "eager_then_compile" and not self.called:
            self.called = True
            return False
        self.called = True
        signature = (_signature(args), _signature(kwargs))
        if any(_covers(entry, signature) for entry in self.entries):
            return True
        if self.entries and stance == "eager_on_recompile":
            return False
        if self.entries and stance == "fail_on_recompile":
            name = getattr(self.fn, "__name__", type(self.fn).__name__)
            raise RuntimeError(f"Detected recompile when torch.compile stance is "
                               f"'fail_on_recompile'. function name: '{name}'")
        for i, entry in enumerate(self.entries):
            merged = _generalised(entry, signature)
            if merged is not _CLASH:
                self.entries[i] = merged
                return True
        self.entries.append(signature)
        return True


_ALL_CODE: weakref.WeakSet = weakref.WeakSet()


def _run_compiled(code: _CompiledCode, args: tuple, kwargs: dict):
    if not code.compiled_call(args, kwargs):
        return code.fn(*args, **kwargs)
    state = _compiling
    state.depth += 1
    try:
        return code.fn(*args, **kwargs)
    finally:
        state.depth -= 1


def _compiled_function(fn: Callable) -> Callable:
    code = _CompiledCode(fn)

    def compiled(*args, **kwargs):
        return _run_compiled(code, args, kwargs)
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
            self.__dict__["_compiled_code"] = _CompiledCode(mod)

        def forward(self, *args, **kwargs):
            return _run_compiled(self.__dict__["_compiled_code"], args, kwargs)

        def __getstate__(self) -> dict:  # what it compiled for is no checkpoint's business
            state = self.__dict__.copy()
            del state["_compiled_code"]
            return state

        def __setstate__(self, state: dict) -> None:
            super().__setstate__(state)
            self.__dict__["_compiled_code"] = _CompiledCode(self._orig_mod)

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

    # the module's own name: under the torch alias ``__name__`` reads "torch.compiler", which
    # names real PyTorch's module once the alias is gone (this class is made once, cached)
    OptimizedModule.__module__ = __spec__.name
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
    """Forget what every compiled callable has compiled for: the next call compiles afresh."""
    for code in list(_ALL_CODE):
        code.entries.clear()
        code.called = False


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
    """Set how compiled callables run, from now on (a call), within a ``with`` block, or for
    the calls of a decorated function: "default" (compiled), "force_eager" (as uncompiled code),
    "eager_on_recompile" (uncompiled where PyTorch would recompile), "fail_on_recompile"
    (raise there) or "eager_then_compile" (the first call uncompiled). Forbidden inside
    compiled code, as in PyTorch."""
    _forbid_in_compiled_code()
    if stance not in _STANCES:
        raise RuntimeError(f"invalid torch.compile stance '{stance}'")
    prior, _Stance.name = _Stance.name, stance
    return _StanceSetting(stance, prior)


def _forbid_in_compiled_code() -> None:
    if is_compiling():
        raise AssertionError(f"Attempt to trace forbidden callable {set_stance!r}")


class _StanceSetting:
    """``set_stance``'s result: the stance is set when it is made; leaving a ``with`` block
    restores the prior one, and as a decorator it applies to the decorated function's calls
    only."""

    def __init__(self, stance: str, prior: str) -> None:
        self.stance, self.prior = stance, prior

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        _Stance.name = self.prior

    def __call__(self, fn: Callable) -> Callable:
        _Stance.name = self.prior  # decorating sets nothing now

        def with_stance(*args, **kwargs):
            _forbid_in_compiled_code()
            prior, _Stance.name = _Stance.name, self.stance
            try:
                return fn(*args, **kwargs)
            finally:
                _Stance.name = prior
        return functools.update_wrapper(with_stance, fn, updated=())
