"""DenseNet-121/161/169/201, with torchvision's layout and keys (``features.conv0``,
``features.denseblock1.denselayer1.norm1``, ``features.transition1.conv``, ..., ``classifier``).
"""
from __future__ import annotations

import re

from ember import cat, nn
from ember._tensor import Tensor
from ember.nn import functional as F
from ember.utils import checkpoint as cp
from ember.vision.models._api import WeightsEnum, register_model
from ember.vision.models._utils import (
    _URL,
    _fit_to_weights,
    _imagenet_weights,
    handle_legacy_interface,
)

__all__ = ["DenseNet", "DenseNet121_Weights", "DenseNet161_Weights", "DenseNet169_Weights",
           "DenseNet201_Weights", "densenet121", "densenet161", "densenet169", "densenet201"]


class _DenseLayer(nn.Module):
    """BN-ReLU-Conv1x1 to ``bn_size * growth_rate`` channels, then BN-ReLU-Conv3x3 to
    ``growth_rate`` new channels, applied to all the block's earlier outputs concatenated."""

    def __init__(self, num_input_features: int, growth_rate: int, bn_size: int,
                 drop_rate: float, memory_efficient: bool = False) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, kernel_size=1,
                               stride=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, stride=1,
                               padding=1, bias=False)
        self.drop_rate = float(drop_rate)
        self.memory_efficient = memory_efficient

    def bn_function(self, *inputs: Tensor) -> Tensor:
        return self.conv1(self.relu1(self.norm1(cat(inputs, 1))))

    def forward(self, input: Tensor | list[Tensor]) -> Tensor:
        prev_features = [input] if isinstance(input, Tensor) else input
        if self.memory_efficient and any(t.requires_grad for t in prev_features):
            # recompute the concatenation and bottleneck in backward instead of storing them
            bottleneck = cp.checkpoint(self.bn_function, *prev_features, use_reentrant=False)
        else:
            bottleneck = self.bn_function(*prev_features)
        new_features = self.conv2(self.relu2(self.norm2(bottleneck)))
        if self.drop_rate > 0:
            new_features = F.dropout(new_features, p=self.drop_rate, training=self.training)
        return new_features


class _DenseBlock(nn.ModuleDict):
    """``num_layers`` dense layers; each sees every earlier output, and the block returns them
    all concatenated (``num_input_features + num_layers * growth_rate`` channels)."""

    def __init__(self, num_layers: int, num_input_features: int, bn_size: int,
                 growth_rate: int, drop_rate: float, memory_efficient: bool = False) -> None:
        super().__init__()
        for i in range(num_layers):
            layer = _DenseLayer(num_input_features + i * growth_rate, growth_rate=growth_rate,
                                bn_size=bn_size, drop_rate=drop_rate,
                                memory_efficient=memory_efficient)
            self.add_module(f"denselayer{i + 1}", layer)

    def forward(self, init_features: Tensor) -> Tensor:
        features = [init_features]
        for layer in self.values():
            features.append(layer(features))
        return cat(features, 1)


