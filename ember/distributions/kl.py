"""KL divergence: ``kl_divergence(p, q)`` dispatched on the pair of types through a registry.

``register_kl(P, Q)`` adds an implementation; a pair (p, q) runs the most specific registered
match (the nearest ancestor of ``type(p)``, then of ``type(q)``), warning when matching on ``q``
first would pick another function.
"""
from __future__ import annotations

import math
import warnings
from functools import partial

import ember
from ember._tensor import Tensor
from ember.distributions.bernoulli import Bernoulli
from ember.distributions.beta import Beta
from ember.distributions.binomial import Binomial
from ember.distributions.categorical import Categorical
from ember.distributions.cauchy import Cauchy
from ember.distributions.continuous_bernoulli import ContinuousBernoulli
from ember.distributions.dirichlet import Dirichlet
from ember.distributions.distribution import Distribution
from ember.distributions.exp_family import ExponentialFamily
from ember.distributions.exponential import Exponential
from ember.distributions.gamma import Gamma
from ember.distributions.geometric import Geometric
from ember.distributions.gumbel import Gumbel
from ember.distributions.half_normal import HalfNormal
from ember.distributions.independent import Independent
from ember.distributions.laplace import Laplace
from ember.distributions.lowrank_multivariate_normal import (
    LowRankMultivariateNormal,
    _batch_lowrank_logdet,
    _batch_lowrank_mahalanobis,
)
from ember.distributions.multivariate_normal import MultivariateNormal, _batch_mahalanobis
from ember.distributions.normal import Normal
from ember.distributions.one_hot_categorical import OneHotCategorical
from ember.distributions.pareto import Pareto
from ember.distributions.poisson import Poisson
from ember.distributions.transformed_distribution import TransformedDistribution
from ember.distributions.uniform import Uniform
from ember.distributions.utils import _sum_rightmost, euler_constant

__all__ = ["register_kl", "kl_divergence"]

_KL_REGISTRY: dict = {}  # (type_p, type_q) -> function
_KL_MEMOIZE: dict = {}  # (type_p, type_q) -> the dispatched function, or NotImplemented


def register_kl(type_p: type, type_q: type):
    """Decorator registering a pairwise KL implementation.

    Args:
        type_p: a subclass of :class:`Distribution`.
        type_q: a subclass of :class:`Distribution`.

    Example:
        >>> @register_kl(Normal, Normal)
        ... def kl_normal_normal(p, q):
        ...     ...
    """
    # any class is taken, as PyTorch does: a library's own base class (Pyro's Distribution,
    # a mixin its distributions share) keys a KL for all of them
    if not isinstance(type_p, type):
        raise TypeError(f"Expected type_p to be a Distribution subclass but got {type_p}")
    if not isinstance(type_q, type):
        raise TypeError(f"Expected type_q to be a Distribution subclass but got {type_q}")

    def decorator(fun):
        _KL_REGISTRY[type_p, type_q] = fun
        _KL_MEMOIZE.clear()  # a new pair may change earlier dispatch results
        return fun

    return decorator


def _dispatch_kl(type_p: type, type_q: type):
    matches = [(super_p, super_q) for super_p, super_q in _KL_REGISTRY
               if issubclass(type_p, super_p) and issubclass(type_q, super_q)]
    if not matches:
        return NotImplemented
    # the most specific pair ranking p first, then q first, must agree
    left = _most_specific(matches)
    right = _most_specific([pair[::-1] for pair in matches])[::-1]
    if _KL_REGISTRY[left] is not _KL_REGISTRY[right]:
        warnings.warn(f"Ambiguous kl_divergence({type_p.__name__}, {type_q.__name__}). Please "
                      f"register_kl({left[0].__name__}, {right[1].__name__})", RuntimeWarning,
                      stacklevel=3)
    return _KL_REGISTRY[left]


