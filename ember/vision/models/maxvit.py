"""MaxViT-T, with torchvision's layout and keys (``stem.{0,1}``,
``blocks.<i>.layers.<j>.layers.{MBconv,window_attention,grid_attention}``, ``classifier.{2,3,5}``)
and pretrained weights."""
from __future__ import annotations

import functools
import math
from collections import OrderedDict
from typing import Any, Callable

from ember import _assert, arange, empty, meshgrid, nn, softmax, stack, swapaxes
from ember._tensor import Tensor
from ember.vision.models._api import Weights, WeightsEnum, register_model
from ember.vision.models._meta import _IMAGENET_CATEGORIES
from ember.vision.models._ops import Conv2dNormActivation, SqueezeExcitation, StochasticDepth
from ember.vision.models._presets import ImageClassification
from ember.vision.models._utils import (
    _URL,
    _fit_to_weights,
    _load_weights,
    _ovewrite_named_param,
    handle_legacy_interface,
)
from ember.vision.transforms.functional import InterpolationMode

__all__ = ["MaxVit", "MaxVit_T_Weights", "maxvit_t"]


def _get_conv_output_shape(input_size: tuple[int, int], kernel_size: int, stride: int,
                           padding: int) -> tuple[int, int]:
    return tuple((size - kernel_size + 2 * padding) // stride + 1 for size in input_size)


def _make_block_input_shapes(input_size: tuple[int, int], n_blocks: int
                             ) -> list[tuple[int, int]]:
    """The map size each block works at: the stem and every block halve it (3x3, stride 2)."""
    shapes = []
    shape = _get_conv_output_shape(input_size, 3, 2, 1)
    for _ in range(n_blocks):
        shape = _get_conv_output_shape(shape, 3, 2, 1)
        shapes.append(shape)
    return shapes


def _linspace(stop: float, num: int) -> list[float]:
    """``numpy.linspace(0, stop, num)`` as floats: ``i * step``, the last exactly ``stop``."""
    if num == 1:
        return [0.0]
    step = stop / (num - 1)
    return [i * step for i in range(num - 1)] + [float(stop)]


def _get_relative_position_index(height: int, width: int) -> Tensor:
    """[HW, HW]: the row of each (query, key) offset (dy, dx) in a (2H-1)(2W-1)-row table."""
    coords = stack(meshgrid(arange(height), arange(width), indexing="ij")).flatten(1)
    relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
    return (relative[..., 0] + height - 1) * (2 * width - 1) + (relative[..., 1] + width - 1)


class MBConv(nn.Module):
    """Pre-normed inverted residual: BatchNorm, 1x1 expansion, strided depthwise 3x3,
    squeeze-excitation (SiLU), 1x1 projection; the shortcut (``proj``) average-pools and
    projects when the stride or width changes.

    Shape:
        - Input: (N, in_channels, H, W).
        - Output: (N, out_channels, H / stride, W / stride).
    """

    def __init__(self, in_channels: int, out_channels: int, expansion_ratio: float,
                 squeeze_ratio: float, stride: int, activation_layer: Callable[..., nn.Module],
                 norm_layer: Callable[..., nn.Module], p_stochastic_dropout: float = 0.0
                 ) -> None:
        super().__init__()
        if stride != 1 or in_channels != out_channels:
            proj: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, kernel_size=1,
                                               stride=1, bias=True)]
            if stride == 2:
                proj.insert(0, nn.AvgPool2d(kernel_size=3, stride=stride, padding=1))
            self.proj = nn.Sequential(*proj)
        else:
            self.proj = nn.Identity()
        mid_channels = int(out_channels * expansion_ratio)
        sqz_channels = int(out_channels * squeeze_ratio)
        if p_stochastic_dropout:
            self.stochastic_depth = StochasticDepth(p_stochastic_dropout, mode="row")
        else:
            self.stochastic_depth = nn.Identity()
        layers = OrderedDict()
        layers["pre_norm"] = norm_layer(in_channels)
        layers["conv_a"] = Conv2dNormActivation(
            in_channels, mid_channels, kernel_size=1, stride=1, padding=0,
            activation_layer=activation_layer, norm_layer=norm_layer, inplace=None)
        layers["conv_b"] = Conv2dNormActivation(
            mid_channels, mid_channels, kernel_size=3, stride=stride, padding=1,
            activation_layer=activation_layer, norm_layer=norm_layer, groups=mid_channels,
            inplace=None)
        layers["squeeze_excitation"] = SqueezeExcitation(mid_channels, sqz_channels,
                                                         activation=nn.SiLU)
        layers["conv_c"] = nn.Conv2d(mid_channels, out_channels, kernel_size=1, bias=True)
        self.layers = nn.Sequential(layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x) + self.stochastic_depth(self.layers(x))


