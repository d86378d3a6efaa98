"""Legacy modules that move, slice or reduce: View, Reshape, Transpose, Narrow, Select,
Padding, Replicate, Squeeze, Unsqueeze, Copy, Sum, Mean, Max, Min. Dimensions are 0-based."""
from __future__ import annotations

import math

import ember
from ember import dtypes
from ember.legacy.nn.module import _TYPE_NAMES, Module


def _sizes(args) -> tuple:
    if len(args) == 1 and not isinstance(args[0], int):
        return tuple(args[0])
    return tuple(args)


class _Reshaping(Module):
    """The gradient of a pure reshape is the gradient reshaped back."""

    def updateGradInput(self, input, gradOutput):
        self.gradInput = gradOutput.reshape(input.shape)
        return self.gradInput


class View(_Reshaping):
    """``input.view(*sizes)``; with ``setNumInputDims(n)`` an input with more than ``n``
    dimensions keeps its leading batch dimension."""

    def __init__(self, *sizes):
        super().__init__()
        self.size = _sizes(sizes)
        self.numInputDims = None

    def setNumInputDims(self, numInputDims: int) -> View:
        """Treat inputs with more than ``numInputDims`` dimensions as batches."""
        self.numInputDims = numInputDims
        return self

    def updateOutput(self, input):
        size = self.size
        if self.numInputDims is not None and input.dim() > self.numInputDims:
            size = (input.shape[0],) + size
        self.output = input.contiguous().view(size)
        return self.output


class Reshape(_Reshaping):
    """Reshapes to ``sizes``, keeping a leading batch dimension when the input holds more
    elements than ``sizes`` (or when ``batchMode`` is set)."""

    def __init__(self, *sizes, batchMode: bool | None = None):
        super().__init__()
        if sizes and isinstance(sizes[-1], bool):
            batchMode = sizes[-1]
            sizes = sizes[:-1]
        self.size = _sizes(sizes)
        self.nelement = math.prod(self.size)
        self.batchMode = batchMode

    def updateOutput(self, input):
        batched = (self.batchMode if self.batchMode is not None
                   else input.numel() != self.nelement)
        size = (input.shape[0],) + self.size if batched else self.size
        self.output = input.reshape(size)
        return self.output


class Transpose(_Reshaping):
    """Applies the given ``(dim1, dim2)`` swaps in order."""

    def __init__(self, *permutations):
        super().__init__()
        self.permutations = [tuple(p) for p in permutations]

    def updateOutput(self, input):
        out = input
        for d1, d2 in self.permutations:
            out = out.transpose(d1, d2)
        self.output = out.contiguous()
        return self.output

    def updateGradInput(self, input, gradOutput):
        g = gradOutput
        for d1, d2 in reversed(self.permutations):
            g = g.transpose(d1, d2)
        self.gradInput = g.contiguous()
        return self.gradInput


class Narrow(Module):
    """``input.narrow(dimension, offset, length)``; a negative ``length`` counts from the end
    (``-1`` keeps everything from ``offset``)."""

    def __init__(self, dimension: int, offset: int, length: int = 1):
        super().__init__()
        self.dimension = dimension
        self.index = offset
        self.length = length

    def _span(self, input):
        size = input.shape[self.dimension]
        offset = self.index if self.index >= 0 else size + self.index
        length = self.length if self.length >= 0 else size - offset + self.length + 1
        return offset, length

    def updateOutput(self, input):
        offset, length = self._span(input)
        self.output = input.narrow(self.dimension, offset, length).clone()
        return self.output

    def updateGradInput(self, input, gradOutput):
        offset, length = self._span(input)
        grad = ember.zeros_like(input, dtype=gradOutput.dtype)
        grad.narrow(self.dimension, offset, length).copy_(gradOutput)
        self.gradInput = grad
        return self.gradInput


class Select(Module):
    """``input.select(dimension, index)`` (negative ``index`` counts from the end)."""

    def __init__(self, dimension: int, index: int):
        super().__init__()
        self.dimension = dimension
        self.index = index

    def updateOutput(self, input):
        self.output = input.select(self.dimension, self.index).clone()
        return self.output

    def updateGradInput(self, input, gradOutput):
        grad = ember.zeros_like(input, dtype=gradOutput.dtype)
        grad.select(self.dimension, self.index).copy_(gradOutput)
        self.gradInput = grad
        return self.gradInput


class Padding(Module):
    """Inserts ``|pad|`` slices of ``value`` along ``dim``: after the data for ``pad > 0``,
    before it for ``pad < 0``, or before position ``index`` when ``index > 0``. With
    ``nInputDim`` set, an input with more dimensions is treated as a batch."""

    def __init__(self, dim: int, pad: int, nInputDim: int | None = None, value: float = 0,
                 index: int = 0):
        super().__init__()
        self.dim = dim
        self.pad = pad
        self.nInputDim = nInputDim
        self.value = value
        self.index = index

    def _layout(self, input):
        dim = self.dim
        if self.nInputDim is not None and input.dim() != self.nInputDim:
            dim += 1
        size = input.shape[dim]
        if self.index > 0:
            at = self.index
        else:
            at = size if self.pad > 0 else 0
        return dim, at

    def updateOutput(self, input):
        dim, at = self._layout(input)
        shape = list(input.shape)
        shape[dim] = abs(self.pad)
        filler = ember.full(shape, self.value, dtype=input.dtype)
        size = input.shape[dim]
        parts = [input.narrow(dim, 0, at), filler, input.narrow(dim, at, size - at)]
        self.output = ember.cat(parts, dim)
        return self.output

    def updateGradInput(self, input, gradOutput):
        dim, at = self._layout(input)
        size = input.shape[dim]
        head = gradOutput.narrow(dim, 0, at)
        tail = gradOutput.narrow(dim, at + abs(self.pad), size - at)
        self.gradInput = ember.cat([head, tail], dim)
        return self.gradInput


