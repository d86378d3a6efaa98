"""EfficientNet B0-B7 and EfficientNetV2 S/M/L, with torchvision's layout and keys
(``features.0`` stem, ``features.<stage>.<block>.block`` MBConv / FusedMBConv layers with
``fc1``/``fc2`` squeeze-excitation, ``features.<last>`` head, ``classifier.1``)."""
from __future__ import annotations

import copy
import functools
import math
from typing import Any, Callable, Sequence

from ember import nn
from ember._tensor import Tensor
from ember.vision.models._api import Weights, WeightsEnum, register_model
from ember.vision.models._meta import _IMAGENET_CATEGORIES
from ember.vision.models._ops import Conv2dNormActivation, SqueezeExcitation, StochasticDepth
from ember.vision.models._presets import ImageClassification
from ember.vision.models._utils import (
    _URL,
    _fit_to_weights,
    _init_mobilenet,
    _load_weights,
    _make_divisible,
    handle_legacy_interface,
)
from ember.vision.transforms.functional import InterpolationMode

__all__ = ["EfficientNet", "EfficientNet_B0_Weights", "EfficientNet_B1_Weights",
           "EfficientNet_B2_Weights", "EfficientNet_B3_Weights", "EfficientNet_B4_Weights",
           "EfficientNet_B5_Weights", "EfficientNet_B6_Weights", "EfficientNet_B7_Weights",
           "EfficientNet_V2_L_Weights", "EfficientNet_V2_M_Weights", "EfficientNet_V2_S_Weights",
           "efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3",
           "efficientnet_b4", "efficientnet_b5", "efficientnet_b6", "efficientnet_b7",
           "efficientnet_v2_l", "efficientnet_v2_m", "efficientnet_v2_s"]


class _MBConvConfig:
    """One stage of the architecture table: ``num_layers`` blocks of type ``block``, the
    first with ``stride`` and ``input_channels``, the rest stride 1 at ``out_channels``."""

    def __init__(self, expand_ratio: float, kernel: int, stride: int, input_channels: int,
                 out_channels: int, num_layers: int, block: Callable[..., nn.Module]) -> None:
        self.expand_ratio = expand_ratio
        self.kernel = kernel
        self.stride = stride
        self.input_channels = input_channels
        self.out_channels = out_channels
        self.num_layers = num_layers
        self.block = block

    @staticmethod
    def adjust_channels(channels: int, width_mult: float, min_value: int | None = None) -> int:
        return _make_divisible(channels * width_mult, 8, min_value)


class MBConvConfig(_MBConvConfig):
    """A stage of MBConv blocks (table 1 of EfficientNet, table 4 of EfficientNetV2), with
    widths scaled by ``width_mult`` (to multiples of 8) and depth by ``depth_mult`` (up)."""

    def __init__(self, expand_ratio: float, kernel: int, stride: int, input_channels: int,
                 out_channels: int, num_layers: int, width_mult: float = 1.0,
                 depth_mult: float = 1.0, block: Callable[..., nn.Module] | None = None) -> None:
        super().__init__(expand_ratio, kernel, stride,
                         self.adjust_channels(input_channels, width_mult),
                         self.adjust_channels(out_channels, width_mult),
                         self.adjust_depth(num_layers, depth_mult), block or MBConv)

    @staticmethod
    def adjust_depth(num_layers: int, depth_mult: float) -> int:
        return int(math.ceil(num_layers * depth_mult))


class FusedMBConvConfig(_MBConvConfig):
    """A stage of FusedMBConv blocks (table 4 of EfficientNetV2)."""

    def __init__(self, expand_ratio: float, kernel: int, stride: int, input_channels: int,
                 out_channels: int, num_layers: int,
                 block: Callable[..., nn.Module] | None = None) -> None:
        super().__init__(expand_ratio, kernel, stride, input_channels, out_channels, num_layers,
                         block or FusedMBConv)


class _ResidualBlock(nn.Module):
    """What MBConv and FusedMBConv share: ``block`` is added back to the input, through
    stochastic depth, when stride and width allow."""

    block: nn.Sequential
    stochastic_depth: StochasticDepth
    use_res_connect: bool

    def forward(self, input: Tensor) -> Tensor:
        result = self.block(input)
        if self.use_res_connect:
            result = self.stochastic_depth(result) + input
        return result


