"""SciPy-level functions of the array module (special functions, linalg beyond the array
module's own): SciPy's or cupyx's, loaded on use; and the few array functions whose CuPy
version lacks a case ember needs."""
from __future__ import annotations

import functools

import ml_dtypes
import numpy as np

from ember.backend import cuda
from ember.backend.device import get_array_module, zeros_as

_BFLOAT16 = np.dtype(ml_dtypes.bfloat16)
_FLOAT16 = np.dtype(np.float16)


def special(xp):
    if xp is np:
        import scipy.special
        return scipy.special
    import cupyx.scipy.special
    return cupyx.scipy.special


def fft(xp):
    """SciPy's fft for NumPy arrays (pocketfft's C++ version: 2-3x faster than NumPy's on
    transforms of a few hundred points), CuPy's (cuFFT) for CuPy arrays."""
    if xp is np:
        import scipy.fft
        return scipy.fft
    return xp.fft


def linalg(xp):
    """SciPy's linalg for NumPy arrays, cupyx's for CuPy arrays (LU, triangular solves)."""
    if xp is np:
        import scipy.linalg
        return scipy.linalg
    import cupyx.scipy.linalg
    return cupyx.scipy.linalg


def scatter_add(xp, target, index, values) -> None:
    """target[index] += values, accumulating repeated indices (np.add.at / cupyx.scatter_add)."""
    ufunc_at(xp, "add", target, index, values)


# Below this many values np.add.at's fixed cost beats building a sparse matrix (~30 us).
_SPARSE_SUM_MIN = 1 << 12


def index_sum(xp, index, values, rows: int, weights=None):
    """A fresh (rows, d) array whose row i sums ``values[j] * weights[j]`` over j with
    ``index[j] == i``; ``index`` (n,) in [0, rows), ``values`` (n, d). On the host, large
    float sums are one CSR product over the sorted index (~10x np.add.at's per-element loop)."""
    if (values.__class__ is np.ndarray and values.size >= _SPARSE_SUM_MIN and values.ndim == 2
            and values.dtype.kind in "fc" and values.dtype.itemsize >= 4):
        import scipy.sparse
        order = np.argsort(index, kind="stable")  # equal indices summed in their order
        indptr = np.zeros(rows + 1, np.int64)
        np.cumsum(np.bincount(index, minlength=rows), out=indptr[1:])
        data = (np.ones(index.size, values.dtype) if weights is None
                else weights[order].astype(values.dtype))
        select = scipy.sparse.csr_matrix((data, order, indptr), shape=(rows, index.size))
        return np.asarray(select @ values)
    if weights is not None:
        values = values * weights.astype(values.dtype, copy=False)[:, None]
    out = zeros_as(xp, values, (rows,) + values.shape[1:], values.dtype)
    scatter_add(xp, out, index, values)
    return out


# What CuPy 14's ``ufunc.at`` takes: add on these dtypes, maximum/minimum on those less float16,
# and no multiply at all.
_CUPY_AT_DTYPES = frozenset("int32 int64 float16 float32 float64 uint32 uint64".split())


def ufunc_at(xp, name: str, target, index, values) -> None:
    """``ufunc.at(target, index, values)`` for ufunc ``name`` (add, multiply, maximum, minimum):
    repeated indices combine. Where CuPy lacks the dtype, it runs in float32 (exact for the
    half types' maximum/minimum, float32-accumulated for their sums); where it lacks the ufunc
    (multiply), on the host."""
    if xp is np:
        getattr(np, name).at(target, index, values)
        return
    supported = _CUPY_AT_DTYPES - ({"float16"} if name != "add" else set())
    if name == "multiply":
        host = xp.asnumpy(target)
        index = tuple(map(xp.asnumpy, index)) if isinstance(index, tuple) else xp.asnumpy(index)
        np.multiply.at(host, index, xp.asnumpy(values))
        target[...] = xp.asarray(host)
    elif target.dtype.name not in supported:
        wide = target.astype(np.float32)
        ufunc_at(xp, name, wide, index, xp.asarray(values).astype(np.float32))
        target[...] = wide.astype(target.dtype)
    elif name == "add":
        import cupyx
        cupyx.scatter_add(target, index, values)
    elif target.dtype.kind == "f":
        _float_extreme_at(xp, name, target, index, values)
    else:
        getattr(xp, name).at(target, index, values)


