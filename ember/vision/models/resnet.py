"""ResNets, ResNeXts and Wide ResNets with torchvision's layout and state_dict keys (conv1, bn1,
layer1.0.conv1, ..., fc) and pretrained weights."""
from __future__ import annotations

from typing import Callable

from ember import nn
from ember._tensor import Tensor
from ember.vision.models._api import WeightsEnum, register_model
from ember.vision.models._utils import (
    _URL,
    _fit_to_weights,
    _imagenet_weights,
    _load_weights,
    _ovewrite_named_param,
    handle_legacy_interface,
)

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "ResNet18_Weights", "ResNet34_Weights",
           "ResNet50_Weights", "ResNet101_Weights", "ResNet152_Weights",
           "ResNeXt50_32X4D_Weights", "ResNeXt101_32X8D_Weights", "ResNeXt101_64X4D_Weights",
           "Wide_ResNet50_2_Weights", "Wide_ResNet101_2_Weights", "resnet18", "resnet34",
           "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "resnext101_32x8d",
           "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2"]


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1,
            dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=dilation, groups=groups,
                     bias=False, dilation=dilation)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a shortcut (ResNet-18/34)."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None, groups: int = 1, base_width: int = 64,
                 dilation: int = 1, norm_layer: Callable | None = None) -> None:
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and base_width=64")
        if dilation > 1:
            raise NotImplementedError("Dilation > 1 not supported in BasicBlock")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        # torchvision's order and in-place sum: hooks see the shortcut last, traces an add_
        out += x if self.downsample is None else self.downsample(x)
        return self.relu(out)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 -> 1x1 convolutions with a shortcut (ResNet-50 and deeper)."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None, groups: int = 1, base_width: int = 64,
                 dilation: int = 1, norm_layer: Callable | None = None) -> None:
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += x if self.downsample is None else self.downsample(x)  # (as in BasicBlock)
        return self.relu(out)


class ResNet(nn.Module):
    """A ResNet of ``block``s, ``layers[i]`` of them in stage ``i + 1``.

    Shape:
        - Input: (N, 3, H, W) (224x224 in ImageNet use; any size >= 32 works).
        - Output: (N, num_classes).
    """

    def __init__(self, block, layers: list, num_classes: int = 1000,
                 zero_init_residual: bool = False, groups: int = 1, width_per_group: int = 64,
                 replace_stride_with_dilation: list | None = None,
                 norm_layer: Callable | None = None) -> None:
        super().__init__()
        self._norm_layer = norm_layer or nn.BatchNorm2d
        self.inplanes = 64
        self.dilation = 1
        replace_stride_with_dilation = replace_stride_with_dilation or [False, False, False]
        if len(replace_stride_with_dilation) != 3:
            raise ValueError("replace_stride_with_dilation should be None or a 3-element tuple, "
                             f"got {replace_stride_with_dilation}")
        self.groups = groups
        self.base_width = width_per_group
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = self._norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], 2, replace_stride_with_dilation[0])
        self.layer3 = self._make_layer(block, 256, layers[2], 2, replace_stride_with_dilation[1])
        self.layer4 = self._make_layer(block, 512, layers[3], 2, replace_stride_with_dilation[2])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.constant_(m.bn3.weight, 0)
                elif isinstance(m, BasicBlock):
                    nn.init.constant_(m.bn2.weight, 0)

    def _make_layer(self, block, planes: int, blocks: int, stride: int = 1,
                    dilate: bool = False) -> nn.Sequential:
        norm_layer = self._norm_layer
        downsample = None
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       norm_layer(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width,
                        previous_dilation, norm_layer)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups,
                                base_width=self.base_width, dilation=self.dilation,
                                norm_layer=norm_layer))
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.avgpool(x).flatten(1)
        return self.fc(x)


def _resnet(block, layers: list, weights: WeightsEnum | None, progress: bool,
            **kwargs) -> ResNet:
    _fit_to_weights(weights, kwargs)
    return _load_weights(ResNet(block, layers, **kwargs), weights, progress)


# The V1 weights are the original training recipe; V2 (torchvision's newer recipe) are more
# accurate and evaluated after resizing to 232.
class ResNet18_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet_weights(_URL + "resnet18-f37072fd.pth", 11689512)
    DEFAULT = IMAGENET1K_V1


class ResNet34_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet_weights(_URL + "resnet34-b627a593.pth", 21797672)
    DEFAULT = IMAGENET1K_V1


