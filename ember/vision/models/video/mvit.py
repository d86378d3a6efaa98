"""Multiscale Vision Transformers with torchvision's layout and state_dict keys (conv_proj,
pos_encoding, blocks.i.{norm1,attn,norm2,mlp,project}, norm, head), from `Multiscale Vision
Transformers <https://arxiv.org/abs/2104.11227>`_ (MViT-V1-B) and `MViTv2
<https://arxiv.org/abs/2112.01526>`_ (MViT-V2-S).

A clip becomes tokens (one per 2x4x4 patch, after a class token); each block attends with
queries, keys and values pooled by strided depthwise 3-D convolutions, so that the token grid
shrinks stage by stage while the width grows.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable, Sequence

import ember
from ember import nn
from ember._tensor import Tensor
from ember.nn import functional as F
from ember.vision.models._api import WeightsEnum, register_model
from ember.vision.models._utils import (
    _URL,
    _load_weights,
    _ovewrite_named_param,
    handle_legacy_interface,
)
from ember.vision.models.video._utils import _kinetics400_weights
from ember.vision.ops.misc import MLP
from ember.vision.ops.stochastic_depth import StochasticDepth

__all__ = ["MViT", "MViT_V1_B_Weights", "mvit_v1_b", "MViT_V2_S_Weights", "mvit_v2_s"]


@dataclass
class MSBlockConfig:
    """One block's heads, widths and query / key-value pooling (empty lists: no pooling)."""

    num_heads: int
    input_channels: int
    output_channels: int
    kernel_q: list[int]
    kernel_kv: list[int]
    stride_q: list[int]
    stride_kv: list[int]


class Pool(nn.Module):
    """Pools a token sequence (B, [heads,] 1 + T*H*W, C) on its (T, H, W) grid, the class
    token passing through, then applies ``norm`` and ``activation`` (each optional); returns the
    tokens and the new grid size."""

    def __init__(self, pool: nn.Module, norm: nn.Module | None,
                 activation: nn.Module | None = None, norm_before_pool: bool = False) -> None:
        super().__init__()
        self.pool = pool
        layers = [m for m in (norm, activation) if m is not None]
        self.norm_act = nn.Sequential(*layers) if layers else None
        self.norm_before_pool = norm_before_pool

    def forward(self, x: Tensor, thw: tuple[int, int, int]) -> tuple[Tensor, tuple[int, int, int]]:
        with_heads = x.ndim == 4
        if not with_heads:
            x = x.unsqueeze(1)
        class_token, x = x[:, :, :1], x[:, :, 1:]
        b, n, c = x.shape[0], x.shape[1], x.shape[3]
        x = x.transpose(2, 3).reshape((b * n, c) + tuple(thw))
        if self.norm_before_pool and self.norm_act is not None:
            x = self.norm_act(x)
        x = self.pool(x)
        new_thw = tuple(x.shape[2:])
        x = ember.cat((class_token, x.reshape(b, n, c, -1).transpose(2, 3)), dim=2)
        if not self.norm_before_pool and self.norm_act is not None:
            x = self.norm_act(x)
        return (x if with_heads else x.squeeze(1)), new_thw


def _interpolate(embedding: Tensor, d: int) -> Tensor:
    """A (L, C) table of relative position embeddings resampled linearly to (d, C)."""
    if embedding.shape[0] == d:
        return embedding
    resized = F.interpolate(embedding.permute(1, 0).unsqueeze(0), size=d, mode="linear")
    return resized.squeeze(0).permute(1, 0)


def _relative_index(q_size: int, k_size: int) -> Tensor:
    """Index into a relative-position table for each (query, key) pair along one axis, the
    coarser side's positions scaled up to the finer side's spacing (float32, then truncated,
    as torchvision computes it)."""
    q_ratio = max(k_size / q_size, 1.0)
    k_ratio = max(q_size / k_size, 1.0)
    dist = (ember.arange(q_size)[:, None] * q_ratio
            - (ember.arange(k_size)[None, :] + (1.0 - k_size)) * k_ratio)
    return dist.long()


