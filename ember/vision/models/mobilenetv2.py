"""MobileNetV2, with torchvision's layout and keys (``features.0.0.weight`` is the stem's
convolution, ``features.<i>.conv`` an inverted residual, ``classifier.1`` the linear layer)."""
from __future__ import annotations

from typing import Callable

from ember import nn
from ember._tensor import Tensor
from ember.nn import functional as F
from ember.vision.models._api import WeightsEnum, register_model
from ember.vision.models._ops import Conv2dNormActivation
from ember.vision.models._utils import (
    _URL,
    _fit_to_weights,
    _imagenet_weights,
    _init_mobilenet,
    _load_weights,
    _make_divisible,
    handle_legacy_interface,
)

__all__ = ["MobileNetV2", "MobileNet_V2_Weights", "mobilenet_v2"]


class InvertedResidual(nn.Module):
    """1x1 expansion by ``expand_ratio`` (ReLU6), 3x3 depthwise convolution (ReLU6) and a linear
    1x1 projection; the input is added back when the shapes allow (stride 1, inp == oup)."""

    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int,
                 norm_layer: Callable[..., nn.Module] | None = None) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride should be 1 or 2 instead of {stride}")
        norm_layer = norm_layer or nn.BatchNorm2d
        self.stride = stride
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(Conv2dNormActivation(inp, hidden_dim, kernel_size=1,
                                               norm_layer=norm_layer,
                                               activation_layer=nn.ReLU6))
        layers += [
            Conv2dNormActivation(hidden_dim, hidden_dim, stride=stride, groups=hidden_dim,
                                 norm_layer=norm_layer, activation_layer=nn.ReLU6),
            nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False),
            norm_layer(oup),
        ]
        self.conv = nn.Sequential(*layers)
        self.out_channels = oup
        self._is_cn = stride > 1

    def forward(self, x: Tensor) -> Tensor:
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetV2(nn.Module):
    """MobileNetV2 (Sandler et al., 2018).

    Args:
        num_classes: output classes.
        width_mult: scales every layer's channels.
        inverted_residual_setting: rows ``[t, c, n, s]``: expansion, output channels, repeats,
            stride of the first repeat (default: the paper's table 2).
        round_nearest: channels are rounded to a multiple of this.
        block: the inverted residual module (default ``InvertedResidual``).
        norm_layer: the normalisation layer (default ``nn.BatchNorm2d``).
        dropout: the dropout probability before the classifier.

    Shape:
        - Input: (N, 3, H, W), any H, W >= 1 (224 in ImageNet use).
        - Output: (N, num_classes).
    """

    def __init__(self, num_classes: int = 1000, width_mult: float = 1.0,
                 inverted_residual_setting: list | None = None, round_nearest: int = 8,
                 block: Callable[..., nn.Module] | None = None,
                 norm_layer: Callable[..., nn.Module] | None = None,
                 dropout: float = 0.2) -> None:
        super().__init__()
        block = block or InvertedResidual
        norm_layer = norm_layer or nn.BatchNorm2d
        if inverted_residual_setting is None:
            inverted_residual_setting = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2],
                                         [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2],
                                         [6, 320, 1, 1]]
        if len(inverted_residual_setting) == 0 or len(inverted_residual_setting[0]) != 4:
            raise ValueError("inverted_residual_setting should be non-empty and a 4-element "
                             f"list, got {inverted_residual_setting}")
        input_channel = _make_divisible(32 * width_mult, round_nearest)
        self.last_channel = _make_divisible(1280 * max(1.0, width_mult), round_nearest)
        features: list[nn.Module] = [
            Conv2dNormActivation(3, input_channel, stride=2, norm_layer=norm_layer,
                                 activation_layer=nn.ReLU6)]
        for t, c, n, s in inverted_residual_setting:
            output_channel = _make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                features.append(block(input_channel, output_channel, s if i == 0 else 1,
                                      expand_ratio=t, norm_layer=norm_layer))
                input_channel = output_channel
        features.append(Conv2dNormActivation(input_channel, self.last_channel, kernel_size=1,
                                             norm_layer=norm_layer, activation_layer=nn.ReLU6))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout),
                                        nn.Linear(self.last_channel, num_classes))
        _init_mobilenet(self)

    def forward(self, x: Tensor) -> Tensor:
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1)).flatten(1)
        return self.classifier(x)


class MobileNet_V2_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet_weights(_URL + "mobilenet_v2-b0353104.pth", 3504872)
    IMAGENET1K_V2 = _imagenet_weights(_URL + "mobilenet_v2-7ebf99e0.pth", 3504872,
                                      resize_size=232)
    DEFAULT = IMAGENET1K_V2


@register_model()
@handle_legacy_interface(MobileNet_V2_Weights.IMAGENET1K_V1)
def mobilenet_v2(*, weights: MobileNet_V2_Weights | None = None, progress: bool = True,
                 **kwargs) -> MobileNetV2:
    """MobileNetV2 from `MobileNetV2: Inverted Residuals and Linear Bottlenecks
    <https://arxiv.org/abs/1801.04381>`_.

    Args:
        weights: a ``MobileNet_V2_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`MobileNetV2` (``num_classes``, ``width_mult``, ...).
    """
    weights = MobileNet_V2_Weights.verify(weights)
    _fit_to_weights(weights, kwargs)
    return _load_weights(MobileNetV2(**kwargs), weights, progress)
