"""Wishart distribution over positive definite matrices."""
from __future__ import annotations

import math
import warnings
from numbers import Number

import ember
from ember._tensor import Tensor
from ember.distributions import constraints
from ember.distributions.chi2 import Chi2
from ember.distributions.exp_family import ExponentialFamily
from ember.distributions.multivariate_normal import _scale_tril_from
from ember.distributions.utils import lazy_property, vec_to_tril_matrix

__all__ = ["Wishart"]

_LOG_2 = math.log(2)


def _mvdigamma(x: Tensor, p: int) -> Tensor:
    """The multivariate digamma: sum_{i<p} digamma(x - i/2), the derivative of mvlgamma."""
    halves = ember.arange(p, dtype=x.dtype, device=x.device) / 2
    return ember.digamma(x.unsqueeze(-1) - halves).sum(-1)


def _clamp_above_eps(x: Tensor) -> Tensor:
    # (the chi-squared draws' square roots sit on a diagonal that must stay invertible)
    return x.clamp(min=ember.finfo(x.dtype).eps)


class Wishart(ExponentialFamily):
    """Wishart distribution with ``df`` degrees of freedom and scale matrix ``V``, given by
    its covariance matrix, precision matrix or lower Cholesky factor (exactly one).

    Args:
        df (float or Tensor): degrees of freedom, greater than ``p - 1`` (``p`` the matrix
            size).
        covariance_matrix (Tensor): positive definite scale matrix.
        precision_matrix (Tensor): its inverse.
        scale_tril (Tensor): its lower Cholesky factor.

    Example:
        >>> m = Wishart(ember.tensor([2.0]), covariance_matrix=ember.eye(2))
        >>> m.sample().shape
        torch.Size([1, 2, 2])
    """

    arg_constraints = {"covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite,
                       "scale_tril": constraints.lower_cholesky,
                       "df": constraints.greater_than(0)}
    support = constraints.positive_definite
    has_rsample = True
    _mean_carrier_measure = 0

    def __init__(self, df, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args: bool | None = None) -> None:
        given = [m for m in (covariance_matrix, precision_matrix, scale_tril) if m is not None]
        if len(given) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or "
                             "scale_tril may be specified.")
        param = given[0]
        if param.dim() < 2:
            raise ValueError("scale_tril must be at least two-dimensional, with optional "
                             "leading batch dimensions")
        if isinstance(df, Number):
            batch_shape = ember.Size(param.shape[:-2])
            self.df = ember.tensor(df, dtype=param.dtype, device=param.device)
        else:
            batch_shape = ember.broadcast_shapes(param.shape[:-2], df.shape)
            self.df = df.expand(batch_shape)
        event_shape = param.shape[-2:]
        p = event_shape[-1]
        if bool(self.df.le(p - 1).any()):
            raise ValueError(f"Value of df={df} expected to be greater than ndim - 1 = {p - 1}.")
        matrix_shape = tuple(batch_shape) + (-1, -1)
        if scale_tril is not None:
            self.scale_tril = param.expand(matrix_shape)
        elif covariance_matrix is not None:
            self.covariance_matrix = param.expand(matrix_shape)
        else:
            self.precision_matrix = param.expand(matrix_shape)
        # df's lower bound depends on p: an instance-level copy of the constraints.
        self.arg_constraints = {**Wishart.arg_constraints,
                                "df": constraints.greater_than(p - 1)}
        super().__init__(batch_shape, event_shape, validate_args=validate_args)
        self._batch_dims = [-(x + 1) for x in range(len(self._batch_shape))]
        self._unbroadcasted_scale_tril = _scale_tril_from(scale_tril, covariance_matrix,
                                                          precision_matrix)
        # Bartlett decomposition: the squared diagonal of the random factor is Chi2(df - i).
        self._dist_chi2 = Chi2(df=self.df.unsqueeze(-1) - ember.arange(
            p, dtype=self._unbroadcasted_scale_tril.dtype,
            device=self._unbroadcasted_scale_tril.device).expand(tuple(batch_shape) + (-1,)))

    def expand(self, batch_shape, _instance=None) -> "Wishart":
        new = self._expand_params(Wishart, batch_shape, _instance)
        batch_shape = new.batch_shape
        cov_shape = tuple(batch_shape) + tuple(self.event_shape)
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril.expand(cov_shape)
        new.df = self.df.expand(batch_shape)
        new._batch_dims = [-(x + 1) for x in range(len(batch_shape))]
        for name in ("covariance_matrix", "scale_tril", "precision_matrix"):
            if name in self.__dict__:
                setattr(new, name, getattr(self, name).expand(cov_shape))
        new._dist_chi2 = Chi2(df=new.df.unsqueeze(-1) - ember.arange(
            self.event_shape[-1], dtype=new._unbroadcasted_scale_tril.dtype,
            device=new._unbroadcasted_scale_tril.device).expand(tuple(batch_shape) + (-1,)))
        new.arg_constraints = self.arg_constraints
        return new

    @lazy_property
    def scale_tril(self) -> Tensor:
        return self._unbroadcasted_scale_tril.expand(tuple(self._batch_shape)
                                                     + tuple(self._event_shape))

    @lazy_property
    def covariance_matrix(self) -> Tensor:
        factor = self._unbroadcasted_scale_tril
        return (factor @ factor.mT).expand(tuple(self._batch_shape) + tuple(self._event_shape))

    @lazy_property
    def precision_matrix(self) -> Tensor:
        eye = ember.eye(self._event_shape[-1], device=self._unbroadcasted_scale_tril.device,
                        dtype=self._unbroadcasted_scale_tril.dtype)
        return ember.cholesky_solve(eye, self._unbroadcasted_scale_tril).expand(
            tuple(self._batch_shape) + tuple(self._event_shape))

    def _df_matrix(self) -> Tensor:
        return self.df.view(tuple(self._batch_shape) + (1, 1))

    @property
    def mean(self) -> Tensor:
        return self._df_matrix() * self.covariance_matrix

    @property
    def mode(self) -> Tensor:
        factor = self.df - self.covariance_matrix.shape[-1] - 1
        factor = ember.where(factor > 0, factor, ember.full_like(factor, math.nan))
        return factor.view(tuple(self._batch_shape) + (1, 1)) * self.covariance_matrix

    @property
    def variance(self) -> Tensor:
        v = self.covariance_matrix
        diag_v = v.diagonal(dim1=-2, dim2=-1)
        return self._df_matrix() * (v.pow(2) + ember.einsum("...i,...j->...ij", diag_v, diag_v))

    def _bartlett_sampling(self, sample_shape=ember.Size()) -> Tensor:
        p = self._event_shape[-1]
        shape = self._extended_shape(sample_shape)
        # A lower-triangular A with sqrt(Chi2(df - i)) on its diagonal and N(0, 1) below:
        # (L A)(L A)^T is Wishart(df, L L^T).
        noise = _clamp_above_eps(self._dist_chi2.rsample(sample_shape).sqrt()).diag_embed(
            dim1=-2, dim2=-1)
        below = ember.randn(tuple(shape[:-2]) + (p * (p - 1) // 2,), dtype=noise.dtype,
                            device=noise.device)
        noise = noise + vec_to_tril_matrix(below, diag=-1)
        chol = self._unbroadcasted_scale_tril @ noise
        return chol @ chol.mT

    def rsample(self, sample_shape=ember.Size(), max_try_correction: int | None = None
                ) -> Tensor:
        """A reparameterized sample; draws that come out singular in floating point (possible
        for df near p - 1) are redrawn up to ``max_try_correction`` times, with a warning."""
        if max_try_correction is None:
            max_try_correction = 10
        sample_shape = ember.Size(sample_shape)
        sample = self._bartlett_sampling(sample_shape)
        is_singular = ~self.support.check(sample)
        if self._batch_shape:
            is_singular = is_singular.amax(self._batch_dims)
        if bool(is_singular.any()):
            warnings.warn("Singular sample detected.", stacklevel=2)
            for _ in range(max_try_correction):
                new_sample = self._bartlett_sampling(ember.Size((int(is_singular.sum()),)))
                sample[is_singular] = new_sample
                is_singular_new = ~self.support.check(new_sample)
                if self._batch_shape:
                    is_singular_new = is_singular_new.amax(self._batch_dims)
                is_singular[is_singular.clone()] = is_singular_new
                if not bool(is_singular.any()):
                    break
        return sample

    def log_prob(self, value) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        nu = self.df
        p = self._event_shape[-1]
        log_diag = self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        trace = ember.cholesky_solve(value, self._unbroadcasted_scale_tril).diagonal(
            dim1=-2, dim2=-1).sum(-1)
        return (-nu * (p * _LOG_2 / 2 + log_diag) - ember.mvlgamma(nu / 2, p=p)
                + (nu - p - 1) / 2 * ember.linalg.slogdet(value).logabsdet - trace / 2)

    def entropy(self) -> Tensor:
        nu = self.df
        p = self._event_shape[-1]
        log_diag = self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        return ((p + 1) * (p * _LOG_2 / 2 + log_diag) + ember.mvlgamma(nu / 2, p=p)
                - (nu - p - 1) / 2 * _mvdigamma(nu / 2, p=p) + nu * p / 2)

    @property
    def _natural_params(self) -> tuple:
        p = self._event_shape[-1]
        return -0.5 * self.precision_matrix, 0.5 * (self.df - p - 1)

    def _log_normalizer(self, x, y) -> Tensor:
        p = self._event_shape[-1]
        half_df = y + (p + 1) / 2
        return half_df * (-ember.linalg.slogdet(-2 * x).logabsdet + _LOG_2 * p) + \
            ember.mvlgamma(half_df, p=p)
