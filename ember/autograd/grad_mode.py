"""Grad modes: whether new ops are recorded on the tape."""
from __future__ import annotations

import functools


class _State:
    # A class attribute, read on every op: the cheapest global lookup Python has.
    enabled = True


def is_grad_enabled() -> bool:
    return _State.enabled


class _GradModeContext:
    """Base of the grad-mode context managers; each also works as a decorator."""

    _target: bool

    def __enter__(self):
        self._prev = _State.enabled
        _State.enabled = self._target
        return self

    def __exit__(self, *exc) -> None:
        _State.enabled = self._prev

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)
        return wrapper

    def clone(self):
        return self.__class__()


class no_grad(_GradModeContext):
    """Context manager and decorator that disables gradient recording."""

    _target = False


class enable_grad(_GradModeContext):
    """Context manager and decorator that enables gradient recording."""

    _target = True


class set_grad_enabled(_GradModeContext):
    """Sets grad mode on or off; works as a function, a context manager or a decorator."""

    def __init__(self, mode: bool):
        self._target = bool(mode)
        self._prev = _State.enabled
        _State.enabled = self._target

    def __enter__(self):
        return self

    def __call__(self, fn):
        _State.enabled = self._prev
        mode = self._target

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)
        return wrapper

    def clone(self):
        return set_grad_enabled(self._target)


class inference_mode(_GradModeContext):
    """Like no_grad: no graph is recorded for ops run inside it."""

    def __init__(self, mode: bool = True):
        self._target = not mode

    def __call__(self, fn):
        mode = not self._target

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(mode):
                return fn(*args, **kwargs)
        return wrapper

    def clone(self):
        return inference_mode(not self._target)


def is_inference_mode_enabled() -> bool:
    return False
