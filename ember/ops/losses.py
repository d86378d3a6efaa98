"""Loss primitives fused for speed or numerical stability: negative log-likelihood and
cross-entropy (one gather forward, one scatter backward), mean squared error, binary
cross-entropy with and without logits, and CTC; with the reduction helpers the losses in
``ember.nn`` share."""
from __future__ import annotations

import math

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive
from ember.autograd.grad_mode import _State
from ember.backend.device import get_array_module, zeros_as
from ember.ops._util import float_array, promote
from ember.ops.nn import Softmax, Softplus, _softmax_parts

# ----------------------------------------------------------------------------------------------
# Negative log-likelihood: one gather forward, one scatter backward

def _weighted_reduction(ctx, xp, losses, w, reduction: str):
    """NLL's reductions of per-target ``losses`` weighted ``w``: 'mean' divides by the total
    weight. Sets ``ctx.coef``, each loss's factor in the result, for the backward."""
    if reduction == "none":
        ctx.coef = w
        return losses
    if reduction == "sum":
        ctx.coef = w
        # "any": a meta 0-d sum stays meta
        return xp.asanyarray(_wide_sum(losses).astype(losses.dtype, copy=False))
    total = _wide_sum(w)  # all targets ignored: 0 / 0 = nan, as in PyTorch
    # ... but a zero gradient, as PyTorch's: w is all 0 then, so dividing by 1 gives it
    ctx.coef = (w / (total + (total == 0))).astype(w.dtype, copy=False)
    return xp.asanyarray((_wide_sum(losses) / total).astype(losses.dtype, copy=False))


def _half_nll_reduction(ctx, xp, losses, w, valid, weighted: bool, reduction: str):
    """NLL's 'sum' and 'mean' of half-type ``losses`` as PyTorch's kernel forms them, in the
    half type itself: a cascade of partial sums (see _cascade_sum), the mean dividing by the
    total weight (the count of targets rounded to the type, unweighted). Sets ``ctx.coef`` to
    the weights and ``ctx.total`` to that total for the backward's ``-(grad / total) * w``."""
    dtype = losses.dtype
    valid = valid.ravel()
    ctx.coef = w
    ctx.total = None
    total_loss = _cascade_sum(xp, losses.ravel(), valid)
    if reduction == "sum":
        return xp.asarray(total_loss, dtype=dtype)
    total = _cascade_sum(xp, w.ravel(), valid) if weighted else \
        xp.asarray(xp.count_nonzero(valid), dtype)
    ctx.total = xp.asarray(total + (total == 0), dtype=dtype)  # all ignored: zero gradient
    return xp.asarray(total_loss / total, dtype=dtype)  # 0 / 0 = nan, as in PyTorch


_CASCADE_LEVELS = 8


