"""``torch.version``: which PyTorch release ember's API follows, and what it was built with.

``__version__`` is the PyTorch release whose API ember implements, so that code written for
PyTorch which checks ``torch.__version__`` takes its current paths; ``ember`` is ember's own
package version. ``cuda`` is the CUDA runtime CuPy runs on (``None`` without CuPy), read on
first use so that ``import ember`` never imports CuPy.
"""
from __future__ import annotations

from ember.torch_version import TorchVersion

__all__ = ["__version__", "ember", "debug", "git_version", "hip", "rocm", "xpu"]

__version__ = TorchVersion("2.13.0")
ember = "0.1.0"
debug = False
git_version = "Unknown"
hip = None
rocm = None
xpu = None


def __getattr__(name: str):
    if name == "cuda":
        from ember.backend.cuda import _import_cupy
        cupy = _import_cupy()
        if cupy is None:
            return None
        runtime = cupy.cuda.runtime.runtimeGetVersion()  # 12040 for CUDA 12.4
        return f"{runtime // 1000}.{runtime % 1000 // 10}"
    raise AttributeError(f"module 'ember.version' has no attribute {name!r}")