class MBConv(_ResidualBlock):
    """Mobile inverted bottleneck: 1x1 expansion (skipped at ratio 1), depthwise kxk,
    squeeze-excitation (to a quarter of the input width, SiLU), linear 1x1 projection."""

    def __init__(self, cnf: MBConvConfig, stochastic_depth_prob: float,
                 norm_layer: Callable[..., nn.Module],
                 se_layer: Callable[..., nn.Module] = SqueezeExcitation) -> None:
        super().__init__()
        if not 1 <= cnf.stride <= 2:
            raise ValueError("illegal stride value")
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
        expanded = cnf.adjust_channels(cnf.input_channels, cnf.expand_ratio)
        layers: list[nn.Module] = []
        if expanded != cnf.input_channels:
            layers.append(Conv2dNormActivation(cnf.input_channels, expanded, kernel_size=1,
                                               norm_layer=norm_layer, activation_layer=nn.SiLU))
        layers.append(Conv2dNormActivation(expanded, expanded, kernel_size=cnf.kernel,
                                           stride=cnf.stride, groups=expanded,
                                           norm_layer=norm_layer, activation_layer=nn.SiLU))
        layers.append(se_layer(expanded, max(1, cnf.input_channels // 4),
                               activation=functools.partial(nn.SiLU, inplace=True)))
        layers.append(Conv2dNormActivation(expanded, cnf.out_channels, kernel_size=1,
                                           norm_layer=norm_layer, activation_layer=None))
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.out_channels = cnf.out_channels


class FusedMBConv(_ResidualBlock):
    """EfficientNetV2's fused block: the expansion and depthwise convolutions become one
    full kxk convolution, then a linear 1x1 projection (or one kxk convolution at ratio 1)."""

    def __init__(self, cnf: FusedMBConvConfig, stochastic_depth_prob: float,
                 norm_layer: Callable[..., nn.Module]) -> None:
        super().__init__()
        if not 1 <= cnf.stride <= 2:
            raise ValueError("illegal stride value")
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
        expanded = cnf.adjust_channels(cnf.input_channels, cnf.expand_ratio)
        if expanded != cnf.input_channels:
            layers = [Conv2dNormActivation(cnf.input_channels, expanded, kernel_size=cnf.kernel,
                                           stride=cnf.stride, norm_layer=norm_layer,
                                           activation_layer=nn.SiLU),
                      Conv2dNormActivation(expanded, cnf.out_channels, kernel_size=1,
                                           norm_layer=norm_layer, activation_layer=None)]
        else:
            layers = [Conv2dNormActivation(cnf.input_channels, cnf.out_channels,
                                           kernel_size=cnf.kernel, stride=cnf.stride,
                                           norm_layer=norm_layer, activation_layer=nn.SiLU)]
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.out_channels = cnf.out_channels


def _uniform_by_fan_out(weight: Tensor) -> None:
    """EfficientNet's classifier initialisation: uniform in +-1/sqrt(out_features)."""
    bound = 1.0 / math.sqrt(weight.shape[0])
    nn.init.uniform_(weight, -bound, bound)


class EfficientNet(nn.Module):
    """EfficientNet (Tan & Le, 2019) and EfficientNetV2 (Tan & Le, 2021): a strided 3x3 SiLU
    stem, one Sequential per stage of the setting, a 1x1 head convolution, global average
    pooling, dropout and a linear classifier.

    Args:
        inverted_residual_setting: the stages (``MBConvConfig`` / ``FusedMBConvConfig``).
        dropout: the dropout probability before the classifier.
        stochastic_depth_prob: the drop probability of the last block, growing linearly
            from 0 over the blocks.
        num_classes: output classes.
        norm_layer: default ``BatchNorm2d``.
        last_channel: the head's width (default 4x the last stage's).

    Shape:
        - Input: (N, 3, H, W).
        - Output: (N, num_classes).
    """

    def __init__(self, inverted_residual_setting: Sequence[_MBConvConfig], dropout: float,
                 stochastic_depth_prob: float = 0.2, num_classes: int = 1000,
                 norm_layer: Callable[..., nn.Module] | None = None,
                 last_channel: int | None = None) -> None:
        super().__init__()
        if not inverted_residual_setting:
            raise ValueError("The inverted_residual_setting should not be empty")
        if not (isinstance(inverted_residual_setting, Sequence)
                and all(isinstance(s, _MBConvConfig) for s in inverted_residual_setting)):
            raise TypeError("The inverted_residual_setting should be List[MBConvConfig]")
        norm_layer = norm_layer or nn.BatchNorm2d
        layers: list[nn.Module] = [
            Conv2dNormActivation(3, inverted_residual_setting[0].input_channels, kernel_size=3,
                                 stride=2, norm_layer=norm_layer, activation_layer=nn.SiLU)]
        total_blocks = sum(cnf.num_layers for cnf in inverted_residual_setting)
        block_id = 0
        for cnf in inverted_residual_setting:
            stage: list[nn.Module] = []
            for _ in range(cnf.num_layers):
                block_cnf = copy.copy(cnf)  # later blocks of a stage: stride 1, same width
                if stage:
                    block_cnf.input_channels = block_cnf.out_channels
                    block_cnf.stride = 1
                sd_prob = stochastic_depth_prob * float(block_id) / total_blocks
                stage.append(block_cnf.block(block_cnf, sd_prob, norm_layer))
                block_id += 1
            layers.append(nn.Sequential(*stage))
        last_in = inverted_residual_setting[-1].out_channels
        last_out = last_channel if last_channel is not None else 4 * last_in
        layers.append(Conv2dNormActivation(last_in, last_out, kernel_size=1,
                                           norm_layer=norm_layer, activation_layer=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout, inplace=True),
                                        nn.Linear(last_out, num_classes))
        _init_mobilenet(self, linear_init=_uniform_by_fan_out)

    def forward(self, x: Tensor) -> Tensor:
        x = self.avgpool(self.features(x)).flatten(1)
        return self.classifier(x)


def _efficientnet_conf(arch: str, width_mult: float = 1.0, depth_mult: float = 1.0
                       ) -> tuple[list[_MBConvConfig], int | None]:
    """The stages of B0 (scaled by ``width_mult`` / ``depth_mult``) or of V2 S, M, L."""
    if arch.startswith("efficientnet_b"):
        bneck = functools.partial(MBConvConfig, width_mult=width_mult, depth_mult=depth_mult)
        return [bneck(1, 3, 1, 32, 16, 1), bneck(6, 3, 2, 16, 24, 2), bneck(6, 5, 2, 24, 40, 2),
                bneck(6, 3, 2, 40, 80, 3), bneck(6, 5, 1, 80, 112, 3),
                bneck(6, 5, 2, 112, 192, 4), bneck(6, 3, 1, 192, 320, 1)], None
    fused, mb = FusedMBConvConfig, MBConvConfig
    if arch == "efficientnet_v2_s":
        return [fused(1, 3, 1, 24, 24, 2), fused(4, 3, 2, 24, 48, 4), fused(4, 3, 2, 48, 64, 4),
                mb(4, 3, 2, 64, 128, 6), mb(6, 3, 1, 128, 160, 9),
                mb(6, 3, 2, 160, 256, 15)], 1280
    if arch == "efficientnet_v2_m":
        return [fused(1, 3, 1, 24, 24, 3), fused(4, 3, 2, 24, 48, 5), fused(4, 3, 2, 48, 80, 5),
                mb(4, 3, 2, 80, 160, 7), mb(6, 3, 1, 160, 176, 14), mb(6, 3, 2, 176, 304, 18),
                mb(6, 3, 1, 304, 512, 5)], 1280
    if arch == "efficientnet_v2_l":
        return [fused(1, 3, 1, 32, 32, 4), fused(4, 3, 2, 32, 64, 7), fused(4, 3, 2, 64, 96, 7),
                mb(4, 3, 2, 96, 192, 10), mb(6, 3, 1, 192, 224, 19), mb(6, 3, 2, 224, 384, 25),
                mb(6, 3, 1, 384, 640, 7)], 1280
    raise ValueError(f"Unsupported model type {arch}")


def _efficientnet(arch: str, dropout: float, weights: WeightsEnum | None, progress: bool,
                  width_mult: float = 1.0, depth_mult: float = 1.0,
                  norm_layer: Callable[..., nn.Module] | None = None, **kwargs: Any
                  ) -> EfficientNet:
    setting, last_channel = _efficientnet_conf(arch, width_mult, depth_mult)
    _fit_to_weights(weights, kwargs)
    if norm_layer is not None:
        kwargs["norm_layer"] = norm_layer
    model = EfficientNet(setting, dropout, last_channel=last_channel, **kwargs)
    return _load_weights(model, weights, progress)


# B5-B7 were ported from TensorFlow, whose batch norm defaults these are; V2 uses eps only
_TF_BN = functools.partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)
_V2_BN = functools.partial(nn.BatchNorm2d, eps=1e-03)


