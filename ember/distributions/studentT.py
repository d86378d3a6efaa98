"""Student's t-distribution."""
from __future__ import annotations

import math

import ember
from ember._tensor import Tensor
from ember.distributions import constraints
from ember.distributions.chi2 import Chi2
from ember.distributions.distribution import Distribution
from ember.distributions.utils import _standard_normal, broadcast_all

__all__ = ["StudentT"]


class StudentT(Distribution):
    """Student's t-distribution with ``df`` degrees of freedom, location ``loc`` and scale
    ``scale``.

    Args:
        df (float or Tensor): degrees of freedom, positive.
        loc (float or Tensor): location.
        scale (float or Tensor): scale, positive.

    Example:
        >>> m = StudentT(ember.tensor([2.0]))
        >>> m.sample().shape
        torch.Size([1])
    """

    arg_constraints = {"df": constraints.positive, "loc": constraints.real,
                       "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    @property
    def mean(self) -> Tensor:
        return ember.where(self.df > 1, self.loc, ember.full_like(self.loc, math.nan))

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        df = self.df
        finite = self.scale.pow(2) * df / (df - 2)
        return ember.where(df > 2, finite, ember.where(
            df > 1, ember.full_like(df, math.inf), ember.full_like(df, math.nan)))

    def __init__(self, df, loc=0.0, scale=1.0, validate_args: bool | None = None) -> None:
        self.df, self.loc, self.scale = broadcast_all(df, loc, scale)
        self._chi2 = Chi2(self.df)
        super().__init__(self._chi2._batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> "StudentT":
        return self._expand_params(StudentT, batch_shape, _instance, "df", "loc", "scale", "_chi2")

    def rsample(self, sample_shape=ember.Size()) -> Tensor:
        # X ~ Normal(0, 1), Z ~ Chi2(df): X / sqrt(Z / df) ~ StudentT(df).
        shape = self._extended_shape(sample_shape)
        x = _standard_normal(shape, dtype=self.df.dtype, device=self.df.device)
        z = self._chi2.rsample(sample_shape)
        return self.loc + self.scale * x * ember.rsqrt(z / self.df)

    def log_prob(self, value) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        y = (value - self.loc) / self.scale
        log_norm = (self.scale.log() + 0.5 * self.df.log() + 0.5 * math.log(math.pi)
                    + ember.lgamma(0.5 * self.df) - ember.lgamma(0.5 * (self.df + 1.0)))
        return -0.5 * (self.df + 1.0) * ember.log1p(y.pow(2) / self.df) - log_norm

    def entropy(self) -> Tensor:
        half_df = 0.5 * self.df
        log_beta = ember.lgamma(half_df) + math.lgamma(0.5) - ember.lgamma(half_df + 0.5)
        return (self.scale.log()
                + (half_df + 0.5) * (ember.digamma(half_df + 0.5) - ember.digamma(half_df))
                + 0.5 * self.df.log() + log_beta)
