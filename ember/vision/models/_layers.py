"""What GoogLeNet and Inception v3 share: their conv-BN-ReLU unit and the re-normalisation of
ImageNet inputs for their ported TensorFlow weights.

The other shared layers (Conv2dNormActivation, SqueezeExcitation, StochasticDepth, MLP,
Permute) come from ember.vision.ops through ``_ops``."""
from __future__ import annotations

from typing import Any

from ember import cat, nn
from ember._tensor import Tensor
from ember.nn import functional as F

__all__ = ["BasicConv2d", "imagenet_to_inception_input"]


class BasicConv2d(nn.Module):
    """Conv2d without bias (``kwargs`` to it), BatchNorm (eps 0.001) and ReLU: the unit of
    GoogLeNet and Inception v3, keys ``conv`` and ``bn``."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs: Any) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


def imagenet_to_inception_input(x: Tensor) -> Tensor:
    """Re-normalise the first three channels of an ImageNet-normalised batch
    (``(v - mean) / std``) to the ``(v - 0.5) / 0.5`` the ported TensorFlow weights expect."""
    channels = [x[:, c:c + 1] * (std / 0.5) + (mean - 0.5) / 0.5
                for c, (mean, std) in enumerate(((0.485, 0.229), (0.456, 0.224),
                                                 (0.406, 0.225)))]
    return cat(channels, 1)
