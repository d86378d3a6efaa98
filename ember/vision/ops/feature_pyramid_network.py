"""Feature Pyramid Network (Lin et al., 2017; torchvision's ``ops.feature_pyramid_network``)."""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from ember import nn
from ember._tensor import Tensor
from ember.nn import functional as F
from ember.vision.ops.misc import Conv2dNormActivation


class ExtraFPNBlock(nn.Module):
    """Base of the blocks that add levels on top of the FPN's outputs. ``forward(results, x,
    names)`` takes the FPN outputs, the original features and their names and returns the
    extended results and names."""

    def forward(self, results: list[Tensor], x: list[Tensor],
                names: list[str]) -> tuple[list[Tensor], list[str]]:
        raise NotImplementedError


class LastLevelMaxPool(ExtraFPNBlock):
    """Adds a ``'pool'`` level: the last output subsampled by 2 (max pool, kernel 1)."""

    def forward(self, x: list[Tensor], y: list[Tensor],
                names: list[str]) -> tuple[list[Tensor], list[str]]:
        names.append("pool")
        x.append(F.max_pool2d(x[-1], kernel_size=1, stride=2, padding=0))
        return x, names


def _init_convs(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_uniform_(m.weight, a=1)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)


class LastLevelP6P7(ExtraFPNBlock):
    """RetinaNet's extra levels P6 and P7: stride-2 3x3 convolutions on P5 (when its width is
    ``out_channels``) or on C5."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.p6 = nn.Conv2d(in_channels, out_channels, 3, 2, 1)
        self.p7 = nn.Conv2d(out_channels, out_channels, 3, 2, 1)
        _init_convs(self)
        self.use_P5 = in_channels == out_channels

    def forward(self, p: list[Tensor], c: list[Tensor],
                names: list[str]) -> tuple[list[Tensor], list[str]]:
        p6 = self.p6(p[-1] if self.use_P5 else c[-1])
        p7 = self.p7(F.relu(p6))
        p.extend([p6, p7])
        names.extend(["p6", "p7"])
        return p, names


class FeaturePyramidNetwork(nn.Module):
    """Top-down pathway with lateral connections over a dict of feature maps (highest resolution
    first): a 1x1 ``inner_blocks`` conv per level, nearest upsampling of the coarser level added
    to it, then a 3x3 ``layer_blocks`` conv; ``extra_blocks`` may add levels.

    Args:
        in_channels_list (list[int]): channels of each input level.
        out_channels (int): channels of every output level.
        extra_blocks (ExtraFPNBlock, optional): e.g. :class:`LastLevelMaxPool`.
        norm_layer (callable, optional): normalization after each conv.

    Example::

        >>> fpn = FeaturePyramidNetwork([4, 8], 5)
        >>> out = fpn(OrderedDict(a=ember.rand(1, 4, 8, 8), b=ember.rand(1, 8, 4, 4)))
        >>> [tuple(v.shape) for v in out.values()]
        [(1, 5, 8, 8), (1, 5, 4, 4)]
    """

    _version = 2

    def __init__(self, in_channels_list: list[int], out_channels: int,
                 extra_blocks: ExtraFPNBlock | None = None,
                 norm_layer: Callable[..., nn.Module] | None = None) -> None:
        super().__init__()
        self.inner_blocks = nn.ModuleList()
        self.layer_blocks = nn.ModuleList()
        for in_channels in in_channels_list:
            if in_channels == 0:
                raise ValueError("in_channels=0 is currently not supported")
            self.inner_blocks.append(Conv2dNormActivation(
                in_channels, out_channels, kernel_size=1, padding=0, norm_layer=norm_layer,
                activation_layer=None))
            self.layer_blocks.append(Conv2dNormActivation(
                out_channels, out_channels, kernel_size=3, norm_layer=norm_layer,
                activation_layer=None))
        _init_convs(self)
        if extra_blocks is not None and not isinstance(extra_blocks, ExtraFPNBlock):
            raise TypeError(f"extra_blocks should be of type ExtraFPNBlock not "
                            f"{type(extra_blocks)}")
        self.extra_blocks = extra_blocks

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        # version 1 checkpoints had a bare Conv2d per block: "inner_blocks.0.weight"
        if (local_metadata.get("version") or 1) < 2:
            for i in range(len(self.inner_blocks)):
                for block in ("inner_blocks", "layer_blocks"):
                    for name in ("weight", "bias"):
                        old_key = f"{prefix}{block}.{i}.{name}"
                        if old_key in state_dict:
                            state_dict[f"{prefix}{block}.{i}.0.{name}"] = state_dict.pop(old_key)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    def get_result_from_inner_blocks(self, x: Tensor, idx: int) -> Tensor:
        return self.inner_blocks[idx](x)

    def get_result_from_layer_blocks(self, x: Tensor, idx: int) -> Tensor:
        return self.layer_blocks[idx](x)

    def forward(self, x: dict[str, Tensor]) -> dict[str, Tensor]:
        names = list(x.keys())
        features = list(x.values())
        last_inner = self.get_result_from_inner_blocks(features[-1], -1)
        results = [self.get_result_from_layer_blocks(last_inner, -1)]
        for idx in range(len(features) - 2, -1, -1):
            lateral = self.get_result_from_inner_blocks(features[idx], idx)
            top_down = F.interpolate(last_inner, size=lateral.shape[-2:], mode="nearest")
            last_inner = lateral + top_down
            results.insert(0, self.get_result_from_layer_blocks(last_inner, idx))
        if self.extra_blocks is not None:
            results, names = self.extra_blocks(results, features, names)
        return OrderedDict(zip(names, results))
