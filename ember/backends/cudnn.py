"""``ember.backends.cudnn``: the cuDNN switches PyTorch code sets (``cudnn.benchmark = True``).

cuDNN is reached through CuPy when a GPU is present; the flags are accepted and recorded so
scripts that set them run unchanged.
"""
from __future__ import annotations

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    """Whether a CUDA device (and so cuDNN through CuPy) is usable."""
    from ember.backend import cuda as backend_cuda
    return backend_cuda.is_available()


def version() -> None:
    """The cuDNN version PyTorch would report; ember does not link cuDNN itself."""
    return None