class _Transition(nn.Sequential):
    """BN-ReLU-Conv1x1 to ``num_output_features`` and a 2x2 average pool between blocks."""

    def __init__(self, num_input_features: int, num_output_features: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(num_input_features)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(num_input_features, num_output_features, kernel_size=1, stride=1,
                              bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)


class DenseNet(nn.Module):
    """Densely connected convolutional network (Huang et al., 2017).

    Args:
        growth_rate: channels each dense layer adds (``k`` in the paper).
        block_config: dense layers in each of the four blocks.
        num_init_features: channels of the first convolution.
        bn_size: bottleneck width, as a multiple of ``growth_rate``.
        drop_rate: dropout after each dense layer.
        num_classes: output classes.
        memory_efficient: checkpoint each layer's concatenation and bottleneck (less memory,
            more compute).

    Shape:
        - Input: (N, 3, H, W), H and W at least 29 (224 in ImageNet use).
        - Output: (N, num_classes).
    """

    def __init__(self, growth_rate: int = 32, block_config: tuple = (6, 12, 24, 16),
                 num_init_features: int = 64, bn_size: int = 4, drop_rate: float = 0,
                 num_classes: int = 1000, memory_efficient: bool = False) -> None:
        super().__init__()
        self.features = nn.Sequential()
        self.features.add_module("conv0", nn.Conv2d(3, num_init_features, kernel_size=7,
                                                    stride=2, padding=3, bias=False))
        self.features.add_module("norm0", nn.BatchNorm2d(num_init_features))
        self.features.add_module("relu0", nn.ReLU(inplace=True))
        self.features.add_module("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        num_features = num_init_features
        for i, num_layers in enumerate(block_config):
            block = _DenseBlock(num_layers, num_features, bn_size=bn_size,
                                growth_rate=growth_rate, drop_rate=drop_rate,
                                memory_efficient=memory_efficient)
            self.features.add_module(f"denseblock{i + 1}", block)
            num_features += num_layers * growth_rate
            if i != len(block_config) - 1:
                self.features.add_module(f"transition{i + 1}",
                                         _Transition(num_features, num_features // 2))
                num_features //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(num_features))
        self.classifier = nn.Linear(num_features, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.constant_(m.bias, 0)

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.features(x), inplace=True)
        out = F.adaptive_avg_pool2d(out, (1, 1)).flatten(1)
        return self.classifier(out)


# torchvision's DenseNet checkpoints predate the layer names norm1/relu1/conv1 and use
# "norm.1"; the names are mapped on load.
_OLD_LAYER_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.([12]\.(?:weight|bias|running_mean|running_var))$")


def _densenet(growth_rate: int, block_config: tuple, num_init_features: int,
              weights: WeightsEnum | None, progress: bool, **kwargs) -> DenseNet:
    _fit_to_weights(weights, kwargs)
    model = DenseNet(growth_rate, block_config, num_init_features, **kwargs)
    if weights is not None:
        state_dict = weights.get_state_dict(progress=progress, check_hash=True)
        model.load_state_dict({_OLD_LAYER_KEY.sub(r"\1\2", k): v for k, v in state_dict.items()})
    return model


class DenseNet121_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet_weights(_URL + "densenet121-a639ec97.pth", 7978856,
                                      min_size=(29, 29))
    DEFAULT = IMAGENET1K_V1


class DenseNet161_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet_weights(_URL + "densenet161-8d451a50.pth", 28681000,
                                      min_size=(29, 29))
    DEFAULT = IMAGENET1K_V1


class DenseNet169_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet_weights(_URL + "densenet169-b2777c0a.pth", 14149480,
                                      min_size=(29, 29))
    DEFAULT = IMAGENET1K_V1


class DenseNet201_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet_weights(_URL + "densenet201-c1103571.pth", 20013928,
                                      min_size=(29, 29))
    DEFAULT = IMAGENET1K_V1


@register_model()
@handle_legacy_interface(DenseNet121_Weights.IMAGENET1K_V1)
def densenet121(*, weights: DenseNet121_Weights | None = None, progress: bool = True,
                **kwargs) -> DenseNet:
    """DenseNet-121 (growth rate 32, blocks (6, 12, 24, 16)), from `Densely Connected
    Convolutional Networks <https://arxiv.org/abs/1608.06993>`_.

    Args:
        weights: a ``DenseNet121_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`DenseNet` (``num_classes``, ``drop_rate``,
            ``memory_efficient``, ...).
    """
    weights = DenseNet121_Weights.verify(weights)
    return _densenet(32, (6, 12, 24, 16), 64, weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(DenseNet161_Weights.IMAGENET1K_V1)
def densenet161(*, weights: DenseNet161_Weights | None = None, progress: bool = True,
                **kwargs) -> DenseNet:
    """DenseNet-161 (growth rate 48, blocks (6, 12, 36, 24)).

    Args:
        weights: a ``DenseNet161_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`DenseNet` (``num_classes``, ``drop_rate``,
            ``memory_efficient``, ...).
    """
    weights = DenseNet161_Weights.verify(weights)
    return _densenet(48, (6, 12, 36, 24), 96, weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(DenseNet169_Weights.IMAGENET1K_V1)
def densenet169(*, weights: DenseNet169_Weights | None = None, progress: bool = True,
                **kwargs) -> DenseNet:
    """DenseNet-169 (growth rate 32, blocks (6, 12, 32, 32)).

    Args:
        weights: a ``DenseNet169_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`DenseNet` (``num_classes``, ``drop_rate``,
            ``memory_efficient``, ...).
    """
    weights = DenseNet169_Weights.verify(weights)
    return _densenet(32, (6, 12, 32, 32), 64, weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(DenseNet201_Weights.IMAGENET1K_V1)
def densenet201(*, weights: DenseNet201_Weights | None = None, progress: bool = True,
                **kwargs) -> DenseNet:
    """DenseNet-201 (growth rate 32, blocks (6, 12, 48, 32)).

    Args:
        weights: a ``DenseNet201_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`DenseNet` (``num_classes``, ``drop_rate``,
            ``memory_efficient``, ...).
    """
    weights = DenseNet201_Weights.verify(weights)
    return _densenet(32, (6, 12, 48, 32), 64, weights, progress, **kwargs)
