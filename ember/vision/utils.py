"""``make_grid`` and ``save_image``: tile a batch of images, write it as a picture."""
from __future__ import annotations

import math

import numpy as np

from ember._tensor import Tensor, _make


def make_grid(tensor: Tensor | list, nrow: int = 8, padding: int = 2, normalize: bool = False,
              value_range: tuple | None = None, scale_each: bool = False,
              pad_value: float = 0.0) -> Tensor:
    """Tile a (B, C, H, W) batch (or a list of CHW images) into one (3 or C, H', W') image,
    ``nrow`` images per row, ``padding`` pixels of ``pad_value`` between them.

    ``normalize`` shifts each image (``scale_each``) or the batch to [0, 1] using
    ``value_range`` (default: min and max).
    """
    if isinstance(tensor, (list, tuple)):
        data = np.stack([t._data for t in tensor])
    elif isinstance(tensor, Tensor):
        data = tensor.detach().cpu()._data
    else:
        raise TypeError(f"tensor or list of tensors expected, got {type(tensor)}")
    if data.ndim == 2:
        data = data[None]
    if data.ndim == 3:
        data = data[None]
    if data.ndim != 4:
        raise ValueError(f"make_grid: expected a 2-, 3- or 4-D tensor, got {data.ndim}-D")
    if data.shape[1] == 1:
        data = np.concatenate([data] * 3, axis=1)
    if normalize:
        data = data.astype(np.float32, copy=True)
        groups = data if scale_each else data[None]
        for img in groups:
            low, high = value_range if value_range is not None else (img.min(), img.max())
            np.clip(img, low, high, out=img)
            img -= low
            img /= max(high - low, 1e-5)
    n, c, h, w = data.shape
    if n == 1:
        return _make(data[0].copy())
    xmaps = min(nrow, n)
    ymaps = int(math.ceil(n / xmaps))
    height, width = h + padding, w + padding
    grid = np.full((c, height * ymaps + padding, width * xmaps + padding), pad_value,
                   data.dtype)
    for k in range(n):
        y, x = divmod(k, xmaps)
        grid[:, y * height + padding:y * height + padding + h,
             x * width + padding:x * width + padding + w] = data[k]
    return _make(grid)


def save_image(tensor: Tensor | list, fp, format: str | None = None, **kwargs) -> None:  # noqa: A002
    """Save a tensor (or a batch, tiled by ``make_grid(**kwargs)``) with values in [0, 1] as
    an image file (PNG, JPEG, ... by extension or ``format``)."""
    from PIL import Image
    grid = make_grid(tensor, **kwargs)._data
    arr = np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    Image.fromarray(np.ascontiguousarray(arr)).save(fp, format=format)
