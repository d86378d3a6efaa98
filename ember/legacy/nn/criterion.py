"""Legacy losses. ``forward`` returns a Python float, ``backward`` the gradient with respect to
the input. Class targets are 0-based, as in PyTorch 0.3's ``torch.legacy``."""
from __future__ import annotations

import ember
from ember.legacy.nn.activation import LogSoftMax
from ember.legacy.nn.module import Criterion


def _count(input, sizeAverage: bool) -> float:
    return float(input.numel()) if sizeAverage else 1.0


class MSECriterion(Criterion):
    """``sum((input - target)^2)``, averaged over elements with ``sizeAverage``."""

    def __init__(self, sizeAverage: bool = True):
        super().__init__()
        self.sizeAverage = sizeAverage

    def updateOutput(self, input, target):
        d = input - target
        self.output = (d * d).sum().item() / _count(input, self.sizeAverage)
        return self.output

    def updateGradInput(self, input, target):
        self.gradInput = (input - target) * (2 / _count(input, self.sizeAverage))
        return self.gradInput


class AbsCriterion(Criterion):
    """``sum(|input - target|)``, averaged with ``sizeAverage``."""

    def __init__(self, sizeAverage: bool = True):
        super().__init__()
        self.sizeAverage = sizeAverage

    def updateOutput(self, input, target):
        self.output = (input - target).abs().sum().item() / _count(input, self.sizeAverage)
        return self.output

    def updateGradInput(self, input, target):
        self.gradInput = (input - target).sign() / _count(input, self.sizeAverage)
        return self.gradInput


class SmoothL1Criterion(Criterion):
    """Huber loss with threshold 1: ``0.5 d^2`` for ``|d| < 1``, else ``|d| - 0.5``."""

    def __init__(self, sizeAverage: bool = True):
        super().__init__()
        self.sizeAverage = sizeAverage

    def updateOutput(self, input, target):
        d = (input - target).abs()
        loss = ember.where(d < 1, 0.5 * d * d, d - 0.5)
        self.output = loss.sum().item() / _count(input, self.sizeAverage)
        return self.output

    def updateGradInput(self, input, target):
        d = input - target
        self.gradInput = d.clamp(-1, 1) / _count(input, self.sizeAverage)
        return self.gradInput


class ClassNLLCriterion(Criterion):
    """``-input[target]`` (weighted by ``weights[target]``) for log-probabilities ``(C)`` or
    ``(N, C)``; with ``sizeAverage`` divided by the total weight. ``ignore_index`` targets
    contribute nothing."""

    def __init__(self, weights=None, sizeAverage: bool = True, ignore_index: int = -100):
        super().__init__()
        if weights is not None and weights.dim() != 1:
            raise ValueError("ClassNLLCriterion: weights must be 1-d")
        self.weights = weights
        self.sizeAverage = sizeAverage
        self.ignore_index = ignore_index

    def _parts(self, input, target):
        x = input.reshape(1, -1) if input.dim() == 1 else input
        t = target.long().reshape(-1)
        if t.shape[0] != x.shape[0]:
            raise ValueError(f"ClassNLLCriterion: {t.shape[0]} targets for a batch of "
                             f"{x.shape[0]}")
        keep = t != self.ignore_index
        safe = ember.where(keep, t, ember.zeros_like(t))
        if safe.numel() and (int(safe.min()) < 0 or int(safe.max()) >= x.shape[1]):
            raise IndexError(f"ClassNLLCriterion: target out of range [0, {x.shape[1]})")
        w = keep.to(x.dtype)
        if self.weights is not None:
            w = w * self.weights.to(x.dtype)[safe]
        total = w.sum().item() if self.sizeAverage else 1.0
        return x, safe, w, total

    def updateOutput(self, input, target):
        x, t, w, total = self._parts(input, target)
        picked = x.gather(1, t.unsqueeze(1)).squeeze(1)
        self.output = -(picked * w).sum().item() / total if total else 0.0
        return self.output

    def updateGradInput(self, input, target):
        x, t, w, total = self._parts(input, target)
        grad = ember.zeros_like(x)
        if total:
            grad.scatter_(1, t.unsqueeze(1), (-w / total).unsqueeze(1))
        self.gradInput = grad.reshape(input.shape)
        return self.gradInput


class CrossEntropyCriterion(Criterion):
    """:class:`LogSoftMax` followed by :class:`ClassNLLCriterion`."""

    def __init__(self, weights=None, sizeAverage: bool = True):
        super().__init__()
        self.lsm = LogSoftMax()
        self.nll = ClassNLLCriterion(weights, sizeAverage)

    def updateOutput(self, input, target):
        self.output = self.nll.updateOutput(self.lsm.updateOutput(input), target)
        return self.output

    def updateGradInput(self, input, target):
        g = self.nll.updateGradInput(self.lsm.output, target)
        self.gradInput = self.lsm.updateGradInput(input, g)
        return self.gradInput


