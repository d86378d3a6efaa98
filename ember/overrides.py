"""``__torch_function__``: how Tensor subclasses, tensor-like types and modes override ember's
functions, with PyTorch's protocol (``torch.overrides``).

A public function whose arguments include an object whose type defines a ``__torch_function__``
other than plain ``Tensor``'s (a Tensor subclass, or any "tensor-like" class), or that runs while a
:class:`TorchFunctionMode` is active, calls that ``__torch_function__(func, types, args, kwargs)``
instead: the mode first, then the arguments' types, subclasses before their bases, else left to
right, until one returns something other than ``NotImplemented``. ``Tensor.__torch_function__``
itself runs ``func`` with subclass dispatch off and returns its tensors as instances of the
subclass, so ``MyTensor`` in gives ``MyTensor`` out.

NOTE [ Installing dispatch ]
PyTorch checks the arguments of every call in C++. In Python each check costs a wrapper call, so
ember installs the wrappers only once they can matter: when the first class defining a live
``__torch_function__`` is created (a Tensor subclass, seen by ``Tensor.__init_subclass__``, or
any tensor-like class, seen by a watch on class creation that ember keeps until then), or a mode
is first entered. Installing replaces, once, the public functions of ember's namespaces and
``Tensor``'s public methods, operators and properties with dispatching wrappers that keep the
wrapped function's name and docstring; a wrapper is what ``func`` is when a handler is called,
so ``func is ember.add`` holds for code that looks the name up after installation (a class
statement, which installs, comes before such code). ember's own subclasses (Parameter, Buffer,
sparse and quantized tensors) opt out of the protocol, as PyTorch's Parameter does.
"""
from __future__ import annotations

import functools
import threading
import types
from typing import Callable, Iterable

__all__ = ["BaseTorchFunctionMode", "TorchFunctionMode", "enable_reentrant_dispatch",
           "get_default_nowrap_functions", "get_ignored_functions", "get_overridable_functions",
           "get_testing_overrides",
           "handle_torch_function", "has_torch_function", "has_torch_function_unary",
           "has_torch_function_variadic", "is_tensor_like", "is_tensor_method_or_property",
           "resolve_name", "wrap_torch_function"]


def _disabled_torch_function_impl(func, types, args=(), kwargs=None):
    """A ``__torch_function__`` that opts a class out of the protocol (``Parameter``'s)."""
    return func(*args, **(kwargs or {}))


class _State(threading.local):
    """Per thread, as PyTorch's: the mode stack and the two disabling switches."""
    modes: list
    subclasses_on = True  # off inside DisableTorchFunctionSubclass
    all_on = True  # off inside DisableTorchFunction (modes too)

    def __init__(self):
        self.modes = []


_state = _State()
_installed = False
_wrapped: dict = {}  # wrapper -> the function it wraps (resolve_name, the overridable table)
_names: dict = {}  # wrapper (and wrapped function) -> PyTorch's name for it (resolve_name)
_NAMESPACES = {"ember": "torch", "ember.nn.functional": "torch.nn.functional",
               "ember.linalg": "torch.linalg", "ember.special": "torch.special",
               "ember.fft": "torch.fft", "ember.nn.init": "torch.nn.init",
               "ember.functional": "torch.functional"}
# Tensor attributes that are machinery, not API: never dispatched.
_TENSOR_SKIP = frozenset({
    "__init__", "__new__", "__init_subclass__", "__torch_function__", "__getattribute__",
    "__getattr__", "__setattr__", "__delattr__", "__class__", "__dict__", "__slots__",
    "__weakref__", "__module__", "__doc__", "__array_priority__", "__subclasshook__",
    "__sizeof__", "__dir__", "_make_subclass",
    "as_subclass"})  # PyTorch ignores it: a handler could only convert the result back
# Operators whose handlers PyTorch gives the method, not the operator (``x + 1`` is Tensor.add).
_OPERATOR_METHODS = {
    "__add__": "add", "__radd__": "add", "__sub__": "sub", "__mul__": "mul", "__rmul__": "mul",
    "__matmul__": "matmul", "__truediv__": "div", "__neg__": "neg", "__abs__": "abs",
    "__mod__": "remainder", "__gt__": "gt", "__lt__": "lt", "__ge__": "ge", "__le__": "le",
    "__ne__": "ne", "__iadd__": "add_", "__isub__": "sub_", "__imul__": "mul_",
    "__itruediv__": "div_"}


