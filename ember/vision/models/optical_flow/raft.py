"""RAFT optical flow with torchvision's layout and state_dict keys (feature_encoder,
context_encoder, update_block.{motion_encoder,recurrent_block,flow_head}, mask_predictor), from
`RAFT: Recurrent All Pairs Field Transforms for Optical Flow
<https://arxiv.org/abs/2003.12039>`_.

Both images are encoded at 1/8 resolution; the dot products of every pair of feature vectors
form a correlation volume, pooled into a pyramid. Starting from zero flow, a convolutional GRU
repeatedly looks up the correlations around where each pixel currently lands and predicts a
flow correction; every iteration's flow, upsampled to full resolution, is returned.
"""
from __future__ import annotations

import math
from typing import Callable

import ember
from ember import nn
from ember._tensor import Tensor
from ember.nn import functional as F
from ember.vision.models._api import Weights, WeightsEnum, register_model
from ember.vision.models._presets import OpticalFlow
from ember.vision.models._utils import _URL, _load_weights, handle_legacy_interface
from ember.vision.models.optical_flow._utils import grid_sample, make_coords_grid, upsample_flow
from ember.vision.ops.misc import Conv2dNormActivation

__all__ = ["RAFT", "raft_large", "raft_small", "Raft_Large_Weights", "Raft_Small_Weights"]


class ResidualBlock(nn.Module):
    """Two 3x3 conv-norm-ReLU layers and a shortcut (a strided 1x1 conv-norm when the block
    downsamples or ``always_project``), then ReLU. The convolutions keep their biases: RAFT's
    training freezes the BatchNorms after the first data set."""

    def __init__(self, in_channels: int, out_channels: int, *,
                 norm_layer: Callable[..., nn.Module] | None, stride: int = 1,
                 always_project: bool = False) -> None:
        super().__init__()
        self.convnormrelu1 = Conv2dNormActivation(in_channels, out_channels,
                                                  norm_layer=norm_layer, kernel_size=3,
                                                  stride=stride, bias=True)
        self.convnormrelu2 = Conv2dNormActivation(out_channels, out_channels,
                                                  norm_layer=norm_layer, kernel_size=3,
                                                  bias=True)
        self.downsample: nn.Module
        if stride == 1 and not always_project:
            self.downsample = nn.Identity()
        else:
            self.downsample = Conv2dNormActivation(in_channels, out_channels,
                                                   norm_layer=norm_layer, kernel_size=1,
                                                   stride=stride, bias=True,
                                                   activation_layer=None)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        y = self.convnormrelu2(self.convnormrelu1(x))
        return self.relu(self.downsample(x) + y)


class BottleneckBlock(nn.Module):
    """1x1 -> 3x3 -> 1x1 conv-norm-ReLU layers (a quarter of the width inside) and a shortcut
    (a strided 1x1 conv-norm when the block downsamples), then ReLU (RAFT-small)."""

    def __init__(self, in_channels: int, out_channels: int, *,
                 norm_layer: Callable[..., nn.Module] | None, stride: int = 1) -> None:
        super().__init__()
        mid = out_channels // 4
        self.convnormrelu1 = Conv2dNormActivation(in_channels, mid, norm_layer=norm_layer,
                                                  kernel_size=1, bias=True)
        self.convnormrelu2 = Conv2dNormActivation(mid, mid, norm_layer=norm_layer,
                                                  kernel_size=3, stride=stride, bias=True)
        self.convnormrelu3 = Conv2dNormActivation(mid, out_channels, norm_layer=norm_layer,
                                                  kernel_size=1, bias=True)
        self.relu = nn.ReLU(inplace=True)
        if stride == 1:
            self.downsample = nn.Identity()
        else:
            self.downsample = Conv2dNormActivation(in_channels, out_channels,
                                                   norm_layer=norm_layer, kernel_size=1,
                                                   stride=stride, bias=True,
                                                   activation_layer=None)

    def forward(self, x: Tensor) -> Tensor:
        y = self.convnormrelu3(self.convnormrelu2(self.convnormrelu1(x)))
        return self.relu(self.downsample(x) + y)


