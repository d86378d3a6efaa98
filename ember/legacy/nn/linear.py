"""Legacy modules with weights or pairwise products: Linear, Bilinear, LookupTable, CMul, Add,
Mul, MM, Euclidean, Cosine, PairwiseDistance, Normalize."""
from __future__ import annotations

import math

import ember
from ember.legacy.nn.module import Module


def _uniform(tensor, stdv: float):
    return tensor.uniform_(-stdv, stdv)


class Linear(Module):
    """``y = W x + b`` for a ``(inputSize,)`` or ``(N, inputSize)`` input; ``weight`` is
    ``(outputSize, inputSize)``."""

    def __init__(self, inputSize: int, outputSize: int, bias: bool = True):
        super().__init__()
        self.weight = ember.empty(outputSize, inputSize)
        self.gradWeight = ember.zeros(outputSize, inputSize)
        self.bias = ember.empty(outputSize) if bias else None
        self.gradBias = ember.zeros(outputSize) if bias else None
        self.reset()

    def reset(self, stdv: float | None = None) -> None:
        stdv = 1 / math.sqrt(self.weight.shape[1]) if stdv is None else stdv * math.sqrt(3)
        _uniform(self.weight, stdv)
        if self.bias is not None:
            _uniform(self.bias, stdv)

    def updateOutput(self, input):
        if input.dim() not in (1, 2):
            raise RuntimeError(f"Linear: expected a 1-d or 2-d input, got shape "
                               f"{tuple(input.shape)}")
        out = input @ self.weight.t()
        self.output = out if self.bias is None else out.add_(self.bias)
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = gradOutput @ self.weight
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale: float = 1) -> None:
        g = gradOutput.reshape(-1, self.weight.shape[0])
        x = input.reshape(-1, self.weight.shape[1])
        self.gradWeight.add_(g.t() @ x, alpha=scale)
        if self.bias is not None:
            self.gradBias.add_(g.sum(0), alpha=scale)

    def __repr__(self) -> str:
        return f"nn.Linear({self.weight.shape[1]} -> {self.weight.shape[0]})"


class Bilinear(Module):
    """``y_k = x1^T W_k x2 + b_k`` for a list input ``[x1 (N, in1), x2 (N, in2)]``; ``weight`` is
    ``(outputSize, in1, in2)``."""

    def __init__(self, inputSize1: int, inputSize2: int, outputSize: int, bias: bool = True):
        super().__init__()
        self.weight = ember.empty(outputSize, inputSize1, inputSize2)
        self.gradWeight = ember.zeros(outputSize, inputSize1, inputSize2)
        self.bias = ember.empty(outputSize) if bias else None
        self.gradBias = ember.zeros(outputSize) if bias else None
        self.reset()

    def reset(self, stdv: float | None = None) -> None:
        stdv = 1 / math.sqrt(self.weight.shape[1]) if stdv is None else stdv * math.sqrt(3)
        _uniform(self.weight, stdv)
        if self.bias is not None:
            _uniform(self.bias, stdv)

    def updateOutput(self, input):
        x1, x2 = input
        out = ember.einsum("ni,kij,nj->nk", x1, self.weight, x2)
        self.output = out if self.bias is None else out.add_(self.bias)
        return self.output

    def updateGradInput(self, input, gradOutput):
        x1, x2 = input
        self.gradInput = [ember.einsum("nk,kij,nj->ni", gradOutput, self.weight, x2),
                          ember.einsum("nk,kij,ni->nj", gradOutput, self.weight, x1)]
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale: float = 1) -> None:
        x1, x2 = input
        self.gradWeight.add_(ember.einsum("nk,ni,nj->kij", gradOutput, x1, x2), alpha=scale)
        if self.bias is not None:
            self.gradBias.add_(gradOutput.sum(0), alpha=scale)


class LookupTable(Module):
    """Rows of ``weight`` (``(nIndex, nOutput)``) picked by 0-based integer indices; rows equal
    to ``paddingValue`` get no gradient. Indices have no gradient (``gradInput`` is zeros)."""

    def __init__(self, nIndex: int, nOutput: int, paddingValue: int = -1,
                 maxNorm: float | None = None, normType: float | None = None):
        super().__init__()
        self.weight = ember.empty(nIndex, nOutput).normal_(0, 1)
        self.gradWeight = ember.zeros(nIndex, nOutput)
        self.paddingValue = paddingValue
        self.maxNorm = maxNorm
        self.normType = normType

    def reset(self, stdv: float = 1) -> None:
        self.weight.normal_(0, stdv)

    def updateOutput(self, input):
        index = input.long()
        if self.maxNorm is not None:
            # Lua renormalises the looked-up rows in place before reading them
            rows = index.reshape(-1).unique()
            w = self.weight[rows]
            norms = w.norm(self.normType or 2, 1, keepdim=True)
            factor = (self.maxNorm / (norms + 1e-7)).clamp(max=1.0)
            self.weight[rows] = w * factor
        self.output = self.weight[index]
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = ember.zeros(input.shape, dtype=gradOutput.dtype)
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale: float = 1) -> None:
        index = input.long().reshape(-1)
        g = gradOutput.reshape(-1, self.weight.shape[1])
        if self.paddingValue >= 0:
            g = g * (index != self.paddingValue).to(g.dtype).unsqueeze(1)
        self.gradWeight.index_add_(0, index, g, alpha=scale)