def _plain(cls) -> bool:
    """Whether instances of ``cls`` never dispatch: ``Tensor`` itself, opted-out classes, and
    classes of a real PyTorch imported beside ember (its tensors implement the protocol for
    torch's functions, not for ember's)."""
    if cls in _quiet:
        return True
    tf = getattr(cls, "__torch_function__", None)
    if tf is None or getattr(tf, "__func__", tf) is _disabled_torch_function_impl:
        return True
    if any(k.__module__.partition(".")[0] == "torch" for k in cls.__mro__):
        return True
    from ember._tensor import Tensor
    return cls is Tensor


# Classes known not to dispatch, so that a wrapper's check is one set lookup per argument.
_quiet = {int, float, bool, complex, str, bytes, type(None), slice, type(Ellipsis)}


def _overloaded_args(args: Iterable) -> list:
    """The arguments (and members of list/tuple arguments) whose types override, one per type,
    each subclass before its bases, else in order of appearance."""
    found: list = []
    for a in args:
        for b in (a if a.__class__ in (list, tuple) else (a,)):
            cls = b.__class__
            if cls in _quiet or any(type(f) is cls for f in found):
                continue
            if _plain(cls):
                if cls not in (list, tuple):
                    _quiet.add(cls)
                continue
            at = len(found)
            for i, other in enumerate(found):
                if issubclass(cls, type(other)):
                    at = i
                    break
            found.insert(at, b)
    return found


def _dispatching(impl: Callable, name: str, public: Callable | None = None) -> Callable:
    """``impl``, PyTorch's ``name``, behind the protocol's check (see NOTE [ Installing
    dispatch ]); handlers are given ``public``, by default the wrapper itself."""
    @functools.wraps(impl)
    def dispatch(*args, **kwargs):
        state = _state
        if state.all_on:
            if state.modes:
                return _handle(public or dispatch, _overloaded_args((*args, *kwargs.values()))
                               if state.subclasses_on else [], args, kwargs)
            if state.subclasses_on:
                for a in (*args, *kwargs.values()) if kwargs else args:
                    if a.__class__ not in _quiet:
                        overloaded = _overloaded_args((*args, *kwargs.values()))
                        if overloaded:
                            return _handle(public or dispatch, overloaded, args, kwargs)
                        break
        return impl(*args, **kwargs)
    # code reads keyword defaults to probe an API (MONAI: ``torch.meshgrid.__kwdefaults__``)
    dispatch.__kwdefaults__ = impl.__kwdefaults__
    _wrapped[dispatch] = impl
    _names[dispatch] = name
    _names.setdefault(impl, name)
    return dispatch


def _handle(public, overloaded: list, args, kwargs):
    kwargs = kwargs or {}
    types_ = tuple(type(a) for a in overloaded)
    if _state.modes and _state.all_on:
        mode = _state.modes.pop()  # a mode's own calls do not reach it again
        try:
            ret = mode.__torch_function__(public, types_, args, kwargs)
        finally:
            _state.modes.append(mode)
        if ret is not NotImplemented:
            return ret
    for arg in overloaded:  # bound to the argument: tensor-likes may define a plain method
        ret = arg.__torch_function__(public, types_, args, kwargs)
        if ret is not NotImplemented:
            return ret
    handlers = "".join(f"\n  - tensor subclass {t}" for t in types_)
    raise TypeError(f"Multiple dispatch failed for '{resolve_name(public)}'; all "
                    f"__torch_function__ handlers returned NotImplemented:\n{handlers}\n")