def _weights(file_name: str, num_params: int, crop_size: int, resize_size: int,
             interpolation: InterpolationMode = InterpolationMode.BICUBIC,
             min_size: tuple[int, int] = (1, 1), **norm: Any) -> Weights:
    """An ImageNet-1K record with EfficientNet's per-model evaluation resolution."""
    transforms = functools.partial(ImageClassification, crop_size=crop_size,
                                   resize_size=resize_size, interpolation=interpolation, **norm)
    return Weights(url=_URL + file_name, transforms=transforms,
                   meta={"num_params": num_params, "min_size": min_size,
                         "categories": _IMAGENET_CATEGORIES})


class EfficientNet_B0_Weights(WeightsEnum):
    IMAGENET1K_V1 = _weights("efficientnet_b0_rwightman-7f5810bc.pth", 5288548, 224, 256)
    DEFAULT = IMAGENET1K_V1


class EfficientNet_B1_Weights(WeightsEnum):
    IMAGENET1K_V1 = _weights("efficientnet_b1_rwightman-bac287d4.pth", 7794184, 240, 256)
    IMAGENET1K_V2 = _weights("efficientnet_b1-c27df63c.pth", 7794184, 240, 255,
                             InterpolationMode.BILINEAR)
    DEFAULT = IMAGENET1K_V2