class CMul(Module):
    """Elementwise product with a learnt tensor of the given size (broadcast over a batch)."""

    def __init__(self, *size):
        super().__init__()
        size = tuple(size[0]) if len(size) == 1 and not isinstance(size[0], int) else size
        self.size = size
        self.weight = ember.empty(size)
        self.gradWeight = ember.zeros(size)
        self.reset()

    def reset(self, stdv: float | None = None) -> None:
        stdv = 1 / math.sqrt(self.weight.numel()) if stdv is None else stdv * math.sqrt(3)
        _uniform(self.weight, stdv)

    def _weight_for(self, input):
        if input.numel() == self.weight.numel():
            return self.weight.reshape(input.shape)
        return self.weight.reshape((1,) + tuple(input.shape[1:]))

    def updateOutput(self, input):
        self.output = input * self._weight_for(input)
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = gradOutput * self._weight_for(input)
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale: float = 1) -> None:
        prod = input * gradOutput
        if input.numel() != self.weight.numel():
            prod = prod.sum(0)
        self.gradWeight.add_(prod.reshape(self.weight.shape), alpha=scale)


class Add(Module):
    """Adds a learnt bias of ``inputSize`` elements (one shared value with ``scalar``)."""

    def __init__(self, inputSize: int, scalar: bool = False):
        super().__init__()
        size = 1 if scalar else inputSize
        self.scalar = scalar
        self.bias = ember.empty(size)
        self.gradBias = ember.zeros(size)
        self.reset()

    def reset(self, stdv: float | None = None) -> None:
        stdv = 1 / math.sqrt(self.bias.shape[0]) if stdv is None else stdv * math.sqrt(3)
        _uniform(self.bias, stdv)

    def _bias_for(self, input):
        if self.scalar:
            return self.bias
        if input.numel() == self.bias.numel():
            return self.bias.reshape(input.shape)
        return self.bias.reshape((1,) + tuple(input.shape[1:]))

    def updateOutput(self, input):
        self.output = input + self._bias_for(input)
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = gradOutput.clone()
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale: float = 1) -> None:
        if self.scalar:
            g = gradOutput.sum().reshape(1)
        elif input.numel() == self.bias.numel():
            g = gradOutput.reshape(-1)
        else:
            g = gradOutput.sum(0).reshape(-1)
        self.gradBias.add_(g, alpha=scale)


class Mul(Module):
    """Multiplies by one learnt scalar."""

    def __init__(self):
        super().__init__()
        self.weight = ember.empty(1)
        self.gradWeight = ember.zeros(1)
        self.reset()

    def reset(self, stdv: float | None = None) -> None:
        _uniform(self.weight, 1.0 if stdv is None else stdv * math.sqrt(3))

    def updateOutput(self, input):
        self.output = input * self.weight
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = gradOutput * self.weight
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale: float = 1) -> None:
        self.gradWeight.add_((input * gradOutput).sum().reshape(1), alpha=scale)


class MM(Module):
    """Matrix product of a list input ``[A, B]`` (2-d, or 3-d batches), optionally
    transposing either."""

    def __init__(self, transA: bool = False, transB: bool = False):
        super().__init__()
        self.transA = transA
        self.transB = transB

    def _operands(self, input):
        a, b = input
        if a.dim() != b.dim() or a.dim() not in (2, 3):
            raise RuntimeError(f"MM: expected two 2-d or two 3-d tensors, got shapes "
                               f"{tuple(a.shape)} and {tuple(b.shape)}")
        a = a.transpose(-1, -2) if self.transA else a
        b = b.transpose(-1, -2) if self.transB else b
        return a, b

    def updateOutput(self, input):
        a, b = self._operands(input)
        self.output = a @ b
        return self.output

    def updateGradInput(self, input, gradOutput):
        a, b = self._operands(input)
        ga = gradOutput @ b.transpose(-1, -2)
        gb = a.transpose(-1, -2) @ gradOutput
        self.gradInput = [ga.transpose(-1, -2) if self.transA else ga,
                          gb.transpose(-1, -2) if self.transB else gb]
        return self.gradInput


def _safe_div(num, den):
    """``num / den`` with zero where ``den`` is zero (distances at coincident points)."""
    zero = den == 0
    return ember.where(zero, ember.zeros_like(num), num / ember.where(zero, 1.0, den))