class BCECriterion(Criterion):
    """``-w (t log(x + eps) + (1 - t) log(1 - x + eps))`` for probabilities ``x``."""

    eps = 1e-12

    def __init__(self, weights=None, sizeAverage: bool = True):
        super().__init__()
        self.weights = weights
        self.sizeAverage = sizeAverage

    def updateOutput(self, input, target):
        e = self.eps
        loss = -(target * (input + e).log() + (1 - target) * (1 - input + e).log())
        if self.weights is not None:
            loss = loss * self.weights
        self.output = loss.sum().item() / _count(input, self.sizeAverage)
        return self.output

    def updateGradInput(self, input, target):
        e = self.eps
        grad = (input - target) / ((1 - input + e) * (input + e))
        if self.weights is not None:
            grad = grad * self.weights
        self.gradInput = grad / _count(input, self.sizeAverage)
        return self.gradInput


class DistKLDivCriterion(Criterion):
    """``sum(t (log t - x))`` over ``t > 0`` for log-probabilities ``x``."""

    def __init__(self, sizeAverage: bool = True):
        super().__init__()
        self.sizeAverage = sizeAverage

    def updateOutput(self, input, target):
        pos = target > 0
        safe = ember.where(pos, target, ember.ones_like(target))
        loss = ember.where(pos, target * (safe.log() - input), ember.zeros_like(input))
        self.output = loss.sum().item() / _count(input, self.sizeAverage)
        return self.output

    def updateGradInput(self, input, target):
        grad = ember.where(target > 0, -target, ember.zeros_like(target))
        self.gradInput = grad / _count(input, self.sizeAverage)
        return self.gradInput


class MarginCriterion(Criterion):
    """Two-class hinge loss ``max(0, margin - y x)`` for targets ``y`` in {-1, 1}."""

    def __init__(self, margin: float = 1, sizeAverage: bool = True):
        super().__init__()
        self.margin = margin
        self.sizeAverage = sizeAverage

    def updateOutput(self, input, target):
        loss = (self.margin - input * target).clamp(min=0)
        self.output = loss.sum().item() / _count(input, self.sizeAverage)
        return self.output

    def updateGradInput(self, input, target):
        active = (self.margin - input * target > 0).to(input.dtype)
        self.gradInput = -target * active / _count(input, self.sizeAverage)
        return self.gradInput


class MultiMarginCriterion(Criterion):
    """Multi-class hinge loss ``sum_{i != y} max(0, margin - x[y] + x[i])^p / C`` (``p`` 1 or
    2, optionally weighted by ``weights[y]``)."""

    def __init__(self, p: int = 1, weights=None, margin: float = 1, sizeAverage: bool = True):
        super().__init__()
        if p not in (1, 2):
            raise ValueError("MultiMarginCriterion: only p = 1 and p = 2 are supported")
        self.p = p
        self.weights = weights
        self.margin = margin
        self.sizeAverage = sizeAverage

    def _parts(self, input, target):
        x = input.reshape(1, -1) if input.dim() == 1 else input
        t = target.long().reshape(-1, 1)
        z = self.margin - x.gather(1, t) + x
        other = ember.ones_like(x).scatter_(1, t, ember.zeros_like(t, dtype=x.dtype))
        active = (z > 0).to(x.dtype) * other
        scale = ember.ones_like(z[:, :1]) if self.weights is None else self.weights[t]
        n = x.shape[1] * (x.shape[0] if self.sizeAverage else 1)
        return x, t, z, active, scale / n

    def updateOutput(self, input, target):
        _, _, z, active, scale = self._parts(input, target)
        self.output = (z.pow(self.p) * active * scale).sum().item()
        return self.output

    def updateGradInput(self, input, target):
        x, t, z, active, scale = self._parts(input, target)
        g = active * scale * (1 if self.p == 1 else 2 * z)
        g = g.scatter_add(1, t, -g.sum(1, keepdim=True))
        self.gradInput = g.reshape(input.shape)
        return self.gradInput


class HingeEmbeddingCriterion(Criterion):
    """``x`` for ``y = 1`` and ``max(0, margin - x)`` for ``y = -1``."""

    def __init__(self, margin: float = 1, sizeAverage: bool = True):
        super().__init__()
        self.margin = margin
        self.sizeAverage = sizeAverage

    def updateOutput(self, input, target):
        loss = ember.where(target == 1, input, (self.margin - input).clamp(min=0))
        self.output = loss.sum().item() / _count(input, self.sizeAverage)
        return self.output

    def updateGradInput(self, input, target):
        neg = ((target == -1) & (self.margin - input > 0)).to(input.dtype)
        grad = (target == 1).to(input.dtype) - neg
        self.gradInput = grad / _count(input, self.sizeAverage)
        return self.gradInput


