"""ChannelShuffle and ``channel_shuffle`` (ShuffleNet's interleaving of channel groups)."""
from __future__ import annotations

from ember._tensor import Tensor
from ember.nn.modules.module import Module

__all__ = ["ChannelShuffle", "channel_shuffle", "native_channel_shuffle"]


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """Split the channels (dim 1) of (N, C, *) into ``groups`` and interleave them: channel
    ``g * (C // groups) + i`` moves to ``i * groups + g``.

    Example::

        >>> channel_shuffle(ember.arange(4.).reshape(1, 4, 1, 1), 2).flatten()
        tensor([0., 2., 1., 3.])
    """
    if input.ndim <= 2:
        raise RuntimeError("channel_shuffle expects input with > 2 dims, but got input with "
                           f"sizes {list(input.shape)}")
    if groups <= 0:
        raise RuntimeError("Number of groups to divide channels in must be positive. Value of "
                           f"groups:{groups}")
    n, c = input.shape[:2]
    if c % groups:
        raise RuntimeError("Number of channels must be divisible by groups. Got "
                           f"{c} channels and {groups} groups.")
    rest = tuple(input.shape[2:])
    grouped = input.reshape(n, groups, c // groups, *rest)
    return grouped.transpose(1, 2).reshape(n, c, *rest)


native_channel_shuffle = channel_shuffle


class ChannelShuffle(Module):
    """Divide the channels of (N, C, *) into ``groups`` and interleave them.

    Example::

        >>> ChannelShuffle(2)(ember.arange(4.).reshape(1, 4, 1, 1)).flatten()
        tensor([0., 2., 1., 3.])
    """

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, input: Tensor) -> Tensor:
        return channel_shuffle(input, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"
