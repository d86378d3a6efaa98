"""Vision Transformers B/16, B/32, L/16, L/32 and H/14, with torchvision's layout and keys
(``conv_proj``, ``class_token``, ``encoder.pos_embedding``,
``encoder.layers.encoder_layer_<i>.{ln_1,self_attention,ln_2,mlp.{0,3}}``, ``encoder.ln``,
``heads.head``)."""
from __future__ import annotations

import functools
import math
from collections import OrderedDict
from typing import Any, Callable, NamedTuple, Sequence

from ember import _assert, cat, empty, nn, zeros
from ember._tensor import Tensor
from ember.vision.models._api import Weights, WeightsEnum, register_model
from ember.vision.models._meta import _IMAGENET_CATEGORIES
from ember.vision.models._ops import MLP, Conv2dNormActivation
from ember.vision.models._presets import ImageClassification
from ember.vision.models._utils import (
    _URL,
    _fit_to_weights,
    _load_weights,
    _ovewrite_named_param,
    handle_legacy_interface,
)
from ember.vision.transforms.functional import InterpolationMode

__all__ = ["VisionTransformer", "ViT_B_16_Weights", "ViT_B_32_Weights", "ViT_H_14_Weights",
           "ViT_L_16_Weights", "ViT_L_32_Weights", "vit_b_16", "vit_b_32", "vit_h_14",
           "vit_l_16", "vit_l_32"]


class ConvStemConfig(NamedTuple):
    """One conv-norm-activation layer of a convolutional stem (Xiao et al., 2021)."""

    out_channels: int
    kernel_size: int
    stride: int
    norm_layer: Callable[..., nn.Module] = nn.BatchNorm2d
    activation_layer: Callable[..., nn.Module] = nn.ReLU


class MLPBlock(MLP):
    """The transformer's feed-forward block: Linear, GELU, dropout, Linear, dropout, with
    Xavier-uniform weights and near-zero biases."""

    # version 2 names the linear layers 0 and 3 (version 1: linear_1, linear_2)
    _version = 2

    def __init__(self, in_dim: int, mlp_dim: int, dropout: float) -> None:
        super().__init__(in_dim, [mlp_dim, in_dim], activation_layer=nn.GELU, inplace=None,
                         dropout=dropout)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.normal_(m.bias, std=1e-6)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        version = local_metadata.get("version", None)
        if version is None or version < 2:
            for i in range(2):
                for kind in ("weight", "bias"):
                    old_key = f"{prefix}linear_{i + 1}.{kind}"
                    if old_key in state_dict:
                        state_dict[f"{prefix}{3 * i}.{kind}"] = state_dict.pop(old_key)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)


