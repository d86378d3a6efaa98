"""Swin Transformers T/S/B and V2 T/S/B, with torchvision's layout and keys
(``features.0`` patch embedding, ``features.<odd>.<j>`` blocks with ``norm1``, ``attn.{qkv,proj,
relative_position_bias_table}`` (V2: ``logit_scale``, ``cpb_mlp``), ``norm2``, ``mlp.{0,3}``,
``features.<even>`` patch merging, ``norm``, ``head``) and pretrained weights."""
from __future__ import annotations

import functools
import math
from typing import Any, Callable

from ember import (
    arange,
    cat,
    clamp,
    log,
    log2,
    meshgrid,
    nn,
    ones,
    roll,
    sigmoid,
    sign,
    stack,
    zeros,
    zeros_like,
)
from ember._tensor import Tensor
from ember.nn import functional as F
from ember.vision.models._api import Weights, WeightsEnum, register_model
from ember.vision.models._meta import _IMAGENET_CATEGORIES
from ember.vision.models._ops import MLP, Permute, StochasticDepth
from ember.vision.models._presets import ImageClassification
from ember.vision.models._utils import (
    _URL,
    _fit_to_weights,
    _load_weights,
    handle_legacy_interface,
)
from ember.vision.transforms.functional import InterpolationMode

__all__ = ["SwinTransformer", "Swin_T_Weights", "Swin_S_Weights", "Swin_B_Weights",
           "Swin_V2_T_Weights", "Swin_V2_S_Weights", "Swin_V2_B_Weights", "swin_t", "swin_s",
           "swin_b", "swin_v2_t", "swin_v2_s", "swin_v2_b"]


def _patch_merging_pad(x: Tensor) -> Tensor:
    """[..., H, W, C] to [..., ceil(H/2), ceil(W/2), 4C]: each 2x2 neighbourhood's pixels
    (top-left, bottom-left, top-right, bottom-right) side by side, odd sizes zero-padded."""
    h, w = x.shape[-3], x.shape[-2]
    x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
    return cat([x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :], x[..., 0::2, 1::2, :],
                x[..., 1::2, 1::2, :]], -1)


def _get_relative_position_bias(relative_position_bias_table: Tensor,
                                relative_position_index: Tensor,
                                window_size: list[int]) -> Tensor:
    """The table's row for each (query, key) pair of a window: [1, heads, N, N], N the
    window's token count."""
    n = window_size[0] * window_size[1]
    bias = relative_position_bias_table[relative_position_index].view(n, n, -1)
    return bias.permute(2, 0, 1).contiguous().unsqueeze(0)