def _most_specific(pairs: list) -> tuple:
    """The first registered of the pairs no other precedes, as PyTorch's: a pair precedes
    another when, at the first place their types differ, its type is a subclass of the other's
    (unrelated types, such as a mixin and a distribution, leave registration order to decide)."""
    def precedes(a: tuple, b: tuple) -> bool:
        for x, y in zip(a, b):
            if x is not y:
                return issubclass(x, y)
        return False

    best = pairs[0]
    for pair in pairs[1:]:
        if precedes(pair, best):
            best = pair
    return best


def _infinite_like(tensor: Tensor) -> Tensor:
    return ember.full_like(tensor, math.inf)


def _x_log_x(tensor: Tensor) -> Tensor:
    return tensor * tensor.log()


def _batch_trace_XXT(bmat: Tensor) -> Tensor:
    """Trace of ``X @ X.T`` for a batch of matrices ``X``."""
    n = bmat.size(-1)
    m = bmat.size(-2)
    flat_trace = bmat.reshape(tuple(bmat.shape[:-2]) + (n * m,)).pow(2).sum(-1)
    return flat_trace.reshape(tuple(bmat.shape[:-2]))


def kl_divergence(p: Distribution, q: Distribution) -> Tensor:
    """``KL(p || q) = E_p[log p(x) - log q(x)]``, batched over the batch shape.

    Raises:
        NotImplementedError: when no implementation is registered for the pair of types.
    """
    try:
        fun = _KL_MEMOIZE[type(p), type(q)]
    except KeyError:
        fun = _dispatch_kl(type(p), type(q))
        _KL_MEMOIZE[type(p), type(q)] = fun
    if fun is NotImplemented:
        raise NotImplementedError(f"No KL(p || q) is implemented for p type "
                                  f"{p.__class__.__name__} and q type {q.__class__.__name__}")
    return fun(p, q)


# KL between distributions of the same family


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p, q):
    t1 = p.probs * (ember.nn.functional.softplus(-q.logits)
                    - ember.nn.functional.softplus(-p.logits))
    t1 = ember.where(q.probs == 0, _infinite_like(t1), t1)
    t1 = ember.where(p.probs == 0, ember.zeros_like(t1), t1)
    t2 = (1 - p.probs) * (ember.nn.functional.softplus(q.logits)
                          - ember.nn.functional.softplus(p.logits))
    t2 = ember.where(q.probs == 1, _infinite_like(t2), t2)
    t2 = ember.where(p.probs == 1, ember.zeros_like(t2), t2)
    return t1 + t2


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p, q):
    t = p.probs * (p.logits - q.logits)
    t = ember.where(q.probs == 0, _infinite_like(t), t)
    t = ember.where(p.probs == 0, ember.zeros_like(t), t)
    return t.sum(-1)


@register_kl(ExponentialFamily, ExponentialFamily)
def _kl_expfamily_expfamily(p, q):
    # the Bregman divergence of the log normalizer between the natural parameters
    if type(p) is not type(q):
        raise NotImplementedError("The cross KL-divergence between different exponential "
                                  "families cannot be computed using Bregman divergences")
    p_nparams = [nparam.detach().requires_grad_() for nparam in p._natural_params]
    q_nparams = q._natural_params
    with ember.enable_grad():
        lg_normal = p._log_normalizer(*p_nparams)
        gradients = ember.autograd.grad(lg_normal.sum(), p_nparams, create_graph=True)
    result = q._log_normalizer(*q_nparams) - lg_normal
    for pnp, qnp, g in zip(p_nparams, q_nparams, gradients):
        term = (qnp - pnp) * g
        result = result - _sum_rightmost(term, len(q.event_shape))
    return result


@register_kl(Normal, Normal)
def _kl_normal_normal(p, q):
    var_ratio = (p.scale / q.scale).pow(2)
    t1 = ((p.loc - q.loc) / q.scale).pow(2)
    return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p, q):
    result = ((q.high - q.low) / (p.high - p.low)).log()
    result = ember.where((q.low > p.low) | (q.high < p.high), _infinite_like(result), result)
    return result


# KL between different families


@register_kl(Uniform, Normal)
def _kl_uniform_normal(p, q):
    common_term = p.high - p.low
    t1 = (math.sqrt(math.pi * 2) * q.scale / common_term).log()
    t2 = common_term.pow(2) / 12
    t3 = ((p.high + p.low - 2 * q.loc) / 2).pow(2)
    return t1 + 0.5 * (t2 + t3) / q.scale.pow(2)


