"""One-hot categorical distribution, and its straight-through reparameterization."""
from __future__ import annotations

import ember
from ember._tensor import Tensor
from ember.distributions import constraints
from ember.distributions.categorical import _OverCategorical
from ember.distributions.distribution import Distribution

__all__ = ["OneHotCategorical", "OneHotCategoricalStraightThrough"]


class OneHotCategorical(_OverCategorical, Distribution):
    """Categorical distribution whose samples are one-hot vectors of size ``probs.size(-1)``.

    Args:
        probs (Tensor): event probabilities (normalized over the last dim).
        logits (Tensor): unnormalized log probabilities. Give exactly one of the two.

    Example:
        >>> m = OneHotCategorical(ember.tensor([0.25, 0.25, 0.25, 0.25]))
        >>> m.sample().shape
        torch.Size([4])
    """

    arg_constraints = {"probs": constraints.simplex,
                       "logits": constraints.independent(constraints.real, 1)}
    support = constraints.one_hot
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args: bool | None = None) -> None:
        batch_shape, event_shape = self._init_categorical(probs, logits)
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> "OneHotCategorical":
        return self._expand_params(OneHotCategorical, batch_shape, _instance, "_categorical")

    @property
    def mean(self) -> Tensor:
        return self._categorical.probs

    @property
    def mode(self) -> Tensor:
        probs = self._categorical.probs
        return ember.nn.functional.one_hot(probs.argmax(-1), probs.shape[-1]).to(probs)

    @property
    def variance(self) -> Tensor:
        return self._categorical.probs * (1 - self._categorical.probs)

    def sample(self, sample_shape=ember.Size()) -> Tensor:
        probs = self._categorical.probs
        indices = self._categorical.sample(ember.Size(sample_shape))
        return ember.nn.functional.one_hot(indices, self._categorical._num_events).to(probs)

    def log_prob(self, value) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return self._categorical.log_prob(value.max(-1)[1])

    def entropy(self) -> Tensor:
        return self._categorical.entropy()

    def enumerate_support(self, expand: bool = True) -> Tensor:
        n = self.event_shape[0]
        values = ember.eye(n, dtype=self._param.dtype, device=self._param.device)
        values = values.view((n,) + (1,) * len(self.batch_shape) + (n,))
        if expand:
            values = values.expand((n,) + tuple(self.batch_shape) + (n,))
        return values


class OneHotCategoricalStraightThrough(OneHotCategorical):
    """:class:`OneHotCategorical` with the straight-through gradient estimator (Bengio et al.,
    2013): ``rsample`` returns the one-hot sample, whose gradient is that of ``probs``."""

    has_rsample = True

    def rsample(self, sample_shape=ember.Size()) -> Tensor:
        samples = self.sample(sample_shape)
        probs = self._categorical.probs  # cached, so the graph is built once
        return samples + (probs - probs.detach())
