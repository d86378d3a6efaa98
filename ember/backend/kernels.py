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


def col2im(cols, padded_shape, stride, dilation):
    """The adjoint of :func:`windows`: a zero array of ``padded_shape`` plus every window's
    values added back where it came from (one shifted strided slice per kernel offset)."""
    xp = get_xp(cols)
    nd = len(stride)
    kernel = cols.shape[cols.ndim - nd:]
    outs = cols.shape[cols.ndim - 2 * nd:cols.ndim - nd]
    out = xp.zeros(padded_shape, cols.dtype)
    lead = (Ellipsis,)
    if tuple(stride) == tuple(kernel) and all(d == 1 or k == 1 for d, k in zip(dilation, kernel)):
        # Windows that tile without overlap: the adjoint is a transpose, not a sum of slices.
        lead_nd = cols.ndim - 2 * nd
        order = tuple(range(lead_nd)) + tuple(
            a for i in range(nd) for a in (lead_nd + i, lead_nd + nd + i))
        tiled = cols.transpose(order).reshape(
            cols.shape[:lead_nd] + tuple(o * k for o, k in zip(outs, kernel)))
        out[lead + tuple(slice(0, o * k) for o, k in zip(outs, kernel))] = tiled
        return out
    for offs in itertools.product(*(range(k) for k in kernel)):
        dst = tuple(slice(o * d, o * d + s * (n - 1) + 1, s)
                    for o, d, s, n in zip(offs, dilation, stride, outs))
        out[lead + dst] += cols[lead + offs]
    return out


# ----------------------------------------------------------------------------------------------
# Convolution as im2col + one (grouped) matmul

def im2col(x, kernel, stride, pads, dilation, groups: int):
    """Columns ``(groups, N*L, C/groups * prod(kernel))`` of the zero-padded input, and the
    output spatial shape."""
    nd = len(kernel)
    win = windows(pad(x, pads), kernel, stride, dilation)  # (N, C, *out, *k)
    n, c = x.shape[:2]
    outs = win.shape[2:2 + nd]
    win = win.reshape((n, groups, c // groups) + win.shape[2:])
    # (G, N, *out, Cg, *k): the one copy of the forward pass
    order = (1, 0) + tuple(range(3, 3 + nd)) + (2,) + tuple(range(3 + nd, 3 + 2 * nd))
    cols = win.transpose(order).reshape(groups, n * math.prod(outs), -1)
    return cols, outs


def _grouped_grad(gy, groups: int):
    """``gy`` (N, O, *out) as (G, N*L, O/groups)."""
    n, o = gy.shape[:2]
    nd = gy.ndim - 2
    g = gy.reshape((n, groups, o // groups) + gy.shape[2:])
    order = (1, 0) + tuple(range(3, 3 + nd)) + (2,)
    return g.transpose(order).reshape(groups, -1, o // groups)


def conv_forward(x, w, stride, pads, dilation, groups: int, cols=None):
    """Cross-correlation of ``x`` (N, C, *sp) with ``w`` (O, C/groups, *k); returns (y, cols)."""
    nd = w.ndim - 2
    if cols is None:
        cols, _ = im2col(x, w.shape[2:], stride, pads, dilation, groups)
    outs = tuple(out_size(s, k, st, lo, hi, d) for s, k, st, (lo, hi), d
                 in zip(x.shape[2:], w.shape[2:], stride, pads, dilation))
    n = x.shape[0]
    o = w.shape[0]
    w2 = w.reshape(groups, o // groups, -1)
    if groups == 1:
        y = (cols[0] @ w2[0].T)[None]
    else:
        y = cols @ w2.transpose(0, 2, 1)  # (G, N*L, Og)
    y = y.reshape((groups, n) + outs + (o // groups,))
    order = (1, 0, 2 + nd) + tuple(range(2, 2 + nd))
    return y.transpose(order).reshape((n, o) + outs), cols


def conv_input_grad(gy, w, x_shape, stride, pads, dilation, groups: int):
    """The adjoint of :func:`conv_forward` in ``x`` (a transposed convolution): col2im of
    ``gy @ w`` cropped to ``x_shape``."""
    nd = w.ndim - 2
    n, c = x_shape[:2]
    o = w.shape[0]
    cg = c // groups
    kernel = w.shape[2:]
    outs = gy.shape[2:]
    w2 = w.reshape(groups, o // groups, -1)
    g2 = _grouped_grad(gy, groups)
    gcols = g2[0] @ w2[0] if groups == 1 else g2 @ w2  # (G, N*L, Cg*K)
    gcols = gcols.reshape((groups, n) + outs + (cg,) + kernel)
    # (N, G, Cg, *out, *k) as a view, then (N, C, *out, *k)
    order = (1, 0, 2 + nd) + tuple(range(2, 2 + nd)) + tuple(range(3 + nd, 3 + 2 * nd))
    gcols = gcols.transpose(order)
    gcols = gcols.reshape((n, c) + outs + kernel)
    padded = (n, c) + tuple(s + lo + hi for s, (lo, hi) in zip(x_shape[2:], pads))
    gx = col2im(gcols, padded, stride, dilation)
    crop = tuple(slice(lo, lo + s) for s, (lo, _) in zip(x_shape[2:], pads))
    return gx[(Ellipsis,) + crop]


def conv_weight_grad(x, gy, w_shape, stride, pads, dilation, groups: int, cols=None):
    """The adjoint of :func:`conv_forward` in ``w``: ``gy^T @ cols`` per group."""
    if cols is None:
        cols, _ = im2col(x, w_shape[2:], stride, pads, dilation, groups)
    g2 = _grouped_grad(gy, groups)
    if groups == 1:
        gw = g2[0].T @ cols[0]
    else:
        gw = g2.transpose(0, 2, 1) @ cols
    return gw.reshape(w_shape)


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
