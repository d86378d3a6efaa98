"""The margin, embedding and sequence losses of ``ember.nn.functional`` (re-exported there
through ``ember.nn._losses``): ranking, hinge, cosine and triplet embedding losses, the soft and
multi-class margin losses, and CTC."""
from __future__ import annotations

import math

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive
from ember.backend.device import get_array_module
from ember.nn._losses import (
    _check_reduction,
    _constant,
    _reduce,
    _reduction,
    _reduction_enum,
    _weighted,
)
from ember.ops import nn as _nn
from ember.ops._util import scalar_name
from ember.ops.elementwise import where
from ember.ops.losses import CtcLoss, _reduce_array, _reduced_grad
from ember.ops.movement import broadcast_shapes


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                        size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """max(0, -target * (input1 - input2) + margin)."""
    reduction = _reduction(size_average, reduce, reduction)
    if not (input1.ndim == input2.ndim == target.ndim):
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension "
                           f"but got sizes: input1: {input1.shape}, input2: {input2.shape}, "
                           f"target: {target.shape} ")
    # margin is a double in PyTorch's signature: integer inputs give a float loss
    return _reduce((-target * (input1 - input2) + float(margin)).clamp_min(0), reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, size_average=None,
                         reduce=None, reduction: str = "mean") -> Tensor:
    """x where target == 1, max(0, margin - x) where target == -1."""
    reduction = _reduction(size_average, reduce, reduction)
    # a scalar 0, not ``input * 0``, which is NaN at an infinite input
    margin_part = where(target != 1, (margin - input).clamp_min(0), 0.0)
    self_part = where(target != -1, input, 0.0)
    return _reduce(margin_part + self_part, reduction)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                          size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """1 - cos(x1, x2) where target == 1, max(0, cos(x1, x2) - margin) where target == -1."""
    reduction = _reduction(size_average, reduce, reduction)
    if target.ndim > 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if input1.ndim != target.ndim + 1 or input2.ndim != target.ndim + 1:
        raise RuntimeError(f"{target.ndim}D target tensor expects {target.ndim + 1}D input "
                           f"tensors, but found inputs with sizes {list(input1.shape)} and "
                           f"{list(input2.shape)}.")
    eps = 1e-12
    prod = (input1 * input2).sum(-1)
    mag1 = (input1 * input1).sum(-1) + eps
    mag2 = (input2 * input2).sum(-1) + eps
    cos = prod / (mag1 * mag2).sqrt()
    zero = cos * 0
    pos = where(target == 1, 1 - cos, zero)
    neg = where(target == -1, (cos - margin).clamp_min(0), zero)
    return _reduce(pos + neg, reduction)


def _check_triplet_dims(anchor: Tensor, positive: Tensor, negative: Tensor) -> None:
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the "
                           f"same number of dimensions, but got: anchor {anchor.ndim}D, positive "
                           f"{positive.ndim}D, and negative {negative.ndim}D inputs")


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0,
                        p: float = 2, eps: float = 1e-6, swap: bool = False, size_average=None,
                        reduce=None, reduction: str = "mean") -> Tensor:
    """max(d(a, p) - d(a, n) + margin, 0) with the pairwise p-norm distance."""
    reduction = _reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    _check_triplet_dims(anchor, positive, negative)
    from ember.nn.functional import pairwise_distance
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = d_neg.minimum(pairwise_distance(positive, negative, p, eps))
    return _reduce((margin + d_pos - d_neg).clamp_min(0), reduction)


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function=None, margin: float = 1.0,
                                      swap: bool = False, reduction: str = "mean") -> Tensor:
    """Triplet loss with any distance (pairwise L2 by default)."""
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    _check_triplet_dims(anchor, positive, negative)
    from ember.nn.functional import pairwise_distance
    dist = distance_function if distance_function is not None else pairwise_distance
    d_pos = dist(anchor, positive)
    d_neg = dist(anchor, negative)
    if swap:
        d_neg = d_neg.minimum(dist(positive, negative))
    return _reduce((margin + d_pos - d_neg).clamp_min(0), reduction)


