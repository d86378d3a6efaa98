"""Convolution, pooling and batch normalisation in the legacy style, on the array kernels of
:mod:`ember.backend.kernels` (im2col / col2im, sliding windows, pooling divisors)."""
from __future__ import annotations

import math

import ember
from ember._tensor import _make
from ember.backend import kernels
from ember.legacy.nn.module import Module


def _batched(input, spatial_dims: int):
    """The input's array with a batch dimension, and whether one was added."""
    x = input._data
    if x.ndim == spatial_dims + 1:
        return x[None], True
    if x.ndim != spatial_dims + 2:
        raise RuntimeError(f"expected a {spatial_dims + 1}-d or {spatial_dims + 2}-d input, "
                           f"got shape {tuple(input.shape)}")
    return x, False


def _unbatch(array, added: bool):
    return _make(array[0] if added else array)


class _SpatialConv(Module):
    """What the two spatial convolutions share: Lua's init, ``noBias`` and the geometry."""

    def reset(self, stdv: float | None = None) -> None:
        if stdv is None:
            stdv = 1 / math.sqrt(self.kW * self.kH * self.nInputPlane)
        else:
            stdv = stdv * math.sqrt(3)
        self.weight.uniform_(-stdv, stdv)
        if self.bias is not None:
            self.bias.uniform_(-stdv, stdv)

    def noBias(self) -> _SpatialConv:
        """Drop the bias; returns self."""
        self.bias = None
        self.gradBias = None
        return self

    def _geometry(self):
        return (self.dH, self.dW), ((self.padH, self.padH), (self.padW, self.padW)), (1, 1)


class SpatialConvolution(_SpatialConv):
    """2-d convolution of ``(nInputPlane, H, W)`` or ``(N, nInputPlane, H, W)`` inputs;
    ``weight`` is ``(nOutputPlane, nInputPlane, kH, kW)``."""

    def __init__(self, nInputPlane: int, nOutputPlane: int, kW: int, kH: int, dW: int = 1,
                 dH: int = 1, padW: int = 0, padH: int | None = None):
        super().__init__()
        self.nInputPlane = nInputPlane
        self.nOutputPlane = nOutputPlane
        self.kW, self.kH, self.dW, self.dH = kW, kH, dW, dH
        self.padW = padW
        self.padH = padW if padH is None else padH
        self.weight = ember.empty(nOutputPlane, nInputPlane, kH, kW)
        self.gradWeight = ember.zeros(nOutputPlane, nInputPlane, kH, kW)
        self.bias = ember.empty(nOutputPlane)
        self.gradBias = ember.zeros(nOutputPlane)
        self._cols = None
        self.reset()

    def updateOutput(self, input):
        x, added = _batched(input, 2)
        stride, pads, dil = self._geometry()
        y, cols = kernels.conv_forward(x, self.weight._data, stride, pads, dil, 1)
        # keep the columns for accGradParameters of this same input (Lua's finput buffer)
        self._cols = (input, cols)
        if self.bias is not None:
            y = y + self.bias._data.reshape(1, -1, 1, 1)
        self.output = _unbatch(y, added)
        return self.output

    def updateGradInput(self, input, gradOutput):
        x, added = _batched(input, 2)
        gy, _ = _batched(gradOutput, 2)
        stride, pads, dil = self._geometry()
        gx = kernels.conv_input_grad(gy, self.weight._data, x.shape, stride, pads, dil, 1)
        self.gradInput = _unbatch(gx, added)
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale: float = 1) -> None:
        x, _ = _batched(input, 2)
        gy, _ = _batched(gradOutput, 2)
        stride, pads, dil = self._geometry()
        cols = self._cols[1] if self._cols is not None and self._cols[0] is input else None
        gw = kernels.conv_weight_grad(x, gy, self.weight.shape, stride, pads, dil, 1, cols)
        self.gradWeight.add_(_make(gw), alpha=scale)
        if self.bias is not None:
            self.gradBias.add_(_make(gy.sum((0, 2, 3))), alpha=scale)

    def clearState(self):
        self._cols = None
        return super().clearState()

    def __repr__(self) -> str:
        return (f"nn.SpatialConvolution({self.nInputPlane} -> {self.nOutputPlane}, "
                f"{self.kW}x{self.kH}, {self.dW},{self.dH}, {self.padW},{self.padH})")


