"""Array-level kernels shared by ``ember.ops`` and ``ember.legacy``: padding, sliding windows,
im2col / col2im and the convolution products built on them.

Every function takes arrays of one array module (NumPy or CuPy) and uses only the API both share.
Spatial layouts are channels-first, ``(N, C, *spatial)``; ``pads`` is one ``(lo, hi)`` pair per
spatial dimension.
"""
from __future__ import annotations

import itertools
import math

from ember.backend.device import get_array_module as get_xp

_PAD_MODES = {"constant": "constant", "zeros": "constant", "reflect": "reflect",
              "replicate": "edge", "circular": "wrap"}


def out_size(length: int, kernel: int, stride: int, lo: int, hi: int, dilation: int = 1,
             ceil_mode: bool = False) -> int:
    """Number of window positions along one dimension (PyTorch's rule, including ceil_mode's
    "the last window must start inside the input or its left padding")."""
    span = length + lo + hi - dilation * (kernel - 1) - 1
    if not ceil_mode:
        return span // stride + 1
    n = -(-span // stride) + 1
    if (n - 1) * stride >= length + lo:
        n -= 1
    return n


def pad(x, pads, mode: str = "constant", value: float = 0.0):
    """Pad (or, for negative amounts, crop) the trailing ``len(pads)`` dimensions of ``x``."""
    xp = get_xp(x)
    nd = len(pads)
    lead = (slice(None),) * (x.ndim - nd)
    crop = tuple(slice(max(-lo, 0), x.shape[x.ndim - nd + i] - max(-hi, 0))
                 for i, (lo, hi) in enumerate(pads))
    x = x[lead + crop]
    widths = [(0, 0)] * (x.ndim - nd) + [(max(lo, 0), max(hi, 0)) for lo, hi in pads]
    if not any(lo or hi for lo, hi in widths):
        return x
    np_mode = _PAD_MODES[mode]
    if np_mode == "constant":
        return xp.pad(x, widths, mode="constant", constant_values=value)
    return xp.pad(x, widths, mode=np_mode)


def windows(x, kernel, stride, dilation):
    """A strided view ``(*lead, *out, *kernel)`` of every window over the trailing
    ``len(kernel)`` dimensions of ``x`` (already padded). Callers only read it: windows
    overlap, so a write through it would land in several places."""
    xp = get_xp(x)
    nd = len(kernel)
    spatial = x.shape[x.ndim - nd:]
    outs = tuple((n - d * (k - 1) - 1) // s + 1
                 for n, k, s, d in zip(spatial, kernel, stride, dilation))
    st = x.strides[x.ndim - nd:]
    shape = x.shape[:x.ndim - nd] + outs + tuple(kernel)
    strides = (x.strides[:x.ndim - nd] + tuple(a * s for a, s in zip(st, stride))
               + tuple(a * d for a, d in zip(st, dilation)))
    return xp.lib.stride_tricks.as_strided(x, shape, strides)


def col2im(cols, padded_shape, stride, dilation, pads=None):
    """The adjoint of :func:`windows`: a zero array of ``padded_shape`` plus every window's
    values added back where it came from (one shifted strided slice per kernel offset). With
    ``pads`` the padding is cropped off: only the inner part is summed, into a fresh
    contiguous array, which is cheaper than summing everything and returning a view."""
    xp = get_xp(cols)
    nd = len(stride)
    kernel = cols.shape[cols.ndim - nd:]
    outs = cols.shape[cols.ndim - 2 * nd:cols.ndim - nd]
    pads = ((0, 0),) * nd if pads is None else tuple(pads)
    lead = (Ellipsis,)
    lead_nd = cols.ndim - 2 * nd
    if tuple(stride) == tuple(kernel) and all(d == 1 or k == 1 for d, k in zip(dilation, kernel)):
        # Windows that tile without overlap: the adjoint is a transpose, not a sum of slices.
        out = xp.zeros(padded_shape, cols.dtype)
        order = tuple(range(lead_nd)) + tuple(
            a for i in range(nd) for a in (lead_nd + i, lead_nd + nd + i))
        tiled = cols.transpose(order).reshape(
            cols.shape[:lead_nd] + tuple(o * k for o, k in zip(outs, kernel)))
        out[lead + tuple(slice(0, o * k) for o, k in zip(outs, kernel))] = tiled
        return out[lead + tuple(slice(lo, n - hi) for n, (lo, hi)
                                in zip(padded_shape[lead_nd:], pads))]
    sizes = tuple(n - lo - hi for n, (lo, hi) in zip(padded_shape[lead_nd:], pads))
    out = xp.zeros(tuple(padded_shape[:lead_nd]) + sizes, cols.dtype)
    for offs in itertools.product(*(range(k) for k in kernel)):
        dst, src = [], []
        for o, d, s, n, size, (lo, _) in zip(offs, dilation, stride, outs, sizes, pads):
            # the window positions whose element at this offset lands inside the crop
            first = max(0, -(-(lo - o * d) // s))
            last = min(n - 1, (size - 1 + lo - o * d) // s)
            if last < first:
                break
            begin = o * d + s * first - lo
            dst.append(slice(begin, begin + s * (last - first) + 1, s))
            src.append(slice(first, last + 1))
        else:
            out[lead + tuple(dst)] += cols[lead + tuple(src) + offs]
    return out


def window_max(x, kernel, stride, dilation):
    """The max of every window of ``x`` (already padded) and the flat in-window offset of its
    first occurrence (a NaN wins, as in PyTorch); offsets are uint8 when the kernel allows.
    One pass per kernel offset over output-sized strided views: cheaper than copying the
    windows out for an argmax; the offsets are built with arithmetic, since masked writes
    (``where``, ``copyto(where=)``) cost several times more."""
    xp = get_xp(x)
    win = windows(x, kernel, stride, dilation)
    offsets = list(itertools.product(*(range(k) for k in kernel)))
    best = win[(Ellipsis,) + offsets[0]].copy()
    arg = xp.zeros(best.shape, xp.uint8 if len(offsets) < 256 else xp.int64)
    for k, offs in enumerate(offsets[1:], 1):
        v = win[(Ellipsis,) + offs]
        gt = v > best  # strict: ties keep the first offset
        xp.maximum(best, v, out=best)  # propagates NaN
        # offsets grow along the loop, so "k where v is the new max" is a running maximum
        xp.maximum(arg, xp.multiply(gt, k, dtype=arg.dtype), out=arg)
    if x.dtype.kind == "f" and bool(xp.isnan(best).any()):
        for k in range(len(offsets) - 1, -1, -1):  # backwards: the first NaN is left
            v = win[(Ellipsis,) + offsets[k]]
            arg[v != v] = k
    return best, arg


def window_scatter(g, arg, padded_shape, kernel, stride, dilation):
    """The adjoint of gathering each window's element at flat offset ``arg``: a zero array of
    ``padded_shape`` with every ``g`` added at the element its window chose."""
    xp = get_xp(g)
    out = xp.zeros(padded_shape, g.dtype)
    outs = g.shape[g.ndim - len(kernel):]
    tiled = all(s >= k and (d == 1 or k == 1) for s, k, d in zip(stride, kernel, dilation))
    # g * mask is much cheaper than a masked select, but inf * 0 would leave NaN behind
    finite = g.dtype.kind != "f" or bool(xp.isfinite(g).all())
    for k, offs in enumerate(itertools.product(*(range(k) for k in kernel))):
        dst = out[(Ellipsis,) + tuple(slice(o * d, o * d + s * (n - 1) + 1, s)
                                      for o, d, s, n in zip(offs, dilation, stride, outs))]
        hit = arg == k
        if tiled and finite:  # windows do not overlap: each element is written once
            xp.multiply(g, hit, out=dst)
        else:
            dst += g * hit if finite else xp.where(hit, g, 0)
    return out


# ----------------------------------------------------------------------------------------------
# Convolution as im2col + one (grouped) matmul

_WGRAD_CHUNK = 1 << 22  # elements of per-sample weight-gradient products held at once (16 MB)


def im2col(x, kernel, stride, pads, dilation, groups: int):
    """Columns ``(N, groups, C/groups * prod(kernel), L)`` of the zero-padded input, and the
    output spatial shape. Per-sample columns let one batched matmul give ``(N, O, L)``, the
    output's own layout, and the copy below reads the input along its contiguous last axis."""
    nd = len(kernel)
    win = windows(pad(x, pads), kernel, stride, dilation)  # (N, C, *out, *k)
    n, c = x.shape[:2]
    outs = win.shape[2:2 + nd]
    order = (0, 1) + tuple(range(2 + nd, 2 + 2 * nd)) + tuple(range(2, 2 + nd))
    cols = win.transpose(order).reshape(n, groups, -1, math.prod(outs))  # the one copy
    return cols, outs


def conv_forward(x, w, stride, pads, dilation, groups: int, cols=None):
    """Cross-correlation of ``x`` (N, C, *sp) with ``w`` (O, C/groups, *k); returns (y, cols)."""
    if cols is None:
        cols, _ = im2col(x, w.shape[2:], stride, pads, dilation, groups)
    outs = tuple(out_size(s, k, st, lo, hi, d) for s, k, st, (lo, hi), d
                 in zip(x.shape[2:], w.shape[2:], stride, pads, dilation))
    w2 = w.reshape(groups, w.shape[0] // groups, -1)
    y = w2 @ cols  # (N, G, Og, L): one GEMM per sample and group, no transposed copies
    return y.reshape((x.shape[0], w.shape[0]) + outs), cols


def conv_input_grad(gy, w, x_shape, stride, pads, dilation, groups: int):
    """The adjoint of :func:`conv_forward` in ``x`` (a transposed convolution): col2im of
    ``w^T @ gy`` cropped to ``x_shape``."""
    nd = w.ndim - 2
    n, c = x_shape[:2]
    o = w.shape[0]
    kernel = w.shape[2:]
    outs = gy.shape[2:]
    w2 = w.reshape(groups, o // groups, -1)
    g2 = gy.reshape(n, groups, o // groups, -1)
    gcols = w2.transpose(0, 2, 1) @ g2  # (N, G, Cg*K, L)
    # (N, C, *k, *out) seen as (N, C, *out, *k): a view whose offset slices stay contiguous
    gcols = gcols.reshape((n, c) + kernel + outs)
    order = (0, 1) + tuple(range(2 + nd, 2 + 2 * nd)) + tuple(range(2, 2 + nd))
    padded = (n, c) + tuple(s + lo + hi for s, (lo, hi) in zip(x_shape[2:], pads))
    return col2im(gcols.transpose(order), padded, stride, dilation, pads)


def conv_weight_grad(x, gy, w_shape, stride, pads, dilation, groups: int, cols=None):
    """The adjoint of :func:`conv_forward` in ``w``: ``sum_n gy[n] @ cols[n]^T`` per group."""
    if cols is None:
        cols, _ = im2col(x, w_shape[2:], stride, pads, dilation, groups)
    n = gy.shape[0]
    g2 = gy.reshape(n, groups, w_shape[0] // groups, -1)
    g2_t = g2.transpose(0, 1, 3, 2)
    # per-sample GEMMs on a transposed view (BLAS reads it in place) beat one GEMM that needs
    # gy copied into (O, N*L); cols @ gy^T (the taller left operand) measured faster than
    # gy @ cols^T. Samples go in chunks so the per-sample products stay small.
    step = max(1, _WGRAD_CHUNK // math.prod(w_shape))
    gw_t = (cols[:step] @ g2_t[:step]).sum(0)  # (G, Cg*K, Og)
    for i in range(step, n, step):
        gw_t += (cols[i:i + step] @ g2_t[i:i + step]).sum(0)
    return gw_t.transpose(0, 2, 1).reshape(w_shape)


# ----------------------------------------------------------------------------------------------
# Pooling windows

def pool_divisor(xp, spatial, kernel, stride, pads, outs, count_include_pad: bool, dtype):
    """Average pooling's per-output divisor, broadcastable over ``outs`` (PyTorch's rule: with
    count_include_pad the window is clipped to the padded input, otherwise to the input)."""
    div = None
    for i, (length, k, s, (lo, _), n) in enumerate(zip(spatial, kernel, stride, pads, outs)):
        start = xp.arange(n) * s - lo
        end = xp.minimum(start + k, length + lo)
        if count_include_pad:
            size = end - start
        else:
            size = xp.minimum(end, length) - xp.maximum(start, 0)
        shape = [1] * len(outs)
        shape[i] = n
        size = size.reshape(shape).astype(dtype)
        div = size if div is None else div * size
    return div


def adaptive_bounds(length: int, out: int):
    """Start and end of each adaptive-pooling window (floor / ceil of the scaled edges)."""
    starts = [(i * length) // out for i in range(out)]
    ends = [-(-((i + 1) * length) // out) for i in range(out)]
    return starts, ends