class CosineEmbeddingCriterion(Criterion):
    """``1 - cos(x1, x2)`` for ``y = 1``, ``max(0, cos(x1, x2) - margin)`` for ``y = -1``, on a
    list input ``[x1, x2]`` of ``(N, D)`` rows."""

    eps = 1e-12

    def __init__(self, margin: float = 0, sizeAverage: bool = True):
        super().__init__()
        self.margin = margin
        self.sizeAverage = sizeAverage

    def _cos(self, input):
        x1, x2 = input
        n1 = (x1 * x1).sum(-1) + self.eps
        n2 = (x2 * x2).sum(-1) + self.eps
        return (x1 * x2).sum(-1) / (n1 * n2).sqrt(), n1, n2

    def updateOutput(self, input, target):
        cos = self._cos(input)[0]
        loss = ember.where(target == 1, 1 - cos, (cos - self.margin).clamp(min=0))
        self.output = loss.sum().item() / (cos.numel() if self.sizeAverage else 1)
        return self.output

    def updateGradInput(self, input, target):
        x1, x2 = input
        cos, n1, n2 = self._cos(input)
        # d cos / d cos-coefficient per row: -1 for y = 1, +1 for active y = -1 rows
        coef = ember.where(target == 1, -ember.ones_like(cos),
                           ((cos - self.margin) > 0).to(cos.dtype))
        coef = (coef / (cos.numel() if self.sizeAverage else 1)).unsqueeze(-1)
        denom = (n1 * n2).sqrt().unsqueeze(-1)
        c = cos.unsqueeze(-1)
        g1 = x2 / denom - c * x1 / n1.unsqueeze(-1)
        g2 = x1 / denom - c * x2 / n2.unsqueeze(-1)
        self.gradInput = [coef * g1, coef * g2]
        return self.gradInput


class MarginRankingCriterion(Criterion):
    """``max(0, -y (x1 - x2) + margin)`` for a list input ``[x1, x2]``."""

    def __init__(self, margin: float = 0, sizeAverage: bool = True):
        super().__init__()
        self.margin = margin
        self.sizeAverage = sizeAverage

    def updateOutput(self, input, target):
        x1, x2 = input
        loss = (-target * (x1 - x2) + self.margin).clamp(min=0)
        self.output = loss.sum().item() / _count(x1, self.sizeAverage)
        return self.output

    def updateGradInput(self, input, target):
        x1, x2 = input
        active = ((-target * (x1 - x2) + self.margin) > 0).to(x1.dtype)
        g = -target * active / _count(x1, self.sizeAverage)
        self.gradInput = [g, -g]
        return self.gradInput


class MultiCriterion(Criterion):
    """A weighted sum of criterions applied to the same input and target."""

    def __init__(self):
        super().__init__()
        self.criterions = []
        self.weights = []

    def add(self, criterion: Criterion, weight: float = 1) -> MultiCriterion:
        """Add ``criterion`` with ``weight``; returns self."""
        self.criterions.append(criterion)
        self.weights.append(weight)
        return self

    def updateOutput(self, input, target):
        self.output = sum(w * c.updateOutput(input, target)
                          for c, w in zip(self.criterions, self.weights))
        return self.output

    def updateGradInput(self, input, target):
        grad = None
        for c, w in zip(self.criterions, self.weights):
            g = c.updateGradInput(input, target) * w
            grad = g if grad is None else grad.add_(g)
        self.gradInput = grad
        return self.gradInput


class ParallelCriterion(Criterion):
    """A weighted sum of criterions, criterion ``i`` applied to ``input[i]`` and ``target[i]``
    (or to the whole target with ``repeatTarget``)."""

    def __init__(self, repeatTarget: bool = False):
        super().__init__()
        self.criterions = []
        self.weights = []
        self.repeatTarget = repeatTarget

    def add(self, criterion: Criterion, weight: float = 1) -> ParallelCriterion:
        """Add ``criterion`` with ``weight``; returns self."""
        self.criterions.append(criterion)
        self.weights.append(weight)
        return self

    def _target(self, target, i):
        return target if self.repeatTarget else target[i]

    def updateOutput(self, input, target):
        self.output = sum(w * c.updateOutput(input[i], self._target(target, i))
                          for i, (c, w) in enumerate(zip(self.criterions, self.weights)))
        return self.output

    def updateGradInput(self, input, target):
        grads = []
        for i, (c, w) in enumerate(zip(self.criterions, self.weights)):
            g = c.updateGradInput(input[i], self._target(target, i))
            grads.append([x * w for x in g] if isinstance(g, list) else g * w)
        self.gradInput = grads
        return self.gradInput


class CriterionTable(Criterion):
    """Wraps a criterion so that it takes one list input ``[input, target]`` (the second
    argument of ``forward`` / ``backward`` is ignored)."""

    def __init__(self, criterion: Criterion):
        super().__init__()
        self.criterion = criterion

    def updateOutput(self, input, target=None):
        self.output = self.criterion.updateOutput(input[0], input[1])
        return self.output

    def updateGradInput(self, input, target=None):
        g = self.criterion.updateGradInput(input[0], input[1])
        self.gradInput = [g, ember.zeros_like(input[1], dtype=g.dtype)]
        return self.gradInput

    def forward(self, input, target=None):
        return super().forward(input, target)

    def backward(self, input, target=None):
        return super().backward(input, target)
