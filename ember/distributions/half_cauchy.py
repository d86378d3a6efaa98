"""HalfCauchy distribution."""
from __future__ import annotations

import math

import ember
from ember._tensor import Tensor
from ember.distributions._half import _HalfSymmetric
from ember.distributions.cauchy import Cauchy

__all__ = ["HalfCauchy"]


class HalfCauchy(_HalfSymmetric):
    """``|X|`` for ``X ~ Cauchy(0, scale)``.

    Example:
        >>> HalfCauchy(ember.tensor([1.0])).sample().shape
        torch.Size([1])
    """

    _base_cls = Cauchy

    def expand(self, batch_shape, _instance=None) -> "HalfCauchy":
        new = self._get_checked_instance(HalfCauchy, _instance)
        return super().expand(batch_shape, _instance=new)

    @property
    def mean(self) -> Tensor:
        return ember.full(tuple(self._extended_shape()), math.inf, dtype=self.scale.dtype,
                          device=self.scale.device)

    @property
    def variance(self) -> Tensor:
        return self.base_dist.variance

    def log_prob(self, value) -> Tensor:
        # as torch's, a number is accepted here (made a tensor like ``scale``)
        value = ember.as_tensor(value, dtype=self.scale.dtype, device=self.scale.device)
        return super().log_prob(value)
