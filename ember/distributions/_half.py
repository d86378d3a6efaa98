"""The shared base of HalfCauchy and HalfNormal: ``|X|`` for ``X`` from a distribution
symmetric about 0, with its density, cdf and entropy folded from those of ``X``."""
from __future__ import annotations

import math

import ember
from ember._tensor import Tensor
from ember.distributions import constraints
from ember.distributions.transformed_distribution import TransformedDistribution
from ember.distributions.transforms import AbsTransform


class _HalfSymmetric(TransformedDistribution):
    """``|X|`` for ``X ~ _base_cls(0, scale)``."""

    arg_constraints = {"scale": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True
    _base_cls: type

    def __init__(self, scale, validate_args: bool | None = None) -> None:
        base_dist = self._base_cls(0, scale, validate_args=False)
        super().__init__(base_dist, AbsTransform(), validate_args=validate_args)

    @property
    def scale(self) -> Tensor:
        return self.base_dist.scale

    @property
    def mode(self) -> Tensor:
        return ember.zeros_like(self.scale)

    def log_prob(self, value) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        # both x and -x fold onto |x|: twice the base density, none below 0
        log_prob = self.base_dist.log_prob(value) + math.log(2)
        return ember.where(value >= 0, log_prob, ember.full_like(log_prob, -math.inf))

    def cdf(self, value) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return 2 * self.base_dist.cdf(value) - 1

    def icdf(self, prob) -> Tensor:
        return self.base_dist.icdf((prob + 1) / 2)

    def entropy(self) -> Tensor:
        return self.base_dist.entropy() - math.log(2)