class SoftMarginLoss(Primitive, node_name="SoftMarginLossBackward0"):
    """log(1 + exp(-target * input)), reduced; target a constant that broadcasts to input's
    shape."""

    _node_saved = {"self": 0, "target": 1, "reduction": _reduction_enum}

    @staticmethod
    def forward(ctx, x, t, reduction):
        xp = get_array_module(x)
        ctx.save_for_backward(x, t)
        ctx.reduction = reduction
        z = -t * x
        loss = xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))  # no overflow at large |z|
        # the loss keeps a floating input's dtype, as in PyTorch
        dtype = x.dtype if x.dtype.kind == "f" else z.dtype
        return _reduce_array(xp, loss.astype(dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, grad):
        x, t = ctx.saved_tensors
        if x.dtype.is_floating_point and t.dtype is not x.dtype:
            t = t.to(x.dtype)
        g = _reduced_grad(grad, x.shape, ctx.reduction)
        return g * -t * (-t * x).sigmoid(), None


def soft_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """log(1 + exp(-target * input))."""
    reduction = _reduction(size_average, reduce, reduction)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    t = _constant(target, "soft_margin_loss", "target")
    if target.shape != input.shape:  # PyTorch broadcasts the target into the input's shape
        shape = broadcast_shapes(input.shape, target.shape)
        if shape != input.shape:
            raise RuntimeError(f"output with shape {list(input.shape)} doesn't match the "
                               f"broadcast shape {list(shape)}")
    return SoftMarginLoss.apply(input, t, reduction)


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                size_average=None, reduce=None,
                                reduction: str = "mean") -> Tensor:
    """Mean over classes of -(t log sigmoid(x) + (1 - t) log sigmoid(-x))."""
    reduction = _reduction(size_average, reduce, reduction)
    if input.ndim == 0:
        raise IndexError("Dimension specified as -1 but tensor has no dimensions")
    log_sig = -_nn.Softplus.apply(-input, 1.0, math.inf)
    log_sig_neg = -_nn.Softplus.apply(input, 1.0, math.inf)
    loss = -(target * log_sig + (1 - target) * log_sig_neg)
    loss = _weighted(loss, weight)
    loss = loss.sum(input.ndim - 1) / input.shape[-1]
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not valid")
    return _reduce(loss, reduction)


def _check_margin_input(input: Tensor) -> None:
    """The multi-class margin losses take (C,) or (N, C) input, C > 0, or a 0-d one."""
    shape = input.shape
    if len(shape) > 2 or (shape and shape[-1] == 0):
        raise RuntimeError(f"Expected non-empty vector or matrix with optional 0-dim batch size, "
                           f"but got: {list(shape)}")


def _check_long(target: Tensor) -> None:
    if target.dtype is not _dt.int64:
        raise RuntimeError(f"expected scalar type Long but found {scalar_name(target.dtype)}")


def _margin_reduce_array(xp, loss, reduction: str):
    """The margin losses' reductions: the mean of no samples is 0, not nan."""
    if reduction == "mean" and not loss.size:
        return xp.zeros((), loss.dtype)
    return _reduce_array(xp, loss, reduction)


def _out_of_range(t, low: int, high: int) -> bool:
    """Whether any of array ``t`` lies outside [low, high); a meta array never does."""
    return bool(t.size) and bool((t.min() < low) | (t.max() >= high))


class MultiMarginLoss(Primitive, node_name="MultiMarginLossBackward0"):
    """sum over i != y of max(0, margin - x[y] + x[i])^p / C (times weight[y]), reduced; input
    (C,) or (N, C) (or 0-d), target a constant array of class indices in range."""

    _node_saved = {"self": 0, "target": 1, "weight": 2, "p": lambda node: node.p,
                   "margin": lambda node: node.margin, "reduction": _reduction_enum}

    @staticmethod
    def forward(ctx, x, y, p, margin, weight, reduction):
        xp = get_array_module(x)
        ctx.save_for_backward(x, y, weight)
        ctx.p = p
        ctx.margin = margin
        ctx.reduction = reduction
        x2 = x.reshape(-1, x.shape[-1] if x.ndim else 1)
        rows = y.reshape(-1)
        h = margin - xp.take_along_axis(x2, rows[:, None], 1) + x2
        terms = xp.maximum(h, 0)
        if p == 2:
            terms = terms * terms
        if weight is not None:
            terms = terms * weight[rows][:, None]
        not_target = xp.arange(x2.shape[1])[None, :] != rows[:, None]
        loss = (terms * not_target).sum(1) / x2.shape[1]
        shape = y.shape if x.ndim <= 1 or y.ndim == 0 else loss.shape
        ctx.loss_shape = shape
        return _margin_reduce_array(xp, loss.reshape(shape).astype(x.dtype, copy=False),
                                    reduction)

    @staticmethod
    def backward(ctx, grad):
        x, y, weight = ctx.saved_tensors
        xp = x._xp
        x2 = x.reshape(-1, x.shape[-1] if x.ndim else 1)
        n, c = x2.shape
        rows = y._data.reshape(-1)
        h = ctx.margin - x2.gather(1, y.reshape(-1, 1)) + x2
        not_target = xp.arange(c)[None, :] != rows[:, None]
        active = _make(((h._data > 0) & not_target).astype(x._data.dtype))
        coef = active * h * 2 if ctx.p == 2 else active
        if weight is not None:
            coef = coef * weight[y.reshape(-1)].unsqueeze(1)
        g = _reduced_grad(grad, ctx.loss_shape, ctx.reduction).reshape(n, 1) * coef / c
        one_hot = _make((~not_target).astype(x._data.dtype))
        return (g - one_hot * g.sum(1, keepdim=True)).reshape(x.shape), None, None