class SpatialFullConvolution(_SpatialConv):
    """Transposed 2-d convolution; ``weight`` is ``(nInputPlane, nOutputPlane, kH, kW)`` and
    the output size is ``(in - 1) * d - 2 * pad + k + adj``."""

    def __init__(self, nInputPlane: int, nOutputPlane: int, kW: int, kH: int, dW: int = 1,
                 dH: int = 1, padW: int = 0, padH: int = 0, adjW: int = 0, adjH: int = 0):
        super().__init__()
        if adjW >= dW or adjH >= dH:
            raise ValueError("SpatialFullConvolution: adj must be smaller than the stride")
        self.nInputPlane = nInputPlane
        self.nOutputPlane = nOutputPlane
        self.kW, self.kH, self.dW, self.dH = kW, kH, dW, dH
        self.padW, self.padH, self.adjW, self.adjH = padW, padH, adjW, adjH
        self.weight = ember.empty(nInputPlane, nOutputPlane, kH, kW)
        self.gradWeight = ember.zeros(nInputPlane, nOutputPlane, kH, kW)
        self.bias = ember.empty(nOutputPlane)
        self.gradBias = ember.zeros(nOutputPlane)
        self.reset()

    def _out_shape(self, x):
        h = (x.shape[2] - 1) * self.dH - 2 * self.padH + self.kH + self.adjH
        w = (x.shape[3] - 1) * self.dW - 2 * self.padW + self.kW + self.adjW
        return (x.shape[0], self.nOutputPlane, h, w)

    def updateOutput(self, input):
        # the forward pass of a transposed convolution is the input-gradient of a convolution
        x, added = _batched(input, 2)
        stride, pads, dil = self._geometry()
        y = kernels.conv_input_grad(x, self.weight._data, self._out_shape(x), stride, pads,
                                    dil, 1)
        if self.bias is not None:
            y = y + self.bias._data.reshape(1, -1, 1, 1)
        self.output = _unbatch(y, added)
        return self.output

    def updateGradInput(self, input, gradOutput):
        gy, added = _batched(gradOutput, 2)
        stride, pads, dil = self._geometry()
        gx, _ = kernels.conv_forward(gy, self.weight._data, stride, pads, dil, 1)
        self.gradInput = _unbatch(gx, added)
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale: float = 1) -> None:
        x, _ = _batched(input, 2)
        gy, _ = _batched(gradOutput, 2)
        stride, pads, dil = self._geometry()
        gw = kernels.conv_weight_grad(gy, x, self.weight.shape, stride, pads, dil, 1)
        self.gradWeight.add_(_make(gw), alpha=scale)
        if self.bias is not None:
            self.gradBias.add_(_make(gy.sum((0, 2, 3))), alpha=scale)


class TemporalConvolution(Module):
    """1-d convolution over frames: input ``(nFrames, inputFrameSize)`` or ``(N, nFrames,
    inputFrameSize)``; ``weight`` is ``(outputFrameSize, kW * inputFrameSize)`` (the kW input
    frames of a window laid end to end)."""

    def __init__(self, inputFrameSize: int, outputFrameSize: int, kW: int, dW: int = 1):
        super().__init__()
        self.inputFrameSize = inputFrameSize
        self.outputFrameSize = outputFrameSize
        self.kW, self.dW = kW, dW
        self.weight = ember.empty(outputFrameSize, inputFrameSize * kW)
        self.gradWeight = ember.zeros(outputFrameSize, inputFrameSize * kW)
        self.bias = ember.empty(outputFrameSize)
        self.gradBias = ember.zeros(outputFrameSize)
        self.reset()

    def reset(self, stdv: float | None = None) -> None:
        stdv = 1 / math.sqrt(self.kW * self.inputFrameSize) if stdv is None else stdv * 3 ** .5
        self.weight.uniform_(-stdv, stdv)
        self.bias.uniform_(-stdv, stdv)

    def _conv_weight(self):
        o, c, k = self.outputFrameSize, self.inputFrameSize, self.kW
        return self.weight._data.reshape(o, k, c).transpose(0, 2, 1)  # (O, C, K)

    def _channels_first(self, t):
        a = t._data
        added = a.ndim == 2
        a = a[None] if added else a
        return a.transpose(0, 2, 1), added

    def updateOutput(self, input):
        x, added = self._channels_first(input)
        y, _ = kernels.conv_forward(x, self._conv_weight(), (self.dW,), ((0, 0),), (1,), 1)
        y = y.transpose(0, 2, 1) + self.bias._data
        self.output = _unbatch(y, added)
        return self.output

    def updateGradInput(self, input, gradOutput):
        x, added = self._channels_first(input)
        gy, _ = self._channels_first(gradOutput)
        gx = kernels.conv_input_grad(gy, self._conv_weight(), x.shape, (self.dW,), ((0, 0),),
                                     (1,), 1)
        self.gradInput = _unbatch(gx.transpose(0, 2, 1), added)
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale: float = 1) -> None:
        x, _ = self._channels_first(input)
        gy, _ = self._channels_first(gradOutput)
        o, c, k = self.outputFrameSize, self.inputFrameSize, self.kW
        gw = kernels.conv_weight_grad(x, gy, (o, c, k), (self.dW,), ((0, 0),), (1,), 1)
        self.gradWeight.add_(_make(gw.transpose(0, 2, 1).reshape(o, k * c)), alpha=scale)
        self.gradBias.add_(_make(gy.sum((0, 2))), alpha=scale)


