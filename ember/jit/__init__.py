"""``torch.jit`` for an eager library: TorchScript compiles a Python function or module into a
graph, and ember runs Python eagerly, so ``script`` and ``trace`` hand back a module as a
*scripted* view of it (same parameters, same forward) and a function as a
:class:`ScriptFunction` that calls it; ``fork`` runs its call at once, and the queries report
that no scripting or tracing is in progress.

NOTE [ Scripted modules ]
A scripted module is a shallow copy of the module whose class is a subclass of the module's
class with ``ScriptModule`` mixed in: it shares the parameters and buffers (as TorchScript's
module does), behaves like the module, and adds ``save``, ``code``, ``graph`` and
``inlined_graph``. ``jit.save``/``save`` write the module object with ``ember.save``;
``jit.load`` reads it back as ``ember.load(weights_only=False)`` does (PyTorch's switches
``TORCH_FORCE_*WEIGHTS_ONLY_LOAD`` govern ``torch.load``, not ``torch.jit.load``), rebuilding
module classes that the loading program has imported and running no code the file chooses. The
archive is ember's (PyTorch's zip layout with a pickled model), not a TorchScript graph, so
libtorch cannot run it.

NOTE [ What jit's code and graph show ]
Nothing is compiled, so there is no TorchScript IR to print. ``code`` is the Python source of
what runs (the module's ``forward``, or the function), and ``graph`` an ``ember.fx`` Graph
traced from it symbolically, each submodule call one ``call_module`` node, as TorchScript's
``graph`` keeps them; ``inlined_graph`` traces user modules through (ember's own layers stay
nodes: they check their inputs in Python, which symbolic values cannot pass). Code that
``ember.fx`` cannot trace (control flow on tensor values) has no graph: asking for one raises
RuntimeError; its ``code`` is still shown.
"""
from __future__ import annotations

import builtins
import contextlib
import copy
import functools
import inspect
import textwrap
import types
import typing
from typing import Any, Callable, Final, Generic, TypeVar

__all__ = [
    "Final", "Future", "ScriptFunction", "ScriptModule", "annotate", "enable_onednn_fusion",
    "export", "fork", "freeze", "ignore", "interface", "isinstance", "is_scripting", "is_tracing",
    "load", "onednn_fusion_enabled",
    "optimize_for_inference", "optimized_execution", "RecursiveScriptModule", "save", "script",
    "script_if_tracing",
    "script_method", "trace", "trace_module", "TracerWarning", "unused", "wait"]

from ember.jit import _trace
from ember.jit._trace import _get_trace_graph  # noqa: F401  (FLOP counters call it)

T = TypeVar("T")

# TorchScript's switches, kept so that code that sets and reads them works; with no graph
# compiler there is nothing for them to change.
_settings = {"onednn_fusion": False, "autocast": True}


class _shown:  # noqa: N801 - used as a decorator, like property
    """A read-only attribute computed on each access, which an instance attribute of the same
    name hides (a module may keep its own ``graph``): a non-data descriptor."""

    def __init__(self, fn: Callable) -> None:
        self.fn = fn
        self.__doc__ = fn.__doc__

    def __get__(self, obj, owner=None):
        return self if obj is None else self.fn(obj)


def _source(fn: Callable) -> str | None:
    try:
        return textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):  # made by exec, or built in: no file to read
        return None


def _graph(obj, name: str, inline: bool):
    """``obj`` (a module or function) traced by ``ember.fx`` into a Graph; submodule calls kept
    as ``call_module`` nodes (TorchScript's ``graph``) or, ``inline``, user modules traced
    through (its ``inlined_graph``; see NOTE [ What jit's code and graph show ])."""
    from ember.fx import Tracer
    tracer = Tracer()
    if not inline:
        tracer.is_leaf_module = lambda module, qualified_name: True
    try:
        return tracer.trace(obj)
    except Exception as exc:  # what symbolic values cannot run: control flow on tensors, ...
        raise RuntimeError(f"ember.jit: '{name}' has no graph: ember.fx cannot trace it "
                           f"({type(exc).__name__}: {exc}); ember runs it as Python, "
                           f"eagerly") from exc


def _code(obj, fn: Callable, name: str) -> str:
    """The Python source of ``fn``, else the code ember.fx generates from tracing ``obj``."""
    source = _source(fn)
    if source is not None:
        return source
    from ember.fx import GraphModule
    from ember.nn import Module
    root = obj if _is_module(obj) else Module()
    return GraphModule(root, _graph(obj, name, inline=True)).code.lstrip("\n")