def _add_rel_pos(attn: Tensor, q: Tensor, q_thw: tuple[int, int, int],
                 k_thw: tuple[int, int, int], rel_pos_h: Tensor, rel_pos_w: Tensor,
                 rel_pos_t: Tensor) -> Tensor:
    """MViTv2's decomposed relative positions: attention logits between grid tokens gain
    q . R_h[dh] + q . R_w[dw] + q . R_t[dt] (the class token row and column gain nothing)."""
    q_t, q_h, q_w = q_thw
    k_t, k_h, k_w = k_thw
    rh = _interpolate(rel_pos_h, 2 * max(q_h, k_h) - 1)[_relative_index(q_h, k_h)]
    rw = _interpolate(rel_pos_w, 2 * max(q_w, k_w) - 1)[_relative_index(q_w, k_w)]
    rt = _interpolate(rel_pos_t, 2 * max(q_t, k_t) - 1)[_relative_index(q_t, k_t)]
    b, n_head, _, dim = q.shape
    r_q = q[:, :, 1:].reshape(b, n_head, q_t, q_h, q_w, dim)
    rel_h = ember.einsum("bythwc,hkc->bythwk", r_q, rh)
    rel_w = ember.einsum("bythwc,wkc->bythwk", r_q, rw)
    rel_t = ember.einsum("bythwc,tkc->bythwk", r_q, rt)
    rel_pos = (rel_h[:, :, :, :, :, None, :, None] + rel_w[:, :, :, :, :, None, None, :]
               + rel_t[:, :, :, :, :, :, None, None])
    rel_pos = rel_pos.reshape(b, n_head, q_t * q_h * q_w, k_t * k_h * k_w)
    return attn + F.pad(rel_pos, (1, 0, 1, 0))


class MultiscaleAttention(nn.Module):
    """Multi-head attention whose queries, keys and values are pooled (a strided depthwise
    Conv3d and a norm per head) when their kernels or strides exceed 1; MViTv2 adds the
    relative positions and (``residual_pool``) the pooled queries to the output."""

    def __init__(self, input_size: list[int], embed_dim: int, output_dim: int, num_heads: int,
                 kernel_q: list[int], kernel_kv: list[int], stride_q: list[int],
                 stride_kv: list[int], residual_pool: bool, residual_with_cls_embed: bool,
                 rel_pos_embed: bool, dropout: float = 0.0,
                 norm_layer: Callable[..., nn.Module] = nn.LayerNorm) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.output_dim = output_dim
        self.num_heads = num_heads
        self.head_dim = output_dim // num_heads
        self.scaler = 1.0 / math.sqrt(self.head_dim)
        self.residual_pool = residual_pool
        self.residual_with_cls_embed = residual_with_cls_embed
        self.qkv = nn.Linear(embed_dim, 3 * output_dim)
        layers: list[nn.Module] = [nn.Linear(output_dim, output_dim)]
        if dropout > 0.0:
            layers.append(nn.Dropout(dropout, inplace=True))
        self.project = nn.Sequential(*layers)
        self.pool_q = None
        if math.prod(kernel_q) > 1 or math.prod(stride_q) > 1:
            self.pool_q = self._pool(kernel_q, stride_q, norm_layer)
        self.pool_k = None
        self.pool_v = None
        if math.prod(kernel_kv) > 1 or math.prod(stride_kv) > 1:
            self.pool_k = self._pool(kernel_kv, stride_kv, norm_layer)
            self.pool_v = self._pool(kernel_kv, stride_kv, norm_layer)
        self.rel_pos_h = None
        self.rel_pos_w = None
        self.rel_pos_t = None
        if rel_pos_embed:
            size = max(input_size[1:])
            q_size = size // stride_q[1] if len(stride_q) > 0 else size
            kv_size = size // stride_kv[1] if len(stride_kv) > 0 else size
            spatial_dim = 2 * max(q_size, kv_size) - 1
            temporal_dim = 2 * input_size[0] - 1
            self.rel_pos_h = nn.Parameter(ember.zeros(spatial_dim, self.head_dim))
            self.rel_pos_w = nn.Parameter(ember.zeros(spatial_dim, self.head_dim))
            self.rel_pos_t = nn.Parameter(ember.zeros(temporal_dim, self.head_dim))
            for table in (self.rel_pos_h, self.rel_pos_w, self.rel_pos_t):
                nn.init.trunc_normal_(table, std=0.02)

    def _pool(self, kernel: list[int], stride: list[int],
              norm_layer: Callable[..., nn.Module]) -> Pool:
        padding = [k // 2 for k in kernel]
        conv = nn.Conv3d(self.head_dim, self.head_dim, kernel, stride=stride, padding=padding,
                         groups=self.head_dim, bias=False)
        return Pool(conv, norm_layer(self.head_dim))

    def forward(self, x: Tensor, thw: tuple[int, int, int]) -> tuple[Tensor, tuple[int, int, int]]:
        b, n, _ = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).transpose(1, 3)
        q, k, v = qkv.unbind(dim=2)  # each (B, heads, N, head_dim)
        k_thw = thw
        if self.pool_k is not None:
            k, k_thw = self.pool_k(k, thw)
        if self.pool_v is not None:
            v = self.pool_v(v, thw)[0]
        if self.pool_q is not None:
            q, thw = self.pool_q(q, thw)
        attn = ember.matmul(self.scaler * q, k.transpose(2, 3))
        if self.rel_pos_h is not None:
            attn = _add_rel_pos(attn, q, thw, k_thw, self.rel_pos_h, self.rel_pos_w,
                                self.rel_pos_t)
        x = ember.matmul(attn.softmax(dim=-1), v)
        if self.residual_pool:
            # the class token's query joins the residual only with residual_with_cls_embed
            x = x + (q if self.residual_with_cls_embed else F.pad(q[:, :, 1:], (0, 0, 1, 0)))
        x = x.transpose(1, 2).reshape(b, -1, self.output_dim)
        return self.project(x), thw


