"""Array-level kernels shared by ``ember.ops`` and ``ember.legacy``: padding, sliding windows,
im2col / col2im and the convolution products built on them.

Every function takes arrays of one array module (NumPy or CuPy) and uses only the API both share.
Arrays in and out are channels-first, ``(N, C, *spatial)`` (only convolution's columns may be
channels-last inside); ``pads`` is one ``(lo, hi)`` pair per spatial dimension. On CUDA, im2col,
col2im and max pooling run as single kernels (``cuda_conv``) where they take the arrays, and
compose CuPy calls, as on the CPU, where they do not.
"""
from __future__ import annotations

import functools
import itertools
import math
import sys

from ember.backend import cuda_conv
from ember.backend.device import empty_as, is_host, zeros_as
from ember.backend.device import get_array_module as get_xp
from ember.dtypes import np_kind

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
    return _as_strided(xp, x, shape, strides)


def _on_gpu(a, nd: int, elements: int) -> bool:
    """Whether ``a`` is a CuPy array that ``cuda_conv``'s kernels take: up to three spatial
    dimensions, and results of fewer than 2**31 ``elements`` (they index with 32 bits)."""
    return (nd <= 3 and elements < 2 ** 31 and not is_host(get_xp(a))
            and cuda_conv.supports(a.dtype))


def _as_strided(xp, x, shape, strides):
    """``as_strided`` that keeps ``x``'s class, so a meta array stays meta (NumPy's drops
    subclasses by default; CuPy's has no ``subok`` to ask otherwise)."""
    view = xp.lib.stride_tricks.as_strided(x, shape, strides)
    return view if view.__class__ is x.__class__ else view.view(x.__class__)


def col2im(cols, padded_shape, stride, dilation, pads=None, out=None):
    """The adjoint of :func:`windows`: a zero array of ``padded_shape`` plus every window's
    values added back where it came from (one shifted strided slice per kernel offset). With
    ``pads`` the padding is cropped off: only the inner part is summed, into a fresh
    contiguous array (or ``out``, of the cropped shape and any layout), which is cheaper than
    summing everything and returning a view."""
    xp = get_xp(cols)
    nd = len(stride)
    kernel = cols.shape[cols.ndim - nd:]
    outs = cols.shape[cols.ndim - 2 * nd:cols.ndim - nd]
    pads = ((0, 0),) * nd if pads is None else tuple(tuple(p) for p in pads)
    lead = (Ellipsis,)
    lead_nd = cols.ndim - 2 * nd
    # windows that tile without overlap: the adjoint is a transpose, not a sum of slices
    tiled = tuple(stride) == tuple(kernel) and all(d == 1 or k == 1
                                                   for d, k in zip(dilation, kernel))
    sizes = tuple(n - lo - hi for n, (lo, hi) in zip(padded_shape[lead_nd:], pads))
    if lead_nd == 2 and _on_gpu(cols, nd, math.prod(padded_shape[:2]) * math.prod(sizes)):
        first, assign = (-1, True) if tiled else _summation_order(
            outs, kernel, tuple(stride), tuple(dilation), sizes, pads)
        return cuda_conv.col2im(cols, sizes, stride, dilation, pads, first, assign, out)
    if tiled:
        whole = zeros_as(xp, cols, padded_shape, cols.dtype)
        order = tuple(range(lead_nd)) + tuple(
            a for i in range(nd) for a in (lead_nd + i, lead_nd + nd + i))
        joined = cols.transpose(order).reshape(
            cols.shape[:lead_nd] + tuple(o * k for o, k in zip(outs, kernel)))
        whole[lead + tuple(slice(0, o * k) for o, k in zip(outs, kernel))] = joined
        cropped = whole[lead + tuple(slice(lo, n - hi) for n, (lo, hi)
                                     in zip(padded_shape[lead_nd:], pads))]
        if out is None:
            return cropped
        out[...] = cropped
        return out
    slices, covered = _offset_plan(outs, kernel, tuple(stride), tuple(dilation), sizes, pads)
    if out is None:
        shape = tuple(padded_shape[:lead_nd]) + sizes
        out = (empty_as if covered else zeros_as)(xp, cols, shape, cols.dtype)
    elif not covered:
        out[...] = 0
    for i, (offs, dst, src) in enumerate(slices):
        if i == 0 and covered:
            out[...] = cols[lead + src + offs]
        else:
            out[lead + dst] += cols[lead + src + offs]
    return out


@functools.lru_cache(maxsize=256)
def _summation_order(outs, kernel, stride, dilation, sizes, pads) -> tuple[int, bool]:
    """The order in which :func:`col2im` (and :func:`conv_input_grad`) add the kernel offsets
    into each element, for the CUDA kernel to keep (so that both paths agree bit for bit): the
    flat offset added first, or -1 for row-major order, and whether that first one is assigned
    rather than added to zeros (see :func:`_covering_first`)."""
    slices, covered = _offset_plan(outs, kernel, stride, dilation, sizes, pads)
    if not covered:
        return -1, False
    first = 0
    for o, k in zip(slices[0][0], kernel):
        first = first * k + o
    return first, True


