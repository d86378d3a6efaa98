"""``torch.utils._contextlib``: context managers that also decorate functions."""
from __future__ import annotations

import inspect
import warnings

from ember.autograd.grad_mode import _wrap


class _DecoratorContextManager:
    """Base of a context manager that also works as a decorator: ``@ctx()`` runs each call of
    the function (each step of a generator function) inside a fresh ``ctx.clone()``.

    Subclasses define ``__enter__`` and ``__exit__``, and ``clone`` when ``__init__`` takes
    arguments.

    Example::

        >>> class quiet(_DecoratorContextManager):
        ...     def __enter__(self): ...
        ...     def __exit__(self, *exc): ...
        >>> @quiet()
        ... def step(): ...
    """

    def __call__(self, func):
        if inspect.isclass(func):
            warnings.warn("Decorating classes is deprecated and will be disabled in future "
                          "versions. You should only decorate functions or methods.",
                          FutureWarning, stacklevel=2)
            return _wrap(lambda: func(), self.clone)
        return _wrap(func, self.clone)

    def __enter__(self) -> None:
        raise NotImplementedError

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        raise NotImplementedError

    def clone(self):
        """A new context manager like this one (for one decorated call)."""
        return self.__class__()
