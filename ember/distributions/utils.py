"""Helpers shared by the distributions: broadcasting parameters, probs <-> logits (and the
mixins of the distributions given by either), lazy caching, packing lower-triangular matrices
into vectors."""
from __future__ import annotations

import numbers
from functools import update_wrapper

import ember
from ember._tensor import Tensor

__all__ = ["broadcast_all", "logits_to_probs", "probs_to_logits", "clamp_probs", "lazy_property",
           "tril_matrix_to_vec", "vec_to_tril_matrix"]

euler_constant = 0.57721566490153286060  # Euler-Mascheroni constant


def broadcast_all(*values) -> tuple:
    """Broadcast tensors and Python numbers to one shape.

    Numbers become tensors of the first tensor's dtype and device (the default dtype when there
    is no tensor), as ``torch.distributions.utils.broadcast_all`` does.

    Example:
        >>> loc, scale = broadcast_all(ember.zeros(3), 1.0)
    """
    if not all(isinstance(v, (Tensor, numbers.Number)) for v in values):
        raise ValueError("Input arguments must all be instances of numbers.Number, "
                         "torch.Tensor or objects implementing __torch_function__.")
    if all(isinstance(v, Tensor) for v in values):
        return tuple(ember.broadcast_tensors(*values))
    like = next((v for v in values if isinstance(v, Tensor)), None)
    dtype = like.dtype if like is not None else ember.get_default_dtype()
    device = like.device if like is not None else None
    tensors = [v if isinstance(v, Tensor) else ember.tensor(v, dtype=dtype, device=device)
               for v in values]
    return tuple(ember.broadcast_tensors(*tensors))


def _standard_normal(shape, dtype, device) -> Tensor:
    return ember.randn(tuple(shape), dtype=dtype, device=device)


def _sum_rightmost(value: Tensor, dim: int) -> Tensor:
    """Sum out the ``dim`` rightmost dimensions of ``value``."""
    if dim == 0:
        return value
    return value.reshape(tuple(value.shape[:-dim]) + (-1,)).sum(-1)


def logits_to_probs(logits: Tensor, is_binary: bool = False) -> Tensor:
    """Sigmoid of binary logits, softmax over the last dim otherwise."""
    if is_binary:
        return ember.sigmoid(logits)
    return ember.softmax(logits, dim=-1)


def clamp_probs(probs: Tensor) -> Tensor:
    """Clamp probabilities into ``[eps, 1 - eps]`` of their dtype, so their logs are finite."""
    eps = ember.finfo(probs.dtype).eps
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs: Tensor, is_binary: bool = False) -> Tensor:
    """Log-odds of binary probabilities, log-probabilities otherwise (clamped to be finite)."""
    clamped = clamp_probs(probs)
    if is_binary:
        return clamped.log() - (-clamped).log1p()
    return clamped.log()


class lazy_property:
    """A property computed once on first access, then stored on the instance.

    It is computed with grad enabled, so a cached parameter (``probs`` from ``logits``) keeps
    its graph even when first read under ``no_grad``.
    """

    def __init__(self, wrapped) -> None:
        self.wrapped = wrapped
        update_wrapper(self, wrapped)

    def __get__(self, instance, obj_type=None):
        if instance is None:
            return _lazy_property_and_property(self.wrapped)
        with ember.enable_grad():
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value


class _lazy_property_and_property(lazy_property, property):
    """Seen on the class, a lazy_property is also a ``property`` (docs and introspection)."""

    def __init__(self, wrapped) -> None:
        property.__init__(self, wrapped)


class _ProbsOrLogits:
    """For a distribution given by exactly one of ``probs`` or ``logits``: the given one is
    stored (and is ``_param``), the other is derived from it lazily on first use.

    ``_is_binary`` picks the pair: probabilities and log-odds (True), or probabilities and
    log-probabilities over the last dim (False).
    """

    _is_binary = True

    @staticmethod
    def _given(probs, logits) -> tuple:
        """``(name, value)`` of the one parameter given; ValueError unless exactly one is."""
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        return ("probs", probs) if probs is not None else ("logits", logits)

    def _store_param(self, name: str, value: Tensor) -> None:
        setattr(self, name, value)
        self._param = value

    def _set_probs_or_logits(self, probs, logits, *others) -> list:
        """Broadcast the given parameter with ``others`` (which come first, so a tensor among
        them sets the dtype of numbers), store it, and return the broadcast ``others``."""
        name, value = self._given(probs, logits)
        *others, value = broadcast_all(*others, value)
        self._store_param(name, value)
        return others

    def _expand_probs_or_logits(self, new, shape) -> None:
        """Give ``new`` (an ``expand`` result) this one's parameters expanded to ``shape``."""
        for name in ("probs", "logits"):
            if name in self.__dict__:
                new._store_param(name, self.__dict__[name].expand(shape))

    def _enumerate(self, values: Tensor, expand: bool) -> Tensor:
        """``values`` along a new leading dim, broadcast over the batch (``enumerate_support``)."""
        values = values.view((-1,) + (1,) * len(self._batch_shape))
        if expand:
            values = values.expand((-1,) + tuple(self._batch_shape))
        return values

    @lazy_property
    def logits(self) -> Tensor:
        return probs_to_logits(self.probs, is_binary=self._is_binary)

    @lazy_property
    def probs(self) -> Tensor:
        return logits_to_probs(self.logits, is_binary=self._is_binary)


class _ProbsOrLogitsParam(_ProbsOrLogits):
    """:class:`_ProbsOrLogits` with torch's ``param_shape`` and ``_new`` (tensors like the
    parameter), which all such distributions but Geometric have."""

    @property
    def param_shape(self) -> ember.Size:
        return self._param.size()

    def _new(self, *args, **kwargs) -> Tensor:
        return self._param.new(*args, **kwargs)


class _LocIsMeanAndMode:
    """For a distribution symmetric about its one mode ``loc``: its mean and mode."""

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc


def tril_matrix_to_vec(mat: Tensor, diag: int = 0) -> Tensor:
    """Row-major vector of the lower triangle of ``mat`` (offset ``diag``) over the last 2 dims."""
    n = mat.shape[-1]
    if not -n <= diag < n:
        raise ValueError(f"diag ({diag}) provided is outside [{-n}, {n - 1}].")
    rows, cols = ember.tril_indices(n, n, offset=diag, device=mat.device)
    return mat[..., rows, cols]


def vec_to_tril_matrix(vec: Tensor, diag: int = 0) -> Tensor:
    """Inverse of :func:`tril_matrix_to_vec`: a lower-triangular matrix, zeros above."""
    m = vec.shape[-1]
    # the side n solves m = n(n+1)/2 + diag*n (+ a correction for negative offsets)
    b = 1 + 2 * diag
    n = (-b + (b * b + 8 * m + 4 * abs(diag) * (diag + 1)) ** 0.5) / 2
    if abs(round(n) - n) > ember.finfo(vec.dtype).eps:
        raise ValueError(f"The size of last dimension is {m} which cannot be expressed as "
                         "the lower triangular part of a square D x D matrix.")
    n = round(n)
    rows, cols = ember.tril_indices(n, n, offset=diag, device=vec.device)
    out = vec.new_zeros(tuple(vec.shape[:-1]) + (n * n,))
    return out.index_copy(-1, rows * n + cols, vec).reshape(tuple(vec.shape[:-1]) + (n, n))
