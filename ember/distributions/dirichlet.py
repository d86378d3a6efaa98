"""Dirichlet distribution over the probability simplex."""
from __future__ import annotations

import ember
from ember._tensor import Tensor
from ember.distributions import constraints
from ember.distributions.exp_family import ExponentialFamily

__all__ = ["Dirichlet"]


class Dirichlet(ExponentialFamily):
    """Dirichlet distribution: density ``prod_i x_i^(c_i - 1) / B(c)`` on the simplex.

    Args:
        concentration (Tensor): concentration parameters (alpha), positive, at least 1-D;
            the last dim is the event dim.

    Example:
        >>> m = Dirichlet(ember.tensor([0.5, 0.5]))
        >>> m.sample().sum()
        tensor(1.)
    """

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration, validate_args: bool | None = None) -> None:
        if concentration.dim() < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        batch_shape, event_shape = concentration.shape[:-1], concentration.shape[-1:]
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> "Dirichlet":
        new = self._expand_params(Dirichlet, batch_shape, _instance)
        new.concentration = self.concentration.expand(new.batch_shape + self.event_shape)
        return new

    def rsample(self, sample_shape=()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        return ember._sample_dirichlet(self.concentration.expand(shape))

    def log_prob(self, value) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        c = self.concentration
        return (ember.xlogy(c - 1.0, value).sum(-1) + ember.lgamma(c.sum(-1))
                - ember.lgamma(c).sum(-1))

    @property
    def mean(self) -> Tensor:
        return self.concentration / self.concentration.sum(-1, True)

    @property
    def mode(self) -> Tensor:
        excess = (self.concentration - 1).clamp(min=0.0)
        mode = excess / excess.sum(-1, True)
        # With every concentration below 1 the density peaks at the vertex of the largest.
        vertex = ember.nn.functional.one_hot(excess.argmax(-1), excess.shape[-1]).to(mode)
        return ember.where((self.concentration < 1).all(-1, keepdim=True), vertex, mode)

    @property
    def variance(self) -> Tensor:
        c = self.concentration
        total = c.sum(-1, True)
        return c * (total - c) / (total.pow(2) * (total + 1))

    def entropy(self) -> Tensor:
        c = self.concentration
        k = c.size(-1)
        total = c.sum(-1)
        return (ember.lgamma(c).sum(-1) - ember.lgamma(total)
                - (k - total) * ember.digamma(total) - ((c - 1.0) * ember.digamma(c)).sum(-1))

    @property
    def _natural_params(self) -> tuple:
        return (self.concentration,)

    def _log_normalizer(self, x) -> Tensor:
        return x.lgamma().sum(-1) - ember.lgamma(x.sum(-1))