class _Pool2d(Module):
    """Window geometry shared by the pooling modules (Lua's ``ceil()`` / ``floor()``)."""

    def __init__(self, kW, kH, dW, dH, padW, padH):
        super().__init__()
        self.kW, self.kH, self.dW, self.dH = kW, kH, dW, dH
        self.padW, self.padH = padW, padH
        self.ceil_mode = False

    def ceil(self):
        """Round the output size up (Lua's ``:ceil()``); returns self."""
        self.ceil_mode = True
        return self

    def floor(self):
        """Round the output size down (the default); returns self."""
        self.ceil_mode = False
        return self

    def _geometry(self, x):
        """Output size and the ``(lo, hi)`` pads that make every window fit (ceil mode may
        need extra room on the high side)."""
        outs, pads = [], []
        for n, k, s, p in ((x.shape[2], self.kH, self.dH, self.padH),
                           (x.shape[3], self.kW, self.dW, self.padW)):
            o = kernels.out_size(n, k, s, p, p, 1, self.ceil_mode)
            outs.append(o)
            pads.append((p, max(p, (o - 1) * s + k - n - p)))
        return tuple(outs), tuple(pads)

    def _scatter_back(self, cols, x, pads):
        """col2im of window-shaped gradients, cropped back to the input."""
        padded = x.shape[:2] + tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[2:], pads))
        g = kernels.col2im(cols, padded, (self.dH, self.dW), (1, 1))
        (ph, _), (pw, _) = pads
        return g[..., ph:ph + x.shape[2], pw:pw + x.shape[3]]


class SpatialMaxPooling(_Pool2d):
    """2-d max pooling (the stride defaults to the kernel size)."""

    def __init__(self, kW: int, kH: int, dW: int | None = None, dH: int | None = None,
                 padW: int = 0, padH: int = 0):
        super().__init__(kW, kH, dW or kW, dH or kH, padW, padH)
        self.indices = None

    def updateOutput(self, input):
        x, added = _batched(input, 2)
        outs, pads = self._geometry(x)
        xp = kernels.get_xp(x)
        padded = kernels.pad(x, pads, value=-math.inf)
        win = kernels.windows(padded, (self.kH, self.kW), (self.dH, self.dW), (1, 1))
        win = win[:, :, :outs[0], :outs[1]].reshape(x.shape[:2] + outs + (-1,))
        self.indices = win.argmax(-1)
        y = xp.take_along_axis(win, self.indices[..., None], -1)[..., 0]
        self.output = _unbatch(y, added)
        return self.output

    def updateGradInput(self, input, gradOutput):
        x, added = _batched(input, 2)
        gy, _ = _batched(gradOutput, 2)
        outs, pads = self._geometry(x)
        xp = kernels.get_xp(x)
        # each output's gradient goes to its arg max within the window (a one-hot mask)
        hit = xp.arange(self.kH * self.kW) == self.indices[..., None]
        cols = (hit * gy[..., None]).astype(gy.dtype, copy=False)
        cols = cols.reshape(gy.shape + (self.kH, self.kW))
        self.gradInput = _unbatch(self._scatter_back(cols, x, pads), added)
        return self.gradInput


