"""VGG 11/13/16/19, with and without batch norm, with torchvision's layout and keys: the
convolutions are ``features.<i>`` and the three linear layers ``classifier.{0,3,6}``."""
from __future__ import annotations

import functools

from ember import nn
from ember._tensor import Tensor
from ember.vision.models._api import Weights, WeightsEnum, register_model
from ember.vision.models._presets import ImageClassification
from ember.vision.models._utils import (
    _URL,
    _fit_to_weights,
    _imagenet_weights,
    _load_weights,
    handle_legacy_interface,
)

__all__ = ["VGG", "VGG11_Weights", "VGG11_BN_Weights", "VGG13_Weights", "VGG13_BN_Weights",
           "VGG16_Weights", "VGG16_BN_Weights", "VGG19_Weights", "VGG19_BN_Weights", "vgg11",
           "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"]


class VGG(nn.Module):
    """A convolutional ``features`` stack, a 7x7 adaptive average pool and three linear layers.

    Args:
        features: the convolutional part, ending in 512 channels (see ``make_layers``).
        num_classes: outputs of the last layer.
        init_weights: initialise as torchvision does (convolutions Kaiming-normal with
            fan_out, linear layers N(0, 0.01), biases 0).
        dropout: the dropout probability after the first two linear layers.

    Shape:
        - Input: (N, 3, H, W), H and W at least 32 (224 in ImageNet use).
        - Output: (N, num_classes).
    """

    def __init__(self, features: nn.Module, num_classes: int = 1000, init_weights: bool = True,
                 dropout: float = 0.5) -> None:
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    if m.bias is not None:
                        nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.constant_(m.bias, 0)

    def forward(self, x: Tensor) -> Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def make_layers(cfg: list, batch_norm: bool = False) -> nn.Sequential:
    """3x3 convolutions of ``cfg``'s widths (each followed by batch norm if asked, and ReLU),
    with a 2x2 max pool at each ``"M"``."""
    layers: list[nn.Module] = []
    in_channels = 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(in_channels, v, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(v))
        layers.append(nn.ReLU(inplace=True))
        in_channels = v
    return nn.Sequential(*layers)


# The configurations of the VGG paper's table 1, by its column letters.
cfgs: dict[str, list] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512,
          512, 512, "M"],
}


def _vgg(cfg: str, batch_norm: bool, weights: WeightsEnum | None, progress: bool,
         **kwargs) -> VGG:
    if weights is not None:
        kwargs["init_weights"] = False  # the checkpoint overwrites every value
    _fit_to_weights(weights, kwargs)
    model = VGG(make_layers(cfgs[cfg], batch_norm=batch_norm), **kwargs)
    return _load_weights(model, weights, progress)


def _vgg_weights(file_name: str, num_params: int) -> Weights:
    return _imagenet_weights(_URL + file_name, num_params, min_size=(32, 32))


class VGG11_Weights(WeightsEnum):
    IMAGENET1K_V1 = _vgg_weights("vgg11-8a719046.pth", 132863336)
    DEFAULT = IMAGENET1K_V1


class VGG11_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = _vgg_weights("vgg11_bn-6002323d.pth", 132868840)
    DEFAULT = IMAGENET1K_V1


class VGG13_Weights(WeightsEnum):
    IMAGENET1K_V1 = _vgg_weights("vgg13-19584684.pth", 133047848)
    DEFAULT = IMAGENET1K_V1


class VGG13_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = _vgg_weights("vgg13_bn-abd245e5.pth", 133053736)
    DEFAULT = IMAGENET1K_V1


class VGG16_Weights(WeightsEnum):
    IMAGENET1K_V1 = _vgg_weights("vgg16-397923af.pth", 138357544)
    # Ported from the SSD authors' Caffe model, for feature extraction only (no categories);
    # its preset scales inputs back to 0-255 and subtracts the mean.
    IMAGENET1K_FEATURES = Weights(
        url=_URL + "vgg16_features-amdegroot-88682ab5.pth",
        transforms=functools.partial(ImageClassification, crop_size=224,
                                     mean=(0.48235, 0.45882, 0.40784),
                                     std=(1.0 / 255.0, 1.0 / 255.0, 1.0 / 255.0)),
        meta={"num_params": 138357544, "min_size": (32, 32), "categories": None},
    )
    DEFAULT = IMAGENET1K_V1


class VGG16_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = _vgg_weights("vgg16_bn-6c64b313.pth", 138365992)
    DEFAULT = IMAGENET1K_V1


