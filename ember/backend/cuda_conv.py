"""Convolution and max-pooling kernels on CUDA (CuPy ``RawKernel``s): im2col, col2im and max
pooling's forward and backward, each one launch.

Composed of CuPy calls, col2im is one strided add per kernel offset (25 launches for a 5x5
kernel), im2col a padding copy before the column copy, and max pooling a few launches per
window offset each way. Here a thread owns one output element: im2col's thread one column entry,
col2im's one input-gradient element, which gathers the column entries that read it (no atomics,
so the sums are deterministic), max pooling's forward one window, and its backward one input
element, which gathers the gradients of the windows whose maximum it was.

Every kernel sees up to three spatial dimensions; fewer are leading dimensions of size 1. Sums
run in the order of ``ember.backend.kernels``' composed path and round to the storage dtype
after each addition, as its half-precision adds do, so both agree bit for bit. Half types travel
as 16-bit integers converted in registers (see ``cuda_rows``), which needs no CUDA header.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from ember.backend import cuda, cuda_rows

_THREADS = 256
_MAX_BLOCKS = 1 << 16  # beyond this a thread takes several elements (grid-stride loops)

_HALF_LOADS = cuda_rows.HALF_CONVERSIONS  # (load, store) bodies of the half types
# Per storage dtype: the C type the kernels see and the lowest value max pooling starts from
# (half types compute in float, the others in their own type).
_TYPES = {
    "float16": ("unsigned short", "__int_as_float(0xff800000)"),
    "bfloat16": ("unsigned short", "__int_as_float(0xff800000)"),
    "float32": ("float", "__int_as_float(0xff800000)"),
    "float64": ("double", "__longlong_as_double(0xfff0000000000000LL)"),
    "int8": ("signed char", "-128"),
    "int16": ("short", "-32768"),
    "int32": ("int", "(-2147483647 - 1)"),
    "int64": ("long long", "(-9223372036854775807LL - 1)"),
    "uint8": ("unsigned char", "0"),
    "uint16": ("unsigned short", "0"),
    "uint32": ("unsigned int", "0u"),
    "uint64": ("unsigned long long", "0ull"),
}

_PRELUDE = """
__device__ __forceinline__ acc_t lowest() {{ return {lowest}; }}
// a sum rounded to the storage dtype, as a composed addition in that dtype would be
__device__ __forceinline__ acc_t round_(acc_t v) {{ return load(store(v)); }}
"""

# Geometry arguments shared by the kernels, per spatial dimension a (0..2): size[a] (of the
# unpadded input), outs[a] (window positions), ker[a], stride[a], dil[a], lo[a] (low padding).
_GEOMETRY_PARAMS = """int s0, int s1, int s2, int n0, int n1, int n2, int k0, int k1, int k2,
        int t0, int t1, int t2, int d0, int d1, int d2, int l0, int l1, int l2"""
_GEOMETRY = """
    const int size[3] = {s0, s1, s2}, outs[3] = {n0, n1, n2}, ker[3] = {k0, k1, k2};
    const int stride[3] = {t0, t1, t2}, dil[3] = {d0, d1, d2}, lo[3] = {l0, l1, l2};"""
# 32-bit indices, whose divisions cost a fraction of 64-bit ones (callers keep total < 2**31;
# offsets into the arrays are 64-bit)
_GRID_LOOP = ("for (unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
              "         i < (unsigned int)total; i += gridDim.x * blockDim.x)")

_KERNELS = r"""
// The columns of x (N, C, *size), zero outside it: (N, C, *ker, *outs) in memory, or
// (C / cg, N, *outs, *ker, cg) if channels_last (see NOTE [ Convolution column layouts ]).
extern "C" __global__ void ember_im2col(
        int total, const in_t* x, in_t* cols, int batch, int channels, int cg,
        int channels_last, GEOMETRY_PARAMS,
        long long xn, long long xc, long long x0, long long x1, long long x2) {
    GEOMETRY
    const long long xs[3] = {x0, x1, x2};
    GRID_LOOP {
        unsigned int r = i;
        int o[3], k[3], c, n;
        if (channels_last) {
            const int cc = (int)(r % cg);
            r /= cg;
            for (int a = 2; a >= 0; --a) { k[a] = (int)(r % ker[a]); r /= ker[a]; }
            for (int a = 2; a >= 0; --a) { o[a] = (int)(r % outs[a]); r /= outs[a]; }
            n = (int)(r % batch);
            c = (int)(r / batch) * cg + cc;
        } else {
            for (int a = 2; a >= 0; --a) { o[a] = (int)(r % outs[a]); r /= outs[a]; }
            for (int a = 2; a >= 0; --a) { k[a] = (int)(r % ker[a]); r /= ker[a]; }
            c = (int)(r % channels);
            n = (int)(r / channels);
        }
        long long src = n * xn + c * xc;
        bool inside = true;
        for (int a = 0; a < 3; ++a) {
            const int p = o[a] * stride[a] + k[a] * dil[a] - lo[a];
            inside = inside && p >= 0 && p < size[a];
            src += p * xs[a];
        }
        cols[i] = inside ? x[src] : (in_t)0;
    }
}