def _float_extreme_at(xp, name: str, target, index, values) -> None:
    """maximum/minimum ``.at`` for CuPy float32/float64, exactly: CuPy's own changes the
    values' low bits (seen on CUDA 13), so they run on integer keys with the floats' order
    (the sign bit kept, the other bits flipped for negatives: an involution), and a NaN from
    either side wins, as in NumPy."""
    ints = np.dtype(f"int{8 * target.itemsize}")
    rest = ints.type(np.iinfo(ints).max)  # every bit but the sign
    shift = ints.type(8 * target.itemsize - 1)

    def keys(a):
        bits = a.view(ints)
        return bits ^ ((bits >> shift) & rest)
    values = xp.asarray(values, target.dtype)
    nan = xp.isnan(target).astype(np.int32)
    xp.maximum.at(nan, index, xp.isnan(values).astype(np.int32))
    ordered = keys(target)
    getattr(xp, name).at(ordered, index, keys(values))
    target[...] = keys(ordered).view(target.dtype)
    target[nan > 0] = np.nan


def where(xp, condition, a, b):
    """``xp.where(condition, a, b)``. CuPy 14 runs bfloat16 operands through its float32
    kernel and returns float32; that result goes back to bfloat16 (exactly: it holds
    bfloat16 values)."""
    out = xp.where(condition, a, b)
    if out.dtype.name == "float32" and xp is not np and (
            getattr(a, "dtype", None) == _BFLOAT16 or getattr(b, "dtype", None) == _BFLOAT16):
        return out.astype(_BFLOAT16)
    return out


# The signed integer type of each float width: a float's bits, for exact selections.
_SAME_WIDTH_INT = {1: np.int8, 2: np.int16, 4: np.int32, 8: np.int64}


def grad_where(grad, keep=None, *, drop=None):
    """``where(keep, grad, 0)``, or ``where(drop, 0, grad)``: a gradient selected as PyTorch's
    backward kernels of piecewise functions select it, exactly in every float dtype (a product
    with a 0/1 mask gives NaN where an inf or NaN gradient is dropped). Pass the condition whose
    NaN case is PyTorch's: ``drop=x <= t`` passes a NaN ``x``'s gradient, ``keep=x > t`` drops
    it; both cost the same. ``keep``/``drop`` broadcast to ``grad``'s shape."""
    if grad.__class__ is np.ndarray:
        return _and_bits(grad, keep, drop)
    return _select_bits(get_array_module(grad), drop, grad, keep)


def _and_bits(grad, keep, drop):
    """NumPy: ``grad``'s bits ANDed with an all-ones (kept) or zero (dropped) mask, 1.1-1.4x
    the time of the inexact ``grad * keep`` (NumPy's ``where`` takes 6x)."""
    bits = _SAME_WIDTH_INT[grad.dtype.itemsize]
    out = np.empty(grad.shape, bits)  # an array even for 0-d operands
    if keep is None:  # True - 1 = 0 where dropped, False - 1 = all ones where kept
        mask = np.subtract(np.asarray(drop).view(np.uint8), 1, dtype=bits, out=out)
    else:  # -True = all ones where kept
        mask = np.negative(np.asarray(keep).view(np.uint8), dtype=bits, out=out)
    return np.bitwise_and(grad.view(bits), mask, out=mask).view(grad.dtype)


def _select_bits(xp, drop, grad, keep=None):
    """``where`` on the bits, exact in every float dtype (CuPy 14's bfloat16 ``where`` returns
    float32)."""
    bits = _SAME_WIDTH_INT[grad.dtype.itemsize]
    if keep is None:
        return xp.where(drop, bits(0), grad.view(bits)).view(grad.dtype)
    return xp.where(keep, grad.view(bits), bits(0)).view(grad.dtype)


def grad_where_positive(grad, x):
    """``grad_where(grad, drop=x <= 0)`` (ReLU's backward): on CuPy one kernel over the bits,
    where the comparison and the selection would be two passes over memory."""
    if grad.__class__ is np.ndarray:
        return _and_bits(grad, None, x <= 0)
    bits_x, bits_g = _SAME_WIDTH_INT[x.dtype.itemsize], _SAME_WIDTH_INT[grad.dtype.itemsize]
    width = 8 * x.dtype.itemsize
    magnitude = bits_x((1 << (width - 1)) - 1)  # all but the sign bit
    infinity = bits_x(np.array(np.inf, x.dtype).view(bits_x))
    return _positive_select()(x.view(bits_x), grad.view(bits_g), magnitude,
                              infinity).view(grad.dtype)


