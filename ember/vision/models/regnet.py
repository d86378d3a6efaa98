"""RegNetY and RegNetX (Radosavovic et al., 2020), with torchvision's layout and keys
(``stem``, ``trunk_output.block<i>.block<i>-<j>`` residual bottlenecks with ``proj`` and
``f.{a,b,se,c}``, ``fc``)."""
from __future__ import annotations

import functools
import math
from collections import OrderedDict
from typing import Any, Callable, Iterator

import ember
from ember import nn
from ember._tensor import Tensor
from ember.vision.models._api import Weights, WeightsEnum, register_model
from ember.vision.models._meta import _IMAGENET_CATEGORIES
from ember.vision.models._ops import Conv2dNormActivation, SqueezeExcitation
from ember.vision.models._presets import ImageClassification
from ember.vision.models._utils import (
    _URL,
    _fit_to_weights,
    _load_weights,
    _make_divisible,
    handle_legacy_interface,
)
from ember.vision.transforms.functional import InterpolationMode

__all__ = ["RegNet", "RegNet_X_16GF_Weights", "RegNet_X_1_6GF_Weights", "RegNet_X_32GF_Weights",
           "RegNet_X_3_2GF_Weights", "RegNet_X_400MF_Weights", "RegNet_X_800MF_Weights",
           "RegNet_X_8GF_Weights", "RegNet_Y_128GF_Weights", "RegNet_Y_16GF_Weights",
           "RegNet_Y_1_6GF_Weights", "RegNet_Y_32GF_Weights", "RegNet_Y_3_2GF_Weights",
           "RegNet_Y_400MF_Weights", "RegNet_Y_800MF_Weights", "RegNet_Y_8GF_Weights",
           "regnet_x_16gf", "regnet_x_1_6gf", "regnet_x_32gf", "regnet_x_3_2gf",
           "regnet_x_400mf", "regnet_x_800mf", "regnet_x_8gf", "regnet_y_128gf",
           "regnet_y_16gf", "regnet_y_1_6gf", "regnet_y_32gf", "regnet_y_3_2gf",
           "regnet_y_400mf", "regnet_y_800mf", "regnet_y_8gf"]


class SimpleStemIN(Conv2dNormActivation):
    """The ImageNet stem: a strided 3x3 convolution, norm and activation."""

    def __init__(self, width_in: int, width_out: int, norm_layer: Callable[..., nn.Module],
                 activation_layer: Callable[..., nn.Module]) -> None:
        super().__init__(width_in, width_out, kernel_size=3, stride=2, norm_layer=norm_layer,
                         activation_layer=activation_layer)


class BottleneckTransform(nn.Sequential):
    """1x1 (``a``), grouped 3x3 (``b``), optional squeeze-excitation (``se``), linear 1x1
    (``c``); the bottleneck width is ``width_out * bottleneck_multiplier``."""

    def __init__(self, width_in: int, width_out: int, stride: int,
                 norm_layer: Callable[..., nn.Module], activation_layer: Callable[..., nn.Module],
                 group_width: int, bottleneck_multiplier: float, se_ratio: float | None) -> None:
        w_b = int(round(width_out * bottleneck_multiplier))
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        layers["a"] = Conv2dNormActivation(width_in, w_b, kernel_size=1, norm_layer=norm_layer,
                                           activation_layer=activation_layer)
        layers["b"] = Conv2dNormActivation(w_b, w_b, kernel_size=3, stride=stride,
                                           groups=w_b // group_width, norm_layer=norm_layer,
                                           activation_layer=activation_layer)
        if se_ratio:
            # the squeeze width is relative to the block's input, not the bottleneck
            layers["se"] = SqueezeExcitation(w_b, int(round(se_ratio * width_in)),
                                             activation=activation_layer)
        layers["c"] = Conv2dNormActivation(w_b, width_out, kernel_size=1, norm_layer=norm_layer,
                                           activation_layer=None)
        super().__init__(layers)