class EfficientNet_B2_Weights(WeightsEnum):
    IMAGENET1K_V1 = _weights("efficientnet_b2_rwightman-c35c1473.pth", 9109994, 288, 288)
    DEFAULT = IMAGENET1K_V1


class EfficientNet_B3_Weights(WeightsEnum):
    IMAGENET1K_V1 = _weights("efficientnet_b3_rwightman-b3899882.pth", 12233232, 300, 320)
    DEFAULT = IMAGENET1K_V1


class EfficientNet_B4_Weights(WeightsEnum):
    IMAGENET1K_V1 = _weights("efficientnet_b4_rwightman-23ab8bcd.pth", 19341616, 380, 384)
    DEFAULT = IMAGENET1K_V1


class EfficientNet_B5_Weights(WeightsEnum):
    IMAGENET1K_V1 = _weights("efficientnet_b5_lukemelas-1a07897c.pth", 30389784, 456, 456)
    DEFAULT = IMAGENET1K_V1


class EfficientNet_B6_Weights(WeightsEnum):
    IMAGENET1K_V1 = _weights("efficientnet_b6_lukemelas-24a108a5.pth", 43040704, 528, 528)
    DEFAULT = IMAGENET1K_V1


class EfficientNet_B7_Weights(WeightsEnum):
    IMAGENET1K_V1 = _weights("efficientnet_b7_lukemelas-c5b4e57e.pth", 66347960, 600, 600)
    DEFAULT = IMAGENET1K_V1


class EfficientNet_V2_S_Weights(WeightsEnum):
    IMAGENET1K_V1 = _weights("efficientnet_v2_s-dd5fe13b.pth", 21458488, 384, 384,
                             InterpolationMode.BILINEAR, (33, 33))
    DEFAULT = IMAGENET1K_V1


class EfficientNet_V2_M_Weights(WeightsEnum):
    IMAGENET1K_V1 = _weights("efficientnet_v2_m-dc08266a.pth", 54139356, 480, 480,
                             InterpolationMode.BILINEAR, (33, 33))
    DEFAULT = IMAGENET1K_V1


class EfficientNet_V2_L_Weights(WeightsEnum):
    # ported from the paper's TensorFlow weights, which expect inputs in [-1, 1]
    IMAGENET1K_V1 = _weights("efficientnet_v2_l-59c71312.pth", 118515272, 480, 480,
                             InterpolationMode.BICUBIC, (33, 33), mean=(0.5, 0.5, 0.5),
                             std=(0.5, 0.5, 0.5))
    DEFAULT = IMAGENET1K_V1


