"""Categorical distribution over ``{0, ..., K-1}``."""
from __future__ import annotations

import math

import ember
from ember._tensor import Tensor
from ember.distributions import constraints
from ember.distributions.distribution import Distribution
from ember.distributions.utils import _ProbsOrLogitsParam

__all__ = ["Categorical"]


class Categorical(_ProbsOrLogitsParam, Distribution):
    """Categorical distribution over the last dim of ``probs`` or ``logits``.

    ``probs`` need only be nonnegative with a positive sum (they are normalized); ``logits``
    are unnormalized log-probabilities. Give exactly one of them.

    Example:
        >>> Categorical(ember.tensor([0.25, 0.25, 0.5])).sample().shape
        torch.Size([])
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    has_enumerate_support = True
    _is_binary = False

    def __init__(self, probs=None, logits=None, validate_args: bool | None = None) -> None:
        name, param = self._given(probs, logits)
        if param.dim() < 1:
            raise ValueError(f"`{name}` parameter must be at least one-dimensional.")
        if name == "probs":
            param = param / param.sum(-1, keepdim=True)
        else:
            param = param - param.logsumexp(dim=-1, keepdim=True)  # log-probabilities
        self._store_param(name, param)
        self._num_events = self._param.size()[-1]
        batch_shape = self._param.size()[:-1] if self._param.ndimension() > 1 else ember.Size()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> "Categorical":
        new = self._expand_params(Categorical, batch_shape, _instance)
        self._expand_probs_or_logits(new, new.batch_shape + (self._num_events,))
        new._num_events = self._num_events
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    @property
    def mean(self) -> Tensor:
        return ember.full(tuple(self._extended_shape()), math.nan, dtype=self.probs.dtype,
                          device=self.probs.device)

    @property
    def mode(self) -> Tensor:
        return self.probs.argmax(dim=-1)

    @property
    def variance(self) -> Tensor:
        return ember.full(tuple(self._extended_shape()), math.nan, dtype=self.probs.dtype,
                          device=self.probs.device)

    def sample(self, sample_shape=ember.Size()) -> Tensor:
        sample_shape = ember.Size(sample_shape)
        probs_2d = self.probs.detach().reshape(-1, self._num_events)
        samples_2d = ember.multinomial(probs_2d, sample_shape.numel(), True).T
        return samples_2d.reshape(tuple(self._extended_shape(sample_shape)))

    def log_prob(self, value) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        value = value.long().unsqueeze(-1)
        log_pmf = self.logits
        if value.shape[:-1] != log_pmf.shape[:-1]:
            value, log_pmf = ember.broadcast_tensors(value, log_pmf)
            value = value[..., :1]
        return log_pmf.gather(-1, value).squeeze(-1)

    def entropy(self) -> Tensor:
        min_real = ember.finfo(self.logits.dtype).min
        logits = self.logits.clamp(min=min_real)
        p_log_p = logits * self.probs
        return -p_log_p.sum(-1)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        return self._enumerate(ember.arange(self._num_events, dtype=ember.long,
                                            device=self._param.device), expand)


class _OverCategorical:
    """For a distribution built on a :class:`Categorical` (``_categorical``), whose parameters
    it shows as its own."""

    def _init_categorical(self, probs, logits) -> tuple:
        """Build ``_categorical``; return its ``(batch_shape, event_shape)``, the event being
        one entry per category."""
        self._categorical = Categorical(probs, logits)
        return self._categorical.batch_shape, self._categorical.param_shape[-1:]

    def _new(self, *args, **kwargs) -> Tensor:
        return self._categorical._new(*args, **kwargs)

    @property
    def _param(self) -> Tensor:
        return self._categorical._param

    @property
    def param_shape(self) -> ember.Size:
        return self._categorical.param_shape

    @property
    def probs(self) -> Tensor:
        return self._categorical.probs

    @property
    def logits(self) -> Tensor:
        return self._categorical.logits
