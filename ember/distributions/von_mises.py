"""Von Mises (circular normal) distribution."""
from __future__ import annotations

import math

import ember
from ember._tensor import Tensor
from ember.distributions import constraints
from ember.distributions.distribution import Distribution
from ember.distributions.utils import _LocIsMeanAndMode, broadcast_all, lazy_property

__all__ = ["VonMises"]


def _log_i0(x: Tensor) -> Tensor:
    """``log I0(x)`` through the exponentially scaled Bessel function (no overflow)."""
    return ember.special.i0e(x).log() + x


class VonMises(_LocIsMeanAndMode, Distribution):  # the mean is the circular mean
    """Circular von Mises distribution: density ``exp(k cos(x - loc)) / (2 pi I0(k))`` on
    ``[-pi, pi)``. Sampling is the rejection method of Best & Fisher (1979), without
    reparameterized gradients.

    Args:
        loc: angle in radians.
        concentration: ``k``, positive.

    Example:
        >>> VonMises(ember.tensor([1.0]), ember.tensor([1.0])).sample().shape
        torch.Size([1])
    """

    arg_constraints = {"loc": constraints.real, "concentration": constraints.positive}
    support = constraints.real
    has_rsample = False

    def __init__(self, loc, concentration, validate_args: bool | None = None) -> None:
        self.loc, self.concentration = broadcast_all(loc, concentration)
        batch_shape = self.loc.shape
        super().__init__(batch_shape, ember.Size(), validate_args)

    def log_prob(self, value) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        log_prob = self.concentration * ember.cos(value - self.loc)
        return log_prob - math.log(2 * math.pi) - _log_i0(self.concentration)

    @lazy_property
    def _proposal_r(self) -> Tensor:
        """The wrapped-Cauchy envelope's parameter; ``1 / k`` for tiny ``k``, where the
        closed form loses all precision."""
        kappa = self.concentration.to(ember.float64)
        tau = 1 + (1 + 4 * kappa ** 2).sqrt()
        rho = (tau - (2 * tau).sqrt()) / (2 * kappa)
        proposal_r = (1 + rho ** 2) / (2 * rho)
        return ember.where(kappa < 1e-5, 1 / kappa, proposal_r)

    def sample(self, sample_shape=ember.Size()) -> Tensor:
        """Best-Fisher rejection sampling, in float64; draws until every entry is accepted."""
        shape = tuple(self._extended_shape(sample_shape))
        with ember.no_grad():
            conc = self.concentration.to(ember.float64).expand(shape)
            r = self._proposal_r.expand(shape)
            x = ember.zeros(shape, dtype=ember.float64, device=self.loc.device)
            done = ember.zeros(shape, dtype=ember.bool, device=self.loc.device)
            while not bool(done.all()):
                u = ember.rand((3,) + shape, dtype=ember.float64, device=self.loc.device)
                u1, u2, u3 = u.unbind()
                z = ember.cos(math.pi * u1)
                f = (1 + r * z) / (r + z)
                c = conc * (r - f)
                accept = ((c * (2 - c) - u2) > 0) | ((c / u2).log() + 1 - c >= 0)
                new = accept & ~done
                x = ember.where(new, (u3 - 0.5).sign() * f.acos(), x)
                done = done | accept
            x = (x + math.pi + self.loc.to(ember.float64)) % (2 * math.pi) - math.pi
            return x.to(self.loc.dtype)

    def expand(self, batch_shape, _instance=None) -> "VonMises":
        return self._expand_params(VonMises, batch_shape, _instance, "loc", "concentration")

    @lazy_property
    def variance(self) -> Tensor:
        """The circular variance ``1 - I1(k) / I0(k)``."""
        return 1 - ember.special.i1e(self.concentration) / ember.special.i0e(self.concentration)
