"""PyTorch's float8 dtypes on top of ml_dtypes: casts with PyTorch's rounding and saturation,
its ``finfo`` values and its refusal to promote float8 with any other dtype.

PyTorch converts every source to float32 first and rounds to nearest-even from there, as
ml_dtypes does; they differ only at the edges, which ``_round_exact`` fixes (``to_float8``
applies it through a lookup table):

* ``float8_e4m3fn``: a finite overflow or an infinity saturates to +-448 (ml_dtypes gives NaN);
* ``float8_e5m2``: NaN is written 0x7F (with the sign), ml_dtypes writes 0x7E;
* ``float8_e8m0fnu`` (unsigned): the sign is dropped and zero becomes 2**-127, the smallest
  value (ml_dtypes gives NaN for both);
* from a ``fnuz`` format, whose NaN PyTorch widens to a positive NaN (ml_dtypes: negative).
"""
from __future__ import annotations

import numpy as np

from ember import dtypes as _dt


def cpp_name(d: _dt.dtype) -> str:
    """PyTorch's C++ spelling of ``d`` (``Float8_e4m3fn``, ``Float``, ``Long``, ...), which its
    promotion errors quote (from the one table of tensor type names, through ``scalar_name``)."""
    from ember.ops._util import scalar_name  # late: dtypes, which the ops need, imports us
    return scalar_name(d)


def refuse_promotion(a: _dt.dtype, b: _dt.dtype) -> None:
    """PyTorch promotes float8 with nothing, not even another float8 format."""
    raise RuntimeError("Promotion for Float8 Types is not supported, attempted to promote "
                       f"{cpp_name(a)} and {cpp_name(b)}")


def to_float8(array, d: _dt.dtype):
    """NumPy ``array`` (any real dtype) cast to float8 dtype ``d`` as PyTorch casts it.

    The float8 value of a float32 depends only on its top 16 bits and on whether any lower bit
    is set (the rounding position lies within the top 16 bits for every float8 format), so the
    cast is one lookup in a 2**17-entry table per format, built once with ``_round_exact``
    (checked against PyTorch for all 2**32 float32 values)."""
    x = array if array.dtype == np.float32 else array.astype(np.float32)  # as PyTorch rounds
    if array.dtype in _FNUZ_NP:  # their one NaN widens to a positive NaN in PyTorch
        x[x != x] = np.nan
    bits = x.view(np.uint32)
    key = (bits >> 15) & np.uint32(0x1FFFE)
    key |= (bits & np.uint32(0xFFFF)) != 0
    table = _TABLES.get(d)
    if table is None:
        top = np.arange(1 << 16, dtype=np.uint32) << 16
        table = _TABLES[d] = _round_exact(np.stack([top, top | 1], 1).ravel().view(np.float32),
                                          d).view(np.uint8)
    return np.take(table, key.ravel()).reshape(key.shape).view(d.np_dtype)  # take: 2x []


_TABLES: dict = {}


def _round_exact(x, d: _dt.dtype):
    """float32 array ``x`` rounded to float8 ``d`` as PyTorch does: ml_dtypes' rounding with
    PyTorch's edges (module docstring)."""
    if d is _dt.float8_e8m0fnu:
        x = np.abs(x)
        out = x.astype(d.np_dtype)
        out.view(np.uint8)[x == 0] = 0
        return out
    out = x.astype(d.np_dtype)
    if d is _dt.float8_e4m3fn:
        overflow = (np.abs(x) > 448) & (x == x)
        out[overflow] = (np.sign(x[overflow]) * 448).astype(d.np_dtype)
    elif d is _dt.float8_e5m2:
        nan = x != x
        out.view(np.uint8)[nan] = (np.signbit(x[nan]).astype(np.uint8) << 7) | 0x7F
    return out


_FNUZ_NP = (_dt.float8_e4m3fnuz.np_dtype, _dt.float8_e5m2fnuz.np_dtype)


