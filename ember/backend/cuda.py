"""CUDA through CuPy, imported on first use so that ember works without it."""
from __future__ import annotations

import functools
import math

import numpy as np

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


def deferred_flag(error: type, message: str):
    """The 0-d device bool that raises ``error(message)`` at the next synchronisation once a
    kernel sets it (as :func:`flag_targets_outside` does)."""
    flag = _deferred.get((error, message))
    if flag is None:
        flag = _deferred[error, message] = cupy().zeros((), np.bool_)
    return flag


def defer_check(flag, error: type, message: str) -> None:
    """Raise ``error(message)`` at the next synchronisation if the 0-d device bool ``flag``
    is True."""
    held = deferred_flag(error, message)
    cupy().logical_or(held, flag, out=held)


def flag_targets_outside(target, n_classes: int, ignore_index: int, flag) -> None:
    """Set ``flag`` if a class index in ``target`` lies outside [0, n_classes) and is not
    ``ignore_index``: one kernel, where the comparisons composed of CuPy calls take six."""
    _targets_outside()(target, target.dtype.type(n_classes), target.dtype.type(ignore_index),
                       flag)


@functools.cache
def _targets_outside():
    # every thread that finds a bad target writes the same value: no race to resolve
    return cupy().ElementwiseKernel(
        "T t, T n, T ignore", "raw bool flag",
        "if (t != ignore && (t < 0 || t >= n)) flag[0] = true;", "ember_targets_outside")


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
    return _device(array.device.id)


@functools.lru_cache(maxsize=None)
def _device(index: int) -> Device:
    return Device("cuda", index)


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




def leading_sum(a, axes: tuple, keepdims: bool):
    """``a.sum(axis=axes, keepdims=keepdims)`` for a CuPy array summed over its leading axes
    (a bias's gradient), as a product with a row of ones: cuBLAS reads the rows at memory
    speed, several times faster than CuPy's reduction over a leading axis, and accumulates
    bfloat16 in float32. None where this does not apply (a host array, other axes, dtypes or
    layouts): the caller sums as usual."""
    k = len(axes)
    if (not 0 < k < a.ndim or axes != tuple(range(k)) or a.dtype not in _gemm_types()
            or a.size == 0 or a.__class__.__module__.split(".", 1)[0] != "cupy"
            or not a.flags.c_contiguous
            or cupy().cuda.get_current_stream().is_capturing()):  # no cuBLAS in a CUDA graph
        return None
    rows = a.size // math.prod(a.shape[k:])
    out = gemm(_ones_row(rows, a.dtype, cupy().cuda.get_device_id()), a.reshape(rows, -1))
    return out.reshape(((1,) * k if keepdims else ()) + a.shape[k:])


@functools.lru_cache(maxsize=64)
def _ones_row(rows: int, dtype, device_id: int):
    """A (1, rows) row of ones on the current device, made once (read, never written)."""
    return cupy().ones((1, rows), dtype)


# cuBLAS enums (cublas_api.h / library_types.h)
_OP_N, _OP_T = 0, 1
_CUBLAS_GEMM_DEFAULT = -1


@functools.lru_cache(maxsize=None)
def _gemm_types():
    """Per dtype that cuBLAS multiplies: its CUDA data type, the compute type (float32
    accumulation for the half types, as PyTorch's), and host pointers to alpha = 1, beta = 0."""
    import ml_dtypes
    single = np.array([1.0, 0.0], np.float32)
    double = np.array([1.0, 0.0], np.float64)
    scalars = {68: (single.ctypes.data, single.ctypes.data + 4, single),  # (the arrays kept)
               70: (double.ctypes.data, double.ctypes.data + 8, double)}
    return {np.dtype(dtype): (cuda_type, compute, *scalars[compute])
            for dtype, cuda_type, compute in ((np.float16, 2, 68), (ml_dtypes.bfloat16, 14, 68),
                                              (np.float32, 0, 68), (np.float64, 1, 70))}


def _matrix_layout(x, rows: int, cols: int, s_row: int, s_col: int):
    """The cuBLAS (op, leading dimension) that reads a matrix with these strides (bytes) in
    place, or None: a row-major matrix is a transposed column-major one."""
    item = x.itemsize
    if s_col == item and s_row >= max(cols, 1) * item and s_row % item == 0:
        return _OP_N, s_row // item
    if s_row == item and s_col >= max(rows, 1) * item and s_col % item == 0:
        return _OP_T, s_col // item
    return None


