"""Building blocks of the MobileNets (torchvision's ``ops.misc``), with its state_dict keys:
a Conv2dNormActivation is a Sequential, so its layers are ``0`` (conv), ``1`` (norm), ``2``."""
from __future__ import annotations

from typing import Callable

from ember import nn
from ember._tensor import Tensor


class Conv2dNormActivation(nn.Sequential):
    """Conv2d, then ``norm_layer`` and ``activation_layer`` (each skipped when None).

    The padding defaults to ``(kernel_size - 1) // 2 * dilation`` (same size at stride 1); the
    convolution has a bias only when there is no norm layer.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 stride: int = 1, padding: int | None = None, groups: int = 1,
                 norm_layer: Callable[..., nn.Module] | None = nn.BatchNorm2d,
                 activation_layer: Callable[..., nn.Module] | None = nn.ReLU,
                 dilation: int = 1, inplace: bool | None = True, bias: bool | None = None) -> None:
        if padding is None:
            padding = (kernel_size - 1) // 2 * dilation
        if bias is None:
            bias = norm_layer is None
        layers = [nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding,
                            dilation=dilation, groups=groups, bias=bias)]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            params = {} if inplace is None else {"inplace": inplace}
            layers.append(activation_layer(**params))
        super().__init__(*layers)
        self.out_channels = out_channels


class SqueezeExcitation(nn.Module):
    """Squeeze-and-Excitation (Hu et al., 2018): global average pool, 1x1 conv down to
    ``squeeze_channels``, ``activation``, 1x1 conv back, ``scale_activation``, and the result
    scales the input's channels."""

    def __init__(self, input_channels: int, squeeze_channels: int,
                 activation: Callable[..., nn.Module] = nn.ReLU,
                 scale_activation: Callable[..., nn.Module] = nn.Sigmoid) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def forward(self, input: Tensor) -> Tensor:
        scale = self.fc2(self.activation(self.fc1(self.avgpool(input))))
        return self.scale_activation(scale) * input
