"""The loss functions of ``ember.nn.functional`` (re-exported there), composed from ember ops and
the fused primitives of ``ember.ops.nn`` (log_softmax, softplus, CTC)."""
from __future__ import annotations

import math
import warnings

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive, broadcast_mismatch
from ember.autograd.grad_mode import is_grad_enabled, no_grad
from ember.backend.device import get_array_module, is_host
from ember.ops import nn as _nn
from ember.ops._util import promote, scalar_name
from ember.ops.elementwise import where
from ember.ops.movement import broadcast_shapes
from ember.ops.unary import xlogy

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
        return _nn.MseLoss.apply(input, target, reduction)
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
        return _nn._reduce_array(xp, loss.astype(diff.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, grad):
        a, t = ctx.saved_tensors
        diff = a - t
        slope = where(diff.abs() < ctx.beta, diff / ctx.beta, diff.sign())
        g = _nn._reduced_grad(grad, diff.shape, ctx.reduction) * slope
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
        return _nn._reduce_array(xp, loss.astype(diff.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, grad):
        a, t = ctx.saved_tensors
        diff = a - t
        slope = where(diff.abs() < ctx.delta, diff, ctx.delta * diff.sign())
        g = _nn._reduced_grad(grad, diff.shape, ctx.reduction) * slope
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


# ----------------------------------------------------------------------------------------------
# Classification


def _nll_args(input: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int,
              reduction: str):
    """nll_loss's checks, in PyTorch's order; returns (input, target) with a batch dim and
    whether it was added."""
    _check_reduction(reduction)
    ishape = input._data.shape
    if not ishape:
        raise ValueError("Expected 1 or more dimensions (got 0)")
    unbatched = len(ishape) == 1
    tshape = target._data.shape
    if not unbatched and ishape[0] != (tshape[0] if tshape else 0):
        raise ValueError(f"Expected input batch_size ({ishape[0]}) to match target "
                         f"batch_size ({tshape[0] if tshape else 0}).")
    if len(tshape) > 1 and len(ishape) <= 2:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if unbatched:
        if len(tshape) == 1 and tshape[0] != 1:
            raise ValueError(f"For 1D input, 1D target must have size 1, but got target size: "
                             f"{tshape[0]}")
        input = input.unsqueeze(0)
        target = target.reshape(1)
        ishape = (1,) + ishape
        tshape = (1,)
    if ishape[2:] != tshape[1:]:
        if len(ishape) == 4 and len(tshape) != 3:
            raise RuntimeError("only batches of spatial targets supported (3D tensors) but got "
                               f"targets of dimension: {len(tshape)}")
        if len(ishape) != 4:
            raise RuntimeError(f"Expected target size {[ishape[0], *ishape[2:]]}, got "
                               f"{list(tshape)}")
        raise RuntimeError(f"size mismatch (got input: {list(ishape)} , target: "
                           f"{list(tshape)}")
    if target.dtype is not _dt.int64 and target.dtype is not _dt.uint8:
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got "
                           f"{scalar_name(target.dtype)}")
    spatial = len(ishape) > 2  # PyTorch's nll_loss2d: other messages, Long targets only
    if weight is not None:
        if spatial and weight.numel() != ishape[1]:
            raise RuntimeError("weight tensor should be defined either for all or no classes")
        if not spatial:
            _check_class_weight(weight, ishape[1], "")
        if weight.dtype is not input.dtype:
            raise RuntimeError(f"expected scalar type {scalar_name(input.dtype)} but found "
                               f"{scalar_name(weight.dtype)}")
    if target.dtype is _dt.uint8:
        if spatial:
            raise RuntimeError("expected scalar type Long but found Byte")
        target = target.long()  # the kernels index with int64
    _check_targets(target, ishape[1], ignore_index)
    return input, target, unbatched


def _check_class_weight(weight: Tensor, n_classes: int, prefix: str) -> None:
    if weight.ndim != 1 or weight.shape[0] != n_classes:
        raise RuntimeError(f"{prefix}weight tensor should be defined either for all {n_classes} "
                           f"classes or no classes but got weight tensor of shape: "
                           f"{list(weight.shape)}")


def _check_targets(target: Tensor, n_classes: int, ignore_index: int) -> None:
    tgt = target._data
    if is_host(target._xp):
        # one pass for the common case, all targets in range; the ignored ones looked at after
        if not ((tgt >= 0) & (tgt < n_classes)).all():
            bad = (tgt != ignore_index) & ((tgt < 0) | (tgt >= n_classes))
            if bad.any():
                raise IndexError(f"Target {int(tgt[bad].reshape(-1)[0])} is out of bounds.")
    else:  # checked on the device: see NOTE [ Deferred device checks ]
        from ember.backend import cuda
        flag = cuda.deferred_flag(
            IndexError, f"Target out of bounds: class indices must lie in [0, {n_classes}) or "
                        f"equal ignore_index ({ignore_index}); checked on the GPU, so raised at "
                        f"the next synchronisation")
        cuda.flag_targets_outside(tgt, n_classes, ignore_index, flag)


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """-input[n, target[n]] * weight[target[n]], over (N, C), (C,) or (N, C, d1, ...) input.

    With ``reduction='mean'`` the sum is divided by the total weight of non-ignored targets.
    """
    reduction = _reduction(size_average, reduce, reduction)
    input, target, unbatched = _nll_args(input, target, weight, ignore_index, reduction)
    spatial = input.ndim > 2
    shape = tuple(target.shape)
    viewed = spatial and input.ndim != 4
    if viewed:  # PyTorch's nll_loss_nd runs nll_loss2d on a 4-d view (one more graph node)
        positions = math.prod(shape[1:])
        input = input.contiguous().view(shape[0], input.shape[1], 1, positions)
        target = target.contiguous().view(shape[0], 1, positions)
    fn = _nn.NllLoss2d if spatial else _nn.NllLoss
    kernel = "nll_loss2d_forward" if spatial else "nll_loss_forward"
    loss = fn.apply(input, target._data, _constant(weight, kernel, "weight"), ignore_index,
                    reduction)
    if reduction != "none":
        return loss
    return loss.squeeze(0) if unbatched else loss.view(shape) if viewed else loss


def _class_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None,
                         ignore_index: int, reduction: str) -> Tensor:
    """cross_entropy with class indices: one fused node over (rows, classes)."""
    input, target, unbatched = _nll_args(input, target, weight, ignore_index, reduction)
    n_classes = input._data.shape[1]
    shape = target._data.shape
    fn = _nn.CrossEntropy
    kernel = "nll_loss2d_forward" if input._data.ndim > 2 else "nll_loss_forward"
    weight = _constant(weight, kernel, "weight")
    if input._data.ndim > 2:  # (N, C, d1, ...): one row of classes per position
        input = input.movedim(1, -1).reshape(-1, n_classes)
        target = target.reshape(-1)
        fn = _nn.CrossEntropy2d
    loss = fn.apply(input, target._data, weight, ignore_index, reduction)
    if reduction != "none":
        return loss
    return loss.reshape(shape[1:] if unbatched else shape)


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average=None, ignore_index: int = -100, reduce=None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """log_softmax over the class dim (1, or 0 for unbatched input) followed by the NLL of class
    indices, or the cross-entropy with class probabilities when ``target`` is floating."""
    reduction = _reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if label_smoothing > 1.0:  # a negative one is no smoothing, as in PyTorch
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if not (input.dtype.is_floating_point or input.dtype.is_complex):
        raise NotImplementedError(f'"log_softmax_lastdim_kernel_impl" not implemented for '
                                  f"'{scalar_name(input.dtype)}'")
    # PyTorch tells the two target kinds apart by shape: probabilities have the input's
    probabilities = input._data.shape == target._data.shape
    if not probabilities and label_smoothing <= 0:
        return _class_cross_entropy(input, target, weight, ignore_index, reduction)
    if probabilities:
        if not target.dtype.is_floating_point:
            raise RuntimeError(f"Expected floating point type for target with class "
                               f"probabilities, got {scalar_name(target.dtype)}")
        if ignore_index >= 0:
            raise RuntimeError("ignore_index is not supported for floating point target")
    if input.ndim == 0:
        raise IndexError("Dimension specified as 1 but tensor has no dimensions")
    class_dim = 0 if input.ndim == 1 else 1
    n_classes = input.shape[class_dim]
    w_shape = [1] * input.ndim
    w_shape[class_dim] = n_classes
    if probabilities:
        if weight is not None:
            _check_class_weight(weight, n_classes, "cross_entropy: ")
        logp = _nn.log_softmax(input, class_dim)
        if label_smoothing > 0:
            target = target * (1 - label_smoothing) + label_smoothing / n_classes
        terms = logp * target
        if weight is not None:
            terms = terms * weight.reshape(w_shape)
        if reduction == "mean":  # over samples and positions, not weights; 0 classes: nan
            return -terms.sum() / (input.numel() / n_classes if n_classes else math.nan)
        if reduction == "sum":  # PyTorch's node order: negate the total
            return -terms.sum()
        return -terms.sum(class_dim)
    logp = _nn.log_softmax(input, class_dim)
    nll = nll_loss(logp, target, weight, None, ignore_index, None, reduction)
    ignored = target._data == ignore_index
    keep = _make((~ignored).astype(logp._data.dtype))
    terms = logp if weight is None else logp * weight.reshape(w_shape)
    # masked_fill, not a product: all targets ignored gives nan forward but a zero gradient
    smooth = (-terms.sum(class_dim)).masked_fill(_make(ignored), 0)
    if reduction == "mean":
        if weight is None:
            smooth = smooth.sum() / keep.sum()
        else:
            safe = _make(target._xp.where(target._data == ignore_index, 0, target._data))
            smooth = smooth.sum() / (weight.detach()[safe] * keep).sum()
    elif reduction == "sum":
        smooth = smooth.sum()
    return (1 - label_smoothing) * nll + smooth * (label_smoothing / n_classes)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """-(t log x + (1 - t) log(1 - x)), each log clamped at -100 as PyTorch does."""
    reduction = _reduction(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input "
                         f"size ({input.shape}) is deprecated. Please ensure they have the same "
                         "size.")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if target.dtype is not input.dtype:
        raise RuntimeError(f"Found dtype {scalar_name(target.dtype)} but expected "
                           f"{scalar_name(input.dtype)}")
    _check_unit_interval(input, "input")
    _check_unit_interval(target, "target")
    if weight is not None:
        weight = _constant(weight.expand(input.shape), "binary_cross_entropy", "weight")
    return _nn.BinaryCrossEntropy.apply(input, target, weight, reduction)


