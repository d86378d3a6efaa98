"""Sliding-window pooling: max (with its indices), average and power-average pooling over
windows of a fixed kernel and stride, and max_unpool, max pooling's partial inverse. Each
primitive pairs with its adjoint as convolution's do (see NOTE [ Convolution adjoints ] in
conv.py); the pools whose windows follow the output size are in adaptive_pooling.py."""
from __future__ import annotations

import math

from ember import dtypes as _dt
from ember._quantized import QuantizedTensor, _like, centered_ints, requantized_mean
from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive
from ember.backend import kernels as K
from ember.backend.device import get_array_module
from ember.ops.conv import _batched, _tuple
from ember.ops.elementwise import with_saved_edge
from ember.ops.gather_scatter import scatter

__all__ = [
    "max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "max_pool2d_with_indices",
    "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d", "avg_pool3d", "lp_pool1d", "lp_pool2d",
    "lp_pool3d", "max_unpool1d", "max_unpool2d", "max_unpool3d",
]


def _pool_geometry(nd, spatial, kernel_size, stride, padding, dilation, ceil_mode, op):
    kernel = _tuple(kernel_size, nd, "kernel_size")
    stride = kernel if stride is None or stride == [] or stride == () else _tuple(stride, nd)
    padding = _tuple(padding, nd, "padding")
    dilation = _tuple(dilation, nd, "dilation")
    if 0 in stride:
        raise RuntimeError("stride should not be zero")
    if min(kernel) <= 0:
        raise RuntimeError(f"kernel size should be greater than zero, but got kernel {kernel}")
    if min(padding) < 0:
        raise RuntimeError(f"pad must be non-negative, but got pad: {min(padding)}")
    if min(dilation) <= 0:
        raise RuntimeError(f"dilation should be greater than zero, but got {list(dilation)}")
    for k, p in zip(kernel, padding):
        if p * 2 > k:
            raise RuntimeError(f"{op}: pad should be at most half of effective kernel size, but "
                               f"got pad={p}, kernel_size={k} and dilation=1")
    outs = tuple(K.out_size(n, k, s, p, p, d, ceil_mode)
                 for n, k, s, p, d in zip(spatial, kernel, stride, padding, dilation))
    if any(o <= 0 for o in outs):
        raise RuntimeError(f"{op}: Given input size: {tuple(spatial)}. Calculated output size: "
                           f"{outs}. Output size is too small")
    # the high side is padded just enough for the last (ceil_mode) window
    pads = tuple((p, max((o - 1) * s + d * (k - 1) + 1 - n - p, 0))
                 for n, k, s, p, d, o in zip(spatial, kernel, stride, padding, dilation, outs))
    return kernel, stride, pads, dilation, outs


class WindowGather(Primitive, node_name="MaxPool2DWithIndicesBackward0"):
    """Each output is the input element that max pooling chose, ``arg`` (its ``choice``, see
    ``ember.backend.kernels.max_pool``)."""

    @staticmethod
    def forward(ctx, x, arg, kernel, stride, pads, dilation, values=None):
        ctx.save_for_backward(x)  # for create_graph's edge only (see with_saved_edge)
        ctx.geom = (arg, x.shape, kernel, stride, pads, dilation)
        if values is not None:  # max pooling already has the gathered maxima
            return values
        return K.max_pool_gather(x, arg, kernel, stride, pads, dilation)

    @staticmethod
    def backward(ctx, grad):
        return with_saved_edge(WindowScatter.apply(grad, *ctx.geom), ctx)


class WindowScatter(Primitive, node_name="MaxPool2DWithIndicesBackwardBackward0"):
    @staticmethod
    def forward(ctx, g, arg, x_shape, kernel, stride, pads, dilation):
        ctx.geom = (arg, kernel, stride, pads, dilation)
        return K.max_pool_scatter(g, arg, x_shape, kernel, stride, pads, dilation)

    @staticmethod
    def backward(ctx, grad):
        return WindowGather.apply(grad, *ctx.geom)