class FeatureEncoder(nn.Module):
    """A 7x7 conv-norm-ReLU, three stages of two ``block``s and a 1x1 convolution to
    ``layers[4]`` channels; ``strides`` must downsample by 8 in all (the feature and the
    context encoder)."""

    def __init__(self, *, block: type[nn.Module] = ResidualBlock,
                 layers: tuple[int, ...] = (64, 64, 96, 128, 256),
                 strides: tuple[int, ...] = (2, 1, 2, 2),
                 norm_layer: Callable[..., nn.Module] | None = nn.BatchNorm2d) -> None:
        super().__init__()
        if len(layers) != 5:
            raise ValueError(f"The expected number of layers is 5, instead got {len(layers)}")
        self.convnormrelu = Conv2dNormActivation(3, layers[0], norm_layer=norm_layer,
                                                 kernel_size=7, stride=strides[0], bias=True)
        self.layer1 = self._make_2_blocks(block, layers[0], layers[1], norm_layer, strides[1])
        self.layer2 = self._make_2_blocks(block, layers[1], layers[2], norm_layer, strides[2])
        self.layer3 = self._make_2_blocks(block, layers[2], layers[3], norm_layer, strides[3])
        self.conv = nn.Conv2d(layers[3], layers[4], kernel_size=1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)):
                if m.weight is not None:
                    nn.init.constant_(m.weight, 1)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
        self.output_dim = layers[-1]
        self.downsample_factor = 2 ** sum(1 for s in strides if s == 2)

    @staticmethod
    def _make_2_blocks(block: type[nn.Module], in_channels: int, out_channels: int,
                       norm_layer: Callable[..., nn.Module] | None,
                       first_stride: int) -> nn.Sequential:
        return nn.Sequential(
            block(in_channels, out_channels, norm_layer=norm_layer, stride=first_stride),
            block(out_channels, out_channels, norm_layer=norm_layer, stride=1))

    def forward(self, x: Tensor) -> Tensor:
        x = self.convnormrelu(x)
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.conv(x)


class MotionEncoder(nn.Module):
    """Encodes the current flow and its correlation features into ``out_channels`` channels,
    the last two being the flow itself."""

    def __init__(self, *, in_channels_corr: int, corr_layers: tuple[int, ...] = (256, 192),
                 flow_layers: tuple[int, int] = (128, 64), out_channels: int = 128) -> None:
        super().__init__()
        if len(flow_layers) != 2:
            raise ValueError(f"The expected number of flow_layers is 2, instead got "
                             f"{len(flow_layers)}")
        if len(corr_layers) not in (1, 2):
            raise ValueError(f"The number of corr_layers should be 1 or 2, instead got "
                             f"{len(corr_layers)}")
        self.convcorr1 = Conv2dNormActivation(in_channels_corr, corr_layers[0], norm_layer=None,
                                              kernel_size=1)
        if len(corr_layers) == 2:
            self.convcorr2 = Conv2dNormActivation(corr_layers[0], corr_layers[1],
                                                  norm_layer=None, kernel_size=3)
        else:
            self.convcorr2 = nn.Identity()
        self.convflow1 = Conv2dNormActivation(2, flow_layers[0], norm_layer=None, kernel_size=7)
        self.convflow2 = Conv2dNormActivation(flow_layers[0], flow_layers[1], norm_layer=None,
                                              kernel_size=3)
        # two channels fewer: the raw flow is appended to the output
        self.conv = Conv2dNormActivation(corr_layers[-1] + flow_layers[-1], out_channels - 2,
                                         norm_layer=None, kernel_size=3)
        self.out_channels = out_channels

    def forward(self, flow: Tensor, corr_features: Tensor) -> Tensor:
        corr = self.convcorr2(self.convcorr1(corr_features))
        flow_features = self.convflow2(self.convflow1(flow))
        corr_flow = self.conv(ember.cat([corr, flow_features], dim=1))
        return ember.cat([corr_flow, flow], dim=1)


