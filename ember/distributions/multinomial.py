"""Multinomial distribution: category counts of ``total_count`` categorical draws."""
from __future__ import annotations

import ember
from ember._tensor import Tensor
from ember.distributions import constraints
from ember.distributions.binomial import Binomial
from ember.distributions.categorical import _OverCategorical
from ember.distributions.distribution import Distribution
from ember.distributions.utils import broadcast_all

__all__ = ["Multinomial"]


class Multinomial(_OverCategorical, Distribution):
    """Multinomial distribution over counts of ``probs.size(-1)`` categories summing to
    ``total_count``.

    Args:
        total_count (int): number of trials (``log_prob`` does not need it).
        probs (Tensor): event probabilities (normalized over the last dim).
        logits (Tensor): unnormalized log probabilities. Give exactly one of the two.

    Example:
        >>> m = Multinomial(100, ember.tensor([1.0, 1.0, 1.0, 1.0]))
        >>> m.sample().sum()
        tensor(100.)
    """

    arg_constraints = {"probs": constraints.simplex,
                       "logits": constraints.independent(constraints.real, 1)}

    @property
    def mean(self) -> Tensor:
        return self.probs * self.total_count

    @property
    def variance(self) -> Tensor:
        return self.total_count * self.probs * (1 - self.probs)

    def __init__(self, total_count: int = 1, probs=None, logits=None,
                 validate_args: bool | None = None) -> None:
        if not isinstance(total_count, int):
            raise NotImplementedError("inhomogeneous total_count is not supported")
        self.total_count = total_count
        batch_shape, event_shape = self._init_categorical(probs, logits)
        self._binomial = Binomial(total_count=total_count, probs=self.probs)
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> "Multinomial":
        new = self._expand_params(Multinomial, batch_shape, _instance, "_categorical")
        new.total_count = self.total_count
        new._binomial = self._binomial.expand(new.batch_shape + self.event_shape)
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self):
        return constraints.multinomial(self.total_count)

    def sample(self, sample_shape=ember.Size()) -> Tensor:
        sample_shape = ember.Size(sample_shape)
        draws = self._categorical.sample(ember.Size((self.total_count,)) + sample_shape)
        # The draws' leading trial dim moves last, to be counted into the event dim.
        draws = draws.permute(*range(1, draws.dim()), 0)
        counts = ember.zeros(self._extended_shape(sample_shape), dtype=draws.dtype,
                             device=draws.device)
        counts.scatter_add_(-1, draws, ember.ones_like(draws))
        return counts.type_as(self.probs)

    def entropy(self) -> Tensor:
        # An integer tensor, as torch's: lgamma(n + 1) comes out in the default dtype.
        n = ember.tensor(self.total_count, device=self.probs.device)
        term1 = n * self._categorical.entropy() - ember.lgamma(n + 1)
        # E[sum_i log(x_i!)], each x_i Binomial(n, p_i).
        support = self._binomial.enumerate_support(expand=False)[1:]
        binomial_probs = ember.exp(self._binomial.log_prob(support))
        weights = ember.lgamma(support + 1)
        return term1 + (binomial_probs * weights).sum([0, -1])

    def log_prob(self, value) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        log_factorial_n = ember.lgamma(value.sum(-1) + 1)
        log_factorial_xs = ember.lgamma(value + 1).sum(-1)
        # A category of probability 0 that was never drawn adds nothing (not 0 * -inf).
        logits = ember.where((value == 0) & (logits == -float("inf")), ember.zeros_like(logits),
                             logits)
        return log_factorial_n - log_factorial_xs + (logits * value).sum(-1)