def _cascade_sum(xp, values, valid):
    """The sum of 1-d ``values`` in their own (half) type as PyTorch's nll_loss kernel adds
    them: each of 8 levels adds what reaches it one at a time, rounding each addition, and
    after the value at a (not ignored, ``valid``) index ``b`` that is a multiple of ``step**k``
    (``step = 2**max(4, ceil(log2(n)) // 8)``) passes its partial sum up from level ``k - 1``
    to level ``k``. The levels' partial sums are then added in order."""
    dtype = values.dtype
    power = max(4, (values.size - 1).bit_length() // _CASCADE_LEVELS)
    index = xp.arange(values.size)
    partials = []
    for level in range(1, _CASCADE_LEVELS):
        ends = xp.flatnonzero(valid & (index % (1 << (power * level)) == 0))
        rest = values[ends[-1] + 1:] if ends.size else values  # stays at this level
        partials.append(_running_sums(xp, rest[None], dtype)[0])
        starts = xp.concatenate([xp.zeros(min(ends.size, 1), ends.dtype), ends[:-1] + 1])
        values = _segment_sums(xp, values, starts, ends + 1, dtype)  # passed up
        index, valid = index[ends], valid[ends]
    partials.append(_running_sums(xp, values[None], dtype)[0])
    return _running_sums(xp, xp.stack(partials)[None], dtype)[0]


def _segment_sums(xp, values, starts, stops, dtype):
    """The running sum of each ``values[start:stop]``, zeros padding the shorter segments."""
    if not starts.size:
        return values[:0]
    lengths = stops - starts
    offsets = xp.arange(int(lengths.max()))
    taken = xp.minimum(starts[:, None] + offsets, values.size - 1)
    return _running_sums(xp, xp.where(offsets < lengths[:, None], values[taken], dtype.type(0)),
                         dtype)


def _running_sums(xp, rows, dtype):
    """Each row's sum, adding its elements in order from 0 and rounding each addition."""
    total = xp.zeros(rows.shape[0], dtype)
    for column in range(rows.shape[1]):
        total = (total + rows[:, column]).astype(dtype, copy=False)
    return total


class NllLoss(Primitive, node_name="NllLossBackward0"):
    """-logp[n, target[n], ...] * weight[target[n]] over (N, C, *) log-probabilities, with
    ``ignore_index`` entries weighing 0 and 'mean' dividing by the total weight."""

    @staticmethod
    def forward(ctx, logp, target, weight, ignore_index, reduction):
        xp = get_array_module(logp)
        valid = target != ignore_index
        safe = xp.where(valid, target, 0)[:, None]
        w = valid.astype(logp.dtype)
        if weight is not None:
            w = w * weight[safe[:, 0]]
        losses = -xp.take_along_axis(logp, safe, axis=1)[:, 0] * w
        ctx.params = (safe, logp.shape, logp.dtype)
        if _dt.is_half(logp.dtype) and reduction != "none":
            return _half_nll_reduction(ctx, xp, losses, w, valid, weight is not None, reduction)
        return _weighted_reduction(ctx, xp, losses, w, reduction)

    @staticmethod
    def backward(ctx, grad):
        safe, shape, dtype = ctx.params
        xp = get_array_module(safe)
        if getattr(ctx, "total", None) is not None:  # half types: -(grad / total) * w
            src = (-(grad / _make(ctx.total)) * _make(ctx.coef)).unsqueeze(1)
        else:
            src = (grad * _make(-ctx.coef)).unsqueeze(1)
        return _make(zeros_as(xp, safe, shape, dtype)).scatter(1, _make(safe), src), None


class NllLoss2d(NllLoss, node_name="NllLoss2DBackward0"):
    """NllLoss over (N, C, d1, ...): PyTorch names the node apart."""


class CrossEntropy(Primitive, node_name="NllLossBackward0"):  # PyTorch's last node
    """nll_loss(log_softmax(x, 1), target) over (N, C) logits in one node: the exponentials
    are computed once, in cache-sized blocks, and reused by the backward, softmax - one_hot."""

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction):
        xp = get_array_module(x)
        x = float_array(x)
        exp, total, lse = _softmax_parts(xp, x)
        valid = target != ignore_index
        safe = target * valid  # ignored targets read class 0, with weight 0
        w = valid.astype(x.dtype)
        if weight is not None:
            w *= weight[safe]
        rows = xp.arange(x.shape[0])
        losses = (lse[:, 0] - x[rows, safe]) * w
        ctx.save_for_backward(x)
        ctx.parts = (exp, total)
        ctx.index = (rows, safe)
        return _weighted_reduction(ctx, xp, losses, w, reduction)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        rows, safe = ctx.index
        if _State.enabled:  # create_graph: compose softmax - one_hot differentiably
            coef = grad * _make(ctx.coef)  # d loss / d log p[n, target[n]], negated
            one_hot = _make(zeros_as(get_array_module(safe), safe, x.shape, x._data.dtype))
            one_hot = one_hot.scatter(1, _make(safe[:, None]), 1.0)
            return (Softmax.apply(x, 1) - one_hot) * coef.unsqueeze(1), None
        # The gradient takes over the exponentials' buffer; a retained graph's next backward
        # finds it gone and recomputes it.
        exp, total = ctx.parts or _softmax_parts(get_array_module(safe), x._data)[:2]
        ctx.parts = None
        c = (grad._data * ctx.coef).astype(exp.dtype, copy=False)
        exp *= c[:, None] / total
        exp[rows, safe] -= c
        return _make(exp), None


class CrossEntropy2d(CrossEntropy, node_name="NllLoss2DBackward0"):
    """CrossEntropy over the rows of (N, C, d1, ...) input: PyTorch names the node apart."""


# ----------------------------------------------------------------------------------------------
# Elementwise losses: mean squared error, binary cross-entropy

def _reduced_grad(grad: Tensor, shape, reduction: str) -> Tensor:
    """The incoming gradient of a reduced loss spread over the elementwise losses."""
    if reduction == "none":
        return grad
    n = 1
    for s in shape:
        n *= s
    g = grad.expand(shape)
    return g / n if reduction == "mean" else g


