"""Distribution, Normal, Uniform, Bernoulli, Categorical: sample, rsample, log_prob, entropy.

Samples are drawn from ember's default generator; ``rsample`` is reparameterised, so gradients
flow to the parameters (``loc + scale * eps``).
"""
from __future__ import annotations

import math

import ember
from ember._tensor import Tensor


def _as_tensor(x, like=None) -> Tensor:
    if isinstance(x, Tensor):
        return x
    dtype = like.dtype if like is not None else ember.get_default_dtype()
    return ember.tensor(x, dtype=dtype)


def _shape(sample_shape) -> tuple:
    return tuple(sample_shape) if not isinstance(sample_shape, int) else (sample_shape,)


class Distribution:
    """Base class: ``batch_shape``, ``event_shape``, ``sample``, ``log_prob``, ``entropy``."""

    has_rsample = False

    def __init__(self, batch_shape=(), event_shape=(), validate_args=None):
        self._batch_shape = ember.Size(batch_shape)
        self._event_shape = ember.Size(event_shape)

    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def event_shape(self):
        return self._event_shape

    def sample(self, sample_shape=()) -> Tensor:
        with ember.no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=()) -> Tensor:
        raise NotImplementedError

    def log_prob(self, value: Tensor) -> Tensor:
        raise NotImplementedError

    def entropy(self) -> Tensor:
        raise NotImplementedError

    @property
    def stddev(self) -> Tensor:
        return self.variance.sqrt()

    def _extended_shape(self, sample_shape=()) -> tuple:
        return _shape(sample_shape) + tuple(self._batch_shape) + tuple(self._event_shape)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Normal(Distribution):
    """Normal(loc, scale)."""

    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc = _as_tensor(loc)
        self.scale = _as_tensor(scale, self.loc)
        self.loc, self.scale = ember.broadcast_tensors(self.loc, self.scale)
        super().__init__(self.loc.shape)

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        return self.scale ** 2

    def rsample(self, sample_shape=()) -> Tensor:
        eps = ember.randn(self._extended_shape(sample_shape), dtype=self.loc.dtype)
        return self.loc + eps * self.scale

    def log_prob(self, value) -> Tensor:
        value = _as_tensor(value, self.loc)
        var = self.scale ** 2
        return -((value - self.loc) ** 2) / (2 * var) - self.scale.log() - math.log(
            math.sqrt(2 * math.pi))

    def entropy(self) -> Tensor:
        return 0.5 + 0.5 * math.log(2 * math.pi) + self.scale.log()

    def cdf(self, value) -> Tensor:
        value = _as_tensor(value, self.loc)
        return 0.5 * (1 + ((value - self.loc) / (self.scale * math.sqrt(2))).erf())


class Uniform(Distribution):
    """Uniform(low, high) on [low, high)."""

    has_rsample = True

    def __init__(self, low, high, validate_args=None):
        self.low = _as_tensor(low)
        self.high = _as_tensor(high, self.low)
        self.low, self.high = ember.broadcast_tensors(self.low, self.high)
        super().__init__(self.low.shape)

    @property
    def mean(self) -> Tensor:
        return (self.low + self.high) / 2

    @property
    def variance(self) -> Tensor:
        return (self.high - self.low) ** 2 / 12

    def rsample(self, sample_shape=()) -> Tensor:
        u = ember.rand(self._extended_shape(sample_shape), dtype=self.low.dtype)
        return self.low + u * (self.high - self.low)

    def log_prob(self, value) -> Tensor:
        value = _as_tensor(value, self.low)
        inside = (value >= self.low) & (value < self.high)
        lp = -(self.high - self.low).log()
        return ember.where(inside, lp, ember.full_like(lp, -math.inf))

    def entropy(self) -> Tensor:
        return (self.high - self.low).log()


class Bernoulli(Distribution):
    """Bernoulli with ``probs`` or ``logits``."""

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            self.probs = _as_tensor(probs)
            eps = ember.finfo(self.probs.dtype).eps
            clamped = self.probs.clamp(eps, 1 - eps)
            self.logits = clamped.log() - (1 - clamped).log()
        else:
            self.logits = _as_tensor(logits)
            self.probs = self.logits.sigmoid()
        super().__init__(self.probs.shape)

    @property
    def mean(self) -> Tensor:
        return self.probs

    @property
    def variance(self) -> Tensor:
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()) -> Tensor:
        with ember.no_grad():
            p = self.probs.expand(self._extended_shape(sample_shape))
            return ember.bernoulli(p)

    def log_prob(self, value) -> Tensor:
        value = _as_tensor(value, self.logits)
        # -BCE with logits, written stably: v*l - softplus(l)
        l = self.logits
        return value * l - (l.clamp(min=0) + (-l.abs()).exp().log1p())

    def entropy(self) -> Tensor:
        l = self.logits
        softplus = l.clamp(min=0) + (-l.abs()).exp().log1p()
        return softplus - self.probs * l


class Categorical(Distribution):
    """Categorical over the last dim of ``probs`` (normalised) or ``logits``."""

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            probs = _as_tensor(probs)
            self.probs = probs / probs.sum(-1, keepdim=True)
            self.logits = self.probs.clamp(min=ember.finfo(self.probs.dtype).tiny).log()
        else:
            logits = _as_tensor(logits)
            self.logits = logits - logits.logsumexp(-1, keepdim=True)
            self.probs = self.logits.exp()
        self._num_events = self.probs.shape[-1]
        super().__init__(self.probs.shape[:-1])

    @property
    def param_shape(self):
        return self.probs.shape

    @property
    def mean(self) -> Tensor:
        return ember.full(tuple(self._batch_shape), math.nan, dtype=self.probs.dtype)

    def sample(self, sample_shape=()) -> Tensor:
        shape = _shape(sample_shape)
        n = 1
        for s in shape:
            n *= s
        flat = self.probs.detach().reshape(-1, self._num_events)
        draws = ember.multinomial(flat, n, replacement=True)  # (batch, n)
        return draws.t().reshape(shape + tuple(self._batch_shape))

    def log_prob(self, value) -> Tensor:
        value = _as_tensor(value).long()
        logits = self.logits
        if value.ndim > logits.ndim - 1:
            logits = logits.expand(tuple(value.shape) + (self._num_events,))
        else:
            value = value.expand(tuple(self._batch_shape))
        return logits.gather(-1, value.unsqueeze(-1)).squeeze(-1)

    def entropy(self) -> Tensor:
        min_real = ember.finfo(self.logits.dtype).min
        logits = self.logits.clamp(min=min_real)
        return -(logits * self.probs).sum(-1)


def kl_divergence(p: Distribution, q: Distribution) -> Tensor:
    """KL(p || q) for Normal/Normal, Categorical/Categorical and Bernoulli/Bernoulli pairs."""
    if isinstance(p, Normal) and isinstance(q, Normal):
        var_ratio = (p.scale / q.scale) ** 2
        t1 = ((p.loc - q.loc) / q.scale) ** 2
        return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())
    if isinstance(p, Categorical) and isinstance(q, Categorical):
        return (p.probs * (p.logits - q.logits)).sum(-1)
    if isinstance(p, Bernoulli) and isinstance(q, Bernoulli):
        return p.probs * (p.probs.log() - q.probs.log()) + (1 - p.probs) * (
            (1 - p.probs).log() - (1 - q.probs).log())
    raise NotImplementedError(f"kl_divergence({type(p).__name__}, {type(q).__name__})")
