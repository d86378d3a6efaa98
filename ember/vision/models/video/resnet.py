"""Video ResNets on (N, 3, T, H, W) clips with torchvision's layout and state_dict keys (stem,
layer1.0.conv1.0, ..., fc): R3D (full 3-D convolutions), MC3 (3-D in the first stage, spatial
only after) and R(2+1)D (each 3-D convolution split into spatial then temporal), from `A Closer
Look at Spatiotemporal Convolutions for Action Recognition <https://arxiv.org/abs/1711.11248>`_.
"""
from __future__ import annotations

from typing import Callable, Sequence

from ember import nn
from ember._tensor import Tensor
from ember.vision.models._api import WeightsEnum, register_model
from ember.vision.models._utils import (
    _URL,
    _fit_to_weights,
    _load_weights,
    handle_legacy_interface,
)
from ember.vision.models.video._utils import _kinetics400_weights

__all__ = ["VideoResNet", "R3D_18_Weights", "MC3_18_Weights", "R2Plus1D_18_Weights", "r3d_18",
           "mc3_18", "r2plus1d_18"]


class Conv3DSimple(nn.Conv3d):
    """A 3x3x3 convolution, strided in time and space alike (R3D)."""

    def __init__(self, in_planes: int, out_planes: int, midplanes: int | None = None,
                 stride: int = 1, padding: int = 1) -> None:
        super().__init__(in_planes, out_planes, kernel_size=(3, 3, 3), stride=stride,
                         padding=padding, bias=False)

    @staticmethod
    def get_downsample_stride(stride: int) -> tuple[int, int, int]:
        return stride, stride, stride


class Conv2Plus1D(nn.Sequential):
    """A 1x3x3 spatial convolution to ``midplanes`` channels, BatchNorm, ReLU, then a 3x1x1
    temporal convolution: a factorised 3x3x3 convolution (R(2+1)D)."""

    def __init__(self, in_planes: int, out_planes: int, midplanes: int, stride: int = 1,
                 padding: int = 1) -> None:
        super().__init__(
            nn.Conv3d(in_planes, midplanes, kernel_size=(1, 3, 3), stride=(1, stride, stride),
                      padding=(0, padding, padding), bias=False),
            nn.BatchNorm3d(midplanes),
            nn.ReLU(inplace=True),
            nn.Conv3d(midplanes, out_planes, kernel_size=(3, 1, 1), stride=(stride, 1, 1),
                      padding=(padding, 0, 0), bias=False),
        )

    @staticmethod
    def get_downsample_stride(stride: int) -> tuple[int, int, int]:
        return stride, stride, stride


class Conv3DNoTemporal(nn.Conv3d):
    """A 1x3x3 convolution: spatial only, never strided in time (MC3's later stages)."""

    def __init__(self, in_planes: int, out_planes: int, midplanes: int | None = None,
                 stride: int = 1, padding: int = 1) -> None:
        super().__init__(in_planes, out_planes, kernel_size=(1, 3, 3),
                         stride=(1, stride, stride), padding=(0, padding, padding), bias=False)

    @staticmethod
    def get_downsample_stride(stride: int) -> tuple[int, int, int]:
        return 1, stride, stride


def _midplanes(inplanes: int, planes: int) -> int:
    # R(2+1)D's middle width: the factorised pair has as many weights as one 3x3x3 convolution
    return (inplanes * planes * 3 * 3 * 3) // (inplanes * 3 * 3 + 3 * planes)