class ResNet50_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet_weights(_URL + "resnet50-0676ba61.pth", 25557032)
    IMAGENET1K_V2 = _imagenet_weights(_URL + "resnet50-11ad3fa6.pth", 25557032, resize_size=232)
    DEFAULT = IMAGENET1K_V2


class ResNet101_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet_weights(_URL + "resnet101-63fe2227.pth", 44549160)
    IMAGENET1K_V2 = _imagenet_weights(_URL + "resnet101-cd907fc2.pth", 44549160,
                                      resize_size=232)
    DEFAULT = IMAGENET1K_V2


class ResNet152_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet_weights(_URL + "resnet152-394f9c45.pth", 60192808)
    IMAGENET1K_V2 = _imagenet_weights(_URL + "resnet152-f82ba261.pth", 60192808,
                                      resize_size=232)
    DEFAULT = IMAGENET1K_V2


class ResNeXt50_32X4D_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet_weights(_URL + "resnext50_32x4d-7cdf4587.pth", 25028904)
    IMAGENET1K_V2 = _imagenet_weights(_URL + "resnext50_32x4d-1a0047aa.pth", 25028904,
                                      resize_size=232)
    DEFAULT = IMAGENET1K_V2


class ResNeXt101_32X8D_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet_weights(_URL + "resnext101_32x8d-8ba56ff5.pth", 88791336)
    IMAGENET1K_V2 = _imagenet_weights(_URL + "resnext101_32x8d-110c445d.pth", 88791336,
                                      resize_size=232)
    DEFAULT = IMAGENET1K_V2


class ResNeXt101_64X4D_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet_weights(_URL + "resnext101_64x4d-173b62eb.pth", 83455272,
                                      resize_size=232)
    DEFAULT = IMAGENET1K_V1


class Wide_ResNet50_2_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet_weights(_URL + "wide_resnet50_2-95faca4d.pth", 68883240)
    IMAGENET1K_V2 = _imagenet_weights(_URL + "wide_resnet50_2-9ba9bcbe.pth", 68883240,
                                      resize_size=232)
    DEFAULT = IMAGENET1K_V2


class Wide_ResNet101_2_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet_weights(_URL + "wide_resnet101_2-32ee1156.pth", 126886696)
    IMAGENET1K_V2 = _imagenet_weights(_URL + "wide_resnet101_2-d733dc28.pth", 126886696,
                                      resize_size=232)
    DEFAULT = IMAGENET1K_V2


