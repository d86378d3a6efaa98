"""Nonlinear conjugate gradient (Lua's ``optim.cg``, after C. E. Rasmussen's ``minimize``):
Polak-Ribiere directions with a line search that extrapolates and interpolates by cubics
under the Wolfe-Powell conditions."""
from __future__ import annotations

import math
import sys

import ember


def _dot(a, b) -> float:
    return float((a * b).sum())


def cg(opfunc, x, config=None, state=None):
    """Conjugate gradient.

    ``config``: ``maxIter`` (20 line searches), ``maxEval`` (1.25 maxIter evaluations),
    ``rho`` (0.01) and ``sig`` (0.5) for the Wolfe-Powell conditions, ``int`` (0.1),
    ``ext`` (3.0), ``ratio`` (100, the largest growth of the initial step).

    Returns:
        ``(x, f_hist, nIter)`` with ``f_hist`` the value after each successful line search.
    """
    config = {} if config is None else config
    state = config if state is None else state
    rho = config.get("rho", 0.01)
    sig = config.get("sig", 0.5)
    interp = config.get("int", 0.1)
    ext = config.get("ext", 3.0)
    max_iter = config.get("maxIter", 20)
    ratio = config.get("ratio", 100)
    max_eval = config.get("maxEval", max_iter * 1.25)
    realmin = sys.float_info.min

    with ember.no_grad():
        f1, df1 = opfunc(x)
        f1 = float(f1)
        n_eval = 1
        f_hist = [f1]
        s = -df1
        d1 = -_dot(s, s)
        z1 = 1 / (1 - d1)
        ls_failed = False
        i = 0
        while i < max_iter and n_eval < max_eval:
            i += 1
            x0, f0, df0 = x.clone(), f1, df1.clone()
            x.add_(s, alpha=z1)
            f2, df2 = opfunc(x)
            f2 = float(f2)
            n_eval += 1
            d2 = _dot(df2, s)
            f3, d3, z3 = f1, d1, -z1  # the bracket's far end, relative to the current x
            budget = min(20, max_eval - n_eval)
            success = False
            limit = -1.0
            while True:
                while (f2 > f1 + z1 * rho * d1 or d2 > -sig * d1) and budget > 0:
                    limit = z1
                    if f2 > f1:
                        z2 = z3 - (0.5 * d3 * z3 * z3) / (d3 * z3 + f2 - f3)
                    else:
                        a = 6 * (f2 - f3) / z3 + 3 * (d2 + d3)
                        b = 3 * (f3 - f2) - z3 * (d3 + 2 * d2)
                        disc = b * b - a * d2 * z3 * z3
                        z2 = (math.sqrt(disc) - b) / a if disc >= 0 and a != 0 else math.nan
                    if not math.isfinite(z2):
                        z2 = z3 / 2
                    z2 = max(min(z2, interp * z3), (1 - interp) * z3)
                    z1 += z2
                    x.add_(s, alpha=z2)
                    f2, df2 = opfunc(x)
                    f2 = float(f2)
                    n_eval += 1
                    budget -= 1
                    d2 = _dot(df2, s)
                    z3 -= z2
                if f2 > f1 + z1 * rho * d1 or d2 > -sig * d1:
                    break  # failure
                if d2 > sig * d1:
                    success = True
                    break
                if budget == 0:
                    break
                # extrapolate with a cubic
                a = 6 * (f2 - f3) / z3 + 3 * (d2 + d3)
                b = 3 * (f3 - f2) - z3 * (d3 + 2 * d2)
                disc = b * b - a * d2 * z3 * z3
                z2 = -d2 * z3 * z3 / (b + math.sqrt(disc)) if disc >= 0 else math.nan
                if not math.isfinite(z2) or z2 < 0:
                    z2 = z1 * (ext - 1) if limit < -0.5 else (limit - z1) / 2
                elif limit > -0.5 and z2 + z1 > limit:
                    z2 = (limit - z1) / 2
                elif limit < -0.5 and z2 + z1 > z1 * ext:
                    z2 = z1 * (ext - 1)
                elif z2 < -z3 * interp:
                    z2 = -z3 * interp
                elif limit > -0.5 and z2 < (limit - z1) * (1 - interp):
                    z2 = (limit - z1) * (1 - interp)
                f3, d3, z3 = f2, d2, -z2
                z1 += z2
                x.add_(s, alpha=z2)
                f2, df2 = opfunc(x)
                f2 = float(f2)
                n_eval += 1
                budget -= 1
                d2 = _dot(df2, s)
            if success:
                f1 = f2
                f_hist.append(f1)
                # Polak-Ribiere direction
                beta = (_dot(df2, df2) - _dot(df1, df2)) / _dot(df1, df1)
                s = s * beta - df2
                df1 = df2
                d2 = _dot(df1, s)
                if d2 > 0:
                    s = -df1
                    d2 = -_dot(s, s)
                z1 = z1 * min(ratio, d1 / (d2 - realmin))
                d1 = d2
                ls_failed = False
            else:
                x.copy_(x0)
                f1, df1 = f0, df0
                if ls_failed or n_eval >= max_eval:
                    break
                s = -df1
                d1 = -_dot(s, s)
                z1 = 1 / (1 - d1)
                ls_failed = True
    state["nEval"] = state.get("nEval", 0) + n_eval
    return x, f_hist, i