class ResBottleneckBlock(nn.Module):
    """``activation(shortcut(x) + f(x))``; the shortcut is a strided 1x1 projection when
    the shape changes."""

    def __init__(self, width_in: int, width_out: int, stride: int,
                 norm_layer: Callable[..., nn.Module], activation_layer: Callable[..., nn.Module],
                 group_width: int = 1, bottleneck_multiplier: float = 1.0,
                 se_ratio: float | None = None) -> None:
        super().__init__()
        self.proj = None
        if width_in != width_out or stride != 1:
            self.proj = Conv2dNormActivation(width_in, width_out, kernel_size=1, stride=stride,
                                             norm_layer=norm_layer, activation_layer=None)
        self.f = BottleneckTransform(width_in, width_out, stride, norm_layer, activation_layer,
                                     group_width, bottleneck_multiplier, se_ratio)
        self.activation = activation_layer(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.proj is None else self.proj(x)
        return self.activation(shortcut + self.f(x))


class AnyStage(nn.Sequential):
    """``depth`` blocks of one width; only the first strides. Blocks are named
    ``block<stage_index>-<i>``."""

    def __init__(self, width_in: int, width_out: int, stride: int, depth: int,
                 block_constructor: Callable[..., nn.Module],
                 norm_layer: Callable[..., nn.Module], activation_layer: Callable[..., nn.Module],
                 group_width: int, bottleneck_multiplier: float, se_ratio: float | None = None,
                 stage_index: int = 0) -> None:
        super().__init__()
        for i in range(depth):
            block = block_constructor(width_in if i == 0 else width_out, width_out,
                                      stride if i == 0 else 1, norm_layer, activation_layer,
                                      group_width, bottleneck_multiplier, se_ratio)
            self.add_module(f"block{stage_index}-{i}", block)


class BlockParams:
    """Per-stage depths, widths, group widths, bottleneck multipliers and strides."""

    def __init__(self, depths: list[int], widths: list[int], group_widths: list[int],
                 bottleneck_multipliers: list[float], strides: list[int],
                 se_ratio: float | None = None) -> None:
        self.depths = depths
        self.widths = widths
        self.group_widths = group_widths
        self.bottleneck_multipliers = bottleneck_multipliers
        self.strides = strides
        self.se_ratio = se_ratio

    @classmethod
    def from_init_params(cls, depth: int, w_0: int, w_a: float, w_m: float, group_width: int,
                         bottleneck_multiplier: float = 1.0, se_ratio: float | None = None,
                         **kwargs: Any) -> BlockParams:
        """The stages of the quantized linear design space: block ``j`` would have width
        ``w_0 + w_a * j``; that is snapped to ``w_0 * w_m**k`` (integer ``k``, in log space)
        and to a multiple of 8, and consecutive blocks of equal width form a stage (each
        opening with stride 2). Computed in float32, as the reference does, so rounding
        lands on the same widths."""
        quant, stride = 8, 2
        if w_a < 0 or w_0 <= 0 or w_m <= 1 or w_0 % 8 != 0:
            raise ValueError("Invalid RegNet settings")
        widths_cont = ember.arange(depth) * w_a + w_0
        block_capacity = ember.round(ember.log(widths_cont / w_0) / math.log(w_m))
        scaled = w_0 * ember.pow(ember.full_like(block_capacity, w_m), block_capacity)
        block_widths = (ember.round(scaled / quant) * quant).int().tolist()
        stage_widths, stage_depths = [], []
        for w in block_widths:
            if stage_widths and stage_widths[-1] == w:
                stage_depths[-1] += 1
            else:
                stage_widths.append(w)
                stage_depths.append(1)
        n = len(stage_widths)
        multipliers = [bottleneck_multiplier] * n
        stage_widths, group_widths = cls._adjust_widths_groups_compatibilty(
            stage_widths, multipliers, [group_width] * n)
        return cls(depths=stage_depths, widths=stage_widths, group_widths=group_widths,
                   bottleneck_multipliers=multipliers, strides=[stride] * n, se_ratio=se_ratio)

    def _get_expanded_params(self) -> Iterator[tuple[int, int, int, int, float]]:
        return zip(self.widths, self.strides, self.depths, self.group_widths,
                   self.bottleneck_multipliers)

    @staticmethod
    def _adjust_widths_groups_compatibilty(stage_widths: list[int], bottleneck_ratios: list[float],
                                           group_widths: list[int]
                                           ) -> tuple[list[int], list[int]]:
        """Make each bottleneck width a multiple of its group width (which is capped at the
        bottleneck width) and derive the stage width back."""
        widths = [int(w * b) for w, b in zip(stage_widths, bottleneck_ratios)]
        group_widths_min = [min(g, w_bot) for g, w_bot in zip(group_widths, widths)]
        ws_bot = [_make_divisible(w_bot, g) for w_bot, g in zip(widths, group_widths_min)]
        return [int(w / b) for w, b in zip(ws_bot, bottleneck_ratios)], group_widths_min


class RegNet(nn.Module):
    """RegNet: a stem, the stages of ``block_params`` (in ``trunk_output``), global average
    pooling and a linear classifier.

    Args:
        block_params: the stages (see :meth:`BlockParams.from_init_params`).
        num_classes: output classes.
        stem_width: the stem's output width.
        stem_type: default :class:`SimpleStemIN`.
        block_type: default :class:`ResBottleneckBlock`.
        norm_layer: default ``BatchNorm2d``.
        activation: default ``ReLU``.

    Shape:
        - Input: (N, 3, H, W).
        - Output: (N, num_classes).
    """

    def __init__(self, block_params: BlockParams, num_classes: int = 1000, stem_width: int = 32,
                 stem_type: Callable[..., nn.Module] | None = None,
                 block_type: Callable[..., nn.Module] | None = None,
                 norm_layer: Callable[..., nn.Module] | None = None,
                 activation: Callable[..., nn.Module] | None = None) -> None:
        super().__init__()
        stem_type = stem_type or SimpleStemIN
        norm_layer = norm_layer or nn.BatchNorm2d
        block_type = block_type or ResBottleneckBlock
        activation = activation or nn.ReLU
        self.stem = stem_type(3, stem_width, norm_layer, activation)
        current_width = stem_width
        blocks = []
        for i, (width_out, stride, depth, group_width, bottleneck_multiplier) in enumerate(
                block_params._get_expanded_params()):
            blocks.append((f"block{i + 1}", AnyStage(
                current_width, width_out, stride, depth, block_type, norm_layer, activation,
                group_width, bottleneck_multiplier, block_params.se_ratio, stage_index=i + 1)))
            current_width = width_out
        self.trunk_output = nn.Sequential(OrderedDict(blocks))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(in_features=current_width, out_features=num_classes)
        for m in self.modules():  # ResNet's initialisation
            if isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, mean=0.0, std=math.sqrt(2.0 / fan_out))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, mean=0.0, std=0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.avgpool(self.trunk_output(self.stem(x)))
        return self.fc(x.flatten(start_dim=1))


