"""L-BFGS with an optional strong-Wolfe line search (Lua's ``optim.lbfgs`` and
``optim.lswolfe``)."""
from __future__ import annotations

import math

import ember


def _dot(a, b) -> float:
    return float((a * b).sum())


def _cubic_min(x1, f1, g1, x2, f2, g2, lo, hi) -> float:
    """The minimiser, clipped to ``[lo, hi]``, of the cubic through two points with the given
    values and slopes; the bisection of ``[lo, hi]`` when the cubic has no minimum."""
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    disc = d1 * d1 - g1 * g2
    if disc < 0 or x1 == x2:
        return (lo + hi) / 2
    d2 = math.copysign(math.sqrt(disc), x2 - x1)
    t = x2 - (x2 - x1) * (g2 + d2 - d1) / (g2 - g1 + 2 * d2)
    if not math.isfinite(t):
        return (lo + hi) / 2
    return min(max(t, lo), hi)


def lswolfe(opfunc, x, t, d, f, g, gtd, options=None):
    """Line search along ``d`` from ``x`` for a step ``t`` satisfying the strong Wolfe
    conditions (bracketing, then zooming by cubic interpolation).

    Args:
        opfunc: ``opfunc(x) -> (f, g)``.
        x: the start point; set in place to ``x + t * d`` for the returned ``t``.
        t: the first step tried.
        d: the search direction; ``f``, ``g``, ``gtd``: value, gradient and ``g . d`` at x.
        options: ``c1`` (1e-4), ``c2`` (0.9), ``tolX`` (1e-9), ``maxIter`` (20).

    Returns:
        ``(f_new, g_new, x, t, nEvals)``.
    """
    options = options or {}
    c1 = options.get("c1", 1e-4)
    c2 = options.get("c2", 0.9)
    tol_x = options.get("tolX", 1e-9)
    max_iter = options.get("maxIter", 20)
    x0 = x.clone()
    d_norm = float(d.abs().max())

    def evaluate(step):
        fv, gv = opfunc(x0 + step * d)
        return float(fv), gv.clone(), _dot(gv, d)

    f_new, g_new, gtd_new = evaluate(t)
    n_evals = 1
    t_prev, f_prev, g_prev, gtd_prev = 0.0, float(f), g, gtd
    done = False
    it = 0
    bracket = None
    while it < max_iter:
        if f_new > f + c1 * t * gtd or (it > 1 and f_new >= f_prev):
            bracket = [(t_prev, f_prev, g_prev, gtd_prev), (t, f_new, g_new, gtd_new)]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket = [(t, f_new, g_new, gtd_new)]
            done = True
            break
        if gtd_new >= 0:
            bracket = [(t_prev, f_prev, g_prev, gtd_prev), (t, f_new, g_new, gtd_new)]
            break
        # extrapolate: a step between 1.01 t and 10 t
        step = _cubic_min(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                          t + 0.01 * (t - t_prev), t * 10)
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = step
        f_new, g_new, gtd_new = evaluate(t)
        n_evals += 1
        it += 1
    if bracket is None:
        bracket = [(0.0, float(f), g, gtd), (t, f_new, g_new, gtd_new)]

    insufficient = False
    while not done and it < max_iter and len(bracket) == 2:
        lo, hi = (0, 1) if bracket[0][1] <= bracket[1][1] else (1, 0)
        (ta, fa, _, ga), (tb, fb, _, gb) = bracket
        if abs(tb - ta) * d_norm < tol_x:
            break
        low, high = min(ta, tb), max(ta, tb)
        t = _cubic_min(ta, fa, ga, tb, fb, gb, low, high)
        # keep away from the bracket ends unless progress stalls twice
        margin = 0.1 * (high - low)
        if min(high - t, t - low) < margin:
            if insufficient or t >= high or t <= low:
                t = high - margin if abs(t - high) < abs(t - low) else low + margin
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        f_new, g_new, gtd_new = evaluate(t)
        n_evals += 1
        it += 1
        point = (t, f_new, g_new, gtd_new)
        if f_new > f + c1 * t * gtd or f_new >= bracket[lo][1]:
            bracket[hi] = point
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[hi][0] - bracket[lo][0]) >= 0:
                bracket[hi] = bracket[lo]
            bracket[lo] = point
    best = min(bracket, key=lambda p: p[1])
    t, f_new, g_new = best[0], best[1], best[2]
    x.copy_(x0 + t * d)
    return f_new, g_new, x, t, n_evals