// The adjoint of im2col, cropped to (N, C, *size): each element sums the column entries
// (N, C / cg, cg, *outs, *ker; strides cn, cgs, ccs, co*, ck*) that read it, kernel offsets in
// row-major order, offset `first` (if not -1) moved first; `assign` starts from the first
// entry rather than adding it to zero (composed col2im's assignment of a covering slice).
// Neighbouring threads take neighbouring channels if channels_inner (whose column entries are
// then neighbours), else neighbouring positions.
extern "C" __global__ void ember_col2im(
        int total, const in_t* cols, in_t* out, int channels, int cg, int channels_inner,
        GEOMETRY_PARAMS, long long cn, long long cgs, long long ccs, long long co0,
        long long co1, long long co2, long long ck0, long long ck1, long long ck2,
        long long yn, long long yc, long long y0, long long y1, long long y2, int first,
        int assign) {
    GEOMETRY
    const long long co[3] = {co0, co1, co2}, ck[3] = {ck0, ck1, ck2};
    const int count = k0 * k1 * k2;
    GRID_LOOP {
        unsigned int r = i;
        int x[3], c = 0;
        if (channels_inner) {
            c = (int)(r % channels);
            r /= channels;
        }
        for (int a = 2; a >= 0; --a) { x[a] = (int)(r % size[a]); r /= size[a]; }
        if (!channels_inner) {
            c = (int)(r % channels);
            r /= channels;
        }
        const int n = (int)r;
        const long long base = n * cn + (c / cg) * cgs + (c % cg) * ccs;
        acc_t acc = 0;
        bool have = false;
        for (int u = first >= 0 ? -1 : 0; u < count; ++u) {
            const int t = u < 0 ? first : u;
            if (u >= 0 && t == first) continue;
            long long src = base;
            bool hit = true;
            int rest = t;
            for (int a = 2; a >= 0; --a) {
                const int j = rest % ker[a];
                rest /= ker[a];
                const int q = x[a] + lo[a] - j * dil[a];
                if (q < 0 || q % stride[a] != 0 || q / stride[a] >= outs[a]) {
                    hit = false;
                    break;
                }
                src += (q / stride[a]) * co[a] + j * ck[a];
            }
            if (!hit) continue;
            const acc_t v = load(cols[src]);
            acc = (assign && !have) ? v : round_(acc + v);
            have = true;
        }
        out[n * yn + c * yc + x[0] * y0 + x[1] * y1 + x[2] * y2] = store(acc);
    }
}

// Max pooling of x (N, C, *size) into contiguous (N, C, *outs): each window's max and the flat
// index in *size of its first occurrence in row-major order (of its last NaN), padding never
// chosen; a window of lowest values gives its first element, as in PyTorch.
extern "C" __global__ void ember_max_pool_forward(
        int total, const in_t* x, in_t* values, long long* index, int channels,
        GEOMETRY_PARAMS, long long xn, long long xc, long long x0, long long x1,
        long long x2) {
    const int size[3] = {s0, s1, s2}, outs[3] = {n0, n1, n2}, stride[3] = {t0, t1, t2};
    const int dil[3] = {d0, d1, d2}, lo[3] = {l0, l1, l2};
    GRID_LOOP {
        unsigned int r = i;
        int start[3], p[3];
        for (int a = 2; a >= 0; --a) {
            start[a] = (int)(r % outs[a]) * stride[a] - lo[a];
            r /= outs[a];
            p[a] = start[a];
            while (p[a] < 0) p[a] += dil[a];
            if (p[a] >= size[a]) p[a] = size[a] - 1;  // a window outside the input
        }
        const int c = (int)(r % channels);
        const int n = (int)(r / channels);
        const in_t* plane = x + n * xn + c * xc;
        long long best_index = ((long long)p[0] * s1 + p[1]) * s2 + p[2];
        acc_t best = lowest();
        in_t best_raw = store(best);
        for (int j0 = 0; j0 < k0; ++j0) {
            const int p0 = start[0] + j0 * d0;
            if (p0 < 0 || p0 >= s0) continue;
            for (int j1 = 0; j1 < k1; ++j1) {
                const int p1 = start[1] + j1 * d1;
                if (p1 < 0 || p1 >= s1) continue;
                for (int j2 = 0; j2 < k2; ++j2) {
                    const int p2 = start[2] + j2 * d2;
                    if (p2 < 0 || p2 >= s2) continue;
                    const in_t raw = plane[p0 * x0 + p1 * x1 + p2 * x2];
                    const acc_t v = load(raw);
                    if (v > best || v != v) {  // ties keep the first; a later NaN wins
                        best = v;
                        best_raw = raw;
                        best_index = ((long long)p0 * s1 + p1) * s2 + p2;
                    }
                }
            }
        }
        values[i] = best_raw;
        index[i] = best_index;
    }
}

