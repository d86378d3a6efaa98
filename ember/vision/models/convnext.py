"""ConvNeXt Tiny, Small, Base and Large, with torchvision's layout and keys (``features``:
stem at 0, stages at odd indices of ``CNBlock``s with ``block.{0,2,3,5}`` and ``layer_scale``,
downsampling at even ones; ``classifier.{0,2}``)."""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

from ember import nn, ones
from ember._tensor import Tensor
from ember.nn import functional as F
from ember.vision.models._api import Weights, WeightsEnum, register_model
from ember.vision.models._meta import _IMAGENET_CATEGORIES
from ember.vision.models._ops import Conv2dNormActivation, Permute, StochasticDepth
from ember.vision.models._presets import ImageClassification
from ember.vision.models._utils import (
    _URL,
    _fit_to_weights,
    _load_weights,
    handle_legacy_interface,
)

__all__ = ["ConvNeXt", "ConvNeXt_Base_Weights", "ConvNeXt_Large_Weights",
           "ConvNeXt_Small_Weights", "ConvNeXt_Tiny_Weights", "convnext_base", "convnext_large",
           "convnext_small", "convnext_tiny"]


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an (N, C, H, W) tensor, at every position."""

    def forward(self, x: Tensor) -> Tensor:
        x = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias,
                         self.eps)
        return x.permute(0, 3, 1, 2)


class CNBlock(nn.Module):
    """The ConvNeXt block: depthwise 7x7, LayerNorm and an inverted-bottleneck MLP (4x, GELU)
    over channels-last, scaled per channel by ``layer_scale``, through stochastic depth, plus
    the input."""

    def __init__(self, dim: int, layer_scale: float, stochastic_depth_prob: float,
                 norm_layer: Callable[..., nn.Module] | None = None) -> None:
        super().__init__()
        norm_layer = norm_layer or functools.partial(nn.LayerNorm, eps=1e-6)
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim, bias=True),
            Permute([0, 2, 3, 1]),
            norm_layer(dim),
            nn.Linear(in_features=dim, out_features=4 * dim, bias=True),
            nn.GELU(),
            nn.Linear(in_features=4 * dim, out_features=dim, bias=True),
            Permute([0, 3, 1, 2]),
        )
        self.layer_scale = nn.Parameter(ones(dim, 1, 1) * layer_scale)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")

    def forward(self, input: Tensor) -> Tensor:
        return self.stochastic_depth(self.layer_scale * self.block(input)) + input


class CNBlockConfig:
    """One stage (section 3 of the paper): ``num_layers`` blocks at ``input_channels``, then
    a downsampling to ``out_channels`` (None for the last stage)."""

    def __init__(self, input_channels: int, out_channels: int | None, num_layers: int) -> None:
        self.input_channels = input_channels
        self.out_channels = out_channels
        self.num_layers = num_layers

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(input_channels={self.input_channels}, "
                f"out_channels={self.out_channels}, num_layers={self.num_layers})")


class ConvNeXt(nn.Module):
    """ConvNeXt (Liu et al., 2022): a 4x4 stride-4 "patchify" stem with LayerNorm, stages of
    :class:`CNBlock` separated by LayerNorm + 2x2 stride-2 convolutions, global average
    pooling, LayerNorm and a linear classifier.

    Args:
        block_setting: the stages.
        stochastic_depth_prob: the last block's drop probability, growing linearly from 0.
        layer_scale: the initial per-channel scale of each block's branch.
        num_classes: output classes.
        block: default :class:`CNBlock`.
        norm_layer: default ``LayerNorm2d(eps=1e-6)``.

    Shape:
        - Input: (N, 3, H, W), H, W >= 32.
        - Output: (N, num_classes).
    """

    def __init__(self, block_setting: Sequence[CNBlockConfig], stochastic_depth_prob: float = 0.0,
                 layer_scale: float = 1e-6, num_classes: int = 1000,
                 block: Callable[..., nn.Module] | None = None,
                 norm_layer: Callable[..., nn.Module] | None = None, **kwargs: Any) -> None:
        super().__init__()
        if not block_setting:
            raise ValueError("The block_setting should not be empty")
        if not (isinstance(block_setting, Sequence)
                and all(isinstance(s, CNBlockConfig) for s in block_setting)):
            raise TypeError("The block_setting should be List[CNBlockConfig]")
        block = block or CNBlock
        norm_layer = norm_layer or functools.partial(LayerNorm2d, eps=1e-6)
        layers: list[nn.Module] = [
            Conv2dNormActivation(3, block_setting[0].input_channels, kernel_size=4, stride=4,
                                 padding=0, norm_layer=norm_layer, activation_layer=None,
                                 bias=True)]
        total_blocks = sum(cnf.num_layers for cnf in block_setting)
        block_id = 0
        for cnf in block_setting:
            stage = []
            for _ in range(cnf.num_layers):
                sd_prob = stochastic_depth_prob * block_id / (total_blocks - 1.0)
                stage.append(block(cnf.input_channels, layer_scale, sd_prob))
                block_id += 1
            layers.append(nn.Sequential(*stage))
            if cnf.out_channels is not None:
                layers.append(nn.Sequential(
                    norm_layer(cnf.input_channels),
                    nn.Conv2d(cnf.input_channels, cnf.out_channels, kernel_size=2, stride=2)))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        last = block_setting[-1]
        last_channels = last.out_channels if last.out_channels is not None else last.input_channels
        self.classifier = nn.Sequential(norm_layer(last_channels), nn.Flatten(1),
                                        nn.Linear(last_channels, num_classes))
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.avgpool(self.features(x)))


def _convnext(block_setting: list[CNBlockConfig], default_sd_prob: float,
              weights: WeightsEnum | None, progress: bool, **kwargs: Any) -> ConvNeXt:
    _fit_to_weights(weights, kwargs)
    kwargs.setdefault("stochastic_depth_prob", default_sd_prob)
    return _load_weights(ConvNeXt(block_setting, **kwargs), weights, progress)


def _weights(file_name: str, num_params: int, resize_size: int) -> Weights:
    transforms = functools.partial(ImageClassification, crop_size=224, resize_size=resize_size)
    return Weights(url=_URL + file_name, transforms=transforms,
                   meta={"num_params": num_params, "min_size": (32, 32),
                         "categories": _IMAGENET_CATEGORIES})


class ConvNeXt_Tiny_Weights(WeightsEnum):
    IMAGENET1K_V1 = _weights("convnext_tiny-983f1562.pth", 28589128, 236)
    DEFAULT = IMAGENET1K_V1


class ConvNeXt_Small_Weights(WeightsEnum):
    IMAGENET1K_V1 = _weights("convnext_small-0c510722.pth", 50223688, 230)
    DEFAULT = IMAGENET1K_V1


class ConvNeXt_Base_Weights(WeightsEnum):
    IMAGENET1K_V1 = _weights("convnext_base-6075fbad.pth", 88591464, 232)
    DEFAULT = IMAGENET1K_V1


class ConvNeXt_Large_Weights(WeightsEnum):
    IMAGENET1K_V1 = _weights("convnext_large-ea097f82.pth", 197767336, 232)
    DEFAULT = IMAGENET1K_V1


def _setting(widths: tuple[int, int, int, int], depths: tuple[int, int, int, int]
             ) -> list[CNBlockConfig]:
    outs = (*widths[1:], None)
    return [CNBlockConfig(w, o, d) for w, o, d in zip(widths, outs, depths)]


@register_model()
@handle_legacy_interface(ConvNeXt_Tiny_Weights.IMAGENET1K_V1)
def convnext_tiny(*, weights: ConvNeXt_Tiny_Weights | None = None,
                  progress: bool = True, **kwargs) -> ConvNeXt:
    """ConvNeXt Tiny from `A ConvNet for the 2020s <https://arxiv.org/abs/2201.03545>`_.

    Args:
        weights: a ``ConvNeXt_Tiny_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`ConvNeXt` (``num_classes``, ``stochastic_depth_prob``
            (default 0.1), ``layer_scale``, ...).
    """
    weights = ConvNeXt_Tiny_Weights.verify(weights)
    setting = _setting((96, 192, 384, 768), (3, 3, 9, 3))
    return _convnext(setting, 0.1, weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(ConvNeXt_Small_Weights.IMAGENET1K_V1)
def convnext_small(*, weights: ConvNeXt_Small_Weights | None = None,
                   progress: bool = True, **kwargs) -> ConvNeXt:
    """ConvNeXt Small from `A ConvNet for the 2020s <https://arxiv.org/abs/2201.03545>`_.

    Args:
        weights: a ``ConvNeXt_Small_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`ConvNeXt` (``num_classes``, ``stochastic_depth_prob``
            (default 0.4), ``layer_scale``, ...).
    """
    weights = ConvNeXt_Small_Weights.verify(weights)
    setting = _setting((96, 192, 384, 768), (3, 3, 27, 3))
    return _convnext(setting, 0.4, weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(ConvNeXt_Base_Weights.IMAGENET1K_V1)
def convnext_base(*, weights: ConvNeXt_Base_Weights | None = None,
                  progress: bool = True, **kwargs) -> ConvNeXt:
    """ConvNeXt Base from `A ConvNet for the 2020s <https://arxiv.org/abs/2201.03545>`_.

    Args:
        weights: a ``ConvNeXt_Base_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`ConvNeXt` (``num_classes``, ``stochastic_depth_prob``
            (default 0.5), ``layer_scale``, ...).
    """
    weights = ConvNeXt_Base_Weights.verify(weights)
    setting = _setting((128, 256, 512, 1024), (3, 3, 27, 3))
    return _convnext(setting, 0.5, weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(ConvNeXt_Large_Weights.IMAGENET1K_V1)
def convnext_large(*, weights: ConvNeXt_Large_Weights | None = None,
                   progress: bool = True, **kwargs) -> ConvNeXt:
    """ConvNeXt Large from `A ConvNet for the 2020s <https://arxiv.org/abs/2201.03545>`_.

    Args:
        weights: a ``ConvNeXt_Large_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`ConvNeXt` (``num_classes``, ``stochastic_depth_prob``
            (default 0.5), ``layer_scale``, ...).
    """
    weights = ConvNeXt_Large_Weights.verify(weights)
    setting = _setting((192, 384, 768, 1536), (3, 3, 27, 3))
    return _convnext(setting, 0.5, weights, progress, **kwargs)