class RelativePositionalMultiHeadAttention(nn.Module):
    """Multi-head self-attention within each group of ``max_seq_len`` tokens (a square
    partition), with a learned bias per relative offset and head. The keys are scaled by
    ``feat_dim ** -0.5`` (not the head's width), as in torchvision.

    Shape:
        - Input and output: (B, groups, tokens, feat_dim).
    """

    def __init__(self, feat_dim: int, head_dim: int, max_seq_len: int) -> None:
        super().__init__()
        if feat_dim % head_dim != 0:
            raise ValueError(f"feat_dim: {feat_dim} must be divisible by head_dim: {head_dim}")
        self.n_heads = feat_dim // head_dim
        self.head_dim = head_dim
        self.size = int(math.sqrt(max_seq_len))
        self.max_seq_len = max_seq_len
        self.to_qkv = nn.Linear(feat_dim, self.n_heads * self.head_dim * 3)
        self.scale_factor = feat_dim ** -0.5
        self.merge = nn.Linear(self.head_dim * self.n_heads, feat_dim)
        self.relative_position_bias_table = nn.Parameter(
            empty((2 * self.size - 1) * (2 * self.size - 1), self.n_heads))
        self.register_buffer("relative_position_index",
                             _get_relative_position_index(self.size, self.size))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def get_relative_positional_bias(self) -> Tensor:
        index = self.relative_position_index.view(-1)
        bias = self.relative_position_bias_table[index].view(self.max_seq_len,
                                                             self.max_seq_len, -1)
        return bias.permute(2, 0, 1).contiguous().unsqueeze(0)

    def forward(self, x: Tensor) -> Tensor:
        b, g, p, d = x.shape
        heads, head_dim = self.n_heads, self.head_dim
        q, k, v = (t.reshape(b, g, p, heads, head_dim).permute(0, 1, 3, 2, 4)
                   for t in self.to_qkv(x).chunk(3, dim=-1))
        logits = q @ (k * self.scale_factor).transpose(-2, -1)
        attn = softmax(logits + self.get_relative_positional_bias(), dim=-1)
        out = (attn @ v).permute(0, 1, 3, 2, 4).reshape(b, g, p, d)
        return self.merge(out)


class SwapAxes(nn.Module):
    """Swaps dimensions ``a`` and ``b``."""

    def __init__(self, a: int, b: int) -> None:
        super().__init__()
        self.a = a
        self.b = b

    def forward(self, x: Tensor) -> Tensor:
        return swapaxes(x, self.a, self.b)


