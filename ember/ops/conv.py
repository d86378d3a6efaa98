"""Spatial ops: convolution, transposed convolution, pooling, padding, interpolation, pixel
shuffle and fold/unfold, with the functional forms ``ember.nn.functional`` exposes.

NOTE [ Convolution adjoints ]
Convolution is linear in its input and in its weight, so three primitives close under
differentiation: ``Convolution`` (y = x * w), ``ConvInputGrad`` (its adjoint in x, which is also
the transposed convolution) and ``ConvWeightGrad`` (its adjoint in w). Each one's backward calls
the other two, so gradients of any order come from the same im2col + matmul kernels in
``ember.backend.kernels``. Pooling pairs the same way (gather with its scatter, average with its
spread).
"""
from __future__ import annotations

import math

import numpy as np

from ember import dtypes as _dt
from ember._creation import rand
from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive
from ember.backend import kernels as K
from ember.backend.device import as_dtype, get_array_module, zeros_as
from ember.ops.elementwise import with_saved_edge
from ember.ops.indexing import index_select, scatter
from ember.ops.linalg import matmul

__all__ = [
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices",
    "max_pool2d_with_indices", "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d",
    "avg_pool3d", "lp_pool1d", "lp_pool2d", "lp_pool3d", "adaptive_avg_pool1d",
    "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d",
    "adaptive_max_pool3d", "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
    "adaptive_max_pool3d_with_indices", "fractional_max_pool2d", "fractional_max_pool3d",
    "fractional_max_pool2d_with_indices", "fractional_max_pool3d_with_indices", "max_unpool1d",
    "max_unpool2d", "max_unpool3d", "pad", "interpolate", "upsample", "upsample_nearest",
    "upsample_bilinear", "pixel_shuffle", "pixel_unshuffle", "unfold", "fold",
]


def _tuple(value, n: int, name: str = "argument") -> tuple:
    if isinstance(value, (tuple, list)):
        if len(value) == 1:
            return tuple(value) * n
        if len(value) != n:
            raise RuntimeError(f"expected {name} to be a single integer value or a list of {n} "
                               f"values to match the convolution dimensions, but got "
                               f"{name}={list(value)}")
        return tuple(int(v) for v in value)
    return (int(value),) * n


def _batched(input: Tensor, nd: int, op: str):
    """(input with a batch dim, whether one was added) for ops taking (N, C, *sp) or (C, *sp)."""
    if input.ndim == nd + 2:
        return input, False
    if input.ndim == nd + 1:
        return input.unsqueeze(0), True
    raise RuntimeError(f"{op}: Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input, "
                       f"but got input of size: {list(input.shape)}")


# ----------------------------------------------------------------------------------------------
# Convolution (see NOTE [ Convolution adjoints ])

def _float32(*arrays) -> tuple:
    """Half-precision arrays (and None) in float32: PyTorch's CPU kernels compute float16 and
    bfloat16 convolution and pooling in float32 and round the result once."""
    return tuple(a.astype("float32") if a is not None and _dt.is_half(a.dtype) else a
                 for a in arrays)


def _widened_on_host(a) -> bool:
    """Whether a convolution of ``a`` computes in float32 here: a half-precision host array
    (on the GPU, cuBLAS already accumulates half products in float32)."""
    return isinstance(a, np.ndarray) and _dt.is_half(a.dtype)


class Convolution(Primitive, node_name="ConvolutionBackward0"):
    @staticmethod
    def forward(ctx, x, w, b, stride, pads, dilation, groups):
        ctx.save_for_backward(x, w)
        ctx.args = (stride, pads, dilation, groups)
        dtype = x.dtype
        if _widened_on_host(x):
            x, w, b = _float32(x, w, b)
        # the bias rides on the GEMM output's one copy into (N, O, *out); a channels-last
        # input gives a channels-last output, as in PyTorch
        y, cols = K.conv_forward(x, w, stride, pads, dilation, groups, bias=b,
                                 channels_last=K.is_channels_last(x))
        ctx.cols = cols  # reused by the weight gradient: im2col runs once per step
        return as_dtype(y, dtype)

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        cols, ctx.cols = ctx.cols, None
        if x.is_complex():  # complex adjoints pair the gradient with the conjugated factors
            x, w, cols = x.conj(), w.conj(), None
        needs = ctx.needs_input_grad
        # the bias first, while the gradient just written is still in cache (the products
        # then stream the columns through it, 3x slower for this sum when measured)
        gb = _bias_grad(grad) if needs[2] else None
        # both products read the gradient in one layout: make it once
        gmat = K.grad_matrix(grad._data, w.shape, ctx.args[3]) if needs[0] and needs[1] else None
        gx = gw = None
        if needs[0]:
            gx = ConvInputGrad.apply(grad, w, tuple(x.shape), *ctx.args, gmat)
        if needs[1]:
            gw = ConvWeightGrad.apply(x, grad, tuple(w.shape), *ctx.args, cols, gmat)
        return gx, gw, gb


def _bias_grad(grad: Tensor) -> Tensor:
    """``grad`` summed over all but its channel dim. In float32 and float64, one
    matrix-vector product with ones per sample: BLAS sums three times faster than NumPy's
    reduction over several axes."""
    if grad._data.dtype not in (np.float32, np.float64):
        return grad.sum((0,) + tuple(range(2, grad.ndim)))
    flat = grad.flatten(2)
    return matmul(flat, flat.new_ones(flat.shape[2])).sum(0)


def _conj(a: Tensor, b: Tensor) -> tuple:
    """Both factors conjugated when complex: a complex adjoint pairs with the conjugates."""
    return (a.conj(), b.conj()) if a.is_complex() else (a, b)


