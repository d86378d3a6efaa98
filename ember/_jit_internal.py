"""``torch._jit_internal``: the TorchScript helpers that libraries import from it. ember
compiles nothing, so the decorators hand back what they are given (see ember.jit)."""
from __future__ import annotations

from typing import Callable, Final

from ember.jit import _overload, _overload_method, export, ignore, is_scripting, unused

__all__ = ["Final", "_copy_to_script_wrapper", "_overload", "_overload_method", "export",
           "ignore", "is_scripting", "unused"]


def _copy_to_script_wrapper(fn: Callable) -> Callable:
    """Marks a module method that TorchScript copies into the scripted module: ``fn``."""
    return fn
