"""PyTorch's CPU samplers for the rejection-drawn distributions, one element at a time:
gamma (Marsaglia and Tsang), Poisson (a product of uniforms below rate 10, Hormann's
transformed rejection PTRS from 10) and binomial (inversion by geometric waiting times below
a mean of 10, Hormann's BTRS from 10).

Each takes its draws from ``uniform()`` (a double on [0, 1) from two words) and
``normal()`` (a double Box-Muller normal, its sine half cached), as ATen's serial kernels do
(see NOTE [ The CPU generator ] in ``host_random``), and repeats their arithmetic step by
step: the float kernels' float-typed steps (``single``) are rounded to float, their constants
written as float literals stay float constants, and the rest is double. Where PyTorch's loop
would never end (a NaN or negative parameter it does not check) these return NaN instead.
"""
from __future__ import annotations

import functools
import math
import struct
from collections.abc import Callable

import numpy as np

Draw = Callable[[], float]

_THIRD = float(np.float32(1.0) / np.float32(3.0))  # PyTorch writes 1.0f / 3.0f
_SQUEEZE = float(np.float32(0.0331))  # and 0.0331f
_FLOAT = struct.Struct("f")
_FLOAT_EXACT = float(1 << 24)
_INT64_MIN = -(1 << 63)
_TWO_63 = 2.0 ** 63
# ln k! minus its Stirling approximation for k < 10, as tabulated in Hormann's BTRS paper
_STIRLING_TAIL = (0.0810614667953272, 0.0413406959554092, 0.0276779256849983,
                  0.02079067210376509, 0.0166446911898211, 0.0138761288230707,
                  0.0118967099458917, 0.0104112652619720, 0.00925546218271273,
                  0.00833056343336287)


def _single(x: float) -> float:
    """``x`` rounded to float32 (a float kernel's float-typed result)."""
    try:
        return _FLOAT.unpack(_FLOAT.pack(x))[0]
    except OverflowError:  # (beyond float's range: C's conversion gives infinity)
        return math.copysign(math.inf, x)


def _double(x: float) -> float:
    return x


def _log(x: float) -> float:
    """C's ``log``: -inf at 0, NaN below (where Python's raises)."""
    if x > 0.0:
        return math.log(x)
    return -math.inf if x == 0.0 else math.nan


def _floor(x: float) -> float:
    """C's ``floor``: infinities and NaN pass through (Python's raises)."""
    return float(math.floor(x)) if -math.inf < x < math.inf else x


def gamma(alpha: float, single: bool, uniform: Draw, normal: Draw) -> float:
    """One draw of Gamma(``alpha``, 1), in double (``single``: ``alpha`` is a float's).

    Marsaglia and Tsang: with d = alpha - 1/3 and c = 1 / sqrt(9 d), accept d (1 + c x)^3 for
    a normal x by a squeeze, else by the log test; alpha < 1 is boosted to alpha + 1 and the
    draw scaled by U^(1/alpha)."""
    rounded = _single if single else _double
    scale = 1.0
    if alpha < 1.0:
        if alpha == 0.0:
            return 0.0
        scale = math.pow(1.0 - uniform(), rounded(1.0 / alpha))
        alpha = rounded(alpha + 1.0)
    d = rounded(alpha - _THIRD)
    if not d > 0.0:  # alpha NaN or below -2/3
        return math.nan
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        x = normal()
        y = 1.0 + c * x
        if y <= 0.0:
            continue
        v = y * y * y
        u = 1.0 - uniform()
        xx = x * x
        if u < 1.0 - _SQUEEZE * xx * xx or math.log(u) < 0.5 * xx + d * (1.0 - v + _log(v)):
            return scale * d * v


def poisson(rate: float, uniform: Draw) -> int:
    """One draw of Poisson(``rate``) (``rate`` >= 0, checked by the caller)."""
    if rate >= 10.0:
        return _poisson_ptrs(rate, uniform)
    if rate == 0.0:
        return 0
    # the count of uniforms whose running product stays above e^-rate
    limit = math.exp(-rate)
    product = uniform()
    count = 0
    while product > limit:
        count += 1
        product *= uniform()
    return count


def _poisson_ptrs(rate: float, uniform: Draw) -> int:
    """Hormann's transformed rejection with squeeze (1993), for rate >= 10."""
    log_rate = math.log(rate)
    b = 0.931 + 2.53 * math.sqrt(rate)
    a = -0.059 + 0.02483 * b
    log_inverse_alpha = math.log(1.1239 + 1.1328 / (b - 3.4))
    v_r = 0.9277 - 3.6224 / (b - 2)
    while True:
        u = uniform() - 0.5
        v = uniform()
        us = 0.5 - abs(u)
        if us == 0.0:  # PyTorch's k is then floor(-inf): rejected as negative
            continue
        z = (2 * a / us + b) * u + rate + 0.43
        # C's conversion of a double beyond int64 (an infinite rate) gives its minimum
        k = math.floor(z) if -_TWO_63 <= z < _TWO_63 else _INT64_MIN
        if us >= 0.07 and v <= v_r:
            return k
        if k < 0 or (us < 0.013 and v > us):
            continue
        # (lgamma is CPython's, within a few ulps of the C library's PyTorch calls)
        if _log(v) + log_inverse_alpha - math.log(a / (us * us) + b) <= \
                -rate + k * log_rate - math.lgamma(k + 1.0):
            return k