@register_kl(ContinuousBernoulli, ContinuousBernoulli)
def _kl_continuous_bernoulli_continuous_bernoulli(p, q):
    t1 = p.mean * (p.logits - q.logits)
    t2 = p._cont_bern_log_norm() + ember.log1p(-p.probs)
    t3 = -q._cont_bern_log_norm() - ember.log1p(-q.probs)
    return t1 + t2 + t3


@register_kl(Exponential, Exponential)
def _kl_exponential_exponential(p, q):
    rate_ratio = q.rate / p.rate
    return rate_ratio - 1 - rate_ratio.log()


@register_kl(Gumbel, Gumbel)
def _kl_gumbel_gumbel(p, q):
    ct1 = p.scale / q.scale
    ct2 = q.loc / q.scale
    ct3 = p.loc / q.scale
    t1 = -ct1.log() - ct2 + ct3
    t2 = ct1 * euler_constant
    t3 = ember.exp(ct2 + (1 + ct1).lgamma() - ct3)
    return t1 + t2 + t3 - (1 + euler_constant)


@register_kl(HalfNormal, HalfNormal)
def _kl_halfnormal_halfnormal(p, q):
    return _kl_normal_normal(p.base_dist, q.base_dist)


@register_kl(Laplace, Laplace)
def _kl_laplace_laplace(p, q):
    scale_ratio = p.scale / q.scale
    loc_abs_diff = (p.loc - q.loc).abs()
    t1 = -scale_ratio.log()
    t2 = loc_abs_diff / q.scale
    t3 = scale_ratio * ember.exp(-loc_abs_diff / p.scale)
    return t1 + t2 + t3 - 1


@register_kl(Pareto, Pareto)
def _kl_pareto_pareto(p, q):
    scale_ratio = p.scale / q.scale
    alpha_ratio = q.alpha / p.alpha
    t1 = q.alpha * scale_ratio.log()
    t2 = -alpha_ratio.log()
    result = t1 + t2 + alpha_ratio - 1
    return ember.where(p.support.lower_bound < q.support.lower_bound, _infinite_like(result),
                       result)


@register_kl(TransformedDistribution, TransformedDistribution)
def _kl_transformed_transformed(p, q):
    if p.transforms != q.transforms:
        raise NotImplementedError
    if p.event_shape != q.event_shape:
        raise NotImplementedError
    return kl_divergence(p.base_dist, q.base_dist)


@register_kl(Independent, Independent)
def _kl_independent_independent(p, q):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError
    result = kl_divergence(p.base_dist, q.base_dist)
    return _sum_rightmost(result, p.reinterpreted_batch_ndims)


@register_kl(Cauchy, Cauchy)
def _kl_cauchy_cauchy(p, q):
    # Chyzak & Nielsen (2019), closed form
    t1 = ((p.scale + q.scale).pow(2) + (p.loc - q.loc).pow(2)).log()
    t2 = (4 * p.scale * q.scale).log()
    return t1 - t2


# Gaussians: KL = (log det Sq - log det Sp + tr(Sq^-1 Sp) + M_q(mu_q - mu_p) - n) / 2, with
# Sp written as a square-root factor R R^T (scale_tril, or [W, D^1/2] for the low-rank form)


def _gaussian_root(p) -> Tensor:
    if isinstance(p, MultivariateNormal):
        return p._unbroadcasted_scale_tril
    W = p._unbroadcasted_cov_factor
    D_sqrt = ember.diag_embed(p._unbroadcasted_cov_diag.sqrt())
    batch = tuple(ember.broadcast_shapes(tuple(W.shape[:-2]), tuple(D_sqrt.shape[:-2])))
    return ember.cat([W.expand(batch + tuple(W.shape[-2:])),
                      D_sqrt.expand(batch + tuple(D_sqrt.shape[-2:]))], dim=-1)