@register_model()
@handle_legacy_interface(EfficientNet_B0_Weights.IMAGENET1K_V1)
def efficientnet_b0(*, weights: EfficientNet_B0_Weights | None = None,
                    progress: bool = True, **kwargs) -> EfficientNet:
    """EfficientNet B0 from `EfficientNet: Rethinking Model Scaling for Convolutional
    Neural Networks <https://arxiv.org/abs/1905.11946>`_.

    Args:
        weights: an ``EfficientNet_B0_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`EfficientNet` (``num_classes``, ``stochastic_depth_prob``,
            ``norm_layer``).
    """
    weights = EfficientNet_B0_Weights.verify(weights)
    return _efficientnet("efficientnet_b0", 0.2, weights, progress, width_mult=1.0, depth_mult=1.0,
                         **kwargs)


@register_model()
@handle_legacy_interface(EfficientNet_B1_Weights.IMAGENET1K_V1)
def efficientnet_b1(*, weights: EfficientNet_B1_Weights | None = None,
                    progress: bool = True, **kwargs) -> EfficientNet:
    """EfficientNet B1 from `EfficientNet: Rethinking Model Scaling for Convolutional
    Neural Networks <https://arxiv.org/abs/1905.11946>`_.

    Args:
        weights: an ``EfficientNet_B1_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`EfficientNet` (``num_classes``, ``stochastic_depth_prob``,
            ``norm_layer``).
    """
    weights = EfficientNet_B1_Weights.verify(weights)
    return _efficientnet("efficientnet_b1", 0.2, weights, progress, width_mult=1.0, depth_mult=1.1,
                         **kwargs)


@register_model()
@handle_legacy_interface(EfficientNet_B2_Weights.IMAGENET1K_V1)
def efficientnet_b2(*, weights: EfficientNet_B2_Weights | None = None,
                    progress: bool = True, **kwargs) -> EfficientNet:
    """EfficientNet B2 from `EfficientNet: Rethinking Model Scaling for Convolutional
    Neural Networks <https://arxiv.org/abs/1905.11946>`_.

    Args:
        weights: an ``EfficientNet_B2_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`EfficientNet` (``num_classes``, ``stochastic_depth_prob``,
            ``norm_layer``).
    """
    weights = EfficientNet_B2_Weights.verify(weights)
    return _efficientnet("efficientnet_b2", 0.3, weights, progress, width_mult=1.1, depth_mult=1.2,
                         **kwargs)


@register_model()
@handle_legacy_interface(EfficientNet_B3_Weights.IMAGENET1K_V1)
def efficientnet_b3(*, weights: EfficientNet_B3_Weights | None = None,
                    progress: bool = True, **kwargs) -> EfficientNet:
    """EfficientNet B3 from `EfficientNet: Rethinking Model Scaling for Convolutional
    Neural Networks <https://arxiv.org/abs/1905.11946>`_.

    Args:
        weights: an ``EfficientNet_B3_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`EfficientNet` (``num_classes``, ``stochastic_depth_prob``,
            ``norm_layer``).
    """
    weights = EfficientNet_B3_Weights.verify(weights)
    return _efficientnet("efficientnet_b3", 0.3, weights, progress, width_mult=1.2, depth_mult=1.4,
                         **kwargs)


@register_model()
@handle_legacy_interface(EfficientNet_B4_Weights.IMAGENET1K_V1)
def efficientnet_b4(*, weights: EfficientNet_B4_Weights | None = None,
                    progress: bool = True, **kwargs) -> EfficientNet:
    """EfficientNet B4 from `EfficientNet: Rethinking Model Scaling for Convolutional
    Neural Networks <https://arxiv.org/abs/1905.11946>`_.

    Args:
        weights: an ``EfficientNet_B4_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`EfficientNet` (``num_classes``, ``stochastic_depth_prob``,
            ``norm_layer``).
    """
    weights = EfficientNet_B4_Weights.verify(weights)
    return _efficientnet("efficientnet_b4", 0.4, weights, progress, width_mult=1.4, depth_mult=1.8,
                         **kwargs)


@register_model()
@handle_legacy_interface(EfficientNet_B5_Weights.IMAGENET1K_V1)
def efficientnet_b5(*, weights: EfficientNet_B5_Weights | None = None,
                    progress: bool = True, **kwargs) -> EfficientNet:
    """EfficientNet B5 from `EfficientNet: Rethinking Model Scaling for Convolutional
    Neural Networks <https://arxiv.org/abs/1905.11946>`_.

    Args:
        weights: an ``EfficientNet_B5_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`EfficientNet` (``num_classes``, ``stochastic_depth_prob``,
            ``norm_layer``).
    """
    weights = EfficientNet_B5_Weights.verify(weights)
    return _efficientnet("efficientnet_b5", 0.4, weights, progress, width_mult=1.6, depth_mult=2.2,
                         norm_layer=_TF_BN, **kwargs)