def _gemm_operand(x, batch: tuple):
    """``x`` broadcast over ``batch`` as (count, rows, cols) with one batch stride, and the
    cuBLAS (op, leading dimension) that reads it."""
    cp = cupy()
    rows, cols = x.shape[-2:]
    # the count given, not -1: a reshape of an empty array cannot infer it
    flat = cp.broadcast_to(x, batch + (rows, cols)).reshape(math.prod(batch), rows, cols)
    layout = _matrix_layout(flat, rows, cols, *flat.strides[1:])
    if layout is None:
        flat = cp.ascontiguousarray(flat)
        layout = _OP_N, max(cols, 1)
    return (flat, *layout)


def addmm(bias, a, b):
    """``bias + a @ b`` for 2-d CuPy arrays of one half type: ``bias`` broadcast into the
    result, then one cuBLAS product added onto it (beta = 1) in float32 and rounded once, as
    PyTorch's GEMM with its bias epilogue; None for other operands."""
    if (a.dtype.itemsize != 2 or a.dtype not in _gemm_types() or b.dtype != a.dtype
            or bias.dtype != a.dtype or a.ndim != 2 or b.ndim != 2):
        return None
    out = cupy().empty((a.shape[0], b.shape[1]), a.dtype)
    out[...] = bias
    return gemm(a, b, out=out, accumulate=True)


def gemm(a, b, out=None, accumulate: bool = False):
    """``a @ b`` (written into ``out`` if given; with ``accumulate``, added to the C-contiguous
    ``out`` of the product's shape and dtype) for CuPy arrays of one dtype that cuBLAS
    multiplies (float16, bfloat16 and float32 accumulating in float32, float64), with any
    batch dimensions, by one cublasGemmStridedBatchedEx call on the current stream; None for
    other dtypes (the caller uses CuPy). Called directly, cuBLAS costs the host a few
    microseconds where CuPy's matmul costs tens, and CuPy 14 has no batched bfloat16 product.
    Half types run in float32 on GPUs without their GEMMs."""
    types = _gemm_types().get(a.dtype)
    if types is None or b.dtype != a.dtype:
        return None
    cp = cupy()
    if a.ndim == 1 or b.ndim == 1:  # a vector is a one-row (a) or one-column (b) matrix
        result = gemm(a[None, :] if a.ndim == 1 else a, b[:, None] if b.ndim == 1 else b)
        if b.ndim == 1:
            result = result[..., 0]
        if a.ndim == 1:
            result = result[..., 0, :] if b.ndim > 1 else result[..., 0]
        return result if out is None else _into(out, result)
    m, k = a.shape[-2:]
    n = b.shape[-1]
    if b.shape[-2] != k:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied")
    layout_a = layout_b = None
    if a.ndim == 2 and b.ndim == 2:  # the common case, without the batch views
        batch, count = (), 1
        layout_a = _matrix_layout(a, m, k, *a.strides)
        layout_b = _matrix_layout(b, k, n, *b.strides)
        fa, fb = a, b
    if layout_a is None or layout_b is None:
        batch = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
        fa, *layout_a = _gemm_operand(a, batch)
        fb, *layout_b = _gemm_operand(b, batch)
        count = fa.shape[0]
    shape = batch + (m, n)
    given = out
    if (out is None or out.shape != shape or out.dtype != a.dtype or not out.flags.c_contiguous
            or cp.may_share_memory(out, a) or cp.may_share_memory(out, b)):
        if accumulate:
            raise ValueError("gemm: accumulate needs a C-contiguous out of the product's "
                             "shape and dtype, apart from the operands")
        out = cp.empty(shape, a.dtype)
    if k == 0:
        if not accumulate:
            out.fill(0)
    elif count and m and n:
        cuda_type, compute, alpha, beta, _ = types
        if accumulate:
            beta = alpha  # the pointer to 1
        item = a.itemsize
        stride_a = fa.strides[0] // item if fa.ndim == 3 else 0
        stride_b = fb.strides[0] // item if fb.ndim == 3 else 0
        cublas = _cublas()
        try:
            # Row-major C = A B is column-major C^T = B^T A^T: B goes first.
            cublas.gemmStridedBatchedEx(
                cp.cuda.device.get_cublas_handle(), layout_b[0], layout_a[0], n, m, k, alpha,
                fb.data.ptr, cuda_type, layout_b[1], stride_b,
                fa.data.ptr, cuda_type, layout_a[1], stride_a,
                beta, out.data.ptr, cuda_type, n, m * n, count, compute, _CUBLAS_GEMM_DEFAULT)
        except cublas.CUBLASError:
            if a.dtype.itemsize != 2:
                raise
            wide = gemm(a.astype(np.float32), b.astype(np.float32))
            out[...] = wide + out.astype(np.float32) if accumulate else wide
    return out if given is None or given is out else _into(given, out)


@functools.cache
def _cublas():
    from cupy_backends.cuda.libs import cublas  # with CuPy, on first use
    return cublas


def _into(out, result):
    out[...] = result
    return out