class ScriptModule:
    """Mixed into scripted modules (see NOTE [ Scripted modules ]): TorchScript's extras."""

    def save(self, f, _extra_files=None) -> None:
        """Write this module to ``f`` (a path or a binary file), for ``ember.jit.load``."""
        save(self, f, _extra_files)

    @property
    def original_name(self) -> str:
        return _unscripted_class(type(self)).__name__

    @_shown
    def code(self) -> str:
        """The Python source of ``forward`` (see NOTE [ What jit's code and graph show ])."""
        return _code(self, _unscripted_class(type(self)).forward, self.original_name)

    @_shown
    def graph(self):
        """``forward`` as an ``ember.fx`` Graph, submodule calls as nodes (see NOTE [ What
        jit's code and graph show ])."""
        return _graph(self, self.original_name, inline=False)

    @_shown
    def inlined_graph(self):
        """``forward`` as an ``ember.fx`` Graph, user submodules traced through."""
        return _graph(self, self.original_name, inline=True)


# TorchScript's class of scripted modules; every ember scripted module is one.
RecursiveScriptModule = ScriptModule


class ScriptFunction:
    """A scripted or traced function: calling it calls the function; ``code`` and ``graph``
    show it (see NOTE [ What jit's code and graph show ])."""

    def __init__(self, fn: Callable) -> None:
        self._fn = fn
        functools.update_wrapper(self, fn)

    def __call__(self, *args, **kwargs):
        return self._fn(*args, **kwargs)

    @property
    def name(self) -> str:
        return self._fn.__name__

    @property
    def qualified_name(self) -> str:
        return f"__torch__.{self._fn.__name__}"

    @property
    def code(self) -> str:
        return _code(self._fn, self._fn, self.name)

    @property
    def graph(self):
        return _graph(self._fn, self.name, inline=False)

    @property
    def inlined_graph(self):
        return _graph(self._fn, self.name, inline=True)

    def __repr__(self) -> str:
        return f"<ember.jit.ScriptFunction {self.name}>"


def _wrapped(obj):
    """A module scripted, a function as a ScriptFunction, anything else (a class) as it is."""
    if _is_module(obj):
        return _scripted(obj)
    if inspect.isfunction(obj) or inspect.ismethod(obj):
        return ScriptFunction(obj)
    return obj


@functools.lru_cache(maxsize=None)
def _scripted_class(cls: type) -> type:
    return type(cls.__name__, (cls, ScriptModule), {"__module__": cls.__module__})


def _unscripted_class(cls: type) -> type:
    return next(c for c in cls.__mro__ if not issubclass(c, ScriptModule))


def _relabelled(module, scripted: bool, memo: dict):
    """A shallow copy of the module tree, each module's class its scripted subclass (or, not
    ``scripted``, its own class again): parameters and buffers shared, and submodules shared
    between parents copied once."""
    if id(module) in memo:
        return memo[id(module)]
    out = memo[id(module)] = copy.copy(module)
    for name in ("_parameters", "_buffers"):  # own registries, shared tensors
        object.__setattr__(out, name, dict(getattr(module, name)))
    object.__setattr__(out, "_modules", {
        name: None if child is None else _relabelled(child, scripted, memo)
        for name, child in module._modules.items()})
    cls = _unscripted_class(type(module))
    out.__class__ = _scripted_class(cls) if scripted else cls
    return out


def _scripted(module):
    """The module as a scripted module, its submodules too, as in TorchScript."""
    return module if builtins.isinstance(module, ScriptModule) else _relabelled(module, True, {})


def _is_module(obj) -> bool:
    from ember.nn import Module
    return builtins.isinstance(obj, Module)


def script(obj: Any = None, optimize=None, _frames_up: int = 0, _rcb=None, example_inputs=None):
    """A module as a scripted module (see NOTE [ Scripted modules ]), a function as a
    ScriptFunction calling it: both run eagerly, as Python, and show ``code`` and ``graph``."""
    return _wrapped(obj)


def _run_example(fn: Callable, example_inputs) -> None:
    # A tuple or list holds the positional arguments; a tensor (or anything else) is the one
    # argument, as in PyTorch.
    from ember.autograd.grad_mode import no_grad
    args = tuple(example_inputs) if builtins.isinstance(example_inputs, (tuple, list)) \
        else (example_inputs,)
    with no_grad():
        fn(*args)


def trace(func: Callable, example_inputs=None, optimize=None, check_trace: bool = True,
          check_inputs=None, check_tolerance: float = 1e-5, strict: bool = True, *,
          example_kwarg_inputs: dict | None = None, **kwargs) -> Callable:
    """Run ``func`` once on the example inputs (so that inputs it cannot take fail here, as
    tracing would) and return it as ``script`` does: it runs eagerly, so control flow on
    tensor values is followed on each call, not frozen at the example's path."""
    if example_kwarg_inputs is not None:
        from ember.autograd.grad_mode import no_grad
        with no_grad():
            func(**example_kwarg_inputs)
    elif example_inputs is not None:
        _run_example(func, example_inputs)
    return _wrapped(func)


