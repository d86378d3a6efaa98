"""Pointwise legacy modules (activations, Abs/Exp/Log/..., Dropout, SpatialDropout)."""
from __future__ import annotations

import ember
from ember.legacy.nn.module import Module
from ember.ops.nn import log_softmax, softmax


def _feature_dim(ndim: int) -> int:
    """THNN's channel dimension: 0 for (C) and (C, H, W) inputs, 1 for batched ones."""
    return 0 if ndim in (1, 3) else 1


class _Pointwise(Module):
    """``output = f(input)``; subclasses give ``_grad(input, gradOutput)``."""

    def updateOutput(self, input):
        self.output = self._f(input)
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = self._grad(input, gradOutput)
        return self.gradInput


class Threshold(_Pointwise):
    """``input`` where ``input > threshold``, else ``value``."""

    def __init__(self, threshold: float = 1e-6, value: float = 0.0, inplace: bool = False):
        super().__init__()
        self.threshold = threshold
        self.value = value
        self.inplace = inplace

    def _f(self, x):
        return ember.where(x > self.threshold, x, ember.full_like(x, self.value))

    def _grad(self, x, g):
        return g * (x > self.threshold).to(g.dtype)


class ReLU(Threshold):
    """``max(0, input)``."""
    def __init__(self, inplace: bool = False):
        super().__init__(0.0, 0.0, inplace)


class HardTanh(_Pointwise):
    """``input`` clamped to ``[min_value, max_value]``; the gradient is zero at and beyond
    the bounds."""

    def __init__(self, min_value: float = -1.0, max_value: float = 1.0, inplace: bool = False):
        super().__init__()
        if max_value <= min_value:
            raise ValueError("HardTanh: max_value must be larger than min_value")
        self.min_val = min_value
        self.max_val = max_value
        self.inplace = inplace

    def _f(self, x):
        return x.clamp(self.min_val, self.max_val)

    def _grad(self, x, g):
        return g * ((x > self.min_val) & (x < self.max_val)).to(g.dtype)


class ReLU6(HardTanh):
    """``min(max(0, input), 6)``."""
    def __init__(self, inplace: bool = False):
        super().__init__(0.0, 6.0, inplace)


class Clamp(HardTanh):
    """``input`` clamped to ``[min_value, max_value]``."""
    def __init__(self, min_value: float, max_value: float):
        super().__init__(min_value, max_value)


