"""Fisher-Snedecor (F) distribution."""
from __future__ import annotations

import math

import ember
from ember._tensor import Tensor
from ember.distributions import constraints
from ember.distributions.distribution import Distribution
from ember.distributions.gamma import Gamma
from ember.distributions.utils import broadcast_all

__all__ = ["FisherSnedecor"]


class FisherSnedecor(Distribution):
    """Fisher-Snedecor distribution with ``df1`` and ``df2`` degrees of freedom: the ratio
    ``(X1 / df1) / (X2 / df2)`` of independent chi-squared variables.

    Args:
        df1 (float or Tensor): numerator degrees of freedom, positive.
        df2 (float or Tensor): denominator degrees of freedom, positive.

    Example:
        >>> m = FisherSnedecor(ember.tensor([1.0]), ember.tensor([2.0]))
        >>> m.sample().shape
        torch.Size([1])
    """

    arg_constraints = {"df1": constraints.positive, "df2": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, df1, df2, validate_args: bool | None = None) -> None:
        self.df1, self.df2 = broadcast_all(df1, df2)
        self._gamma1 = Gamma(self.df1 * 0.5, self.df1)
        self._gamma2 = Gamma(self.df2 * 0.5, self.df2)
        super().__init__(self.df1.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> "FisherSnedecor":
        return self._expand_params(FisherSnedecor, batch_shape, _instance,
                                   "df1", "df2", "_gamma1", "_gamma2")

    @property
    def mean(self) -> Tensor:
        df2 = ember.where(self.df2 > 2, self.df2, ember.full_like(self.df2, math.nan))
        return df2 / (df2 - 2)

    @property
    def mode(self) -> Tensor:
        mode = (self.df1 - 2) / self.df1 * self.df2 / (self.df2 + 2)
        return ember.where(self.df1 > 2, mode, ember.full_like(mode, math.nan))

    @property
    def variance(self) -> Tensor:
        df1 = self.df1
        df2 = ember.where(self.df2 > 4, self.df2, ember.full_like(self.df2, math.nan))
        return 2 * df2.pow(2) * (df1 + df2 - 2) / (df1 * (df2 - 2).pow(2) * (df2 - 4))

    def rsample(self, sample_shape=ember.Size()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        # X1 ~ Gamma(df1/2, df1) = Chi2(df1)/df1, likewise X2: Y = X1 / X2 ~ F(df1, df2).
        x1 = self._gamma1.rsample(sample_shape).view(shape)
        x2 = self._gamma2.rsample(sample_shape).view(shape)
        tiny = ember.finfo(x2.dtype).tiny
        x2.detach().clamp_(min=tiny)
        y = x1 / x2
        y.detach().clamp_(min=tiny)
        return y

    def log_prob(self, value) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        half1, half2 = self.df1 * 0.5, self.df2 * 0.5
        ratio = self.df1 / self.df2
        log_norm = ember.lgamma(half1 + half2) - ember.lgamma(half1) - ember.lgamma(half2)
        return (log_norm + half1 * ratio.log() + (half1 - 1) * ember.log(value)
                - (half1 + half2) * ember.log1p(ratio * value))
