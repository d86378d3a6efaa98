"""Warps of tensor images as torchvision computes them: a grid of sampling points in
``grid_sample``'s normalised units (-1 and 1 are the outer edges of the border pixels), read
with zeros outside, then a custom ``fill`` blended in by an extra channel of ones sampled the
same way. The float32 arithmetic follows PyTorch's CPU kernels step by step, so integer images
round to the same values. PIL images are warped by PIL elsewhere."""
from __future__ import annotations

import numpy as np

from ember._tensor import Tensor, _make
from ember.backend.device import get_array_module


def fma(a, b, c):
    """``a * b + c`` rounded once to ``c``'s float dtype, as the fused multiply-adds of
    PyTorch's CPU kernels (float32 through float64, which holds the product exactly; float64
    through long double where NumPy has it)."""
    xp = get_array_module(c)
    dtype = c.dtype
    wide = np.float64 if dtype == np.float32 else (np.longdouble if xp is np else dtype)
    return (xp.asarray(a).astype(wide) * xp.asarray(b).astype(wide)
            + c.astype(wide)).astype(dtype)


def _grid_dtype(data) -> np.dtype:
    """Float images are sampled in their own dtype, integer ones in float32."""
    return data.dtype if np.issubdtype(data.dtype, np.floating) else np.dtype(np.float32)


def linspace(start: float, end: float, steps: int, dtype=np.dtype(np.float32)) -> np.ndarray:
    """``torch.linspace`` in ``dtype`` on the CPU: a step rounded to ``dtype``, the first half
    ``start + step * i`` and the rest ``end - step * (steps - 1 - i)``, each one fused
    multiply-add."""
    start, end = dtype.type(start), dtype.type(end)
    if steps == 1:
        return np.array([start], dtype)
    step = (end - start) / dtype.type(steps - 1)
    i = np.arange(steps)
    first = i < steps // 2
    return np.where(first, fma(step, i, np.full(steps, start, dtype)),
                    fma(-step, steps - 1 - i, np.full(steps, end, dtype)))


def _centres(size: int, dtype) -> np.ndarray:
    """Output pixel centres about the middle: ``-(size - 1) / 2, ..., (size - 1) / 2``."""
    return (np.arange(size, dtype=np.float64) - (size - 1) * 0.5).astype(dtype)


def affine_grid(matrix, w: int, h: int, ow: int, oh: int, dtype) -> tuple:
    """The (x, y) grids ``(oh, ow)`` at which an ``ow x oh`` output reads a ``w x h`` input,
    for the output-to-input ``matrix`` (six values, centred coordinates): the matrix over
    ``(w / 2, h / 2)``, applied to the output pixel centres in ``dtype``."""
    theta = np.asarray(matrix, np.float64).astype(dtype).reshape(2, 3)
    theta = theta / np.array([[0.5 * w], [0.5 * h]], dtype)
    x, y = _centres(ow, dtype)[None, :], _centres(oh, dtype)[:, None]
    return (x * theta[0, 0] + y * theta[0, 1] + theta[0, 2],
            x * theta[1, 0] + y * theta[1, 1] + theta[1, 2])


def expanded_size(matrix, w: int, h: int) -> tuple:
    """torchvision's ``(width, height)`` of the canvas an expanding warp by the output-to-input
    ``matrix`` makes: the canvas corners, taken about the middle, moved in float32, cut to 1e-4
    (so that 1e-15 does not ceil to a whole pixel), then whole pixels around them."""
    theta = np.asarray(matrix, np.float64).astype(np.float32).reshape(2, 3)
    half = np.array([0.5 * w, 0.5 * h], np.float32)
    corners = np.array([[-1, -1], [-1, 1], [1, 1], [1, -1]], np.float32) * half
    moved = corners @ theta[:, :2].T + theta[:, 2]
    low, high = moved.min(axis=0) + half, moved.max(axis=0) + half
    tol = np.float32(1e-4)
    size = (np.ceil(np.trunc(high * np.float32(1.0 / tol)) * tol)
            - np.floor(np.trunc(low * np.float32(1.0 / tol)) * tol))
    return int(size[0]), int(size[1])


def perspective_grid(coefficients, ow: int, oh: int, dtype) -> tuple:
    """The (x, y) grids for PIL's eight output-to-input ``coefficients`` (pixel coordinates,
    x sampled at ``i + 0.5``): numerators over ``(w / 2, h / 2)``, over the denominator, less 1."""
    a, b, c, d, e, f, g, h = (np.asarray(coefficients, np.float64).astype(dtype))
    one = dtype.type(1.0)
    x = (np.arange(ow, dtype=np.float64) + 0.5).astype(dtype)[None, :]
    y = (np.arange(oh, dtype=np.float64) + 0.5).astype(dtype)[:, None]
    half_w, half_h = dtype.type(0.5 * ow), dtype.type(0.5 * oh)
    den = x * g + y * h + one
    return ((x * (a / half_w) + y * (b / half_w) + c / half_w) / den - one,
            (x * (d / half_h) + y * (e / half_h) + f / half_h) / den - one)