class ELU(_Pointwise):
    """``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def _f(self, x):
        return ember.where(x > 0, x, self.alpha * (x.exp() - 1))

    def _grad(self, x, g):
        return ember.where(x > 0, g, g * self.alpha * x.exp())


class LeakyReLU(_Pointwise):
    """``x`` for ``x > 0``, else ``negval * x``."""

    def __init__(self, negval: float = 1 / 100, inplace: bool = False):
        super().__init__()
        self.negval = negval
        self.inplace = inplace

    def _f(self, x):
        return ember.where(x > 0, x, x * self.negval)

    def _grad(self, x, g):
        return ember.where(x > 0, g, g * self.negval)


class PReLU(Module):
    """Leaky ReLU with a learnt slope: one shared (``nOutputPlane=0``) or one per channel."""

    def __init__(self, nOutputPlane: int = 0):
        super().__init__()
        self.nOutputPlane = nOutputPlane
        self.weight = ember.full((max(nOutputPlane, 1),), 0.25)
        self.gradWeight = ember.zeros(max(nOutputPlane, 1))

    def _slope(self, x):
        if self.nOutputPlane == 0:
            return self.weight
        shape = [1] * x.dim()
        shape[_feature_dim(x.dim())] = self.nOutputPlane
        return self.weight.view(shape)

    def updateOutput(self, input):
        self.output = ember.where(input > 0, input, input * self._slope(input))
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = ember.where(input > 0, gradOutput, gradOutput * self._slope(input))
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale: float = 1) -> None:
        contrib = gradOutput * input * (input <= 0).to(input.dtype)
        if self.nOutputPlane == 0:
            self.gradWeight.add_(contrib.sum().reshape(1), alpha=scale)
        else:
            dim = _feature_dim(input.dim())
            dims = [d for d in range(input.dim()) if d != dim]
            self.gradWeight.add_(contrib.sum(dims) if dims else contrib, alpha=scale)


class RReLU(Module):
    """Randomised leaky ReLU: negative slopes drawn from ``U(lower, upper)`` in training, their
    mean in evaluation."""

    def __init__(self, lower: float = 1 / 8, upper: float = 1 / 3, inplace: bool = False):
        super().__init__()
        self.lower = lower
        self.upper = upper
        self.inplace = inplace
        self.noise = ember.empty(0)

    def updateOutput(self, input):
        if self.train:
            slope = ember.empty(input.shape, dtype=input.dtype).uniform_(self.lower, self.upper)
        else:
            slope = ember.full_like(input, (self.lower + self.upper) / 2)
        self.noise = ember.where(input > 0, ember.ones_like(input), slope)
        self.output = input * self.noise
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = gradOutput * self.noise
        return self.gradInput


class Tanh(_Pointwise):
    """Hyperbolic tangent."""
    def _f(self, x):
        return x.tanh()

    def _grad(self, x, g):
        return g * (1 - self.output * self.output)


class Sigmoid(_Pointwise):
    """Logistic sigmoid."""
    def _f(self, x):
        return x.sigmoid()

    def _grad(self, x, g):
        return g * self.output * (1 - self.output)


class SoftMax(_Pointwise):
    """Softmax over the feature dimension (0 for 1-d and 3-d inputs, 1 for 2-d and 4-d)."""

    def _f(self, x):
        return softmax(x, _feature_dim(x.dim()))

    def _grad(self, x, g):
        y = self.output
        return y * (g - (g * y).sum(_feature_dim(x.dim()), keepdim=True))


class LogSoftMax(_Pointwise):
    """Log-softmax over the feature dimension, like :class:`SoftMax`."""

    def _f(self, x):
        return log_softmax(x, _feature_dim(x.dim()))

    def _grad(self, x, g):
        return g - self.output.exp() * g.sum(_feature_dim(x.dim()), keepdim=True)


class SoftPlus(_Pointwise):
    """``log(1 + exp(beta * x)) / beta``, linear where ``beta * x > threshold``."""

    def __init__(self, beta: float = 1, threshold: float = 20):
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def _f(self, x):
        return ember.nn.functional.softplus(x, self.beta, self.threshold)

    def _grad(self, x, g):
        bx = x * self.beta
        return ember.where(bx > self.threshold, g, g * bx.sigmoid())


class SoftSign(_Pointwise):
    """``x / (1 + |x|)``."""
    def _f(self, x):
        return x / (1 + x.abs())

    def _grad(self, x, g):
        d = 1 + x.abs()
        return g / (d * d)


class Abs(_Pointwise):
    """``|input|``."""
    def _f(self, x):
        return x.abs()

    def _grad(self, x, g):
        return g * x.sign()


class Exp(_Pointwise):
    """``exp(input)``."""
    def _f(self, x):
        return x.exp()

    def _grad(self, x, g):
        return g * self.output


class Log(_Pointwise):
    """``log(input)``."""
    def _f(self, x):
        return x.log()

    def _grad(self, x, g):
        return g / x


class Sqrt(_Pointwise):
    """``sqrt(input + eps)``."""

    def __init__(self, b: float = 0, eps: float = 0):
        super().__init__()
        self.eps = b or eps

    def _f(self, x):
        return (x + self.eps).sqrt()

    def _grad(self, x, g):
        return g / (2 * self.output)


class Square(_Pointwise):
    """``input ** 2``."""
    def _f(self, x):
        return x * x

    def _grad(self, x, g):
        return g * 2 * x


class Power(_Pointwise):
    """``input ** pow``."""

    def __init__(self, p: float):
        super().__init__()
        self.pow = p

    def _f(self, x):
        return x.pow(self.pow)

    def _grad(self, x, g):
        return g * self.pow * x.pow(self.pow - 1)


class Dropout(Module):
    """Zeroes each element with probability ``p`` in training. By default (Lua's v2) the kept
    ones are scaled by ``1 / (1 - p)``; with ``v1`` evaluation scales by ``1 - p`` instead."""

    def __init__(self, p: float = 0.5, v1: bool = False, inplace: bool = False):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p
        self.v2 = not v1
        self.inplace = inplace
        self.noise = ember.empty(0)

    def _noise_shape(self, input) -> tuple:
        return tuple(input.shape)

    def updateOutput(self, input):
        if self.train and self.p > 0:
            keep = ember.empty(self._noise_shape(input), dtype=input.dtype)
            self.noise = keep.bernoulli_(1 - self.p)
            if self.v2:
                self.noise.div_(1 - self.p)
            self.output = input * self.noise
        elif not self.train and not self.v2:
            self.output = input * (1 - self.p)
        else:
            self.output = input.clone()
        return self.output

    def updateGradInput(self, input, gradOutput):
        if self.train and self.p > 0:
            self.gradInput = gradOutput * self.noise
        elif not self.train and not self.v2:
            self.gradInput = gradOutput * (1 - self.p)
        else:
            self.gradInput = gradOutput.clone()
        return self.gradInput

    def setp(self, p: float) -> None:
        """Change the drop probability."""
        self.p = p


class SpatialDropout(Dropout):
    """Drops whole feature maps of ``(C, H, W)`` or ``(N, C, H, W)`` inputs; as in Lua, kept
    maps are not rescaled in training and evaluation multiplies by ``1 - p``."""

    def __init__(self, p: float = 0.5):
        super().__init__(p, v1=True)

    def _noise_shape(self, input) -> tuple:
        if input.dim() not in (3, 4):
            raise ValueError(f"SpatialDropout: expected a 3-d or 4-d input, got {input.dim()}-d")
        lead = 1 if input.dim() == 3 else 2
        return tuple(input.shape[:lead]) + (1,) * (input.dim() - lead)