def _gaussian_logdet(p) -> Tensor:
    if isinstance(p, MultivariateNormal):
        return 2 * p._half_log_det()
    return _batch_lowrank_logdet(p._unbroadcasted_cov_factor, p._unbroadcasted_cov_diag,
                                 p._capacitance_tril)


def _gaussian_mahalanobis(q, diff: Tensor) -> Tensor:
    if isinstance(q, MultivariateNormal):
        return _batch_mahalanobis(q._unbroadcasted_scale_tril, diff)
    return _batch_lowrank_mahalanobis(q._unbroadcasted_cov_factor, q._unbroadcasted_cov_diag,
                                      diff, q._capacitance_tril)


def _gaussian_trace_inv_cov(q, root: Tensor) -> Tensor:
    """``tr(Sq^-1 R R^T)``: the squared Frobenius norm of ``Sq^-1/2 R``."""
    if isinstance(q, MultivariateNormal):
        L = q._unbroadcasted_scale_tril
        batch = ember.broadcast_shapes(tuple(L.shape[:-2]), tuple(root.shape[:-2]))
        L = L.expand(tuple(batch) + tuple(L.shape[-2:]))
        root = root.expand(tuple(batch) + tuple(root.shape[-2:]))
        return _batch_trace_XXT(ember.linalg.solve_triangular(L, root, upper=False))
    # Woodbury: tr(D^-1 R R^T) - ||L_C^-1 W^T D^-1 R||^2
    W, D = q._unbroadcasted_cov_factor, q._unbroadcasted_cov_diag
    term1 = (root.pow(2) / D.unsqueeze(-1)).sum((-2, -1))
    A = ember.matmul(W.mT / D.unsqueeze(-2), root)
    C = q._capacitance_tril
    batch = ember.broadcast_shapes(tuple(C.shape[:-2]), tuple(A.shape[:-2]))
    C = C.expand(tuple(batch) + tuple(C.shape[-2:]))
    A = A.expand(tuple(batch) + tuple(A.shape[-2:]))
    return term1 - _batch_trace_XXT(ember.linalg.solve_triangular(C, A, upper=False))


def _kl_gaussian(p, q, kind: str):
    if p.event_shape != q.event_shape:
        raise ValueError(f"KL-divergence between two {kind} with different event shapes "
                         "cannot be computed")
    n = p.event_shape[0]
    term1 = _gaussian_logdet(q) - _gaussian_logdet(p)
    term2 = _gaussian_trace_inv_cov(q, _gaussian_root(p))
    term3 = _gaussian_mahalanobis(q, q.loc - p.loc)
    return 0.5 * (term1 + term2 + term3 - n)


# One formula for the four pairs of full- and low-rank Gaussians; the kind names them in the
# error on event shapes.
for _p, _q, _kind in [
        (MultivariateNormal, MultivariateNormal, "Multivariate Normals"),
        (LowRankMultivariateNormal, LowRankMultivariateNormal, "Low Rank Multivariate Normals"),
        (MultivariateNormal, LowRankMultivariateNormal, "(Low Rank) Multivariate Normals"),
        (LowRankMultivariateNormal, MultivariateNormal, "(Low Rank) Multivariate Normals")]:
    register_kl(_p, _q)(partial(_kl_gaussian, kind=_kind))


# KL between different families of the location-scale group


@register_kl(ContinuousBernoulli, Exponential)
def _kl_continuous_bernoulli_exponential(p, q):
    return -p.entropy() - ember.log(q.rate) + q.rate * p.mean


@register_kl(ContinuousBernoulli, Normal)
def _kl_continuous_bernoulli_normal(p, q):
    t1 = -p.entropy()
    t2 = 0.5 * (math.log(2.0 * math.pi) + ember.square(q.loc / q.scale)) + ember.log(q.scale)
    t3 = (p.variance + ember.square(p.mean) - 2.0 * q.loc * p.mean) / (
        2.0 * ember.square(q.scale))
    return t1 + t2 + t3


@register_kl(ContinuousBernoulli, Uniform)
def _kl_continuous_bernoulli_uniform(p, q):
    result = -p.entropy() + ember.log(q.high - q.low)
    outside = (q.low >= p.support.lower_bound) | (q.high <= p.support.upper_bound)
    return ember.where(outside, _infinite_like(result), result)