class ConvGRU(nn.Module):
    """A GRU cell whose gates are convolutions over the concatenated hidden state and input."""

    def __init__(self, *, input_size: int, hidden_size: int, kernel_size, padding) -> None:
        super().__init__()
        channels = hidden_size + input_size
        self.convz = nn.Conv2d(channels, hidden_size, kernel_size=kernel_size, padding=padding)
        self.convr = nn.Conv2d(channels, hidden_size, kernel_size=kernel_size, padding=padding)
        self.convq = nn.Conv2d(channels, hidden_size, kernel_size=kernel_size, padding=padding)

    def forward(self, h: Tensor, x: Tensor) -> Tensor:
        hx = ember.cat([h, x], dim=1)
        z = ember.sigmoid(self.convz(hx))
        r = ember.sigmoid(self.convr(hx))
        q = ember.tanh(self.convq(ember.cat([r * h, x], dim=1)))
        return (1 - z) * h + z * q


class RecurrentBlock(nn.Module):
    """One or two ConvGRU cells in sequence (RAFT-large: a 1x5 then a 5x1 one)."""

    def __init__(self, *, input_size: int, hidden_size: int,
                 kernel_size=((1, 5), (5, 1)), padding=((0, 2), (2, 0))) -> None:
        super().__init__()
        if len(kernel_size) != len(padding):
            raise ValueError("kernel_size should have the same length as padding, instead got "
                             f"len(kernel_size) = {len(kernel_size)} and len(padding) = "
                             f"{len(padding)}")
        if len(kernel_size) not in (1, 2):
            raise ValueError(f"kernel_size should either 1 or 2, instead got {len(kernel_size)}")
        self.convgru1 = ConvGRU(input_size=input_size, hidden_size=hidden_size,
                                kernel_size=kernel_size[0], padding=padding[0])
        if len(kernel_size) == 2:
            self.convgru2 = ConvGRU(input_size=input_size, hidden_size=hidden_size,
                                    kernel_size=kernel_size[1], padding=padding[1])
        else:
            self.convgru2 = None
        self.hidden_size = hidden_size

    def forward(self, h: Tensor, x: Tensor) -> Tensor:
        h = self.convgru1(h, x)
        return h if self.convgru2 is None else self.convgru2(h, x)


