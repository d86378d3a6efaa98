"""Generalized Pareto distribution."""
from __future__ import annotations

import math

import ember
from ember._tensor import Tensor
from ember.distributions import constraints
from ember.distributions.distribution import Distribution
from ember.distributions.utils import broadcast_all

__all__ = ["GeneralizedPareto"]


class GeneralizedPareto(Distribution):
    """Generalized Pareto distribution with ``loc``, ``scale`` and ``concentration`` ``c``:
    survival ``(1 + c z) ** (-1/c)`` for ``z = (x - loc) / scale`` (``exp(-z)`` at ``c = 0``).
    The support is ``[loc, inf)`` for ``c >= 0`` and ``[loc, loc - scale / c]`` for ``c < 0``.

    Example:
        >>> GeneralizedPareto(0.0, 1.0, 0.5).sample().shape
        torch.Size([])
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive,
                       "concentration": constraints.real}
    has_rsample = True

    def __init__(self, loc, scale, concentration, validate_args: bool | None = None) -> None:
        self.loc, self.scale, self.concentration = broadcast_all(loc, scale, concentration)
        super().__init__(self.loc.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> "GeneralizedPareto":
        return self._expand_params(GeneralizedPareto, batch_shape, _instance,
                                   "loc", "scale", "concentration")

    def _z(self, x: Tensor) -> Tensor:
        return (x - self.loc) / self.scale

    def _safe_concentration(self) -> tuple:
        # c = 0 is the exponential limit; a placeholder c keeps the other branch finite
        eq_zero = ember.isclose(self.concentration, ember.zeros_like(self.concentration))
        return eq_zero, ember.where(eq_zero, ember.ones_like(self.concentration),
                                    self.concentration)

    def rsample(self, sample_shape=ember.Size()) -> Tensor:
        shape = tuple(self._extended_shape(sample_shape))
        u = ember.rand(shape, dtype=self.loc.dtype, device=self.loc.device)
        return self.icdf(u)

    def log_prob(self, value) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        z = self._z(value)
        eq_zero, safe_conc = self._safe_concentration()
        y = 1 / safe_conc + 1
        logp = ember.where(eq_zero, -z, -y * ember.log1p(safe_conc * z))
        return logp - self.scale.log()

    def log_survival_function(self, value) -> Tensor:
        """``log P(X > value)``."""
        if self._validate_args:
            self._validate_sample(value)
        z = self._z(value)
        eq_zero, safe_conc = self._safe_concentration()
        return ember.where(eq_zero, -z, -ember.log1p(safe_conc * z) / safe_conc)

    def log_cdf(self, value) -> Tensor:
        """``log P(X <= value)``."""
        return ember.log1p(-ember.exp(self.log_survival_function(value)))

    def cdf(self, value) -> Tensor:
        return ember.exp(self.log_cdf(value))

    def icdf(self, value) -> Tensor:
        eq_zero, safe_conc = self._safe_concentration()
        log1m_value = ember.log1p(-value)
        z = ember.where(eq_zero, -log1m_value, ember.expm1(-safe_conc * log1m_value) / safe_conc)
        return self.loc + self.scale * z

    @property
    def mean(self) -> Tensor:
        conc = self.concentration
        valid = conc < 1
        safe_conc = ember.where(valid, conc, ember.zeros_like(conc))
        result = self.loc + self.scale / (1 - safe_conc)
        return ember.where(valid, result, ember.full_like(result, math.nan))

    @property
    def variance(self) -> Tensor:
        conc = self.concentration
        valid = conc < 0.5
        safe_conc = ember.where(valid, conc, ember.zeros_like(conc))
        result = self.scale ** 2 / ((1 - safe_conc) ** 2 * (1 - 2 * safe_conc))
        return ember.where(valid, result, ember.full_like(result, math.nan))

    @property
    def mode(self) -> Tensor:
        return self.loc

    def entropy(self) -> Tensor:
        return ember.log(self.scale) + self.concentration + 1

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        lower = self.loc
        upper = ember.where(self.concentration < 0, lower - self.scale / self.concentration,
                            ember.full_like(lower, math.inf))
        return constraints.interval(lower, upper)