@functools.lru_cache(maxsize=256)
def _offset_plan(outs, kernel, stride, dilation, sizes, pads) -> tuple[tuple, bool]:
    """:func:`_covering_first` of :func:`_offset_slices` (every argument a tuple), cached: for
    a small image, building the slices in Python takes as long as adding them."""
    slices, covered = _covering_first(
        _offset_slices(outs, kernel, stride, dilation, sizes, pads), sizes)
    return tuple(slices), covered


def _covering_first(slices, sizes) -> tuple[list, bool]:
    """The offsets of :func:`_offset_slices`, one whose ``dst`` covers all of ``sizes`` first
    if there is one, and whether there is: that one can be assigned, not added to zeros."""
    slices = list(slices)
    whole = tuple(slice(0, n, 1) for n in sizes)
    for i, (_, dst, _) in enumerate(slices):
        if dst == whole:
            return [slices[i]] + slices[:i] + slices[i + 1:], True
    return slices, False


def _offset_slices(outs, kernel, stride, dilation, sizes, pads):
    """For each kernel offset, the slices ``(offs, dst, src)`` that add every window's element
    at that offset back into the cropped input: ``dst`` over the input's ``sizes``, ``src``
    over the window positions ``outs``. Offsets that only ever land in the padding are left
    out."""
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
            yield offs, tuple(dst), tuple(src)


# NOTE [ Separable max pooling ]
# A window's max is the max, over its first dimension, of the maxima over its later ones; and
# its first occurrence in row-major order is found the same way, if every one-dimensional pass
# keeps the lowest offset among ties. So max pooling runs one pass per spatial dimension, the
# last dimension first, each an elementwise max of k strided slices: only the first pass reads
# the whole input, and later passes read rows that are contiguous. Where each max came from is
# one small offset array per dimension, ``args[i]``, shaped like pass i's output
# (N, C, *sp[:i], *out[i:]); the adjoint runs the passes backwards. For 2x2 windows this does
# half the work of k**nd passes over the window view (NumPy has no fused window reduction).
# On CUDA one kernel per direction replaces the passes (``cuda_conv``): a thread scans its
# window in row-major order with the same rule (first max, last NaN) and keeps PyTorch's flat
# index; the backward's thread gathers, for its element, the gradients of the windows that
# chose it, summed in the passes' order.


def _along(axis: int, start: int, step: int, count: int) -> tuple:
    """The index that takes ``count`` positions ``start + step * i`` along ``axis``."""
    return (slice(None),) * axis + (slice(start, start + step * (count - 1) + 1, step),)