def _regnet(block_params: BlockParams, weights: WeightsEnum | None, progress: bool,
            **kwargs: Any) -> RegNet:
    _fit_to_weights(weights, kwargs)
    norm_layer = kwargs.pop("norm_layer", functools.partial(nn.BatchNorm2d, eps=1e-05,
                                                            momentum=0.1))
    model = RegNet(block_params, norm_layer=norm_layer, **kwargs)
    return _load_weights(model, weights, progress)


def _weights(file_name: str, num_params: int, crop_size: int = 224, resize_size: int = 256,
             interpolation: InterpolationMode = InterpolationMode.BILINEAR) -> Weights:
    transforms = functools.partial(ImageClassification, crop_size=crop_size,
                                   resize_size=resize_size, interpolation=interpolation)
    return Weights(url=_URL + file_name, transforms=transforms,
                   meta={"num_params": num_params, "min_size": (1, 1),
                         "categories": _IMAGENET_CATEGORIES})


def _v1_v2(v1: str, v2: str, num_params: int) -> tuple[Weights, Weights]:
    """The original recipe's weights and the new recipe's (evaluated after resizing to 232)."""
    return _weights(v1, num_params), _weights(v2, num_params, resize_size=232)


def _swag(e2e: str, linear: str, num_params: int) -> tuple[Weights, Weights]:
    """SWAG weights: fine-tuned end to end at 384, and a linear classifier on the frozen
    trunk at 224."""
    bicubic = InterpolationMode.BICUBIC
    return (_weights(e2e, num_params, 384, 384, bicubic),
            _weights(linear, num_params, 224, 224, bicubic))


class RegNet_Y_400MF_Weights(WeightsEnum):
    IMAGENET1K_V1, IMAGENET1K_V2 = _v1_v2("regnet_y_400mf-c65dace8.pth",
                                          "regnet_y_400mf-e6988f5f.pth", 4344144)
    DEFAULT = IMAGENET1K_V2


class RegNet_Y_800MF_Weights(WeightsEnum):
    IMAGENET1K_V1, IMAGENET1K_V2 = _v1_v2("regnet_y_800mf-1b27b58c.pth",
                                          "regnet_y_800mf-58fc7688.pth", 6432512)
    DEFAULT = IMAGENET1K_V2


class RegNet_Y_1_6GF_Weights(WeightsEnum):
    IMAGENET1K_V1, IMAGENET1K_V2 = _v1_v2("regnet_y_1_6gf-b11a554e.pth",
                                          "regnet_y_1_6gf-0d7bc02a.pth", 11202430)
    DEFAULT = IMAGENET1K_V2