def _pool_input(input: Tensor, nd: int, op: str):
    """``_batched`` for pooling, which refuses empty non-batch dimensions as PyTorch does."""
    x, unbatched = _batched(input, nd, op)
    if 0 in x.shape[1:]:
        raise RuntimeError(f"{op}: Expected {nd + 1}D or {nd + 2}D (batch mode) tensor with "
                           f"optional 0 dim batch size for input (the input's non-batch "
                           f"dimensions must have positive length), but got: "
                           f"{list(input.shape)}")
    return x, unbatched


def _max_pool(nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    op = f"max_pool{nd}d"
    quantized = input.__class__ is QuantizedTensor  # the max of the integers, same qparams
    x, unbatched = _pool_input(_make(input._data) if quantized else input, nd, op)
    kernel, stride, pads, dilation, _ = _pool_geometry(
        nd, x.shape[2:], kernel_size, stride, padding, dilation, ceil_mode, op)
    values, arg = K.max_pool(x._data, kernel, stride, pads, dilation)
    if quantized:
        out = _like(input, values)
    else:
        out = WindowGather.apply(x, arg, kernel, stride, pads, dilation, values)
    if unbatched:
        out = out.squeeze(0)
    if not return_indices:
        return out
    idx = _make(K.max_pool_indices(arg, x.shape[2:], kernel, stride, pads, dilation))
    return out, idx.squeeze(0) if unbatched else idx


def max_pool1d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode: bool = False, return_indices: bool = True):
    """max_pool1d returning (values, flat argmax indices) by default."""
    return _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode: bool = False, return_indices: bool = True):
    """max_pool2d returning (values, flat argmax indices) by default."""
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode: bool = False, return_indices: bool = True):
    """max_pool3d returning (values, flat argmax indices) by default."""
    return _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Max over sliding windows of (N, C, L); with ``return_indices`` also the flat argmax."""
    return _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Max over sliding windows of (N, C, H, W).

    Example::

        >>> F.max_pool2d(ember.randn(1, 6, 28, 28), 2).shape
        torch.Size([1, 6, 14, 14])
    """
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Max over sliding windows of (N, C, D, H, W)."""
    return _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


class AvgPool(Primitive, node_name="AvgPool2DBackward0"):
    @staticmethod
    def forward(ctx, x, kernel, stride, pads, divisor):
        nd = len(kernel)
        ctx.geom = (x.shape, kernel, stride, pads, divisor)
        win = K.windows(K.pad(x, pads), kernel, stride, (1,) * nd)
        axes = tuple(range(win.ndim - nd, win.ndim))
        if _dt.is_half(x.dtype):  # the sum and its division in float32 (as the divisor), rounded
            return (win.sum(axis=axes, dtype="float32") / divisor).astype(x.dtype)
        total = win.sum(axis=axes)
        return (total / divisor).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        return AvgPoolSpread.apply(grad, *ctx.geom)


class AvgPoolSpread(Primitive, node_name="AvgPool2DBackwardBackward0"):
    @staticmethod
    def forward(ctx, g, x_shape, kernel, stride, pads, divisor):
        xp = get_array_module(g)
        ctx.geom = (kernel, stride, pads, divisor)
        dtype = g.dtype
        if _dt.is_half(g.dtype):  # the shares summed in float32, rounded once
            g = g.astype(xp.float32)
        share = (g / divisor).astype(g.dtype, copy=False)
        cols = xp.broadcast_to(share.reshape(share.shape + (1,) * len(kernel)),
                               share.shape + tuple(kernel))
        padded = x_shape[:2] + tuple(n + lo + hi for n, (lo, hi) in zip(x_shape[2:], pads))
        gx = K.col2im(cols, padded, stride, (1,) * len(kernel))
        gx = gx[(Ellipsis,) + tuple(slice(lo, lo + n) for n, (lo, _) in zip(x_shape[2:], pads))]
        return gx.astype(dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        return AvgPool.apply(grad, *ctx.geom)


def _avg_pool(nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override=None):
    op = f"avg_pool{nd}d"
    quantized = input.__class__ is QuantizedTensor
    x, unbatched = _pool_input(_make(input._data) if quantized else input, nd, op)
    kernel, stride, pads, _, outs = _pool_geometry(nd, x.shape[2:], kernel_size, stride,
                                                   padding, 1, ceil_mode, op)
    xp = get_array_module(x._data)
    if divisor_override is not None:
        if divisor_override == 0:
            raise RuntimeError("divisor must be not zero")
        divisor = divisor_override
    else:
        half = _dt.is_half(x._data.dtype)
        dtype = xp.float32 if quantized or half else x._data.dtype  # exact counts
        divisor = K.pool_divisor(xp, x.shape[2:], kernel, stride, pads, outs, count_include_pad,
                                 dtype)
    if quantized:  # integer window sums (padding counts as the zero point), requantized
        q = input.unsqueeze(0) if unbatched else input
        win = K.windows(K.pad(centered_ints(q), pads), kernel, stride, (1,) * nd)
        out = requantized_mean(q, win.sum(axis=tuple(range(win.ndim - nd, win.ndim))), divisor)
    else:
        out = AvgPool.apply(x, kernel, stride, pads, divisor)
    return out.squeeze(0) if unbatched else out


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Mean over sliding windows of (N, C, L)."""
    return _avg_pool(1, input, kernel_size, stride, padding, ceil_mode, count_include_pad)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over sliding windows of (N, C, H, W)."""
    return _avg_pool(2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def avg_pool3d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over sliding windows of (N, C, D, H, W)."""
    return _avg_pool(3, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def _lp_pool(nd, input, norm_type, kernel_size, stride, ceil_mode):
    kernel = _tuple(kernel_size, nd)
    out = _avg_pool(nd, input.pow(norm_type), kernel, stride, 0, ceil_mode, True)
    # sign * relu(|.|) keeps the gradient finite where the window sums to zero
    return (out.sign() * out.abs().relu()).mul(math.prod(kernel)).pow(1.0 / norm_type)


def lp_pool1d(input: Tensor, norm_type: float, kernel_size, stride=None,
              ceil_mode: bool = False) -> Tensor:
    """Power-average pooling: (sum x^p)^(1/p) over windows of (N, C, L)."""
    return _lp_pool(1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input: Tensor, norm_type: float, kernel_size, stride=None,
              ceil_mode: bool = False) -> Tensor:
    """Power-average pooling over windows of (N, C, H, W)."""
    return _lp_pool(2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input: Tensor, norm_type: float, kernel_size, stride=None,
              ceil_mode: bool = False) -> Tensor:
    """Power-average pooling over windows of (N, C, D, H, W)."""
    return _lp_pool(3, input, norm_type, kernel_size, stride, ceil_mode)


def _max_unpool(nd, input, indices, kernel_size, stride, padding, output_size):
    x, unbatched = _batched(input, nd, f"max_unpool{nd}d")
    if indices.shape != input.shape:
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor "
                           f"({list(input.shape)}) but got indices tensor with shape: "
                           f"{list(indices.shape)}")
    if indices.dtype != _dt.int64:
        raise RuntimeError(f"elements in indices should be type int64 but got: {indices.dtype}")
    if unbatched:
        indices = indices.unsqueeze(0)
    kernel = _tuple(kernel_size, nd)
    stride = kernel if stride is None else _tuple(stride, nd)
    padding = _tuple(padding, nd)
    outs = tuple((n - 1) * s - 2 * p + k
                 for n, s, p, k in zip(x.shape[2:], stride, padding, kernel))
    if output_size is not None:
        given = output_size[-nd:]
        for i, (o, g, st) in enumerate(zip(outs, given, stride)):
            if not o - st <= g <= o + st:
                raise ValueError(f'invalid output_size "{given}" (dim {i} must be between '
                                 f"{o - st} and {o + st})")
        outs = tuple(given)
    n, c = x.shape[:2]
    base = x.new_zeros((n, c, math.prod(outs)))
    out = scatter(base, 2, indices.flatten(2), x.flatten(2)).reshape((n, c) + tuple(outs))
    return out.squeeze(0) if unbatched else out


def max_unpool1d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """The partial inverse of max_pool1d: values put back at ``indices``, zeros elsewhere."""
    return _max_unpool(1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """The partial inverse of max_pool2d."""
    return _max_unpool(2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """The partial inverse of max_pool3d."""
    return _max_unpool(3, input, indices, kernel_size, stride, padding, output_size)