@register_kl(Exponential, Gumbel)
def _kl_exponential_gumbel(p, q):
    scale_rate_prod = p.rate * q.scale
    loc_scale_ratio = q.loc / q.scale
    t1 = scale_rate_prod.log() - 1
    t2 = ember.exp(loc_scale_ratio) * scale_rate_prod / (scale_rate_prod + 1)
    t3 = scale_rate_prod.reciprocal()
    return t1 - loc_scale_ratio + t2 + t3


@register_kl(Exponential, Normal)
def _kl_exponential_normal(p, q):
    var_normal = q.scale.pow(2)
    rate_sqr = p.rate.pow(2)
    t1 = 0.5 * ember.log(rate_sqr * var_normal * 2 * math.pi)
    t2 = rate_sqr.reciprocal()
    t3 = q.loc / p.rate
    t4 = q.loc.pow(2) * 0.5
    return t1 - 1 + (t2 - t3 + t4) / var_normal


@register_kl(Gumbel, Normal)
def _kl_gumbel_normal(p, q):
    param_ratio = p.scale / q.scale
    t1 = (param_ratio / math.sqrt(2 * math.pi)).log()
    t2 = (math.pi * param_ratio * 0.5).pow(2) / 3
    t3 = ((p.loc + p.scale * euler_constant - q.loc) / q.scale).pow(2) * 0.5
    return -t1 + t2 + t3 - (euler_constant + 1)


@register_kl(Laplace, Normal)
def _kl_laplace_normal(p, q):
    var_normal = q.scale.pow(2)
    scale_sqr_var_ratio = p.scale.pow(2) / var_normal
    t1 = 0.5 * ember.log(2 * scale_sqr_var_ratio / math.pi)
    t2 = 0.5 * p.loc.pow(2)
    t3 = p.loc * q.loc
    t4 = 0.5 * q.loc.pow(2)
    return -t1 + scale_sqr_var_ratio + (t2 - t3 + t4) / var_normal - 1


@register_kl(Normal, Gumbel)
def _kl_normal_gumbel(p, q):
    mean_scale_ratio = p.loc / q.scale
    var_scale_sqr_ratio = (p.scale / q.scale).pow(2)
    loc_scale_ratio = q.loc / q.scale
    t1 = var_scale_sqr_ratio.log() * 0.5
    t2 = mean_scale_ratio - loc_scale_ratio
    t3 = ember.exp(-mean_scale_ratio + 0.5 * var_scale_sqr_ratio + loc_scale_ratio)
    return -t1 + t2 + t3 - (0.5 * (1 + math.log(2 * math.pi)))


@register_kl(Normal, Laplace)
def _kl_normal_laplace(p, q):
    loc_diff = p.loc - q.loc
    scale_ratio = p.scale / q.scale
    loc_diff_scale_ratio = loc_diff / p.scale
    t1 = ember.log(scale_ratio)
    t2 = math.sqrt(2 / math.pi) * p.scale * ember.exp(-0.5 * loc_diff_scale_ratio.pow(2))
    t3 = loc_diff * ember.erf(math.sqrt(0.5) * loc_diff_scale_ratio)
    return -t1 + (t2 + t3) / q.scale - (0.5 * (1 + math.log(0.5 * math.pi)))


@register_kl(Pareto, Exponential)
def _kl_pareto_exponential(p, q):
    scale_rate_prod = p.scale * q.rate
    t1 = (p.alpha / scale_rate_prod).log()
    t2 = p.alpha.reciprocal()
    t3 = p.alpha * scale_rate_prod / (p.alpha - 1)
    result = t1 - t2 + t3 - 1
    return ember.where(p.alpha <= 1, _infinite_like(result), result)


