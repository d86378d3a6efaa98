"""The loss functions of ``ember.nn.functional`` (re-exported there), composed from ember ops and
the fused primitives of ``ember.ops.nn`` and ``ember.ops.losses`` (log_softmax, softplus, CTC).
The reduction helpers every loss shares and the regression losses (l1, mse, smooth L1, Huber)
are here; the classification and likelihood losses in ``_classification_losses``, the margin,
embedding and CTC losses in ``_margin_losses``, both re-exported here."""
from __future__ import annotations

import warnings

from ember._tensor import Tensor
from ember.autograd.function import Primitive
from ember.autograd.grad_mode import is_grad_enabled
from ember.backend.device import get_array_module
from ember.ops._util import promote, scalar_name
from ember.ops.elementwise import where
from ember.ops.losses import MseLoss, _reduce_array, _reduced_grad
from ember.ops.movement import broadcast_shapes

__all__ = ["l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss", "nll_loss", "cross_entropy",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div",
           "poisson_nll_loss", "gaussian_nll_loss", "margin_ranking_loss",
           "hinge_embedding_loss", "cosine_embedding_loss", "triplet_margin_loss",
           "triplet_margin_with_distance_loss", "soft_margin_loss",
           "multilabel_soft_margin_loss", "multi_margin_loss", "multilabel_margin_loss",
           "ctc_loss"]


class _Reduction:
    """The legacy ``size_average``/``reduce`` flags mapped onto ``reduction``."""

    @staticmethod
    def legacy_get_string(size_average, reduce, emit_warning: bool = True) -> str:
        warning = ("size_average and reduce args will be deprecated, please use "
                   "reduction='{}' instead.")
        if size_average is None:
            size_average = True
        if reduce is None:
            reduce = True
        if size_average and reduce:
            ret = "mean"
        elif reduce:
            ret = "sum"
        else:
            ret = "none"
        if emit_warning:
            warnings.warn(warning.format(ret), stacklevel=3)
        return ret

    @staticmethod
    def get_enum(reduction: str) -> int:
        return {"none": 0, "mean": 1, "elementwise_mean": 1, "sum": 2}[reduction]


def _reduction(size_average, reduce, reduction: str) -> str:
    if size_average is not None or reduce is not None:
        return _Reduction.legacy_get_string(size_average, reduce)
    return reduction


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _check_reduction(reduction: str) -> None:
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _check_sizes(input: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    if target.shape != input.shape:
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size "
                      f"({input.shape}). This will likely lead to incorrect results due to "
                      "broadcasting. Please ensure they have the same size.", stacklevel=3)
    shape = broadcast_shapes(input.shape, target.shape)
    # Expand only what needs it, so that grad_fn chains stay PyTorch's (no no-op Expand nodes).
    return (input if input.shape == shape else input.expand(shape),
            target if target.shape == shape else target.expand(shape))


def _constant(t: Tensor | None, kernel: str, arg: str):
    """The array of an argument that PyTorch's loss kernel ``kernel`` takes no gradient for
    (targets, class weights): the primitive gets it as an array, so its node has no edge for it,
    as PyTorch's ``next_functions`` have none; one that requires grad is refused as PyTorch
    refuses it."""
    if t is None:
        return None
    if t.requires_grad and is_grad_enabled():
        raise RuntimeError(f"The function '{kernel}' is not differentiable with respect to "
                           f"argument '{arg}'. This input cannot have requires_grad True.")
    return t._data


def _weighted(loss: Tensor, weight: Tensor | None) -> Tensor:
    return loss if weight is None else loss * weight


def _elementwise_weighted(loss: Tensor, input_shape, weight: Tensor | None, reduction: str,
                          mean_by_weight: bool) -> Tensor:
    """Reduce an elementwise loss; l1 and mse average a weighted loss by the total weight."""
    if weight is None:
        return _reduce(loss, reduction)
    if weight.shape != input_shape:
        raise ValueError("Weights and input must have the same size.")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"Invalid reduction mode: {reduction}. Expected one of 'none', 'mean', "
                         "'sum'.")
    loss = loss * weight
    if reduction == "mean" and mean_by_weight:
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
            reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean (or sum) absolute error |input - target|."""
    reduction = _reduction(size_average, reduce, reduction)
    shape = input.shape
    input, target = _check_sizes(input, target)
    return _elementwise_weighted((input - target).abs(), shape, weight, reduction, True)


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
             reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean (or sum) squared error (input - target)^2."""
    reduction = _reduction(size_average, reduce, reduction)
    if input.dtype.is_complex or target.dtype.is_complex:
        raise NotImplementedError("mse_loss not implemented for complex tensors")
    _check_floating(input, target, "mse_cpu")
    shape = input.shape
    input, target = _check_sizes(input, target)
    if weight is None and reduction in ("none", "mean", "sum"):
        return MseLoss.apply(input, target, reduction)
    diff = input - target
    return _elementwise_weighted(diff * diff, shape, weight, reduction, True)


