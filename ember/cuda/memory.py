"""GPU memory statistics from CuPy's memory pool, in PyTorch's names; zeros (or empty) without
a GPU, as PyTorch reports before CUDA starts."""
from __future__ import annotations

from ember.backend import cuda as _backend


class _Peaks:
    allocated = 0
    reserved = 0


def _pool():
    return _backend.cupy().get_default_memory_pool() if _backend.is_available() else None


def memory_allocated(device=None) -> int:
    """Bytes held by tensors on the GPU."""
    pool = _pool()
    return 0 if pool is None else pool.used_bytes()


def memory_reserved(device=None) -> int:
    """Bytes the caching allocator holds (in use or cached)."""
    pool = _pool()
    return 0 if pool is None else pool.total_bytes()


def max_memory_allocated(device=None) -> int:
    """The peak of ``memory_allocated`` seen since the last reset (sampled at each query)."""
    _Peaks.allocated = max(_Peaks.allocated, memory_allocated(device))
    return _Peaks.allocated


def max_memory_reserved(device=None) -> int:
    _Peaks.reserved = max(_Peaks.reserved, memory_reserved(device))
    return _Peaks.reserved


def reset_peak_memory_stats(device=None) -> None:
    _Peaks.allocated = memory_allocated(device)
    _Peaks.reserved = memory_reserved(device)


def reset_max_memory_allocated(device=None) -> None:
    _Peaks.allocated = memory_allocated(device)


def reset_max_memory_cached(device=None) -> None:
    _Peaks.reserved = memory_reserved(device)


def reset_accumulated_memory_stats(device=None) -> None:
    """ember keeps no accumulated counters."""


def memory_cached(device=None) -> int:
    """PyTorch's older name of ``memory_reserved``."""
    return memory_reserved(device)


def max_memory_cached(device=None) -> int:
    return max_memory_reserved(device)


def memory_stats(device=None) -> dict:
    """PyTorch's core statistics (current and peak bytes); empty without a GPU."""
    if _pool() is None:
        return {}
    allocated, reserved = memory_allocated(device), memory_reserved(device)
    return {
        "allocated_bytes.all.current": allocated,
        "allocated_bytes.all.peak": max_memory_allocated(device),
        "reserved_bytes.all.current": reserved,
        "reserved_bytes.all.peak": max_memory_reserved(device),
        "active_bytes.all.current": allocated,
        "inactive_split_bytes.all.current": reserved - allocated,
    }


def memory_summary(device=None, abbreviated: bool = False) -> str:
    """A readable table of ``memory_stats``."""
    stats = memory_stats(device)
    lines = ["|" + "=" * 60 + "|", "| ember CUDA memory summary" + " " * 34 + "|",
             "|" + "=" * 60 + "|"]
    if not stats:
        lines.append("| (no GPU)" + " " * 51 + "|")
    for key, value in stats.items():
        lines.append(f"| {key:<40} {value:>17} |")
    lines.append("|" + "=" * 60 + "|")
    return "\n".join(lines) + "\n"


def memory_snapshot() -> list:
    return []


def mem_get_info(device=None) -> tuple:
    """(free, total) bytes of the GPU."""
    free, total = _backend.cupy().cuda.runtime.memGetInfo()
    return free, total


def empty_cache() -> None:
    """Return the cached, unused blocks to the driver."""
    pool = _pool()
    if pool is not None:
        pool.free_all_blocks()
        _backend.cupy().get_default_pinned_memory_pool().free_all_blocks()


def ipc_collect() -> None:
    """PyTorch frees memory shared with exited processes; ember shares none on the GPU."""


def set_per_process_memory_fraction(fraction: float, device=None) -> None:
    """Limit the memory pool to ``fraction`` of the GPU's memory."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"Invalid fraction value: {fraction}. Allowed range: 0~1")
    pool = _pool()
    if pool is not None:
        pool.set_limit(fraction=fraction)