def _install() -> None:
    """Put the dispatching wrappers in place, once (see NOTE [ Installing dispatch ])."""
    global _installed
    if _installed:
        return
    _installed = True
    while _unwatch:
        _unwatch.pop()()
    import importlib

    from ember._tensor import Tensor
    _quiet.add(Tensor)
    done: dict = {}  # one wrapper per function, so that aliases stay the same object
    ignored = get_ignored_functions()  # (``is_tensor`` answers for a tensor-like too)
    for name, public in _NAMESPACES.items():
        module = importlib.import_module(name)
        for attr, value in list(vars(module).items()):
            # (a module imported during this loop may already hold the wrappers)
            # (``torch._assert`` is the private function in the protocol: fx records it)
            if ((not attr.startswith("_") or attr == "_assert")
                    and isinstance(value, types.FunctionType)
                    and value not in _wrapped and value not in ignored):
                if value not in done:
                    done[value] = _dispatching(value, f"{public}.{attr}")
                _replace(module, attr, done[value])
    resolved: dict = {}  # each public attribute as Tensor's MRO resolves it
    for klass in reversed(Tensor.__mro__[:-1]):
        resolved.update(vars(klass))
    methods = {}
    for attr, value in resolved.items():
        if attr in _TENSOR_SKIP or (attr.startswith("_") and not attr.startswith("__")):
            continue
        if isinstance(value, types.FunctionType):
            methods[attr] = value
        elif isinstance(value, property) and value.fget is not None:
            getter = _dispatching(value.fget, f"torch.Tensor.{attr}.__get__")
            _replace(Tensor, attr, property(getter, value.fset, value.fdel, value.__doc__))
    wrappers = {attr: _dispatching(value, f"torch.Tensor.{attr}")
                for attr, value in methods.items() if attr not in _OPERATOR_METHODS}
    for attr, method in _OPERATOR_METHODS.items():
        if attr in methods:
            wrappers[attr] = _dispatching(methods[attr], f"torch.Tensor.{attr}",
                                          wrappers.get(method))
    for attr, wrapper in wrappers.items():
        _replace(Tensor, attr, wrapper)


_replaced: list = []  # (owner, attribute, what its own __dict__ held, or _ABSENT): for _uninstall
_ABSENT = object()


def _replace(owner, attr: str, value) -> None:
    _replaced.append((owner, attr, vars(owner).get(attr, _ABSENT)))
    setattr(owner, attr, value)


def _uninstall() -> None:
    """Undo :func:`_install` and watch class creation again (for tests that define
    tensor-likes, so that the rest of a test run sees the plain functions)."""
    global _installed
    if not _installed:
        return
    while _replaced:
        owner, attr, old = _replaced.pop()
        if old is _ABSENT:
            delattr(owner, attr)
        else:
            setattr(owner, attr, old)
    # A namespace first imported while dispatch was on copied wrappers by ``from`` imports
    # (``ember.functional``): give it the plain functions too.
    import sys
    for name in _NAMESPACES:
        module = sys.modules.get(name)
        for attr, value in list(vars(module).items()) if module is not None else ():
            if isinstance(value, types.FunctionType) and value in _wrapped:
                setattr(module, attr, _wrapped[value])
    _wrapped.clear()
    _names.clear()
    _installed = False
    _watch_class_creation()


def _subclass_defined(cls) -> None:
    """``Tensor.__init_subclass__``'s hook: a subclass that takes part installs dispatch."""
    if not _plain(cls):
        _install()


def _watch_class_creation() -> None:
    """Until dispatch is installed, look at every class statement for a tensor-like type (one
    that defines ``__torch_function__`` without being a Tensor)."""
    import builtins
    build_class = builtins.__build_class__

    def build_and_look(*args, **kwargs):
        cls = build_class(*args, **kwargs)
        # (a mode dispatches once entered, and entering installs)
        if (isinstance(cls, type) and "__torch_function__" in vars(cls) and not _installed
                and not issubclass(cls, TorchFunctionMode) and not _plain(cls)):
            _install()
        return cls

    builtins.__build_class__ = build_and_look
    _unwatch.append(lambda: setattr(builtins, "__build_class__", build_class))


_unwatch: list = []  # undoes the watch once dispatch is installed


# ------------------------------------------------------------------------------------------------
# The default behaviour of Tensor subclasses

def _convert(ret, cls):
    """``ret`` with its plain tensors made instances of ``cls`` (tuples and lists kept)."""
    from ember._tensor import Tensor
    if isinstance(ret, Tensor) and not isinstance(ret, cls):
        return as_subclass(ret, cls)
    if isinstance(ret, (tuple, list)):
        items = [_convert(r, cls) for r in ret]
        if hasattr(ret, "_fields"):  # return types are named tuples
            return type(ret)(*items)
        return type(ret)(items)
    return ret