def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0,
                      weight: Tensor | None = None, size_average=None, reduce=None,
                      reduction: str = "mean") -> Tensor:
    """sum over i != y of max(0, margin - x[y] + x[i])^p / C (times weight[y])."""
    reduction = _reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.ndim != 1:
        raise ValueError("weight must be one-dimensional")
    _check_margin_input(input)
    unbatched = input.ndim <= 1
    n_samples = 1 if unbatched else input.shape[0]
    if target.ndim > 1 or target.numel() != n_samples:
        raise RuntimeError(f"multi_margin_loss: target tensor should be 1-D with size equal to "
                           f"the number of input samples (batch size). Expected target size "
                           f"[{n_samples}], but got {list(target.shape)}. Input has shape "
                           f"{list(input.shape)}.")
    x = input.reshape(1, -1) if unbatched else input
    n_classes = x.shape[1]
    if weight is not None:
        if weight.shape[0] != n_classes:
            raise RuntimeError(f"inconsistent weight size, expected {n_classes} but got "
                               f"{list(weight.shape)}")
        if weight.dtype is not input.dtype:
            raise RuntimeError(f"expected scalar type {scalar_name(input.dtype)} but found "
                               f"{scalar_name(weight.dtype)}")
    _check_long(target)
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f'"multi_margin_loss_cpu_kernel" not implemented for '
                                  f"'{scalar_name(input.dtype)}'")
    if _out_of_range(target._data, 0, n_classes):
        raise RuntimeError("target out of range")
    return MultiMarginLoss.apply(input, target._data, p, margin,
                                 None if weight is None else weight.detach()._data, reduction)


class MultilabelMarginLoss(Primitive, node_name="MultilabelMarginLossBackward0"):
    """sum over target classes j and non-target classes i of max(0, 1 - (x[j] - x[i])) / C,
    reduced; each row of the constant ``target`` lists class indices, ended by the first -1."""

    _node_saved = {"self": 0, "target": 1, "is_target": 2, "reduction": _reduction_enum}

    @staticmethod
    def forward(ctx, x, target, reduction):
        xp = get_array_module(x)
        c = x.shape[-1] if x.ndim else 1
        x2 = x.reshape(-1, c)
        n = x2.shape[0]
        t = target.reshape(n, c)
        # entries after the first -1 of a row are not targets; a repeated one counts each time
        live = xp.cumsum(t == -1, axis=1) == 0
        counts = xp.zeros((n, c), x.dtype)
        rows = xp.broadcast_to(xp.arange(n)[:, None], t.shape)
        from ember.backend.special import scatter_add
        scatter_add(xp, counts, (rows[live], t[live]), 1)
        is_target = (counts > 0).astype(x.dtype)
        mask = counts[:, :, None] * (1 - is_target)[:, None, :]  # [n, j, i]
        pair = xp.maximum(1 - (x2[:, :, None] - x2[:, None, :]), 0)
        ctx.save_for_backward(x, target, is_target.reshape(x.shape))
        ctx.mask = mask
        ctx.reduction = reduction
        loss = (pair * mask).sum((1, 2)) / c
        return _margin_reduce_array(xp, loss.reshape(x.shape[:-1]).astype(x.dtype, copy=False),
                                    reduction)

    @staticmethod
    def backward(ctx, grad):
        x = ctx.saved_tensors[0]
        c = x.shape[-1] if x.ndim else 1
        x2 = x._data.reshape(-1, c)
        active = ctx.mask * (1 - (x2[:, :, None] - x2[:, None, :]) > 0)
        # d/dx[i] of the pair (j, i) is +1, d/dx[j] is -1
        coef = _make((active.sum(1) - active.sum(2)) / c)
        g = _reduced_grad(grad, x.shape[:-1], ctx.reduction).reshape(-1, 1) * coef
        return g.reshape(x.shape), None


