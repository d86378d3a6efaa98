"""Pixel-coordinate helpers of the optical-flow models (torchvision's
``models.optical_flow._utils``): sampling at absolute pixel positions, the grid of pixel
coordinates, and upsampling a flow field."""
from __future__ import annotations

import ember
from ember._tensor import Tensor
from ember.nn import functional as F

__all__ = ["grid_sample", "make_coords_grid", "upsample_flow"]


def grid_sample(img: Tensor, absolute_grid: Tensor, mode: str = "bilinear",
                align_corners: bool | None = None) -> Tensor:
    """``F.grid_sample`` with the grid in pixels: ``absolute_grid[..., 0]`` is x in
    [0, W - 1], ``absolute_grid[..., 1]`` is y in [0, H - 1].

    Args:
        img: (N, C, H, W) values.
        absolute_grid: (N, H_out, W_out, 2) pixel positions (x, y).
        mode, align_corners: as in ``F.grid_sample`` (use align_corners=True, so that pixel
            centres 0 and W - 1 map to -1 and 1).

    Returns:
        (N, C, H_out, W_out) samples, zero outside the image.
    """
    h, w = img.shape[-2:]
    xgrid, ygrid = absolute_grid.split([1, 1], dim=-1)
    xgrid = 2 * xgrid / (w - 1) - 1
    # a single row (rectified stereo) keeps y as given: there is nothing to normalise by
    if h > 1:
        ygrid = 2 * ygrid / (h - 1) - 1
    normalized_grid = ember.cat([xgrid, ygrid], dim=-1)
    return F.grid_sample(img, normalized_grid, mode=mode, align_corners=align_corners)


def make_coords_grid(batch_size: int, h: int, w: int, device: str = "cpu") -> Tensor:
    """The (batch_size, 2, h, w) float32 grid whose channel 0 is each pixel's x (column) and
    channel 1 its y (row).

    Example::

        >>> make_coords_grid(1, 2, 3)[0, 0]
        tensor([[0., 1., 2.],
                [0., 1., 2.]])
    """
    device = ember.device(device)
    rows, cols = ember.meshgrid(ember.arange(h, device=device), ember.arange(w, device=device),
                                indexing="ij")
    coords = ember.stack([cols, rows], dim=0).float()
    return coords[None].repeat(batch_size, 1, 1, 1)


def upsample_flow(flow: Tensor, up_mask: Tensor | None = None, factor: int = 8) -> Tensor:
    """A (N, 2, H, W) flow at ``factor`` times the resolution, its vectors scaled by
    ``factor``.

    Without ``up_mask`` the flow is interpolated bilinearly (align_corners=True). With it, each
    of the factor x factor fine pixels in a coarse cell is a convex combination of the flow at
    the cell's 3x3 neighbourhood, weighted by the softmax (over the 9 neighbours) of
    ``up_mask`` (N, 9 * factor * factor, H, W) (RAFT, section 3.3 and appendix B).
    """
    batch_size, num_channels, h, w = flow.shape
    new_h, new_w = h * factor, w * factor
    if up_mask is None:
        return factor * F.interpolate(flow, size=(new_h, new_w), mode="bilinear",
                                      align_corners=True)
    up_mask = up_mask.view(batch_size, 1, 9, factor, factor, h, w).softmax(dim=2)
    neighbours = F.unfold(factor * flow, kernel_size=3, padding=1)
    neighbours = neighbours.view(batch_size, num_channels, 9, 1, 1, h, w)
    upsampled = (up_mask * neighbours).sum(dim=2)  # (N, C, factor, factor, H, W)
    return upsampled.permute(0, 1, 4, 2, 5, 3).reshape(batch_size, num_channels, new_h, new_w)