def _wide_sum(a):
    """The sum of ``a``; float16/bfloat16 accumulated in float32 (PyTorch's reductions), else
    NumPy's own (float16's pairwise sum drifts; bfloat16's, adding one element at a time,
    stalls once the total dwarfs an element)."""
    return a.sum(dtype="float32") if _dt.is_half(a.dtype) else a.sum()


def _reduce_array(xp, losses, reduction: str):
    if reduction == "none":
        return losses
    total = _wide_sum(losses)
    if reduction == "mean":
        total = total / losses.size
    return xp.asanyarray(total.astype(losses.dtype, copy=False))


class MseLoss(Primitive, node_name="MseLossBackward0"):
    """(input - target)^2, reduced; operands already broadcast to one shape."""

    @staticmethod
    def forward(ctx, a, t, reduction):
        xp = get_array_module(a)
        ctx.save_for_backward(a, t)
        ctx.reduction = reduction
        diff = xp.subtract(*promote(a, t))  # float32 input, int64 target: float32, as PyTorch
        return _reduce_array(xp, diff * diff, reduction)

    @staticmethod
    def backward(ctx, grad):
        a, t = ctx.saved_tensors
        # PyTorch's kernel: norm * (x - t) * grad, the norm (2, or 2 / numel for 'mean')
        # rounded to x's dtype and each product rounded (in the half types too)
        n = a.numel() if ctx.reduction == "mean" else 1
        norm = _make(get_array_module(a._data).asarray(2 / max(n, 1), dtype=a._data.dtype))
        ga = norm * (a - t) * grad if ctx.needs_input_grad[0] else None
        # the target's own product (not -ga): its zeros take their sign from t - x
        gt = norm * (t - a) * grad if ctx.needs_input_grad[1] else None
        return ga, gt