def _sample(planes, gx, gy, nearest: bool):
    """``grid_sample`` (align_corners=False, zeros outside) of ``planes`` (N, H, W) at the
    grids, in the order and fusion of PyTorch's vectorised CPU kernel: pixel coordinates
    ``(g + 1) * size / 2 - 1 / 2`` and the four corners' sum as fused multiply-adds."""
    xp = get_array_module(planes)
    h, w = planes.shape[-2:]
    dtype = planes.dtype
    one, half = dtype.type(1), dtype.type(0.5)
    minus_half = xp.full(gx.shape, -half, dtype)
    x = fma(gx + one, dtype.type(w / 2), minus_half)
    y = fma(gy + one, dtype.type(h / 2), minus_half)

    def read(yy, xx):
        inside = (xx > -1) & (xx < w) & (yy > -1) & (yy < h)
        values = planes[:, xp.clip(yy, 0, h - 1), xp.clip(xx, 0, w - 1)]
        return xp.where(inside, values, dtype.type(0))
    if nearest:
        return read(xp.rint(y).astype(np.int64), xp.rint(x).astype(np.int64))
    x_w, y_n = xp.floor(x), xp.floor(y)
    west, north = x - x_w, y - y_n
    east, south = one - west, one - north
    ix, iy = x_w.astype(np.int64), y_n.astype(np.int64)
    out = read(iy, ix) * (south * east)
    out = fma(read(iy, ix + 1), south * west, out)
    out = fma(read(iy + 1, ix), north * east, out)
    return fma(read(iy + 1, ix + 1), north * west, out)


def apply_grid(img: Tensor, gx, gy, mode: str, fill, v2: bool) -> Tensor:
    """torchvision's ``_apply_grid_transform``: ``img`` (..., C, H, W) sampled at the grids
    (``mode`` "nearest" or "bilinear"); where ``fill`` is given (a number or one per channel),
    uncovered pixels take it: chosen where the sampled ones fall below 0.5 (nearest), or
    blended by them, as ``img * m + (1 - m) * fill`` (v1) or ``(img - fill) * m + fill`` (v2).
    Integer images are rounded back."""
    data = img._data
    xp = get_array_module(data)
    dtype = _grid_dtype(data)
    h, w = data.shape[-2:]
    channels = data.shape[-3] if data.ndim > 2 else 1  # a 2-D mask is one channel
    planes = data.reshape(-1, h, w).astype(dtype, copy=False)
    nearest = mode == "nearest"
    gx, gy = xp.asarray(gx, dtype), xp.asarray(gy, dtype)
    out = _sample(planes, gx, gy, nearest).reshape(-1, channels, *gx.shape)
    if fill is not None:
        mask = _sample(xp.ones((1, h, w), dtype), gx, gy, nearest)[:, None]
        fills = xp.asarray(fill if isinstance(fill, (list, tuple)) else [float(fill)],
                           dtype).reshape(-1, 1, 1)
        if nearest:
            out = xp.where(mask < 0.5, fills, out)
        elif v2:
            out = (out - fills) * mask + fills
        else:
            out = out * mask + (dtype.type(1.0) - mask) * fills
    if dtype != data.dtype:
        out = xp.round(out)
    return _make(out.astype(data.dtype).reshape(*data.shape[:-2], *gx.shape))


def _mode(interpolation) -> str:
    mode = getattr(interpolation, "value", interpolation)
    if mode not in ("nearest", "bilinear"):
        raise ValueError(f"Interpolation mode '{mode}' is unsupported with Tensor input")
    return mode


def centred(center, w: int, h: int) -> list:
    """A pixel ``center`` (None: the middle) about the middle of a ``w x h`` image."""
    return [0.0, 0.0] if center is None else [float(c) - s * 0.5 for c, s in zip(center, (w, h))]


def warp_affine(img: Tensor, matrix, interpolation, fill, v2: bool,
                expand: bool = False) -> Tensor:
    """``img`` warped by the output-to-input ``matrix`` (centred coordinates), on a canvas of
    ``expanded_size`` if ``expand``."""
    mode = _mode(interpolation)
    h, w = img.shape[-2:]
    ow, oh = expanded_size(matrix, w, h) if expand else (w, h)
    gx, gy = affine_grid(matrix, w, h, ow, oh, _grid_dtype(img._data))
    return apply_grid(img, gx, gy, mode, fill, v2)


def warp_perspective(img: Tensor, coefficients, interpolation, fill, v2: bool) -> Tensor:
    """``img`` warped by PIL's eight output-to-input ``coefficients``."""
    mode = _mode(interpolation)
    h, w = img.shape[-2:]
    gx, gy = perspective_grid(coefficients, w, h, _grid_dtype(img._data))
    return apply_grid(img, gx, gy, mode, fill, v2)


def warp_elastic(img: Tensor, displacement: Tensor, interpolation, fill, v2: bool) -> Tensor:
    """``img`` sampled at the identity grid (pixel centres, ``linspace(-1 + 1/w, 1 - 1/w)``)
    plus ``displacement`` ((1, H, W, 2), x then y, in grid units)."""
    mode = _mode(interpolation)
    h, w = img.shape[-2:]
    if tuple(displacement.shape) != (1, h, w, 2):
        raise ValueError(f"Argument displacement shape should be {(1, h, w, 2)}, but given "
                         f"{tuple(displacement.shape)}")
    dtype = _grid_dtype(img._data)
    xp = get_array_module(img._data)
    shift = xp.asarray(displacement.to(img.device)._data[0], dtype)
    gx = xp.asarray(linspace((1 - w) / w, (w - 1) / w, w, dtype))[None, :] + shift[..., 0]
    gy = xp.asarray(linspace((1 - h) / h, (h - 1) / h, h, dtype))[:, None] + shift[..., 1]
    return apply_grid(img, gx, gy, mode, fill, v2)
