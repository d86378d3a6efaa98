"""Video Swin Transformers (T/S/B) with torchvision's layout and state_dict keys
(patch_embed.{proj,norm}, features.<odd>.<j> blocks, features.<even> patch merging, norm, head),
from `Video Swin Transformer <https://arxiv.org/abs/2106.13230>`_: the 2-D Swin's blocks and
patch merging (ember.vision.models.swin_transformer) with attention in 3-D windows of
frames x rows x columns."""
from __future__ import annotations

import functools
from typing import Callable

from ember import arange, meshgrid, nn, roll, stack, zeros
from ember._tensor import Tensor
from ember.nn import functional as F
from ember.vision.models._api import WeightsEnum, register_model
from ember.vision.models._utils import (
    _URL,
    _fit_to_weights,
    _load_weights,
    handle_legacy_interface,
)
from ember.vision.models.swin_transformer import (
    PatchMerging,
    ShiftedWindowAttention,
    SwinTransformerBlock,
    _attention_in_windows,
    _init_linears,
    _shifted_window_regions,
    _swin_stages,
)
from ember.vision.models.video._utils import _kinetics400_weights

__all__ = ["SwinTransformer3d", "Swin3D_T_Weights", "Swin3D_S_Weights", "Swin3D_B_Weights",
           "swin3d_t", "swin3d_s", "swin3d_b"]


def _window_and_shift_for(size_dhw: list[int], window_size: list[int],
                          shift_size: list[int]) -> tuple[list[int], list[int]]:
    """A window no larger than the map, and no shift along a side one window covers."""
    window = [min(w, s) for w, s in zip(window_size, size_dhw)]
    shift = [0 if s <= w else sh for s, w, sh in zip(size_dhw, window_size, shift_size)]
    return window, shift


def _compute_pad_size_3d(size_dhw: tuple[int, int, int],
                         patch_size: tuple[int, int, int]) -> tuple[int, int, int]:
    """How much to pad each of (T, H, W) up to a multiple of ``patch_size``."""
    return tuple((p - s % p) % p for s, p in zip(size_dhw, patch_size))