@functools.cache
def _positive_select():
    # x <= 0 on x's bits: a zero of either sign, or a negative sign on a non-NaN
    return cuda.cupy().ElementwiseKernel(
        "X x, G g, X magnitude, X infinity", "G y",
        "X m = x & magnitude;"
        "y = (m == 0 || (x < 0 && m <= infinity)) ? (G)0 : g;",
        "ember_grad_where_positive")


def round_half_even(xp, a, decimals: int):
    """``xp.round``; on CuPy, bfloat16 (no kernel: float32's would return float32) rounds in
    float32 and goes back, as PyTorch's CUDA kernel computes it. With ``decimals`` the half
    types scale in float32 and round once, as PyTorch's kernels do (scaling in float16 first
    would round twice)."""
    if (xp is not np and a.dtype == _BFLOAT16) or (decimals and a.dtype.itemsize == 2):
        return xp.round(a.astype(np.float32), decimals).astype(a.dtype)
    return xp.round(a, decimals)


def sort_keys(a):
    """``a``, or for bfloat16 (which CuPy cannot sort, and NumPy sorts without NaN's place) the
    same values in float32: the widening is exact, so the order is the same."""
    return a.astype(np.float32) if a.dtype.name == "bfloat16" else a


def cumulative(xp, name: str, a, axis: int, dtype=None):
    """``xp.cumsum``/``xp.cumprod``; bfloat16 on CuPy (no kernel) runs in float32."""
    if xp is not np and dtype is None and a.dtype.name == "bfloat16":
        return getattr(xp, name)(a.astype(np.float32), axis=axis).astype(a.dtype)
    return getattr(xp, name)(a, axis=axis, dtype=dtype)


def exp(a):
    """``e ** a``. On the CPU, float32 goes through float64 and is rounded once: NumPy's float32
    exp (a SIMD approximation) is an ulp off the correctly rounded value for about 40% of
    inputs, PyTorch's for about 1%, and sinusoidal timestep embeddings scale exp's result by up
    to a million before taking sines, which turns an ulp into a different angle."""
    if a.__class__ is np.ndarray and a.dtype == np.float32:
        return np.exp(a, dtype=np.float64).astype(np.float32)
    return get_array_module(a).exp(a)


def matmul(a, b, out=None):
    """``a @ b`` (into ``out`` if given). On a GPU, the floating dtypes go to cuBLAS directly
    (``cuda.gemm``: less host time than CuPy's matmul, and CuPy 14 has no batched bfloat16
    product)."""
    if a.__class__ is np.ndarray:  # the CPU: NumPy has every case
        da, db = a.dtype, b.dtype
        if da is _FLOAT16 or da is _BFLOAT16 or db is _FLOAT16 or db is _BFLOAT16:
            return _host_half_matmul(a, b, out)
        return np.matmul(a, b, out=out)
    xp = get_array_module(a)
    if xp is not np:
        result = cuda.gemm(a, b, out)
        if result is not None:
            return result
    return xp.matmul(a, b, out=out)


def _host_half_matmul(a, b, out):
    """NumPy's product with a half-precision operand: float16's runs in a loop without BLAS
    (tens of times slower), and so does bfloat16's (ml_dtypes) when an operand is strided, as a
    transposed weight is. Their products are exact in float32, so float32 BLAS gives what a
    float32-accumulating kernel (PyTorch's) gives, and the widening copies are cheap. The
    result has NumPy's dtype: float16 for two float16 operands, else float32."""
    if a.dtype is _BFLOAT16 and b.dtype is _BFLOAT16 and a.flags.c_contiguous and \
            b.flags.c_contiguous:
        return np.matmul(a, b, out=out)  # ml_dtypes' contiguous loop beats the casts
    result = np.matmul(a.astype(np.float32, copy=False), b.astype(np.float32, copy=False),
                       out=out)
    if out is None and a.dtype is _FLOAT16 and b.dtype is _FLOAT16:
        return result.astype(np.float16)
    return result