@register_model()
@handle_legacy_interface(ResNet18_Weights.IMAGENET1K_V1)
def resnet18(*, weights: ResNet18_Weights | None = None, progress: bool = True,
             **kwargs) -> ResNet:
    """ResNet-18 (BasicBlock x [2, 2, 2, 2]), from `Deep Residual Learning for Image
    Recognition <https://arxiv.org/abs/1512.03385>`_.

    Args:
        weights: a ``ResNet18_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`ResNet` (``num_classes``, ``zero_init_residual``, ...).
    """
    weights = ResNet18_Weights.verify(weights)
    return _resnet(BasicBlock, [2, 2, 2, 2], weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(ResNet34_Weights.IMAGENET1K_V1)
def resnet34(*, weights: ResNet34_Weights | None = None, progress: bool = True,
             **kwargs) -> ResNet:
    """ResNet-34 (BasicBlock x [3, 4, 6, 3]).

    Args:
        weights: a ``ResNet34_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`ResNet` (``num_classes``, ``zero_init_residual``, ...).
    """
    weights = ResNet34_Weights.verify(weights)
    return _resnet(BasicBlock, [3, 4, 6, 3], weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(ResNet50_Weights.IMAGENET1K_V1)
def resnet50(*, weights: ResNet50_Weights | None = None, progress: bool = True,
             **kwargs) -> ResNet:
    """ResNet-50 (Bottleneck x [3, 4, 6, 3]).

    Args:
        weights: a ``ResNet50_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`ResNet` (``num_classes``, ``zero_init_residual``, ...).
    """
    weights = ResNet50_Weights.verify(weights)
    return _resnet(Bottleneck, [3, 4, 6, 3], weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(ResNet101_Weights.IMAGENET1K_V1)
def resnet101(*, weights: ResNet101_Weights | None = None, progress: bool = True,
              **kwargs) -> ResNet:
    """ResNet-101 (Bottleneck x [3, 4, 23, 3]).

    Args:
        weights: a ``ResNet101_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`ResNet` (``num_classes``, ``zero_init_residual``, ...).
    """
    weights = ResNet101_Weights.verify(weights)
    return _resnet(Bottleneck, [3, 4, 23, 3], weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(ResNet152_Weights.IMAGENET1K_V1)
def resnet152(*, weights: ResNet152_Weights | None = None, progress: bool = True,
              **kwargs) -> ResNet:
    """ResNet-152 (Bottleneck x [3, 8, 36, 3]).

    Args:
        weights: a ``ResNet152_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`ResNet` (``num_classes``, ``zero_init_residual``, ...).
    """
    weights = ResNet152_Weights.verify(weights)
    return _resnet(Bottleneck, [3, 8, 36, 3], weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(ResNeXt50_32X4D_Weights.IMAGENET1K_V1)
def resnext50_32x4d(*, weights: ResNeXt50_32X4D_Weights | None = None, progress: bool = True,
                    **kwargs) -> ResNet:
    """ResNeXt-50 32x4d: ResNet-50 with 32 groups of width 4 in each 3x3 convolution, from
    `Aggregated Residual Transformations <https://arxiv.org/abs/1611.05431>`_.

    Args:
        weights: a ``ResNeXt50_32X4D_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`ResNet` (``num_classes``, ``zero_init_residual``, ...).
    """
    weights = ResNeXt50_32X4D_Weights.verify(weights)
    _ovewrite_named_param(kwargs, "groups", 32)
    _ovewrite_named_param(kwargs, "width_per_group", 4)
    return _resnet(Bottleneck, [3, 4, 6, 3], weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(ResNeXt101_32X8D_Weights.IMAGENET1K_V1)
def resnext101_32x8d(*, weights: ResNeXt101_32X8D_Weights | None = None, progress: bool = True,
                     **kwargs) -> ResNet:
    """ResNeXt-101 32x8d (32 groups of width 8).

    Args:
        weights: a ``ResNeXt101_32X8D_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`ResNet` (``num_classes``, ``zero_init_residual``, ...).
    """
    weights = ResNeXt101_32X8D_Weights.verify(weights)
    _ovewrite_named_param(kwargs, "groups", 32)
    _ovewrite_named_param(kwargs, "width_per_group", 8)
    return _resnet(Bottleneck, [3, 4, 23, 3], weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(ResNeXt101_64X4D_Weights.IMAGENET1K_V1)
def resnext101_64x4d(*, weights: ResNeXt101_64X4D_Weights | None = None, progress: bool = True,
                     **kwargs) -> ResNet:
    """ResNeXt-101 64x4d (64 groups of width 4).

    Args:
        weights: a ``ResNeXt101_64X4D_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`ResNet` (``num_classes``, ``zero_init_residual``, ...).
    """
    weights = ResNeXt101_64X4D_Weights.verify(weights)
    _ovewrite_named_param(kwargs, "groups", 64)
    _ovewrite_named_param(kwargs, "width_per_group", 4)
    return _resnet(Bottleneck, [3, 4, 23, 3], weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(Wide_ResNet50_2_Weights.IMAGENET1K_V1)
def wide_resnet50_2(*, weights: Wide_ResNet50_2_Weights | None = None, progress: bool = True,
                    **kwargs) -> ResNet:
    """Wide ResNet-50-2: ResNet-50 with twice the bottleneck width, from `Wide Residual
    Networks <https://arxiv.org/abs/1605.07146>`_.

    Args:
        weights: a ``Wide_ResNet50_2_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`ResNet` (``num_classes``, ``zero_init_residual``, ...).
    """
    weights = Wide_ResNet50_2_Weights.verify(weights)
    _ovewrite_named_param(kwargs, "width_per_group", 128)
    return _resnet(Bottleneck, [3, 4, 6, 3], weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(Wide_ResNet101_2_Weights.IMAGENET1K_V1)
def wide_resnet101_2(*, weights: Wide_ResNet101_2_Weights | None = None, progress: bool = True,
                     **kwargs) -> ResNet:
    """Wide ResNet-101-2: ResNet-101 with twice the bottleneck width.

    Args:
        weights: a ``Wide_ResNet101_2_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`ResNet` (``num_classes``, ``zero_init_residual``, ...).
    """
    weights = Wide_ResNet101_2_Weights.verify(weights)
    _ovewrite_named_param(kwargs, "width_per_group", 128)
    return _resnet(Bottleneck, [3, 4, 23, 3], weights, progress, **kwargs)
