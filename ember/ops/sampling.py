"""Sampling at fractional coordinates: ``grid_sample`` and ``affine_grid``.

Both compose differentiable ops, so the gradients to ``input``, ``grid`` and ``theta`` (and
higher-order ones) come from the pieces. A sample is one gather of the input's rows (one row of
channels per pixel) at every tap of every output point, weighted by interpolation coefficients
that are Tensors of the grid; the tap indices themselves are constants, as in PyTorch.
"""
from __future__ import annotations

import math
import warnings

from ember._tensor import Tensor, _make
from ember.ops._util import scalar_name
from ember.ops.elementwise import where
from ember.ops.linalg import matmul
from ember.ops.movement import stack

__all__ = ["grid_sample", "affine_grid"]

_ALIGN_WARNING = ("Default grid_sample and affine_grid behavior has changed to "
                  "align_corners=False since 1.3.0. Please specify align_corners=True if the old "
                  "behavior is desired. See the documentation of grid_sample for details.")
_INT_MAX = 2.0 ** 31 - 1
_CUBIC_A = -0.75  # PyTorch's bicubic coefficient


def _constant(array) -> Tensor:
    return _make(array)


def _unnormalize(coord: Tensor, size: int, align_corners: bool) -> Tensor:
    """Grid coordinates in [-1, 1] to pixel coordinates: -1 and 1 are the centres of the corner
    pixels with ``align_corners``, else their outer edges."""
    if align_corners:
        return (coord + 1) * ((size - 1) / 2)
    return (coord + 1) * (size / 2) - 0.5


def _clip(x: Tensor, size: int) -> Tensor:
    # where() rather than clamp: PyTorch's gradient is 0 on the bounds too, clamp's would be 1
    x = where(x <= 0, 0.0, x)
    return where(x >= size - 1, float(size - 1), x)


def _reflect(x: Tensor, twice_low: int, twice_high: int) -> Tensor:
    """Reflect ``x`` into [twice_low / 2, twice_high / 2] (given doubled, to stay integral)."""
    if twice_low == twice_high:
        return _constant(x._xp.zeros_like(x._data))
    low = twice_low / 2
    span = (twice_high - twice_low) / 2
    d = (x - low).abs()
    # (NumPy's bfloat16 over a Python float gives float32: back to d's dtype)
    flips = _constant(x._xp.floor(d._data / span).astype(d._data.dtype, copy=False))
    extra = d - flips * span
    return where((flips % 2) == 1, span - extra, extra) + low


def _pad_coordinate(x: Tensor, size: int, padding_mode: str, align_corners: bool) -> Tensor:
    if padding_mode == "border":
        x = _clip(x, size)
    elif padding_mode == "reflection":
        x = _reflect(x, 0, 2 * (size - 1)) if align_corners else _reflect(x, -1, 2 * size - 1)
        x = _clip(x, size)
    return x


def _index(xp, coordinate):
    """Integer tap indices; a coordinate no int can hold (huge, inf, nan) lands far outside,
    as PyTorch's safe_downgrade_to_int_range does."""
    bad = ~(xp.abs(coordinate) <= _INT_MAX)
    return xp.where(bad, -100, coordinate).astype(xp.int64)


def _cubic_weights(t: Tensor) -> list:
    a = _CUBIC_A

    def near(s):
        return ((a + 2) * s - (a + 3)) * s * s + 1

    def far(s):
        return ((a * s - 5 * a) * s + 8 * a) * s - 4 * a
    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def _taps(x: Tensor, size: int, mode: str, padding_mode: str, align_corners: bool) -> tuple:
    """The taps of every point along one spatial dim: (index array, weight Tensor or None),
    both (N, P, taps). An index may fall outside [0, size), where the tap reads zero."""
    xp = x._xp
    if mode == "bicubic":
        # bicubic pads each of its four integer taps, not the sample coordinate
        x = _unnormalize(x, size, align_corners)
        start = xp.floor(x._data)
        steps = _constant(start[..., None] + xp.arange(-1, 3, dtype=start.dtype))
        at = _pad_coordinate(steps, size, padding_mode, align_corners)
        return _index(xp, xp.trunc(at._data)), stack(_cubic_weights(x - _constant(start)), -1)
    x = _pad_coordinate(_unnormalize(x, size, align_corners), size, padding_mode, align_corners)
    if mode == "nearest":
        return _index(xp, xp.rint(x._data))[..., None], None  # rint: halves to even, as PyTorch
    start = xp.floor(x._data)
    frac = (x - _constant(start)).unsqueeze(-1)
    index = _index(xp, start)[..., None] + xp.arange(2)
    return index, stack([1 - frac, frac], -1).squeeze(-2)