def multilabel_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                           reduction: str = "mean") -> Tensor:
    """sum over target classes j and non-target classes i of max(0, 1 - (x[j] - x[i])) / C;
    each row of ``target`` lists class indices, ended by the first -1."""
    reduction = _reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _check_margin_input(input)
    unbatched = input.ndim <= 1
    x = input.reshape(1, -1) if unbatched else input
    if target.shape != input.shape and not (input.ndim == 0 and target.numel() == 1):
        raise RuntimeError(f"inconsistent target size: {list(target.shape)} for input of size: "
                           f"{list(input.shape)}")
    n, c = x.shape
    if _out_of_range(target._data, -1, c):
        raise RuntimeError("argument #2 'target' is out of range")
    _check_long(target)
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f'"multilabel_margin_loss_forward_out_frame" not implemented '
                                  f"for '{scalar_name(input.dtype)}'")
    return MultilabelMarginLoss.apply(input, target._data, reduction)


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths, target_lengths, blank: int = 0,
             reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """Connectionist Temporal Classification loss of (T, N, C) log-probabilities.

    ``reduction='mean'`` divides each sample's loss by its target length, then averages.
    """
    unbatched = log_probs.ndim == 2
    if unbatched:
        log_probs = log_probs.unsqueeze(1)  # a 1-D target reads as one concatenated sequence
    in_lens = _lengths(input_lengths)
    tgt_lens = _lengths(target_lengths)
    batch = log_probs.shape[1]
    if not 0 <= blank < log_probs.shape[2]:
        raise RuntimeError("blank must be in label range")
    if len(in_lens) != batch:
        raise RuntimeError("input_lengths must be of size batch_size")
    if len(tgt_lens) != batch:
        raise RuntimeError("target_lengths must be of size batch_size")
    _check_ctc_lengths(log_probs.shape[0], targets, in_lens, tgt_lens)
    losses = CtcLoss.apply(log_probs, targets, in_lens, tgt_lens, blank, zero_infinity)
    if reduction == "mean":
        divisor = _make(log_probs._xp.asarray([max(n, 1) for n in tgt_lens],
                                              log_probs._data.dtype))
        return (losses / divisor).mean()
    if reduction == "sum":
        return losses.sum()
    if reduction == "none":
        return losses.squeeze(0) if unbatched else losses
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _check_ctc_lengths(steps: int, targets: Tensor, in_lens: tuple, tgt_lens: tuple) -> None:
    """PyTorch's checks of the lengths against the input's steps and the targets' size."""
    where = " (while checking arguments for ctc_loss_allocate_outputs)"
    for name, lens in (("input_lengths", in_lens), ("target_lengths", tgt_lens)):
        if min(lens, default=0) < 0:
            raise RuntimeError(f"Expected {name} to have value at least 0, but got value "
                               f"{min(lens)}{where}")
    if max(in_lens, default=0) > steps:
        raise RuntimeError(f"Expected input_lengths to have value at most {steps}, but got "
                           f"value {max(in_lens)}{where}")
    shape = targets.shape
    if len(shape) == 1:
        if shape[0] != sum(tgt_lens):
            raise RuntimeError(f"Expected tensor to have size {sum(tgt_lens)} at dimension 0, "
                               f"but got size {shape[0]} for argument #2 'targets'{where}")
    elif len(shape) == 2 and shape[1] < max(tgt_lens, default=0):
        raise RuntimeError(f"Expected tensor to have size at least {max(tgt_lens)} at dimension "
                           f"1, but got size {shape[1]} for argument #2 'targets'{where}")


def _lengths(lengths) -> tuple:
    if isinstance(lengths, Tensor):
        return tuple(int(v) for v in lengths.reshape(-1).tolist())
    return tuple(int(v) for v in lengths)
