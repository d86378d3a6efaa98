"""HalfNormal distribution."""
from __future__ import annotations

import math

from ember._tensor import Tensor
from ember.distributions._half import _HalfSymmetric
from ember.distributions.normal import Normal

__all__ = ["HalfNormal"]


class HalfNormal(_HalfSymmetric):
    """``|X|`` for ``X ~ Normal(0, scale)``.

    Example:
        >>> HalfNormal(ember.tensor([1.0])).sample().shape
        torch.Size([1])
    """

    _base_cls = Normal

    def expand(self, batch_shape, _instance=None) -> "HalfNormal":
        new = self._get_checked_instance(HalfNormal, _instance)
        return super().expand(batch_shape, _instance=new)

    @property
    def mean(self) -> Tensor:
        return self.scale * math.sqrt(2 / math.pi)

    @property
    def variance(self) -> Tensor:
        return self.scale.pow(2) * (1 - 2 / math.pi)
