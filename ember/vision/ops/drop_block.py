"""DropBlock (torchvision's ``ops.drop_block``)."""
from __future__ import annotations

import math

import ember
from ember import nn
from ember._tensor import Tensor
from ember.nn import functional as F
from ember.vision.ops.stochastic_depth import _check_p


def _drop_block(input: Tensor, p: float, block_size: int, inplace: bool, eps: float,
                training: bool, dims: int) -> Tensor:
    _check_p(p)
    if input.ndim != dims + 2:
        raise ValueError(f"input should be {dims + 2} dimensional. Got {input.ndim} dimensions.")
    if not training or p == 0.0:
        return input
    spatial = input.shape[2:]
    block_size = min(block_size, *spatial)
    seeds = 1
    for s in spatial:
        seeds *= s - block_size + 1
    # seed rate so that about a fraction p of the positions ends up inside a dropped block
    gamma = p * math.prod(spatial) / (block_size ** dims * seeds)
    noise = ember.empty((*input.shape[:2], *(s - block_size + 1 for s in spatial)),
                        dtype=input.dtype, device=input.device).bernoulli_(gamma)
    pad = block_size // 2
    noise = F.pad(noise, [pad] * (2 * dims), value=0)
    pool = F.max_pool2d if dims == 2 else F.max_pool3d
    noise = 1 - pool(noise, kernel_size=block_size, stride=1, padding=pad)
    normalize_scale = noise.numel() / (eps + noise.sum())
    if inplace:
        return input.mul_(noise).mul_(normalize_scale)
    return input * noise * normalize_scale


def drop_block2d(input: Tensor, p: float, block_size: int, inplace: bool = False,
                 eps: float = 1e-06, training: bool = True) -> Tensor:
    """DropBlock (Ghiasi et al., 2018) on Tensor[N, C, H, W]: drop square ``block_size`` regions
    of each channel so that about a fraction ``p`` of it is zeroed, then rescale to keep the
    mean."""
    return _drop_block(input, p, block_size, inplace, eps, training, 2)


def drop_block3d(input: Tensor, p: float, block_size: int, inplace: bool = False,
                 eps: float = 1e-06, training: bool = True) -> Tensor:
    """DropBlock on Tensor[N, C, D, H, W] with cubic blocks; see :func:`drop_block2d`."""
    return _drop_block(input, p, block_size, inplace, eps, training, 3)


class DropBlock2d(nn.Module):
    """Module form of :func:`drop_block2d` (active in training mode only)."""

    def __init__(self, p: float, block_size: int, inplace: bool = False,
                 eps: float = 1e-06) -> None:
        super().__init__()
        self.p = p
        self.block_size = block_size
        self.inplace = inplace
        self.eps = eps

    def forward(self, input: Tensor) -> Tensor:
        return drop_block2d(input, self.p, self.block_size, self.inplace, self.eps,
                            self.training)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(p={self.p}, block_size={self.block_size}, "
                f"inplace={self.inplace})")


class DropBlock3d(DropBlock2d):
    """Module form of :func:`drop_block3d` (active in training mode only)."""

    def forward(self, input: Tensor) -> Tensor:
        return drop_block3d(input, self.p, self.block_size, self.inplace, self.eps,
                            self.training)