@register_kl(Pareto, Normal)
def _kl_pareto_normal(p, q):
    var_normal = 2 * q.scale.pow(2)
    common_term = p.scale / (p.alpha - 1)
    t1 = (math.sqrt(2 * math.pi) * q.scale * p.alpha / p.scale).log()
    t2 = p.alpha.reciprocal()
    t3 = p.alpha * common_term.pow(2) / (p.alpha - 2)
    t4 = (p.alpha * common_term - q.loc).pow(2)
    result = t1 - t2 + (t3 + t4) / var_normal - 1
    return ember.where(p.alpha <= 2, _infinite_like(result), result)


@register_kl(Uniform, ContinuousBernoulli)
def _kl_uniform_continuous_bernoulli(p, q):
    result = (-p.entropy() - p.mean * q.logits - ember.log1p(-q.probs)
              - q._cont_bern_log_norm())
    outside = (p.high >= q.support.upper_bound) | (p.low <= q.support.lower_bound)
    return ember.where(outside, _infinite_like(result), result)


@register_kl(Uniform, Exponential)
def _kl_uniform_exponential(p, q):
    result = q.rate * (p.high + p.low) / 2 - ((p.high - p.low) * q.rate).log()
    return ember.where(p.low < q.support.lower_bound, _infinite_like(result), result)


@register_kl(Uniform, Gumbel)
def _kl_uniform_gumbel(p, q):
    common_term = q.scale / (p.high - p.low)
    high_loc_diff = (p.high - q.loc) / q.scale
    low_loc_diff = (p.low - q.loc) / q.scale
    t1 = common_term.log() + 0.5 * (high_loc_diff + low_loc_diff)
    t2 = common_term * (ember.exp(-high_loc_diff) - ember.exp(-low_loc_diff))
    return t1 - t2


@register_kl(Uniform, Pareto)
def _kl_uniform_pareto(p, q):
    support_uniform = p.high - p.low
    t1 = (q.alpha * q.scale.pow(q.alpha) * support_uniform).log()
    t2 = (_x_log_x(p.high) - _x_log_x(p.low) - support_uniform) / support_uniform
    result = t2 * (q.alpha + 1) - t1
    return ember.where(p.low < q.support.lower_bound, _infinite_like(result), result)


# Part B: the Gamma family and the discrete distributions. E_p[log x] of a Beta(a, b) is
# digamma(a) - digamma(a + b); of a Gamma(a, rate), digamma(a) - log(rate); KL(p || q) against
# a density q is -H(p) - E_p[log q(x)].


def _beta_mean_log(p):
    return ember.digamma(p.concentration1) - ember.digamma(p.concentration1 + p.concentration0)


def _gamma_log_density_mean(q, mean_log_x, mean_x):
    """E_p[log q(x)] for a Gamma q, from E_p[log x] and E_p[x]."""
    return (q.concentration * q.rate.log() + (q.concentration - 1) * mean_log_x
            - q.rate * mean_x - ember.lgamma(q.concentration))


def _normal_log_density_mean(q, mean_x, mean_x2):
    """E_p[log q(x)] for a Normal q, from E_p[x] and E_p[x^2]."""
    mean_sq_dist = mean_x2 - 2 * q.loc * mean_x + q.loc.pow(2)
    return -q.scale.log() - 0.5 * math.log(2 * math.pi) - mean_sq_dist / (2 * q.scale.pow(2))


def _uniform_mean_log(low, high):
    """E[log x] for x ~ Uniform(low, high), low >= 0."""
    return (ember.xlogy(high, high) - ember.xlogy(low, low)) / (high - low) - 1


@register_kl(Beta, Beta)
def _kl_beta_beta(p, q):
    a_p, b_p, a_q, b_q = p.concentration1, p.concentration0, q.concentration1, q.concentration0
    log_beta_p = ember.lgamma(a_p) + ember.lgamma(b_p) - ember.lgamma(a_p + b_p)
    log_beta_q = ember.lgamma(a_q) + ember.lgamma(b_q) - ember.lgamma(a_q + b_q)
    return (log_beta_q - log_beta_p + (a_p - a_q) * ember.digamma(a_p)
            + (b_p - b_q) * ember.digamma(b_p)
            + (a_q - a_p + b_q - b_p) * ember.digamma(a_p + b_p))


