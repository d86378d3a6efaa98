"""MobileNetV3 Large and Small, with torchvision's layout and keys (``features.<i>.block``
inverted residuals with ``fc1``/``fc2`` squeeze-excitation, ``classifier.{0,3}`` linear layers).
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

from ember import nn
from ember._tensor import Tensor
from ember.vision.models._api import WeightsEnum, register_model
from ember.vision.models._ops import Conv2dNormActivation
from ember.vision.models._ops import SqueezeExcitation as SElayer
from ember.vision.models._utils import (
    _URL,
    _fit_to_weights,
    _imagenet_weights,
    _init_mobilenet,
    _load_weights,
    _make_divisible,
    handle_legacy_interface,
)

__all__ = ["MobileNetV3", "MobileNet_V3_Large_Weights", "MobileNet_V3_Small_Weights",
           "mobilenet_v3_large", "mobilenet_v3_small"]


class InvertedResidualConfig:
    """One row of the architecture table: channels (scaled by ``width_mult`` and rounded to
    multiples of 8), kernel size, squeeze-excitation, activation ("RE" ReLU, "HS" Hardswish),
    stride and dilation."""

    def __init__(self, input_channels: int, kernel: int, expanded_channels: int,
                 out_channels: int, use_se: bool, activation: str, stride: int, dilation: int,
                 width_mult: float) -> None:
        self.input_channels = self.adjust_channels(input_channels, width_mult)
        self.kernel = kernel
        self.expanded_channels = self.adjust_channels(expanded_channels, width_mult)
        self.out_channels = self.adjust_channels(out_channels, width_mult)
        self.use_se = use_se
        self.use_hs = activation == "HS"
        self.stride = stride
        self.dilation = dilation

    @staticmethod
    def adjust_channels(channels: int, width_mult: float) -> int:
        return _make_divisible(channels * width_mult, 8)


class InvertedResidual(nn.Module):
    """1x1 expansion, depthwise kxk convolution, optional squeeze-excitation (hard-sigmoid
    gate) and a linear 1x1 projection; the input is added back when the shapes allow."""

    def __init__(self, cnf: InvertedResidualConfig, norm_layer: Callable[..., nn.Module],
                 se_layer: Callable[..., nn.Module] = functools.partial(
                     SElayer, scale_activation=nn.Hardsigmoid)) -> None:
        super().__init__()
        if not 1 <= cnf.stride <= 2:
            raise ValueError("illegal stride value")
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
        activation_layer = nn.Hardswish if cnf.use_hs else nn.ReLU
        layers: list[nn.Module] = []
        if cnf.expanded_channels != cnf.input_channels:
            layers.append(Conv2dNormActivation(cnf.input_channels, cnf.expanded_channels,
                                               kernel_size=1, norm_layer=norm_layer,
                                               activation_layer=activation_layer))
        stride = 1 if cnf.dilation > 1 else cnf.stride  # dilation replaces the stride
        layers.append(Conv2dNormActivation(cnf.expanded_channels, cnf.expanded_channels,
                                           kernel_size=cnf.kernel, stride=stride,
                                           dilation=cnf.dilation, groups=cnf.expanded_channels,
                                           norm_layer=norm_layer,
                                           activation_layer=activation_layer))
        if cnf.use_se:
            squeeze_channels = _make_divisible(cnf.expanded_channels // 4, 8)
            layers.append(se_layer(cnf.expanded_channels, squeeze_channels))
        layers.append(Conv2dNormActivation(cnf.expanded_channels, cnf.out_channels,
                                           kernel_size=1, norm_layer=norm_layer,
                                           activation_layer=None))
        self.block = nn.Sequential(*layers)
        self.out_channels = cnf.out_channels
        self._is_cn = cnf.stride > 1

    def forward(self, input: Tensor) -> Tensor:
        result = self.block(input)
        if self.use_res_connect:
            result = result + input
        return result


class MobileNetV3(nn.Module):
    """MobileNetV3 (Howard et al., 2019): a Hardswish stem, the inverted residuals of
    ``inverted_residual_setting``, a 1x1 convolution to 6x the last width, global average
    pooling and a two-layer classifier.

    Args:
        inverted_residual_setting: the blocks' configurations.
        last_channel: width of the classifier's hidden layer.
        num_classes: output classes.
        block: the inverted residual module (default ``InvertedResidual``).
        norm_layer: default ``BatchNorm2d(eps=0.001, momentum=0.01)``.
        dropout: the dropout probability in the classifier.
        kwargs: ignored (as torchvision's, so that detection builders can pass their own
            arguments through).

    Shape:
        - Input: (N, 3, H, W), any H, W >= 1 (224 in ImageNet use).
        - Output: (N, num_classes).
    """

    def __init__(self, inverted_residual_setting: Sequence[InvertedResidualConfig],
                 last_channel: int, num_classes: int = 1000,
                 block: Callable[..., nn.Module] | None = None,
                 norm_layer: Callable[..., nn.Module] | None = None,
                 dropout: float = 0.2, **kwargs: Any) -> None:
        super().__init__()
        if not inverted_residual_setting:
            raise ValueError("The inverted_residual_setting should not be empty")
        if not all(isinstance(s, InvertedResidualConfig) for s in inverted_residual_setting):
            raise TypeError("The inverted_residual_setting should be "
                            "List[InvertedResidualConfig]")
        block = block or InvertedResidual
        norm_layer = norm_layer or functools.partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)
        firstconv_output_channels = inverted_residual_setting[0].input_channels
        layers: list[nn.Module] = [
            Conv2dNormActivation(3, firstconv_output_channels, kernel_size=3, stride=2,
                                 norm_layer=norm_layer, activation_layer=nn.Hardswish)]
        layers += [block(cnf, norm_layer) for cnf in inverted_residual_setting]
        lastconv_input_channels = inverted_residual_setting[-1].out_channels
        lastconv_output_channels = 6 * lastconv_input_channels
        layers.append(Conv2dNormActivation(lastconv_input_channels, lastconv_output_channels,
                                           kernel_size=1, norm_layer=norm_layer,
                                           activation_layer=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(lastconv_output_channels, last_channel),
            nn.Hardswish(inplace=True),
            nn.Dropout(p=dropout, inplace=True),
            nn.Linear(last_channel, num_classes),
        )
        _init_mobilenet(self)

    def _forward_impl(self, x: Tensor) -> Tensor:
        x = self.avgpool(self.features(x)).flatten(1)
        return self.classifier(x)

    def forward(self, x: Tensor) -> Tensor:
        return self._forward_impl(x)


def _mobilenet_v3_conf(arch: str, width_mult: float = 1.0, reduced_tail: bool = False,
                       dilated: bool = False) -> tuple[list[InvertedResidualConfig], int]:
    """The paper's tables 1 (large) and 2 (small). ``reduced_tail`` halves the channels of the
    last blocks and ``dilated`` trades their stride for dilation (for segmentation)."""
    rd = 2 if reduced_tail else 1
    dilation = 2 if dilated else 1
    bneck = functools.partial(InvertedResidualConfig, width_mult=width_mult)
    if arch == "mobilenet_v3_large":
        setting = [
            bneck(16, 3, 16, 16, False, "RE", 1, 1),
            bneck(16, 3, 64, 24, False, "RE", 2, 1),  # C1
            bneck(24, 3, 72, 24, False, "RE", 1, 1),
            bneck(24, 5, 72, 40, True, "RE", 2, 1),  # C2
            bneck(40, 5, 120, 40, True, "RE", 1, 1),
            bneck(40, 5, 120, 40, True, "RE", 1, 1),
            bneck(40, 3, 240, 80, False, "HS", 2, 1),  # C3
            bneck(80, 3, 200, 80, False, "HS", 1, 1),
            bneck(80, 3, 184, 80, False, "HS", 1, 1),
            bneck(80, 3, 184, 80, False, "HS", 1, 1),
            bneck(80, 3, 480, 112, True, "HS", 1, 1),
            bneck(112, 3, 672, 112, True, "HS", 1, 1),
            bneck(112, 5, 672, 160 // rd, True, "HS", 2, dilation),  # C4
            bneck(160 // rd, 5, 960 // rd, 160 // rd, True, "HS", 1, dilation),
            bneck(160 // rd, 5, 960 // rd, 160 // rd, True, "HS", 1, dilation),
        ]
        last_channel = 1280 // rd
    elif arch == "mobilenet_v3_small":
        setting = [
            bneck(16, 3, 16, 16, True, "RE", 2, 1),  # C1
            bneck(16, 3, 72, 24, False, "RE", 2, 1),  # C2
            bneck(24, 3, 88, 24, False, "RE", 1, 1),
            bneck(24, 5, 96, 40, True, "HS", 2, 1),  # C3
            bneck(40, 5, 240, 40, True, "HS", 1, 1),
            bneck(40, 5, 240, 40, True, "HS", 1, 1),
            bneck(40, 5, 120, 48, True, "HS", 1, 1),
            bneck(48, 5, 144, 48, True, "HS", 1, 1),
            bneck(48, 5, 288, 96 // rd, True, "HS", 2, dilation),  # C4
            bneck(96 // rd, 5, 576 // rd, 96 // rd, True, "HS", 1, dilation),
            bneck(96 // rd, 5, 576 // rd, 96 // rd, True, "HS", 1, dilation),
        ]
        last_channel = 1024 // rd
    else:
        raise ValueError(f"Unsupported model type {arch}")
    return setting, InvertedResidualConfig.adjust_channels(last_channel, width_mult)


def _mobilenet_v3(arch: str, weights: WeightsEnum | None, progress: bool,
                  **kwargs) -> MobileNetV3:
    conf = {k: kwargs.pop(k) for k in ("width_mult", "reduced_tail", "dilated") if k in kwargs}
    inverted_residual_setting, last_channel = _mobilenet_v3_conf(arch, **conf)
    _fit_to_weights(weights, kwargs)
    model = MobileNetV3(inverted_residual_setting, last_channel, **kwargs)
    return _load_weights(model, weights, progress)


class MobileNet_V3_Large_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet_weights(_URL + "mobilenet_v3_large-8738ca79.pth", 5483032)
    IMAGENET1K_V2 = _imagenet_weights(_URL + "mobilenet_v3_large-5c1a4163.pth", 5483032,
                                      resize_size=232)
    DEFAULT = IMAGENET1K_V2


class MobileNet_V3_Small_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet_weights(_URL + "mobilenet_v3_small-047dcff4.pth", 2542856)
    DEFAULT = IMAGENET1K_V1


@register_model()
@handle_legacy_interface(MobileNet_V3_Large_Weights.IMAGENET1K_V1)
def mobilenet_v3_large(*, weights: MobileNet_V3_Large_Weights | None = None,
                       progress: bool = True, **kwargs) -> MobileNetV3:
    """MobileNetV3 Large from `Searching for MobileNetV3 <https://arxiv.org/abs/1905.02244>`_.

    Args:
        weights: a ``MobileNet_V3_Large_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: ``width_mult``, ``reduced_tail``, ``dilated`` (the architecture table), the
            rest to :class:`MobileNetV3` (``num_classes``, ``dropout``, ...).
    """
    weights = MobileNet_V3_Large_Weights.verify(weights)
    return _mobilenet_v3("mobilenet_v3_large", weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(MobileNet_V3_Small_Weights.IMAGENET1K_V1)
def mobilenet_v3_small(*, weights: MobileNet_V3_Small_Weights | None = None,
                       progress: bool = True, **kwargs) -> MobileNetV3:
    """MobileNetV3 Small from `Searching for MobileNetV3 <https://arxiv.org/abs/1905.02244>`_.

    Args:
        weights: a ``MobileNet_V3_Small_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: ``width_mult``, ``reduced_tail``, ``dilated`` (the architecture table), the
            rest to :class:`MobileNetV3` (``num_classes``, ``dropout``, ...).
    """
    weights = MobileNet_V3_Small_Weights.verify(weights)
    return _mobilenet_v3("mobilenet_v3_small", weights, progress, **kwargs)