class FlowHead(nn.Module):
    """Two 3x3 convolutions (ReLU between) from the hidden state to a 2-channel flow delta."""

    def __init__(self, *, in_channels: int, hidden_size: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, hidden_size, 3, padding=1)
        self.conv2 = nn.Conv2d(hidden_size, 2, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv2(self.relu(self.conv1(x)))


class UpdateBlock(nn.Module):
    """Motion encoder, recurrent block and flow head: (hidden, context, correlations, flow)
    -> (new hidden state, flow delta). ``hidden_state_size`` is the recurrent block's."""

    def __init__(self, *, motion_encoder: nn.Module, recurrent_block: nn.Module,
                 flow_head: nn.Module) -> None:
        super().__init__()
        self.motion_encoder = motion_encoder
        self.recurrent_block = recurrent_block
        self.flow_head = flow_head
        self.hidden_state_size = recurrent_block.hidden_size

    def forward(self, hidden_state: Tensor, context: Tensor, corr_features: Tensor,
                flow: Tensor) -> tuple[Tensor, Tensor]:
        motion_features = self.motion_encoder(flow, corr_features)
        x = ember.cat([context, motion_features], dim=1)
        hidden_state = self.recurrent_block(hidden_state, x)
        return hidden_state, self.flow_head(hidden_state)


class MaskPredictor(nn.Module):
    """The convex-upsampling weights (8 * 8 * 9 channels) from the hidden state, scaled by
    ``multiplier`` (0.25 in RAFT, which damps this branch's gradients)."""

    def __init__(self, *, in_channels: int, hidden_size: int, multiplier: float = 0.25) -> None:
        super().__init__()
        self.convrelu = Conv2dNormActivation(in_channels, hidden_size, norm_layer=None,
                                             kernel_size=3)
        self.conv = nn.Conv2d(hidden_size, 8 * 8 * 9, 1, padding=0)
        self.multiplier = multiplier

    def forward(self, x: Tensor) -> Tensor:
        return self.multiplier * self.conv(self.convrelu(x))


class CorrBlock(nn.Module):
    """The correlation pyramid and its lookup.

    ``build_pyramid`` takes the dot product of every pair of feature vectors of the two maps
    (divided by sqrt(channels)) and average-pools the second map's axes ``num_levels - 1``
    times. ``index_pyramid`` samples, at each level, the (2 * radius + 1)^2 square of positions
    around where each pixel currently lands (the infinity-norm ball; the paper's "1-norm" is a
    typo), giving ``out_channels = num_levels * (2 * radius + 1) ** 2`` features per pixel.
    """

    def __init__(self, *, num_levels: int = 4, radius: int = 4) -> None:
        super().__init__()
        self.num_levels = num_levels
        self.radius = radius
        self.corr_pyramid: list[Tensor] = []
        self.out_channels = num_levels * (2 * radius + 1) ** 2

    def build_pyramid(self, fmap1: Tensor, fmap2: Tensor) -> None:
        if fmap1.shape != fmap2.shape:
            raise ValueError("Input feature maps should have the same shape, instead got "
                             f"{fmap1.shape} (fmap1.shape) != {fmap2.shape} (fmap2.shape)")
        # the coarsest level must keep at least 2 positions per axis, or grid_sample gives NaNs
        min_fmap_size = 2 * 2 ** (self.num_levels - 1)
        if any(size < min_fmap_size for size in fmap1.shape[-2:]):
            raise ValueError(
                "Feature maps are too small to be down-sampled by the correlation pyramid. "
                f"H and W of feature maps should be at least {min_fmap_size}; got: "
                f"{fmap1.shape[-2:]}. Remember that input images to the model are downsampled "
                f"by 8, so that means their dimensions should be at least 8 * {min_fmap_size} "
                f"= {8 * min_fmap_size}.")
        corr_volume = self._compute_corr_volume(fmap1, fmap2)
        batch_size, h, w = corr_volume.shape[:3]
        corr_volume = corr_volume.reshape(batch_size * h * w, 1, h, w)
        self.corr_pyramid = [corr_volume]
        for _ in range(self.num_levels - 1):
            corr_volume = F.avg_pool2d(corr_volume, kernel_size=2, stride=2)
            self.corr_pyramid.append(corr_volume)

    def index_pyramid(self, centroids_coords: Tensor) -> Tensor:
        """(N, out_channels, H, W) correlation features around ``centroids_coords``
        (N, 2, H, W), the (x, y) pixel each position of image 1 currently maps to."""
        side = 2 * self.radius + 1
        offsets = ember.linspace(-self.radius, self.radius, side)
        # delta[i, j] = (offsets[i], offsets[j]): i moves x, j moves y (torchvision's order)
        delta = ember.stack(ember.meshgrid(offsets, offsets, indexing="ij"), dim=-1)
        delta = delta.to(centroids_coords.device).view(1, side, side, 2)
        batch_size, _, h, w = centroids_coords.shape
        centroids = centroids_coords.permute(0, 2, 3, 1).reshape(batch_size * h * w, 1, 1, 2)
        indexed = []
        for corr_volume in self.corr_pyramid:
            samples = grid_sample(corr_volume, centroids + delta, align_corners=True,
                                  mode="bilinear")
            indexed.append(samples.view(batch_size, h, w, -1))
            centroids = centroids / 2
        return ember.cat(indexed, dim=-1).permute(0, 3, 1, 2).contiguous()

    @staticmethod
    def _compute_corr_volume(fmap1: Tensor, fmap2: Tensor) -> Tensor:
        batch_size, num_channels, h, w = fmap1.shape
        fmap1 = fmap1.view(batch_size, num_channels, h * w)
        fmap2 = fmap2.view(batch_size, num_channels, h * w)
        corr = ember.matmul(fmap1.transpose(1, 2), fmap2).view(batch_size, h, w, 1, h, w)
        # the scale is a float32 scalar in torchvision (sqrt of an integer tensor)
        return corr / ember.tensor(math.sqrt(num_channels), dtype=ember.float32)


class RAFT(nn.Module):
    """RAFT: (image1, image2) -> the list of ``num_flow_updates`` flow predictions, each
    (N, 2, H, W) and each refining the previous one.

    Args:
        feature_encoder: encodes both images (concatenated on the batch axis) at 1/8 size.
        context_encoder: encodes image1 at 1/8 size; its first ``hidden_state_size`` channels
            (through tanh) start the hidden state, the rest (through ReLU) are the context.
        corr_block: builds (``build_pyramid``) and looks up (``index_pyramid``) the
            correlations; exposes ``out_channels``.
        update_block: (hidden, context, correlations, flow) -> (hidden, flow delta); exposes
            ``hidden_state_size``.
        mask_predictor: predicts the convex-upsampling weights from the hidden state; None
            upsamples the flow bilinearly.

    Shape:
        - image1, image2: (N, 3, H, W) in [-1, 1], H and W multiples of 8.
        - Output: a list of (N, 2, H, W) flows (x then y displacement, in pixels).
    """

    def __init__(self, *, feature_encoder: nn.Module, context_encoder: nn.Module,
                 corr_block: nn.Module, update_block: nn.Module,
                 mask_predictor: nn.Module | None = None) -> None:
        super().__init__()
        self.feature_encoder = feature_encoder
        self.context_encoder = context_encoder
        self.corr_block = corr_block
        self.update_block = update_block
        self.mask_predictor = mask_predictor
        if not hasattr(self.update_block, "hidden_state_size"):
            raise ValueError("The update_block parameter should expose a 'hidden_state_size' "
                             "attribute.")

    def forward(self, image1: Tensor, image2: Tensor, num_flow_updates: int = 12) -> list[Tensor]:
        batch_size, _, h, w = image1.shape
        if (h, w) != tuple(image2.shape[-2:]):
            raise ValueError(f"input images should have the same shape, instead got ({h}, {w}) "
                             f"!= {image2.shape[-2:]}")
        if h % 8 != 0 or w % 8 != 0:
            raise ValueError(f"input image H and W should be divisible by 8, instead got {h} "
                             f"(h) and {w} (w)")
        fmap1, fmap2 = ember.chunk(self.feature_encoder(ember.cat([image1, image2], dim=0)),
                                   chunks=2, dim=0)
        if tuple(fmap1.shape[-2:]) != (h // 8, w // 8):
            raise ValueError("The feature encoder should downsample H and W by 8")
        self.corr_block.build_pyramid(fmap1, fmap2)

        context_out = self.context_encoder(image1)
        if tuple(context_out.shape[-2:]) != (h // 8, w // 8):
            raise ValueError("The context encoder should downsample H and W by 8")
        hidden_state_size = self.update_block.hidden_state_size
        out_channels_context = context_out.shape[1] - hidden_state_size
        if out_channels_context <= 0:
            raise ValueError(f"The context encoder outputs {context_out.shape[1]} channels, but "
                             "it should have at strictly more than "
                             f"hidden_state={hidden_state_size} channels")
        hidden_state, context = ember.split(context_out,
                                            [hidden_state_size, out_channels_context], dim=1)
        hidden_state = ember.tanh(hidden_state)
        context = F.relu(context)

        coords0 = make_coords_grid(batch_size, h // 8, w // 8).to(fmap1.device)
        coords1 = make_coords_grid(batch_size, h // 8, w // 8).to(fmap1.device)
        flow_predictions = []
        for _ in range(num_flow_updates):
            coords1 = coords1.detach()  # the lookup position carries no gradient (the paper)
            corr_features = self.corr_block.index_pyramid(centroids_coords=coords1)
            flow = coords1 - coords0
            hidden_state, delta_flow = self.update_block(hidden_state, context, corr_features,
                                                         flow)
            coords1 = coords1 + delta_flow
            up_mask = None if self.mask_predictor is None else self.mask_predictor(hidden_state)
            flow_predictions.append(upsample_flow(flow=coords1 - coords0, up_mask=up_mask))
        return flow_predictions


def _flow_weights(url: str, num_params: int, recipe: str) -> Weights:
    return Weights(url=url, transforms=OpticalFlow,
                   meta={"min_size": (128, 128), "num_params": num_params, "recipe": recipe})


_ORIGINAL = "https://github.com/princeton-vl/RAFT"  # weights ported from the paper's code
_TORCHVISION = "https://github.com/pytorch/vision/tree/main/references/optical_flow"


class Raft_Large_Weights(WeightsEnum):
    """C: FlyingChairs, T: FlyingThings3D, S/K/H: fine-tuned on Sintel (with KittiFlow, HD1K
    and FlyingThings3D), K: then on KittiFlow. V1 are the paper's weights, V2 torchvision's."""

    C_T_V1 = _flow_weights(_URL + "raft_large_C_T_V1-22a6c225.pth", 5257536, _ORIGINAL)
    C_T_V2 = _flow_weights(_URL + "raft_large_C_T_V2-1bb1363a.pth", 5257536, _TORCHVISION)
    C_T_SKHT_V1 = _flow_weights(_URL + "raft_large_C_T_SKHT_V1-0b8c9e55.pth", 5257536,
                                _ORIGINAL)
    C_T_SKHT_V2 = _flow_weights(_URL + "raft_large_C_T_SKHT_V2-ff5fadd5.pth", 5257536,
                                _TORCHVISION)
    C_T_SKHT_K_V1 = _flow_weights(_URL + "raft_large_C_T_SKHT_K_V1-4a6a5039.pth", 5257536,
                                  _ORIGINAL)
    C_T_SKHT_K_V2 = _flow_weights(_URL + "raft_large_C_T_SKHT_K_V2-b5c70766.pth", 5257536,
                                  _TORCHVISION)
    DEFAULT = C_T_SKHT_V2


class Raft_Small_Weights(WeightsEnum):
    """Trained on FlyingChairs + FlyingThings3D; V1 are the paper's weights, V2
    torchvision's."""

    C_T_V1 = _flow_weights(_URL + "raft_small_C_T_V1-ad48884c.pth", 990162, _ORIGINAL)
    C_T_V2 = _flow_weights(_URL + "raft_small_C_T_V2-01064c6d.pth", 990162, _TORCHVISION)
    DEFAULT = C_T_V2


def _raft(*, weights: WeightsEnum | None = None, progress: bool = False,
          feature_encoder_layers, feature_encoder_block, feature_encoder_norm_layer,
          context_encoder_layers, context_encoder_block, context_encoder_norm_layer,
          corr_block_num_levels, corr_block_radius, motion_encoder_corr_layers,
          motion_encoder_flow_layers, motion_encoder_out_channels,
          recurrent_block_hidden_state_size, recurrent_block_kernel_size,
          recurrent_block_padding, flow_head_hidden_size, use_mask_predictor,
          **kwargs) -> RAFT:
    """A RAFT from its sizes; ``kwargs`` may replace whole parts (``feature_encoder``,
    ``context_encoder``, ``corr_block``, ``update_block``, ``mask_predictor``)."""
    feature_encoder = kwargs.pop("feature_encoder", None) or FeatureEncoder(
        block=feature_encoder_block, layers=feature_encoder_layers,
        norm_layer=feature_encoder_norm_layer)
    context_encoder = kwargs.pop("context_encoder", None) or FeatureEncoder(
        block=context_encoder_block, layers=context_encoder_layers,
        norm_layer=context_encoder_norm_layer)
    corr_block = kwargs.pop("corr_block", None) or CorrBlock(num_levels=corr_block_num_levels,
                                                             radius=corr_block_radius)
    update_block = kwargs.pop("update_block", None)
    if update_block is None:
        motion_encoder = MotionEncoder(in_channels_corr=corr_block.out_channels,
                                       corr_layers=motion_encoder_corr_layers,
                                       flow_layers=motion_encoder_flow_layers,
                                       out_channels=motion_encoder_out_channels)
        out_channels_context = context_encoder_layers[-1] - recurrent_block_hidden_state_size
        recurrent_block = RecurrentBlock(
            input_size=motion_encoder.out_channels + out_channels_context,
            hidden_size=recurrent_block_hidden_state_size,
            kernel_size=recurrent_block_kernel_size, padding=recurrent_block_padding)
        flow_head = FlowHead(in_channels=recurrent_block_hidden_state_size,
                             hidden_size=flow_head_hidden_size)
        update_block = UpdateBlock(motion_encoder=motion_encoder,
                                   recurrent_block=recurrent_block, flow_head=flow_head)
    mask_predictor = kwargs.pop("mask_predictor", None)
    if mask_predictor is None and use_mask_predictor:
        mask_predictor = MaskPredictor(in_channels=recurrent_block_hidden_state_size,
                                       hidden_size=256, multiplier=0.25)
    model = RAFT(feature_encoder=feature_encoder, context_encoder=context_encoder,
                 corr_block=corr_block, update_block=update_block,
                 mask_predictor=mask_predictor, **kwargs)
    return _load_weights(model, weights, progress)


@register_model()
@handle_legacy_interface(Raft_Large_Weights.C_T_SKHT_V2)
def raft_large(*, weights: Raft_Large_Weights | None = None, progress: bool = True,
               **kwargs) -> RAFT:
    """RAFT (5.3M parameters): residual encoders (instance norm for features, batch norm for
    context), a 4-level radius-4 correlation pyramid, two ConvGRUs and convex upsampling.

    Args:
        weights: a ``Raft_Large_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: parts replacing the default ones (``corr_block``, ...), see :class:`RAFT`.

    Example::

        >>> flows = raft_large()(ember.rand(1, 3, 128, 128), ember.rand(1, 3, 128, 128),
        ...                      num_flow_updates=2)
        >>> len(flows), flows[-1].shape
        (2, torch.Size([1, 2, 128, 128]))
    """
    weights = Raft_Large_Weights.verify(weights)
    return _raft(weights=weights, progress=progress,
                 feature_encoder_layers=(64, 64, 96, 128, 256),
                 feature_encoder_block=ResidualBlock,
                 feature_encoder_norm_layer=nn.InstanceNorm2d,
                 context_encoder_layers=(64, 64, 96, 128, 256),
                 context_encoder_block=ResidualBlock,
                 context_encoder_norm_layer=nn.BatchNorm2d,
                 corr_block_num_levels=4, corr_block_radius=4,
                 motion_encoder_corr_layers=(256, 192), motion_encoder_flow_layers=(128, 64),
                 motion_encoder_out_channels=128,
                 recurrent_block_hidden_state_size=128,
                 recurrent_block_kernel_size=((1, 5), (5, 1)),
                 recurrent_block_padding=((0, 2), (2, 0)),
                 flow_head_hidden_size=256, use_mask_predictor=True, **kwargs)


@register_model()
@handle_legacy_interface(Raft_Small_Weights.C_T_V2)
def raft_small(*, weights: Raft_Small_Weights | None = None, progress: bool = True,
               **kwargs) -> RAFT:
    """RAFT-small (1.0M parameters): bottleneck encoders (no norm in the context encoder), a
    4-level radius-3 pyramid, one 3x3 ConvGRU and bilinear upsampling.

    Args:
        weights: a ``Raft_Small_Weights`` member, its name, or None (random init).
        progress: show a download progress bar.
        kwargs: parts replacing the default ones (``corr_block``, ...), see :class:`RAFT`.
    """
    weights = Raft_Small_Weights.verify(weights)
    return _raft(weights=weights, progress=progress,
                 feature_encoder_layers=(32, 32, 64, 96, 128),
                 feature_encoder_block=BottleneckBlock,
                 feature_encoder_norm_layer=nn.InstanceNorm2d,
                 context_encoder_layers=(32, 32, 64, 96, 160),
                 context_encoder_block=BottleneckBlock,
                 context_encoder_norm_layer=None,
                 corr_block_num_levels=4, corr_block_radius=3,
                 motion_encoder_corr_layers=(96,), motion_encoder_flow_layers=(64, 32),
                 motion_encoder_out_channels=82,
                 recurrent_block_hidden_state_size=96,
                 recurrent_block_kernel_size=(3,), recurrent_block_padding=(1,),
                 flow_head_hidden_size=128, use_mask_predictor=False, **kwargs)
