"""``ember.backends.cudnn``: the cuDNN switches PyTorch code sets (``cudnn.benchmark = True``).

cuDNN is reached through CuPy when a GPU is present; the flags are accepted and recorded so
scripts that set them run unchanged.
"""
from __future__ import annotations

import contextlib

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True
benchmark_limit = 10
fp32_precision = "none"
depthwise_kernel = "auto"

_FLAG_NAMES = ("enabled", "benchmark", "benchmark_limit", "deterministic", "allow_tf32",
               "fp32_precision", "depthwise_kernel")


def is_available() -> bool:
    """Whether a CUDA device (and so cuDNN through CuPy) is usable."""
    from ember.backend import cuda as backend_cuda
    return backend_cuda.is_available()


def version() -> None:
    """The cuDNN version PyTorch would report; ember does not link cuDNN itself."""
    return None


def set_flags(_enabled=None, _benchmark=None, _benchmark_limit=None, _deterministic=None,
              _allow_tf32=None, _fp32_precision="none", _depthwise_kernel=None) -> tuple:
    """Set the flags given (``None`` leaves one as it is); the previous settings, in order."""
    previous = tuple(globals()[name] for name in _FLAG_NAMES)
    given = (_enabled, _benchmark, _benchmark_limit, _deterministic, _allow_tf32,
             _fp32_precision, _depthwise_kernel)
    for name, value in zip(_FLAG_NAMES, given):
        if value is not None:
            globals()[name] = value
    return previous


@contextlib.contextmanager
def flags(enabled: bool = False, benchmark: bool = False, benchmark_limit: int = 10,
          deterministic: bool = False, allow_tf32: bool = True, fp32_precision: str = "none",
          depthwise_kernel: str = "auto"):
    """Within the block the cuDNN flags are as given (by default cuDNN off, as PyTorch's
    ``cudnn.flags()``); afterwards they are as before."""
    previous = set_flags(enabled, benchmark, benchmark_limit, deterministic, allow_tf32,
                         fp32_precision, depthwise_kernel)
    try:
        yield
    finally:
        set_flags(*previous)