class Replicate(Module):
    """Repeats the input ``nFeature`` times along a new dimension ``dim`` (shifted by one for
    batch inputs when ``ndim`` is given)."""

    def __init__(self, nFeature: int, dim: int = 0, ndim: int | None = None):
        super().__init__()
        self.nfeatures = nFeature
        self.dim = dim
        self.ndim = ndim

    def _dim(self, input) -> int:
        if self.ndim is not None and input.dim() > self.ndim:
            return self.dim + 1
        return self.dim

    def updateOutput(self, input):
        dim = self._dim(input)
        shape = list(input.shape)
        shape.insert(dim, self.nfeatures)
        self.output = input.unsqueeze(dim).expand(shape).contiguous()
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = gradOutput.sum(self._dim(input))
        return self.gradInput


class Squeeze(_Reshaping):
    """Removes size-1 dimensions (all, or only ``dim``; shifted by one for batch inputs when
    ``numInputDims`` is given)."""

    def __init__(self, dim: int | None = None, numInputDims: int | None = None):
        super().__init__()
        self.dim = dim
        self.numInputDims = numInputDims

    def updateOutput(self, input):
        if self.dim is None:
            self.output = input.squeeze()
        else:
            dim = self.dim
            if self.numInputDims is not None and input.dim() > self.numInputDims:
                dim += 1
            self.output = input.squeeze(dim)
        return self.output


class Unsqueeze(_Reshaping):
    """Inserts a size-1 dimension at ``pos`` (shifted by one for batch inputs when
    ``numInputDims`` is given)."""

    def __init__(self, pos: int, numInputDims: int | None = None):
        super().__init__()
        self.pos = pos
        self.numInputDims = numInputDims

    def updateOutput(self, input):
        pos = self.pos
        if self.numInputDims is not None and input.dim() > self.numInputDims:
            pos += 1
        self.output = input.unsqueeze(pos)
        return self.output


class Copy(Module):
    """Converts the input to ``outtype`` (and the gradient back to ``intype``); type names
    like ``'torch.FloatTensor'`` or ember dtypes."""

    def __init__(self, intype, outtype, forceCopy: bool = False, dontCast: bool = False):
        super().__init__()
        self.intype = dtypes.to_dtype(_TYPE_NAMES.get(intype, intype))
        self.outtype = dtypes.to_dtype(_TYPE_NAMES.get(outtype, outtype))
        self.dontCast = dontCast

    def updateOutput(self, input):
        self.output = input.to(self.outtype).clone()
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = gradOutput.to(self.intype).clone()
        return self.gradInput

    def type(self, type=None, tensorCache=None):
        if type is not None and self.dontCast:
            return self
        return super().type(type, tensorCache)


def _reduce_dim(dimension: int, nInputDims, input) -> int:
    if dimension < 0:
        return dimension + input.dim()
    if nInputDims is not None and nInputDims > 0 and input.dim() > nInputDims:
        return dimension + 1
    return dimension


class Sum(Module):
    """Sum over ``dimension`` (divided by its size with ``sizeAverage``)."""

    def __init__(self, dimension: int = 0, nInputDims: int | None = None,
                 sizeAverage: bool = False, squeeze: bool = True):
        super().__init__()
        self.dimension = dimension
        self.nInputDims = nInputDims
        self.sizeAverage = sizeAverage
        self.squeeze = squeeze

    def updateOutput(self, input):
        dim = _reduce_dim(self.dimension, self.nInputDims, input)
        out = input.sum(dim, keepdim=not self.squeeze)
        self.output = out / input.shape[dim] if self.sizeAverage else out
        return self.output

    def updateGradInput(self, input, gradOutput):
        dim = _reduce_dim(self.dimension, self.nInputDims, input)
        g = gradOutput if not self.squeeze else gradOutput.unsqueeze(dim)
        g = g.expand(input.shape)
        self.gradInput = (g / input.shape[dim] if self.sizeAverage else g).contiguous()
        return self.gradInput


class Mean(Sum):
    """Mean over ``dimension``."""

    def __init__(self, dimension: int = 0, nInputDims: int | None = None,
                 squeeze: bool = True):
        super().__init__(dimension, nInputDims, sizeAverage=True, squeeze=squeeze)


class Max(Module):
    """Maximum over ``dimension``; the gradient goes to the (first) arg max."""

    _reduce = staticmethod(ember.max)

    def __init__(self, dimension: int = 0, nInputDims: int | None = None):
        super().__init__()
        self.dimension = dimension
        self.nInputDims = nInputDims
        self._indices = None

    def updateOutput(self, input):
        dim = _reduce_dim(self.dimension, self.nInputDims, input)
        values, self._indices = self._reduce(input, dim, keepdim=True)
        self.output = values.squeeze(dim)
        return self.output

    def updateGradInput(self, input, gradOutput):
        dim = _reduce_dim(self.dimension, self.nInputDims, input)
        grad = ember.zeros_like(input, dtype=gradOutput.dtype)
        self.gradInput = grad.scatter_(dim, self._indices, gradOutput.unsqueeze(dim))
        return self.gradInput


class Min(Max):
    """Minimum over ``dimension``; the gradient goes to the (first) arg min."""

    _reduce = staticmethod(ember.min)