def _check_grid_sample(input: Tensor, grid: Tensor, mode: str, padding_mode: str) -> None:
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError("nn.functional.grid_sample(): expected mode to be 'bilinear', "
                         f"'nearest' or 'bicubic', but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError("nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
                         f"'border', or 'reflection', but got: '{padding_mode}'")
    sizes = f"input with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}"
    if input.ndim != grid.ndim or input.ndim not in (4, 5):
        raise RuntimeError("grid_sampler(): expected 4D or 5D input and grid with same number "
                           f"of dimensions, but got {sizes}")
    if input.dtype != grid.dtype:
        raise RuntimeError(f"expected scalar type {scalar_name(input.dtype)} but found "
                           f"{scalar_name(grid.dtype)}")
    if input.shape[0] != grid.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, "
                           f"but got {sizes}")
    if grid.shape[-1] != input.ndim - 2:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {input.ndim - 2} in "
                           f"last dimension, but got grid with sizes {list(grid.shape)}")
    for d in range(2, input.ndim):
        if input.shape[d] == 0:
            raise RuntimeError("grid_sampler(): expected input to have non-empty spatial "
                               f"dimensions, but input has sizes {list(input.shape)} with "
                               f"dimension {d} being empty")
    if mode == "bicubic" and input.ndim != 4:
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")


def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear",
                padding_mode: str = "zeros", align_corners: bool | None = None) -> Tensor:
    """Samples ``input`` at the locations of ``grid``.

    Args:
        input: (N, C, H_in, W_in) or (N, C, D_in, H_in, W_in).
        grid: (N, H_out, W_out, 2) or (N, D_out, H_out, W_out, 3) of (x, y[, z]) in [-1, 1],
            x indexing the width.
        mode: 'bilinear' (trilinear for 5-D), 'nearest' or 'bicubic' (4-D only).
        padding_mode: what locations outside the input read: 'zeros', 'border' (the nearest
            edge pixel) or 'reflection' (the input mirrored at its borders).
        align_corners: whether -1 and 1 are the centres (True) or the outer edges (False, the
            default, with a warning when left None) of the corner pixels.

    Returns:
        (N, C, H_out, W_out) or (N, C, D_out, H_out, W_out).

    Example::

        >>> theta = ember.tensor([[[1.0, 0, 0], [0, 1, 0]]])
        >>> grid = F.affine_grid(theta, (1, 1, 4, 4), align_corners=False)
        >>> F.grid_sample(ember.rand(1, 1, 4, 4), grid, align_corners=False).shape
        torch.Size([1, 1, 4, 4])
    """
    _check_grid_sample(input, grid, mode, padding_mode)
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    xp = input._xp
    n, c = input.shape[:2]
    in_sizes = tuple(input.shape[2:])
    out_sizes = tuple(grid.shape[1:-1])
    nd = len(in_sizes)
    points = math.prod(out_sizes)
    length = math.prod(in_sizes)
    coords = grid.reshape(n, points, nd)
    # grid's last dim lists (x, y, z): the spatial dims in reverse
    taps = [_taps(coords[..., nd - 1 - d], in_sizes[d], mode, padding_mode, bool(align_corners))
            for d in range(nd)]
    # every combination of the taps of each dim, by broadcasting (N, P, T_0, T_1[, T_2])
    flat = (xp.arange(n, dtype=xp.int64) * length).reshape((n, 1) + (1,) * nd)
    valid = True
    weight = None
    stride = length
    for d, (size, (index, w)) in enumerate(zip(in_sizes, taps)):
        shape = [n, points] + [1] * nd
        shape[2 + d] = index.shape[-1]
        index = index.reshape(shape)
        stride //= size
        valid = valid & (index >= 0) & (index < size)
        flat = flat + xp.clip(index, 0, size - 1) * stride
        if w is not None:
            w = w.reshape(shape)
            weight = w if weight is None else weight * w
    flat = xp.broadcast_to(flat, xp.broadcast_shapes(flat.shape, valid.shape))
    taps_per_point = math.prod(flat.shape[2:])
    mask = _constant(xp.broadcast_to(valid, flat.shape).reshape(n, points, taps_per_point)
                     .astype(input._data.dtype))
    if weight is None:  # nearest: constant weights
        weight = mask
        if grid.requires_grad:  # PyTorch's nearest backward gives the grid a zero gradient
            weight = where(_constant(xp.zeros(mask.shape, bool)), coords[..., :1], mask)
    else:
        weight = weight.reshape(n, points, taps_per_point) * mask
    rows = input.reshape(n, c, length).transpose(1, 2).reshape(n * length, c)
    values = rows[_constant(flat.reshape(-1))].reshape(n, points, taps_per_point, c)
    out = (values * weight.unsqueeze(-1)).sum(2)
    return out.transpose(1, 2).reshape(n, c, *out_sizes)


