"""``torch.nn.attention``: choosing the scaled-dot-product-attention kernel.

ember has one attention implementation (the math one, on BLAS or cuBLAS), so ``sdpa_kernel``
accepts any choice of backends and changes nothing; code that pins a backend runs unchanged.
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


@contextlib.contextmanager
def sdpa_kernel(backends, set_priority: bool = False):
    """Context manager that would restrict ``F.scaled_dot_product_attention`` to ``backends``;
    ember's one implementation serves every choice."""
    chosen = list(backends) if isinstance(backends, (list, tuple, set)) else [backends]
    if not all(isinstance(b, SDPBackend) for b in chosen):
        raise TypeError(f"sdpa_kernel: backends must be SDPBackend values, got {backends!r}")
    yield
