"""Gamma and Dirichlet variates with reparameterized gradients: ``_standard_gamma`` and
``_sample_dirichlet`` (behind ``distributions.Gamma``, ``Beta``, ``Dirichlet``' ``rsample``),
and their implicit gradients ``_standard_gamma_grad`` and ``_dirichlet_grad``.

NOTE [ Implicit reparameterization ]
A sample x = F^-1(u; a) of a distribution with CDF F(x; a) moves with its parameter a, at a
fixed uniform u, by dx/da = -(dF/da)(x; a) / f(x; a), f the density. The draws themselves come
from the generator's samplers (PyTorch's on the CPU, CuPy's on a GPU); the gradient needs only
the sample and a. Here dF/da is computed exactly by differentiating, term by term, the series
and continued fractions that give the regularized incomplete gamma and beta functions (each
where it converges fast, as in Numerical Recipes), or, for large concentrations, by
Gauss-Legendre quadrature of its integral, so the gradient is accurate to float64 for small and
large ones alike (within 1e-13 relative of 40-digit mpmath for gamma a in [1e-3, 1e8] and beta
a, b in [3, 1e6]; torch's approximations are off by up to 3e-4). The normalizing constants
cancel against the density's, so nothing overflows.
"""
from __future__ import annotations

import numpy as np

from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive
from ember.backend.device import MetaArray, get_array_module, meta_array
from ember.backend.special import special
from ember.random import generator_for

__all__ = ["_standard_gamma", "_standard_gamma_grad", "_sample_dirichlet", "_dirichlet_grad"]

_EPS = np.finfo(np.float64).eps
_MAX_STEPS = 1_000_000  # a guard: the expansions take up to ~sqrt(a + b) steps


def _converge(step, state: tuple, out, active) -> None:
    """Run ``step(state, k) -> (state, value, done)`` for k = 1, 2, ... on the elements still
    ``active`` (an index array) until each has been ``done`` once, writing its ``value`` into
    ``out``. Finished elements keep iterating (harmlessly: the expansions have converged) until
    half of the arrays are finished; then they are dropped, so a few slow elements do not keep
    every array at full size, and the copying happens O(log n) times."""
    xp = get_array_module(active)
    finished = xp.zeros(active.shape, bool)
    for k in range(1, _MAX_STEPS):
        state, value, done = step(state, k)
        finished |= done
        count = int(xp.count_nonzero(finished))
        if count == active.size:
            out[active] = value
            return
        if 2 * count >= active.size:
            out[active[finished]] = value[finished]
            keep = ~finished
            active = active[keep]
            state = tuple(s[keep] for s in state)
            finished = finished[keep]
    raise RuntimeError("implicit gradient did not converge (concentration too large)")


def _fraction_step(b, coef, db, dcoef, a0, b0, da0, db0, a1, da1, db1):
    """One more convergent A_k / B_k = (b A_{k-1} + coef A_{k-2}) / (b B_{k-1} + coef B_{k-2})
    of a continued fraction, with the derivatives (d) of A and B; every value is divided by
    B_k, so that B_{k-1} = 1 on entry and nothing overflows (A/B and (A' - A/B B')/B are
    unchanged)."""
    a2 = b * a1 + coef * a0
    b2 = b + coef * b0
    da2 = db * a1 + b * da1 + dcoef * a0 + coef * da0
    db2 = db + b * db1 + dcoef * b0 + coef * db0
    r = 1 / b2
    return a1 * r, r, da1 * r, db1 * r, a2 * r, da2 * r, db2 * r


def _converged(xp, v, v_new):
    return xp.abs(v_new - v) <= _EPS * xp.abs(v_new)


# ---------------------------------------------------------------------------------------------
# d x / d alpha for x ~ Gamma(alpha, 1)

def _gamma_series(xp, a, x, out, active) -> None:
    """Where x < a + 1: P(a, x) = x^a e^-x / Gamma(a+1) * sum_n c_n with c_0 = 1,
    c_n = c_{n-1} x / (a+n); differentiating, dx/da = -(x/a) sum_n c_n (ln x - psi(a+n+1))."""
    log_x = xp.log(x)
    psi = special(xp).digamma(a + 1)

    def step(state, n):
        a, x, log_x, c, psi, total = state
        inv = 1 / (a + n)
        c = c * (x * inv)
        psi = psi + inv
        term = c * (log_x - psi)
        total = total + term
        done = xp.abs(term) <= _EPS * -total  # (total < 0 throughout)
        return (a, x, log_x, c, psi, total), -x / a * total, done

    _converge(step, (a, x, log_x, xp.ones_like(a), psi, log_x - psi), out, active)