class finfo:
    """``torch.finfo`` of a float8 dtype, with PyTorch's values (its ``resolution`` is 1 and
    its ``float8_e5m2fnuz`` eps 2**-3, where ml_dtypes says otherwise)."""

    __slots__ = ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype")

    def __init__(self, d: _dt.dtype):
        import ml_dtypes
        info = ml_dtypes.finfo(d.np_dtype)
        self.bits = 8
        self.eps = 0.125 if d is _dt.float8_e5m2fnuz else float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = 1.0
        self.dtype = d.name

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, "
                f"tiny={self.tiny:g}, dtype={self.dtype})")


def _scaling_error(a, b, scale_a, scale_b) -> ValueError:
    def dims(t) -> str:
        return "[" + ", ".join(str(n) for n in t.shape) + "]"

    def strides(t) -> str:
        return "[" + ", ".join(str(n) for n in t.stride()) + "]"

    m, n = a.shape[0], b.shape[1]
    return ValueError(
        "Invalid scaling configuration.\n- For TensorWise scaling, a and b should be float8, "
        "scales should be float and singletons.\n- For RowWise scaling, a and b should be "
        f"float8, scales should be float, scale_a should be ({m}, 1) and scale_b should be "
        f"(1, {n}), and both should be contiguous.\nGot mat_a.dtype()={cpp_name(a.dtype)}, "
        f"scale_a.dtype()={cpp_name(scale_a.dtype)}, scale_a.size()={dims(scale_a)}, "
        f"scale_a.stride()={strides(scale_a)}, mat_b.dtype()={cpp_name(b.dtype)}, "
        f"scale_b.dtype()={cpp_name(scale_b.dtype)}, scale_b.size()={dims(scale_b)} and "
        f"scale_b.stride()={strides(scale_b)}")


def _scaled_mm(input, mat2, scale_a, scale_b, bias=None, scale_result=None,
               out_dtype: _dt.dtype | None = None, use_fast_accum: bool = False):
    """``torch._scaled_mm``: the float8 matrix product ``(input @ mat2) * scale_a * scale_b``
    (divided by ``scale_result``, plus ``bias``), accumulated in float32 and rounded once to
    ``out_dtype`` (``input.dtype`` unless given).

    Scales are tensor-wise (one element each) or row-wise (``scale_a`` of shape ``(m, 1)``,
    ``scale_b`` of shape ``(1, n)``). Like PyTorch's CPU kernel, the final rounding to a float8
    ``out_dtype`` turns overflow into NaN rather than saturating.
    """
    from ember._tensor import _make
    for name, t in (("mat1", input), ("mat2", mat2)):
        if t.ndim != 2:
            raise RuntimeError(f"{name} must be a matrix")
    (m, k), (k2, n) = input.shape, mat2.shape
    if k != k2:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({m}x{k} and {k2}x{n})")
    tensorwise = scale_a.numel() == 1 and scale_b.numel() == 1
    rowwise = tuple(scale_a.shape) == (m, 1) and tuple(scale_b.shape) == (1, n)
    if (input.dtype not in _SCALED_MM_TYPES or mat2.dtype not in _SCALED_MM_TYPES
            or not (tensorwise or rowwise)):
        raise _scaling_error(input, mat2, scale_a, scale_b)
    acc = input._data.astype(np.float32) @ mat2._data.astype(np.float32)
    acc = acc * scale_a._data.astype(np.float32) * scale_b._data.astype(np.float32)
    if scale_result is not None:
        acc = acc / scale_result._data.astype(np.float32)
    if bias is not None:
        acc = acc + bias._data.astype(np.float32)
    out_dtype = input.dtype if out_dtype is None else out_dtype
    return _make(acc.astype(out_dtype.np_dtype))


_SCALED_MM_TYPES = (_dt.float8_e4m3fn, _dt.float8_e5m2)
