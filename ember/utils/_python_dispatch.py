"""``torch.utils._python_dispatch``: dispatch modes, and the predicates that find wrapper
subclasses.

A :class:`TorchDispatchMode` sees the operators that run while it is active, below autograd
(see ``ember._dispatch`` for how ember's primitives reach it). Tensor subclasses override
functions through ``__torch_function__`` (see ``ember.overrides``); a subclass's own
``__torch_dispatch__`` is not called."""
from __future__ import annotations

import contextlib
from typing import Iterator

from ember import _dispatch

__all__ = ["TorchDispatchMode", "is_traceable_wrapper_subclass",
           "is_traceable_wrapper_subclass_type", "is_in_torch_dispatch_mode"]


class TorchDispatchMode:
    """``with mode:`` calls ``mode.__torch_dispatch__(func, types, args, kwargs)`` for every
    operator run inside, where ``func`` is the ``torch.ops.aten`` overload and
    ``func(*args, **kwargs)`` runs it. The mode is off while its own handler runs; modes stack,
    the innermost first."""

    def __init__(self, _dispatch_key=None) -> None:
        self._dispatch_key = _dispatch_key

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        raise NotImplementedError

    def __enter__(self):
        _dispatch.push_mode(self)
        return self

    def __exit__(self, *exc) -> None:
        _dispatch.pop_mode(self)

    @classmethod
    def push(cls, *args, **kwargs):
        """A new mode of this class, for ``with Mode.push(...):`` (as ``Mode(...)``)."""
        return cls(*args, **kwargs)

    @classmethod
    def is_infra_mode(cls) -> bool:
        return False


def _get_current_dispatch_mode():
    """The innermost active dispatch mode, or None."""
    stack = _dispatch.current_stack()
    return stack[-1] if stack else None


def _get_current_dispatch_mode_stack() -> list:
    return list(_dispatch.current_stack())


def is_in_torch_dispatch_mode(include_infra_modes: bool = True) -> bool:
    """Whether a dispatch mode is active (``include_infra_modes=False`` ignores infra modes)."""
    return any(include_infra_modes or not m.is_infra_mode() for m in _dispatch.current_stack())


def _push_mode(mode) -> None:
    _dispatch.push_mode(mode)


def _pop_mode(k=None):
    return _dispatch.pop_mode()


@contextlib.contextmanager
def _pop_mode_temporarily(k=None) -> Iterator:
    """The innermost mode, off the stack for the duration of the block."""
    mode = _dispatch.pop_mode()
    try:
        yield mode
    finally:
        _dispatch.push_mode(mode)


@contextlib.contextmanager
def _disable_current_modes() -> Iterator[list]:
    """All of this thread's dispatch modes, off the stack for the duration of the block."""
    modes = []
    while _dispatch.current_stack():
        modes.append(_dispatch.pop_mode())
    try:
        yield list(reversed(modes))
    finally:
        for mode in reversed(modes):
            _dispatch.push_mode(mode)


def is_traceable_wrapper_subclass(t: object) -> bool:
    """Whether ``t`` is an instance of a Tensor subclass (not Tensor itself) that defines
    ``__tensor_flatten__`` and ``__tensor_unflatten__``."""
    from ember._tensor import Tensor
    return (isinstance(t, Tensor) and type(t) is not Tensor
            and hasattr(t, "__tensor_flatten__") and hasattr(t, "__tensor_unflatten__"))


def is_traceable_wrapper_subclass_type(t: type) -> bool:
    """``is_traceable_wrapper_subclass`` for a class."""
    from ember._tensor import Tensor
    return (issubclass(t, Tensor) and t is not Tensor
            and hasattr(t, "__tensor_flatten__") and hasattr(t, "__tensor_unflatten__"))