def _fit_windows(x: Tensor, kernel, outs, args) -> tuple:
    """(x, args) cut so a convolution of x gives exactly ``outs`` positions: a transposed
    convolution's output_padding of a stride or more adds trailing rows no window reaches."""
    stride, pads, dilation, groups = args
    for dim, (n, k, s, (lo, hi), d, o) in enumerate(zip(x.shape[2:], kernel, stride, pads,
                                                          dilation, outs)):
        excess = n + lo + hi - (o - 1) * s - d * (k - 1) - 1
        if excess >= s:  # rare: trim the high pad, then the rows
            x = x.narrow(2 + dim, 0, n - max(excess - hi, 0))
            pads = pads[:dim] + ((lo, max(hi - excess, 0)),) + pads[dim + 1:]
    return x, (stride, pads, dilation, groups)


class ConvInputGrad(Primitive, node_name="ConvolutionBackward0"):
    @staticmethod
    def forward(ctx, gy, w, x_shape, stride, pads, dilation, groups, gmat=None):
        ctx.save_for_backward(gy, w)
        ctx.args = (stride, pads, dilation, groups)
        dtype = gy.dtype
        if _widened_on_host(gy):
            gy, w, gmat = _float32(gy, w, gmat)
        return as_dtype(K.conv_input_grad(gy, w, x_shape, stride, pads, dilation, groups, gmat),
                        dtype)

    @staticmethod
    def backward(ctx, grad):
        gy, w = _conj(*ctx.saved_tensors)
        grad, args = _fit_windows(grad, w.shape[2:], gy.shape[2:], ctx.args)
        g_gy = g_w = None
        if ctx.needs_input_grad[0]:
            g_gy = Convolution.apply(grad, w, None, *args)
        if ctx.needs_input_grad[1]:
            g_w = ConvWeightGrad.apply(grad, gy, tuple(w.shape), *args, None)
        return g_gy, g_w


class ConvWeightGrad(Primitive, node_name="ConvolutionBackwardBackward0"):
    @staticmethod
    def forward(ctx, x, gy, w_shape, stride, pads, dilation, groups, cols, gmat=None):
        ctx.save_for_backward(x, gy)
        ctx.args = (stride, pads, dilation, groups)
        dtype = x.dtype
        if _widened_on_host(x):
            x, gy, cols, gmat = _float32(x, gy, cols, gmat)
        return as_dtype(K.conv_weight_grad(x, gy, w_shape, stride, pads, dilation, groups, cols,
                                           gmat), dtype)

    @staticmethod
    def backward(ctx, grad):
        x, gy = _conj(*ctx.saved_tensors)
        g_x = g_gy = None
        if ctx.needs_input_grad[0]:
            g_x = ConvInputGrad.apply(gy, grad, tuple(x.shape), *ctx.args)
        if ctx.needs_input_grad[1]:
            g_gy = Convolution.apply(x, grad, None, *ctx.args)
        return g_x, g_gy


def _check_conv(op: str, input: Tensor, weight: Tensor, bias, groups: int, in_channels: int):
    if input.dtype != weight.dtype or (bias is not None and bias.dtype != input.dtype):
        other = weight if input.dtype != weight.dtype else bias
        raise RuntimeError(f"{op}: Input type ({input.dtype}) and weight/bias type "
                           f"({other.dtype}) should be the same")
    if in_channels != input.shape[1]:
        raise RuntimeError(f"Given groups={groups}, weight of size {list(weight.shape)}, "
                           f"expected input{list(input.shape)} to have {in_channels} channels, "
                           f"but got {input.shape[1]} channels instead")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise RuntimeError(f"Given weight of size {list(weight.shape)}, expected bias to be "
                           f"1-dimensional with {weight.shape[0]} elements, but got bias of size "
                           f"{list(bias.shape)} instead")


def _check_conv_args(padding: tuple, stride: tuple, dilation: tuple) -> None:
    if min(padding) < 0:
        raise RuntimeError("negative padding is not supported")
    if min(stride) <= 0:
        raise RuntimeError("non-positive stride is not supported")
    if min(dilation) <= 0:
        raise RuntimeError(f"dilation should be greater than zero, but got {list(dilation)}")


def _add_bias(out: Tensor, bias, nd: int) -> Tensor:
    if bias is None:
        return out
    return out + bias.reshape((-1,) + (1,) * nd)


