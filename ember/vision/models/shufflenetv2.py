"""ShuffleNet V2, with torchvision's layout and keys (``conv1``, ``stage2``..``stage4`` of
inverted residuals with ``branch1``/``branch2`` Sequentials, ``conv5``, ``fc``)."""
from __future__ import annotations

from typing import Callable, Sequence

from ember import cat, nn
from ember._tensor import Tensor
from ember.vision.models._api import WeightsEnum, register_model
from ember.vision.models._utils import (
    _URL,
    _fit_to_weights,
    _imagenet_weights,
    _load_weights,
    handle_legacy_interface,
)

__all__ = ["ShuffleNetV2", "ShuffleNet_V2_X0_5_Weights", "ShuffleNet_V2_X1_0_Weights",
           "ShuffleNet_V2_X1_5_Weights", "ShuffleNet_V2_X2_0_Weights", "shufflenet_v2_x0_5",
           "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0"]


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """Interleave the channels of ``groups`` groups: (N, g*c, H, W) viewed as (N, g, c, H, W),
    the two channel axes swapped, flattened back."""
    n, channels, h, w = x.shape
    x = x.reshape(n, groups, channels // groups, h, w).transpose(1, 2)
    return x.reshape(n, channels, h, w)


def _depthwise_conv(channels: int, stride: int) -> nn.Conv2d:
    return nn.Conv2d(channels, channels, 3, stride, 1, bias=False, groups=channels)


def _pointwise(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [nn.Conv2d(in_channels, out_channels, 1, 1, 0, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]


class InvertedResidual(nn.Module):
    """The ShuffleNet V2 unit. At stride 1 the input's first half passes unchanged and the
    second half goes through ``branch2`` (1x1, depthwise 3x3, 1x1); at stride > 1 the whole
    input goes through both branches (``branch1`` is a strided depthwise 3x3 then 1x1). The
    halves are concatenated and their channels shuffled."""

    def __init__(self, inp: int, oup: int, stride: int) -> None:
        super().__init__()
        if not 1 <= stride <= 3:
            raise ValueError("illegal stride value")
        self.stride = stride
        branch_features = oup // 2
        if stride == 1 and inp != branch_features << 1:
            raise ValueError(f"Invalid combination of stride {stride}, inp {inp} and oup {oup} "
                             "values. If stride == 1 then inp should be equal to oup // 2 << 1.")
        if stride > 1:
            self.branch1 = nn.Sequential(_depthwise_conv(inp, stride), nn.BatchNorm2d(inp),
                                         *_pointwise(inp, branch_features))
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            *_pointwise(inp if stride > 1 else branch_features, branch_features),
            _depthwise_conv(branch_features, stride), nn.BatchNorm2d(branch_features),
            *_pointwise(branch_features, branch_features))

    def forward(self, x: Tensor) -> Tensor:
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = cat((x1, self.branch2(x2)), dim=1)
        else:
            out = cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    """ShuffleNet V2 (Ma et al., 2018): a strided 3x3 stem and max pool, three stages of
    shuffle units (each opening with a stride-2 unit), a 1x1 convolution, global average
    pooling and a linear classifier.

    Args:
        stages_repeats: units in stages 2, 3 and 4.
        stages_out_channels: widths of the stem, the three stages and ``conv5``.
        num_classes: output classes.
        inverted_residual: the unit's module class.

    Shape:
        - Input: (N, 3, H, W), any H, W >= 1 (224 in ImageNet use).
        - Output: (N, num_classes).
    """

    def __init__(self, stages_repeats: Sequence[int], stages_out_channels: Sequence[int],
                 num_classes: int = 1000,
                 inverted_residual: Callable[..., nn.Module] = InvertedResidual) -> None:
        super().__init__()
        if len(stages_repeats) != 3:
            raise ValueError("expected stages_repeats as list of 3 positive ints")
        if len(stages_out_channels) != 5:
            raise ValueError("expected stages_out_channels as list of 5 positive ints")
        self._stage_out_channels = list(stages_out_channels)
        channels = stages_out_channels[0]
        self.conv1 = nn.Sequential(nn.Conv2d(3, channels, 3, 2, 1, bias=False),
                                   nn.BatchNorm2d(channels), nn.ReLU(inplace=True))
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.stage2: nn.Sequential
        self.stage3: nn.Sequential
        self.stage4: nn.Sequential
        for i, repeats, out in zip((2, 3, 4), stages_repeats, stages_out_channels[1:4]):
            units = [inverted_residual(channels, out, 2)]
            units += [inverted_residual(out, out, 1) for _ in range(repeats - 1)]
            setattr(self, f"stage{i}", nn.Sequential(*units))
            channels = out
        self.conv5 = nn.Sequential(*_pointwise(channels, stages_out_channels[-1]))
        self.fc = nn.Linear(stages_out_channels[-1], num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.conv1(x))
        x = self.conv5(self.stage4(self.stage3(self.stage2(x))))
        return self.fc(x.mean([2, 3]))


def _shufflenetv2(weights: WeightsEnum | None, progress: bool, stages_out_channels: list[int],
                  **kwargs) -> ShuffleNetV2:
    _fit_to_weights(weights, kwargs)
    model = ShuffleNetV2([4, 8, 4], stages_out_channels, **kwargs)
    return _load_weights(model, weights, progress)


class ShuffleNet_V2_X0_5_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet_weights(_URL + "shufflenetv2_x0.5-f707e7126e.pth", 1366792)
    DEFAULT = IMAGENET1K_V1


class ShuffleNet_V2_X1_0_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet_weights(_URL + "shufflenetv2_x1-5666bf0f80.pth", 2278604)
    DEFAULT = IMAGENET1K_V1


class ShuffleNet_V2_X1_5_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet_weights(_URL + "shufflenetv2_x1_5-3c479a10.pth", 3503624,
                                      resize_size=232)
    DEFAULT = IMAGENET1K_V1


class ShuffleNet_V2_X2_0_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet_weights(_URL + "shufflenetv2_x2_0-8be3c8ee.pth", 7393996,
                                      resize_size=232)
    DEFAULT = IMAGENET1K_V1


@register_model()
@handle_legacy_interface(ShuffleNet_V2_X0_5_Weights.IMAGENET1K_V1)
def shufflenet_v2_x0_5(*, weights: ShuffleNet_V2_X0_5_Weights | None = None,
                       progress: bool = True, **kwargs) -> ShuffleNetV2:
    """ShuffleNet V2 with 0.5x output channels, from `ShuffleNet V2: Practical
    Guidelines for Efficient CNN Architecture Design <https://arxiv.org/abs/1807.11164>`_.

    Args:
        weights: a ``ShuffleNet_V2_X0_5_Weights`` member, its name, or None.
        progress: show a download progress bar.
        kwargs: passed to :class:`ShuffleNetV2` (``num_classes``, ``inverted_residual``).
    """
    weights = ShuffleNet_V2_X0_5_Weights.verify(weights)
    return _shufflenetv2(weights, progress, [24, 48, 96, 192, 1024], **kwargs)


@register_model()
@handle_legacy_interface(ShuffleNet_V2_X1_0_Weights.IMAGENET1K_V1)
def shufflenet_v2_x1_0(*, weights: ShuffleNet_V2_X1_0_Weights | None = None,
                       progress: bool = True, **kwargs) -> ShuffleNetV2:
    """ShuffleNet V2 with 1.0x output channels, from `ShuffleNet V2: Practical
    Guidelines for Efficient CNN Architecture Design <https://arxiv.org/abs/1807.11164>`_.

    Args:
        weights: a ``ShuffleNet_V2_X1_0_Weights`` member, its name, or None.
        progress: show a download progress bar.
        kwargs: passed to :class:`ShuffleNetV2` (``num_classes``, ``inverted_residual``).
    """
    weights = ShuffleNet_V2_X1_0_Weights.verify(weights)
    return _shufflenetv2(weights, progress, [24, 116, 232, 464, 1024], **kwargs)


@register_model()
@handle_legacy_interface(ShuffleNet_V2_X1_5_Weights.IMAGENET1K_V1)
def shufflenet_v2_x1_5(*, weights: ShuffleNet_V2_X1_5_Weights | None = None,
                       progress: bool = True, **kwargs) -> ShuffleNetV2:
    """ShuffleNet V2 with 1.5x output channels, from `ShuffleNet V2: Practical
    Guidelines for Efficient CNN Architecture Design <https://arxiv.org/abs/1807.11164>`_.

    Args:
        weights: a ``ShuffleNet_V2_X1_5_Weights`` member, its name, or None.
        progress: show a download progress bar.
        kwargs: passed to :class:`ShuffleNetV2` (``num_classes``, ``inverted_residual``).
    """
    weights = ShuffleNet_V2_X1_5_Weights.verify(weights)
    return _shufflenetv2(weights, progress, [24, 176, 352, 704, 1024], **kwargs)


@register_model()
@handle_legacy_interface(ShuffleNet_V2_X2_0_Weights.IMAGENET1K_V1)
def shufflenet_v2_x2_0(*, weights: ShuffleNet_V2_X2_0_Weights | None = None,
                       progress: bool = True, **kwargs) -> ShuffleNetV2:
    """ShuffleNet V2 with 2.0x output channels, from `ShuffleNet V2: Practical
    Guidelines for Efficient CNN Architecture Design <https://arxiv.org/abs/1807.11164>`_.

    Args:
        weights: a ``ShuffleNet_V2_X2_0_Weights`` member, its name, or None.
        progress: show a download progress bar.
        kwargs: passed to :class:`ShuffleNetV2` (``num_classes``, ``inverted_residual``).
    """
    weights = ShuffleNet_V2_X2_0_Weights.verify(weights)
    return _shufflenetv2(weights, progress, [24, 244, 488, 976, 2048], **kwargs)