def _gamma_fraction(xp, a, x, out, active) -> None:
    """Where x >= a + 1: Q(a, x) = x^a e^-x / Gamma(a) * F with the continued fraction
    F = 1/(b_1 + a_2/(b_2 + ...)), b_k = x + 2k - 1 - a, a_{k+1} = -k (k - a); then
    dx/da = dQ/da / f = x ((ln x - psi(a)) F + dF/da)."""
    prefactor = xp.log(x) - special(xp).digamma(a)
    zeros = xp.zeros_like(a)
    r = 1 / (x + 1 - a)  # the first convergent, 1 / b_1 (and d b_1 / da = -1)
    # Convergence is judged on (ln x - psi(a)) F + dF/da, which never crosses 0 (dF/da does).
    state = (a, x, prefactor, zeros, r, zeros, zeros, r, zeros, -r, prefactor * r + r * r)

    def step(state, k):
        a, x, pre, a0, b0, da0, db0, a1, da1, db1, v = state
        conv = _fraction_step(x + 2 * k + 1 - a, -k * (k - a), -1.0, k,
                              a0, b0, da0, db0, a1, da1, db1)
        v_new = pre * conv[4] + conv[5] - conv[4] * conv[6]
        return (a, x, pre, *conv, v_new), x * v_new, _converged(xp, v, v_new)

    _converge(step, state, out, active)


# Concentrations from which the quadratures below replace the expansions (whose step counts
# grow as sqrt(a)): one pass over 32-node arrays, which costs less than the expansions' Python
# steps from a (or a + b) = 100 on. Each concentration must be at least 10, where the
# asymptotic series of ln a - psi(a) is good to 1e-14 (and, for the beta weight, vanish at
# both ends of [0, 1]).
_QUADRATURE_MIN_A = 100.0
_SERIES_MIN_A = 10.0
_HUGE_A = 1e6  # (see _gamma_quadrature)
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(32)
_CHUNK = 16384  # elements per quadrature pass: bounds the (elements x nodes) temporaries
_DECAY = 50.0  # the integrand is cut where its weight has fallen by e^-50 (~2e-22)


def _log_a_minus_digamma(a):
    """ln a - psi(a) for a >= _SERIES_MIN_A by its asymptotic series (Bernoulli numbers),
    free of the cancellation the difference of the two would suffer."""
    inv = 1 / a
    i2 = inv * inv
    return inv / 2 + i2 * (1 / 12 - i2 * (1 / 120 - i2 * (1 / 252 - i2 * (1 / 240 - i2 / 132))))


def _log1p_minus_identity(xp, u):
    """ln(1 + u) - u for |u| <= 0.015 without the cancellation of the difference: with
    z = u / (2 + u), it is -u^2 / (2 + u) + 2 (atanh z - z), the latter's series odd in z."""
    z = u / (2 + u)
    z2 = z * z
    poly = 1 / 9
    for k in (7, 5, 3):  # atanh z - z = z^3 (1/3 + z^2/5 + z^4/7 + z^6/9 + ...)
        poly = 1 / k + z2 * poly
    return -u * u / (2 + u) + 2 * z * z2 * poly


