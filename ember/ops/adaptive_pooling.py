"""Pooling over windows that follow the output size rather than a fixed kernel: adaptive
average and max pooling (PyTorch's start/end bounds per output position) and fractional max
pooling (pseudo-random windows). The max pools pick each window's winner by its flat index
(``_MaxPick``), whose gradient goes back to the chosen elements only."""
from __future__ import annotations

import math

from ember import dtypes as _dt
from ember._creation import rand
from ember._quantized import QuantizedTensor, centered_ints, requantized_mean
from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive
from ember.backend import kernels as K
from ember.backend.device import get_array_module, zeros_as
from ember.ops.conv import _batched, _tuple
from ember.ops.elementwise import with_saved_edge
from ember.ops.linalg import matmul
from ember.ops.pooling import _avg_pool

__all__ = [
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d",
    "adaptive_max_pool2d", "adaptive_max_pool3d", "adaptive_max_pool1d_with_indices",
    "adaptive_max_pool2d_with_indices", "adaptive_max_pool3d_with_indices", "fractional_max_pool2d",
    "fractional_max_pool3d", "fractional_max_pool2d_with_indices",
    "fractional_max_pool3d_with_indices",
]


def _adaptive_sizes(nd, spatial, output_size) -> tuple:
    sizes = _tuple(output_size, nd, "output_size") if not isinstance(output_size, (tuple, list)) \
        else tuple(output_size)
    if len(sizes) != nd:
        raise RuntimeError(f"adaptive pooling: output_size must have {nd} elements, but got "
                           f"{list(sizes)}")
    return tuple(n if s is None else int(s) for s, n in zip(sizes, spatial))


def _adaptive_windows(xp, length: int, out: int):
    """(out, length) membership of each input position in each window, the window lengths."""
    starts, ends = K.adaptive_bounds(length, out)
    pos = xp.arange(length)
    st = xp.asarray(starts)[:, None]
    en = xp.asarray(ends)[:, None]
    return (pos >= st) & (pos < en), en - st


def _adaptive_matrix(xp, length: int, out: int, dtype):
    inside, lengths = _adaptive_windows(xp, length, out)
    return (inside / lengths).astype(dtype)


def _quantized_adaptive_avg(q: QuantizedTensor, sizes: tuple) -> QuantizedTensor:
    """PyTorch's quantized adaptive average: integer window sums, requantized means. Its
    channels-last kernel (the layout of quantized convolutions' outputs) sums ``q - zero_point``,
    its contiguous one ``q`` itself: they round a mean near .5 differently."""
    xp = q._xp
    centered = K.is_channels_last(q._data)
    sums = centered_ints(q, centered).astype(xp.float64)  # 8-bit sums: exact in float64
    divisor = 1
    nd = len(sizes)
    for i, (n, o) in enumerate(zip(q.shape[2:], sizes)):
        inside, lengths = _adaptive_windows(xp, n, o)
        sums = xp.moveaxis(xp.moveaxis(sums, 2 + i, -1) @ inside.T.astype(xp.float64), -1, 2 + i)
        shape = [1] * nd
        shape[i] = o
        divisor = divisor * lengths.reshape(shape)
    return requantized_mean(q, sums, divisor, centered)


def _check_not_empty(input: Tensor, op: str) -> None:
    """PyTorch refuses empty non-batch dims (an empty batch is fine); its adaptive_avg_pool2d,
    which its 1d runs on an unsqueezed input, looks at the spatial dims only."""
    shape = tuple(input.shape)
    if 0 not in shape[1:]:
        return
    first = 1
    if op == "adaptive_avg_pool1d":
        shape, op = shape[:-1] + (1,) + shape[-1:], "adaptive_avg_pool2d"
    if op == "adaptive_avg_pool2d":
        first = len(shape) - 2
    for i in range(first, len(shape)):
        if shape[i] == 0:
            raise RuntimeError(f"{op}(): Expected input to have non-zero size for non-batch "
                               f"dimensions, but input has sizes {list(shape)} with dimension "
                               f"{i} being empty")