class RegNet_Y_3_2GF_Weights(WeightsEnum):
    IMAGENET1K_V1, IMAGENET1K_V2 = _v1_v2("regnet_y_3_2gf-b5a9779c.pth",
                                          "regnet_y_3_2gf-9180c971.pth", 19436338)
    DEFAULT = IMAGENET1K_V2


class RegNet_Y_8GF_Weights(WeightsEnum):
    IMAGENET1K_V1, IMAGENET1K_V2 = _v1_v2("regnet_y_8gf-d0d0e4a8.pth",
                                          "regnet_y_8gf-dc2b1b54.pth", 39381472)
    DEFAULT = IMAGENET1K_V2


class RegNet_Y_16GF_Weights(WeightsEnum):
    IMAGENET1K_V1, IMAGENET1K_V2 = _v1_v2("regnet_y_16gf-9e6ed7dd.pth",
                                          "regnet_y_16gf-3e4a00f9.pth", 83590140)
    IMAGENET1K_SWAG_E2E_V1, IMAGENET1K_SWAG_LINEAR_V1 = _swag(
        "regnet_y_16gf_swag-43afe44d.pth", "regnet_y_16gf_lc_swag-f3ec0043.pth", 83590140)
    DEFAULT = IMAGENET1K_V2


class RegNet_Y_32GF_Weights(WeightsEnum):
    IMAGENET1K_V1, IMAGENET1K_V2 = _v1_v2("regnet_y_32gf-4dee3f7a.pth",
                                          "regnet_y_32gf-8db6d4b5.pth", 145046770)
    IMAGENET1K_SWAG_E2E_V1, IMAGENET1K_SWAG_LINEAR_V1 = _swag(
        "regnet_y_32gf_swag-04fdfa75.pth", "regnet_y_32gf_lc_swag-e1583746.pth", 145046770)
    DEFAULT = IMAGENET1K_V2


class RegNet_Y_128GF_Weights(WeightsEnum):
    IMAGENET1K_SWAG_E2E_V1, IMAGENET1K_SWAG_LINEAR_V1 = _swag(
        "regnet_y_128gf_swag-c8ce3e52.pth", "regnet_y_128gf_lc_swag-cbe8ce12.pth", 644812894)
    DEFAULT = IMAGENET1K_SWAG_E2E_V1


class RegNet_X_400MF_Weights(WeightsEnum):
    IMAGENET1K_V1, IMAGENET1K_V2 = _v1_v2("regnet_x_400mf-adf1edd5.pth",
                                          "regnet_x_400mf-62229a5f.pth", 5495976)
    DEFAULT = IMAGENET1K_V2


class RegNet_X_800MF_Weights(WeightsEnum):
    IMAGENET1K_V1, IMAGENET1K_V2 = _v1_v2("regnet_x_800mf-ad17e45c.pth",
                                          "regnet_x_800mf-94a99ebd.pth", 7259656)
    DEFAULT = IMAGENET1K_V2


class RegNet_X_1_6GF_Weights(WeightsEnum):
    IMAGENET1K_V1, IMAGENET1K_V2 = _v1_v2("regnet_x_1_6gf-e3633e7f.pth",
                                          "regnet_x_1_6gf-a12f2b72.pth", 9190136)
    DEFAULT = IMAGENET1K_V2


class RegNet_X_3_2GF_Weights(WeightsEnum):
    IMAGENET1K_V1, IMAGENET1K_V2 = _v1_v2("regnet_x_3_2gf-f342aeae.pth",
                                          "regnet_x_3_2gf-7071aa85.pth", 15296552)
    DEFAULT = IMAGENET1K_V2


class RegNet_X_8GF_Weights(WeightsEnum):
    IMAGENET1K_V1, IMAGENET1K_V2 = _v1_v2("regnet_x_8gf-03ceed89.pth",
                                          "regnet_x_8gf-2b70d774.pth", 39572648)
    DEFAULT = IMAGENET1K_V2


class RegNet_X_16GF_Weights(WeightsEnum):
    IMAGENET1K_V1, IMAGENET1K_V2 = _v1_v2("regnet_x_16gf-2007eb11.pth",
                                          "regnet_x_16gf-ba3796d7.pth", 54278536)
    DEFAULT = IMAGENET1K_V2


class RegNet_X_32GF_Weights(WeightsEnum):
    IMAGENET1K_V1, IMAGENET1K_V2 = _v1_v2("regnet_x_32gf-9d47f8d0.pth",
                                          "regnet_x_32gf-6eb8fdc6.pth", 107811560)
    DEFAULT = IMAGENET1K_V2