def _gamma_quadrature(xp, a, x, huge: bool):
    """dx/da for large a by Gauss-Legendre quadrature of dP/da's integral: with
    w(t) = (t/x)^(a-1) e^(x-t) (the density's ratio, peaked at t = x when x is far from a-1),
    dx/da = -int_0^x w(t) (ln t - psi(a)) dt, or equally (as int_0^inf of it is 0)
    int_x^inf w(t) (ln t - psi(a)) dt. The side away from a - 1 is taken, cut where ln w falls
    to -_DECAY (Newton steps on the concave ln w find that point from beyond it).

    ln w = (a - 1) ln(1 + u) - x u with u = (t - x) / x cancels to about eps sqrt(100 a)
    (bounded by 2e-12 at a = 1e6, 1e-14 as measured); from a = 1e6 (``huge``, where
    |u| <= 0.015) it is summed as (a - 1) (ln(1 + u) - u) + (a - 1 - x) u instead."""
    am1 = a - 1
    sign = xp.where(x >= am1, 1.0, -1.0)  # integrate over t = x + sign * s, s in [0, end]

    def log_w(s, x, am1, sign):  # (a - 1) ln(1 + u) - x u, u = sign s / x
        u = sign * s / x
        if huge:
            return am1 * _log1p_minus_identity(xp, u) + (am1 - x) * u
        return am1 * xp.log1p(u) - x * u

    # Start from the root of ln w's quadratic model (beyond the true root on the left side;
    # Newton's first step overshoots it on the right), then close in from beyond.
    slope, curvature = xp.abs(am1 - x) / x, am1 / (2 * x * x)
    end = (xp.sqrt(slope * slope + 4 * curvature * _DECAY) - slope) / (2 * curvature)
    whole = (sign < 0) & (end >= x)  # the left side down to t = 0
    end = xp.where(whole, 0.5 * x, end)
    for _ in range(4):
        end = end - (log_w(end, x, am1, sign) + _DECAY) / (sign * am1 / (x + sign * end) - sign)
    end = xp.where(whole, x, end)
    nodes, weights = xp.asarray(_NODES), xp.asarray(_WEIGHTS)
    s = (nodes + 1) / 2 * end[:, None]
    a_, x_, am1_, sign_ = a[:, None], x[:, None], am1[:, None], sign[:, None]
    log_t_minus_digamma = xp.log1p(((x_ - a_) + sign_ * s) / a_) + _log_a_minus_digamma(a_)
    integrand = xp.exp(log_w(s, x_, am1_, sign_)) * log_t_minus_digamma
    return sign * (integrand @ weights) * end / 2


def _gamma_grad_array(a, x):
    """dx/da at samples ``x`` of Gamma(``a``, 1) (arrays of one shape), in float64."""
    xp = get_array_module(a)
    a, x = xp.broadcast_arrays(a.astype(np.float64), x.astype(np.float64))
    a, x = a.reshape(-1), x.reshape(-1)
    out = xp.zeros(a.shape, np.float64)  # x = 0 (an underflowed sample) stays put
    valid = (x > 0) & (a > 0) & xp.isfinite(x)
    small = valid & (a < _QUADRATURE_MIN_A)
    series = small & (x < a + 1)
    fraction = small & ~series
    for mask, expansion in ((series, _gamma_series), (fraction, _gamma_fraction)):
        idx = xp.nonzero(mask)[0]
        if idx.size:
            expansion(xp, a[idx], x[idx], out, idx)
    for huge in (False, True):
        idx = xp.nonzero(valid & ~small & ((a >= _HUGE_A) == huge))[0]
        for lo in range(0, idx.size, _CHUNK):
            part = idx[lo:lo + _CHUNK]
            out[part] = _gamma_quadrature(xp, a[part], x[part], huge)
    return out


def _standard_gamma_grad(self: Tensor, output: Tensor) -> Tensor:
    """d output / d self for samples ``output`` of Gamma(``self``, 1) (torch's
    ``_standard_gamma_grad``): see NOTE [ Implicit reparameterization ]."""
    a, x = self._data, output._data
    if a.__class__ is MetaArray:
        return _make(meta_array(np.broadcast_shapes(a.shape, x.shape), a.dtype))
    shape = np.broadcast_shapes(a.shape, x.shape)
    return _make(_gamma_grad_array(a, x).reshape(shape).astype(a.dtype))


class _StandardGamma(Primitive, node_name="StandardGammaBackward0"):
    @staticmethod
    def forward(ctx, a, rng):
        if a.__class__ is MetaArray:
            return meta_array(a.shape, a.dtype)
        x = rng.gamma(a)
        ctx.save_for_backward(a, x)
        return x

    @staticmethod
    def backward(ctx, grad):
        a, x = ctx.saved_tensors
        return grad * _standard_gamma_grad(a, x), None


def _standard_gamma(input: Tensor, generator=None) -> Tensor:
    """Samples of Gamma(``input``, 1) elementwise, differentiable in ``input`` through the
    implicit reparameterization gradient.

    Example::

        >>> alpha = ember.tensor([0.5, 2.0], requires_grad=True)
        >>> ember._standard_gamma(alpha).sum().backward()
    """
    return _StandardGamma.apply(input, generator_for(input.device, generator))


# ---------------------------------------------------------------------------------------------
# d x / d alpha for x ~ Beta(alpha, beta), beta = total - alpha held fixed