def _adaptive_input(input: Tensor, nd: int, op: str, output_size):
    """PyTorch's adaptive pools' checks; (input with a batch dim, whether one was added, the
    output's spatial sizes)."""
    if nd == 1 and input.ndim not in (2, 3):
        raise RuntimeError(f"Expected 2 to 3 dimensions, but got {input.ndim}-dimensional tensor "
                           f"for argument #1 'self' (while checking arguments for {op})")
    if nd > 1 and input.ndim < nd + 1 and isinstance(output_size, (tuple, list)):
        # PyTorch's Python layer reads a tuple size against the input's dims first
        raise ValueError(f"Input dimension should be at least {nd + 1}")
    x, unbatched = _batched(input, nd, op)
    _check_not_empty(input, op)
    sizes = _adaptive_sizes(nd, x.shape[2:], output_size)
    if min(sizes, default=0) < 0:
        # PyTorch's 1d pools run its 2d ones on (N, C, 1, L); its messages show that
        shown = (1,) + sizes if nd == 1 else sizes
        if "max" in op:
            raise RuntimeError(f"Trying to create tensor with negative dimension {min(sizes)}: "
                               f"{list(x.shape[:2] + shown)}")
        received = ", ".join(map(str, shown[:2])) + "".join(f",{n}" for n in shown[2:])
        raise RuntimeError(f"adaptive_avg_pool{max(nd, 2)}d: elements of output_size must be "
                           f"greater than or equal to 0 but received {{{received}}}")
    return x, unbatched, sizes


def _empty_output(x: Tensor, sizes: tuple, unbatched: bool) -> Tensor:
    """An output size of 0: an empty result, still in ``x``'s graph."""
    out = x.flatten(2)[:, :, :0].reshape(tuple(x.shape[:2]) + tuple(sizes))
    return out.squeeze(0) if unbatched else out