def lbfgs(opfunc, x, config=None, state=None):
    """Limited-memory BFGS (Lua's ``optim.lbfgs``).

    ``config``: ``maxIter`` (20), ``maxEval`` (1.25 maxIter), ``tolFun`` (1e-5, on the L1
    norm of the gradient), ``tolX`` (1e-9), ``nCorrection`` (100), ``learningRate`` (1),
    ``lineSearch`` (a function like :func:`lswolfe`, or None for fixed steps) and
    ``lineSearchOptions``. The history is kept in ``state``, so calls resume.

    Returns:
        ``(x, f_hist, nEvals)``.
    """
    config = {} if config is None else config
    state = config if state is None else state
    max_iter = config.get("maxIter", 20)
    max_eval = config.get("maxEval", max_iter * 1.25)
    tol_fun = config.get("tolFun", 1e-5)
    tol_x = config.get("tolX", 1e-9)
    n_correction = config.get("nCorrection", 100)
    line_search = config.get("lineSearch")
    ls_options = config.get("lineSearchOptions")
    lr = config.get("learningRate", 1)
    state.setdefault("funcEval", 0)
    state.setdefault("nIter", 0)

    with ember.no_grad():
        f, g = opfunc(x)
        f = float(f)
        f_hist = [f]
        n_evals = 1
        state["funcEval"] += 1
        if float(g.abs().sum()) <= tol_fun:
            return x, f_hist, n_evals

        d = state.get("d")
        t = state.get("t")
        old_dirs = state.setdefault("old_dirs", [])
        old_stps = state.setdefault("old_stps", [])
        h_diag = state.get("Hdiag", 1.0)
        g_old = state.get("g_old")
        f_old = state.get("f_old")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["nIter"] += 1
            if state["nIter"] == 1:
                d = -g
                old_dirs.clear()
                old_stps.clear()
                h_diag = 1.0
            else:
                y = g - g_old
                s = d * t
                ys = _dot(y, s)
                if ys > 1e-10:
                    if len(old_dirs) == n_correction:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                    old_dirs.append(s)
                    old_stps.append(y)
                    h_diag = ys / _dot(y, y)
                # the two-loop recursion for -H g
                q = -g
                ro = [1 / _dot(yi, si) for si, yi in zip(old_dirs, old_stps)]
                al = [0.0] * len(old_dirs)
                for i in reversed(range(len(old_dirs))):
                    al[i] = _dot(old_dirs[i], q) * ro[i]
                    q = q - al[i] * old_stps[i]
                r = q * h_diag
                for i in range(len(old_dirs)):
                    be = _dot(old_stps[i], r) * ro[i]
                    r = r + (al[i] - be) * old_dirs[i]
                d = r
            g_old = g.clone()
            f_old = f
            gtd = _dot(g, d)
            if gtd > -tol_x:
                break
            if state["nIter"] == 1:
                t = min(1.0, 1.0 / float(g.abs().sum())) * lr
            else:
                t = lr
            if line_search is not None:
                f, g, x, t, ls_evals = line_search(opfunc, x, t, d, f, g, gtd, ls_options)
                f = float(f)
                f_hist.append(f)
            else:
                x.add_(d, alpha=t)
                ls_evals = 0
                if n_iter != max_iter:
                    f, g = opfunc(x)
                    f = float(f)
                    ls_evals = 1
                    f_hist.append(f)
            n_evals += ls_evals
            state["funcEval"] += ls_evals
            if n_iter == max_iter or n_evals >= max_eval:
                break
            if float(g.abs().sum()) <= tol_fun:
                break
            if float((d * t).abs().sum()) <= tol_x or abs(f - f_old) < tol_x:
                break
        state.update(d=d, t=t, Hdiag=h_diag, g_old=g_old, f_old=f_old)
    return x, f_hist, n_evals