def tensor_torch_function(cls, func, types, args=(), kwargs=None):
    """``Tensor.__torch_function__``: run ``func`` with subclass dispatch off and return its
    tensors as ``cls`` (``NotImplemented`` if another argument's type is not a base of ``cls``,
    so that the more derived type handles the call)."""
    if not all(issubclass(cls, t) for t in types):
        return NotImplemented
    with DisableTorchFunctionSubclass():
        ret = func(*args, **(kwargs or {}))
        if func in get_default_nowrap_functions():
            return ret
        return _convert(ret, cls)


def as_subclass(tensor, cls):
    """A view of ``tensor`` (the same data; an ``AliasBackward0`` node when it requires grad)
    as an instance of ``cls``, a subclass of Tensor."""
    from ember._tensor import Tensor
    from ember.ops.movement import AliasIndex
    if not (isinstance(cls, type) and issubclass(cls, Tensor)):
        raise TypeError(f"as_subclass: cls must be a subclass of Tensor, got {cls!r}")
    with DisableTorchFunctionSubclass():
        out = AliasIndex.apply(tensor, Ellipsis)
    out.__class__ = cls
    return out


def make_subclass(cls, data, require_grad: bool = False):
    """``Tensor._make_subclass``: a new leaf of class ``cls`` sharing ``data``'s storage (and
    version counter), requiring grad if ``require_grad``."""
    from ember._tensor import _init_like
    out = object.__new__(cls)
    _init_like(out, data._data, require_grad)
    if data._ver is None:
        data._ver = [0]
    out._ver = data._ver
    return out


# ------------------------------------------------------------------------------------------------
# Switches and modes

class DisableTorchFunctionSubclass:
    """Within it, Tensor subclasses' and tensor-likes' ``__torch_function__`` are not called
    (modes still are)."""

    def __enter__(self):
        self._prev, _state.subclasses_on = _state.subclasses_on, False
        return self

    def __exit__(self, *exc):
        _state.subclasses_on = self._prev


class DisableTorchFunction:
    """Within it, no ``__torch_function__`` is called, modes' included."""

    def __enter__(self):
        self._prev, _state.all_on = _state.all_on, False
        return self

    def __exit__(self, *exc):
        _state.all_on = self._prev


class TorchFunctionMode:
    """Intercepts every ember function called while it is active (``with mode:``): its
    ``__torch_function__(func, types, args, kwargs)`` runs instead, and calls made from it do
    not reach it again. Modes stack; the innermost runs first."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        raise NotImplementedError

    def __enter__(self):
        _install()
        _state.modes.append(self)
        return self

    def __exit__(self, *exc):
        _state.modes.remove(self)

    @classmethod
    def push(cls, *args, **kwargs):
        mode = cls(*args, **kwargs)
        _install()
        _state.modes.append(mode)
        return mode


class BaseTorchFunctionMode(TorchFunctionMode):
    """A mode that runs every function unchanged: subclass it and override what you need."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        return func(*args, **(kwargs or {}))


def _get_current_function_mode():
    return _state.modes[-1] if _state.modes else None


def _get_current_function_mode_stack() -> list:
    return list(_state.modes)


def _len_torch_function_stack() -> int:
    return len(_state.modes)


def _is_torch_function_mode_enabled() -> bool:
    return bool(_state.modes) and _state.all_on


def _is_torch_function_enabled() -> bool:
    return _state.all_on and _state.subclasses_on


# ------------------------------------------------------------------------------------------------
# The public helpers of torch.overrides

def has_torch_function(relevant_args: Iterable) -> bool:
    """Whether calling a function on ``relevant_args`` must go through ``__torch_function__``
    (an argument's type overrides, or a mode is active)."""
    if not _state.all_on:
        return False
    if _state.modes:
        return True
    return _state.subclasses_on and bool(_overloaded_args(relevant_args))


def has_torch_function_unary(arg) -> bool:
    return has_torch_function((arg,))


def has_torch_function_variadic(*args) -> bool:
    return has_torch_function(args)