def _beta_fraction(xp, y, p, q, pre, wrt_p: bool, out, active) -> None:
    """The continued fraction of I_y(p, q) = y^p (1-y)^q / (p B(p, q)) * G,
    G = 1/(1 + d_1/(1 + d_2/(1 + ...))), with d_{2m+1} = -(p+m)(p+q+m) y / ((p+2m)(p+2m+1)),
    d_{2m} = m (q-m) y / ((p+2m-1)(p+2m)); writes ``pre`` G + dG/dp (``wrt_p``) or
    ``pre`` G + dG/dq (the derivative of the prefactor's log times G, plus G's) into ``out``."""
    zeros = xp.zeros_like(y)
    ones = xp.ones_like(y)
    # After the first convergent 1/1: A_0 = 0, B_0 = 1, A_1 = B_1 = 1.
    state = (y, p, q, pre, zeros, ones, zeros, zeros, ones, zeros, zeros, pre)

    def step(state, k):
        y, p, q, pre, a0, b0, da0, db0, a1, da1, db1, v = state
        m = k - 1  # d_{2m+1}, then d_{2m+2}
        lo, hi = p + 2 * m, p + 2 * m + 1
        d = -(p + m) * (p + q + m) * y / (lo * hi)
        dd = d * (1 / (p + m) + 1 / (p + q + m) - 1 / lo - 1 / hi) if wrt_p else \
            d / (p + q + m)
        conv = _fraction_step(1.0, d, 0.0, dd, a0, b0, da0, db0, a1, da1, db1)
        m = k
        lo, hi = p + 2 * m - 1, p + 2 * m
        d = m * (q - m) * y / (lo * hi)
        dd = -d * (1 / lo + 1 / hi) if wrt_p else m * y / (lo * hi)
        conv = _fraction_step(1.0, d, 0.0, dd, *conv)
        v_new = pre * conv[4] + conv[5] - conv[4] * conv[6]
        return (y, p, q, pre, *conv, v_new), v_new, _converged(xp, v, v_new)

    _converge(step, state, out, active)


def _beta_quadrature(xp, x, a, b):
    """(dx/da) / (1 - x) for a, b >= 10 by Gauss-Legendre quadrature, as in
    ``_gamma_quadrature``: with w(t) = (t/x)^(a-1) ((1-t)/(1-x))^(b-1) and
    g(t) = ln t - psi(a) + psi(a+b), dx/da = -int_0^x w g dt = int_x^1 w g dt (g integrates to
    0 against the density), taken on the side away from the mode."""
    am1, bm1 = a - 1, b - 1
    sign = xp.where(x * (am1 + bm1) >= am1, 1.0, -1.0)  # integrate over t = x + sign * s
    room = xp.where(sign > 0, 1 - x, x) * (1 - 1e-12)  # (short of t = 1 or t = 0)

    def log_w(s, x, am1, bm1, sign):
        u = sign * s
        return am1 * xp.log1p(u / x) + bm1 * xp.log1p(-u / (1 - x))

    slope = xp.abs(am1 / x - bm1 / (1 - x))
    curvature = am1 / (2 * x * x) + bm1 / (2 * (1 - x) ** 2)
    end = (xp.sqrt(slope * slope + 4 * curvature * _DECAY) - slope) / (2 * curvature)
    for _ in range(4):
        end = xp.minimum(end, room)
        u = sign * end
        end = end - (log_w(end, x, am1, bm1, sign) + _DECAY) / \
            (sign * (am1 / (x + u) - bm1 / (1 - x - u)))
    end = xp.clip(end, 0.0, room)
    nodes, weights = xp.asarray(_NODES), xp.asarray(_WEIGHTS)
    s = (nodes + 1) / 2 * end[:, None]
    x_, a_, b_, am1_, bm1_, sign_ = (v[:, None] for v in (x, a, b, am1, bm1, sign))
    # ln t - psi(a) + psi(a+b) = ln(t (a+b) / a) + (ln a - psi(a)) - (ln(a+b) - psi(a+b)),
    # with x (a+b) - a summed as x b - (1-x) a (1 - x is exact where x is near 1).
    g = xp.log1p(((x_ * b_ - (1 - x_) * a_) + sign_ * s * (a_ + b_)) / a_) + \
        _log_a_minus_digamma(a_) - _log_a_minus_digamma(a_ + b_)
    integral = (xp.exp(log_w(s, x_, am1_, bm1_, sign_)) * g) @ weights
    return sign * integral * end / 2 / (1 - x)