class WindowPartition(nn.Module):
    """(B, C, H, W) to (B, (H/p)(W/p), p*p, C): non-overlapping p x p windows of tokens."""

    def forward(self, x: Tensor, p: int) -> Tensor:
        b, c, h, w = x.shape
        x = x.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1)
        return x.reshape(b, (h // p) * (w // p), p * p, c)


class WindowDepartition(nn.Module):
    """The inverse of :class:`WindowPartition`, given the windows per side."""

    def forward(self, x: Tensor, p: int, h_partitions: int, w_partitions: int) -> Tensor:
        b, _, _, c = x.shape
        x = x.reshape(b, h_partitions, w_partitions, p, p, c).permute(0, 5, 1, 3, 2, 4)
        return x.reshape(b, c, h_partitions * p, w_partitions * p)


class PartitionAttentionLayer(nn.Module):
    """Attention within local windows ("window": p x p neighbourhoods) or across a sparse
    grid ("grid": tokens p apart, by swapping the window and token axes), each followed by an
    MLP, both pre-normed and residual.

    Shape:
        - Input and output: (B, C, H, W) with (H, W) == ``grid_size``.
    """

    def __init__(self, in_channels: int, head_dim: int, partition_size: int,
                 partition_type: str, grid_size: tuple[int, int], mlp_ratio: int,
                 activation_layer: Callable[..., nn.Module],
                 norm_layer: Callable[..., nn.Module], attention_dropout: float,
                 mlp_dropout: float, p_stochastic_dropout: float) -> None:
        super().__init__()
        self.n_heads = in_channels // head_dim
        self.head_dim = head_dim
        self.n_partitions = grid_size[0] // partition_size
        self.partition_type = partition_type
        self.grid_size = grid_size
        if partition_type not in ["grid", "window"]:
            raise ValueError("partition_type must be either 'grid' or 'window'")
        if partition_type == "window":
            self.p, self.g = partition_size, self.n_partitions
        else:
            self.p, self.g = self.n_partitions, partition_size
        self.partition_op = WindowPartition()
        self.departition_op = WindowDepartition()
        grid = partition_type == "grid"
        self.partition_swap = SwapAxes(-2, -3) if grid else nn.Identity()
        self.departition_swap = SwapAxes(-2, -3) if grid else nn.Identity()
        # partition_size ** 2 tokens per group either way (the grid swaps the axes)
        self.attn_layer = nn.Sequential(
            norm_layer(in_channels),
            RelativePositionalMultiHeadAttention(in_channels, head_dim, partition_size ** 2),
            nn.Dropout(attention_dropout),
        )
        self.mlp_layer = nn.Sequential(
            nn.LayerNorm(in_channels),
            nn.Linear(in_channels, in_channels * mlp_ratio),
            activation_layer(),
            nn.Linear(in_channels * mlp_ratio, in_channels),
            nn.Dropout(mlp_dropout),
        )
        self.stochastic_dropout = StochasticDepth(p_stochastic_dropout, mode="row")

    def forward(self, x: Tensor) -> Tensor:
        gh, gw = self.grid_size[0] // self.p, self.grid_size[1] // self.p
        _assert(self.grid_size[0] % self.p == 0 and self.grid_size[1] % self.p == 0,
                f"Grid size must be divisible by partition size. Got grid size of "
                f"{self.grid_size} and partition size of {self.p}")
        x = self.partition_swap(self.partition_op(x, self.p))
        x = x + self.stochastic_dropout(self.attn_layer(x))
        x = x + self.stochastic_dropout(self.mlp_layer(x))
        return self.departition_op(self.departition_swap(x), self.p, gh, gw)


class MaxVitLayer(nn.Module):
    """An :class:`MBConv`, then window attention, then grid attention (``layers``)."""

    def __init__(self, in_channels: int, out_channels: int, squeeze_ratio: float,
                 expansion_ratio: float, stride: int, norm_layer: Callable[..., nn.Module],
                 activation_layer: Callable[..., nn.Module], head_dim: int, mlp_ratio: int,
                 mlp_dropout: float, attention_dropout: float, p_stochastic_dropout: float,
                 partition_size: int, grid_size: tuple[int, int]) -> None:
        super().__init__()
        layers = OrderedDict()
        layers["MBconv"] = MBConv(in_channels, out_channels, expansion_ratio, squeeze_ratio,
                                  stride, activation_layer, norm_layer, p_stochastic_dropout)
        for kind in ("window", "grid"):
            layers[f"{kind}_attention"] = PartitionAttentionLayer(
                out_channels, head_dim, partition_size, kind, grid_size, mlp_ratio,
                activation_layer, nn.LayerNorm, attention_dropout, mlp_dropout,
                p_stochastic_dropout)
        self.layers = nn.Sequential(layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class MaxVitBlock(nn.Module):
    """``n_layers`` :class:`MaxVitLayer`s, the first halving the resolution; ``grid_size`` is
    the map size they work at."""

    def __init__(self, in_channels: int, out_channels: int, squeeze_ratio: float,
                 expansion_ratio: float, norm_layer: Callable[..., nn.Module],
                 activation_layer: Callable[..., nn.Module], head_dim: int, mlp_ratio: int,
                 mlp_dropout: float, attention_dropout: float, partition_size: int,
                 input_grid_size: tuple[int, int], n_layers: int,
                 p_stochastic: list[float]) -> None:
        super().__init__()
        if not len(p_stochastic) == n_layers:
            raise ValueError(f"p_stochastic must have length n_layers={n_layers}, got "
                             f"p_stochastic={p_stochastic}.")
        self.layers = nn.ModuleList()
        self.grid_size = _get_conv_output_shape(input_grid_size, kernel_size=3, stride=2,
                                                padding=1)
        for idx, p in enumerate(p_stochastic):
            self.layers.append(MaxVitLayer(
                in_channels if idx == 0 else out_channels, out_channels, squeeze_ratio,
                expansion_ratio, 2 if idx == 0 else 1, norm_layer, activation_layer,
                head_dim, mlp_ratio, mlp_dropout, attention_dropout, p, partition_size,
                self.grid_size))

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class MaxVit(nn.Module):
    """MaxViT from `MaxViT: Multi-Axis Vision Transformer <https://arxiv.org/abs/2204.01697>`_:
    a two-convolution stem (stride 2), blocks of MBConv + window + grid attention layers
    (each block halving the resolution) and a pooled LayerNorm-Linear-Tanh-Linear classifier.

    Args:
        input_size: the (H, W) the model is built for (the attention's groups depend on it);
            every block's map must divide by ``partition_size``.
        stem_channels: the stem's width.
        partition_size: the side of the attention windows and of the grid.
        block_channels, block_layers: width and depth of each block.
        head_dim: attention head width.
        stochastic_depth_prob: the last layer's; spread linearly from 0 over all layers.
        norm_layer: of the convolutions, default ``BatchNorm2d(eps=1e-3, momentum=0.01)``.
        activation_layer: default GELU.
        squeeze_ratio, expansion_ratio: MBConv's squeeze-excitation and expansion widths.
        mlp_ratio, mlp_dropout, attention_dropout: the attention layers' MLP and dropouts.
        num_classes: output classes.

    Shape:
        - Input: (N, 3, *input_size).
        - Output: (N, num_classes).
    """

    def __init__(self, input_size: tuple[int, int], stem_channels: int, partition_size: int,
                 block_channels: list[int], block_layers: list[int], head_dim: int,
                 stochastic_depth_prob: float,
                 norm_layer: Callable[..., nn.Module] | None = None,
                 activation_layer: Callable[..., nn.Module] = nn.GELU,
                 squeeze_ratio: float = 0.25, expansion_ratio: float = 4, mlp_ratio: int = 4,
                 mlp_dropout: float = 0.0, attention_dropout: float = 0.0,
                 num_classes: int = 1000) -> None:
        super().__init__()
        norm_layer = norm_layer or functools.partial(nn.BatchNorm2d, eps=1e-3, momentum=0.01)
        block_input_sizes = _make_block_input_shapes(input_size, len(block_channels))
        for idx, size in enumerate(block_input_sizes):
            if size[0] % partition_size != 0 or size[1] % partition_size != 0:
                raise ValueError(
                    f"Input size {size} of block {idx} is not divisible by partition size "
                    f"{partition_size}. Consider changing the partition size or the input "
                    "size.\nCurrent configuration yields the following block input sizes: "
                    f"{block_input_sizes}.")
        self.stem = nn.Sequential(
            Conv2dNormActivation(3, stem_channels, 3, stride=2, norm_layer=norm_layer,
                                 activation_layer=activation_layer, bias=False, inplace=None),
            Conv2dNormActivation(stem_channels, stem_channels, 3, stride=1, norm_layer=None,
                                 activation_layer=None, bias=True),
        )
        input_size = _get_conv_output_shape(input_size, kernel_size=3, stride=2, padding=1)
        self.partition_size = partition_size
        self.blocks = nn.ModuleList()
        p_stochastic = _linspace(stochastic_depth_prob, sum(block_layers))
        p_idx = 0
        for in_channel, out_channel, num_layers in zip([stem_channels] + block_channels[:-1],
                                                       block_channels, block_layers):
            self.blocks.append(MaxVitBlock(
                in_channel, out_channel, squeeze_ratio, expansion_ratio, norm_layer,
                activation_layer, head_dim, mlp_ratio, mlp_dropout, attention_dropout,
                partition_size, input_size, num_layers, p_stochastic[p_idx:p_idx + num_layers]))
            input_size = self.blocks[-1].grid_size
            p_idx += num_layers
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.LayerNorm(block_channels[-1]),
            nn.Linear(block_channels[-1], block_channels[-1]),
            nn.Tanh(),
            nn.Linear(block_channels[-1], num_classes, bias=False),
        )
        self._init_weights()

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.classifier(x)

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)


class MaxVit_T_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(
        url=_URL + "maxvit_t-bc5ab103.pth",
        transforms=functools.partial(ImageClassification, crop_size=224, resize_size=224,
                                     interpolation=InterpolationMode.BICUBIC),
        meta={"categories": _IMAGENET_CATEGORIES, "num_params": 30919624,
              "min_size": (224, 224)})
    DEFAULT = IMAGENET1K_V1


@register_model()
@handle_legacy_interface(MaxVit_T_Weights.IMAGENET1K_V1)
def maxvit_t(*, weights: MaxVit_T_Weights | None = None, progress: bool = True,
             **kwargs: Any) -> MaxVit:
    """MaxViT-T (stem 64, blocks 64/128/256/512 of 2/2/5/2 layers, 7x7 partitions).

    Args:
        weights: a ``MaxVit_T_Weights`` member, its name, or None (random init); it fixes
            ``input_size``.
        progress: show a download progress bar.
        kwargs: passed to :class:`MaxVit` (``input_size`` (default (224, 224)),
            ``num_classes``, ...).
    """
    weights = MaxVit_T_Weights.verify(weights)
    if weights is not None:
        _fit_to_weights(weights, kwargs)
        _ovewrite_named_param(kwargs, "input_size", weights.meta["min_size"])
    input_size = kwargs.pop("input_size", (224, 224))
    model = MaxVit(input_size=input_size, stem_channels=64, block_channels=[64, 128, 256, 512],
                   block_layers=[2, 2, 5, 2], head_dim=32, stochastic_depth_prob=0.2,
                   partition_size=7, **kwargs)
    return _load_weights(model, weights, progress)