def handle_torch_function(public_api: Callable, relevant_args: Iterable, *args, **kwargs):
    """Call the ``__torch_function__`` that ``public_api`` on ``relevant_args`` dispatches to
    (for functions written outside ember that take part in the protocol)."""
    _install()
    overloaded = _overloaded_args(relevant_args) if _state.subclasses_on else []
    return _handle(public_api, overloaded, args, kwargs)


def wrap_torch_function(dispatcher: Callable) -> Callable:
    """Decorate a function so that it takes part in the protocol; ``dispatcher`` takes the
    same arguments and returns the relevant ones."""
    def decorate(func):
        @functools.wraps(func)
        def wrapped(*args, **kwargs):
            relevant = tuple(dispatcher(*args, **kwargs))
            if has_torch_function(relevant):
                return handle_torch_function(wrapped, relevant, *args, **kwargs)
            return func(*args, **kwargs)
        return wrapped
    return decorate


def is_tensor_like(inp) -> bool:
    """Whether ``inp`` is a Tensor or an object whose type defines ``__torch_function__``."""
    from ember._tensor import Tensor
    return isinstance(inp, Tensor) or hasattr(type(inp), "__torch_function__")


def get_default_nowrap_functions() -> set:
    """Functions whose results ``Tensor.__torch_function__`` returns unconverted (the
    accessors of a tensor's autograd state)."""
    from ember._tensor import Tensor
    return {Tensor.grad.__get__, Tensor._base.__get__}


def get_ignored_functions() -> set:
    """Public functions that never dispatch: those that take no tensor (factories, seeds,
    defaults, predicates on types)."""
    import ember
    from ember._tensor_methods import TensorMethods
    # (as_subclass from where it is defined: libraries (fastai) patch Tensor's and keep the
    # original under another public name, ``torch.as_subclass``)
    return {ember.is_tensor, ember.is_storage, ember.manual_seed, ember.set_default_dtype,
            ember.get_default_dtype, ember.set_grad_enabled, ember.is_grad_enabled,
            TensorMethods.as_subclass}


def get_overridable_functions() -> dict:
    """Each namespace (module, or ``Tensor``) mapped to its functions that dispatch, sorted by
    name (property getters for Tensor's properties)."""
    import importlib

    from ember._tensor import Tensor
    _install()

    def dispatching(values) -> list:
        found = [v.fget if isinstance(v, property) else v for v in values]
        found = [f for f in found if isinstance(f, types.FunctionType) and f in _wrapped]
        return sorted(found, key=lambda f: f.__name__)

    table = {importlib.import_module(name): dispatching(vars(importlib.import_module(name))
                                                        .values())
             for name in _NAMESPACES}
    table[Tensor] = dispatching(vars(Tensor).values())
    return table


def get_testing_overrides() -> dict:
    """Each overridable function mapped to a dummy with its signature that returns -1 (for
    testing a type's coverage of the API)."""
    import inspect
    dummies = {}
    for funcs in get_overridable_functions().values():
        for func in funcs:
            def dummy(*args, **kwargs):
                return -1
            try:
                dummy.__signature__ = inspect.signature(_wrapped[func])
            except (TypeError, ValueError):
                pass
            dummies[func] = dummy
    return dummies


def is_tensor_method_or_property(func: Callable) -> bool:
    """Whether ``func`` is one of Tensor's methods or property getters."""
    from ember._tensor import Tensor
    for klass in Tensor.__mro__[:-1]:
        for value in vars(klass).values():
            if func is value or (isinstance(value, property) and func is value.fget):
                return True
    return False


def resolve_name(f: Callable) -> str | None:
    """``f``'s public name, e.g. ``'torch.add'``, ``'torch.Tensor.add'`` or
    ``'torch.Tensor.shape.__get__'`` (PyTorch's spelling, which user code matches against);
    None for a function that is not ember's."""
    _install()
    return _names.get(f)


class enable_reentrant_dispatch:
    """A context manager kept for API compatibility: ember's dispatch is always reentrant."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


def _pop_mode():
    return _state.modes.pop()


def _push_mode(mode) -> None:
    _install()
    _state.modes.append(mode)


class _pop_mode_temporarily:
    """Take the innermost mode off the stack for the duration of the block."""

    def __enter__(self):
        self._mode = _state.modes.pop()
        return self._mode

    def __exit__(self, *exc):
        _state.modes.append(self._mode)


_watch_class_creation()