class BinaryCrossEntropyWithLogits(Primitive,
                                   node_name="BinaryCrossEntropyWithLogitsBackward0"):
    """w * ((1 - t) x + (1 + (pw - 1) t) softplus(-x)), reduced, without overflow."""

    @staticmethod
    def forward(ctx, x, t, weight, pos_weight, reduction):
        xp = get_array_module(x)
        ctx.save_for_backward(x, t, weight, pos_weight)
        ctx.reduction = reduction
        softplus_neg = xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x)))
        log_weight = 1 if pos_weight is None else (pos_weight - 1) * t + 1
        loss = (1 - t) * x + log_weight * softplus_neg
        if weight is not None:
            loss = loss * weight
        # PyTorch writes the elementwise loss into the target's dtype, then reduces
        return _reduce_array(xp, loss.astype(t.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, grad):
        x, t, weight, pos_weight = ctx.saved_tensors
        g = _reduced_grad(grad, x.shape, ctx.reduction)
        if weight is not None:
            g = g * weight
        sig_neg = (-x).sigmoid()
        if pos_weight is None:
            gx = g * ((1 - t) - sig_neg)
            gt = g * -x if ctx.needs_input_grad[1] else None
        else:
            log_weight = (pos_weight - 1) * t + 1
            gx = g * ((1 - t) - log_weight * sig_neg)
            gt = None
            if ctx.needs_input_grad[1]:
                softplus_neg = Softplus.apply(-x, 1.0, math.inf)
                gt = g * (-x + (pos_weight - 1) * softplus_neg)
        return gx, gt, None, None


def _clamped_log(xp, a):
    """log(a) clamped below at -100 (PyTorch's BCE), without evaluating log(0)."""
    positive = a > 0
    return xp.maximum(xp.where(positive, xp.log(xp.where(positive, a, 1)), -100), -100)


class BinaryCrossEntropy(Primitive, node_name="BinaryCrossEntropyBackward0"):
    """-w (t log x + (1 - t) log(1 - x)), each log clamped at -100, reduced.

    One node rather than a composition: the gradient is PyTorch's
    (x - t) / max(x (1 - x), 1e-12), finite where x saturates at 0 or 1 (a composed log would
    give 0 * inf = nan there).
    """

    @staticmethod
    def forward(ctx, x, t, weight, reduction):
        xp = get_array_module(x)
        ctx.save_for_backward(x, t, weight)
        ctx.reduction = reduction
        loss = -(t * _clamped_log(xp, x) + (1 - t) * _clamped_log(xp, 1 - x))
        if weight is not None:
            loss = loss * weight
        return _reduce_array(xp, loss.astype(x.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, grad):
        x, t, weight = ctx.saved_tensors
        g = _reduced_grad(grad, x.shape, ctx.reduction)
        if weight is not None:
            g = g * weight
        gx = g * (x - t) / ((1 - x) * x).clamp_min(1e-12)
        gt = None
        if ctx.needs_input_grad[1]:
            gt = g * ((1 - x).log() - x.log())  # unclamped: ±inf at x = 0 or 1, as PyTorch
        return gx, gt


# ----------------------------------------------------------------------------------------------
# CTC loss: the alpha-beta recursion in log space over the arrays

class CtcLoss(Primitive, node_name="CtcLossBackward0"):
    """Per-sample negative log-likelihood of CTC alignments; input (T, N, C) log-probs.

    Backward returns PyTorch's gradient, ``exp(lp) - posterior``: the derivative with respect
    to the logits when ``log_probs`` is a log_softmax (how CTC is always used).
    """

    @staticmethod
    def forward(ctx, log_probs, targets, input_lengths, target_lengths, blank, zero_infinity):
        xp = get_array_module(log_probs)
        T, N, C = log_probs.shape
        neg_inf = -xp.inf
        losses = xp.zeros(N, log_probs.dtype)
        grad = xp.zeros_like(log_probs)
        offsets = [0]
        for n in target_lengths[:-1]:
            offsets.append(offsets[-1] + n)
        for b in range(N):
            tlen = int(input_lengths[b])
            slen = int(target_lengths[b])
            if targets.ndim == 2:
                tgt = targets[b, :slen]
            else:
                tgt = targets[offsets[b]:offsets[b] + slen]
            ext = xp.full(2 * slen + 1, blank, dtype=targets.dtype)
            ext[1::2] = tgt
            S = ext.shape[0]
            # transitions from s-2 are allowed onto a label that differs from the one two back
            skip = xp.zeros(S, bool)
            if S > 2:
                skip[2:] = (ext[2:] != blank) & (ext[2:] != ext[:-2])
            lp = log_probs[:tlen, b, :][:, ext]  # (tlen, S)
            alpha = xp.full((max(tlen, 1), S), neg_inf, log_probs.dtype)
            beta = xp.full((max(tlen, 1), S), neg_inf, log_probs.dtype)
            if tlen > 0:
                alpha[0, 0] = lp[0, 0]
                if S > 1:
                    alpha[0, 1] = lp[0, 1]
                for t in range(1, tlen):
                    prev = alpha[t - 1]
                    acc = prev.copy()
                    acc[1:] = xp.logaddexp(acc[1:], prev[:-1])
                    acc[2:] = xp.where(skip[2:], xp.logaddexp(acc[2:], prev[:-2]), acc[2:])
                    alpha[t] = acc + lp[t]
                beta[tlen - 1, S - 1] = lp[tlen - 1, S - 1]
                if S > 1:
                    beta[tlen - 1, S - 2] = lp[tlen - 1, S - 2]
                for t in range(tlen - 2, -1, -1):
                    nxt = beta[t + 1]
                    acc = nxt.copy()
                    acc[:-1] = xp.logaddexp(acc[:-1], nxt[1:])
                    acc[:-2] = xp.where(skip[2:], xp.logaddexp(acc[:-2], nxt[2:]), acc[:-2])
                    beta[t] = acc + lp[t]
                ll = alpha[tlen - 1, S - 1]
                if S > 1:
                    ll = xp.logaddexp(ll, alpha[tlen - 1, S - 2])
            else:
                ll = xp.asarray(0.0 if S == 1 else neg_inf)
            nll = -ll
            losses[b] = nll
            if tlen == 0:
                continue
            if not xp.isfinite(nll):
                if zero_infinity:
                    losses[b] = 0
                    continue
            # alpha and beta both include the emission at t; the formula below divides once
            ab = alpha[:tlen] + beta[:tlen]
            lcab = xp.full((tlen, C), neg_inf, log_probs.dtype)
            for s in range(S):
                lcab[:, ext[s]] = xp.logaddexp(lcab[:, ext[s]], ab[:, s])
            lpb = log_probs[:tlen, b, :]
            grad[:tlen, b, :] = xp.exp(lpb) - xp.exp(lcab + nll - lpb)
        ctx.grad = grad
        return losses

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(1, -1, 1) * _make(ctx.grad)