class MultiscaleBlock(nn.Module):
    """Pre-norm attention and MLP residual blocks; the shortcut is max-pooled where the queries
    are strided and projected where the width changes (after the attention with
    ``proj_after_attn``, MViTv2, else after the MLP's norm)."""

    def __init__(self, input_size: list[int], cnf: MSBlockConfig, residual_pool: bool,
                 residual_with_cls_embed: bool, rel_pos_embed: bool, proj_after_attn: bool,
                 dropout: float = 0.0, stochastic_depth_prob: float = 0.0,
                 norm_layer: Callable[..., nn.Module] = nn.LayerNorm) -> None:
        super().__init__()
        self.proj_after_attn = proj_after_attn
        self.pool_skip = None
        if math.prod(cnf.stride_q) > 1:
            kernel_skip = [s + 1 if s > 1 else s for s in cnf.stride_q]
            padding_skip = [k // 2 for k in kernel_skip]
            self.pool_skip = Pool(nn.MaxPool3d(kernel_skip, stride=cnf.stride_q,
                                               padding=padding_skip), None)
        attn_dim = cnf.output_channels if proj_after_attn else cnf.input_channels
        self.norm1 = norm_layer(cnf.input_channels)
        self.norm2 = norm_layer(attn_dim)
        self.needs_transposal = isinstance(self.norm1, nn.BatchNorm1d)
        self.attn = MultiscaleAttention(
            input_size, cnf.input_channels, attn_dim, cnf.num_heads, kernel_q=cnf.kernel_q,
            kernel_kv=cnf.kernel_kv, stride_q=cnf.stride_q, stride_kv=cnf.stride_kv,
            rel_pos_embed=rel_pos_embed, residual_pool=residual_pool,
            residual_with_cls_embed=residual_with_cls_embed, dropout=dropout,
            norm_layer=norm_layer)
        self.mlp = MLP(attn_dim, [4 * attn_dim, cnf.output_channels], activation_layer=nn.GELU,
                       dropout=dropout, inplace=None)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.project = None
        if cnf.input_channels != cnf.output_channels:
            self.project = nn.Linear(cnf.input_channels, cnf.output_channels)

    def _norm(self, norm: nn.Module, x: Tensor) -> Tensor:
        # BatchNorm1d normalises dim 1: the channels must be there
        return norm(x.transpose(1, 2)).transpose(1, 2) if self.needs_transposal else norm(x)

    def forward(self, x: Tensor, thw: tuple[int, int, int]) -> tuple[Tensor, tuple[int, int, int]]:
        x_norm1 = self._norm(self.norm1, x)
        x_attn, thw_new = self.attn(x_norm1, thw)
        if self.project is not None and self.proj_after_attn:
            x = self.project(x_norm1)
        x_skip = x if self.pool_skip is None else self.pool_skip(x, thw)[0]
        x = x_skip + self.stochastic_depth(x_attn)
        x_norm2 = self._norm(self.norm2, x)
        x_proj = x if self.project is None or self.proj_after_attn else self.project(x_norm2)
        return x_proj + self.stochastic_depth(self.mlp(x_norm2)), thw_new


class PositionalEncoding(nn.Module):
    """Prepends the class token and (without relative positions) adds learned absolute
    embeddings: one per frame plus one per spatial position, and one for the class token."""

    def __init__(self, embed_size: int, spatial_size: tuple[int, int], temporal_size: int,
                 rel_pos_embed: bool) -> None:
        super().__init__()
        self.spatial_size = spatial_size
        self.temporal_size = temporal_size
        self.class_token = nn.Parameter(ember.zeros(embed_size))
        self.spatial_pos = None
        self.temporal_pos = None
        self.class_pos = None
        if not rel_pos_embed:
            self.spatial_pos = nn.Parameter(
                ember.zeros(self.spatial_size[0] * self.spatial_size[1], embed_size))
            self.temporal_pos = nn.Parameter(ember.zeros(self.temporal_size, embed_size))
            self.class_pos = nn.Parameter(ember.zeros(embed_size))

    def forward(self, x: Tensor) -> Tensor:
        class_token = self.class_token.expand(x.shape[0], -1).unsqueeze(1)
        x = ember.cat((class_token, x), dim=1)
        if self.spatial_pos is None:
            return x
        hw_size, embed_size = self.spatial_pos.shape
        grid = (ember.repeat_interleave(self.temporal_pos, hw_size, dim=0)
                + self.spatial_pos.unsqueeze(0).expand(self.temporal_size, -1, -1)
                .reshape(-1, embed_size))
        return x + ember.cat((self.class_pos.unsqueeze(0), grid), dim=0).unsqueeze(0)


class MViT(nn.Module):
    """A Multiscale Vision Transformer for clips of ``temporal_size`` frames of
    ``spatial_size``.

    Args:
        spatial_size: (H, W) of the input.
        temporal_size: T of the input.
        block_setting: one :class:`MSBlockConfig` per block.
        residual_pool: add the pooled queries to the attention output (MViTv2).
        residual_with_cls_embed: ... including the class token's.
        rel_pos_embed: relative position embeddings (MViTv2) instead of absolute ones.
        proj_after_attn: widen right after the attention (MViTv2) rather than after the MLP.
        dropout: dropout before the classifier.
        attention_dropout: dropout after the attention's projection and in the MLPs.
        stochastic_depth_prob: the last block's; earlier blocks' rise linearly from 0.
        num_classes: outputs of the classifier (Kinetics-400: 400).
        block: the block class (default :class:`MultiscaleBlock`).
        norm_layer: default LayerNorm with eps=1e-6.
        patch_embed_kernel, patch_embed_stride, patch_embed_padding: the patchifying Conv3d.

    Shape:
        - Input: (N, 3, T, H, W) (or (N, 3, H, W), one frame) matching the sizes above.
        - Output: (N, num_classes).
    """

    def __init__(self, spatial_size: tuple[int, int], temporal_size: int,
                 block_setting: Sequence[MSBlockConfig], residual_pool: bool,
                 residual_with_cls_embed: bool, rel_pos_embed: bool, proj_after_attn: bool,
                 dropout: float = 0.5, attention_dropout: float = 0.0,
                 stochastic_depth_prob: float = 0.0, num_classes: int = 400,
                 block: Callable[..., nn.Module] | None = None,
                 norm_layer: Callable[..., nn.Module] | None = None,
                 patch_embed_kernel: tuple[int, int, int] = (3, 7, 7),
                 patch_embed_stride: tuple[int, int, int] = (2, 4, 4),
                 patch_embed_padding: tuple[int, int, int] = (1, 3, 3)) -> None:
        super().__init__()
        total_stage_blocks = len(block_setting)
        if total_stage_blocks == 0:
            raise ValueError("The configuration parameter can't be empty.")
        block = block or MultiscaleBlock
        norm_layer = norm_layer or functools.partial(nn.LayerNorm, eps=1e-6)
        self.conv_proj = nn.Conv3d(3, block_setting[0].input_channels,
                                   kernel_size=patch_embed_kernel, stride=patch_embed_stride,
                                   padding=patch_embed_padding)
        input_size = [size // stride for size, stride in
                      zip((temporal_size,) + tuple(spatial_size), self.conv_proj.stride)]
        self.pos_encoding = PositionalEncoding(
            embed_size=block_setting[0].input_channels,
            spatial_size=(input_size[1], input_size[2]), temporal_size=input_size[0],
            rel_pos_embed=rel_pos_embed)
        self.blocks = nn.ModuleList()
        for stage_block_id, cnf in enumerate(block_setting):
            sd_prob = stochastic_depth_prob * stage_block_id / (total_stage_blocks - 1.0)
            self.blocks.append(block(
                input_size=input_size, cnf=cnf, residual_pool=residual_pool,
                residual_with_cls_embed=residual_with_cls_embed, rel_pos_embed=rel_pos_embed,
                proj_after_attn=proj_after_attn, dropout=attention_dropout,
                stochastic_depth_prob=sd_prob, norm_layer=norm_layer))
            if len(cnf.stride_q) > 0:
                input_size = [size // stride for size, stride in zip(input_size, cnf.stride_q)]
        self.norm = norm_layer(block_setting[-1].output_channels)
        self.head = nn.Sequential(nn.Dropout(dropout, inplace=True),
                                  nn.Linear(block_setting[-1].output_channels, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0.0)
            elif isinstance(m, nn.LayerNorm):
                if m.weight is not None:
                    nn.init.constant_(m.weight, 1.0)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0.0)
            elif isinstance(m, PositionalEncoding):
                for weights in m.parameters():
                    nn.init.trunc_normal_(weights, std=0.02)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 4:
            x = x.unsqueeze(2)  # an image is a one-frame clip
        elif x.ndim != 5:
            raise ValueError(f"Unsupported input dimension {x.shape}")
        x = self.conv_proj(x).flatten(2).transpose(1, 2)
        x = self.pos_encoding(x)
        thw = (self.pos_encoding.temporal_size,) + tuple(self.pos_encoding.spatial_size)
        for block in self.blocks:
            x, thw = block(x, thw)
        return self.head(self.norm(x)[:, 0])


def _block_settings(config: dict[str, list]) -> list[MSBlockConfig]:
    return [MSBlockConfig(**{key: values[i] for key, values in config.items()})
            for i in range(len(config["num_heads"]))]


def _mvit(block_setting: list[MSBlockConfig], stochastic_depth_prob: float,
          weights: WeightsEnum | None, progress: bool, **kwargs) -> MViT:
    if weights is not None:
        _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
        _ovewrite_named_param(kwargs, "spatial_size", weights.meta["min_size"])
        _ovewrite_named_param(kwargs, "temporal_size", weights.meta["min_temporal_size"])
    model = MViT(
        spatial_size=kwargs.pop("spatial_size", (224, 224)),
        temporal_size=kwargs.pop("temporal_size", 16),
        block_setting=block_setting,
        residual_pool=kwargs.pop("residual_pool", False),
        residual_with_cls_embed=kwargs.pop("residual_with_cls_embed", True),
        rel_pos_embed=kwargs.pop("rel_pos_embed", False),
        proj_after_attn=kwargs.pop("proj_after_attn", False),
        stochastic_depth_prob=stochastic_depth_prob,
        **kwargs)
    return _load_weights(model, weights, progress)


def _mvit_weights(url: str, num_params: int, recipe: str):
    return _kinetics400_weights(url, num_params, crop_size=(224, 224), resize_size=(256,),
                                mean_std=((0.45, 0.45, 0.45), (0.225, 0.225, 0.225)),
                                min_size=(224, 224), min_temporal_size=16, recipe=recipe)


class MViT_V1_B_Weights(WeightsEnum):
    KINETICS400_V1 = _mvit_weights(
        _URL + "mvit_v1_b-dbeb1030.pth", 36610672,
        "https://github.com/facebookresearch/pytorchvideo/blob/main/docs/source/model_zoo.md")
    DEFAULT = KINETICS400_V1


class MViT_V2_S_Weights(WeightsEnum):
    KINETICS400_V1 = _mvit_weights(
        _URL + "mvit_v2_s-ae3be167.pth", 34537744,
        "https://github.com/facebookresearch/SlowFast/blob/main/MODEL_ZOO.md")
    DEFAULT = KINETICS400_V1


_KV_STRIDES = [[1, 8, 8], [1, 4, 4], [1, 4, 4]] + [[1, 2, 2]] * 11 + [[1, 1, 1]] * 2
_NUM_HEADS = [1, 2, 2, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 8, 8]
_Q_STRIDE_BLOCKS = (1, 3, 14)  # the blocks that halve H and W
_V1_B_BLOCKS = _block_settings({
    "num_heads": _NUM_HEADS,
    "input_channels": [96] + [192] * 2 + [384] * 11 + [768] * 2,
    "output_channels": [192] * 2 + [384] * 11 + [768] * 3,
    "kernel_q": [[3, 3, 3] if i in _Q_STRIDE_BLOCKS else [] for i in range(16)],
    "kernel_kv": [[3, 3, 3]] * 16,
    "stride_q": [[1, 2, 2] if i in _Q_STRIDE_BLOCKS else [] for i in range(16)],
    "stride_kv": _KV_STRIDES,
})
_V2_S_BLOCKS = _block_settings({
    "num_heads": _NUM_HEADS,
    "input_channels": [96] * 2 + [192] * 2 + [384] * 11 + [768],
    "output_channels": [96] + [192] * 2 + [384] * 11 + [768] * 2,
    "kernel_q": [[3, 3, 3]] * 16,
    "kernel_kv": [[3, 3, 3]] * 16,
    "stride_q": [[1, 2, 2] if i in _Q_STRIDE_BLOCKS else [1, 1, 1] for i in range(16)],
    "stride_kv": _KV_STRIDES,
})


@register_model()
@handle_legacy_interface(MViT_V1_B_Weights.KINETICS400_V1)
def mvit_v1_b(*, weights: MViT_V1_B_Weights | None = None, progress: bool = True,
              **kwargs) -> MViT:
    """MViT-V1-B: 16 blocks (96 -> 768 wide), absolute positions, pooled queries in blocks 1,
    3 and 14.

    Args:
        weights: a ``MViT_V1_B_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`MViT` (``spatial_size``, ``temporal_size``,
            ``num_classes``, ``stochastic_depth_prob`` (default 0.2), ...).
    """
    weights = MViT_V1_B_Weights.verify(weights)
    return _mvit(spatial_size=(224, 224), temporal_size=16,
                 block_setting=_V1_B_BLOCKS, residual_pool=False,
                 residual_with_cls_embed=False,
                 stochastic_depth_prob=kwargs.pop("stochastic_depth_prob", 0.2),
                 weights=weights, progress=progress, **kwargs)


@register_model()
@handle_legacy_interface(MViT_V2_S_Weights.KINETICS400_V1)
def mvit_v2_s(*, weights: MViT_V2_S_Weights | None = None, progress: bool = True,
              **kwargs) -> MViT:
    """MViT-V2-S: 16 blocks (96 -> 768 wide), relative positions, residual pooling, every
    block pooling its queries (strided in blocks 1, 3 and 14).

    Args:
        weights: a ``MViT_V2_S_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`MViT` (``spatial_size``, ``temporal_size``,
            ``num_classes``, ``stochastic_depth_prob`` (default 0.2), ...).
    """
    weights = MViT_V2_S_Weights.verify(weights)
    return _mvit(spatial_size=(224, 224), temporal_size=16,
                 block_setting=_V2_S_BLOCKS, residual_pool=True,
                 residual_with_cls_embed=False, rel_pos_embed=True, proj_after_attn=True,
                 stochastic_depth_prob=kwargs.pop("stochastic_depth_prob", 0.2),
                 weights=weights, progress=progress, **kwargs)
