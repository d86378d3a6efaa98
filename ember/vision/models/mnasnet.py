"""MNASNet (the B1 variant), with torchvision's layout and keys: one ``layers`` Sequential
(stem at 0..7, stacks of inverted residuals at 8..13, head at 14..16) and
``classifier.1``."""
from __future__ import annotations

import warnings

from ember import nn
from ember._tensor import Tensor
from ember.vision.models._api import WeightsEnum, register_model
from ember.vision.models._utils import (
    _URL,
    _fit_to_weights,
    _imagenet_weights,
    _load_weights,
    handle_legacy_interface,
)

__all__ = ["MNASNet", "MNASNet0_5_Weights", "MNASNet0_75_Weights", "MNASNet1_0_Weights",
           "MNASNet1_3_Weights", "mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3"]

# the paper's TensorFlow momentum 0.9997, in PyTorch's convention (1 - TensorFlow's)
_BN_MOMENTUM = 1 - 0.9997


class _InvertedResidual(nn.Module):
    """1x1 expansion by ``expansion_factor``, depthwise kxk, linear 1x1 projection; the
    input is added back when the shapes allow."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, stride: int,
                 expansion_factor: int, bn_momentum: float = 0.1) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride should be 1 or 2 instead of {stride}")
        if kernel_size not in (3, 5):
            raise ValueError(f"kernel_size should be 3 or 5 instead of {kernel_size}")
        mid_ch = in_ch * expansion_factor
        self.apply_residual = in_ch == out_ch and stride == 1
        self.layers = nn.Sequential(
            nn.Conv2d(in_ch, mid_ch, 1, bias=False),
            nn.BatchNorm2d(mid_ch, momentum=bn_momentum),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid_ch, mid_ch, kernel_size, padding=kernel_size // 2, stride=stride,
                      groups=mid_ch, bias=False),
            nn.BatchNorm2d(mid_ch, momentum=bn_momentum),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid_ch, out_ch, 1, bias=False),
            nn.BatchNorm2d(out_ch, momentum=bn_momentum),
        )

    def forward(self, input: Tensor) -> Tensor:
        if self.apply_residual:
            return self.layers(input) + input
        return self.layers(input)


def _stack(in_ch: int, out_ch: int, kernel_size: int, stride: int, exp_factor: int,
           repeats: int, bn_momentum: float) -> nn.Sequential:
    """``repeats`` inverted residuals; only the first changes width and stride (so it has
    no skip connection)."""
    if repeats < 1:
        raise ValueError(f"repeats should be >= 1, instead got {repeats}")
    blocks = [_InvertedResidual(in_ch, out_ch, kernel_size, stride, exp_factor, bn_momentum)]
    blocks += [_InvertedResidual(out_ch, out_ch, kernel_size, 1, exp_factor, bn_momentum)
               for _ in range(1, repeats)]
    return nn.Sequential(*blocks)


def _round_to_multiple_of(val: float, divisor: int, round_up_bias: float = 0.9) -> int:
    """``val`` rounded to a multiple of ``divisor``, down only when that loses under 10%:
    (83, 8) -> 80 but (84, 8) -> 88."""
    if not 0.0 < round_up_bias < 1.0:
        raise ValueError("round_up_bias should be greater than 0.0 and smaller than 1.0 "
                         f"instead of {round_up_bias}")
    new_val = max(divisor, int(val + divisor / 2) // divisor * divisor)
    return new_val if new_val >= round_up_bias * val else new_val + divisor


def _get_depths(alpha: float) -> list[int]:
    """The widths of the stem and the six stacks, scaled by ``alpha``."""
    return [_round_to_multiple_of(d * alpha, 8) for d in (32, 16, 24, 40, 80, 96, 192, 320)]


def _stem(depths: list[int]) -> list[nn.Module]:
    """A strided 3x3 convolution, then a depthwise separable convolution without skip."""
    return [
        nn.Conv2d(3, depths[0], 3, padding=1, stride=2, bias=False),
        nn.BatchNorm2d(depths[0], momentum=_BN_MOMENTUM),
        nn.ReLU(inplace=True),
        nn.Conv2d(depths[0], depths[0], 3, padding=1, stride=1, groups=depths[0], bias=False),
        nn.BatchNorm2d(depths[0], momentum=_BN_MOMENTUM),
        nn.ReLU(inplace=True),
        nn.Conv2d(depths[0], depths[1], 1, padding=0, stride=1, bias=False),
        nn.BatchNorm2d(depths[1], momentum=_BN_MOMENTUM),
        _stack(depths[1], depths[2], 3, 2, 3, 3, _BN_MOMENTUM),
    ]


class MNASNet(nn.Module):
    """MNASNet (Tan et al., 2019), the B1 variant found by platform-aware architecture search.

    Args:
        alpha: the depth multiplier scaling every width but the last 1280.
        num_classes: output classes.
        dropout: the dropout probability before the classifier.

    Shape:
        - Input: (N, 3, H, W), any H, W >= 1 (224 in ImageNet use).
        - Output: (N, num_classes).
    """

    # version 2 scales the stem with alpha too; version 1 checkpoints are patched on load
    _version = 2

    def __init__(self, alpha: float, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        if alpha <= 0.0:
            raise ValueError(f"alpha should be greater than 0.0 instead of {alpha}")
        self.alpha = alpha
        self.num_classes = num_classes
        d = _get_depths(alpha)
        self.layers = nn.Sequential(
            *_stem(d),
            _stack(d[2], d[3], 5, 2, 3, 3, _BN_MOMENTUM),
            _stack(d[3], d[4], 5, 2, 6, 3, _BN_MOMENTUM),
            _stack(d[4], d[5], 3, 1, 6, 2, _BN_MOMENTUM),
            _stack(d[5], d[6], 5, 2, 6, 4, _BN_MOMENTUM),
            _stack(d[6], d[7], 3, 1, 6, 1, _BN_MOMENTUM),
            nn.Conv2d(d[7], 1280, 1, padding=0, stride=1, bias=False),
            nn.BatchNorm2d(1280, momentum=_BN_MOMENTUM),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Sequential(nn.Dropout(p=dropout, inplace=True),
                                        nn.Linear(1280, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.kaiming_uniform_(m.weight, mode="fan_out", nonlinearity="sigmoid")
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.layers(x).mean([2, 3]))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        version = local_metadata.get("version", None)
        if version not in (1, 2):
            raise ValueError(f"version shluld be set to 1 or 2 instead of {version}")
        if version == 1 and self.alpha != 1.0:
            # version 1 had a fixed 32/16 stem: rebuild it so the checkpoint fits
            for idx, layer in enumerate(_stem([32, 16, _get_depths(self.alpha)[2]])):
                self.layers[idx] = layer
            self._version = 1
            warnings.warn("A new version of MNASNet model has been implemented. Your "
                          "checkpoint was saved using the previous version. This checkpoint "
                          "will load and work as before, but you may want to upgrade by "
                          "training a newer model or transfer learning from an updated "
                          "ImageNet checkpoint.", UserWarning, stacklevel=2)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)


def _mnasnet(alpha: float, weights: WeightsEnum | None, progress: bool, **kwargs) -> MNASNet:
    _fit_to_weights(weights, kwargs)
    return _load_weights(MNASNet(alpha, **kwargs), weights, progress)


class MNASNet0_5_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet_weights(_URL + "mnasnet0.5_top1_67.823-3ffadce67e.pth", 2218512)
    DEFAULT = IMAGENET1K_V1


class MNASNet0_75_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet_weights(_URL + "mnasnet0_75-7090bc5f.pth", 3170208,
                                      resize_size=232)
    DEFAULT = IMAGENET1K_V1


class MNASNet1_0_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet_weights(_URL + "mnasnet1.0_top1_73.512-f206786ef8.pth", 4383312)
    DEFAULT = IMAGENET1K_V1


class MNASNet1_3_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet_weights(_URL + "mnasnet1_3-a4c69d6f.pth", 6282256,
                                      resize_size=232)
    DEFAULT = IMAGENET1K_V1


@register_model()
@handle_legacy_interface(MNASNet0_5_Weights.IMAGENET1K_V1)
def mnasnet0_5(*, weights: MNASNet0_5_Weights | None = None, progress: bool = True,
               **kwargs) -> MNASNet:
    """MNASNet with depth multiplier 0.5, from `MnasNet: Platform-Aware Neural Architecture
    Search for Mobile <https://arxiv.org/abs/1807.11626>`_.

    Args:
        weights: a ``MNASNet0_5_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`MNASNet` (``num_classes``, ``dropout``).
    """
    weights = MNASNet0_5_Weights.verify(weights)
    return _mnasnet(0.5, weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(MNASNet0_75_Weights.IMAGENET1K_V1)
def mnasnet0_75(*, weights: MNASNet0_75_Weights | None = None, progress: bool = True,
                **kwargs) -> MNASNet:
    """MNASNet with depth multiplier 0.75, from `MnasNet: Platform-Aware Neural Architecture
    Search for Mobile <https://arxiv.org/abs/1807.11626>`_.

    Args:
        weights: a ``MNASNet0_75_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`MNASNet` (``num_classes``, ``dropout``).
    """
    weights = MNASNet0_75_Weights.verify(weights)
    return _mnasnet(0.75, weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(MNASNet1_0_Weights.IMAGENET1K_V1)
def mnasnet1_0(*, weights: MNASNet1_0_Weights | None = None, progress: bool = True,
               **kwargs) -> MNASNet:
    """MNASNet with depth multiplier 1.0, from `MnasNet: Platform-Aware Neural Architecture
    Search for Mobile <https://arxiv.org/abs/1807.11626>`_.

    Args:
        weights: a ``MNASNet1_0_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`MNASNet` (``num_classes``, ``dropout``).
    """
    weights = MNASNet1_0_Weights.verify(weights)
    return _mnasnet(1.0, weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(MNASNet1_3_Weights.IMAGENET1K_V1)
def mnasnet1_3(*, weights: MNASNet1_3_Weights | None = None, progress: bool = True,
               **kwargs) -> MNASNet:
    """MNASNet with depth multiplier 1.3, from `MnasNet: Platform-Aware Neural Architecture
    Search for Mobile <https://arxiv.org/abs/1807.11626>`_.

    Args:
        weights: a ``MNASNet1_3_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`MNASNet` (``num_classes``, ``dropout``).
    """
    weights = MNASNet1_3_Weights.verify(weights)
    return _mnasnet(1.3, weights, progress, **kwargs)