class EncoderBlock(nn.Module):
    """Pre-norm transformer layer: ``x + dropout(attention(ln_1(x)))``, then
    ``x + mlp(ln_2(x))``."""

    def __init__(self, num_heads: int, hidden_dim: int, mlp_dim: int, dropout: float,
                 attention_dropout: float,
                 norm_layer: Callable[..., nn.Module] = functools.partial(nn.LayerNorm,
                                                                          eps=1e-6)) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.ln_1 = norm_layer(hidden_dim)
        self.self_attention = nn.MultiheadAttention(hidden_dim, num_heads,
                                                    dropout=attention_dropout, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.ln_2 = norm_layer(hidden_dim)
        self.mlp = MLPBlock(hidden_dim, mlp_dim, dropout)

    def forward(self, input: Tensor) -> Tensor:
        _assert(input.dim() == 3,
                f"Expected (batch_size, seq_length, hidden_dim) got {input.shape}")
        x = self.ln_1(input)
        x, _ = self.self_attention(x, x, x, need_weights=False)
        x = self.dropout(x) + input
        return x + self.mlp(self.ln_2(x))


class Encoder(nn.Module):
    """Learned position embeddings (normal, std 0.02), dropout, ``num_layers`` encoder
    blocks and a final norm."""

    def __init__(self, seq_length: int, num_layers: int, num_heads: int, hidden_dim: int,
                 mlp_dim: int, dropout: float, attention_dropout: float,
                 norm_layer: Callable[..., nn.Module] = functools.partial(nn.LayerNorm,
                                                                          eps=1e-6)) -> None:
        super().__init__()
        self.pos_embedding = nn.Parameter(empty(1, seq_length, hidden_dim).normal_(std=0.02))
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.Sequential(OrderedDict(
            (f"encoder_layer_{i}", EncoderBlock(num_heads, hidden_dim, mlp_dim, dropout,
                                                attention_dropout, norm_layer))
            for i in range(num_layers)))
        self.ln = norm_layer(hidden_dim)

    def forward(self, input: Tensor) -> Tensor:
        _assert(input.dim() == 3,
                f"Expected (batch_size, seq_length, hidden_dim) got {input.shape}")
        return self.ln(self.layers(self.dropout(input + self.pos_embedding)))


class VisionTransformer(nn.Module):
    """Vision Transformer (Dosovitskiy et al., 2021): non-overlapping ``patch_size`` patches
    projected to ``hidden_dim`` (or a convolutional stem), a class token, a transformer
    encoder, and a head on the class token.

    Args:
        image_size: the (square) input size; inputs must have exactly this size.
        patch_size: the patch side; must divide ``image_size``.
        num_layers, num_heads, hidden_dim, mlp_dim: the encoder's shape.
        dropout, attention_dropout: dropout probabilities.
        num_classes: output classes.
        representation_size: if given, a Linear + Tanh "pre-logits" layer of this width.
        norm_layer: default ``LayerNorm(eps=1e-6)``.
        conv_stem_configs: replace the patch projection by these conv layers and a 1x1 conv.

    Shape:
        - Input: (N, 3, image_size, image_size).
        - Output: (N, num_classes).
    """

    def __init__(self, image_size: int, patch_size: int, num_layers: int, num_heads: int,
                 hidden_dim: int, mlp_dim: int, dropout: float = 0.0,
                 attention_dropout: float = 0.0, num_classes: int = 1000,
                 representation_size: int | None = None,
                 norm_layer: Callable[..., nn.Module] = functools.partial(nn.LayerNorm,
                                                                          eps=1e-6),
                 conv_stem_configs: Sequence[ConvStemConfig] | None = None) -> None:
        super().__init__()
        if image_size % patch_size != 0:
            raise AssertionError("Input shape indivisible by patch size!")
        self.image_size = image_size
        self.patch_size = patch_size
        self.hidden_dim = hidden_dim
        self.mlp_dim = mlp_dim
        self.attention_dropout = attention_dropout
        self.dropout = dropout
        self.num_classes = num_classes
        self.representation_size = representation_size
        self.norm_layer = norm_layer
        if conv_stem_configs is not None:
            stem = nn.Sequential()
            prev_channels = 3
            for i, cfg in enumerate(conv_stem_configs):
                stem.add_module(f"conv_bn_relu_{i}", Conv2dNormActivation(
                    prev_channels, cfg.out_channels, kernel_size=cfg.kernel_size,
                    stride=cfg.stride, norm_layer=cfg.norm_layer,
                    activation_layer=cfg.activation_layer))
                prev_channels = cfg.out_channels
            stem.add_module("conv_last", nn.Conv2d(prev_channels, hidden_dim, kernel_size=1))
            self.conv_proj: nn.Module = stem
        else:
            self.conv_proj = nn.Conv2d(3, hidden_dim, kernel_size=patch_size, stride=patch_size)
        self.class_token = nn.Parameter(zeros(1, 1, hidden_dim))
        seq_length = (image_size // patch_size) ** 2 + 1  # the patches and the class token
        self.encoder = Encoder(seq_length, num_layers, num_heads, hidden_dim, mlp_dim, dropout,
                               attention_dropout, norm_layer)
        self.seq_length = seq_length
        heads: OrderedDict[str, nn.Module] = OrderedDict()
        if representation_size is None:
            heads["head"] = nn.Linear(hidden_dim, num_classes)
        else:
            heads["pre_logits"] = nn.Linear(hidden_dim, representation_size)
            heads["act"] = nn.Tanh()
            heads["head"] = nn.Linear(representation_size, num_classes)
        self.heads = nn.Sequential(heads)

        if isinstance(self.conv_proj, nn.Conv2d):
            fan_in = 3 * patch_size * patch_size
            nn.init.trunc_normal_(self.conv_proj.weight, std=math.sqrt(1 / fan_in))
            nn.init.zeros_(self.conv_proj.bias)
        else:
            last = self.conv_proj.conv_last
            nn.init.normal_(last.weight, mean=0.0, std=math.sqrt(2.0 / last.out_channels))
            nn.init.zeros_(last.bias)
        if representation_size is not None:
            pre_logits = self.heads.pre_logits
            nn.init.trunc_normal_(pre_logits.weight, std=math.sqrt(1 / pre_logits.in_features))
            nn.init.zeros_(pre_logits.bias)
        nn.init.zeros_(self.heads.head.weight)
        nn.init.zeros_(self.heads.head.bias)

    def _process_input(self, x: Tensor) -> Tensor:
        """(N, C, H, W) images to (N, patches, hidden_dim) tokens."""
        n, _, h, w = x.shape
        # ember._assert, not an if: fx traces it as a call (feature extraction)
        _assert(h == self.image_size,
                f"Wrong image height! Expected {self.image_size} but got {h}!")
        _assert(w == self.image_size,
                f"Wrong image width! Expected {self.image_size} but got {w}!")
        patches = (h // self.patch_size) * (w // self.patch_size)
        x = self.conv_proj(x).reshape(n, self.hidden_dim, patches)
        return x.permute(0, 2, 1)

    def forward(self, x: Tensor) -> Tensor:
        x = self._process_input(x)
        x = cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)
        return self.heads(self.encoder(x)[:, 0])


def _vision_transformer(patch_size: int, num_layers: int, num_heads: int, hidden_dim: int,
                        mlp_dim: int, weights: WeightsEnum | None, progress: bool,
                        **kwargs: Any) -> VisionTransformer:
    if weights is not None:
        _fit_to_weights(weights, kwargs)
        _ovewrite_named_param(kwargs, "image_size", weights.meta["min_size"][0])
    image_size = kwargs.pop("image_size", 224)
    model = VisionTransformer(image_size=image_size, patch_size=patch_size,
                              num_layers=num_layers, num_heads=num_heads, hidden_dim=hidden_dim,
                              mlp_dim=mlp_dim, **kwargs)
    return _load_weights(model, weights, progress)


def _weights(file_name: str, num_params: int, size: int, resize_size: int = 256,
             interpolation: InterpolationMode = InterpolationMode.BILINEAR) -> Weights:
    """A record of ``size``x``size`` weights (the model is built for that input size)."""
    transforms = functools.partial(ImageClassification, crop_size=size, resize_size=resize_size,
                                   interpolation=interpolation)
    return Weights(url=_URL + file_name, transforms=transforms,
                   meta={"num_params": num_params, "min_size": (size, size),
                         "categories": _IMAGENET_CATEGORIES})


def _swag(e2e: str, e2e_params: int, size: int, linear: str, linear_params: int
          ) -> tuple[Weights, Weights]:
    """SWAG weights: fine-tuned end to end at ``size``, and a linear classifier on the frozen
    trunk at 224 (bicubic resizing, no margin)."""
    bicubic = InterpolationMode.BICUBIC
    return (_weights(e2e, e2e_params, size, size, bicubic),
            _weights(linear, linear_params, 224, 224, bicubic))


class ViT_B_16_Weights(WeightsEnum):
    IMAGENET1K_V1 = _weights("vit_b_16-c867db91.pth", 86567656, 224)
    IMAGENET1K_SWAG_E2E_V1, IMAGENET1K_SWAG_LINEAR_V1 = _swag(
        "vit_b_16_swag-9ac1b537.pth", 86859496, 384, "vit_b_16_lc_swag-4e70ced5.pth", 86567656)
    DEFAULT = IMAGENET1K_V1


class ViT_B_32_Weights(WeightsEnum):
    IMAGENET1K_V1 = _weights("vit_b_32-d86f8d99.pth", 88224232, 224)
    DEFAULT = IMAGENET1K_V1


class ViT_L_16_Weights(WeightsEnum):
    IMAGENET1K_V1 = _weights("vit_l_16-852ce7e3.pth", 304326632, 224, resize_size=242)
    IMAGENET1K_SWAG_E2E_V1, IMAGENET1K_SWAG_LINEAR_V1 = _swag(
        "vit_l_16_swag-4f3808c9.pth", 305174504, 512, "vit_l_16_lc_swag-4d563306.pth",
        304326632)
    DEFAULT = IMAGENET1K_V1


class ViT_L_32_Weights(WeightsEnum):
    IMAGENET1K_V1 = _weights("vit_l_32-c7638314.pth", 306535400, 224)
    DEFAULT = IMAGENET1K_V1


class ViT_H_14_Weights(WeightsEnum):
    IMAGENET1K_SWAG_E2E_V1, IMAGENET1K_SWAG_LINEAR_V1 = _swag(
        "vit_h_14_swag-80465313.pth", 633470440, 518, "vit_h_14_lc_swag-c1eb923e.pth",
        632045800)
    DEFAULT = IMAGENET1K_SWAG_E2E_V1


@register_model()
@handle_legacy_interface(ViT_B_16_Weights.IMAGENET1K_V1)
def vit_b_16(*, weights: ViT_B_16_Weights | None = None, progress: bool = True,
             **kwargs: Any) -> VisionTransformer:
    """ViT-B/16 from `An Image is Worth 16x16 Words: Transformers for Image Recognition
    at Scale <https://arxiv.org/abs/2010.11929>`_.

    Args:
        weights: a ``ViT_B_16_Weights`` member, its name, or None (random init); it fixes
            ``image_size``.
        progress: show a download progress bar.
        kwargs: passed to :class:`VisionTransformer` (``image_size`` (default 224),
            ``num_classes``, ``dropout``, ...).
    """
    weights = ViT_B_16_Weights.verify(weights)
    return _vision_transformer(16, 12, 12, 768, 3072, weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(ViT_B_32_Weights.IMAGENET1K_V1)
def vit_b_32(*, weights: ViT_B_32_Weights | None = None, progress: bool = True,
             **kwargs: Any) -> VisionTransformer:
    """ViT-B/32 from `An Image is Worth 16x16 Words: Transformers for Image Recognition
    at Scale <https://arxiv.org/abs/2010.11929>`_.

    Args:
        weights: a ``ViT_B_32_Weights`` member, its name, or None (random init); it fixes
            ``image_size``.
        progress: show a download progress bar.
        kwargs: passed to :class:`VisionTransformer` (``image_size`` (default 224),
            ``num_classes``, ``dropout``, ...).
    """
    weights = ViT_B_32_Weights.verify(weights)
    return _vision_transformer(32, 12, 12, 768, 3072, weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(ViT_L_16_Weights.IMAGENET1K_V1)
def vit_l_16(*, weights: ViT_L_16_Weights | None = None, progress: bool = True,
             **kwargs: Any) -> VisionTransformer:
    """ViT-L/16 from `An Image is Worth 16x16 Words: Transformers for Image Recognition
    at Scale <https://arxiv.org/abs/2010.11929>`_.

    Args:
        weights: a ``ViT_L_16_Weights`` member, its name, or None (random init); it fixes
            ``image_size``.
        progress: show a download progress bar.
        kwargs: passed to :class:`VisionTransformer` (``image_size`` (default 224),
            ``num_classes``, ``dropout``, ...).
    """
    weights = ViT_L_16_Weights.verify(weights)
    return _vision_transformer(16, 24, 16, 1024, 4096, weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(ViT_L_32_Weights.IMAGENET1K_V1)
def vit_l_32(*, weights: ViT_L_32_Weights | None = None, progress: bool = True,
             **kwargs: Any) -> VisionTransformer:
    """ViT-L/32 from `An Image is Worth 16x16 Words: Transformers for Image Recognition
    at Scale <https://arxiv.org/abs/2010.11929>`_.

    Args:
        weights: a ``ViT_L_32_Weights`` member, its name, or None (random init); it fixes
            ``image_size``.
        progress: show a download progress bar.
        kwargs: passed to :class:`VisionTransformer` (``image_size`` (default 224),
            ``num_classes``, ``dropout``, ...).
    """
    weights = ViT_L_32_Weights.verify(weights)
    return _vision_transformer(32, 24, 16, 1024, 4096, weights, progress, **kwargs)


@register_model()
def vit_h_14(*, weights: ViT_H_14_Weights | None = None, progress: bool = True,
             **kwargs: Any) -> VisionTransformer:
    """ViT-H/14 from `An Image is Worth 16x16 Words: Transformers for Image Recognition
    at Scale <https://arxiv.org/abs/2010.11929>`_.

    It has only SWAG weights, so the deprecated ``pretrained=`` is not accepted.

    Args:
        weights: a ``ViT_H_14_Weights`` member, its name, or None (random init); it fixes
            ``image_size``.
        progress: show a download progress bar.
        kwargs: passed to :class:`VisionTransformer` (``image_size`` (default 224),
            ``num_classes``, ``dropout``, ...).
    """
    weights = ViT_H_14_Weights.verify(weights)
    return _vision_transformer(14, 32, 16, 1280, 5120, weights, progress, **kwargs)
