"""Ops that resize the spatial dims without a learned kernel: pad (constant, reflect,
replicate, circular), interpolate and its upsample aliases (nearest by index_select, linear and
cubic modes by one matrix per dimension, area by adaptive average pooling), and pixel_shuffle /
pixel_unshuffle."""
from __future__ import annotations

import math

import numpy as np

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive
from ember.backend import kernels as K
from ember.backend.device import get_array_module
from ember.ops.adaptive_pooling import _adaptive_avg
from ember.ops.conv import _tuple
from ember.ops.index_along_dim import index_select
from ember.ops.linalg import matmul

__all__ = [
    "pad", "interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "pixel_shuffle",
    "pixel_unshuffle",
]


# ----------------------------------------------------------------------------------------------
# Padding

class ConstantPad(Primitive, node_name="ConstantPadNdBackward0"):
    @staticmethod
    def forward(ctx, x, pads, value):
        ctx.pads = pads
        return K.pad(x, pads, "constant", value)

    @staticmethod
    def backward(ctx, grad):
        return ConstantPad.apply(grad, tuple((-lo, -hi) for lo, hi in ctx.pads), 0)


def _pad_index(xp, length: int, lo: int, hi: int, mode: str):
    i = xp.arange(-lo, length + hi)
    if mode == "reflect":
        i = xp.abs(i)
        return (length - 1) - xp.abs((length - 1) - i)
    if mode == "replicate":
        return xp.clip(i, 0, length - 1)
    # circular: a negative pad crops that side first, then the rest wraps what is left
    start, kept = max(-lo, 0), length - max(-lo, 0) - max(-hi, 0)
    return xp.arange(-max(lo, 0), kept + max(hi, 0)) % kept + start