def _shifted_window_mask_3d(padded_dhw: tuple[int, int, int], window_size: list[int],
                            shift_size: list[int], like: Tensor) -> Tensor:
    """[windows, N, N] additive mask: -100 between tokens of one window that the cyclic shift
    brought from different regions (per axis: kept, wrapped window, wrapped shift), else 0."""
    labels = [_shifted_window_regions(size, window, shift, like)
              for size, window, shift in zip(padded_dhw, window_size, shift_size)]
    regions = labels[0][:, None, None] * 9 + labels[1][None, :, None] * 3 + labels[2][None, None]
    counts = [size // window for size, window in zip(padded_dhw, window_size)]
    regions = regions.view(counts[0], window_size[0], counts[1], window_size[1], counts[2],
                           window_size[2]).permute(0, 2, 4, 1, 3, 5)
    regions = regions.reshape(-1, window_size[0] * window_size[1] * window_size[2])
    differ = regions.unsqueeze(1) != regions.unsqueeze(2)
    return differ.to(like.dtype) * -100.0


def shifted_window_attention_3d(input: Tensor, qkv_weight: Tensor, proj_weight: Tensor,
                                relative_position_bias: Tensor, window_size: list[int],
                                num_heads: int, shift_size: list[int],
                                attention_dropout: float = 0.0, dropout: float = 0.0,
                                qkv_bias: Tensor | None = None,
                                proj_bias: Tensor | None = None,
                                training: bool = True) -> Tensor:
    """Window multi-head self-attention in 3-D windows (shifted when ``shift_size`` is not
    zero), as torchvision's ``shifted_window_attention_3d``: the [B, T, H, W, C] map is
    zero-padded to whole windows, rolled back by ``shift_size``, cut into windows whose tokens
    attend among themselves (plus ``relative_position_bias``, masked across the shift's seams),
    then rolled forward and cropped.

    Returns:
        [B, T, H, W, C].
    """
    b, t, h, w, c = input.shape
    pad = _compute_pad_size_3d((t, h, w), tuple(window_size))
    x = F.pad(input, (0, 0, 0, pad[2], 0, pad[1], 0, pad[0]))
    padded = tuple(x.shape[1:4])
    shifted = sum(shift_size) > 0
    if shifted:
        x = roll(x, shifts=tuple(-s for s in shift_size), dims=(1, 2, 3))
    counts = [size // window for size, window in zip(padded, window_size)]
    num_windows = counts[0] * counts[1] * counts[2]
    tokens = window_size[0] * window_size[1] * window_size[2]
    x = x.view(b, counts[0], window_size[0], counts[1], window_size[1], counts[2],
               window_size[2], c)
    x = x.permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(b * num_windows, tokens, c)

    mask = _shifted_window_mask_3d(padded, window_size, shift_size, x) if shifted else None
    x = _attention_in_windows(x, b, qkv_weight, qkv_bias, proj_weight, proj_bias,
                              relative_position_bias, mask, num_heads, attention_dropout,
                              dropout, None, training)

    x = x.view(b, counts[0], counts[1], counts[2], window_size[0], window_size[1],
               window_size[2], c)
    x = x.permute(0, 1, 4, 2, 5, 3, 6, 7).reshape(b, *padded, c)
    if shifted:
        x = roll(x, shifts=tuple(shift_size), dims=(1, 2, 3))
    return x[:, :t, :h, :w, :].contiguous()


class ShiftedWindowAttention3d(ShiftedWindowAttention):
    """:func:`shifted_window_attention_3d` with its projections (``qkv``, ``proj``) and a
    learned bias per head for each 3-D offset within a window
    (``relative_position_bias_table``, indexed by the ``relative_position_index`` buffer).
    Arguments as the 2-D :class:`ShiftedWindowAttention`'s, with three-int window and shift."""

    _window_dims = 3

    def define_relative_position_bias_table(self) -> None:
        offsets = ((2 * self.window_size[0] - 1) * (2 * self.window_size[1] - 1)
                   * (2 * self.window_size[2] - 1))
        self.relative_position_bias_table = nn.Parameter(zeros(offsets, self.num_heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def define_relative_position_index(self) -> None:
        wd, wh, ww = self.window_size
        coords = stack(meshgrid(arange(wd), arange(wh), arange(ww), indexing="ij")).flatten(1)
        relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
        # each axis' offset shifted to start at 0, then mixed radix (2wh-1)(2ww-1), (2ww-1), 1
        index = ((relative[..., 0] + wd - 1) * (2 * wh - 1) * (2 * ww - 1)
                 + (relative[..., 1] + wh - 1) * (2 * ww - 1) + relative[..., 2] + ww - 1)
        self.register_buffer("relative_position_index", index)

    def get_relative_position_bias(self, window_size: list[int]) -> Tensor:
        """[1, heads, N, N] for a window of ``window_size`` (N its volume); a window shrunk to
        a small map uses the leading N x N block of the full window's index."""
        n = window_size[0] * window_size[1] * window_size[2]
        index = self.relative_position_index[:n, :n].flatten()
        bias = self.relative_position_bias_table[index].view(n, n, -1)
        return bias.permute(2, 0, 1).contiguous().unsqueeze(0)

    def forward(self, x: Tensor) -> Tensor:
        size_dhw = list(x.shape[1:4])
        window_size, shift_size = _window_and_shift_for(size_dhw, self.window_size,
                                                        self.shift_size)
        return shifted_window_attention_3d(
            x, self.qkv.weight, self.proj.weight, self.get_relative_position_bias(window_size),
            window_size, self.num_heads, shift_size=shift_size,
            attention_dropout=self.attention_dropout, dropout=self.dropout,
            qkv_bias=self.qkv.bias, proj_bias=self.proj.bias, training=self.training)


class PatchEmbed3d(nn.Module):
    """Non-overlapping ``patch_size`` patches (the clip zero-padded to whole patches) projected
    to ``embed_dim`` by a strided Conv3d, channels last, then ``norm_layer`` if given.

    Shape:
        - Input: (B, C, T, H, W).
        - Output: (B, T', H', W', embed_dim).
    """

    def __init__(self, patch_size: list[int], in_channels: int = 3, embed_dim: int = 96,
                 norm_layer: Callable[..., nn.Module] | None = None) -> None:
        super().__init__()
        self.tuple_patch_size = tuple(patch_size[:3])
        self.proj = nn.Conv3d(in_channels, embed_dim, kernel_size=self.tuple_patch_size,
                              stride=self.tuple_patch_size)
        self.norm = norm_layer(embed_dim) if norm_layer is not None else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        pad = _compute_pad_size_3d(tuple(x.shape[2:]), self.tuple_patch_size)
        x = F.pad(x, (0, pad[2], 0, pad[1], 0, pad[0]))
        return self.norm(self.proj(x).permute(0, 2, 3, 4, 1))


class SwinTransformer3d(nn.Module):
    """Video Swin Transformer: 3-D patch embedding, then stages of ``depths[i]`` blocks (every
    second one shifted by half a window) at width ``embed_dim * 2**i``, 2-D patch merging
    (rows and columns only) between stages, LayerNorm, global average pooling and a linear
    head.

    Args:
        patch_size: (T, H, W) of a patch.
        embed_dim: width of the first stage.
        depths, num_heads: blocks and attention heads per stage.
        window_size: (T, H, W) of an attention window.
        mlp_ratio: MLP width over block width.
        dropout, attention_dropout: dropout rates.
        stochastic_depth_prob: the last block's; earlier blocks' rise linearly from 0.
        num_classes: outputs of the head (Kinetics-400: 400).
        norm_layer: default LayerNorm (eps 1e-5).
        block: default :class:`SwinTransformerBlock` with :class:`ShiftedWindowAttention3d`.
        downsample_layer: default :class:`PatchMerging`.
        patch_embed: default :class:`PatchEmbed3d`.

    Shape:
        - Input: (B, 3, T, H, W).
        - Output: (B, num_classes).
    """

    def __init__(self, patch_size: list[int], embed_dim: int, depths: list[int],
                 num_heads: list[int], window_size: list[int], mlp_ratio: float = 4.0,
                 dropout: float = 0.0, attention_dropout: float = 0.0,
                 stochastic_depth_prob: float = 0.1, num_classes: int = 400,
                 norm_layer: Callable[..., nn.Module] | None = None,
                 block: Callable[..., nn.Module] | None = None,
                 downsample_layer: Callable[..., nn.Module] = PatchMerging,
                 patch_embed: Callable[..., nn.Module] | None = None) -> None:
        super().__init__()
        self.num_classes = num_classes
        block = block or functools.partial(SwinTransformerBlock,
                                           attn_layer=ShiftedWindowAttention3d)
        norm_layer = norm_layer or functools.partial(nn.LayerNorm, eps=1e-5)
        patch_embed = patch_embed or PatchEmbed3d
        self.patch_embed = patch_embed(patch_size=patch_size, embed_dim=embed_dim,
                                       norm_layer=norm_layer)
        self.pos_drop = nn.Dropout(p=dropout)
        self.features = nn.Sequential(*_swin_stages(
            block, downsample_layer, embed_dim, depths, num_heads, window_size, mlp_ratio,
            dropout, attention_dropout, stochastic_depth_prob, norm_layer,
            attn_layer=ShiftedWindowAttention3d))
        self.num_features = embed_dim * 2 ** (len(depths) - 1)
        self.norm = norm_layer(self.num_features)
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.head = nn.Linear(self.num_features, num_classes)
        _init_linears(self)

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(self.pos_drop(self.patch_embed(x)))
        x = self.norm(x).permute(0, 4, 1, 2, 3)
        return self.head(self.avgpool(x).flatten(1))


def _swin_transformer3d(patch_size: list[int], embed_dim: int, depths: list[int],
                        num_heads: list[int], window_size: list[int],
                        stochastic_depth_prob: float, weights: WeightsEnum | None,
                        progress: bool, **kwargs) -> SwinTransformer3d:
    _fit_to_weights(weights, kwargs)
    model = SwinTransformer3d(patch_size=patch_size, embed_dim=embed_dim, depths=depths,
                              num_heads=num_heads, window_size=window_size,
                              stochastic_depth_prob=stochastic_depth_prob, **kwargs)
    return _load_weights(model, weights, progress)


def _swin3d_weights(file_name: str, num_params: int):
    return _kinetics400_weights(
        _URL + file_name, num_params, crop_size=(224, 224), resize_size=(256,),
        mean_std=((0.4850, 0.4560, 0.4060), (0.2290, 0.2240, 0.2250)), min_temporal_size=1,
        recipe="https://github.com/SwinTransformer/Video-Swin-Transformer#kinetics-400")


class Swin3D_T_Weights(WeightsEnum):
    KINETICS400_V1 = _swin3d_weights("swin3d_t-7615ae03.pth", 28158070)
    DEFAULT = KINETICS400_V1


class Swin3D_S_Weights(WeightsEnum):
    KINETICS400_V1 = _swin3d_weights("swin3d_s-da41c237.pth", 49816678)
    DEFAULT = KINETICS400_V1


class Swin3D_B_Weights(WeightsEnum):
    KINETICS400_V1 = _swin3d_weights("swin3d_b_1k-24f7c7c6.pth", 88048984)
    KINETICS400_IMAGENET22K_V1 = _swin3d_weights("swin3d_b_22k-7c6ae6fa.pth", 88048984)
    DEFAULT = KINETICS400_V1


@register_model()
@handle_legacy_interface(Swin3D_T_Weights.KINETICS400_V1)
def swin3d_t(*, weights: Swin3D_T_Weights | None = None, progress: bool = True,
             **kwargs) -> SwinTransformer3d:
    """Swin3D-T: width 96, depths (2, 2, 6, 2), 2x4x4 patches, 8x7x7 windows.

    Args:
        weights: a ``Swin3D_T_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`SwinTransformer3d` (``num_classes``, ...).
    """
    weights = Swin3D_T_Weights.verify(weights)
    return _swin_transformer3d([2, 4, 4], 96, [2, 2, 6, 2], [3, 6, 12, 24], [8, 7, 7], 0.1,
                               weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(Swin3D_S_Weights.KINETICS400_V1)
def swin3d_s(*, weights: Swin3D_S_Weights | None = None, progress: bool = True,
             **kwargs) -> SwinTransformer3d:
    """Swin3D-S: width 96, depths (2, 2, 18, 2), 2x4x4 patches, 8x7x7 windows.

    Args:
        weights: a ``Swin3D_S_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`SwinTransformer3d` (``num_classes``, ...).
    """
    weights = Swin3D_S_Weights.verify(weights)
    return _swin_transformer3d([2, 4, 4], 96, [2, 2, 18, 2], [3, 6, 12, 24], [8, 7, 7], 0.1,
                               weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(Swin3D_B_Weights.KINETICS400_V1)
def swin3d_b(*, weights: Swin3D_B_Weights | None = None, progress: bool = True,
             **kwargs) -> SwinTransformer3d:
    """Swin3D-B: width 128, depths (2, 2, 18, 2), 2x4x4 patches, 8x7x7 windows.

    Args:
        weights: a ``Swin3D_B_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`SwinTransformer3d` (``num_classes``, ...).
    """
    weights = Swin3D_B_Weights.verify(weights)
    return _swin_transformer3d([2, 4, 4], 128, [2, 2, 18, 2], [4, 8, 16, 32], [8, 7, 7], 0.1,
                               weights, progress, **kwargs)