class BasicBlock(nn.Module):
    """Two ``conv_builder`` convolutions (each with BatchNorm3d) and a shortcut."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, conv_builder: Callable[..., nn.Module],
                 stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        midplanes = _midplanes(inplanes, planes)
        self.conv1 = nn.Sequential(conv_builder(inplanes, planes, midplanes, stride),
                                   nn.BatchNorm3d(planes), nn.ReLU(inplace=True))
        self.conv2 = nn.Sequential(conv_builder(planes, planes, midplanes),
                                   nn.BatchNorm3d(planes))
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        return self.relu(self.conv2(self.conv1(x)) + residual)


class Bottleneck(nn.Module):
    """1x1x1 -> ``conv_builder`` -> 1x1x1 convolutions (each with BatchNorm3d) and a
    shortcut."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, conv_builder: Callable[..., nn.Module],
                 stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        midplanes = _midplanes(inplanes, planes)
        self.conv1 = nn.Sequential(nn.Conv3d(inplanes, planes, kernel_size=1, bias=False),
                                   nn.BatchNorm3d(planes), nn.ReLU(inplace=True))
        self.conv2 = nn.Sequential(conv_builder(planes, planes, midplanes, stride),
                                   nn.BatchNorm3d(planes), nn.ReLU(inplace=True))
        self.conv3 = nn.Sequential(
            nn.Conv3d(planes, planes * self.expansion, kernel_size=1, bias=False),
            nn.BatchNorm3d(planes * self.expansion))
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        return self.relu(self.conv3(self.conv2(self.conv1(x))) + residual)


class BasicStem(nn.Sequential):
    """A 3x7x7 convolution (stride 1x2x2) to 64 channels, BatchNorm3d, ReLU."""

    def __init__(self) -> None:
        super().__init__(
            nn.Conv3d(3, 64, kernel_size=(3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3),
                      bias=False),
            nn.BatchNorm3d(64),
            nn.ReLU(inplace=True),
        )


class R2Plus1dStem(nn.Sequential):
    """R(2+1)D's stem: the 3x7x7 convolution factorised into 1x7x7 (to 45 channels) and 3x1x1,
    each followed by BatchNorm3d and ReLU."""

    def __init__(self) -> None:
        super().__init__(
            nn.Conv3d(3, 45, kernel_size=(1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3),
                      bias=False),
            nn.BatchNorm3d(45),
            nn.ReLU(inplace=True),
            nn.Conv3d(45, 64, kernel_size=(3, 1, 1), stride=(1, 1, 1), padding=(1, 0, 0),
                      bias=False),
            nn.BatchNorm3d(64),
            nn.ReLU(inplace=True),
        )