def _conv(nd: int, input, weight, bias, stride, padding, dilation, groups) -> Tensor:
    op = f"conv{nd}d"
    if weight.ndim != nd + 2:
        raise RuntimeError(f"{op}: Expected {nd + 2}-dimensional weight, got weight of size "
                           f"{list(weight.shape)}")
    x, unbatched = _batched(input, nd, op)
    kernel = tuple(weight.shape[2:])
    stride = _tuple(stride, nd, "stride")
    dilation = _tuple(dilation, nd, "dilation")
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * nd
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            total = [d * (k - 1) for d, k in zip(dilation, kernel)]
            pads = tuple((t // 2, t - t // 2) for t in total)
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
        _check_conv_args((0,), stride, dilation)
    else:
        padding = _tuple(padding, nd, "padding")
        _check_conv_args(padding, stride, dilation)
        pads = tuple((p, p) for p in padding)
    _check_conv(op, x, weight, bias, groups, weight.shape[1] * groups)
    if weight.shape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} "
                           f"at dimension 0, but got weight of size {list(weight.shape)} instead")
    for n, k, d, (lo, hi) in zip(x.shape[2:], kernel, dilation, pads):
        if n + lo + hi < d * (k - 1) + 1:
            padded = " x ".join(str(s + a + b) for s, (a, b) in zip(x.shape[2:], pads))
            raise RuntimeError(f"Calculated padded input size per channel: ({padded}"
                               f"). Kernel size: ({' x '.join(map(str, kernel))}). Kernel size "
                               f"can't be greater than actual input size")
    out = Convolution.apply(x, weight, bias, stride, pads, dilation, groups)
    return out.squeeze(0) if unbatched else out


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """1-D cross-correlation. Shape: input (N, C_in, L), weight (C_out, C_in/groups, k)."""
    return _conv(1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """2-D cross-correlation. Shape: input (N, C_in, H, W), weight (C_out, C_in/groups, kH, kW).

    Example::

        >>> F.conv2d(ember.randn(1, 1, 32, 32), ember.randn(6, 1, 5, 5)).shape
        torch.Size([1, 6, 28, 28])
    """
    return _conv(2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """3-D cross-correlation. Shape: input (N, C_in, D, H, W), weight (C_out, C_in/groups, *k)."""
    return _conv(3, input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose(nd, input, weight, bias, stride, padding, output_padding, groups, dilation,
                    output_size=None) -> Tensor:
    op = f"conv_transpose{nd}d"
    x, unbatched = _batched(input, nd, op)
    stride = _tuple(stride, nd, "stride")
    padding = _tuple(padding, nd, "padding")
    dilation = _tuple(dilation, nd, "dilation")
    output_padding = _tuple(output_padding, nd, "output_padding")
    _check_conv_args(padding, stride, dilation)
    if x.dtype != weight.dtype:
        raise RuntimeError(f"{op}: Input type ({x.dtype}) and weight type ({weight.dtype}) "
                           f"should be the same")
    if weight.shape[0] != x.shape[1]:
        raise RuntimeError(f"Given transposed=1, weight of size {list(weight.shape)}, expected "
                           f"input{list(x.shape)} to have {weight.shape[0]} channels, but got "
                           f"{x.shape[1]} channels instead")
    for op_, s, d in zip(output_padding, stride, dilation):
        if op_ >= s and op_ >= d:
            raise RuntimeError("output padding must be smaller than either stride or dilation")
    kernel = weight.shape[2:]
    outs = tuple((n - 1) * s - 2 * p + d * (k - 1) + o + 1 for n, s, p, d, k, o
                 in zip(x.shape[2:], stride, padding, dilation, kernel, output_padding))
    x_shape = (x.shape[0], weight.shape[1] * groups) + outs
    pads = tuple((p, p) for p in padding)
    if bias is not None and _widened_on_host(x._data):
        # half: the bias joins the float32 result before its one rounding, as in PyTorch
        out = ConvInputGrad.apply(x.float(), weight.float(), x_shape, stride, pads, dilation,
                                  groups)
        out = _add_bias(out, bias.float(), nd).to(x.dtype)
        return out.squeeze(0) if unbatched else out
    out = ConvInputGrad.apply(x, weight, x_shape, stride, pads, dilation, groups)
    out = _add_bias(out, bias, nd)
    return out.squeeze(0) if unbatched else out


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """1-D transposed convolution. weight (C_in, C_out/groups, k)."""
    return _conv_transpose(1, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """2-D transposed convolution. weight (C_in, C_out/groups, kH, kW)."""
    return _conv_transpose(2, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """3-D transposed convolution. weight (C_in, C_out/groups, kD, kH, kW)."""
    return _conv_transpose(3, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


# ----------------------------------------------------------------------------------------------
# Pooling

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
    x, unbatched = _pool_input(input, nd, op)
    kernel, stride, pads, dilation, _ = _pool_geometry(
        nd, x.shape[2:], kernel_size, stride, padding, dilation, ceil_mode, op)
    values, arg = K.max_pool(x._data, kernel, stride, pads, dilation)
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
    x, unbatched = _pool_input(input, nd, op)
    kernel, stride, pads, _, outs = _pool_geometry(nd, x.shape[2:], kernel_size, stride,
                                                   padding, 1, ceil_mode, op)
    xp = get_array_module(x._data)
    if divisor_override is not None:
        if divisor_override == 0:
            raise RuntimeError("divisor must be not zero")
        divisor = divisor_override
    else:
        dtype = xp.float32 if _dt.is_half(x._data.dtype) else x._data.dtype  # exact counts
        divisor = K.pool_divisor(xp, x.shape[2:], kernel, stride, pads, outs, count_include_pad,
                                 dtype)
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


def _adaptive_sizes(nd, spatial, output_size) -> tuple:
    sizes = _tuple(output_size, nd, "output_size") if not isinstance(output_size, (tuple, list)) \
        else tuple(output_size)
    if len(sizes) != nd:
        raise RuntimeError(f"adaptive pooling: output_size must have {nd} elements, but got "
                           f"{list(sizes)}")
    return tuple(n if s is None else int(s) for s, n in zip(sizes, spatial))


def _adaptive_matrix(xp, length: int, out: int, dtype):
    starts, ends = K.adaptive_bounds(length, out)
    pos = xp.arange(length)
    st = xp.asarray(starts)[:, None]
    en = xp.asarray(ends)[:, None]
    inside = (pos >= st) & (pos < en)
    return (inside / (en - st)).astype(dtype)


def _check_not_empty(input: Tensor, op: str) -> None:
    """PyTorch refuses empty non-batch dims (an empty batch is fine); its adaptive_avg_pool2d,
    which its 1d runs on an unsqueezed input, looks at the spatial dims only."""
    shape = tuple(input.shape)
    if 0 not in shape[1:]:
        return
    first = 1
    if op == "adaptive_avg_pool1d":
        shape, op = shape[:-1] + (1,) + shape[-1:], "adaptive_avg_pool2d"
    if op == "adaptive_avg_pool2d":
        first = len(shape) - 2
    for i in range(first, len(shape)):
        if shape[i] == 0:
            raise RuntimeError(f"{op}(): Expected input to have non-zero size for non-batch "
                               f"dimensions, but input has sizes {list(shape)} with dimension "
                               f"{i} being empty")


def _adaptive_input(input: Tensor, nd: int, op: str, output_size):
    """PyTorch's adaptive pools' checks; (input with a batch dim, whether one was added, the
    output's spatial sizes)."""
    if nd == 1 and input.ndim not in (2, 3):
        raise RuntimeError(f"Expected 2 to 3 dimensions, but got {input.ndim}-dimensional tensor "
                           f"for argument #1 'self' (while checking arguments for {op})")
    if nd > 1 and input.ndim < nd + 1 and isinstance(output_size, (tuple, list)):
        # PyTorch's Python layer reads a tuple size against the input's dims first
        raise ValueError(f"Input dimension should be at least {nd + 1}")
    x, unbatched = _batched(input, nd, op)
    _check_not_empty(input, op)
    sizes = _adaptive_sizes(nd, x.shape[2:], output_size)
    if min(sizes, default=0) < 0:
        # PyTorch's 1d pools run its 2d ones on (N, C, 1, L); its messages show that
        shown = (1,) + sizes if nd == 1 else sizes
        if "max" in op:
            raise RuntimeError(f"Trying to create tensor with negative dimension {min(sizes)}: "
                               f"{list(x.shape[:2] + shown)}")
        received = ", ".join(map(str, shown[:2])) + "".join(f",{n}" for n in shown[2:])
        raise RuntimeError(f"adaptive_avg_pool{max(nd, 2)}d: elements of output_size must be "
                           f"greater than or equal to 0 but received {{{received}}}")
    return x, unbatched, sizes


def _empty_output(x: Tensor, sizes: tuple, unbatched: bool) -> Tensor:
    """An output size of 0: an empty result, still in ``x``'s graph."""
    out = x.flatten(2)[:, :, :0].reshape(tuple(x.shape[:2]) + tuple(sizes))
    return out.squeeze(0) if unbatched else out


def _adaptive_avg(nd, input, output_size):
    x, unbatched, sizes = _adaptive_input(input, nd, f"adaptive_avg_pool{nd}d", output_size)
    if 0 in sizes or x.shape[1] == 0:  # (avg_pool refuses no channels, adaptive pooling not)
        return _empty_output(x, sizes, unbatched)
    if all(n % o == 0 for n, o in zip(x.shape[2:], sizes)):
        kernel = tuple(n // o for n, o in zip(x.shape[2:], sizes))
        out = _avg_pool(nd, x, kernel, kernel, 0, False, True)
    else:
        xp = get_array_module(x._data)
        half = _dt.is_half(x._data.dtype)
        out = x.float() if half else x  # half: the window means in float32, rounded once
        for i, (n, o) in enumerate(zip(x.shape[2:], sizes)):
            mat = _make(_adaptive_matrix(xp, n, o, out._data.dtype).T.copy())
            out = matmul(out.movedim(2 + i, -1), mat).movedim(-1, 2 + i)
        if half:
            out = out.to(x.dtype)
    return out.squeeze(0) if unbatched else out


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Mean over windows chosen so that the output has ``output_size`` positions."""
    return _adaptive_avg(1, input, output_size)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Mean over windows chosen so that the output is ``output_size`` (None keeps a size)."""
    return _adaptive_avg(2, input, output_size)


def adaptive_avg_pool3d(input: Tensor, output_size) -> Tensor:
    """Mean over windows chosen so that the output is ``output_size`` (D, H, W)."""
    return _adaptive_avg(3, input, output_size)


def _flat_windows(spatial, idx):
    """Flat input positions (*lead, *out, window) of the windows whose positions along dim i are
    ``idx[i]`` (*lead, out_i, width_i); lead is () when every plane shares the windows."""
    nd = len(spatial)
    flat = 0
    for i, (n, ix) in enumerate(zip(spatial, idx)):
        shape = [1] * (2 * nd)
        shape[i], shape[nd + i] = ix.shape[-2:]
        flat = flat * n + ix.reshape(ix.shape[:-2] + tuple(shape))
    return flat.reshape(flat.shape[:flat.ndim - nd] + (math.prod(ix.shape[-1] for ix in idx),))


class _MaxPick(Primitive):
    """The elements of x (N, C, *sp) at flat spatial indices ``ind`` (N, C, *out): adaptive and
    fractional max pooling's selection; the gradient goes to the chosen elements only."""

    @staticmethod
    def forward(ctx, x, ind):
        ctx.save_for_backward(x)  # for create_graph's edge only (see with_saved_edge)
        ctx.ind = ind
        n, c = x.shape[:2]  # sizes spelled out, never -1: the batch may be empty
        rows = x.reshape(n, c, math.prod(x.shape[2:]))
        flat = ind.reshape(n, c, math.prod(ind.shape[2:]))
        return get_array_module(x).take_along_axis(rows, flat, 2).reshape(ind.shape)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx._saved_arrays
        n, c = x.shape[:2]
        spread = _make(zeros_as(get_array_module(x), x, (n, c, math.prod(x.shape[2:])),
                                grad._data.dtype))
        outs = math.prod(ctx.ind.shape[2:])
        picked = spread.scatter_add(2, _make(ctx.ind.reshape(n, c, outs)),
                                    grad.reshape(n, c, outs))
        return with_saved_edge(picked.reshape(x.shape), ctx)


class AdaptiveMaxPick(_MaxPick, node_name="AdaptiveMaxPool2DBackward0"):
    pass


class FractionalMaxPick(_MaxPick, node_name="FractionalMaxPool2DBackward0"):
    pass


def _max_at(pick, x, flat, unbatched, return_indices):
    """Max of (N, C, *sp) over the windows ``flat`` gives (values, flat argmax indices): shared
    windows (*out, W) for adaptive pooling, per-plane windows (N, C, *out, W) for fractional."""
    xp = get_array_module(x._data)
    n, c = x.shape[:2]
    rows = x._data.reshape(n, c, math.prod(x.shape[2:]))
    if flat.ndim == x.ndim - 1:
        data = rows[:, :, flat]  # (N, C, *out, W)
    else:
        flat = xp.broadcast_to(flat, (n, c) + flat.shape[2:])
        data = xp.take_along_axis(rows, flat.reshape(n, c, math.prod(flat.shape[2:])),
                                  2).reshape(flat.shape)
    arg = data.argmax(-1)
    if _dt.np_kind(data.dtype) == "f":
        nan = xp.isnan(data)  # a NaN wins, the last one, as PyTorch's kernels take every NaN
        last = nan.shape[-1] - 1 - nan[..., ::-1].argmax(-1)
        arg = xp.where(nan.any(-1), last, arg)
    where = xp.take_along_axis(xp.broadcast_to(flat, data.shape), arg[..., None], -1)[..., 0]
    ind = _make(where.astype(xp.int64))
    out = pick.apply(x, where.astype(xp.int64))  # its own copy: ``ind`` is the caller's
    if unbatched:
        out, ind = out.squeeze(0), ind.squeeze(0)
    return (out, ind) if return_indices else out


def _adaptive_max(nd, input, output_size, return_indices):
    x, unbatched, sizes = _adaptive_input(input, nd, f"adaptive_max_pool{nd}d", output_size)
    if 0 in sizes:
        out = _empty_output(x, sizes, unbatched)
        return (out, _make(x._xp.zeros(out.shape, x._xp.int64))) if return_indices else out
    xp = get_array_module(x._data)
    # every window padded to the longest by repeating its last index (harmless for a max)
    idx = []
    for n, o in zip(x.shape[2:], sizes):
        starts, ends = K.adaptive_bounds(n, o)
        width = max(e - s for s, e in zip(starts, ends))
        st = xp.asarray(starts)[:, None]
        idx.append(xp.minimum(st + xp.arange(width), xp.asarray(ends)[:, None] - 1))
    return _max_at(AdaptiveMaxPick, x, _flat_windows(x.shape[2:], idx), unbatched,
                   return_indices)


def adaptive_max_pool1d_with_indices(input: Tensor, output_size,
                                       return_indices: bool = True):
    """adaptive_max_pool1d returning (values, flat argmax indices) by default."""
    return _adaptive_max(1, input, output_size, return_indices)


def adaptive_max_pool2d_with_indices(input: Tensor, output_size,
                                       return_indices: bool = True):
    """adaptive_max_pool2d returning (values, flat argmax indices) by default."""
    return _adaptive_max(2, input, output_size, return_indices)


def adaptive_max_pool3d_with_indices(input: Tensor, output_size,
                                       return_indices: bool = True):
    """adaptive_max_pool3d returning (values, flat argmax indices) by default."""
    return _adaptive_max(3, input, output_size, return_indices)


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    """Max over windows chosen so that the output has ``output_size`` positions."""
    return _adaptive_max(1, input, output_size, return_indices)


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Max over windows chosen so that the output is ``output_size``."""
    return _adaptive_max(2, input, output_size, return_indices)


def adaptive_max_pool3d(input: Tensor, output_size, return_indices: bool = False):
    """Max over windows chosen so that the output is ``output_size`` (D, H, W)."""
    return _adaptive_max(3, input, output_size, return_indices)


_DIM_NAMES = {2: ("height", "width"), 3: ("time", "height", "width")}


def _fractional_max(nd, input, kernel_size, output_size, output_ratio, return_indices,
                    _random_samples):
    op = f"fractional_max_pool{nd}d"
    if output_size is None and output_ratio is None:
        raise ValueError(f"{op} requires specifying either an output_size or an output_ratio")
    x, unbatched = _batched(input, nd, op)
    spatial = x.shape[2:]
    kernel = _tuple(kernel_size, nd, "kernel_size")
    if output_size is None:
        ratio = output_ratio if isinstance(output_ratio, (tuple, list)) else (output_ratio,) * nd
        output_size = [int(n * r) for n, r in zip(spatial, ratio)]
    outs = _tuple(output_size, nd, "output_size")
    # PyTorch's 3-D kernel also refuses a last window that ends exactly at the input's end
    room = 0 if nd == 2 else 1
    for name, n, k, o in zip(_DIM_NAMES[nd], spatial, kernel, outs):
        if o + k - 1 > n - room:
            raise RuntimeError(f"{op}{'_out' * (nd - 2)}(): pool {name} {k} too large relative "
                               f"to input {name} {n}")
    n, c = x.shape[:2]
    if _random_samples is None:
        _random_samples = rand(n, c, nd, dtype=x.dtype, device=x.device)
    u = _random_samples._data
    if u.ndim != 3 or u.shape[0] < n or u.shape[1] != c or u.shape[2] != nd:
        raise RuntimeError(f"{op}(): expected _random_samples of size ({n}, {c}, {nd}), but got "
                           f"{list(u.shape)}")
    xp = get_array_module(x._data)
    # samples are ordered (W, H) in 2-D and (T, H, W) in 3-D, as in PyTorch
    order = (1, 0) if nd == 2 else (0, 1, 2)
    idx = [K.fractional_starts(xp, u[:n, :, j], length, o, k)[..., None] + xp.arange(k)
           for j, length, o, k in zip(order, spatial, outs, kernel)]
    return _max_at(FractionalMaxPick, x, _flat_windows(spatial, idx), unbatched,
                   return_indices)


def fractional_max_pool2d_with_indices(input: Tensor, kernel_size, output_size=None,
                                       output_ratio=None, return_indices: bool = True,
                                       _random_samples: Tensor | None = None):
    """fractional_max_pool2d returning (values, flat argmax indices) by default."""
    return _fractional_max(2, input, kernel_size, output_size, output_ratio, return_indices,
                           _random_samples)


def fractional_max_pool3d_with_indices(input: Tensor, kernel_size, output_size=None,
                                       output_ratio=None, return_indices: bool = True,
                                       _random_samples: Tensor | None = None):
    """fractional_max_pool3d returning (values, flat argmax indices) by default."""
    return _fractional_max(3, input, kernel_size, output_size, output_ratio, return_indices,
                           _random_samples)


def fractional_max_pool2d(input: Tensor, kernel_size, output_size=None, output_ratio=None,
                          return_indices: bool = False, _random_samples: Tensor | None = None):
    """Max over pseudo-randomly placed ``kernel_size`` windows of (N, C, H, W) (Graham,
    "Fractional Max-Pooling"): the output is ``output_size``, or the input's size times
    ``output_ratio``; ``_random_samples`` (N, C, 2) in [0, 1) fixes the placement.

    Example::

        >>> F.fractional_max_pool2d(ember.randn(1, 3, 10, 10), 3, output_ratio=0.5).shape
        torch.Size([1, 3, 5, 5])
    """
    return _fractional_max(2, input, kernel_size, output_size, output_ratio, return_indices,
                           _random_samples)


def fractional_max_pool3d(input: Tensor, kernel_size, output_size=None, output_ratio=None,
                          return_indices: bool = False, _random_samples: Tensor | None = None):
    """Fractional max pooling over (N, C, T, H, W); ``_random_samples`` is (N, C, 3)."""
    return _fractional_max(3, input, kernel_size, output_size, output_ratio, return_indices,
                           _random_samples)


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


# ----------------------------------------------------------------------------------------------
# Padding

class ConstantPad(Primitive, node_name="ConstantPadNdBackward0"):
    @staticmethod
    def forward(ctx, x, pads, value):
        ctx.pads = pads
        return K.pad(x, pads, "constant", value)

    @staticmethod
    def backward(ctx, grad):
        return ConstantPad.apply(grad, tuple((-lo, -hi) for lo, hi in ctx.pads), 0)


def _pad_index(xp, length: int, lo: int, hi: int, mode: str):
    i = xp.arange(-lo, length + hi)
    if mode == "reflect":
        i = xp.abs(i)
        return (length - 1) - xp.abs((length - 1) - i)
    if mode == "replicate":
        return xp.clip(i, 0, length - 1)
    # circular: a negative pad crops that side first, then the rest wraps what is left
    start, kept = max(-lo, 0), length - max(-lo, 0) - max(-hi, 0)
    return xp.arange(-max(lo, 0), kept + max(hi, 0)) % kept + start


def pad(input: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pads the last ``len(pad) // 2`` dimensions; ``pad`` lists (left, right) for the last
    dimension first, as in PyTorch. Modes: constant, reflect, replicate, circular."""
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    nd = len(pad) // 2
    if nd > input.ndim:
        raise RuntimeError("Padding length should be less than or equal to two times the input "
                           "dimension but got padding length "
                           f"{len(pad)} and input of dimension {input.ndim}")
    pads = tuple((int(pad[2 * i]), int(pad[2 * i + 1])) for i in reversed(range(nd)))
    if mode == "constant":
        if min(pad, default=0) < 0 and any(n + lo + hi < 0 for n, (lo, hi)
                                           in zip(input.shape[input.ndim - nd:], pads)):
            raise RuntimeError("narrow(): length must be non-negative.")
        return ConstantPad.apply(input, pads, 0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if input.ndim == nd:  # no batch or channel dim (PyTorch also refuses more leading dims)
        raise NotImplementedError(f"Padding size {len(pad)} is not supported for {input.ndim}D "
                                  "input tensor.")
    if mode != "circular" and 0 in input.shape[input.ndim - nd - 1:]:
        raise RuntimeError(f"Expected {nd + 1}D or {nd + 2}D (batch mode) tensor with possibly 0 "
                           f"batch size and other non-zero dimensions for input, but got: "
                           f"{list(input.shape)}")
    if value:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    xp = get_array_module(input._data)
    out = input
    for i, (lo, hi) in enumerate(pads):
        dim = input.ndim - nd + i
        length = input.shape[dim]
        if length + lo + hi < 0:
            raise RuntimeError(f"Negative padding value is resulting in a negative size "
                               f"{length + lo + hi} at dimension {dim}")
        if mode == "reflect" and (lo >= length or hi >= length):
            raise RuntimeError(f"Argument #{2 + 2 * nd}: Padding size should be less than the "
                               f"corresponding input dimension, but got: padding ({lo}, {hi}) "
                               f"at dimension {dim} of input {list(input.shape)}")
        if mode == "circular" and (lo > length or hi > length):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        index = _make(_pad_index(xp, length, lo, hi, mode))
        out = index_select(out, dim, index)
    return out


# ----------------------------------------------------------------------------------------------
# Interpolation: nearest by index_select, (bi/tri)linear and bicubic by one matrix per dimension

def _source(xp, out: int, length: int, scale, align_corners: bool, dtype):
    dst = xp.arange(out, dtype=dtype)
    if align_corners:
        return dst * ((length - 1) / (out - 1) if out > 1 else 0.0)
    ratio = 1.0 / scale if scale else length / out
    return (dst + 0.5) * ratio - 0.5


def _linear_matrix(xp, length, out, scale, align_corners, dtype, rounded=None):
    """The (out, length) linear-interpolation weights; ``rounded``, a half dtype, rounds them
    as PyTorch's half kernels do (lambda to it, then 1 - lambda)."""
    src = xp.maximum(_source(xp, out, length, scale, align_corners, dtype), 0)
    i0 = xp.minimum(xp.floor(src).astype(xp.int64), length - 1)
    i1 = xp.minimum(i0 + 1, length - 1)
    lam = src - i0
    lam0 = 1 - lam
    if rounded is not None:
        lam = lam.astype(rounded).astype(dtype)
        lam0 = (1 - lam).astype(rounded).astype(dtype)
    rows = xp.arange(out)
    mat = xp.zeros((out, length), dtype)
    mat[rows, i0] += lam0
    mat[rows, i1] += lam
    return mat


def _cubic_matrix(xp, length, out, scale, align_corners, dtype, rounded=None):
    """The (out, length) bicubic weights; ``rounded``, a half dtype, rounds each of them to it
    (before the clamped border taps add up), as PyTorch's half kernel does."""
    a = -0.75  # PyTorch's bicubic coefficient
    src = _source(xp, out, length, scale, align_corners, dtype)
    i0 = xp.floor(src).astype(xp.int64)
    t = src - i0

    def near(x):
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    weights = (far(t + 1), near(t), near(1 - t), far(2 - t))
    rows = xp.arange(out)
    mat = xp.zeros((out, length), dtype)
    for k, w in zip(range(-1, 3), weights):
        if rounded is not None:
            w = w.astype(rounded).astype(dtype)
        mat[rows, xp.clip(i0 + k, 0, length - 1)] += w
    return mat


# Antialiased resampling (PIL's filters): each output sample averages the inputs under the
# filter stretched by the downscaling ratio; the filters' half-widths.
_ANTIALIAS_SUPPORT = {"bilinear": 1.0, "bicubic": 2.0, "lanczos": 3.0}


def _antialias_filter(mode: str, x):
    ax = np.abs(x)
    if mode == "bilinear":
        return np.maximum(0.0, 1.0 - ax)
    if mode == "bicubic":
        a = -0.5  # PIL's coefficient, which PyTorch's antialiased bicubic uses
        return np.where(ax < 1, ((a + 2) * ax - (a + 3)) * ax * ax + 1,
                        np.where(ax < 2, ((a * ax - 5 * a) * ax + 8 * a) * ax - 4 * a, 0.0))
    return np.where(ax < 3, np.sinc(x) * np.sinc(x / 3), 0.0)  # Lanczos-3


def _antialias_matrix(xp, length, out, scale, align_corners, dtype, mode):
    """The (out, length) weights of antialiased resampling along one axis: output ``i`` centred
    at ``ratio * (i + 0.5)``, the filter widened by ``ratio`` when downscaling, each row's
    weights normalised to sum to one."""
    if align_corners:
        ratio = (length - 1) / (out - 1) if out > 1 else 0.0
    else:
        ratio = 1.0 / scale if scale else length / out
    stretch = max(ratio, 1.0)
    support = _ANTIALIAS_SUPPORT[mode] * stretch
    mat = np.zeros((out, length))
    for i in range(out):
        center = ratio * (i + 0.5)
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), length)
        weights = _antialias_filter(mode, (np.arange(lo, hi) - center + 0.5) / stretch)
        total = weights.sum()
        mat[i, lo:hi] = weights / total if total != 0 else weights
    return xp.asarray(mat.astype(dtype))


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resizes (N, C, *spatial) to ``size`` or by ``scale_factor``. Modes: nearest,
    nearest-exact, linear, bilinear, bicubic, trilinear, area."""
    nd = input.ndim - 2
    if nd < 1:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got "
                                  f"{input.ndim}D) for the modes: nearest | linear | bilinear | "
                                  f"bicubic | trilinear | area | nearest-exact (got {mode})")
    linear_modes = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3, "lanczos": 2}
    if mode in linear_modes and linear_modes[mode] != nd:
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs "
                                  f"{linear_modes[mode] + 2}D input")
    if align_corners is not None and mode not in linear_modes:
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if mode == "lanczos" and not antialias:
        raise ValueError("Lanczos mode requires antialias=True")
    if mode == "lanczos" and align_corners:
        raise ValueError("Lanczos mode does not support align_corners=True")
    if antialias and (mode not in _ANTIALIAS_SUPPORT or input.ndim != 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos "
                         "modes and requires a 4-D tensor as input")
    if size is None and scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    spatial = input.shape[2:]
    given = size if size is not None else scale_factor
    if isinstance(given, (tuple, list)) and len(given) not in (1, nd):
        what, got, form = (("output", f"output size of {size}", "output size in (o1, o2, ...,oK)")
                           if size is not None else
                           ("scale_factor", f"scale_factor of shape {scale_factor}",
                            "scale_factor in (s1, s2, ...,sK)"))
        raise ValueError(f"Input and {what} must have the same number of spatial dimensions, "
                         f"but got input with spatial dimensions of {list(spatial)} and {got}. "
                         f"Please provide input tensor in (N, C, d1, d2, ...,dK) format and "
                         f"{form} format.")
    if size is not None:
        outs = _tuple(size, nd, "size")
        scales = (None,) * nd
    else:
        factors = _tuple_float(scale_factor, nd)
        outs = tuple(int(math.floor(n * f)) for n, f in zip(spatial, factors))
        scales = (None,) * nd if recompute_scale_factor else factors
    if mode == "area":
        return _adaptive_avg(nd, input, outs)
    xp = get_array_module(input._data)
    out = input
    passes = list(zip(range(2, 2 + nd), spatial, outs, scales))
    as_bytes = mode in linear_modes and input.dtype is _dt.uint8
    if as_bytes:  # as PyTorch's uint8 kernels: the last dim first, rounded to bytes each pass
        out = input.float()
        passes.reverse()
    half = mode in linear_modes and _dt.is_half(input._data.dtype)
    if half:  # sums in float32, rounded once
        out = input.float()
    dtype = out._data.dtype
    for dim, n, o, s in passes:
        if mode in ("nearest", "nearest-exact"):
            ratio = 1.0 / s if s else n / o
            shift = 0.5 if mode == "nearest-exact" else 0.0
            src = xp.floor((xp.arange(o) + shift) * ratio).astype(xp.int64)
            out = index_select(out, dim, _make(xp.minimum(src, n - 1)))
        elif mode in linear_modes:
            if antialias:
                mat = _antialias_matrix(xp, n, o, s, bool(align_corners), dtype, mode)
            elif mode == "bicubic":
                mat = _cubic_matrix(xp, n, o, s, bool(align_corners), dtype,
                                    input._data.dtype if half else None)
            else:  # (PyTorch's half bilinear kernel keeps float32 weights, its others not)
                rounded = input._data.dtype if half and mode != "bilinear" else None
                mat = _linear_matrix(xp, n, o, s, bool(align_corners), dtype, rounded)
            out = matmul(out.movedim(dim, -1), _make(mat.T.copy())).movedim(-1, dim)
            if as_bytes:
                out = (out + 0.5).floor().clamp(0, 255)  # half up, as its fixed point
        else:
            raise NotImplementedError(f"interpolate: unsupported mode '{mode}'")
    if half:
        return out.to(input.dtype)
    return out.to(_dt.uint8) if as_bytes else out


def _tuple_float(value, n: int) -> tuple:
    if isinstance(value, (tuple, list)):
        return tuple(float(v) for v in value)
    return (float(value),) * n


def upsample(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
             align_corners: bool | None = None) -> Tensor:
    """Deprecated alias of :func:`interpolate`."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """Deprecated: ``interpolate(..., mode='nearest')``."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """Deprecated: ``interpolate(..., mode='bilinear', align_corners=True)``."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# ----------------------------------------------------------------------------------------------
# Pixel shuffle and fold / unfold

def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C*r^2, H, W) -> (*, C, H*r, W*r)."""
    r = upscale_factor
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but input.size(-3)={c} "
                           f"is not divisible by {r * r}")
    n = len(lead)
    x = input.reshape(tuple(lead) + (c // (r * r), r, r, h, w))
    order = tuple(range(n)) + (n, n + 3, n + 1, n + 4, n + 2)
    return x.permute(order).reshape(tuple(lead) + (c // (r * r), h * r, w * r))


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H*r, W*r) -> (*, C*r^2, H, W)."""
    r = downscale_factor
    *lead, c, h, w = input.shape
    for name, dim, n in (("height", -2, h), ("width", -1, w)):
        if n % r:
            raise RuntimeError(f"pixel_unshuffle expects {name} to be divisible by "
                               f"downscale_factor, but input.size({dim})={n} is not divisible "
                               f"by {r}")
    n = len(lead)
    x = input.reshape(tuple(lead) + (c, h // r, r, w // r, r))
    order = tuple(range(n)) + (n, n + 2, n + 4, n + 1, n + 3)
    return x.permute(order).reshape(tuple(lead) + (c * r * r, h // r, w // r))


class Im2Col(Primitive, node_name="Im2ColBackward0"):
    @staticmethod
    def forward(ctx, x, kernel, dilation, pads, stride):
        ctx.geom = (x.shape[2:], kernel, dilation, pads, stride)
        win = K.windows(K.pad(x, pads), kernel, stride, dilation)  # (N, C, oh, ow, kh, kw)
        n, c = x.shape[:2]
        return win.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * math.prod(kernel),
                                                        math.prod(win.shape[2:4]))

    @staticmethod
    def backward(ctx, grad):
        return Col2Im.apply(grad, *ctx.geom)


class Col2Im(Primitive, node_name="Col2ImBackward0"):
    @staticmethod
    def forward(ctx, cols, output_size, kernel, dilation, pads, stride):
        ctx.geom = (kernel, dilation, pads, stride)
        n = cols.shape[0]
        c = cols.shape[1] // math.prod(kernel)
        outs = tuple(K.out_size(o, k, s, lo, hi, d) for o, k, s, (lo, hi), d
                     in zip(output_size, kernel, stride, pads, dilation))
        if math.prod(outs) != cols.shape[2]:
            raise RuntimeError(f"Given output_size={tuple(output_size)}, kernel_size="
                               f"{tuple(kernel)}, dilation={tuple(dilation)}, padding="
                               f"{tuple(p for p, _ in pads)}, stride={tuple(stride)}, expected "
                               f"size of input's dimension 2 to match the calculated number of "
                               f"sliding blocks {math.prod(outs)}, but got input.size(2)="
                               f"{cols.shape[2]}.")
        win = cols.reshape((n, c) + tuple(kernel) + outs).transpose(0, 1, 4, 5, 2, 3)
        padded = (n, c) + tuple(o + lo + hi for o, (lo, hi) in zip(output_size, pads))
        out = K.col2im(win, padded, stride, dilation)
        return out[(Ellipsis,) + tuple(slice(lo, lo + o) for o, (lo, _) in zip(output_size, pads))]

    @staticmethod
    def backward(ctx, grad):
        return Im2Col.apply(grad, *ctx.geom)


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sliding local blocks (im2col): (N, C, H, W) -> (N, C*kH*kW, L)."""
    x, unbatched = _batched(input, 2, "unfold")
    pads = tuple((p, p) for p in _tuple(padding, 2))
    out = Im2Col.apply(x, _tuple(kernel_size, 2), _tuple(dilation, 2), pads, _tuple(stride, 2))
    return out.squeeze(0) if unbatched else out


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sums sliding local blocks back into an image (col2im): (N, C*kH*kW, L) -> (N, C, H, W)."""
    unbatched = input.ndim == 2
    x = input.unsqueeze(0) if unbatched else input
    kernel = _tuple(kernel_size, 2)
    if x.shape[1] % math.prod(kernel):
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product "
                           f"of kernel_size, but got input.size(1)={x.shape[1]} and "
                           f"kernel_size={kernel}")
    pads = tuple((p, p) for p in _tuple(padding, 2))
    out = Col2Im.apply(x, _tuple(output_size, 2), kernel, _tuple(dilation, 2), pads,
                       _tuple(stride, 2))
    return out.squeeze(0) if unbatched else out

