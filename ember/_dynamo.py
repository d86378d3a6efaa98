"""``torch._dynamo`` as ember needs it: ember has no graph capture (``ember.compile`` returns
the model unchanged and it runs eagerly), so there are no compiled frames or caches to manage.
These functions keep PyTorch code that tunes or resets TorchDynamo running."""
from __future__ import annotations

from typing import Callable

__all__ = ["disable", "reset"]


def reset() -> None:
    """Forget every compiled frame and cache: nothing to forget in ember."""


def disable(fn: Callable | None = None, recursive: bool = True) -> Callable:
    """Run ``fn`` without compiling it (ember never compiles): ``fn`` itself; usable as
    ``@disable`` and ``@disable(recursive=False)``."""
    if fn is None:
        return lambda f: f
    return fn