class VGG19_Weights(WeightsEnum):
    IMAGENET1K_V1 = _vgg_weights("vgg19-dcbb9e9d.pth", 143667240)
    DEFAULT = IMAGENET1K_V1


class VGG19_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = _vgg_weights("vgg19_bn-c79401a0.pth", 143678248)
    DEFAULT = IMAGENET1K_V1


@register_model()
@handle_legacy_interface(VGG11_Weights.IMAGENET1K_V1)
def vgg11(*, weights: VGG11_Weights | None = None, progress: bool = True,
          **kwargs) -> VGG:
    """VGG-11 (configuration A) from `Very Deep Convolutional Networks for Large-Scale Image
    Recognition <https://arxiv.org/abs/1409.1556>`_.

    Args:
        weights: a ``VGG11_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`VGG` (``num_classes``, ``dropout``, ``init_weights``).
    """
    return _vgg("A", False, VGG11_Weights.verify(weights), progress, **kwargs)


@register_model()
@handle_legacy_interface(VGG11_BN_Weights.IMAGENET1K_V1)
def vgg11_bn(*, weights: VGG11_BN_Weights | None = None, progress: bool = True,
             **kwargs) -> VGG:
    """VGG-11 with batch normalisation.

    Args:
        weights: a ``VGG11_BN_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`VGG` (``num_classes``, ``dropout``, ``init_weights``).
    """
    return _vgg("A", True, VGG11_BN_Weights.verify(weights), progress, **kwargs)


@register_model()
@handle_legacy_interface(VGG13_Weights.IMAGENET1K_V1)
def vgg13(*, weights: VGG13_Weights | None = None, progress: bool = True,
          **kwargs) -> VGG:
    """VGG-13 (configuration B).

    Args:
        weights: a ``VGG13_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`VGG` (``num_classes``, ``dropout``, ``init_weights``).
    """
    return _vgg("B", False, VGG13_Weights.verify(weights), progress, **kwargs)


@register_model()
@handle_legacy_interface(VGG13_BN_Weights.IMAGENET1K_V1)
def vgg13_bn(*, weights: VGG13_BN_Weights | None = None, progress: bool = True,
             **kwargs) -> VGG:
    """VGG-13 with batch normalisation.

    Args:
        weights: a ``VGG13_BN_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`VGG` (``num_classes``, ``dropout``, ``init_weights``).
    """
    return _vgg("B", True, VGG13_BN_Weights.verify(weights), progress, **kwargs)


@register_model()
@handle_legacy_interface(VGG16_Weights.IMAGENET1K_V1)
def vgg16(*, weights: VGG16_Weights | None = None, progress: bool = True,
          **kwargs) -> VGG:
    """VGG-16 (configuration D).

    Args:
        weights: a ``VGG16_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`VGG` (``num_classes``, ``dropout``, ``init_weights``).
    """
    return _vgg("D", False, VGG16_Weights.verify(weights), progress, **kwargs)


@register_model()
@handle_legacy_interface(VGG16_BN_Weights.IMAGENET1K_V1)
def vgg16_bn(*, weights: VGG16_BN_Weights | None = None, progress: bool = True,
             **kwargs) -> VGG:
    """VGG-16 with batch normalisation.

    Args:
        weights: a ``VGG16_BN_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`VGG` (``num_classes``, ``dropout``, ``init_weights``).
    """
    return _vgg("D", True, VGG16_BN_Weights.verify(weights), progress, **kwargs)


@register_model()
@handle_legacy_interface(VGG19_Weights.IMAGENET1K_V1)
def vgg19(*, weights: VGG19_Weights | None = None, progress: bool = True,
          **kwargs) -> VGG:
    """VGG-19 (configuration E).

    Args:
        weights: a ``VGG19_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`VGG` (``num_classes``, ``dropout``, ``init_weights``).
    """
    return _vgg("E", False, VGG19_Weights.verify(weights), progress, **kwargs)


@register_model()
@handle_legacy_interface(VGG19_BN_Weights.IMAGENET1K_V1)
def vgg19_bn(*, weights: VGG19_BN_Weights | None = None, progress: bool = True,
             **kwargs) -> VGG:
    """VGG-19 with batch normalisation.

    Args:
        weights: a ``VGG19_BN_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`VGG` (``num_classes``, ``dropout``, ``init_weights``).
    """
    return _vgg("E", True, VGG19_BN_Weights.verify(weights), progress, **kwargs)
