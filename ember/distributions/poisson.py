"""Poisson distribution over the nonnegative integers."""
from __future__ import annotations

import ember
from ember._tensor import Tensor
from ember.distributions import constraints
from ember.distributions.exp_family import ExponentialFamily
from ember.distributions.utils import broadcast_all

__all__ = ["Poisson"]


class Poisson(ExponentialFamily):
    """Poisson distribution: ``P(k) = rate^k exp(-rate) / k!``.

    Args:
        rate (Number or Tensor): the rate (mean), nonnegative.

    Example:
        >>> m = Poisson(ember.tensor([4.0]))
        >>> m.sample().shape
        torch.Size([1])
    """

    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer

    @property
    def mean(self) -> Tensor:
        return self.rate

    @property
    def mode(self) -> Tensor:
        return self.rate.floor()

    @property
    def variance(self) -> Tensor:
        return self.rate

    def __init__(self, rate, validate_args: bool | None = None) -> None:
        (self.rate,) = broadcast_all(rate)
        super().__init__(self.rate.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> "Poisson":
        return self._expand_params(Poisson, batch_shape, _instance, "rate")

    def sample(self, sample_shape=ember.Size()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        with ember.no_grad():
            return ember.poisson(self.rate.expand(shape))

    def log_prob(self, value) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        rate, value = broadcast_all(self.rate, value)
        return value.xlogy(rate) - rate - (value + 1).lgamma()

    @property
    def _natural_params(self) -> tuple:
        return (ember.log(self.rate),)

    def _log_normalizer(self, x) -> Tensor:
        return ember.exp(x)
