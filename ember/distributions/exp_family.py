"""ExponentialFamily: distributions with density ``h(x) exp(<t(x), theta> - F(theta))``."""
from __future__ import annotations

import ember
from ember._tensor import Tensor
from ember.distributions.distribution import Distribution

__all__ = ["ExponentialFamily"]


class ExponentialFamily(Distribution):
    """Base class for exponential-family distributions.

    A subclass gives its natural parameters ``theta`` (``_natural_params``), the log normalizer
    ``F`` (``_log_normalizer``) and the carrier measure's mean ``E[log h(x)]``
    (``_mean_carrier_measure``); the entropy then follows from the Bregman divergence of ``F``,
    whose gradient autograd supplies: ``H = F(theta) - <theta, grad F(theta)> - E[log h(x)]``.
    """

    @property
    def _natural_params(self) -> tuple:
        """The natural parameters ``theta``, a tuple of tensors."""
        raise NotImplementedError

    def _log_normalizer(self, *natural_params) -> Tensor:
        """The log normalizer ``F(theta)``."""
        raise NotImplementedError

    @property
    def _mean_carrier_measure(self):
        """The expected carrier measure ``E[log h(x)]``, needed for the entropy."""
        raise NotImplementedError

    def entropy(self) -> Tensor:
        """Entropy through the Bregman divergence of the log normalizer."""
        result = -self._mean_carrier_measure
        nparams = [p.detach().requires_grad_() for p in self._natural_params]
        with ember.enable_grad():
            lg_normal = self._log_normalizer(*nparams)
            gradients = ember.autograd.grad(lg_normal.sum(), nparams, create_graph=True)
        result = result + lg_normal
        for nparam, grad in zip(nparams, gradients):
            result = result - (nparam * grad).reshape(tuple(self._batch_shape) + (-1,)).sum(-1)
        return result