class VideoResNet(nn.Module):
    """A ResNet for clips: ``stem``, four stages of ``block``s (``layers[i]`` in stage i + 1,
    stage i built with ``conv_makers[i]``), global average pooling over (T, H, W) and a linear
    classifier.

    Args:
        block: :class:`BasicBlock` or :class:`Bottleneck`.
        conv_makers: the convolution of each stage: :class:`Conv3DSimple`,
            :class:`Conv3DNoTemporal` or :class:`Conv2Plus1D`.
        layers: blocks per stage.
        stem: builds the stem (:class:`BasicStem` or :class:`R2Plus1dStem`).
        num_classes: outputs of the classifier (Kinetics-400: 400).
        zero_init_residual: start each residual branch's last BatchNorm at zero (Bottleneck).

    Shape:
        - Input: (N, 3, T, H, W) (Kinetics weights: 16 frames of 112x112).
        - Output: (N, num_classes).
    """

    def __init__(self, block: type[BasicBlock | Bottleneck],
                 conv_makers: Sequence[type[Conv3DSimple | Conv3DNoTemporal | Conv2Plus1D]],
                 layers: list[int], stem: Callable[..., nn.Module], num_classes: int = 400,
                 zero_init_residual: bool = False) -> None:
        super().__init__()
        self.inplanes = 64
        self.stem = stem()
        self.layer1 = self._make_layer(block, conv_makers[0], 64, layers[0], stride=1)
        self.layer2 = self._make_layer(block, conv_makers[1], 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, conv_makers[2], 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, conv_makers[3], 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool3d((1, 1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.constant_(m.conv3[1].weight, 0)

    def _make_layer(self, block: type[BasicBlock | Bottleneck],
                    conv_builder: type[Conv3DSimple | Conv3DNoTemporal | Conv2Plus1D],
                    planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv3d(self.inplanes, planes * block.expansion, kernel_size=1,
                          stride=conv_builder.get_downsample_stride(stride), bias=False),
                nn.BatchNorm3d(planes * block.expansion))
        layers = [block(self.inplanes, planes, conv_builder, stride, downsample)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, conv_builder))
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def _video_resnet(block: type[BasicBlock | Bottleneck],
                  conv_makers: Sequence[type[nn.Module]], layers: list[int],
                  stem: Callable[..., nn.Module], weights: WeightsEnum | None, progress: bool,
                  **kwargs) -> VideoResNet:
    _fit_to_weights(weights, kwargs)
    return _load_weights(VideoResNet(block, conv_makers, layers, stem, **kwargs), weights,
                         progress)


class R3D_18_Weights(WeightsEnum):
    KINETICS400_V1 = _kinetics400_weights(_URL + "r3d_18-b3b3357e.pth", 33371472,
                                          crop_size=(112, 112), resize_size=(128, 171))
    DEFAULT = KINETICS400_V1


class MC3_18_Weights(WeightsEnum):
    KINETICS400_V1 = _kinetics400_weights(_URL + "mc3_18-a90a0ba3.pth", 11695440,
                                          crop_size=(112, 112), resize_size=(128, 171))
    DEFAULT = KINETICS400_V1


class R2Plus1D_18_Weights(WeightsEnum):
    KINETICS400_V1 = _kinetics400_weights(_URL + "r2plus1d_18-91a641e6.pth", 31505325,
                                          crop_size=(112, 112), resize_size=(128, 171))
    DEFAULT = KINETICS400_V1


@register_model()
@handle_legacy_interface(R3D_18_Weights.KINETICS400_V1)
def r3d_18(*, weights: R3D_18_Weights | None = None, progress: bool = True,
           **kwargs) -> VideoResNet:
    """R3D-18: an 18-layer ResNet of 3x3x3 convolutions.

    Args:
        weights: a ``R3D_18_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`VideoResNet` (``num_classes``, ``zero_init_residual``).

    Example::

        >>> r3d_18(num_classes=5)(ember.rand(1, 3, 4, 32, 32)).shape
        torch.Size([1, 5])
    """
    weights = R3D_18_Weights.verify(weights)
    return _video_resnet(BasicBlock, [Conv3DSimple] * 4, [2, 2, 2, 2], BasicStem, weights,
                         progress, **kwargs)


@register_model()
@handle_legacy_interface(MC3_18_Weights.KINETICS400_V1)
def mc3_18(*, weights: MC3_18_Weights | None = None, progress: bool = True,
           **kwargs) -> VideoResNet:
    """MC3-18: R3D-18 whose stages 2 to 4 convolve in space only (mixed convolutions).

    Args:
        weights: a ``MC3_18_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`VideoResNet` (``num_classes``, ``zero_init_residual``).
    """
    weights = MC3_18_Weights.verify(weights)
    return _video_resnet(BasicBlock, [Conv3DSimple] + [Conv3DNoTemporal] * 3, [2, 2, 2, 2],
                         BasicStem, weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(R2Plus1D_18_Weights.KINETICS400_V1)
def r2plus1d_18(*, weights: R2Plus1D_18_Weights | None = None, progress: bool = True,
                **kwargs) -> VideoResNet:
    """R(2+1)D-18: R3D-18 with every 3-D convolution factorised into spatial and temporal
    ones.

    Args:
        weights: a ``R2Plus1D_18_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`VideoResNet` (``num_classes``, ``zero_init_residual``).
    """
    weights = R2Plus1D_18_Weights.verify(weights)
    return _video_resnet(BasicBlock, [Conv2Plus1D] * 4, [2, 2, 2, 2], R2Plus1dStem, weights,
                         progress, **kwargs)
