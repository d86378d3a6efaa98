"""S3D (separable 3-D Inception) with torchvision's layout and state_dict keys (features.0.0.0,
..., classifier.1), from `Rethinking Spatiotemporal Feature Learning
<https://arxiv.org/abs/1712.04851>`_."""
from __future__ import annotations

import functools
from typing import Callable

from ember import cat, nn
from ember._tensor import Tensor
from ember.vision.models._api import WeightsEnum, register_model
from ember.vision.models._utils import (
    _URL,
    _fit_to_weights,
    _load_weights,
    handle_legacy_interface,
)
from ember.vision.models.video._utils import _kinetics400_weights
from ember.vision.ops.misc import Conv3dNormActivation

__all__ = ["S3D", "S3D_Weights", "s3d"]


class TemporalSeparableConv(nn.Sequential):
    """A k x k spatial convolution then a k-frame temporal one, each with norm and ReLU."""

    def __init__(self, in_planes: int, out_planes: int, kernel_size: int, stride: int,
                 padding: int, norm_layer: Callable[..., nn.Module]) -> None:
        super().__init__(
            Conv3dNormActivation(in_planes, out_planes, kernel_size=(1, kernel_size, kernel_size),
                                 stride=(1, stride, stride), padding=(0, padding, padding),
                                 bias=False, norm_layer=norm_layer),
            Conv3dNormActivation(out_planes, out_planes, kernel_size=(kernel_size, 1, 1),
                                 stride=(stride, 1, 1), padding=(padding, 0, 0), bias=False,
                                 norm_layer=norm_layer),
        )


class SepInceptionBlock3D(nn.Module):
    """Four parallel branches concatenated on channels: 1x1x1; 1x1x1 then separable 3x3x3
    (twice, with different widths); 3x3x3 max pooling then 1x1x1."""

    def __init__(self, in_planes: int, b0_out: int, b1_mid: int, b1_out: int, b2_mid: int,
                 b2_out: int, b3_out: int, norm_layer: Callable[..., nn.Module]) -> None:
        super().__init__()
        self.branch0 = Conv3dNormActivation(in_planes, b0_out, kernel_size=1, stride=1,
                                            norm_layer=norm_layer)
        self.branch1 = nn.Sequential(
            Conv3dNormActivation(in_planes, b1_mid, kernel_size=1, stride=1,
                                 norm_layer=norm_layer),
            TemporalSeparableConv(b1_mid, b1_out, kernel_size=3, stride=1, padding=1,
                                  norm_layer=norm_layer))
        self.branch2 = nn.Sequential(
            Conv3dNormActivation(in_planes, b2_mid, kernel_size=1, stride=1,
                                 norm_layer=norm_layer),
            TemporalSeparableConv(b2_mid, b2_out, kernel_size=3, stride=1, padding=1,
                                  norm_layer=norm_layer))
        self.branch3 = nn.Sequential(
            nn.MaxPool3d(kernel_size=(3, 3, 3), stride=1, padding=1),
            Conv3dNormActivation(in_planes, b3_out, kernel_size=1, stride=1,
                                 norm_layer=norm_layer))

    def forward(self, x: Tensor) -> Tensor:
        return cat((self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)), 1)


class S3D(nn.Module):
    """S3D: separable 3-D Inception features, 2x7x7 average pooling, dropout and a 1x1x1
    convolution as classifier, averaged over the remaining (T, H, W) positions.

    Args:
        num_classes: outputs of the classifier (Kinetics-400: 400).
        dropout: dropout probability before the classifier.
        norm_layer: normalisation after each convolution (default: BatchNorm3d with eps=0.001
            and momentum=0.001).

    Shape:
        - Input: (N, 3, T, H, W) with T >= 14 and H, W >= 224 (the pooling's window).
        - Output: (N, num_classes).
    """

    def __init__(self, num_classes: int = 400, dropout: float = 0.2,
                 norm_layer: Callable[..., nn.Module] | None = None) -> None:
        super().__init__()
        if norm_layer is None:
            norm_layer = functools.partial(nn.BatchNorm3d, eps=0.001, momentum=0.001)
        self.features = nn.Sequential(
            TemporalSeparableConv(3, 64, 7, 2, 3, norm_layer),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
            Conv3dNormActivation(64, 64, kernel_size=1, stride=1, norm_layer=norm_layer),
            TemporalSeparableConv(64, 192, 3, 1, 1, norm_layer),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
            SepInceptionBlock3D(192, 64, 96, 128, 16, 32, 32, norm_layer),
            SepInceptionBlock3D(256, 128, 128, 192, 32, 96, 64, norm_layer),
            nn.MaxPool3d(kernel_size=(3, 3, 3), stride=(2, 2, 2), padding=(1, 1, 1)),
            SepInceptionBlock3D(480, 192, 96, 208, 16, 48, 64, norm_layer),
            SepInceptionBlock3D(512, 160, 112, 224, 24, 64, 64, norm_layer),
            SepInceptionBlock3D(512, 128, 128, 256, 24, 64, 64, norm_layer),
            SepInceptionBlock3D(512, 112, 144, 288, 32, 64, 64, norm_layer),
            SepInceptionBlock3D(528, 256, 160, 320, 32, 128, 128, norm_layer),
            nn.MaxPool3d(kernel_size=(2, 2, 2), stride=(2, 2, 2), padding=(0, 0, 0)),
            SepInceptionBlock3D(832, 256, 160, 320, 32, 128, 128, norm_layer),
            SepInceptionBlock3D(832, 384, 192, 384, 48, 128, 128, norm_layer),
        )
        self.avgpool = nn.AvgPool3d(kernel_size=(2, 7, 7), stride=1)
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Conv3d(1024, num_classes, kernel_size=1, stride=1, bias=True),
        )

    def forward(self, x: Tensor) -> Tensor:
        x = self.classifier(self.avgpool(self.features(x)))
        return x.mean(dim=(2, 3, 4))


class S3D_Weights(WeightsEnum):
    KINETICS400_V1 = _kinetics400_weights(
        _URL + "s3d-d76dad2f.pth", 8320048, crop_size=(224, 224), resize_size=(256, 256),
        min_size=(224, 224), min_temporal_size=14,
        recipe="https://github.com/pytorch/vision/tree/main/references/video_classification#s3d")
    DEFAULT = KINETICS400_V1


@register_model()
@handle_legacy_interface(S3D_Weights.KINETICS400_V1)
def s3d(*, weights: S3D_Weights | None = None, progress: bool = True, **kwargs) -> S3D:
    """S3D (separable 3-D CNN).

    Args:
        weights: a ``S3D_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`S3D` (``num_classes``, ``dropout``, ``norm_layer``).
    """
    weights = S3D_Weights.verify(weights)
    _fit_to_weights(weights, kwargs)
    return _load_weights(S3D(**kwargs), weights, progress)