@register_model()
@handle_legacy_interface(EfficientNet_B6_Weights.IMAGENET1K_V1)
def efficientnet_b6(*, weights: EfficientNet_B6_Weights | None = None,
                    progress: bool = True, **kwargs) -> EfficientNet:
    """EfficientNet B6 from `EfficientNet: Rethinking Model Scaling for Convolutional
    Neural Networks <https://arxiv.org/abs/1905.11946>`_.

    Args:
        weights: an ``EfficientNet_B6_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`EfficientNet` (``num_classes``, ``stochastic_depth_prob``,
            ``norm_layer``).
    """
    weights = EfficientNet_B6_Weights.verify(weights)
    return _efficientnet("efficientnet_b6", 0.5, weights, progress, width_mult=1.8, depth_mult=2.6,
                         norm_layer=_TF_BN, **kwargs)


@register_model()
@handle_legacy_interface(EfficientNet_B7_Weights.IMAGENET1K_V1)
def efficientnet_b7(*, weights: EfficientNet_B7_Weights | None = None,
                    progress: bool = True, **kwargs) -> EfficientNet:
    """EfficientNet B7 from `EfficientNet: Rethinking Model Scaling for Convolutional
    Neural Networks <https://arxiv.org/abs/1905.11946>`_.

    Args:
        weights: an ``EfficientNet_B7_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`EfficientNet` (``num_classes``, ``stochastic_depth_prob``,
            ``norm_layer``).
    """
    weights = EfficientNet_B7_Weights.verify(weights)
    return _efficientnet("efficientnet_b7", 0.5, weights, progress, width_mult=2.0, depth_mult=3.1,
                         norm_layer=_TF_BN, **kwargs)


@register_model()
@handle_legacy_interface(EfficientNet_V2_S_Weights.IMAGENET1K_V1)
def efficientnet_v2_s(*, weights: EfficientNet_V2_S_Weights | None = None,
                      progress: bool = True, **kwargs) -> EfficientNet:
    """EfficientNetV2-S from `EfficientNetV2: Smaller Models and Faster Training
    <https://arxiv.org/abs/2104.00298>`_.

    Args:
        weights: an ``EfficientNet_V2_S_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`EfficientNet` (``num_classes``, ``stochastic_depth_prob``,
            ``norm_layer``).
    """
    weights = EfficientNet_V2_S_Weights.verify(weights)
    return _efficientnet("efficientnet_v2_s", 0.2, weights, progress, norm_layer=_V2_BN, **kwargs)


@register_model()
@handle_legacy_interface(EfficientNet_V2_M_Weights.IMAGENET1K_V1)
def efficientnet_v2_m(*, weights: EfficientNet_V2_M_Weights | None = None,
                      progress: bool = True, **kwargs) -> EfficientNet:
    """EfficientNetV2-M from `EfficientNetV2: Smaller Models and Faster Training
    <https://arxiv.org/abs/2104.00298>`_.

    Args:
        weights: an ``EfficientNet_V2_M_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`EfficientNet` (``num_classes``, ``stochastic_depth_prob``,
            ``norm_layer``).
    """
    weights = EfficientNet_V2_M_Weights.verify(weights)
    return _efficientnet("efficientnet_v2_m", 0.3, weights, progress, norm_layer=_V2_BN, **kwargs)


@register_model()
@handle_legacy_interface(EfficientNet_V2_L_Weights.IMAGENET1K_V1)
def efficientnet_v2_l(*, weights: EfficientNet_V2_L_Weights | None = None,
                      progress: bool = True, **kwargs) -> EfficientNet:
    """EfficientNetV2-L from `EfficientNetV2: Smaller Models and Faster Training
    <https://arxiv.org/abs/2104.00298>`_.

    Args:
        weights: an ``EfficientNet_V2_L_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`EfficientNet` (``num_classes``, ``stochastic_depth_prob``,
            ``norm_layer``).
    """
    weights = EfficientNet_V2_L_Weights.verify(weights)
    return _efficientnet("efficientnet_v2_l", 0.4, weights, progress, norm_layer=_V2_BN, **kwargs)
