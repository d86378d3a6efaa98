"""NVTX ranges and marks for profilers (Nsight): CuPy's NVTX bindings where present, no-ops
elsewhere, so annotated scripts run unchanged on the CPU."""
from __future__ import annotations

import contextlib
import functools


@functools.lru_cache(maxsize=None)
def _nvtx():
    from ember.backend import cuda
    if not cuda.is_available():
        return None
    try:
        from cupy.cuda import nvtx
    except Exception:  # a CuPy built without NVTX
        return None
    return nvtx if getattr(nvtx, "available", True) else None


def range_push(msg: str) -> int:
    """Open a nested range named ``msg``; returns its depth (0-based), or -1 without NVTX."""
    lib = _nvtx()
    if lib is None:
        return -1
    lib.RangePush(msg)
    _depth[0] += 1
    return _depth[0] - 1


def range_pop() -> int:
    """Close the innermost range; returns the depth it had, or -1 without NVTX."""
    lib = _nvtx()
    if lib is None:
        return -1
    lib.RangePop()
    _depth[0] -= 1
    return _depth[0]


_depth = [0]


def mark(msg: str) -> None:
    """An instantaneous event named ``msg``."""
    lib = _nvtx()
    if lib is not None:
        lib.Mark(msg)


@contextlib.contextmanager
def range(msg: str, *args, **kwargs):  # noqa: A001
    """Context manager (and decorator) for a range named ``msg.format(*args, **kwargs)``."""
    range_push(msg.format(*args, **kwargs))
    try:
        yield
    finally:
        range_pop()
