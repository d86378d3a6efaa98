"""Binomial distribution: successes in ``total_count`` Bernoulli trials."""
from __future__ import annotations

import ember
from ember._tensor import Tensor
from ember.distributions import constraints
from ember.distributions.distribution import Distribution
from ember.distributions.utils import _ProbsOrLogitsParam

__all__ = ["Binomial"]


def _clamp_by_zero(x: Tensor) -> Tensor:
    """max(x, 0) with gradient 1/2 at 0 (as torch's, for the log_prob gradient at logits 0)."""
    return (x.clamp(min=0) + x - x.clamp(max=0)) / 2


class Binomial(_ProbsOrLogitsParam, Distribution):
    """Binomial distribution with ``total_count`` trials of success probability ``probs``.

    Args:
        total_count (int or Tensor): number of trials, a nonnegative integer.
        probs (Tensor): success probability of each trial.
        logits (Tensor): its log-odds. Give exactly one of ``probs`` and ``logits``.

    Example:
        >>> m = Binomial(100, ember.tensor([0, 0.2, 0.8, 1]))
        >>> m.sample().shape
        torch.Size([4])
    """

    arg_constraints = {"total_count": constraints.nonnegative_integer,
                       "probs": constraints.unit_interval, "logits": constraints.real}
    has_enumerate_support = True

    def __init__(self, total_count=1, probs=None, logits=None,
                 validate_args: bool | None = None) -> None:
        (total_count,) = self._set_probs_or_logits(probs, logits, total_count)
        self.total_count = total_count.type_as(self._param)
        super().__init__(self._param.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> "Binomial":
        new = self._expand_params(Binomial, batch_shape, _instance, "total_count")
        self._expand_probs_or_logits(new, new.batch_shape)
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self.total_count)

    @property
    def mean(self) -> Tensor:
        return self.total_count * self.probs

    @property
    def mode(self) -> Tensor:
        return ((self.total_count + 1) * self.probs).floor().clamp(max=self.total_count)

    @property
    def variance(self) -> Tensor:
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=ember.Size()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        with ember.no_grad():
            return ember.binomial(self.total_count.expand(shape), self.probs.expand(shape))

    def log_prob(self, value) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        n = self.total_count
        log_binom = ember.lgamma(n + 1) - ember.lgamma(value + 1) - ember.lgamma(n - value + 1)
        # n log(1 + exp(logits)), computed without overflow for large |logits|.
        log_normalizer = n * _clamp_by_zero(self.logits) + n * ember.log1p(
            ember.exp(-ember.abs(self.logits)))
        return value * self.logits + log_binom - log_normalizer

    def _homogeneous_count(self, what: str) -> int:
        total_count = int(self.total_count.max())
        if not bool(self.total_count.min() == total_count):
            raise NotImplementedError(f"Inhomogeneous total count not supported by `{what}`.")
        return total_count

    def entropy(self) -> Tensor:
        self._homogeneous_count("entropy")
        log_prob = self.log_prob(self.enumerate_support(False))
        return -(ember.exp(log_prob) * log_prob).sum(0)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        total_count = self._homogeneous_count("enumerate_support")
        return self._enumerate(ember.arange(1 + total_count, dtype=self._param.dtype,
                                            device=self._param.device), expand)
