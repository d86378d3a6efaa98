"""Deformable convolution (torchvision's ``ops.deform_conv2d``: v1, and v2 with ``mask``),
composed from ember ops as roi_align and grid_sample are, so that the gradients w.r.t. input,
offset, mask, weight and bias (and higher-order ones) come from autograd.

Kernel tap ``(i, j)`` of output position ``(oy, ox)`` in offset group ``g`` samples the group's
input channels at ``y = oy*stride - pad + i*dilation + dy`` (x alike with ``dx``), where
``(dy, dx)`` is the pair ``offset[n, 2*(g*kh*kw + i*kw + j) + (0, 1), oy, ox]``. Sampling is
bilinear with zero outside the map; the samples, times ``mask[n, g*kh*kw + i*kw + j, oy, ox]``,
are the im2col columns of an ordinary grouped convolution (one matmul)."""
from __future__ import annotations

import math

import ember
from ember import nn
from ember._tensor import Tensor, _make
from ember.nn import functional as F
from ember.nn import init
from ember.nn.modules.utils import _pair

IntPair = int | tuple[int, int]


def _check(input: Tensor, offset: Tensor, weight: Tensor, mask: Tensor | None,
           offset_groups: int, out_size: tuple[int, int]) -> None:
    """torchvision's kernel checks, with its messages."""
    kh, kw = weight.shape[-2:]
    if offset_groups == 0:
        raise RuntimeError(
            "the shape of the offset tensor at dimension 1 is not valid. It should be a multiple "
            "of 2 * weight.size[2] * weight.size[3].\n"
            f"Got offset.shape[1]={offset.shape[1]}, while 2 * weight.size[2] * "
            f"weight.size[3]={2 * kh * kw}")
    taps = offset_groups * kh * kw
    if offset.shape[1] != 2 * taps:
        raise RuntimeError(f"offset.shape[1] is not valid: got: {offset.shape[1]} expected: "
                           f"{2 * taps}")
    if mask is not None and mask.shape[1] != taps:
        raise RuntimeError(f"mask.shape[1] is not valid: got: {mask.shape[1]} expected: {taps}")
    channels = input.shape[1]
    if channels % weight.shape[1] or weight.shape[0] % (channels // weight.shape[1]):
        raise RuntimeError("weight's input channels must divide the input's channels, and the "
                           "groups the output channels")
    if channels % offset_groups:
        raise RuntimeError("the input's channels must be a multiple of the offset groups")
    for name, t in (("offset", offset), ("mask", mask)):
        if t is None:
            continue
        if t.shape[0] != input.shape[0]:
            raise RuntimeError(f"invalid batch size of {name}")
        if tuple(t.shape[2:]) != out_size:
            raise RuntimeError(f"{name} output dims: ({t.shape[2]}, {t.shape[3]}) - computed "
                               f"output dims: ({out_size[0]}, {out_size[1]})")
    if min(out_size) <= 0:
        raise RuntimeError(f"Calculated output size too small - out_h: {out_size[0]} out_w: "
                           f"{out_size[1]}")


def _output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    return (size + 2 * padding - (dilation * (kernel - 1) + 1)) // stride + 1


def _tap_coordinates(offset: Tensor, kernel: tuple[int, int], stride: tuple[int, int],
                     padding: tuple[int, int], dilation: tuple[int, int],
                     offset_groups: int) -> tuple[Tensor, Tensor]:
    """The sample positions ``(y, x)``, each (N, G, kh, kw, Ho, Wo)."""
    n, _, out_h, out_w = offset.shape
    kh, kw = kernel
    pairs = offset.reshape(n, offset_groups, kh, kw, 2, out_h, out_w)
    xp = offset._xp
    dtype = offset._data.dtype
    base_y = xp.arange(kh)[:, None] * dilation[0] + xp.arange(out_h) * stride[0] - padding[0]
    base_x = xp.arange(kw)[:, None] * dilation[1] + xp.arange(out_w) * stride[1] - padding[1]
    y = pairs[:, :, :, :, 0] + _make(base_y.astype(dtype)[:, None, :, None])
    x = pairs[:, :, :, :, 1] + _make(base_x.astype(dtype)[None, :, None, :])
    return y, x


def _corners(coord: Tensor, size: int):
    """The two pixels around each coordinate along one axis: their indices clipped to the map
    (an array, (..., 2)), whether they lie on it, and their linear weights (Tensor, (..., 2))."""
    xp = coord._xp
    # clipping first keeps far-away coordinates in int range, with both taps still off the map
    low = xp.floor(xp.clip(coord._data, -2, size))
    frac = (coord - _make(low)).unsqueeze(-1)
    index = low.astype(xp.int64)[..., None] + xp.arange(2)
    inside = (index >= 0) & (index < size)
    weights = ember.cat((1 - frac, frac), dim=-1)
    return xp.clip(index, 0, size - 1), inside, weights


def _deformed_columns(input: Tensor, y: Tensor, x: Tensor, mask: Tensor | None) -> Tensor:
    """Bilinear samples of ``input`` at ``(y, x)`` (N, G, kh, kw, Ho, Wo), scaled by ``mask``,
    laid out as im2col columns (N, C*kh*kw, Ho*Wo) with channel-major rows."""
    n, channels, height, width = input.shape
    groups, kh, kw, out_h, out_w = y.shape[1:]
    xp = input._xp
    iy, y_inside, wy = _corners(y, height)
    ix, x_inside, wx = _corners(x, width)
    # the four corners of every sample, (..., 2, 2) flattened to (..., 4)
    image = xp.arange(n * groups).reshape(n, groups, 1, 1, 1, 1, 1, 1)
    flat = ((image * height + iy[..., :, None]) * width + ix[..., None, :]).reshape(*y.shape, 4)
    inside = (y_inside[..., :, None] & x_inside[..., None, :]).reshape(*y.shape, 4)
    weights = (wy.unsqueeze(-1) * wx.unsqueeze(-2)).reshape(*y.shape, 4)
    weights = weights * _make(inside.astype(input._data.dtype))
    if mask is not None:
        weights = weights * mask.reshape(*y.shape, 1)
    # one row of the group's channels per pixel, so that each corner gathers a row
    per_group = channels // groups
    rows = input.reshape(n, groups, per_group, height * width).transpose(2, 3)
    rows = rows.reshape(n * groups * height * width, per_group)
    # a row lookup: embedding's backward sums the rows' gradients faster than indexing's
    values = F.embedding(_make(flat), rows)  # (N, G, kh, kw, Ho, Wo, 4, c)
    samples = (values * weights.unsqueeze(-1)).sum(-2)  # (N, G, kh, kw, Ho, Wo, c)
    columns = samples.permute(0, 1, 6, 2, 3, 4, 5)
    return columns.reshape(n, channels * kh * kw, out_h * out_w)


def deform_conv2d(input: Tensor, offset: Tensor, weight: Tensor, bias: Tensor | None = None,
                  stride: IntPair = (1, 1), padding: IntPair = (0, 0),
                  dilation: IntPair = (1, 1), mask: Tensor | None = None) -> Tensor:
    """Deformable convolution: v2 (Zhu et al., Deformable ConvNets v2) when ``mask`` is given,
    else v1 (Dai et al., Deformable Convolutional Networks). Each kernel tap reads the input at
    its regular position plus a learned fractional offset, by bilinear interpolation (zero
    outside the input), and v2 scales each sample by the mask.

    Args:
        input (Tensor[N, C, H, W]): input.
        offset (Tensor[N, 2 * offset_groups * kh * kw, Ho, Wo]): ``(dy, dx)`` pairs, one per
            offset group and kernel tap; the input's channels split into ``offset_groups``.
        weight (Tensor[C_out, C / groups, kh, kw]): convolution weights.
        bias (Tensor[C_out], optional): added to every output position.
        stride, padding, dilation (int or (int, int)): as in ``conv2d``.
        mask (Tensor[N, offset_groups * kh * kw, Ho, Wo], optional): per-sample modulation.

    Returns:
        Tensor[N, C_out, Ho, Wo]

    Example::

        >>> input = ember.rand(4, 3, 10, 10)
        >>> weight = ember.rand(5, 3, 3, 3)
        >>> offset = ember.rand(4, 2 * 3 * 3, 8, 8)
        >>> mask = ember.rand(4, 3 * 3, 8, 8)
        >>> deform_conv2d(input, offset, weight, mask=mask).shape
        torch.Size([4, 5, 8, 8])
    """
    stride, padding, dilation = _pair(stride), _pair(padding), _pair(dilation)
    kernel = tuple(weight.shape[-2:])
    offset_groups = offset.shape[1] // (2 * kernel[0] * kernel[1])
    out_size = tuple(_output_size(s, k, st, p, d) for s, k, st, p, d
                     in zip(input.shape[-2:], kernel, stride, padding, dilation))
    _check(input, offset, weight, mask, offset_groups, out_size)
    y, x = _tap_coordinates(offset, kernel, stride, padding, dilation, offset_groups)
    columns = _deformed_columns(input, y, x, mask)
    out_channels = weight.shape[0]
    groups = input.shape[1] // weight.shape[1]
    n = input.shape[0]
    columns = columns.reshape(n, groups, weight[0].numel(), out_size[0] * out_size[1])
    out = ember.matmul(weight.reshape(groups, out_channels // groups, -1), columns)
    out = out.reshape(n, out_channels, *out_size)
    return out if bias is None else out + bias.reshape(1, out_channels, 1, 1)


class DeformConv2d(nn.Module):
    """Module form of :func:`deform_conv2d`, holding ``weight`` (C_out, C_in / groups, kh, kw)
    and ``bias`` (C_out), initialised as ``nn.Conv2d``'s; ``forward(input, offset, mask=None)``.

    Example::

        >>> layer = DeformConv2d(3, 5, kernel_size=3, padding=1)
        >>> layer(ember.rand(2, 3, 6, 6), ember.zeros(2, 18, 6, 6)).shape
        torch.Size([2, 5, 6, 6])
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntPair,
                 stride: IntPair = 1, padding: IntPair = 0, dilation: IntPair = 1,
                 groups: int = 1, bias: bool = True) -> None:
        super().__init__()
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride)
        self.padding = _pair(padding)
        self.dilation = _pair(dilation)
        self.groups = groups
        self.weight = nn.Parameter(ember.empty(out_channels, in_channels // groups,
                                               *self.kernel_size))
        if bias:
            self.bias = nn.Parameter(ember.empty(out_channels))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor, offset: Tensor, mask: Tensor | None = None) -> Tensor:
        return deform_conv2d(input, offset, self.weight, self.bias, stride=self.stride,
                             padding=self.padding, dilation=self.dilation, mask=mask)

    def __repr__(self) -> str:
        s = (f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, "
             f"kernel_size={self.kernel_size}, stride={self.stride}")
        s += f", padding={self.padding}" if self.padding != (0, 0) else ""
        s += f", dilation={self.dilation}" if self.dilation != (1, 1) else ""
        s += f", groups={self.groups}" if self.groups != 1 else ""
        s += ", bias=False" if self.bias is None else ""
        return s + ")"