def binomial(count: float, prob: float, single: bool, uniform: Draw) -> float:
    """One draw of Binomial(``count``, ``prob``), in double (``single``: the parameters are
    floats, and so are the steps PyTorch's float kernel takes in float). Draws for the
    smaller of ``prob`` and 1 - ``prob``, whose mean picks the method."""
    rounded = _single if single else _double
    if count <= 0.0 or prob <= 0.0:
        return 0.0
    if prob >= 1.0:
        return count
    if count != count:  # NaN: PyTorch's inversion would never end
        return count
    if prob <= 0.5:
        mean = rounded(count * prob)
        if mean >= 10.0:
            return _btrs(count, prob, mean, single, uniform)
        return _inversion(count, prob, rounded, uniform)
    if prob > 0.5:
        q = rounded(1.0 - prob)
        mean = rounded(count * q)
        if mean >= 10.0:
            return rounded(count - _btrs(count, q, mean, single, uniform))
        return rounded(count - _inversion(count, q, rounded, uniform))
    return math.nan  # prob is NaN


def _inversion(count: float, prob: float, rounded, uniform: Draw) -> float:
    """The number of Geometric(``prob``) waiting times that fit in ``count`` trials."""
    log_q = rounded(math.log1p(-prob))
    trials = 0
    successes = 0.0
    while True:
        wait = _log(uniform()) / log_q
        if wait == math.inf:  # (exceeds any finite count; ceil would raise)
            return successes
        trials += math.ceil(wait)
        if trials > count:
            return successes
        successes += 1.0


def _stirling_tail(k: float) -> float:
    if k < 10:
        return _STIRLING_TAIL[int(k)]
    kp1sq = (k + 1) * (k + 1)
    return (1.0 / 12 - (1.0 / 360 - 1.0 / 1260 / kp1sq) / kp1sq) / (k + 1)


@functools.lru_cache(maxsize=1024)  # (a distribution's sample repeats its parameters)
def _btrs_constants(count: float, prob: float, mean: float, single: bool) -> tuple:
    rounded = _single if single else _double
    one_minus = rounded(1.0 - prob)
    stddev = rounded(math.sqrt(rounded(mean * one_minus)))
    b = 1.15 + 2.53 * stddev
    a = -0.0873 + 0.0248 * b + 0.01 * prob
    r = rounded(prob / one_minus)
    m = _floor(rounded(rounded(count + 1) * prob))
    mode_term = (m + 0.5) * math.log((m + 1) / (r * (count - m + 1)))
    return (a, b, mean + 0.5, 0.92 - 4.2 / b, r, (2.83 + 5.1 / b) * stddev, m, mode_term,
            _stirling_tail(m), _stirling_tail(count - m), rounded(count + 1))


def _btrs(count: float, prob: float, mean: float, single: bool, uniform: Draw) -> float:
    """Hormann's transformed rejection with squeeze (1993), for ``mean`` = count * prob >= 10;
    the acceptance bound as PyTorch computes it (after TensorFlow, without BTRS' last log)."""
    rounded = _single if single else _double  # (float sums of counts beyond 2^24 round)
    a, b, c, v_r, r, alpha, m, mode_term, tail_m, tail_rest, count_plus_one = \
        _btrs_constants(count, prob, mean, single)
    while True:
        u = uniform() - 0.5
        v = uniform()
        us = 0.5 - abs(u)
        if us == 0.0:  # PyTorch's k is then -inf: rejected as negative
            continue
        k = _floor((2 * a / us + b) * u + c)
        if single and abs(k) > _FLOAT_EXACT:  # (integers up to 2^24 are floats already)
            k = _single(k)
        if k < 0 or k > count:
            continue
        if us >= 0.07 and v <= v_r:
            return k
        v = _log(v * alpha / (a / (us * us) + b))
        rest = rounded(rounded(count - k) + 1)
        bound = (mode_term
                 + count_plus_one * math.log((count - m + 1) / rest)
                 + (k + 0.5) * math.log(r * rest / rounded(k + 1))
                 + tail_m + tail_rest - _stirling_tail(k) - _stirling_tail(rounded(count - k)))
        if v <= bound:
            return k