@register_kl(Binomial, Binomial)
def _kl_binomial_binomial(p, q):
    # Support [0, n_p] inside [0, n_q] is needed; n_p < n_q has no closed form.
    if bool((p.total_count < q.total_count).any()):
        raise NotImplementedError("KL between Binomials where q.total_count > p.total_count is "
                                  "not implemented")
    kl = p.total_count * (p.probs * (p.logits - q.logits) + (-p.probs).log1p()
                          - (-q.probs).log1p())
    return ember.where(p.total_count > q.total_count, _infinite_like(kl), kl)


@register_kl(Dirichlet, Dirichlet)
def _kl_dirichlet_dirichlet(p, q):
    total_p = p.concentration.sum(-1)
    total_q = q.concentration.sum(-1)
    t1 = total_p.lgamma() - total_q.lgamma()
    t2 = (p.concentration.lgamma() - q.concentration.lgamma()).sum(-1)
    t3 = p.concentration - q.concentration
    t4 = p.concentration.digamma() - total_p.digamma().unsqueeze(-1)
    return t1 - t2 + (t3 * t4).sum(-1)


@register_kl(Gamma, Gamma)
def _kl_gamma_gamma(p, q):
    t1 = q.concentration * ember.log(p.rate / q.rate)
    t2 = ember.lgamma(q.concentration) - ember.lgamma(p.concentration)
    t3 = (p.concentration - q.concentration) * ember.digamma(p.concentration)
    t4 = (q.rate - p.rate) * (p.concentration / p.rate)
    return t1 + t2 + t3 + t4


@register_kl(Geometric, Geometric)
def _kl_geometric_geometric(p, q):
    return -p.entropy() - ember.log1p(-q.probs) / p.probs - q.logits


@register_kl(OneHotCategorical, OneHotCategorical)
def _kl_onehotcategorical_onehotcategorical(p, q):
    return _kl_categorical_categorical(p._categorical, q._categorical)


@register_kl(Poisson, Poisson)
def _kl_poisson_poisson(p, q):
    return p.rate * (ember.log(p.rate) - ember.log(q.rate)) - (p.rate - q.rate)


@register_kl(Bernoulli, Poisson)
def _kl_bernoulli_poisson(p, q):
    return -p.entropy() - (p.probs * q.rate.log() - q.rate)


@register_kl(Beta, ContinuousBernoulli)
def _kl_beta_continuous_bernoulli(p, q):
    return (-p.entropy() - p.mean * q.logits - ember.log1p(-q.probs)
            - q._cont_bern_log_norm())


@register_kl(Beta, Exponential)
def _kl_beta_exponential(p, q):
    return -p.entropy() - q.rate.log() + q.rate * p.mean


@register_kl(Beta, Gamma)
def _kl_beta_gamma(p, q):
    return -p.entropy() - _gamma_log_density_mean(q, _beta_mean_log(p), p.mean)


@register_kl(Beta, Normal)
def _kl_beta_normal(p, q):
    a, b = p.concentration1, p.concentration0
    mean_x2 = a * (a + 1) / ((a + b) * (a + b + 1))
    return -p.entropy() - _normal_log_density_mean(q, p.mean, mean_x2)


@register_kl(Beta, Uniform)
def _kl_beta_uniform(p, q):
    result = -p.entropy() + (q.high - q.low).log()
    outside = (q.low > p.support.lower_bound) | (q.high < p.support.upper_bound)
    return ember.where(outside, _infinite_like(result), result)


@register_kl(Exponential, Gamma)
def _kl_exponential_gamma(p, q):
    # E_p[log x] = -euler_constant - log(rate) for an Exponential.
    mean_log_x = -euler_constant - p.rate.log()
    return -p.entropy() - _gamma_log_density_mean(q, mean_log_x, p.mean)


@register_kl(Gamma, Exponential)
def _kl_gamma_exponential(p, q):
    return -p.entropy() - q.rate.log() + q.rate * p.mean