// Its adjoint, into contiguous (N, C, *size): each element gathers the gradients (strides gn,
// gc, g*) of the windows whose index names it, summed as the composed scatter does: one pass
// per dimension, the first innermost, offsets in increasing order.
extern "C" __global__ void ember_max_pool_backward(
        int total, const in_t* grad, const long long* index, in_t* out, int channels,
        GEOMETRY_PARAMS, long long gn, long long gc, long long g0, long long g1,
        long long g2) {
    const int size[3] = {s0, s1, s2};
    GRID_LOOP {
        unsigned int r = i;
        int x[3];
        for (int a = 2; a >= 0; --a) { x[a] = (int)(r % size[a]); r /= size[a]; }
        const int c = (int)(r % channels);
        const int n = (int)(r / channels);
        const long long flat = ((long long)x[0] * s1 + x[1]) * s2 + x[2];
        const long long* idx = index + ((long long)n * channels + c) * n0 * n1 * n2;
        const in_t* g = grad + n * gn + c * gc;
        acc_t sum2 = 0;
        for (int j2 = 0; j2 < k2; ++j2) {
            const int q2 = x[2] + l2 - j2 * d2;
            if (q2 < 0 || q2 % t2 != 0 || q2 / t2 >= n2) continue;
            const int o2 = q2 / t2;
            acc_t sum1 = 0;
            for (int j1 = 0; j1 < k1; ++j1) {
                const int q1 = x[1] + l1 - j1 * d1;
                if (q1 < 0 || q1 % t1 != 0 || q1 / t1 >= n1) continue;
                const int o1 = q1 / t1;
                acc_t sum0 = 0;
                for (int j0 = 0; j0 < k0; ++j0) {
                    const int q0 = x[0] + l0 - j0 * d0;
                    if (q0 < 0 || q0 % t0 != 0 || q0 / t0 >= n0) continue;
                    const int o0 = q0 / t0;
                    if (idx[((long long)o0 * n1 + o1) * n2 + o2] == flat)
                        sum0 = round_(sum0 + load(g[o0 * g0 + o1 * g1 + o2 * g2]));
                }
                sum1 = round_(sum1 + sum0);
            }
            sum2 = round_(sum2 + sum1);
        }
        out[i] = store(sum2);
    }
}
"""


def source(dtype_name: str) -> str:
    """The CUDA C of the kernels for storage dtype ``dtype_name``."""
    storage, lowest = _TYPES[dtype_name]
    if dtype_name in _HALF_LOADS:
        compute, (load, store) = "float", _HALF_LOADS[dtype_name]
    else:
        compute, load, store = storage, "return x;", "return v;"
    prelude = cuda_rows.type_prelude(storage, compute, load, store) + _PRELUDE.format(
        lowest=lowest)
    return prelude + (_KERNELS.replace("GEOMETRY_PARAMS", _GEOMETRY_PARAMS)
                      .replace("GEOMETRY", _GEOMETRY).replace("GRID_LOOP", _GRID_LOOP))


@functools.lru_cache(maxsize=None)
def _kernels(dtype):
    module = cuda.cupy().RawModule(code=source(dtype.name))
    return {name: module.get_function(f"ember_{name}") for name in
            ("im2col", "col2im", "max_pool_forward", "max_pool_backward")}


@functools.lru_cache(maxsize=None)
def supports(dtype) -> bool:
    """Whether these kernels take ``dtype`` (real floating and integer types; integers add with
    wraparound, as CuPy's do)."""
    return dtype.name in _TYPES


# The kernels' scalar arguments, as the NumPy scalars that CuPy passes as C int / long long.
# A layer asks for the same ones at every step: caching them saves most of a launch's Python
# time.

@functools.lru_cache(maxsize=4096)
def _int32(values: tuple) -> tuple:
    return tuple(np.int32(v) for v in values)


@functools.lru_cache(maxsize=4096)
def _int64(values: tuple) -> tuple:
    return tuple(np.int64(v) for v in values)


def _three(values, fill: int) -> tuple:
    """Per-dimension ``values`` as three, leading dimensions of ``fill`` added."""
    return (fill,) * (3 - len(values)) + tuple(values)


def _strides(a, lead: int) -> tuple:
    """``a``'s strides in elements as kernel arguments: its ``lead`` leading ones, then three
    spatial ones (0 for the dimensions :func:`_three` adds)."""
    e = tuple(s // a.itemsize for s in a.strides)
    return _int64(e[:lead] + _three(e[lead:], 0))


def _geometry(sizes, outs, kernel, stride, dilation, pads) -> tuple:
    """The kernels' geometry arguments (see ``_GEOMETRY_PARAMS``)."""
    lows = tuple(lo for lo, _ in pads)
    return _int32(_three(sizes, 1) + _three(outs, 1) + _three(kernel, 1) + _three(stride, 1)
                  + _three(dilation, 1) + _three(lows, 0))


def _launch(kernel, total: int, args: tuple) -> None:
    """``kernel`` over ``total`` elements (its first argument), then ``args``."""
    if total:
        blocks = min(-(-total // _THREADS), _MAX_BLOCKS)
        kernel((blocks,), (_THREADS,), (np.int32(total),) + args)


def im2col(x, kernel, stride, pads, dilation, groups: int, outs, channels_last: bool):
    """The columns of ``x`` (N, C, *sp; any strides) zero-padded by ``pads``, for windows
    at ``outs`` positions: (N, G, C/G * prod(kernel), L), or (G, N * L, prod(kernel) * C/G)
    with ``channels_last`` (see NOTE [ Convolution column layouts ])."""
    cp = cuda.cupy()
    n, c = x.shape[:2]
    cg = c // groups
    length = math.prod(outs)
    size = math.prod(kernel) * cg
    shape = (groups, n * length, size) if channels_last else (n, groups, size, length)
    cols = cp.empty(shape, x.dtype)
    _launch(_kernels(x.dtype)["im2col"], cols.size,
            (x, cols) + _int32((n, c, cg, int(channels_last)))
            + _geometry(x.shape[2:], outs, kernel, stride, dilation, pads) + _strides(x, 2))
    return cols


def col2im(cols, sizes, stride, dilation, pads, first: int, assign: bool, out=None):
    """The adjoint of im2col, cropped: ``cols`` (N, C, *outs, *kernel), or grouped
    (N, G, C/G, *outs, *kernel), any strides, summed into ``out`` (N, C, *sizes; any layout;
    fresh if None), kernel offsets in row-major order with offset ``first`` (flat, or -1)
    first, the first entry assigned if ``assign``."""
    nd = len(sizes)
    lead = cols.ndim - 2 * nd
    e = tuple(s // cols.itemsize for s in cols.strides)
    if lead == 2:  # one group
        (n, c), group_strides = cols.shape[:2], (e[0], 0, e[1])
        cg = c
    else:
        (n, groups, cg), group_strides = cols.shape[:3], e[:3]
        c = groups * cg
    outs, kernel = cols.shape[lead:lead + nd], cols.shape[lead + nd:]
    if out is None:
        out = cuda.cupy().empty((n, c) + tuple(sizes), cols.dtype)
    col_strides = _int64(group_strides + _three(e[lead:lead + nd], 0)
                         + _three(e[lead + nd:], 0))
    channels_inner = cg > 1 and group_strides[2] == 1  # channels-last columns
    _launch(_kernels(cols.dtype)["col2im"], out.size,
            (cols, out) + _int32((c, cg, int(channels_inner)))
            + _geometry(sizes, outs, kernel, stride, dilation, pads) + col_strides
            + _strides(out, 2) + _int32((first, int(assign))))
    return out


def max_pool_forward(x, kernel, stride, pads, dilation, outs):
    """Max pooling of ``x`` (N, C, *sp; any strides) padded by ``pads`` (never chosen):
    ``(values, index)``, both (N, C, *outs), index int64 into the flattened ``sp`` (PyTorch's
    indices)."""
    cp = cuda.cupy()
    shape = x.shape[:2] + tuple(outs)
    values = cp.empty(shape, x.dtype)
    index = cp.empty(shape, np.int64)
    _launch(_kernels(x.dtype)["max_pool_forward"], values.size,
            (x, values, index) + _int32((x.shape[1],))
            + _geometry(x.shape[2:], outs, kernel, stride, dilation, pads) + _strides(x, 2))
    return values, index


def max_pool_backward(grad, index, x_shape, kernel, stride, pads, dilation):
    """The adjoint of :func:`max_pool_forward`'s values: a (contiguous) ``x_shape`` array with
    every ``grad`` (N, C, *outs; any strides) added at its window's ``index``."""
    cp = cuda.cupy()
    out = cp.empty(tuple(x_shape), grad.dtype)
    index = cp.ascontiguousarray(index)
    _launch(_kernels(grad.dtype)["max_pool_backward"], out.size,
            (grad, index, out) + _int32((x_shape[1],))
            + _geometry(x_shape[2:], grad.shape[2:], kernel, stride, dilation, pads)
            + _strides(grad, 2))
    return out
