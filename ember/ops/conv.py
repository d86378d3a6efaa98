"""Convolution: conv1d/2d/3d and their transposes, and fold / unfold (im2col and col2im as ops),
with the argument helpers the other spatial modules share. Pooling lives in pooling.py and
adaptive_pooling.py; padding, interpolation and pixel shuffle in resizing.py.
``ember.nn.functional`` re-exports them all.

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
from ember._tensor import Tensor
from ember.amp.autocast_mode import autocast, cast_args_as, is_autocast_enabled
from ember.autograd.function import Primitive, _AutocastFlag
from ember.backend import kernels as K
from ember.backend.device import as_dtype
from ember.ops.linalg import matmul

__all__ = [
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "unfold", "fold",
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
    if _AutocastFlag.on:  # autocast casts before the kernel checks dtypes, as PyTorch's does
        x, weight, bias = cast_args_as("ConvolutionBackward0", (x, weight, bias))
    _check_conv(op, x, weight, bias, groups, weight.shape[1] * groups)
    if weight.shape[0] < groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be at least {groups} at "
                           f"dimension 0, but got weight of size {list(weight.shape)} instead")
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
    if _AutocastFlag.on and is_autocast_enabled(input.device.type):
        # autocast casts the arguments, then the op runs on them as it does outside autocast
        # (a half input's float32 product must not be narrowed again before the bias joins)
        input, weight, bias = cast_args_as("ConvolutionBackward0", (input, weight, bias))
        with autocast(input.device.type, enabled=False):
            return _conv_transpose(nd, input, weight, bias, stride, padding, output_padding,
                                   groups, dilation, output_size)
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
# Fold / unfold: im2col and col2im as differentiable ops

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
