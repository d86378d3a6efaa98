"""Negative binomial distribution: failures before ``total_count`` successes."""
from __future__ import annotations

import ember
from ember._tensor import Tensor
from ember.distributions import constraints
from ember.distributions.distribution import Distribution
from ember.distributions.gamma import Gamma
from ember.distributions.utils import _ProbsOrLogitsParam, lazy_property

__all__ = ["NegativeBinomial"]


class NegativeBinomial(_ProbsOrLogitsParam, Distribution):
    """Negative binomial distribution: the number of successful Bernoulli trials (each with
    probability ``probs``) before ``total_count`` failures.

    Args:
        total_count (float or Tensor): failures to stop at, nonnegative (need not be an
            integer).
        probs (Tensor): success probability of each trial, in [0, 1).
        logits (Tensor): its log-odds. Give exactly one of ``probs`` and ``logits``.

    Example:
        >>> m = NegativeBinomial(ember.tensor([3.0]), ember.tensor([0.4]))
        >>> m.sample().shape
        torch.Size([1])
    """

    arg_constraints = {"total_count": constraints.greater_than_eq(0),
                       "probs": constraints.half_open_interval(0.0, 1.0),
                       "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, total_count, probs=None, logits=None,
                 validate_args: bool | None = None) -> None:
        (total_count,) = self._set_probs_or_logits(probs, logits, total_count)
        self.total_count = total_count.type_as(self._param)
        super().__init__(self._param.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> "NegativeBinomial":
        new = self._expand_params(NegativeBinomial, batch_shape, _instance, "total_count")
        self._expand_probs_or_logits(new, new.batch_shape)
        return new

    @property
    def mean(self) -> Tensor:
        return self.total_count * ember.exp(self.logits)

    @property
    def mode(self) -> Tensor:
        return ((self.total_count - 1) * self.logits.exp()).floor().clamp(min=0.0)

    @property
    def variance(self) -> Tensor:
        return self.mean / ember.sigmoid(-self.logits)

    @lazy_property
    def _gamma(self) -> Gamma:
        # The Poisson rate mixing distribution: Gamma(total_count, (1 - p) / p).
        return Gamma(concentration=self.total_count, rate=ember.exp(-self.logits),
                     validate_args=False)

    def sample(self, sample_shape=ember.Size()) -> Tensor:
        with ember.no_grad():
            return ember.poisson(self._gamma.sample(sample_shape))

    def log_prob(self, value) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        logsigmoid = ember.nn.functional.logsigmoid
        log_unnormalized = self.total_count * logsigmoid(-self.logits) + \
            value * logsigmoid(self.logits)
        log_normalization = (-ember.lgamma(self.total_count + value) + ember.lgamma(1.0 + value)
                             + ember.lgamma(self.total_count))
        # total_count = value = 0 is the certain outcome: its normalization is 0, not nan.
        log_normalization = log_normalization.masked_fill(self.total_count + value == 0.0, 0.0)
        return log_unnormalized - log_normalization
