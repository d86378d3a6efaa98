"""``torch.__config__``: how this build was made, as text.

Libraries read PyTorch's build flags from ``show()`` (PyTorch Geometric looks for
``USE_MKL=OFF`` to avoid MKL-only sparse kernels); ember reports the engines it really runs on:
NumPy with its BLAS, and CuPy where it is installed (never imported here).
"""
from __future__ import annotations

import importlib.util
import os

from ember import runtime
from ember.backend.cpu import blas_description
from ember.version import __version__


def show() -> str:
    """The build configuration: the engines ember runs on and PyTorch's build-settings line,
    with every native library PyTorch may be built with (MKL, MKL-DNN, OpenMP, ...) off."""
    use_cuda = "ON" if importlib.util.find_spec("cupy") is not None else "OFF"
    return ("PyTorch built with:\n"
            "  - ember (pure Python on NumPy and CuPy)\n"
            f"  - BLAS: {blas_description()} (through NumPy)\n"
            f"  - Build settings: BLAS_INFO=numpy, TORCH_VERSION={__version__}, "
            f"USE_CUDA={use_cuda}, USE_CUDNN=OFF, USE_MKL=OFF, USE_MKLDNN=OFF, USE_MPI=OFF, "
            "USE_NCCL=OFF, USE_OPENMP=OFF, USE_ROCM=OFF, \n")


def parallel_info() -> str:
    """The thread pools' sizes, in PyTorch's layout."""
    return ("ATen/Parallel:\n"
            f"\tat::get_num_threads() : {runtime.get_num_threads()}\n"
            f"\tat::get_num_interop_threads() : {runtime.get_num_interop_threads()}\n"
            f"std::thread::hardware_concurrency() : {os.cpu_count()}\n"
            "ATen parallel backend: none (BLAS threads only)\n")


def _cxx_flags() -> str:
    """PyTorch's C++ compiler flags; ember compiles nothing."""
    return ""
