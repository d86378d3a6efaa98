"""``ember.backends.cuda``: the CUDA switches PyTorch code sets: TF32 and reduced-precision
matmul flags, which attention kernels ``scaled_dot_product_attention`` may use (the same choice
that ``ember.nn.attention.sdpa_kernel`` makes), the preferred libraries and the cuFFT plan
cache. ember's products run on cuBLAS through CuPy; the flags are accepted and recorded so that
scripts which set them run unchanged.
"""
from __future__ import annotations

import contextlib
import importlib.util
import warnings

from ember.nn import attention as _attention
from ember.nn.attention import SDPBackend

__all__ = ["SDPBackend", "cudnn_sdp_enabled", "cufft_plan_cache", "enable_cudnn_sdp",
           "enable_flash_sdp", "enable_math_sdp", "enable_mem_efficient_sdp",
           "flash_sdp_enabled", "is_built", "math_sdp_enabled", "matmul",
           "mem_efficient_sdp_enabled", "preferred_blas_library", "preferred_linalg_library",
           "sdp_kernel"]


def is_built() -> bool:
    """Whether ember can run on CUDA here: CuPy is installed (found without importing it)."""
    return importlib.util.find_spec("cupy") is not None


class _MatmulFlags:
    """``matmul.allow_tf32`` and the reduced-precision reduction flags."""

    def __init__(self) -> None:
        self.allow_tf32 = False
        self.allow_fp16_reduced_precision_reduction = True
        self.allow_bf16_reduced_precision_reduction = True
        self.fp32_precision = "none"


matmul = _MatmulFlags()


# --- attention kernels: the current set of ember.nn.attention's sdpa_kernel ---------------------

def _enable(backend: SDPBackend, enabled: bool) -> None:
    current = _attention._enabled[-1]
    _attention._enabled[-1] = current | {backend} if enabled else current - {backend}


def enable_flash_sdp(enabled: bool) -> None:
    _enable(SDPBackend.FLASH_ATTENTION, enabled)


def enable_mem_efficient_sdp(enabled: bool) -> None:
    _enable(SDPBackend.EFFICIENT_ATTENTION, enabled)


def enable_math_sdp(enabled: bool) -> None:
    _enable(SDPBackend.MATH, enabled)


def enable_cudnn_sdp(enabled: bool) -> None:
    _enable(SDPBackend.CUDNN_ATTENTION, enabled)


def flash_sdp_enabled() -> bool:
    return SDPBackend.FLASH_ATTENTION in _attention._enabled[-1]


def mem_efficient_sdp_enabled() -> bool:
    return SDPBackend.EFFICIENT_ATTENTION in _attention._enabled[-1]


def math_sdp_enabled() -> bool:
    return SDPBackend.MATH in _attention._enabled[-1]


def cudnn_sdp_enabled() -> bool:
    return SDPBackend.CUDNN_ATTENTION in _attention._enabled[-1]


@contextlib.contextmanager
def sdp_kernel(enable_flash: bool = True, enable_math: bool = True,
               enable_mem_efficient: bool = True, enable_cudnn: bool = True):
    """Deprecated: ``ember.nn.attention.sdpa_kernel`` with the backends whose flag is True."""
    warnings.warn("`torch.backends.cuda.sdp_kernel()` is deprecated. In the future, this "
                  "context manager will be removed. Please see `torch.nn.attention.sdpa_kernel()`"
                  " for the new context manager, with updated signature.", FutureWarning,
                  stacklevel=3)
    chosen = [b for b, on in ((SDPBackend.FLASH_ATTENTION, enable_flash),
                              (SDPBackend.MATH, enable_math),
                              (SDPBackend.EFFICIENT_ATTENTION, enable_mem_efficient),
                              (SDPBackend.CUDNN_ATTENTION, enable_cudnn)) if on]
    with _attention.sdpa_kernel(chosen):
        yield


# --- preferred libraries and the cuFFT plan cache --------------------------------------------

_preferred = {"linalg": "default", "blas": "cublas"}


def preferred_linalg_library(backend: str | None = None) -> str:
    """The linear-algebra library asked for ('default', 'cusolver' or 'magma'); ember's
    decompositions run on cuSOLVER through CuPy whatever is asked."""
    return _prefer("linalg", backend, ("default", "cusolver", "magma"))


def preferred_blas_library(backend: str | None = None) -> str:
    """The BLAS library asked for ('cublas', 'cublaslt' or 'ck'); ember's products use
    cuBLAS."""
    return _prefer("blas", backend, ("cublas", "cublaslt", "ck"))


def _prefer(kind: str, backend: str | None, choices: tuple) -> str:
    if backend is not None:
        name = str(backend).lower()
        if name not in choices:
            raise RuntimeError(f"Unknown input value. Choose from: {', '.join(choices)}.")
        _preferred[kind] = name
    return _preferred[kind]


class _FFTPlanCache:
    """A device's cuFFT plan cache: CuPy keeps its own, so there is nothing to size or clear."""

    size = 0
    max_size = 4096

    def clear(self) -> None:
        pass


class _FFTPlanCaches:
    """``cufft_plan_cache[device]``, and the current device's cache's attributes directly."""

    def __init__(self) -> None:
        self._caches: dict = {}

    def __getitem__(self, device) -> _FFTPlanCache:
        return self._caches.setdefault(getattr(device, "index", device) or 0, _FFTPlanCache())

    def __getattr__(self, name: str):
        return getattr(self[0], name)


cufft_plan_cache = _FFTPlanCaches()