class SpatialAveragePooling(_Pool2d):
    """2-d average pooling; ``count_include_pad`` counts padded zeros in the divisor."""

    def __init__(self, kW: int, kH: int, dW: int = 1, dH: int = 1, padW: int = 0,
                 padH: int = 0, ceil_mode: bool = False, count_include_pad: bool = True,
                 divide: bool = True):
        super().__init__(kW, kH, dW, dH, padW, padH)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divide = divide

    def setCountIncludePad(self):
        """Count padded zeros in the divisor; returns self."""
        self.count_include_pad = True
        return self

    def setCountExcludePad(self):
        """Leave padded zeros out of the divisor; returns self."""
        self.count_include_pad = False
        return self

    def _divisor(self, x, outs, pads):
        if not self.divide:
            return 1
        return kernels.pool_divisor(kernels.get_xp(x), x.shape[2:], (self.kH, self.kW),
                                    (self.dH, self.dW), pads, outs, self.count_include_pad,
                                    x.dtype)

    def updateOutput(self, input):
        x, added = _batched(input, 2)
        outs, pads = self._geometry(x)
        win = kernels.windows(kernels.pad(x, pads), (self.kH, self.kW), (self.dH, self.dW),
                              (1, 1))
        y = win[:, :, :outs[0], :outs[1]].sum((-2, -1)) / self._divisor(x, outs, pads)
        self.output = _unbatch(y.astype(x.dtype, copy=False), added)
        return self.output

    def updateGradInput(self, input, gradOutput):
        x, added = _batched(input, 2)
        gy, _ = _batched(gradOutput, 2)
        outs, pads = self._geometry(x)
        xp = kernels.get_xp(x)
        g = (gy / self._divisor(x, outs, pads)).astype(gy.dtype, copy=False)
        cols = xp.broadcast_to(g[..., None, None], g.shape + (self.kH, self.kW))
        self.gradInput = _unbatch(self._scatter_back(cols, x, pads), added)
        return self.gradInput


class BatchNormalization(Module):
    """Batch normalisation over dimension 1 of ``(N, C)`` inputs (statistics over the batch);
    running statistics use ``momentum`` and the unbiased variance, as in Lua."""

    nDim = 2

    def __init__(self, nOutput: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = True):
        super().__init__()
        if nOutput <= 0:
            raise ValueError("BatchNormalization: nOutput must be positive")
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.running_mean = ember.zeros(nOutput)
        self.running_var = ember.ones(nOutput)
        self.weight = ember.empty(nOutput).uniform_() if affine else None
        self.bias = ember.zeros(nOutput) if affine else None
        self.gradWeight = ember.zeros(nOutput) if affine else None
        self.gradBias = ember.zeros(nOutput) if affine else None
        self.save_mean = None
        self.save_std = None

    def reset(self, stdv: float | None = None) -> None:
        if self.weight is not None:
            self.weight.uniform_()
            self.bias.zero_()
        self.running_mean.zero_()
        self.running_var.fill_(1)

    def _shape(self, input) -> list:
        if input.dim() != self.nDim:
            raise RuntimeError(f"{type(self).__name__}: expected a {self.nDim}-d input, got "
                               f"shape {tuple(input.shape)}")
        shape = [1] * input.dim()
        shape[1] = input.shape[1]
        return shape

    def _dims(self, input) -> list:
        return [d for d in range(input.dim()) if d != 1]

    def updateOutput(self, input):
        shape = self._shape(input)
        dims = self._dims(input)
        if self.train:
            mean = input.mean(dims)
            var = input.var(dims, unbiased=False)
            m = input.numel() // input.shape[1]
            self.running_mean.mul_(1 - self.momentum).add_(mean, alpha=self.momentum)
            unbiased = var * (m / max(m - 1, 1))
            self.running_var.mul_(1 - self.momentum).add_(unbiased, alpha=self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        self.save_mean = mean
        self.save_std = (var + self.eps).rsqrt()  # Lua's "save_std" holds 1 / std
        out = (input - mean.view(shape)) * self.save_std.view(shape)
        if self.weight is not None:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        self.output = out
        return self.output

    def _xhat(self, input, shape):
        return (input - self.save_mean.view(shape)) * self.save_std.view(shape)

    def updateGradInput(self, input, gradOutput):
        shape = self._shape(input)
        dims = self._dims(input)
        scale = self.save_std.view(shape)
        if self.weight is not None:
            scale = scale * self.weight.view(shape)
        if self.train:
            xhat = self._xhat(input, shape)
            g_mean = gradOutput.mean(dims, keepdim=True)
            gx_mean = (gradOutput * xhat).mean(dims, keepdim=True)
            self.gradInput = (gradOutput - g_mean - xhat * gx_mean) * scale
        else:
            self.gradInput = gradOutput * scale
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale: float = 1) -> None:
        if self.weight is None:
            return
        shape = self._shape(input)
        dims = self._dims(input)
        self.gradWeight.add_((gradOutput * self._xhat(input, shape)).sum(dims), alpha=scale)
        self.gradBias.add_(gradOutput.sum(dims), alpha=scale)


class SpatialBatchNormalization(BatchNormalization):
    """Batch normalisation of ``(N, C, H, W)`` inputs per channel."""

    nDim = 4