class Euclidean(Module):
    """``y_j = || x - w_j ||_2`` for each column ``w_j`` of ``weight`` (``(inputSize,
    outputSize)``)."""

    def __init__(self, inputSize: int, outputSize: int):
        super().__init__()
        self.weight = ember.empty(inputSize, outputSize)
        self.gradWeight = ember.zeros(inputSize, outputSize)
        self.reset()

    def reset(self, stdv: float | None = None) -> None:
        stdv = 1 / math.sqrt(self.weight.shape[0]) if stdv is None else stdv * math.sqrt(3)
        _uniform(self.weight, stdv)

    def _diff(self, input):
        x = input.reshape(-1, self.weight.shape[0], 1)
        return x - self.weight.unsqueeze(0)  # (N, in, out)

    def updateOutput(self, input):
        d = self._diff(input)
        out = (d * d).sum(1).sqrt()
        self.output = out.reshape(-1) if input.dim() == 1 else out
        return self.output

    def _scaled(self, input, gradOutput):
        d = self._diff(input)
        y = self.output.reshape(-1, 1, self.weight.shape[1])
        return _safe_div(d * gradOutput.reshape(y.shape), y)

    def updateGradInput(self, input, gradOutput):
        self.gradInput = self._scaled(input, gradOutput).sum(2).reshape(input.shape)
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale: float = 1) -> None:
        self.gradWeight.add_(self._scaled(input, gradOutput).sum(0), alpha=-scale)


class Cosine(Module):
    """Cosine similarity of the input with each row of ``weight`` (``(outputSize,
    inputSize)``)."""

    def __init__(self, inputSize: int, outputSize: int):
        super().__init__()
        self.weight = ember.empty(outputSize, inputSize)
        self.gradWeight = ember.zeros(outputSize, inputSize)
        self.reset()

    def reset(self, stdv: float | None = None) -> None:
        stdv = 1 / math.sqrt(self.weight.shape[0]) if stdv is None else stdv * math.sqrt(3)
        _uniform(self.weight, stdv)

    def _parts(self, input):
        x = input.reshape(-1, self.weight.shape[1])
        nx = x.norm(2, 1, keepdim=True).clamp(min=1e-12)
        nw = self.weight.norm(2, 1, keepdim=True).clamp(min=1e-12)
        return x, nx, nw

    def updateOutput(self, input):
        x, nx, nw = self._parts(input)
        out = (x @ self.weight.t()) / (nx * nw.t())
        self.output = out.reshape(-1) if input.dim() == 1 else out
        return self.output

    def updateGradInput(self, input, gradOutput):
        x, nx, nw = self._parts(input)
        g = gradOutput.reshape(-1, self.weight.shape[0])
        y = self.output.reshape(g.shape)
        gx = (g / nw.t()) @ self.weight / nx - (g * y).sum(1, keepdim=True) * x / (nx * nx)
        self.gradInput = gx.reshape(input.shape)
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale: float = 1) -> None:
        x, nx, nw = self._parts(input)
        g = gradOutput.reshape(-1, self.weight.shape[0])
        y = self.output.reshape(g.shape)
        gw = (g / nx).t() @ x / nw - (g * y).sum(0).unsqueeze(1) * self.weight / (nw * nw)
        self.gradWeight.add_(gw, alpha=scale)


class PairwiseDistance(Module):
    """``|| x1 - x2 ||_p`` per row of a list input ``[x1, x2]``."""

    def __init__(self, p: float):
        super().__init__()
        self.norm = p

    def updateOutput(self, input):
        x1, x2 = input
        self.output = (x1 - x2).norm(self.norm, x1.dim() - 1)
        return self.output

    def updateGradInput(self, input, gradOutput):
        x1, x2 = input
        d = x1 - x2
        p = self.norm
        y = self.output.unsqueeze(-1)
        g = gradOutput.unsqueeze(-1)
        if p == 1:
            gx = g * d.sign()
        else:
            gx = _safe_div(g * d.sign() * d.abs().pow(p - 1), y.pow(p - 1))
        self.gradInput = [gx, -gx]
        return self.gradInput


class Normalize(Module):
    """Divides each row (1-d or 2-d input) by ``(sum |x|^p + eps)^(1/p)``."""

    def __init__(self, p: float, eps: float = 1e-10):
        super().__init__()
        if not 0 < p < math.inf:
            raise ValueError(f"Normalize: p must be positive and finite, got {p}")
        self.p = p
        self.eps = eps

    def _norm(self, x):
        return (x.abs().pow(self.p).sum(-1, keepdim=True) + self.eps).pow(1 / self.p)

    def updateOutput(self, input):
        self.output = input / self._norm(input)
        return self.output

    def updateGradInput(self, input, gradOutput):
        n = self._norm(input)
        dn = input.sign() * input.abs().pow(self.p - 1) * n.pow(1 - self.p)  # d norm / d x
        dot = (gradOutput * input).sum(-1, keepdim=True)
        self.gradInput = gradOutput / n - dot * dn / (n * n)
        return self.gradInput