def _check_unit_interval(x: Tensor, name: str) -> None:
    """PyTorch's range check on BCE's operands; NaN fails it too."""
    data = x._data
    if not data.size:
        return
    message = f"all elements of {name} should be between 0 and 1"
    if is_host(x._xp):  # two reductions, no temporaries; a NaN min/max compares False
        # (a meta array's truth is False: phrased as "bad", so meta passes)
        if ~((data.min() >= 0) & (data.max() <= 1)):
            raise RuntimeError(message)
    else:  # checked on the device: see NOTE [ Deferred device checks ]
        from ember.backend import cuda
        cuda.defer_check(~((data >= 0) & (data <= 1)).all(), RuntimeError, message)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None, size_average=None,
                                     reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """BCE of sigmoid(input), computed stably as (1 - t) x + (1 + (pw - 1) t) softplus(-x)."""
    reduction = _reduction(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(f"Target size ({target.shape}) must be the same as input size "
                         f"({input.shape})")
    if not target.dtype.is_floating_point:  # the loss is written into target's dtype
        result = _dt.promote_types(input.dtype, target.dtype)
        raise RuntimeError(f"result type {scalar_name(result)} can't be cast to the desired "
                           f"output type {scalar_name(target.dtype)}")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    kernel = "binary_cross_entropy_with_logits"
    if weight is not None:
        weight = _constant(weight.expand(input.shape), kernel, "weight")
    if pos_weight is not None:
        try:
            pos_weight = pos_weight.expand(input.shape)
        except RuntimeError as exc:
            raise broadcast_mismatch((pos_weight.shape, input.shape)) or exc from None
        pos_weight = _constant(pos_weight, kernel, "pos_weight")
    return _nn.BinaryCrossEntropyWithLogits.apply(input, target, weight, pos_weight, reduction)


def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """target * (log target - input), ``input`` being log-probabilities."""
    if size_average is not None or reduce is not None:
        reduction = _Reduction.legacy_get_string(size_average, reduce)
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", stacklevel=2)
    if not (input.dtype.is_floating_point or input.dtype.is_complex) or not (
            target.dtype.is_floating_point or target.dtype.is_complex):
        raise RuntimeError("kl_div: Integral inputs not supported.")
    if log_target:
        loss = target.exp() * (target - input)
    else:  # xlogy: 0 where target is 0, NaN where it is negative (as is the target grad at 0)
        loss = xlogy(target, target) - target * input
    if reduction == "batchmean":
        if input.ndim == 0:
            return loss.sum()
        return loss.sum() / input.shape[0]
    return _reduce(loss, reduction)


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average=None, eps: float = 1e-8, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """exp(x) - t x (``log_input``) or x - t log(x + eps), plus Stirling's term if ``full``."""
    reduction = _reduction(size_average, reduce, reduction)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:  # Stirling's term, masked (not clamped) where target <= 1, as in PyTorch: the
        # target gradient there is 0 times the term's, nan at target 0
        stirling = target * target.log() - target + 0.5 * (2 * math.pi * target).log()
        loss = loss + stirling.masked_fill(target <= 1, 0)
    return _reduce(loss, reduction)


def _one_dim_is_one(var_shape, input_shape) -> bool:
    """Whether ``var_shape`` is ``input_shape`` with exactly one dim replaced by 1."""
    if len(var_shape) != len(input_shape):
        return False
    differ = [v for v, i in zip(var_shape, input_shape) if v != i]
    return differ == [1]


def gaussian_nll_loss(input: Tensor, target: Tensor, var, full: bool = False,
                      eps: float = 1e-6, reduction: str = "mean") -> Tensor:
    """0.5 * (log(var) + (input - target)^2 / var), var clamped at ``eps`` (without grad)."""
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = input.new_full((), float(var))
    elif var.shape != input.shape:
        if tuple(input.shape[:-1]) == tuple(var.shape):  # one variance per sample
            var = var.unsqueeze(-1)
        elif not _one_dim_is_one(var.shape, input.shape):  # homoscedastic along one dim
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    if (var._data < 0).any():
        raise ValueError("var has negative entry/entries")
    var = var.clone()
    with no_grad():
        var.clamp_(min=eps)
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


# ----------------------------------------------------------------------------------------------
# Margin and embedding losses


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
        return _nn._reduce_array(xp, loss.astype(dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, grad):
        x, t = ctx.saved_tensors
        if x.dtype.is_floating_point and t.dtype is not x.dtype:
            t = t.to(x.dtype)
        g = _nn._reduced_grad(grad, x.shape, ctx.reduction)
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


def _check_reduction(reduction: str) -> None:
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")


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
    return _nn._reduce_array(xp, loss, reduction)


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
        g = _nn._reduced_grad(grad, ctx.loss_shape, ctx.reduction).reshape(n, 1) * coef / c
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
        g = _nn._reduced_grad(grad, x.shape[:-1], ctx.reduction).reshape(-1, 1) * coef
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
    losses = _nn.CtcLoss.apply(log_probs, targets, in_lens, tgt_lens, blank, zero_infinity)
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

