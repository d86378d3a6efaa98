"""``torch.nn.attention``: choosing the scaled-dot-product-attention kernel.

ember computes attention one way (the math one, on BLAS or cuBLAS), but it follows what the
choice of backend changes in PyTorch's results: the fused kernels (flash attention, the default
on the CPU) write the output in the query's memory layout, the math kernel writes it
contiguous; on the CPU, where PyTorch has only the math and flash kernels, a choice of neither
finds no kernel.
"""
from __future__ import annotations

import contextlib
import enum

__all__ = ["SDPBackend", "sdpa_kernel"]


class SDPBackend(enum.IntEnum):
    """PyTorch's attention backends (the values are PyTorch's)."""

    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4


_ALL = frozenset((SDPBackend.MATH, SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION,
                  SDPBackend.CUDNN_ATTENTION))
_enabled: list = [_ALL]  # the backends allowed now, innermost ``sdpa_kernel`` last


@contextlib.contextmanager
def sdpa_kernel(backends, set_priority: bool = False):
    """Context manager restricting ``F.scaled_dot_product_attention`` to ``backends`` (one
    ``SDPBackend`` or a list of them)."""
    chosen = list(backends) if isinstance(backends, (list, tuple, set)) else [backends]
    if not all(isinstance(b, SDPBackend) for b in chosen):
        raise TypeError(f"sdpa_kernel: backends must be SDPBackend values, got {backends!r}")
    _enabled.append(frozenset(chosen))
    try:
        yield
    finally:
        _enabled.pop()


def _fused_kernel(on_cpu: bool, dropout_p: float) -> bool:
    """Whether PyTorch would run a fused kernel (True) or the math one (False) for these
    inputs under the current ``sdpa_kernel`` choice; RuntimeError when it would find none."""
    enabled = _enabled[-1]
    fused = enabled & ({SDPBackend.FLASH_ATTENTION} if on_cpu else
                       {SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION,
                        SDPBackend.CUDNN_ATTENTION})
    if fused and not (on_cpu and dropout_p > 0.0):  # PyTorch's CPU flash kernel: no dropout
        return True
    if SDPBackend.MATH in enabled:
        return False
    if fused:  # only the CPU flash kernel is allowed, and it cannot take these inputs
        raise RuntimeError("No available kernel. Aborting execution.")
    raise RuntimeError("No viable backend for scaled_dot_product_attention was found. This is "
                       "likely due to turning off both the math kernel and the fused kernels.")