class PatchMerging(nn.Module):
    """Halves the resolution and doubles the channels: each 2x2 neighbourhood concatenated
    (4C), LayerNorm, then a linear map to 2C (``reduction``).

    Shape:
        - Input: [..., H, W, C].
        - Output: [..., ceil(H/2), ceil(W/2), 2C].
    """

    def __init__(self, dim: int, norm_layer: Callable[..., nn.Module] = nn.LayerNorm) -> None:
        super().__init__()
        self.dim = dim
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = norm_layer(4 * dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.reduction(self.norm(_patch_merging_pad(x)))


class PatchMergingV2(nn.Module):
    """Swin V2's patch merging: the linear map to 2C first, LayerNorm (of 2C) after."""

    def __init__(self, dim: int, norm_layer: Callable[..., nn.Module] = nn.LayerNorm) -> None:
        super().__init__()
        self.dim = dim
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = norm_layer(2 * dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(self.reduction(_patch_merging_pad(x)))


def _shifted_window_regions(size: int, window: int, shift: int, like: Tensor) -> Tensor:
    """Which of the (up to) three bands a shifted row (or column) belongs to: rows that the
    cyclic shift brought from the other side must not attend across the seam."""
    index = arange(size, device=like.device)
    if shift == 0:
        return zeros_like(index)
    return (index >= size - window).long() + (index >= size - shift).long()


def _shifted_window_mask(pad_h: int, pad_w: int, window_size: list[int],
                         shift_size: list[int], like: Tensor) -> Tensor:
    """[windows, N, N] additive mask: -100 between tokens of one window that come from
    different regions of the shifted map, 0 elsewhere (in ``like``'s dtype)."""
    rows = _shifted_window_regions(pad_h, window_size[0], shift_size[0], like)
    cols = _shifted_window_regions(pad_w, window_size[1], shift_size[1], like)
    regions = rows[:, None] * 3 + cols[None, :]
    regions = regions.view(pad_h // window_size[0], window_size[0], pad_w // window_size[1],
                           window_size[1]).permute(0, 2, 1, 3)
    regions = regions.reshape(-1, window_size[0] * window_size[1])
    differ = regions.unsqueeze(1) != regions.unsqueeze(2)
    return differ.to(like.dtype) * -100.0


def _attention_in_windows(x: Tensor, batch: int, qkv_weight: Tensor, qkv_bias: Tensor | None,
                          proj_weight: Tensor, proj_bias: Tensor | None,
                          relative_position_bias: Tensor, mask: Tensor | None, num_heads: int,
                          attention_dropout: float, dropout: float,
                          logit_scale: Tensor | None, training: bool) -> Tensor:
    """Multi-head self-attention among the N tokens of each window: x is [batch * windows, N,
    C] (the windows of each image consecutive); ``mask`` [windows, N, N] (or None) is added
    per image after the relative position bias. The core of the 2-D and 3-D Swin attention."""
    windows, tokens, c = x.shape
    if logit_scale is not None and qkv_bias is not None:
        # Swin V2 has no key bias: zeros in its place keep its gradient zero too
        length = qkv_bias.numel() // 3
        qkv_bias = cat([qkv_bias[:length], zeros_like(qkv_bias[length:2 * length]),
                        qkv_bias[2 * length:]])
    qkv = F.linear(x, qkv_weight, qkv_bias)
    qkv = qkv.reshape(windows, tokens, 3, num_heads, c // num_heads).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    if logit_scale is not None:
        attn = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
        attn = attn * clamp(logit_scale, max=math.log(100.0)).exp()
    else:
        attn = (q * (c // num_heads) ** -0.5).matmul(k.transpose(-2, -1))
    attn = attn + relative_position_bias
    if mask is not None:
        attn = attn.view(batch, windows // batch, num_heads, tokens, tokens)
        attn = attn + mask.unsqueeze(1).unsqueeze(0)
        attn = attn.view(-1, num_heads, tokens, tokens)
    attn = F.dropout(F.softmax(attn, dim=-1), p=attention_dropout, training=training)
    x = attn.matmul(v).transpose(1, 2).reshape(windows, tokens, c)
    return F.dropout(F.linear(x, proj_weight, proj_bias), p=dropout, training=training)


def shifted_window_attention(input: Tensor, qkv_weight: Tensor, proj_weight: Tensor,
                             relative_position_bias: Tensor, window_size: list[int],
                             num_heads: int, shift_size: list[int],
                             attention_dropout: float = 0.0, dropout: float = 0.0,
                             qkv_bias: Tensor | None = None, proj_bias: Tensor | None = None,
                             logit_scale: Tensor | None = None,
                             training: bool = True) -> Tensor:
    """Window multi-head self-attention (W-MSA, or SW-MSA with a shift) with a relative
    position bias, as torchvision's ``shifted_window_attention``.

    The map is zero-padded to whole windows, cyclically shifted up-left by ``shift_size``
    (no shift along a side that one window covers), cut into windows of ``window_size``
    tokens that attend among themselves (masked across the seams of the shift), then
    un-shifted and cropped. With ``logit_scale`` (Swin V2) the attention is cosine similarity
    scaled by ``exp(min(logit_scale, log 100))`` and the key bias is dropped.

    Args:
        input: [B, H, W, C].
        qkv_weight, qkv_bias: the [3C, C] / [3C] query-key-value projection.
        proj_weight, proj_bias: the [C, C] / [C] output projection.
        relative_position_bias: [1, heads, N, N], added to the attention logits.
        window_size, shift_size: two ints each.
        num_heads: attention heads (C is split among them).
        attention_dropout, dropout: on the attention weights and on the output.
        logit_scale: [heads, 1, 1] for cosine attention, or None.
        training: apply the dropouts.

    Returns:
        [B, H, W, C].
    """
    b, h, w, c = input.shape
    pad_r = (window_size[1] - w % window_size[1]) % window_size[1]
    pad_b = (window_size[0] - h % window_size[0]) % window_size[0]
    x = F.pad(input, (0, 0, 0, pad_r, 0, pad_b))
    _, pad_h, pad_w, _ = x.shape
    shift_size = [0 if window >= size else shift
                  for window, size, shift in zip(window_size, (pad_h, pad_w), shift_size)]
    shifted = sum(shift_size) > 0
    if shifted:
        x = roll(x, shifts=(-shift_size[0], -shift_size[1]), dims=(1, 2))

    rows, cols = pad_h // window_size[0], pad_w // window_size[1]
    num_windows = rows * cols
    tokens = window_size[0] * window_size[1]
    x = x.view(b, rows, window_size[0], cols, window_size[1], c)
    x = x.permute(0, 1, 3, 2, 4, 5).reshape(b * num_windows, tokens, c)

    mask = _shifted_window_mask(pad_h, pad_w, window_size, shift_size, x) if shifted else None
    x = _attention_in_windows(x, b, qkv_weight, qkv_bias, proj_weight, proj_bias,
                              relative_position_bias, mask, num_heads, attention_dropout,
                              dropout, logit_scale, training)

    x = x.view(b, rows, cols, window_size[0], window_size[1], c)
    x = x.permute(0, 1, 3, 2, 4, 5).reshape(b, pad_h, pad_w, c)
    if shifted:
        x = roll(x, shifts=(shift_size[0], shift_size[1]), dims=(1, 2))
    return x[:, :h, :w, :].contiguous()


class ShiftedWindowAttention(nn.Module):
    """:func:`shifted_window_attention` with its projections (``qkv``, ``proj``) and a learned
    bias per relative offset and head (``relative_position_bias_table``, indexed by the
    ``relative_position_index`` buffer)."""

    _window_dims = 2

    def __init__(self, dim: int, window_size: list[int], shift_size: list[int],
                 num_heads: int, qkv_bias: bool = True, proj_bias: bool = True,
                 attention_dropout: float = 0.0, dropout: float = 0.0) -> None:
        super().__init__()
        if len(window_size) != self._window_dims or len(shift_size) != self._window_dims:
            # torchvision's message, which says 2 for its 3-D windows too
            raise ValueError("window_size and shift_size must be of length 2")
        self.window_size = window_size
        self.shift_size = shift_size
        self.num_heads = num_heads
        self.attention_dropout = attention_dropout
        self.dropout = dropout
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim, bias=proj_bias)
        self.define_relative_position_bias_table()
        self.define_relative_position_index()

    def define_relative_position_bias_table(self) -> None:
        entries = (2 * self.window_size[0] - 1) * (2 * self.window_size[1] - 1)
        self.relative_position_bias_table = nn.Parameter(zeros(entries, self.num_heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def define_relative_position_index(self) -> None:
        """For each (query, key) token pair of a window, the row of its offset (dy, dx) in the
        table: (dy + wh - 1) * (2 ww - 1) + (dx + ww - 1)."""
        wh, ww = self.window_size
        coords = stack(meshgrid(arange(wh), arange(ww), indexing="ij")).flatten(1)
        relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
        index = (relative[..., 0] + wh - 1) * (2 * ww - 1) + (relative[..., 1] + ww - 1)
        self.register_buffer("relative_position_index", index.flatten())

    def get_relative_position_bias(self) -> Tensor:
        return _get_relative_position_bias(self.relative_position_bias_table,
                                           self.relative_position_index, self.window_size)

    def forward(self, x: Tensor) -> Tensor:
        """[B, H, W, C] to [B, H, W, C]."""
        return shifted_window_attention(
            x, self.qkv.weight, self.proj.weight, self.get_relative_position_bias(),
            self.window_size, self.num_heads, shift_size=self.shift_size,
            attention_dropout=self.attention_dropout, dropout=self.dropout,
            qkv_bias=self.qkv.bias, proj_bias=self.proj.bias, training=self.training)


class ShiftedWindowAttentionV2(ShiftedWindowAttention):
    """Swin V2's window attention: scaled cosine attention (``logit_scale`` per head) and a
    continuous relative position bias, ``16 * sigmoid(cpb_mlp(log-spaced offsets))``."""

    def __init__(self, dim: int, window_size: list[int], shift_size: list[int],
                 num_heads: int, qkv_bias: bool = True, proj_bias: bool = True,
                 attention_dropout: float = 0.0, dropout: float = 0.0) -> None:
        super().__init__(dim, window_size, shift_size, num_heads, qkv_bias=qkv_bias,
                         proj_bias=proj_bias, attention_dropout=attention_dropout,
                         dropout=dropout)
        self.logit_scale = nn.Parameter(log(10 * ones((num_heads, 1, 1))))
        self.cpb_mlp = nn.Sequential(nn.Linear(2, 512, bias=True), nn.ReLU(inplace=True),
                                     nn.Linear(512, num_heads, bias=False))
        if qkv_bias:
            length = self.qkv.bias.numel() // 3
            self.qkv.bias.data[length:2 * length] = 0.0

    def define_relative_position_bias_table(self) -> None:
        """The offsets (dy, dx) of a window, normalised to [-8, 8] and log-spaced:
        sign(t) * log2(|t| + 1) / 3 (float32, buffer ``relative_coords_table``)."""
        wh, ww = self.window_size
        dy = arange(-(wh - 1), wh).float() / (wh - 1) * 8
        dx = arange(-(ww - 1), ww).float() / (ww - 1) * 8
        table = stack(meshgrid(dy, dx, indexing="ij")).permute(1, 2, 0).unsqueeze(0)
        table = sign(table) * log2(table.abs() + 1.0) / 3.0
        self.register_buffer("relative_coords_table", table.contiguous())

    def get_relative_position_bias(self) -> Tensor:
        table = self.cpb_mlp(self.relative_coords_table).view(-1, self.num_heads)
        bias = _get_relative_position_bias(table, self.relative_position_index,
                                           self.window_size)
        return 16 * sigmoid(bias)

    def forward(self, x: Tensor) -> Tensor:
        """[B, H, W, C] to [B, H, W, C]."""
        return shifted_window_attention(
            x, self.qkv.weight, self.proj.weight, self.get_relative_position_bias(),
            self.window_size, self.num_heads, shift_size=self.shift_size,
            attention_dropout=self.attention_dropout, dropout=self.dropout,
            qkv_bias=self.qkv.bias, proj_bias=self.proj.bias, logit_scale=self.logit_scale,
            training=self.training)


class SwinTransformerBlock(nn.Module):
    """Pre-norm block: ``x + sd(attn(norm1(x)))``, then ``x + sd(mlp(norm2(x)))``, ``sd``
    stochastic depth (per sample) and ``mlp`` Linear-GELU-Linear of width ``mlp_ratio * dim``.

    Shape:
        - Input and output: [B, H, W, dim].
    """

    def __init__(self, dim: int, num_heads: int, window_size: list[int],
                 shift_size: list[int], mlp_ratio: float = 4.0, dropout: float = 0.0,
                 attention_dropout: float = 0.0, stochastic_depth_prob: float = 0.0,
                 norm_layer: Callable[..., nn.Module] = nn.LayerNorm,
                 attn_layer: Callable[..., nn.Module] = ShiftedWindowAttention) -> None:
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = attn_layer(dim, window_size, shift_size, num_heads,
                               attention_dropout=attention_dropout, dropout=dropout)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.norm2 = norm_layer(dim)
        self.mlp = MLP(dim, [int(dim * mlp_ratio), dim], activation_layer=nn.GELU, inplace=None,
                       dropout=dropout)
        for m in self.mlp.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.normal_(m.bias, std=1e-6)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.stochastic_depth(self.attn(self.norm1(x)))
        return x + self.stochastic_depth(self.mlp(self.norm2(x)))


class SwinTransformerBlockV2(SwinTransformerBlock):
    """Swin V2's block: the norms after attention and MLP (res-post-norm),
    ``x + sd(norm1(attn(x)))``, with :class:`ShiftedWindowAttentionV2`."""

    def __init__(self, dim: int, num_heads: int, window_size: list[int],
                 shift_size: list[int], mlp_ratio: float = 4.0, dropout: float = 0.0,
                 attention_dropout: float = 0.0, stochastic_depth_prob: float = 0.0,
                 norm_layer: Callable[..., nn.Module] = nn.LayerNorm,
                 attn_layer: Callable[..., nn.Module] = ShiftedWindowAttentionV2) -> None:
        super().__init__(dim, num_heads, window_size, shift_size, mlp_ratio=mlp_ratio,
                         dropout=dropout, attention_dropout=attention_dropout,
                         stochastic_depth_prob=stochastic_depth_prob, norm_layer=norm_layer,
                         attn_layer=attn_layer)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.stochastic_depth(self.norm1(self.attn(x)))
        return x + self.stochastic_depth(self.norm2(self.mlp(x)))


def _swin_stages(block: Callable[..., nn.Module], downsample_layer: Callable[..., nn.Module],
                 embed_dim: int, depths: list[int], num_heads: list[int],
                 window_size: list[int], mlp_ratio: float, dropout: float,
                 attention_dropout: float, stochastic_depth_prob: float,
                 norm_layer: Callable[..., nn.Module], **block_kwargs) -> list[nn.Module]:
    """The Swin stages (2-D and 3-D): ``depths[i]`` blocks of width ``embed_dim * 2**i``, every
    second one shifted by half a window, their stochastic depth rising linearly from 0 to
    ``stochastic_depth_prob``; a ``downsample_layer`` between stages. ``block_kwargs`` go to
    every block."""
    layers: list[nn.Module] = []
    total_blocks = sum(depths)
    block_id = 0
    for i_stage, depth in enumerate(depths):
        dim = embed_dim * 2 ** i_stage
        stage: list[nn.Module] = []
        for i_layer in range(depth):
            sd_prob = stochastic_depth_prob * float(block_id) / (total_blocks - 1)
            stage.append(block(dim, num_heads[i_stage], window_size=window_size,
                               shift_size=[0 if i_layer % 2 == 0 else s // 2
                                           for s in window_size],
                               mlp_ratio=mlp_ratio, dropout=dropout,
                               attention_dropout=attention_dropout,
                               stochastic_depth_prob=sd_prob, norm_layer=norm_layer,
                               **block_kwargs))
            block_id += 1
        layers.append(nn.Sequential(*stage))
        if i_stage < len(depths) - 1:
            layers.append(downsample_layer(dim, norm_layer))
    return layers


def _init_linears(model: nn.Module) -> None:
    """Truncated-normal (std 0.02) weights and zero biases for every Linear of ``model``."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class SwinTransformer(nn.Module):
    """Swin Transformer from `Swin Transformer: Hierarchical Vision Transformer using Shifted
    Windows <https://arxiv.org/abs/2103.14030>`_: a strided-convolution patch embedding, then
    stages of ``depths[i]`` blocks (every second one shifted by half a window) at width
    ``embed_dim * 2**i``, patch merging between stages, LayerNorm, global average pooling and
    a linear head.

    Args:
        patch_size: the embedding convolution's kernel and stride.
        embed_dim: the first stage's width.
        depths: blocks per stage.
        num_heads: attention heads per stage.
        window_size: attention window (tokens per side).
        mlp_ratio: MLP width over the block's width.
        dropout, attention_dropout: dropout probabilities.
        stochastic_depth_prob: the last block's; block ``k`` of ``n`` uses ``p * k / (n - 1)``.
        num_classes: output classes.
        norm_layer: default ``LayerNorm(eps=1e-5)``.
        block: default :class:`SwinTransformerBlock`.
        downsample_layer: default :class:`PatchMerging`.

    Shape:
        - Input: (N, 3, H, W).
        - Output: (N, num_classes).
    """

    def __init__(self, patch_size: list[int], embed_dim: int, depths: list[int],
                 num_heads: list[int], window_size: list[int], mlp_ratio: float = 4.0,
                 dropout: float = 0.0, attention_dropout: float = 0.0,
                 stochastic_depth_prob: float = 0.1, num_classes: int = 1000,
                 norm_layer: Callable[..., nn.Module] | None = None,
                 block: Callable[..., nn.Module] | None = None,
                 downsample_layer: Callable[..., nn.Module] = PatchMerging) -> None:
        super().__init__()
        self.num_classes = num_classes
        block = block or SwinTransformerBlock
        norm_layer = norm_layer or functools.partial(nn.LayerNorm, eps=1e-5)
        layers: list[nn.Module] = [nn.Sequential(
            nn.Conv2d(3, embed_dim, kernel_size=(patch_size[0], patch_size[1]),
                      stride=(patch_size[0], patch_size[1])),
            Permute([0, 2, 3, 1]),
            norm_layer(embed_dim))]
        layers += _swin_stages(block, downsample_layer, embed_dim, depths, num_heads, window_size,
                               mlp_ratio, dropout, attention_dropout, stochastic_depth_prob,
                               norm_layer)
        self.features = nn.Sequential(*layers)
        num_features = embed_dim * 2 ** (len(depths) - 1)
        self.norm = norm_layer(num_features)
        self.permute = Permute([0, 3, 1, 2])  # B H W C -> B C H W
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self.head = nn.Linear(num_features, num_classes)
        _init_linears(self)

    def forward(self, x: Tensor) -> Tensor:
        x = self.permute(self.norm(self.features(x)))
        return self.head(self.flatten(self.avgpool(x)))


def _swin_transformer(patch_size: list[int], embed_dim: int, depths: list[int],
                      num_heads: list[int], window_size: list[int],
                      stochastic_depth_prob: float, weights: WeightsEnum | None,
                      progress: bool, **kwargs: Any) -> SwinTransformer:
    _fit_to_weights(weights, kwargs)
    model = SwinTransformer(patch_size=patch_size, embed_dim=embed_dim, depths=depths,
                            num_heads=num_heads, window_size=window_size,
                            stochastic_depth_prob=stochastic_depth_prob, **kwargs)
    return _load_weights(model, weights, progress)


def _weights(file_name: str, num_params: int, size: int, resize_size: int) -> Weights:
    """A record of ImageNet-1K weights evaluated on ``size`` crops after bicubic resizing."""
    transforms = functools.partial(ImageClassification, crop_size=size, resize_size=resize_size,
                                   interpolation=InterpolationMode.BICUBIC)
    return Weights(url=_URL + file_name, transforms=transforms,
                   meta={"num_params": num_params, "min_size": (size, size),
                         "categories": _IMAGENET_CATEGORIES})


class Swin_T_Weights(WeightsEnum):
    IMAGENET1K_V1 = _weights("swin_t-704ceda3.pth", 28288354, 224, 232)
    DEFAULT = IMAGENET1K_V1


class Swin_S_Weights(WeightsEnum):
    IMAGENET1K_V1 = _weights("swin_s-5e29d889.pth", 49606258, 224, 246)
    DEFAULT = IMAGENET1K_V1


class Swin_B_Weights(WeightsEnum):
    IMAGENET1K_V1 = _weights("swin_b-68c6b09e.pth", 87768224, 224, 238)
    DEFAULT = IMAGENET1K_V1


class Swin_V2_T_Weights(WeightsEnum):
    IMAGENET1K_V1 = _weights("swin_v2_t-b137f0e2.pth", 28351570, 256, 260)
    DEFAULT = IMAGENET1K_V1


class Swin_V2_S_Weights(WeightsEnum):
    IMAGENET1K_V1 = _weights("swin_v2_s-637d8ceb.pth", 49737442, 256, 260)
    DEFAULT = IMAGENET1K_V1


class Swin_V2_B_Weights(WeightsEnum):
    IMAGENET1K_V1 = _weights("swin_v2_b-781e5279.pth", 87930848, 256, 272)
    DEFAULT = IMAGENET1K_V1


_V1 = {"patch_size": [4, 4], "window_size": [7, 7]}
_V2 = {"patch_size": [4, 4], "window_size": [8, 8], "block": SwinTransformerBlockV2,
       "downsample_layer": PatchMergingV2}
_TINY = {"embed_dim": 96, "depths": [2, 2, 6, 2], "num_heads": [3, 6, 12, 24],
         "stochastic_depth_prob": 0.2}
_SMALL = {"embed_dim": 96, "depths": [2, 2, 18, 2], "num_heads": [3, 6, 12, 24],
          "stochastic_depth_prob": 0.3}
_BASE = {"embed_dim": 128, "depths": [2, 2, 18, 2], "num_heads": [4, 8, 16, 32],
         "stochastic_depth_prob": 0.5}


@register_model()
@handle_legacy_interface(Swin_T_Weights.IMAGENET1K_V1)
def swin_t(*, weights: Swin_T_Weights | None = None, progress: bool = True,
           **kwargs: Any) -> SwinTransformer:
    """Swin-T (96 wide, depths 2-2-6-2, 7x7 windows).

    Args:
        weights: a ``Swin_T_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`SwinTransformer` (``num_classes``, ``dropout``, ...).
    """
    weights = Swin_T_Weights.verify(weights)
    return _swin_transformer(**_V1, **_TINY, weights=weights, progress=progress, **kwargs)


@register_model()
@handle_legacy_interface(Swin_S_Weights.IMAGENET1K_V1)
def swin_s(*, weights: Swin_S_Weights | None = None, progress: bool = True,
           **kwargs: Any) -> SwinTransformer:
    """Swin-S (96 wide, depths 2-2-18-2, 7x7 windows).

    Args:
        weights: a ``Swin_S_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`SwinTransformer` (``num_classes``, ``dropout``, ...).
    """
    weights = Swin_S_Weights.verify(weights)
    return _swin_transformer(**_V1, **_SMALL, weights=weights, progress=progress, **kwargs)


@register_model()
@handle_legacy_interface(Swin_B_Weights.IMAGENET1K_V1)
def swin_b(*, weights: Swin_B_Weights | None = None, progress: bool = True,
           **kwargs: Any) -> SwinTransformer:
    """Swin-B (128 wide, depths 2-2-18-2, 7x7 windows).

    Args:
        weights: a ``Swin_B_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`SwinTransformer` (``num_classes``, ``dropout``, ...).
    """
    weights = Swin_B_Weights.verify(weights)
    return _swin_transformer(**_V1, **_BASE, weights=weights, progress=progress, **kwargs)


@register_model()
@handle_legacy_interface(Swin_V2_T_Weights.IMAGENET1K_V1)
def swin_v2_t(*, weights: Swin_V2_T_Weights | None = None, progress: bool = True,
              **kwargs: Any) -> SwinTransformer:
    """Swin-V2-T (96 wide, depths 2-2-6-2, 8x8 windows), from `Swin Transformer V2: Scaling
    Up Capacity and Resolution <https://arxiv.org/abs/2111.09883>`_.

    Args:
        weights: a ``Swin_V2_T_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`SwinTransformer` (``num_classes``, ``dropout``, ...).
    """
    weights = Swin_V2_T_Weights.verify(weights)
    return _swin_transformer(**_V2, **_TINY, weights=weights, progress=progress, **kwargs)


@register_model()
@handle_legacy_interface(Swin_V2_S_Weights.IMAGENET1K_V1)
def swin_v2_s(*, weights: Swin_V2_S_Weights | None = None, progress: bool = True,
              **kwargs: Any) -> SwinTransformer:
    """Swin-V2-S (96 wide, depths 2-2-18-2, 8x8 windows).

    Args:
        weights: a ``Swin_V2_S_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`SwinTransformer` (``num_classes``, ``dropout``, ...).
    """
    weights = Swin_V2_S_Weights.verify(weights)
    return _swin_transformer(**_V2, **_SMALL, weights=weights, progress=progress, **kwargs)


@register_model()
@handle_legacy_interface(Swin_V2_B_Weights.IMAGENET1K_V1)
def swin_v2_b(*, weights: Swin_V2_B_Weights | None = None, progress: bool = True,
              **kwargs: Any) -> SwinTransformer:
    """Swin-V2-B (128 wide, depths 2-2-18-2, 8x8 windows).

    Args:
        weights: a ``Swin_V2_B_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: passed to :class:`SwinTransformer` (``num_classes``, ``dropout``, ...).
    """
    weights = Swin_V2_B_Weights.verify(weights)
    return _swin_transformer(**_V2, **_BASE, weights=weights, progress=progress, **kwargs)
