"""CUDA through CuPy, imported on first use so that ember works without it."""
from __future__ import annotations

import functools
import math

from ember.backend.device import Device


@functools.lru_cache(maxsize=None)
def _import_cupy():
    try:
        import cupy
    except Exception:  # ImportError, or a CuPy without a working CUDA runtime
        return None
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None
    except Exception:
        return None
    return cupy


def is_available() -> bool:
    return _import_cupy() is not None


def cupy():
    cp = _import_cupy()
    if cp is None:
        raise RuntimeError("ember was asked for CUDA, but CuPy or an NVIDIA GPU is missing "
                           '(install ember[cuda12] on a machine with a GPU)')
    return cp


# NOTE [ Deferred device checks ]
# A check of values on the GPU (a class index in range, say) needs those values on the host,
# and fetching them waits for every kernel queued before: the host can then queue nothing
# while the GPU works. PyTorch checks on the device (a device-side assert) and the error
# surfaces at a later synchronisation. ember does the same: the check's flag, a 0-d device
# bool, is ORed into one flag per (error, message), and ``raise_deferred`` raises the error at
# the next point that waits for the GPU anyway (``.item()``, a copy to the host,
# ``ember.cuda.synchronize()``).
_deferred: dict = {}


def defer_check(flag, error: type, message: str) -> None:
    """Raise ``error(message)`` at the next synchronisation if the 0-d device bool ``flag``
    is True."""
    held = _deferred.get((error, message))
    if held is None:
        _deferred[error, message] = flag
    else:
        cupy().logical_or(held, flag, out=held)


def raise_deferred() -> None:
    """Raise the first failed deferred check (and forget them all)."""
    checks = list(_deferred.items())
    _deferred.clear()
    for (error, message), flag in checks:
        if bool(flag):
            raise error(message)


def device_count() -> int:
    cp = _import_cupy()
    return 0 if cp is None else cp.cuda.runtime.getDeviceCount()


def device_of(array) -> Device:
    return Device("cuda", array.device.id)


def to_device(array, device: Device):
    cp = cupy()
    index = 0 if device.index is None else device.index
    with cp.cuda.Device(index):
        return cp.asarray(array)


def current_device_index() -> int:
    cp = _import_cupy()
    return 0 if cp is None else cp.cuda.runtime.getDevice()


def pinned_copy(array):
    """A copy of host ``array`` in page-locked memory, which the GPU reads by DMA (a NumPy array
    over CuPy's pinned-memory pool)."""
    import cupyx
    out = cupyx.empty_pinned(array.shape, array.dtype)
    out[...] = array
    return out


def is_pinned(array) -> bool:
    """Whether host ``array``'s memory is page-locked (registered with CUDA)."""
    cp = _import_cupy()
    if cp is None or array.nbytes == 0:
        return False
    try:
        attributes = cp.cuda.runtime.pointerGetAttributes(array.ctypes.data)
    except cp.cuda.runtime.CUDARuntimeError:  # memory CUDA has never seen
        return False
    return attributes.type == getattr(cp.cuda.runtime, "memoryTypeHost", 1)


_GEMM_SUM_DTYPES = frozenset({"float32", "float64", "bfloat16"})


def leading_sum(a, axes: tuple, keepdims: bool):
    """``a.sum(axis=axes, keepdims=keepdims)`` for a CuPy array summed over its leading axes
    (a bias's gradient), as a product with a row of ones: cuBLAS reads the rows at memory
    speed, several times faster than CuPy's reduction over a leading axis, and accumulates
    bfloat16 in float32. None where this does not apply (a host array, other axes, dtypes or
    layouts): the caller sums as usual."""
    k = len(axes)
    if (not 0 < k < a.ndim or axes != tuple(range(k)) or a.dtype.name not in _GEMM_SUM_DTYPES
            or a.size == 0 or a.__class__.__module__.split(".", 1)[0] != "cupy"
            or not a.flags.c_contiguous
            or cupy().cuda.get_current_stream().is_capturing()):  # no cuBLAS in a CUDA graph
        return None
    from ember.backend.special import matmul
    rows = a.size // math.prod(a.shape[k:])
    out = matmul(cupy().ones((1, rows), a.dtype), a.reshape(rows, -1))
    return out.reshape(((1,) * k if keepdims else ()) + a.shape[k:])


# cuBLAS enums (cublas_api.h / library_types.h)
_OP_N, _OP_T = 0, 1
_CUDA_R_16BF = 14
_CUBLAS_COMPUTE_32F = 68
_CUBLAS_GEMM_DEFAULT = -1


def _gemm_operand(x, batch: tuple):
    """``x`` broadcast over ``batch`` as (count, rows, cols) with one batch stride, and the
    cuBLAS (op, leading dimension) that reads it: a row-major matrix is a transposed
    column-major one."""
    cp = cupy()
    rows, cols = x.shape[-2:]
    flat = cp.broadcast_to(x, batch + (rows, cols)).reshape(-1, rows, cols)
    item = x.itemsize
    _, s_row, s_col = flat.strides
    if s_col == item and s_row >= max(cols, 1) * item and s_row % item == 0:
        return flat, _OP_N, s_row // item
    if s_row == item and s_col >= max(rows, 1) * item and s_col % item == 0:
        return flat, _OP_T, s_col // item
    flat = cp.ascontiguousarray(flat)
    return flat, _OP_N, max(cols, 1)


def bfloat16_batched_matmul(a, b):
    """``a @ b`` for bfloat16 CuPy arrays with batch dimensions, by cublasGemmStridedBatchedEx
    (float32 accumulation, bfloat16 output); in float32 on GPUs without bfloat16 GEMMs (before
    Ampere)."""
    import numpy as np
    from cupy_backends.cuda.libs import cublas
    cp = cupy()
    if a.ndim == 1:
        return bfloat16_batched_matmul(a[None, :], b)[..., 0, :]
    if b.ndim == 1:
        return bfloat16_batched_matmul(a, b[:, None])[..., 0]
    m, k = a.shape[-2:]
    n = b.shape[-1]
    if b.shape[-2] != k:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied")
    batch = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    fa, op_a, ld_a = _gemm_operand(a, batch)
    fb, op_b, ld_b = _gemm_operand(b, batch)
    count = fa.shape[0]
    out = cp.empty((count, m, n), a.dtype)
    if k == 0:
        out.fill(0)
    elif count and m and n:
        # Row-major C = A B is column-major C^T = B^T A^T: B goes first.
        item = a.itemsize
        alpha, beta = np.array(1.0, np.float32), np.array(0.0, np.float32)
        try:
            cublas.gemmStridedBatchedEx(  # on the current stream (CuPy sets it)
                cp.cuda.device.get_cublas_handle(), op_b, op_a, n, m, k, alpha.ctypes.data,
                fb.data.ptr, _CUDA_R_16BF, ld_b, fb.strides[0] // item,
                fa.data.ptr, _CUDA_R_16BF, ld_a, fa.strides[0] // item,
                beta.ctypes.data, out.data.ptr, _CUDA_R_16BF, n, m * n,
                count, _CUBLAS_COMPUTE_32F, _CUBLAS_GEMM_DEFAULT)
        except cublas.CUBLASError:
            wide = cp.matmul(a.astype(np.float32), b.astype(np.float32))
            return wide.astype(a.dtype)
    return out.reshape(batch + (m, n))