def _check_floating(input: Tensor, target: Tensor, kernel: str) -> None:
    """PyTorch's elementwise loss kernels exist for floating (promoted) dtypes only."""
    if not (input.dtype.is_floating_point or target.dtype.is_floating_point):
        dtype = input.dtype if input.dtype.itemsize >= target.dtype.itemsize else target.dtype
        raise NotImplementedError(f'"{kernel}" not implemented for \'{scalar_name(dtype)}\'')


def _huber(diff: Tensor, delta: float) -> Tensor:
    abs_diff = diff.abs()
    quadratic = 0.5 * diff * diff
    linear = delta * (abs_diff - 0.5 * delta)
    return where(abs_diff < delta, quadratic, linear)


def _reduction_enum(node) -> int:
    return _Reduction.get_enum(node.reduction)


class SmoothL1Loss(Primitive, node_name="SmoothL1LossBackward0"):
    """0.5 d^2 / beta where |d| < beta, else |d| - beta / 2, reduced; d = input - target of one
    shape, beta > 0."""

    _node_saved = {"self": 0, "target": 1, "beta": lambda node: node.beta,
                   "reduction": _reduction_enum}

    @staticmethod
    def forward(ctx, a, t, beta, reduction):
        xp = get_array_module(a)
        ctx.save_for_backward(a, t)
        ctx.beta = beta
        ctx.reduction = reduction
        diff = xp.subtract(*promote(a, t))
        abs_diff = xp.abs(diff)
        loss = xp.where(abs_diff < beta, 0.5 * diff * diff / beta, abs_diff - 0.5 * beta)
        return _reduce_array(xp, loss.astype(diff.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, grad):
        a, t = ctx.saved_tensors
        diff = a - t
        slope = where(diff.abs() < ctx.beta, diff / ctx.beta, diff.sign())
        g = _reduced_grad(grad, diff.shape, ctx.reduction) * slope
        return g, -g


class HuberLoss(Primitive, node_name="HuberLossBackward0"):
    """0.5 d^2 where |d| < delta, else delta (|d| - delta / 2), reduced; d = input - target of
    one shape, delta > 0."""

    _node_saved = {"self": 0, "target": 1, "delta": lambda node: node.delta,
                   "reduction": _reduction_enum}

    @staticmethod
    def forward(ctx, a, t, delta, reduction):
        xp = get_array_module(a)
        ctx.save_for_backward(a, t)
        ctx.delta = delta
        ctx.reduction = reduction
        diff = xp.subtract(*promote(a, t))
        abs_diff = xp.abs(diff)
        loss = xp.where(abs_diff < delta, 0.5 * diff * diff, delta * (abs_diff - 0.5 * delta))
        return _reduce_array(xp, loss.astype(diff.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, grad):
        a, t = ctx.saved_tensors
        diff = a - t
        slope = where(diff.abs() < ctx.delta, diff, ctx.delta * diff.sign())
        g = _reduced_grad(grad, diff.shape, ctx.reduction) * slope
        return g, -g


def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - beta / 2."""
    reduction = _reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    _check_floating(input, target, "smooth_l1_cpu")
    input, target = _check_sizes(input, target)
    if beta == 0.0:  # PyTorch's l1_loss then: Sub, Abs and the reduction's node
        return _reduce((input - target).abs(), reduction)
    return SmoothL1Loss.apply(input, target, float(beta), reduction)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta * (|d| - delta / 2)."""
    _check_reduction(reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    _check_floating(input, target, "huber_cpu")
    shape = input.shape
    input, target = _check_sizes(input, target)
    if weight is None:
        return HuberLoss.apply(input, target, float(delta), reduction)
    return _elementwise_weighted(_huber(input - target, delta), shape, weight, reduction, False)


# The other families build on the helpers above: re-exported here (the functions listed in
# ``__all__``, the primitives for saved exports that name them here), last, so that
# ``from ember.nn._losses import cross_entropy`` finds them.
from ember.nn._classification_losses import (  # noqa: E402
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    gaussian_nll_loss,
    kl_div,
    nll_loss,
    poisson_nll_loss,
)
from ember.nn._margin_losses import (  # noqa: E402,F401
    MultilabelMarginLoss,
    MultiMarginLoss,
    SoftMarginLoss,
    cosine_embedding_loss,
    ctc_loss,
    hinge_embedding_loss,
    margin_ranking_loss,
    multi_margin_loss,
    multilabel_margin_loss,
    multilabel_soft_margin_loss,
    soft_margin_loss,
    triplet_margin_loss,
    triplet_margin_with_distance_loss,
)