def trace_module(mod, inputs: dict, optimize=None, check_trace: bool = True, check_inputs=None,
                 check_tolerance: float = 1e-5, strict: bool = True, **kwargs):
    """Run each named method of ``mod`` once on its example inputs; ``mod`` scripted."""
    for name, example in inputs.items():
        _run_example(getattr(mod, name), example)
    return _scripted(mod)


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


def _overload(fn: Callable) -> Callable:
    """Declare one typed signature of a function TorchScript overloads; the undecorated
    definition that follows is the one Python calls, so the declaration is returned as is."""
    return fn


def _overload_method(fn: Callable) -> Callable:
    """``_overload`` for a method."""
    return fn


def annotate(the_type, the_value):
    """Give TorchScript the type of ``the_value``; returns the value."""
    return the_value


# torch.jit's name shadows the builtin here, so this module's own checks call builtins'.
def isinstance(obj: Any, target_type) -> bool:  # noqa: A001 - PyTorch's name
    """Whether ``obj`` is of ``target_type``, a type, a tuple of types, or a parameterised
    container type (``List[int]``, ``Dict[str, Tensor]``, ``Tuple[int, str]``,
    ``Optional[...]``, ``Union[...]``), checking every element, as ``torch.jit.isinstance``
    does in eager mode (an empty container matches any element type).

    Example::

        >>> ember.jit.isinstance([1, 2], List[int]), ember.jit.isinstance([1, "a"], List[int])
        (True, False)
    """
    if builtins.isinstance(target_type, tuple):
        return any(isinstance(obj, t) for t in target_type)
    origin, args = typing.get_origin(target_type), typing.get_args(target_type)
    if origin in (typing.Union, types.UnionType):
        return any(isinstance(obj, t) for t in args)
    if target_type in (list, dict, tuple) or (origin is not None and not args):
        raise RuntimeError(f"ember.jit.isinstance: {target_type} needs its element types, "
                           f"e.g. List[int]")
    if origin is None:
        return builtins.isinstance(obj, target_type)
    if not builtins.isinstance(obj, origin):
        return False
    if origin is list:
        return all(isinstance(item, args[0]) for item in obj)
    if origin is dict:
        return all(isinstance(k, args[0]) and isinstance(v, args[1]) for k, v in obj.items())
    if origin is tuple:
        return len(obj) == len(args) and all(isinstance(o, t) for o, t in zip(obj, args))
    return True


def is_scripting() -> bool:
    """False: code is never running under TorchScript in ember."""
    return False


class TracerWarning(Warning):
    """The category of ``trace``'s warnings about code a trace cannot follow; ember's eager
    ``trace`` issues none, and code filters it by name."""


def is_tracing() -> bool:
    """Whether a ``_get_trace_graph`` trace is recording (``trace`` itself runs the function
    eagerly, without a tracer)."""
    return _trace.get_tracing_state() is not None


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


def enable_onednn_fusion(enabled: bool) -> None:
    """Turn TorchScript's oneDNN (LLGA) fusion on or off: recorded only, as ember runs no graph
    for oneDNN to fuse."""
    _settings["onednn_fusion"] = bool(enabled)


def onednn_fusion_enabled() -> bool:
    """Whether ``enable_onednn_fusion(True)`` was last set (off by default, as in PyTorch)."""
    return _settings["onednn_fusion"]


def _set_autocast_mode(enabled: bool) -> bool:
    """``torch._C._jit_set_autocast_mode``: whether TorchScript applies autocast inside scripted
    code; returns the previous setting. Eager ember code autocasts as it runs either way."""
    previous, _settings["autocast"] = _settings["autocast"], bool(enabled)
    return previous


def save(m, f, _extra_files=None) -> None:
    """Write the module ``m`` (scripted or not) to ``f`` for ``load``: the module object under
    its own class, through ``ember.save`` (atomic for a path)."""
    import ember
    if not _is_module(m):
        raise TypeError(f"ember.jit.save expects a module, got {type(m).__name__}")
    ember.save(_relabelled(m, False, {}), f)


def load(f, map_location=None, _extra_files=None, _restore_shapes: bool = False):
    """Read a module written by ``save`` (its class must be importable by this program, as
    ``ember.load`` requires) and return it scripted."""
    from ember.serialization import _load_checkpoint
    module = _load_checkpoint(f, map_location, full=True)
    if not _is_module(module):
        raise RuntimeError("ember.jit.load: the file holds no module (was it written by "
                           "ember.jit.save?)")
    return _scripted(module)
