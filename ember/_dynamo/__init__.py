"""``torch._dynamo`` as ember needs it: ember has no graph capture (``ember.compile`` runs the
model eagerly, marked as compiled: see ``ember.compiler``), so there are no compiled frames or
caches to manage. These functions keep PyTorch code that tunes or resets TorchDynamo, or asks
whether it is tracing, running. ``_trace_wrapped_higher_order_op`` holds
``TransformGetItemToIndex``, the indexing mode that vmapped mask functions run under."""
from __future__ import annotations

import collections
import contextlib
import types
from collections.abc import Iterator
from typing import Callable

from ember._dynamo import eval_frame
from ember.compiler import allow_in_graph, assume_constant_result, is_compiling

__all__ = ["allow_in_graph", "assume_constant_result", "compiled_autograd", "config", "disable",
           "graph_break", "is_compiling", "mark_dynamic", "mark_static", "mark_static_address",
           "maybe_mark_dynamic", "reset", "utils"]  # and OptimizedModule, made lazily

# ``torch._dynamo.config``: TorchDynamo's switches with PyTorch's defaults, kept so that code
# that sets or reads them runs; with no graph capture they change nothing (other names can be
# set too, as tuning scripts set many).
config = types.SimpleNamespace(
    cache_size_limit=8, accumulated_cache_size_limit=256, capture_scalar_outputs=False,
    capture_dynamic_output_shape_ops=False, suppress_errors=False, verbose=False,
    optimize_ddp=True, automatic_dynamic_shapes=True, assume_static_by_default=True,
    inline_inbuilt_nn_modules=True, recompile_limit=8, compiled_autograd=False)


def reset() -> None:
    """Forget every compiled frame and cache: nothing to forget in ember."""


def graph_break(msg: str = "") -> None:
    """Split the traced graph here: ember traces nothing, so this does nothing."""


def mark_dynamic(t, index, *, hint_override: int | None = None, min: int | None = None,
                 max: int | None = None, specialize_on: list | None = None) -> None:
    """Tell the compiler that dimension(s) ``index`` of ``t`` vary between calls: with no
    compiler there is nothing to specialise, so this does nothing."""


def maybe_mark_dynamic(t, index) -> None:
    """``mark_dynamic`` as a hint the compiler may ignore: does nothing in ember."""


def mark_static(t, index=None) -> None:
    """Tell the compiler that dimension(s) ``index`` of ``t`` never vary: does nothing in
    ember."""


def mark_static_address(t, guard: bool = False) -> None:
    """Tell the compiler that tensor ``t`` keeps its storage between calls (CUDA graphs may
    then read it in place); a TypeError for anything but a tensor, as in PyTorch."""
    from ember._tensor import Tensor
    if not isinstance(t, Tensor):
        raise TypeError(f"mark_static_address expects a tensor but received {type(t)}")


@contextlib.contextmanager
def _enable_compiled_autograd(compiler_fn: Callable, dynamic: bool = True,
                              ignore_active_disable_ctx: bool = True) -> Iterator[None]:
    """``torch._dynamo.compiled_autograd.enable``: run ``backward`` calls in the block through
    ``compiler_fn``'s compiled backward graph. ember's autograd engine always runs eagerly,
    so the block's backward passes run as they would outside it (same gradients, hooks
    included); ``compiler_fn`` is never called."""
    yield


# ``torch._dynamo.compiled_autograd``: the context manager (``_enable`` is its PyTorch 2.9+ name)
compiled_autograd = types.SimpleNamespace(enable=_enable_compiled_autograd,
                                          _enable=_enable_compiled_autograd)
# ``torch._dynamo.utils.counters``: the statistics TorchDynamo counts (graphs, breaks); ember
# captures no graphs, so every count stays 0.
utils = types.SimpleNamespace(counters=collections.defaultdict(collections.Counter))


def disable(fn: Callable | None = None, recursive: bool = True) -> Callable:
    """``ember.compiler.disable``: run ``fn`` as uncompiled code (``is_compiling()`` False);
    usable as ``@disable`` and ``@disable(recursive=False)``."""
    from ember import compiler
    return compiler.disable(fn, recursive)


def __getattr__(name: str):
    if name == "OptimizedModule":  # what ``ember.compile`` makes of a module
        return eval_frame.OptimizedModule
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