def _adaptive_avg(nd, input, output_size):
    x, unbatched, sizes = _adaptive_input(input, nd, f"adaptive_avg_pool{nd}d", output_size)
    if 0 in sizes or x.shape[1] == 0:  # (avg_pool refuses no channels, adaptive pooling not)
        return _empty_output(x, sizes, unbatched)
    if x.__class__ is QuantizedTensor:
        out = _quantized_adaptive_avg(x, sizes)
        return out.squeeze(0) if unbatched else out
    if all(n % o == 0 for n, o in zip(x.shape[2:], sizes)):
        kernel = tuple(n // o for n, o in zip(x.shape[2:], sizes))
        out = _avg_pool(nd, x, kernel, kernel, 0, False, True)
    else:
        xp = get_array_module(x._data)
        half = _dt.is_half(x._data.dtype)
        out = x.float() if half else x  # half: the window means in float32, rounded once
        for i, (n, o) in enumerate(zip(x.shape[2:], sizes)):
            mat = _make(_adaptive_matrix(xp, n, o, out._data.dtype).T.copy())
            out = matmul(out.movedim(2 + i, -1), mat).movedim(-1, 2 + i)
        if half:
            out = out.to(x.dtype)
    return out.squeeze(0) if unbatched else out


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Mean over windows chosen so that the output has ``output_size`` positions."""
    return _adaptive_avg(1, input, output_size)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Mean over windows chosen so that the output is ``output_size`` (None keeps a size)."""
    return _adaptive_avg(2, input, output_size)


def adaptive_avg_pool3d(input: Tensor, output_size) -> Tensor:
    """Mean over windows chosen so that the output is ``output_size`` (D, H, W)."""
    return _adaptive_avg(3, input, output_size)


def _flat_windows(spatial, idx):
    """Flat input positions (*lead, *out, window) of the windows whose positions along dim i are
    ``idx[i]`` (*lead, out_i, width_i); lead is () when every plane shares the windows."""
    nd = len(spatial)
    flat = 0
    for i, (n, ix) in enumerate(zip(spatial, idx)):
        shape = [1] * (2 * nd)
        shape[i], shape[nd + i] = ix.shape[-2:]
        flat = flat * n + ix.reshape(ix.shape[:-2] + tuple(shape))
    return flat.reshape(flat.shape[:flat.ndim - nd] + (math.prod(ix.shape[-1] for ix in idx),))


class _MaxPick(Primitive):
    """The elements of x (N, C, *sp) at flat spatial indices ``ind`` (N, C, *out): adaptive and
    fractional max pooling's selection; the gradient goes to the chosen elements only."""

    @staticmethod
    def forward(ctx, x, ind):
        ctx.save_for_backward(x)  # for create_graph's edge only (see with_saved_edge)
        ctx.ind = ind
        n, c = x.shape[:2]  # sizes spelled out, never -1: the batch may be empty
        rows = x.reshape(n, c, math.prod(x.shape[2:]))
        flat = ind.reshape(n, c, math.prod(ind.shape[2:]))
        return get_array_module(x).take_along_axis(rows, flat, 2).reshape(ind.shape)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx._saved_arrays
        n, c = x.shape[:2]
        spread = _make(zeros_as(get_array_module(x), x, (n, c, math.prod(x.shape[2:])),
                                grad._data.dtype))
        outs = math.prod(ctx.ind.shape[2:])
        picked = spread.scatter_add(2, _make(ctx.ind.reshape(n, c, outs)),
                                    grad.reshape(n, c, outs))
        return with_saved_edge(picked.reshape(x.shape), ctx)


class AdaptiveMaxPick(_MaxPick, node_name="AdaptiveMaxPool2DBackward0"):
    pass


class FractionalMaxPick(_MaxPick, node_name="FractionalMaxPool2DBackward0"):
    pass


def _max_at(pick, x, flat, unbatched, return_indices):
    """Max of (N, C, *sp) over the windows ``flat`` gives (values, flat argmax indices): shared
    windows (*out, W) for adaptive pooling, per-plane windows (N, C, *out, W) for fractional."""
    xp = get_array_module(x._data)
    n, c = x.shape[:2]
    rows = x._data.reshape(n, c, math.prod(x.shape[2:]))
    if flat.ndim == x.ndim - 1:
        data = rows[:, :, flat]  # (N, C, *out, W)
    else:
        flat = xp.broadcast_to(flat, (n, c) + flat.shape[2:])
        data = xp.take_along_axis(rows, flat.reshape(n, c, math.prod(flat.shape[2:])),
                                  2).reshape(flat.shape)
    arg = data.argmax(-1)
    if _dt.np_kind(data.dtype) == "f":
        nan = xp.isnan(data)  # a NaN wins, the last one, as PyTorch's kernels take every NaN
        last = nan.shape[-1] - 1 - nan[..., ::-1].argmax(-1)
        arg = xp.where(nan.any(-1), last, arg)
    where = xp.take_along_axis(xp.broadcast_to(flat, data.shape), arg[..., None], -1)[..., 0]
    ind = _make(where.astype(xp.int64))
    out = pick.apply(x, where.astype(xp.int64))  # its own copy: ``ind`` is the caller's
    if unbatched:
        out, ind = out.squeeze(0), ind.squeeze(0)
    return (out, ind) if return_indices else out


def _adaptive_max(nd, input, output_size, return_indices):
    x, unbatched, sizes = _adaptive_input(input, nd, f"adaptive_max_pool{nd}d", output_size)
    if 0 in sizes:
        out = _empty_output(x, sizes, unbatched)
        return (out, _make(x._xp.zeros(out.shape, x._xp.int64))) if return_indices else out
    xp = get_array_module(x._data)
    # every window padded to the longest by repeating its last index (harmless for a max)
    idx = []
    for n, o in zip(x.shape[2:], sizes):
        starts, ends = K.adaptive_bounds(n, o)
        width = max(e - s for s, e in zip(starts, ends))
        st = xp.asarray(starts)[:, None]
        idx.append(xp.minimum(st + xp.arange(width), xp.asarray(ends)[:, None] - 1))
    return _max_at(AdaptiveMaxPick, x, _flat_windows(x.shape[2:], idx), unbatched,
                   return_indices)


def adaptive_max_pool1d_with_indices(input: Tensor, output_size,
                                       return_indices: bool = True):
    """adaptive_max_pool1d returning (values, flat argmax indices) by default."""
    return _adaptive_max(1, input, output_size, return_indices)


def adaptive_max_pool2d_with_indices(input: Tensor, output_size,
                                       return_indices: bool = True):
    """adaptive_max_pool2d returning (values, flat argmax indices) by default."""
    return _adaptive_max(2, input, output_size, return_indices)


def adaptive_max_pool3d_with_indices(input: Tensor, output_size,
                                       return_indices: bool = True):
    """adaptive_max_pool3d returning (values, flat argmax indices) by default."""
    return _adaptive_max(3, input, output_size, return_indices)


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    """Max over windows chosen so that the output has ``output_size`` positions."""
    return _adaptive_max(1, input, output_size, return_indices)


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Max over windows chosen so that the output is ``output_size``."""
    return _adaptive_max(2, input, output_size, return_indices)


def adaptive_max_pool3d(input: Tensor, output_size, return_indices: bool = False):
    """Max over windows chosen so that the output is ``output_size`` (D, H, W)."""
    return _adaptive_max(3, input, output_size, return_indices)


_DIM_NAMES = {2: ("height", "width"), 3: ("time", "height", "width")}


def _fractional_max(nd, input, kernel_size, output_size, output_ratio, return_indices,
                    _random_samples):
    op = f"fractional_max_pool{nd}d"
    if output_size is None and output_ratio is None:
        raise ValueError(f"{op} requires specifying either an output_size or an output_ratio")
    x, unbatched = _batched(input, nd, op)
    spatial = x.shape[2:]
    kernel = _tuple(kernel_size, nd, "kernel_size")
    if output_size is None:
        ratio = output_ratio if isinstance(output_ratio, (tuple, list)) else (output_ratio,) * nd
        output_size = [int(n * r) for n, r in zip(spatial, ratio)]
    outs = _tuple(output_size, nd, "output_size")
    # PyTorch's 3-D kernel also refuses a last window that ends exactly at the input's end
    room = 0 if nd == 2 else 1
    for name, n, k, o in zip(_DIM_NAMES[nd], spatial, kernel, outs):
        if o + k - 1 > n - room:
            raise RuntimeError(f"{op}{'_out' * (nd - 2)}(): pool {name} {k} too large relative "
                               f"to input {name} {n}")
    n, c = x.shape[:2]
    if _random_samples is None:
        _random_samples = rand(n, c, nd, dtype=x.dtype, device=x.device)
    u = _random_samples._data
    if u.ndim != 3 or u.shape[0] < n or u.shape[1] != c or u.shape[2] != nd:
        raise RuntimeError(f"{op}(): expected _random_samples of size ({n}, {c}, {nd}), but got "
                           f"{list(u.shape)}")
    xp = get_array_module(x._data)
    # samples are ordered (W, H) in 2-D and (T, H, W) in 3-D, as in PyTorch
    order = (1, 0) if nd == 2 else (0, 1, 2)
    idx = [K.fractional_starts(xp, u[:n, :, j], length, o, k)[..., None] + xp.arange(k)
           for j, length, o, k in zip(order, spatial, outs, kernel)]
    return _max_at(FractionalMaxPick, x, _flat_windows(spatial, idx), unbatched,
                   return_indices)


def fractional_max_pool2d_with_indices(input: Tensor, kernel_size, output_size=None,
                                       output_ratio=None, return_indices: bool = True,
                                       _random_samples: Tensor | None = None):
    """fractional_max_pool2d returning (values, flat argmax indices) by default."""
    return _fractional_max(2, input, kernel_size, output_size, output_ratio, return_indices,
                           _random_samples)


def fractional_max_pool3d_with_indices(input: Tensor, kernel_size, output_size=None,
                                       output_ratio=None, return_indices: bool = True,
                                       _random_samples: Tensor | None = None):
    """fractional_max_pool3d returning (values, flat argmax indices) by default."""
    return _fractional_max(3, input, kernel_size, output_size, output_ratio, return_indices,
                           _random_samples)


def fractional_max_pool2d(input: Tensor, kernel_size, output_size=None, output_ratio=None,
                          return_indices: bool = False, _random_samples: Tensor | None = None):
    """Max over pseudo-randomly placed ``kernel_size`` windows of (N, C, H, W) (Graham,
    "Fractional Max-Pooling"): the output is ``output_size``, or the input's size times
    ``output_ratio``; ``_random_samples`` (N, C, 2) in [0, 1) fixes the placement.

    Example::

        >>> F.fractional_max_pool2d(ember.randn(1, 3, 10, 10), 3, output_ratio=0.5).shape
        torch.Size([1, 3, 5, 5])
    """
    return _fractional_max(2, input, kernel_size, output_size, output_ratio, return_indices,
                           _random_samples)


def fractional_max_pool3d(input: Tensor, kernel_size, output_size=None, output_ratio=None,
                          return_indices: bool = False, _random_samples: Tensor | None = None):
    """Fractional max pooling over (N, C, T, H, W); ``_random_samples`` is (N, C, 3)."""
    return _fractional_max(3, input, kernel_size, output_size, output_ratio, return_indices,
                           _random_samples)