@register_kl(Gamma, Gumbel)
def _kl_gamma_gumbel(p, q):
    # log q(x) = -log(scale) - z - exp(-z), z = (x - loc) / scale; E_p[exp(-x / scale)] is
    # the Gamma's moment generating function at -1 / scale.
    rate_scale = p.rate * q.scale
    loc_scale = q.loc / q.scale
    mean_exp = ember.exp(loc_scale) * (1 + rate_scale.reciprocal()).pow(-p.concentration)
    return (-p.entropy() + q.scale.log() + p.concentration / rate_scale - loc_scale
            + mean_exp)


@register_kl(Gamma, Normal)
def _kl_gamma_normal(p, q):
    mean_x2 = p.concentration * (p.concentration + 1) / p.rate.pow(2)
    return -p.entropy() - _normal_log_density_mean(q, p.mean, mean_x2)


@register_kl(Pareto, Gamma)
def _kl_pareto_gamma(p, q):
    # E_p[log x] = log(scale) + 1 / alpha; E_p[x] is infinite for alpha <= 1 (a finite
    # stand-in there keeps the masked gradients finite).
    mean_log_x = p.scale.log() + p.alpha.reciprocal()
    alpha = ember.where(p.alpha > 1, p.alpha, ember.full_like(p.alpha, 2.0))
    mean_x = p.scale * alpha / (alpha - 1)
    result = -p.entropy() - _gamma_log_density_mean(q, mean_log_x, mean_x)
    return ember.where(p.alpha <= 1, _infinite_like(result), result)


@register_kl(Uniform, Beta)
def _kl_uniform_beta(p, q):
    mean_log_x = _uniform_mean_log(p.low, p.high)
    mean_log_1mx = _uniform_mean_log(1 - p.high, 1 - p.low)
    log_beta = (q.concentration1.lgamma() + q.concentration0.lgamma()
                - (q.concentration1 + q.concentration0).lgamma())
    result = (-p.entropy() - (q.concentration1 - 1) * mean_log_x
              - (q.concentration0 - 1) * mean_log_1mx + log_beta)
    outside = (p.high > q.support.upper_bound) | (p.low < q.support.lower_bound)
    return ember.where(outside, _infinite_like(result), result)


@register_kl(Uniform, Gamma)
def _kl_uniform_gamma(p, q):
    mean_log_x = _uniform_mean_log(p.low.clamp(min=0), p.high)
    result = -p.entropy() - _gamma_log_density_mean(q, mean_log_x, p.mean)
    return ember.where(p.low < q.support.lower_bound, _infinite_like(result), result)


# Supports that are not covered by q's: infinite divergence.
@register_kl(Beta, Pareto)
@register_kl(ContinuousBernoulli, Pareto)
@register_kl(Exponential, Beta)
@register_kl(Exponential, ContinuousBernoulli)
@register_kl(Exponential, Pareto)
@register_kl(Exponential, Uniform)
@register_kl(Gamma, Beta)
@register_kl(Gamma, ContinuousBernoulli)
@register_kl(Gamma, Pareto)
@register_kl(Gamma, Uniform)
@register_kl(Gumbel, Beta)
@register_kl(Gumbel, ContinuousBernoulli)
@register_kl(Gumbel, Exponential)
@register_kl(Gumbel, Gamma)
@register_kl(Gumbel, Pareto)
@register_kl(Gumbel, Uniform)
@register_kl(Laplace, Beta)
@register_kl(Laplace, ContinuousBernoulli)
@register_kl(Laplace, Exponential)
@register_kl(Laplace, Gamma)
@register_kl(Laplace, Pareto)
@register_kl(Laplace, Uniform)
@register_kl(Normal, Beta)
@register_kl(Normal, ContinuousBernoulli)
@register_kl(Normal, Exponential)
@register_kl(Normal, Gamma)
@register_kl(Normal, Pareto)
@register_kl(Normal, Uniform)
@register_kl(Pareto, Beta)
@register_kl(Pareto, ContinuousBernoulli)
@register_kl(Pareto, Uniform)
@register_kl(Poisson, Bernoulli)
@register_kl(Poisson, Binomial)
def _kl_support_not_covered(p, q):
    return _infinite_like(p.mean)