def _max_along(v, axis: int, k: int, s: int, d: int, nan: bool, lo: int = 0,
               length: int | None = None):
    """One pass of :func:`window_max`: maxima over the windows along ``axis`` and the offset
    of each one's first occurrence (of its last NaN, if ``nan``). With ``v`` padded by ``lo``
    in front of ``length`` elements, a window whose max is the padding's lowest value takes
    its first element inside the input instead, as PyTorch, which never chooses padding."""
    xp = get_xp(v)
    n = (v.shape[axis] - d * (k - 1) - 1) // s + 1
    views = [v[_along(axis, j * d, s, n)] for j in range(k)]
    if k == 1:
        return views[0].copy(), zeros_as(xp, v, views[0].shape, xp.uint8)
    best = views[0]
    arg = None
    for j, view in enumerate(views[1:], 1):
        gt = view > best  # strict: ties keep the lower offset
        if nan:
            gt |= xp.isnan(view)  # a later NaN wins, as in PyTorch
        best = xp.maximum(best, view, out=None if j == 1 else best)  # propagates NaN
        if arg is None:
            arg = gt.view(xp.uint8) if k < 256 else gt.astype(xp.int64)
        else:  # offsets grow along the loop: "j where the max is new" is a running maximum
            xp.maximum(arg, xp.multiply(gt, j, dtype=arg.dtype), out=arg)
    if length is not None and (lo or v.shape[axis] > lo + length):
        shape = (1,) * axis + (n,) + (1,) * (v.ndim - axis - 1)
        start = xp.arange(n).reshape(shape) * s  # each window's first position, padded
        pos = start + arg * d
        in_padding = (pos < lo) | (pos >= lo + length)
        first_inside = xp.maximum(-((start - lo) // d), 0)  # ceil((lo - start) / d)
        arg = xp.where(in_padding, first_inside, arg).astype(arg.dtype)
    return best, arg


def window_max(x, kernel, stride, dilation, pads=None):
    """The max of every window of ``x`` (already padded, by ``pads`` if given: then the padding
    is never chosen) and where it is: one integer offset array per spatial dimension (see NOTE
    [ Separable max pooling ]); a NaN wins, the last one, as in PyTorch."""
    xp = get_xp(x)
    nd = len(kernel)
    lead = x.ndim - nd
    # NaN-aware comparisons cost a pass each: on the CPU, rerun with them only when a NaN came
    # out; on a GPU, asking whether one did would stall the host until the GPU caught up.
    for nan in (False, True) if is_host(xp) else (True,):
        v, args = x, [None] * nd
        for i in reversed(range(nd)):
            lo, hi = pads[i] if pads else (0, 0)
            length = x.shape[lead + i] - lo - hi if pads else None
            v, args[i] = _max_along(v, lead + i, kernel[i], stride[i], dilation[i], nan, lo,
                                    length)
        if nan or np_kind(x.dtype) != "f" or not bool(xp.isnan(v).any()):
            return v, tuple(args)


def _pick_along(v, arg, axis: int, k: int, s: int, d: int):
    """The element at offset ``arg`` of every window along ``axis``."""
    xp = get_xp(v)
    n = arg.shape[axis]
    out = v[_along(axis, 0, s, n)].copy()
    for j in range(1, k):
        xp.copyto(out, v[_along(axis, j * d, s, n)], where=arg == j)
    return out


def window_gather(x, args, kernel, stride, dilation):
    """The element of every window of ``x`` (already padded) that :func:`window_max` chose."""
    lead = x.ndim - len(kernel)
    for i in reversed(range(len(kernel))):
        x = _pick_along(x, args[i], lead + i, kernel[i], stride[i], dilation[i])
    return x


def window_offsets(args, kernel, stride, dilation) -> tuple:
    """Per spatial dimension, the in-window offset of every window's chosen element (each
    ``args[i]`` carried through the passes before it)."""
    lead = args[0].ndim - len(kernel)
    offs = []
    for i, arg in enumerate(args):
        for j in reversed(range(i)):
            arg = _pick_along(arg, args[j], lead + j, kernel[j], stride[j], dilation[j])
        offs.append(arg)
    return tuple(offs)


def _disjoint(k: int, s: int, d: int) -> bool:
    """Whether windows of size ``k``, stride ``s``, dilation ``d`` share no element."""
    return s >= k and (d == 1 or k == 1)


def _scatter_along(g, arg, axis: int, length: int, k: int, s: int, d: int, finite: bool):
    """The adjoint of one :func:`_max_along` pass: ``g`` added where each window's max was."""
    xp = get_xp(g)
    n = g.shape[axis]
    shape = g.shape[:axis] + (length,) + g.shape[axis + 1:]
    assign = finite and _disjoint(k, s, d)  # else g * mask would turn inf * 0 into NaN
    covered = assign and s == k and n * k == length  # every element written below
    if covered and axis < g.ndim - 1 and g.__class__ is xp.ndarray:
        # The windows' rows interleave in the output, which NumPy would write one short row at
        # a time: copy every row k times instead (whole rows at once), keeping the chosen ones.
        tail = g.shape[axis + 1:]
        offset = (xp.arange(length) % k).astype(arg.dtype).reshape((length,) + (1,) * len(tail))
        offset = xp.ascontiguousarray(xp.broadcast_to(offset, (length,) + tail))
        out = xp.repeat(g, k, axis)
        xp.multiply(out, xp.repeat(arg, k, axis) == offset, out=out)
        return out
    out = (empty_as if covered else zeros_as)(xp, g, shape, g.dtype)
    dst = [out[_along(axis, j * d, s, n)] for j in range(k)]
    if not assign:
        for j in range(k):
            dst[j] += g * (arg == j) if finite else xp.where(arg == j, g, 0)
    elif k == 2:
        xp.multiply(g, arg, out=dst[1])
        xp.subtract(g, dst[1], out=dst[0])  # exact: g - g or g - 0
    else:
        for j in range(k):
            xp.multiply(g, arg == j, out=dst[j])
    return out


def window_scatter(g, args, padded_shape, kernel, stride, dilation):
    """The adjoint of :func:`window_gather`: a zero array of ``padded_shape`` with every ``g``
    added at the element its window chose."""
    xp = get_xp(g)
    nd = len(kernel)
    lead = g.ndim - nd
    # The faster products need finite values; on a GPU, asking would stall the host until the
    # GPU caught up, so it takes the select-based path, right for any value.
    finite = np_kind(g.dtype) != "f" or (is_host(xp) and bool(xp.isfinite(g).all()))
    for i in range(nd):
        g = _scatter_along(g, args[i], lead + i, padded_shape[lead + i], kernel[i], stride[i],
                           dilation[i], finite)
        # overlapping windows sum, which may overflow to inf
        if finite and not _disjoint(kernel[i], stride[i], dilation[i]) and np_kind(g.dtype) == "f":
            finite = bool(xp.isfinite(g).all())
    return g


def max_pool(x, kernel, stride, pads, dilation):
    """Max pooling of ``x`` (N, C, *sp) padded by ``pads``: ``(values, choice)``, where
    ``choice`` says which element each window's max is, for :func:`max_pool_gather`,
    :func:`max_pool_scatter` and :func:`max_pool_indices`: on CUDA, PyTorch's flat indices
    into ``sp`` (one kernel, which never chooses the padding); elsewhere the offsets of
    :func:`window_max` over ``x`` padded with the lowest value (never chosen: a window of
    nothing but lowest values chooses its first element inside ``x``, as PyTorch). A NaN wins,
    the last one, as in PyTorch."""
    outs = tuple(out_size(s, k, st, lo, hi, d) for s, k, st, (lo, hi), d
                 in zip(x.shape[2:], kernel, stride, pads, dilation))
    # (the backward's kernel writes x's shape)
    if _on_gpu(x, len(kernel), max(x.size, math.prod(x.shape[:2] + outs))):
        return cuda_conv.max_pool_forward(x, kernel, stride, pads, dilation, outs)
    xp = get_xp(x)
    if _halving(x, kernel, stride, pads, dilation):
        values, choice = _max_pool_halving(x)
        if np_kind(x.dtype) != "f" or not bool(xp.isnan(values).any()):
            return values, choice
    low = -xp.inf if np_kind(x.dtype) == "f" else xp.iinfo(x.dtype).min
    return window_max(pad(x, pads, "constant", low), kernel, stride, dilation, pads)


# NOTE [ Halving max pooling ]
# The common 2x2 window with stride 2 over even sizes gets the passes of NOTE [ Separable max
# pooling ] without their strided reads, which NumPy runs element by element or a short row at
# a time: each pass compares the whole array with itself shifted by one element (then by one
# row of the halved width), a contiguous operation that runs vectorised even though only every
# other result is kept. Keeping the even elements of a contiguous array is one cast, reading
# each pair as a word of twice the size and keeping its low half (the first element, on a
# little-endian host). The input goes a few planes at a time, so that the full-size
# intermediates stay in cache. The results (NaN aside, which takes the general path) are those
# of the general passes, bit for bit.

_HALVING_BLOCK = 1 << 20  # bytes of input per block of planes
_WORDS = {1: ("uint16", "uint8"), 2: ("uint32", "uint16"), 4: ("uint64", "uint32")}


def _halving(x, kernel, stride, pads, dilation) -> bool:
    """Whether max pooling of ``x`` takes :func:`_max_pool_halving`."""
    xp = get_xp(x)
    return (tuple(kernel) == (2, 2) and tuple(stride) == (2, 2) and tuple(dilation) == (1, 1)
            and not any(lo or hi for lo, hi in pads) and x.ndim == 4 and x.size > 0
            and x.shape[2] % 2 == 0 and x.shape[3] % 2 == 0 and x.dtype.itemsize in _WORDS
            and sys.byteorder == "little" and is_host(xp) and x.__class__ is xp.ndarray
            and x.flags.c_contiguous)


def _evens(a):
    """The even-indexed elements of a contiguous 1-D array, as a new contiguous array."""
    word, low = _WORDS[a.dtype.itemsize]
    return a.view(word).astype(low).view(a.dtype)


def _max_pool_halving(x):
    """:func:`window_max` for 2x2 windows with stride 2 over ``x`` (N, C, H, W), both sizes
    even (NOTE [ Halving max pooling ])."""
    xp = get_xp(x)
    n, c, h, w = x.shape
    wo = w // 2
    flat = x.reshape(-1)
    size = flat.size
    right = xp.empty(size // 2, xp.uint8)  # per column pair: whether the right one is larger
    lower = xp.empty((size // (2 * w), wo), xp.bool_)  # per row pair: whether the lower one is
    values = xp.empty((size // (2 * w), wo), x.dtype)
    block = max(1, _HALVING_BLOCK // (h * w * x.dtype.itemsize)) * h * w  # whole planes
    pair = xp.empty(block, x.dtype)
    beats = xp.empty(block, xp.bool_)
    quad = xp.empty(block // 2, x.dtype)
    below = xp.empty(block // 2, xp.bool_)
    for start in range(0, size, block):
        end = min(start + block, size)
        m, src = end - start, flat[start:end]
        xp.maximum(src[:-1], src[1:], out=pair[:m - 1])
        xp.greater(src[1:], src[:-1], out=beats[:m - 1])  # strict: ties keep the first
        right[start // 2:end // 2] = _evens(beats[:m])
        half = _evens(pair[:m])  # the row maxima of each column pair, (rows, wo)
        xp.maximum(half[:-wo], half[wo:], out=quad[:m // 2 - wo])
        xp.greater(half[wo:], half[:-wo], out=below[:m // 2 - wo])
        rows = slice(start // (2 * w), end // (2 * w))
        values[rows] = quad[:m // 2].reshape(-1, 2, wo)[:, 0]
        lower[rows] = below[:m // 2].reshape(-1, 2, wo)[:, 0]
    return values.reshape(n, c, h // 2, wo), (lower.view(xp.uint8).reshape(n, c, h // 2, wo),
                                               right.reshape(n, c, h, wo))


def max_pool_gather(x, choice, kernel, stride, pads, dilation):
    """The element of ``x`` (N, C, *sp) that each window of :func:`max_pool` chose."""
    if isinstance(choice, tuple):
        return window_gather(pad(x, pads), choice, kernel, stride, dilation)
    xp = get_xp(x)
    n, c = x.shape[:2]
    rows = xp.arange(n * c).reshape(-1, 1)
    flat = x.reshape(n * c, math.prod(x.shape[2:]))
    return flat[rows, choice.reshape(n * c, math.prod(choice.shape[2:]))].reshape(choice.shape)


def max_pool_scatter(g, choice, x_shape, kernel, stride, pads, dilation):
    """The adjoint of :func:`max_pool_gather`: zeros of ``x_shape`` with every ``g`` added at
    the element its window chose."""
    if isinstance(choice, tuple):
        padded = x_shape[:2] + tuple(n + lo + hi for n, (lo, hi) in zip(x_shape[2:], pads))
        gx = window_scatter(g, choice, padded, kernel, stride, dilation)
        return gx[(Ellipsis,) + tuple(slice(lo, lo + n) for n, (lo, _) in zip(x_shape[2:], pads))]
    return cuda_conv.max_pool_backward(g, choice, x_shape, kernel, stride, pads, dilation)


def max_pool_indices(choice, spatial, kernel, stride, pads, dilation):
    """PyTorch's indices of :func:`max_pool`'s ``choice``: each window's chosen element as a
    flat (int64) position in the input's ``spatial`` shape."""
    if not isinstance(choice, tuple):
        return choice.copy()  # the caller's to keep, apart from the one backward reads
    xp = get_xp(choice[0])
    nd = len(kernel)
    offs = window_offsets(choice, kernel, stride, dilation)
    flat_index = 0
    for i, (n, s, (lo, _), d) in enumerate(zip(spatial, stride, pads, dilation)):
        pos = (xp.arange(offs[i].shape[2 + i]).reshape((-1,) + (1,) * (nd - 1 - i)) * s - lo
               + offs[i] * d)
        flat_index = flat_index * n + pos
    return xp.asarray(flat_index, dtype=xp.int64)


# ----------------------------------------------------------------------------------------------
# Convolution as im2col + matmul
#
# NOTE [ Convolution column layouts ]
# Tensors stay channels-first, (N, C, *sp); the columns take one of two layouts, chosen by the
# number of input channels per group (``_channels_last``), since neither wins everywhere:
# - channels-last, (G, N * L, prod(kernel) * C/G), for many channels: one row per output
#   position of every sample, laid out (*kernel, C/G). Building them copies runs of contiguous
#   channels, and all samples go through one GEMM per group, which OpenBLAS runs (and spreads
#   over the cores) far better than one small GEMM per sample. The output gradient, made
#   (G, N * L, O/G) by one transposing copy (``grad_matrix``), feeds both backward GEMMs; the
#   forward's one transposing copy back to (N, O, *out) also adds the bias.
# - channels-first, (N, G, C/G * prod(kernel), L), for few channels (a network's first layer):
#   there the rows above would be a few elements long and the transposing copies would cost more
#   than the GEMMs, while per-sample GEMMs give (N, O, L), the output's own layout, directly.
#   The input gradient's col2im sums prod(kernel) shifted slices of the columns, whose rows are
#   one output row long (a few values for a small image). Where the columns are large beside
#   the output gradient (``_batch_last``), it moves the batch last instead: one GEMM makes
#   (C * prod(k), L * N) from a transposed copy of the output gradient, the slices' rows are
#   then N times longer, and one transposing copy gives (N, C, *sp).
# On CUDA, col2im is one kernel (``cuda_conv``) that reads the columns in any layout and writes
# (N, C, *sp) directly, so neither the batch-last trick nor channels-last columns' GEMM per
# kernel offset is needed: one GEMM makes all the columns.

_CHANNELS_LAST_MIN = 24  # channels per group from which channels-last columns win (measured)
_WGRAD_CHUNK = 1 << 22  # elements of per-sample weight-gradient products held at once (16 MB)


def _channels_last(c_per_group: int) -> bool:
    return c_per_group >= _CHANNELS_LAST_MIN


def _batch_last(kernel, c_per_group: int, o_per_group: int) -> bool:
    """Whether channels-first columns' input gradient sums its windows batch-last (see NOTE
    [ Convolution column layouts ]): where the columns are much larger than the output
    gradient, the sum's short rows cost more than the two transposing copies."""
    return math.prod(kernel) * c_per_group >= 2 * o_per_group


def _padded_last(x, pads):
    """``x`` (N, C, *sp) zero-padded by ``pads`` (non-negative) as a contiguous (N, *padded, C)
    (whose channel runs the im2col copy then reads faster than strided ones)."""
    xp = get_xp(x)
    xl = xp.moveaxis(x, 1, -1)
    if not any(lo or hi for lo, hi in pads):
        return xp.ascontiguousarray(xl)
    spatial = x.shape[2:]
    out = zeros_as(xp, x, (x.shape[0],) + tuple(n + lo + hi for n, (lo, hi) in
                                                zip(spatial, pads)) + (x.shape[1],), x.dtype)
    out[(slice(None),) + tuple(slice(lo, lo + n) for n, (lo, _) in zip(spatial, pads))] = xl
    return out


def im2col(x, kernel, stride, pads, dilation, groups: int):
    """Columns of the zero-padded input in the layout NOTE [ Convolution column layouts ]
    picks, and the output spatial shape."""
    nd = len(kernel)
    n, c = x.shape[:2]
    outs = tuple(out_size(s, k, st, lo, hi, d) for s, k, st, (lo, hi), d
                 in zip(x.shape[2:], kernel, stride, pads, dilation))
    if _on_gpu(x, nd, n * c * math.prod(kernel) * math.prod(outs)):
        return cuda_conv.im2col(x, kernel, stride, pads, dilation, groups, outs,
                                _channels_last(c // groups)), outs
    if not _channels_last(c // groups):
        win = windows(pad(x, pads), kernel, stride, dilation)  # (N, C, *out, *k)
        order = (0, 1) + tuple(range(2 + nd, 2 + 2 * nd)) + tuple(range(2, 2 + nd))
        # explicit sizes, not -1: an empty batch (N = 0) has no size to infer
        return (win.transpose(order).reshape(n, groups, c // groups * math.prod(kernel),
                                             math.prod(outs)), outs)  # one copy
    xl = _padded_last(x, pads)
    st = xl.strides
    cg = c // groups
    win = _as_strided(  # (N, *out, *kernel, G, C/G), read only
        get_xp(x), xl, (n,) + outs + tuple(kernel) + (groups, cg),
        (st[0],) + tuple(a * s for a, s in zip(st[1:-1], stride))
        + tuple(a * d for a, d in zip(st[1:-1], dilation)) + (st[-1] * cg, st[-1]))
    order = (1 + 2 * nd,) + tuple(range(1 + 2 * nd)) + (2 + 2 * nd,)
    cols = win.transpose(order).reshape(groups, n * math.prod(outs), math.prod(kernel) * cg)
    return cols, outs


def _weight_matrix(w, groups: int):
    """``w`` (O, C/G, *kernel) as channels-last columns' (G, prod(kernel) * C/G, O/G)."""
    nd = w.ndim - 2
    o, cg = w.shape[:2]
    wg = w.reshape((groups, o // groups, cg) + w.shape[2:])
    return wg.transpose((0,) + tuple(range(3, 3 + nd)) + (2, 1)).reshape(groups, -1, o // groups)


def grad_matrix(gy, w_shape, groups: int):
    """The output gradient (N, O, *out) as the operand of both backward products, so that a
    caller needing both makes it once: a contiguous (G, N * L, O/G) for channels-last columns,
    None for channels-first ones, which read ``gy`` as it is."""
    if not _channels_last(w_shape[1]):
        return None
    xp = get_xp(gy)
    n, o = gy.shape[:2]
    length = math.prod(gy.shape[2:])
    g = empty_as(xp, gy, (groups, n, length, o // groups), gy.dtype)
    g[...] = gy.reshape(n, groups, o // groups, length).transpose(1, 0, 3, 2)
    return g.reshape(groups, n * length, o // groups)


def is_channels_last(a) -> bool:
    """Whether a 4-D or 5-D array is laid out channels-last, (N, *spatial, C) in memory, rather
    than C order (an array that is both, e.g. with one channel, counts as C order)."""
    if a.ndim not in (4, 5) or a.flags.c_contiguous:
        return False
    return get_xp(a).moveaxis(a, 1, -1).flags.c_contiguous


def _relaid_channels_last(a):
    """A copy of ``a`` (N, C, *sp) laid out (N, *sp, C) in memory."""
    xp = get_xp(a)
    return xp.moveaxis(xp.ascontiguousarray(xp.moveaxis(a, 1, -1)), -1, 1)


def conv_forward(x, w, stride, pads, dilation, groups: int, cols=None, bias=None,
                 channels_last: bool = False):
    """Cross-correlation of ``x`` (N, C, *sp) with ``w`` (O, C/groups, *k), plus ``bias`` (O,)
    if given; returns ``(y, cols)``, the columns for :func:`conv_weight_grad`. With
    ``channels_last`` the result is laid out (N, *out, O) in memory, as PyTorch gives for a
    channels-last input (one GEMM's own layout, with no transposing copy, when it allows)."""
    xp = get_xp(x)
    if cols is None:
        cols, outs = im2col(x, w.shape[2:], stride, pads, dilation, groups)
    else:
        outs = tuple(out_size(s, k, st, lo, hi, d) for s, k, st, (lo, hi), d
                     in zip(x.shape[2:], w.shape[2:], stride, pads, dilation))
    n, o = x.shape[0], w.shape[0]
    og, length = o // groups, math.prod(outs)
    if not _channels_last(w.shape[1]):
        y = w.reshape(groups, og, -1) @ cols  # (N, G, O/G, L): the output's own layout
        if bias is not None:
            y += bias.reshape(groups, og, 1)
        y = y.reshape((n, o) + outs)
        return (_relaid_channels_last(y) if channels_last else y), cols
    y = cols @ _weight_matrix(w, groups)  # (G, N * L, O/G)
    if channels_last and groups == 1:  # (N * L, O) is already (N, *out, O) in memory
        if bias is not None:
            y += bias
        return xp.moveaxis(y.reshape((n,) + outs + (o,)), -1, 1), cols
    out = empty_as(xp, y, (n, o) + outs, y.dtype)
    src = y.reshape(groups, n, length, og).transpose(1, 0, 3, 2)
    dst = out.reshape(n, groups, og, length)
    if bias is None:
        dst[...] = src
    else:
        xp.add(src, bias.reshape(groups, og, 1), out=dst)
    return (_relaid_channels_last(out) if channels_last else out), cols


def conv_input_grad(gy, w, x_shape, stride, pads, dilation, groups: int, gmat=None):
    """The adjoint of :func:`conv_forward` in ``x`` (a transposed convolution): col2im of
    ``gy @ w`` cropped to ``x_shape``; ``gmat`` is :func:`grad_matrix`'s, if at hand."""
    xp = get_xp(gy)
    nd = w.ndim - 2
    n, c = x_shape[:2]
    o, cg = w.shape[:2]
    kernel = tuple(w.shape[2:])
    outs = tuple(gy.shape[2:])
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(x_shape[2:], pads))
    if not _channels_last(cg):
        w_t = w.reshape(groups, o // groups, -1).transpose(0, 2, 1)  # (G, Cg * K, O/G)
        order = (0, 1) + tuple(range(2 + nd, 2 + 2 * nd)) + tuple(range(2, 2 + nd))
        # (col2im's CUDA kernel reads the columns in any layout: no need to move the batch)
        if not _batch_last(kernel, cg, o // groups) or _on_gpu(gy, nd, math.prod(x_shape)):
            gcols = w_t @ gy.reshape(n, groups, o // groups, math.prod(outs))  # (N, G, Cg * K, L)
            # (N, C, *k, *out) seen as (N, C, *out, *k): a view whose offset slices stay
            # contiguous
            gcols = gcols.reshape((n, c) + kernel + outs)
            return col2im(gcols.transpose(order), (n, c) + padded, stride, dilation, pads)
        length = math.prod(outs)
        gy_t = empty_as(xp, gy, (groups, o // groups, length, n), gy.dtype)
        gy_t[...] = gy.reshape(n, groups, o // groups, length).transpose(1, 2, 3, 0)
        gcols = (w_t @ gy_t.reshape(groups, o // groups, length * n)).reshape(
            (c,) + kernel + outs + (n,))
        gx_t = empty_as(xp, gcols, (c,) + tuple(x_shape[2:]) + (n,), gcols.dtype)
        # col2im on views with the batch moved in front: each offset's sum then runs over rows
        # of (out width * N) contiguous values
        col2im(xp.moveaxis(gcols, -1, 0).transpose(order), (n, c) + padded, stride, dilation,
               pads, out=xp.moveaxis(gx_t, -1, 0))
        out = empty_as(xp, gx_t, tuple(x_shape), gx_t.dtype)
        out[...] = xp.moveaxis(gx_t, -1, 0)
        return out
    if gmat is None:
        gmat = grad_matrix(gy, w.shape, groups)
    sizes = tuple(x_shape[2:])
    geometry = (outs, kernel, tuple(stride), tuple(dilation), sizes, tuple(tuple(p) for p in pads))
    if _on_gpu(gmat, nd, math.prod(x_shape)):
        # one GEMM for every kernel offset, (G, N * L, prod(k) * Cg), which col2im's kernel
        # reads as (N, G, Cg, *out, *k) and sums in the order of the loop below
        gcols = (gmat @ _weight_matrix(w, groups).transpose(0, 2, 1)).reshape(
            (groups, n) + outs + kernel + (cg,))
        first, assign = _summation_order(*geometry)
        return cuda_conv.col2im(
            gcols.transpose((1, 0, 2 + 2 * nd) + tuple(range(2, 2 + 2 * nd))), sizes, stride,
            dilation, pads, first, assign)
    w_offs = _weight_matrix(w, groups).reshape((groups,) + kernel + (cg, o // groups))
    slices, covered = _offset_plan(*geometry)
    dtype = xp.result_type(gmat, w)
    gx = (empty_as if covered else zeros_as)(xp, gmat, (groups, n) + sizes + (cg,), dtype)
    lead = (slice(None), slice(None))
    # col2im with one GEMM per kernel offset: each adds its (N * L, Cg) product while it is
    # contiguous and in cache, where slicing one GEMM's (N * L, prod(k) * Cg) would not be.
    # The products share one buffer, and an offset that covers the whole input from every
    # output (stride 1, "same" padding) writes its product straight into gx: no copy.
    part = None
    for i, (offs, dst, src) in enumerate(slices):
        w_t = w_offs[(slice(None),) + offs].transpose(0, 2, 1)  # (G, O/G, Cg)
        if i == 0 and covered and src == tuple(slice(0, m) for m in outs):
            xp.matmul(gmat, w_t, out=gx.reshape(gmat.shape[:2] + (cg,)))
            continue
        if part is None:
            part = empty_as(xp, gmat, gmat.shape[:2] + (cg,), dtype)
        xp.matmul(gmat, w_t, out=part)
        view = part.reshape((groups, n) + outs + (cg,))[lead + src]
        if i == 0 and covered:
            gx[...] = view
        else:
            gx[lead + dst] += view
    out = empty_as(xp, gx, tuple(x_shape), dtype)
    out.reshape((n, groups, cg) + sizes)[...] = xp.moveaxis(gx, (0, -1), (1, 2))
    return out


def conv_weight_grad(x, gy, w_shape, stride, pads, dilation, groups: int, cols=None,
                     gmat=None):
    """The adjoint of :func:`conv_forward` in ``w``: ``gy^T @ cols`` per group (``cols`` and
    ``gmat`` as made by :func:`im2col` and :func:`grad_matrix`, if at hand)."""
    if cols is None:
        cols, _ = im2col(x, w_shape[2:], stride, pads, dilation, groups)
    nd = len(w_shape) - 2
    o, cg = w_shape[:2]
    if not _channels_last(cg):
        n = gy.shape[0]
        g_t = gy.reshape(n, groups, o // groups, math.prod(gy.shape[2:])).transpose(0, 1, 3, 2)
        # per-sample GEMMs on a transposed view (BLAS reads it in place) beat one GEMM that
        # needs gy copied into (O, N*L); cols @ gy^T (the taller left operand) measured faster
        # than gy @ cols^T. Samples go in chunks so the per-sample products stay small.
        step = max(1, _WGRAD_CHUNK // math.prod(w_shape))
        gw_t = (cols[:step] @ g_t[:step]).sum(0)  # (G, Cg*K, Og)
        for i in range(step, n, step):
            gw_t += (cols[i:i + step] @ g_t[i:i + step]).sum(0)
        return gw_t.transpose(0, 2, 1).reshape(w_shape)
    if gmat is None:
        gmat = grad_matrix(gy, w_shape, groups)
    # cols^T @ g: OpenBLAS runs this orientation twice as fast as g^T @ cols
    gw = cols.transpose(0, 2, 1) @ gmat  # (G, prod(k) * Cg, O/G)
    gw = gw.reshape((groups,) + tuple(w_shape[2:]) + (cg, o // groups))
    order = (0, 2 + nd, 1 + nd) + tuple(range(1, 1 + nd))
    return gw.transpose(order).reshape(w_shape)


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


def fractional_starts(xp, u, length: int, out: int, kernel: int):
    """Window starts of fractional max pooling, (*u.shape, out), from samples ``u`` in [0, 1).

    PyTorch's sequence: with alpha = (length - kernel) / (out - 1), start i is
    int((i + u) * alpha) - int(u * alpha), and the last window ends at the input's end. The
    arithmetic stays in u's dtype so the starts match PyTorch's exactly.
    """
    last = xp.full(u.shape + (1,), length - kernel, dtype=xp.int64)
    if out == 1:
        return last
    alpha = xp.asarray(length - kernel, dtype=u.dtype) / xp.asarray(out - 1, dtype=u.dtype)
    u = u[..., None]
    steps = xp.arange(out - 1, dtype=u.dtype)
    starts = ((steps + u) * alpha).astype(xp.int64) - (u * alpha).astype(xp.int64)
    return xp.concatenate([starts, last], axis=-1)