def pad(input: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pads the last ``len(pad) // 2`` dimensions; ``pad`` lists (left, right) for the last
    dimension first, as in PyTorch. Modes: constant, reflect, replicate, circular."""
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    nd = len(pad) // 2
    if nd > input.ndim:
        raise RuntimeError("Padding length should be less than or equal to two times the input "
                           "dimension but got padding length "
                           f"{len(pad)} and input of dimension {input.ndim}")
    pads = tuple((int(pad[2 * i]), int(pad[2 * i + 1])) for i in reversed(range(nd)))
    if mode == "constant":
        if min(pad, default=0) < 0 and any(n + lo + hi < 0 for n, (lo, hi)
                                           in zip(input.shape[input.ndim - nd:], pads)):
            raise RuntimeError("narrow(): length must be non-negative.")
        return ConstantPad.apply(input, pads, 0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if input.ndim == nd:  # no batch or channel dim (PyTorch also refuses more leading dims)
        raise NotImplementedError(f"Padding size {len(pad)} is not supported for {input.ndim}D "
                                  "input tensor.")
    if mode != "circular" and 0 in input.shape[input.ndim - nd - 1:]:
        raise RuntimeError(f"Expected {nd + 1}D or {nd + 2}D (batch mode) tensor with possibly 0 "
                           f"batch size and other non-zero dimensions for input, but got: "
                           f"{list(input.shape)}")
    if value:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    xp = get_array_module(input._data)
    out = input
    for i, (lo, hi) in enumerate(pads):
        dim = input.ndim - nd + i
        length = input.shape[dim]
        if length + lo + hi < 0:
            raise RuntimeError(f"Negative padding value is resulting in a negative size "
                               f"{length + lo + hi} at dimension {dim}")
        if mode == "reflect" and (lo >= length or hi >= length):
            raise RuntimeError(f"Argument #{2 + 2 * nd}: Padding size should be less than the "
                               f"corresponding input dimension, but got: padding ({lo}, {hi}) "
                               f"at dimension {dim} of input {list(input.shape)}")
        if mode == "circular" and (lo > length or hi > length):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        index = _make(_pad_index(xp, length, lo, hi, mode))
        out = index_select(out, dim, index)
    return out


# ----------------------------------------------------------------------------------------------
# Interpolation: nearest by index_select, (bi/tri)linear and bicubic by one matrix per dimension

def _source(xp, out: int, length: int, scale, align_corners: bool, dtype):
    dst = xp.arange(out, dtype=dtype)
    if align_corners:
        return dst * ((length - 1) / (out - 1) if out > 1 else 0.0)
    ratio = 1.0 / scale if scale else length / out
    return (dst + 0.5) * ratio - 0.5


def _linear_matrix(xp, length, out, scale, align_corners, dtype, rounded=None):
    """The (out, length) linear-interpolation weights; ``rounded``, a half dtype, rounds them
    as PyTorch's half kernels do (lambda to it, then 1 - lambda)."""
    src = xp.maximum(_source(xp, out, length, scale, align_corners, dtype), 0)
    i0 = xp.minimum(xp.floor(src).astype(xp.int64), length - 1)
    i1 = xp.minimum(i0 + 1, length - 1)
    lam = src - i0
    lam0 = 1 - lam
    if rounded is not None:
        lam = lam.astype(rounded).astype(dtype)
        lam0 = (1 - lam).astype(rounded).astype(dtype)
    rows = xp.arange(out)
    mat = xp.zeros((out, length), dtype)
    mat[rows, i0] += lam0
    mat[rows, i1] += lam
    return mat


def _cubic_matrix(xp, length, out, scale, align_corners, dtype, rounded=None):
    """The (out, length) bicubic weights; ``rounded``, a half dtype, rounds each of them to it
    (before the clamped border taps add up), as PyTorch's half kernel does."""
    a = -0.75  # PyTorch's bicubic coefficient
    src = _source(xp, out, length, scale, align_corners, dtype)
    i0 = xp.floor(src).astype(xp.int64)
    t = src - i0

    def near(x):
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    weights = (far(t + 1), near(t), near(1 - t), far(2 - t))
    rows = xp.arange(out)
    mat = xp.zeros((out, length), dtype)
    for k, w in zip(range(-1, 3), weights):
        if rounded is not None:
            w = w.astype(rounded).astype(dtype)
        mat[rows, xp.clip(i0 + k, 0, length - 1)] += w
    return mat


# Antialiased resampling (PIL's filters): each output sample averages the inputs under the
# filter stretched by the downscaling ratio; the filters' half-widths.
_ANTIALIAS_SUPPORT = {"bilinear": 1.0, "bicubic": 2.0, "lanczos": 3.0}


def _antialias_filter(mode: str, x):
    ax = np.abs(x)
    if mode == "bilinear":
        return np.maximum(0.0, 1.0 - ax)
    if mode == "bicubic":
        a = -0.5  # PIL's coefficient, which PyTorch's antialiased bicubic uses
        return np.where(ax < 1, ((a + 2) * ax - (a + 3)) * ax * ax + 1,
                        np.where(ax < 2, ((a * ax - 5 * a) * ax + 8 * a) * ax - 4 * a, 0.0))
    return np.where(ax < 3, np.sinc(x) * np.sinc(x / 3), 0.0)  # Lanczos-3


def _antialias_matrix(xp, length, out, scale, align_corners, dtype, mode):
    """The (out, length) weights of antialiased resampling along one axis: output ``i`` centred
    at ``ratio * (i + 0.5)``, the filter widened by ``ratio`` when downscaling, each row's
    weights normalised to sum to one."""
    if align_corners:
        ratio = (length - 1) / (out - 1) if out > 1 else 0.0
    else:
        ratio = 1.0 / scale if scale else length / out
    stretch = max(ratio, 1.0)
    support = _ANTIALIAS_SUPPORT[mode] * stretch
    mat = np.zeros((out, length))
    for i in range(out):
        center = ratio * (i + 0.5)
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), length)
        weights = _antialias_filter(mode, (np.arange(lo, hi) - center + 0.5) / stretch)
        total = weights.sum()
        mat[i, lo:hi] = weights / total if total != 0 else weights
    return xp.asarray(mat.astype(dtype))


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resizes (N, C, *spatial) to ``size`` or by ``scale_factor``. Modes: nearest,
    nearest-exact, linear, bilinear, bicubic, trilinear, area."""
    nd = input.ndim - 2
    if nd < 1:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got "
                                  f"{input.ndim}D) for the modes: nearest | linear | bilinear | "
                                  f"bicubic | trilinear | area | nearest-exact (got {mode})")
    linear_modes = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3, "lanczos": 2}
    if mode in linear_modes and linear_modes[mode] != nd:
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs "
                                  f"{linear_modes[mode] + 2}D input")
    if align_corners is not None and mode not in linear_modes:
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if mode == "lanczos" and not antialias:
        raise ValueError("Lanczos mode requires antialias=True")
    if mode == "lanczos" and align_corners:
        raise ValueError("Lanczos mode does not support align_corners=True")
    if antialias and (mode not in _ANTIALIAS_SUPPORT or input.ndim != 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos "
                         "modes and requires a 4-D tensor as input")
    if size is None and scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    spatial = input.shape[2:]
    given = size if size is not None else scale_factor
    if isinstance(given, (tuple, list)) and len(given) not in (1, nd):
        what, got, form = (("output", f"output size of {size}", "output size in (o1, o2, ...,oK)")
                           if size is not None else
                           ("scale_factor", f"scale_factor of shape {scale_factor}",
                            "scale_factor in (s1, s2, ...,sK)"))
        raise ValueError(f"Input and {what} must have the same number of spatial dimensions, "
                         f"but got input with spatial dimensions of {list(spatial)} and {got}. "
                         f"Please provide input tensor in (N, C, d1, d2, ...,dK) format and "
                         f"{form} format.")
    if size is not None:
        outs = _tuple(size, nd, "size")
        scales = (None,) * nd
    else:
        factors = _tuple_float(scale_factor, nd)
        outs = tuple(int(math.floor(n * f)) for n, f in zip(spatial, factors))
        scales = (None,) * nd if recompute_scale_factor else factors
    if mode == "area":
        return _adaptive_avg(nd, input, outs)
    xp = get_array_module(input._data)
    out = input
    passes = list(zip(range(2, 2 + nd), spatial, outs, scales))
    as_bytes = mode in linear_modes and input.dtype is _dt.uint8
    if as_bytes:  # as PyTorch's uint8 kernels: the last dim first, rounded to bytes each pass
        out = input.float()
        passes.reverse()
    half = mode in linear_modes and _dt.is_half(input._data.dtype)
    if half:  # sums in float32, rounded once
        out = input.float()
    dtype = out._data.dtype
    for dim, n, o, s in passes:
        if mode in ("nearest", "nearest-exact"):
            ratio = 1.0 / s if s else n / o
            shift = 0.5 if mode == "nearest-exact" else 0.0
            src = xp.floor((xp.arange(o) + shift) * ratio).astype(xp.int64)
            out = index_select(out, dim, _make(xp.minimum(src, n - 1)))
        elif mode in linear_modes:
            if antialias:
                mat = _antialias_matrix(xp, n, o, s, bool(align_corners), dtype, mode)
            elif mode == "bicubic":
                mat = _cubic_matrix(xp, n, o, s, bool(align_corners), dtype,
                                    input._data.dtype if half else None)
            else:  # (PyTorch's half bilinear kernel keeps float32 weights, its others not)
                rounded = input._data.dtype if half and mode != "bilinear" else None
                mat = _linear_matrix(xp, n, o, s, bool(align_corners), dtype, rounded)
            out = matmul(out.movedim(dim, -1), _make(mat.T.copy())).movedim(-1, dim)
            if as_bytes:
                out = (out + 0.5).floor().clamp(0, 255)  # half up, as its fixed point
        else:
            raise NotImplementedError(f"interpolate: unsupported mode '{mode}'")
    if half:
        return out.to(input.dtype)
    return out.to(_dt.uint8) if as_bytes else out


def _tuple_float(value, n: int) -> tuple:
    if isinstance(value, (tuple, list)):
        return tuple(float(v) for v in value)
    return (float(value),) * n


def upsample(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
             align_corners: bool | None = None) -> Tensor:
    """Deprecated alias of :func:`interpolate`."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """Deprecated: ``interpolate(..., mode='nearest')``."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """Deprecated: ``interpolate(..., mode='bilinear', align_corners=True)``."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# ----------------------------------------------------------------------------------------------
# Pixel shuffle

def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C*r^2, H, W) -> (*, C, H*r, W*r)."""
    r = upscale_factor
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but input.size(-3)={c} "
                           f"is not divisible by {r * r}")
    n = len(lead)
    x = input.reshape(tuple(lead) + (c // (r * r), r, r, h, w))
    order = tuple(range(n)) + (n, n + 3, n + 1, n + 4, n + 2)
    return x.permute(order).reshape(tuple(lead) + (c // (r * r), h * r, w * r))


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H*r, W*r) -> (*, C*r^2, H, W)."""
    r = downscale_factor
    *lead, c, h, w = input.shape
    for name, dim, n in (("height", -2, h), ("width", -1, w)):
        if n % r:
            raise RuntimeError(f"pixel_unshuffle expects {name} to be divisible by "
                               f"downscale_factor, but input.size({dim})={n} is not divisible "
                               f"by {r}")
    n = len(lead)
    x = input.reshape(tuple(lead) + (c, h // r, r, w // r, r))
    order = tuple(range(n)) + (n, n + 2, n + 4, n + 1, n + 3)
    return x.permute(order).reshape(tuple(lead) + (c * r * r, h // r, w // r))