def _builder(name: str, weights_enum: type, legacy: bool = True, **block) -> Callable:
    """The registered builder ``name`` of the RegNet with ``block``'s design parameters
    (``BlockParams.from_init_params``); ``legacy``: it also takes the deprecated
    ``pretrained=`` (every RegNet but RegNetY_128GF, which has no ImageNet-only weights)."""
    family, size = name.split("_", 2)[1:]
    title = f"RegNet{family.upper()}_{size.replace('_', '.').upper()}"  # RegNetY_1.6GF

    def builder(*, weights=None, progress: bool = True, **kwargs) -> RegNet:
        weights = weights_enum.verify(weights)
        return _regnet(BlockParams.from_init_params(**block), weights, progress, **kwargs)

    builder.__name__ = builder.__qualname__ = name
    builder.__annotations__["weights"] = weights_enum | None  # what get_model_weights reads
    builder.__doc__ = (f"""{title} from `Designing Network Design Spaces <https://arxiv.org/abs/2003.13678>`_.

    Args:
        weights: a ``{weights_enum.__name__}`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`RegNet` (``num_classes``, ``norm_layer``, ...).
    """)
    if legacy:
        builder = handle_legacy_interface(weights_enum.IMAGENET1K_V1)(builder)
    return register_model()(builder)


_Y = {"se_ratio": 0.25}  # RegNetY: RegNetX's blocks with squeeze-and-excitation

regnet_y_400mf = _builder("regnet_y_400mf", RegNet_Y_400MF_Weights,
                           depth=16, w_0=48, w_a=27.89, w_m=2.09, group_width=8, **_Y)
regnet_y_800mf = _builder("regnet_y_800mf", RegNet_Y_800MF_Weights,
                           depth=14, w_0=56, w_a=38.84, w_m=2.4, group_width=16, **_Y)
regnet_y_1_6gf = _builder("regnet_y_1_6gf", RegNet_Y_1_6GF_Weights,
                           depth=27, w_0=48, w_a=20.71, w_m=2.65, group_width=24, **_Y)
regnet_y_3_2gf = _builder("regnet_y_3_2gf", RegNet_Y_3_2GF_Weights,
                           depth=21, w_0=80, w_a=42.63, w_m=2.66, group_width=24, **_Y)
regnet_y_8gf = _builder("regnet_y_8gf", RegNet_Y_8GF_Weights,
                         depth=17, w_0=192, w_a=76.82, w_m=2.19, group_width=56, **_Y)
regnet_y_16gf = _builder("regnet_y_16gf", RegNet_Y_16GF_Weights,
                          depth=18, w_0=200, w_a=106.23, w_m=2.48, group_width=112, **_Y)
regnet_y_32gf = _builder("regnet_y_32gf", RegNet_Y_32GF_Weights,
                          depth=20, w_0=232, w_a=115.89, w_m=2.53, group_width=232, **_Y)
regnet_y_128gf = _builder("regnet_y_128gf", RegNet_Y_128GF_Weights, legacy=False,
                           depth=27, w_0=456, w_a=160.83, w_m=2.52, group_width=264, **_Y)
regnet_x_400mf = _builder("regnet_x_400mf", RegNet_X_400MF_Weights,
                           depth=22, w_0=24, w_a=24.48, w_m=2.54, group_width=16)
regnet_x_800mf = _builder("regnet_x_800mf", RegNet_X_800MF_Weights,
                           depth=16, w_0=56, w_a=35.73, w_m=2.28, group_width=16)
regnet_x_1_6gf = _builder("regnet_x_1_6gf", RegNet_X_1_6GF_Weights,
                           depth=18, w_0=80, w_a=34.01, w_m=2.25, group_width=24)
regnet_x_3_2gf = _builder("regnet_x_3_2gf", RegNet_X_3_2GF_Weights,
                           depth=25, w_0=88, w_a=26.31, w_m=2.25, group_width=48)
regnet_x_8gf = _builder("regnet_x_8gf", RegNet_X_8GF_Weights,
                         depth=23, w_0=80, w_a=49.56, w_m=2.88, group_width=120)
regnet_x_16gf = _builder("regnet_x_16gf", RegNet_X_16GF_Weights,
                          depth=22, w_0=216, w_a=55.59, w_m=2.1, group_width=128)
regnet_x_32gf = _builder("regnet_x_32gf", RegNet_X_32GF_Weights,
                          depth=23, w_0=320, w_a=69.86, w_m=2.0, group_width=168)
