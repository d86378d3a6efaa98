"""``torch.compiler``: ember runs eagerly, so compilation is the identity: ``compile`` returns
the function, the graph-shaping decorators return it unchanged, and ``is_compiling`` is always
False. Code written for ``torch.compile`` runs as it would with compilation disabled."""
from __future__ import annotations

from collections.abc import Callable

from ember.runtime import compile  # noqa: F401

__all__ = ["allow_in_graph", "assume_constant_result", "compile", "cudagraph_mark_step_begin",
           "disable", "get_default_backend", "is_compiling", "is_dynamo_compiling",
           "is_exporting", "list_backends", "nested_compile_region", "reset",
           "set_default_backend", "set_stance", "substitute_in_graph", "wrap_numpy"]

_default_backend = "inductor"


def disable(fn: Callable | None = None, recursive: bool = True, *, reason: str | None = None):
    """Exclude ``fn`` from compilation: ``fn`` itself (a decorator when ``fn`` is None)."""
    if fn is None:
        return lambda f: f
    return fn


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
    """False: ember never traces code."""
    return False


def is_dynamo_compiling() -> bool:
    """False: ember never traces code."""
    return False


def is_exporting() -> bool:
    """False: ember never exports graphs."""
    return False


def reset() -> None:
    """Clear compilation caches: there are none."""


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
    """Set how compiled functions behave ("default", "force_eager", ...); every stance runs
    eagerly here. Usable as a context manager or decorator, as in PyTorch."""
    return _Stance()


class _Stance:
    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def __call__(self, fn: Callable) -> Callable:
        return fn