def _base_coordinates(xp, size: int, align_corners: bool, dtype):
    if size <= 1:
        return xp.zeros(size, dtype)
    steps = xp.linspace(-1, 1, size, dtype=dtype)
    if align_corners:
        return steps
    return (steps * ((size - 1) / size)).astype(dtype, copy=False)  # bfloat16 * float: float32


def affine_grid(theta: Tensor, size, align_corners: bool | None = None) -> Tensor:
    """The sampling grid of the affine maps ``theta`` for :func:`grid_sample`.

    Args:
        theta: (N, 2, 3) for 2-D or (N, 3, 4) for 3-D affine matrices, mapping output
            coordinates (x, y[, z], 1) to input coordinates.
        size: the output size, (N, C, H, W) or (N, C, D, H, W).
        align_corners: as in :func:`grid_sample`; use the same value for both.

    Returns:
        (N, H, W, 2) or (N, D, H, W, 3).

    Example::

        >>> theta = ember.tensor([[[1.0, 0, 0], [0, 1, 0]]])
        >>> F.affine_grid(theta, (1, 3, 2, 2), align_corners=True)[0, 0]
        tensor([[-1., -1.],
                [ 1., -1.]])
    """
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    if not theta.dtype.is_floating_point:
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    size = tuple(int(s) for s in size)
    if len(size) not in (4, 5):
        raise NotImplementedError("affine_grid only supports 4D and 5D sizes, for 2D and 3D "
                                  f"affine transforms, respectively. Got size {size}.")
    nd = len(size) - 2
    if theta.ndim != 3 or tuple(theta.shape[1:]) != (nd, nd + 1):
        shape = "Nx2x3" if nd == 2 else "Nx3x4"
        raise ValueError(f"Expected a batch of {nd}D affine matrices of shape {shape} for size "
                         f"{size}. Got {theta.shape}.")
    spatial = size[2:]
    if align_corners and min(spatial) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size "
                      "grids when align_corners=True. This is not an intended use case of "
                      "affine_grid. See the documentation of affine_grid for details.",
                      stacklevel=2)
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    if theta.shape[0] != size[0]:
        raise RuntimeError(f"affine_grid: theta has batch size {theta.shape[0]} but size asks "
                           f"for {size[0]}")
    xp = theta._xp
    dtype = theta._data.dtype
    axes = [_base_coordinates(xp, s, bool(align_corners), dtype) for s in spatial]
    mesh = xp.meshgrid(*axes, indexing="ij")
    # homogeneous (x, y[, z], 1): x runs along the last spatial dim
    base = xp.stack([*mesh[::-1], xp.ones(spatial, dtype)], -1).reshape(-1, nd + 1)
    grid = matmul(_constant(base), theta.transpose(1, 2))
    return grid.reshape(size[0], *spatial, nd)
