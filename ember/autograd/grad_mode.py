"""Grad modes: whether new ops are recorded on the tape."""
from __future__ import annotations

import functools
import inspect
import threading


class _ThreadState(threading.local):
    """Grad mode is per thread, as in PyTorch: ``no_grad`` in one thread (an optimizer step, a
    validation loop) leaves another thread's forward pass recording. A new thread starts with
    these class defaults."""

    enabled = True
    inference = False


_State = _ThreadState()


def is_grad_enabled() -> bool:
    """Whether ops run now are recorded for autograd."""
    return _State.enabled


def is_inference_mode_enabled() -> bool:
    """Whether an ``inference_mode()`` block is active."""
    return _State.inference


def _wrap(fn, make_context):
    """Run ``fn`` (or each step of a generator function) inside ``make_context()``."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator(*args, **kwargs):
            gen = fn(*args, **kwargs)
            try:
                with make_context():
                    value = next(gen)
                while True:
                    try:
                        sent = yield value
                    except GeneratorExit:
                        gen.close()
                        raise
                    except BaseException as exc:
                        with make_context():
                            value = gen.throw(exc)
                    else:
                        with make_context():
                            value = gen.send(sent)
            except StopIteration as stop:
                return stop.value
        return generator

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with make_context():
            return fn(*args, **kwargs)
    return wrapper


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
        return _wrap(fn, self.clone)

    def clone(self):
        return self.__class__()


class _NoParamGradModeContext(_GradModeContext):
    """Also usable as a bare decorator: ``@no_grad`` as well as ``@no_grad()``."""

    def __new__(cls, orig_func=None):
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)


class no_grad(_NoParamGradModeContext):
    """Context manager and decorator that disables gradient recording.

    Example::

        with ember.no_grad():
            y = x * 2          # y.requires_grad is False
    """

    _target = False


class enable_grad(_NoParamGradModeContext):
    """Context manager and decorator that enables gradient recording (e.g. inside no_grad)."""

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
        _State.enabled = self._prev  # as a decorator it must not change the mode now
        mode = self._target
        return _wrap(fn, lambda: set_grad_enabled(mode))

    def clone(self):
        return set_grad_enabled(self._target)


class inference_mode(_GradModeContext):
    """Like no_grad (no graph is recorded inside it); ``inference_mode(False)`` is a no-op."""

    def __new__(cls, mode=True):
        if callable(mode):  # used as a bare decorator
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True):
        self.mode = bool(mode)

    def __enter__(self):
        self._prev = (_State.enabled, _State.inference)
        if self.mode:
            _State.enabled = False
            _State.inference = True
        return self

    def __exit__(self, *exc) -> None:
        _State.enabled, _State.inference = self._prev

    def clone(self):
        return inference_mode(self.mode)
