"""What the CPU backend sets up once: the process's allocator for tensor-sized buffers, and
PyTorch's silence on floating-point exceptions."""
from __future__ import annotations

import sys
import warnings

# glibc returns freed blocks above M_MMAP_THRESHOLD to the OS at once, so a training step that
# frees and reallocates tens of MB of activations pays page faults for all of them every step
# (~20% of a small CNN's step here). Serving such blocks from the heap and trimming it only
# past 256 MB keeps them warm, as PyTorch's caching CPU allocator does for its tensors.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def tune_allocator() -> bool:
    """Keep freed tensor buffers for reuse (glibc only); False where that is not possible."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018  (musl and others lack it: leave them alone)
        ok = libc.mallopt(_M_MMAP_THRESHOLD, 64 << 20) and libc.mallopt(_M_TRIM_THRESHOLD,
                                                                       256 << 20)
    except (OSError, AttributeError):
        return False
    return bool(ok)


def silence_float_warnings() -> None:
    """Let ember's ops give inf and nan without NumPy's RuntimeWarnings, as PyTorch's do.

    A warnings filter scoped to ember's own modules costs nothing until a warning fires, unlike
    ``np.errstate`` around every op, and leaves the user's own NumPy code as it was. Under the
    ``torch`` alias ember's modules carry torch's names (ember.compat), hence both.
    """
    warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"(ember|torch)(\.|$)")


def blas_description() -> str:
    """The BLAS NumPy was built with, as ``name version`` ("unknown" where NumPy won't say)."""
    import numpy
    try:
        blas = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except (TypeError, KeyError):  # NumPy < 1.26 prints its configuration only
        return "unknown"
    return f"{blas.get('name', 'unknown')} {blas.get('version', '')}".strip()
