"""Geometric distribution: the number of failures before the first success."""
from __future__ import annotations

import ember
from ember._tensor import Tensor
from ember.distributions import constraints
from ember.distributions.distribution import Distribution
from ember.distributions.utils import _ProbsOrLogits, broadcast_all

__all__ = ["Geometric"]


class Geometric(_ProbsOrLogits, Distribution):
    """Geometric distribution: ``P(k) = (1 - p)^k p`` for ``k = 0, 1, 2, ...``.

    Args:
        probs (Number or Tensor): success probability of each trial, in (0, 1].
        logits (Number or Tensor): its log-odds. Give exactly one of the two.

    Example:
        >>> m = Geometric(ember.tensor([0.3]))
        >>> m.sample().shape
        torch.Size([1])
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, probs=None, logits=None, validate_args: bool | None = None) -> None:
        self._set_probs_or_logits(probs, logits)
        super().__init__(self._param.size(), validate_args=validate_args)
        if self._validate_args and probs is not None:
            valid = self.probs > 0  # beyond the unit interval: p = 0 never succeeds
            if not bool(valid.all()):
                raise ValueError(
                    f"Expected parameter probs ({type(self.probs).__name__} of shape "
                    f"{tuple(self.probs.shape)}) of distribution {repr(self)} to satisfy the "
                    f"constraint {repr(constraints.unit_interval)}, but found invalid "
                    f"values:\n{self.probs.detach()[~valid]}")

    def expand(self, batch_shape, _instance=None) -> "Geometric":
        new = self._expand_params(Geometric, batch_shape, _instance)
        self._expand_probs_or_logits(new, new.batch_shape)
        return new

    @property
    def mean(self) -> Tensor:
        return 1.0 / self.probs - 1.0

    @property
    def mode(self) -> Tensor:
        return ember.zeros_like(self.probs)

    @property
    def variance(self) -> Tensor:
        return (1.0 / self.probs - 1.0) / self.probs

    def sample(self, sample_shape=ember.Size()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        tiny = ember.finfo(self.probs.dtype).tiny
        with ember.no_grad():
            # Inverse CDF: floor(log U / log(1 - p)), U in [tiny, 1) so that log U is finite.
            u = self.probs.new_empty(shape).uniform_(tiny, 1)
            return (u.log() / (-self.probs).log1p()).floor()

    def log_prob(self, value) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        value, probs = broadcast_all(value, self.probs)
        # p = 1 gives P(0) = 1: 0 * log(0) must be 0, not nan.
        probs = ember.where((probs == 1) & (value == 0), ember.zeros_like(probs), probs)
        return value * (-probs).log1p() + self.probs.log()

    def entropy(self) -> Tensor:
        return ember.nn.functional.binary_cross_entropy_with_logits(
            self.logits, self.probs, reduction="none") / self.probs