def _dirichlet_grad_array(x, alpha, total):
    """(dx/dalpha) / (1 - x) at samples ``x`` of Beta(``alpha``, ``total - alpha``), in
    float64."""
    xp = get_array_module(x)
    x, a, t = (v.reshape(-1) for v in xp.broadcast_arrays(
        x.astype(np.float64), alpha.astype(np.float64), total.astype(np.float64)))
    b = t - a
    valid = (x > 0) & (x < 1) & (a > 0) & (b > 0)
    x, a, b = xp.where(valid, x, 0.5), xp.where(valid, a, 1.0), xp.where(valid, b, 1.0)
    # Expand I_x(a, b) directly below the split, else 1 - I_{1-x}(b, a) (d/da then acts on
    # the fraction's second parameter).
    out = xp.zeros(x.size, np.float64)
    large = valid & (xp.minimum(a, b) >= _SERIES_MIN_A) & (a + b >= _QUADRATURE_MIN_A)
    idx = xp.nonzero(large)[0]
    for lo in range(0, idx.size, _CHUNK):
        part = idx[lo:lo + _CHUNK]
        out[part] = _beta_quadrature(xp, x[part], a[part], b[part])
    idx = xp.nonzero(valid & ~large)[0]
    if idx.size:
        out[idx] = _beta_expansion(xp, x[idx], a[idx], b[idx])
    return out


def _beta_expansion(xp, x, a, b):
    """(dx/da) / (1 - x) through the continued fraction of I_x(a, b)."""
    # Expand I_x(a, b) directly below the split, else 1 - I_{1-x}(b, a) (d/da then acts on
    # the fraction's second parameter).
    direct = x < (a + 1) / (a + b + 2)
    digamma = special(xp).digamma
    # d/da of the log prefactor: of y^p (1-y)^q / (p B(p, q)) at (x, a, b), or (1-x, b, a).
    dlog_prefactor = xp.log(x) - digamma(a) + digamma(a + b) - xp.where(direct, 1 / a, 0.0)
    dlog_integral = xp.zeros(x.size, np.float64)
    for mask, y, p, q in ((direct, x, a, b), (~direct, 1 - x, b, a)):
        idx = xp.nonzero(mask)[0]
        if idx.size:
            _beta_fraction(xp, y[idx], p[idx], q[idx], dlog_prefactor[idx], mask is direct,
                           dlog_integral, idx)
    # The density is prefactor * p / (x (1 - x)); the (1 - x) cancels against torch's scaling.
    return xp.where(direct, -x / a, x / b) * dlog_integral


def _dirichlet_grad(x: Tensor, alpha: Tensor, total: Tensor) -> Tensor:
    """(d x / d alpha) / (1 - x) for samples ``x`` of Beta(``alpha``, ``total - alpha``), the
    second parameter held fixed (torch's ``_dirichlet_grad``): see NOTE [ Implicit
    reparameterization ]. The 1 / (1 - x) folds in how the other coordinates of a Dirichlet
    sample make room (see ``_SampleDirichlet.backward``)."""
    shape = np.broadcast_shapes(x.shape, alpha.shape, total.shape)
    if x._data.__class__ is MetaArray:
        return _make(meta_array(shape, x._data.dtype))
    out = _dirichlet_grad_array(x._data, alpha._data, total._data)
    return _make(out.reshape(shape).astype(x._data.dtype))


class _SampleDirichlet(Primitive, node_name="_DirichletBackward"):
    @staticmethod
    def forward(ctx, alpha, rng):
        if alpha.__class__ is MetaArray:
            return meta_array(alpha.shape, alpha.dtype)
        x = rng.dirichlet(alpha)
        ctx.save_for_backward(alpha, x)
        return x

    @staticmethod
    def backward(ctx, grad):
        alpha, x = ctx.saved_tensors
        # x_i is Beta(alpha_i, total - alpha_i) and, given x_i, x_j / (1 - x_i) (j != i) does
        # not depend on alpha_i: x_j moves by -x_j / (1 - x_i) dx_i. Summed against grad:
        # dx_i/dalpha_i / (1 - x_i) * (grad_i - sum_j x_j grad_j).
        total = alpha.sum(-1, keepdim=True).expand_as(alpha)
        return _dirichlet_grad(x, alpha, total) * (grad - (x * grad).sum(-1, keepdim=True)), \
            None


def _sample_dirichlet(input: Tensor, generator=None) -> Tensor:
    """Samples of Dirichlet(``input``) over the last dim, differentiable in ``input``.

    Example::

        >>> alpha = ember.tensor([0.5, 2.0, 3.0], requires_grad=True)
        >>> x = ember._sample_dirichlet(alpha)   # x.sum() == 1
    """
    return _SampleDirichlet.apply(input, generator_for(input.device, generator))
