"""The classification and likelihood losses of ``ember.nn.functional`` (re-exported there through
``ember.nn._losses``): nll_loss, cross_entropy, binary cross entropy (on probabilities and
logits), kl_div, and the Poisson and Gaussian negative log likelihoods."""
from __future__ import annotations

import math
import warnings

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.autograd.function import broadcast_mismatch
from ember.autograd.grad_mode import no_grad
from ember.backend.device import is_host
from ember.nn._losses import _check_reduction, _constant, _reduce, _Reduction, _reduction
from ember.ops import nn as _nn
from ember.ops._util import scalar_name
from ember.ops.losses import (
    BinaryCrossEntropy,
    BinaryCrossEntropyWithLogits,
    CrossEntropy,
    CrossEntropy2d,
    NllLoss,
    NllLoss2d,
)
from ember.ops.unary import xlogy


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
    fn = NllLoss2d if spatial else NllLoss
    kernel = "nll_loss2d_forward" if spatial else "nll_loss_forward"
    loss = fn.apply(input, target._data, _constant(weight, kernel, "weight"), ignore_index,
                    reduction)
    if reduction != "none":
        return loss
    return loss.squeeze(0) if unbatched else loss.view(shape) if viewed else loss


def _class_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None,
                         ignore_index: int, reduction: str) -> Tensor:
    """cross_entropy with class indices: one fused node over (rows, classes). Half types
    compose log_softmax and nll_loss as PyTorch does: the log-probabilities rounded to the
    half type feed the loss and, through nll_loss's gradient, the backward."""
    if _dt.is_half(input.dtype):
        logp = _nn.log_softmax(input, 0 if input.ndim == 1 else 1)
        return nll_loss(logp, target, weight, None, ignore_index, None, reduction)
    input, target, unbatched = _nll_args(input, target, weight, ignore_index, reduction)
    n_classes = input._data.shape[1]
    shape = target._data.shape
    fn = CrossEntropy
    kernel = "nll_loss2d_forward" if input._data.ndim > 2 else "nll_loss_forward"
    weight = _constant(weight, kernel, "weight")
    if input._data.ndim > 2:  # (N, C, d1, ...): one row of classes per position
        input = input.movedim(1, -1).reshape(-1, n_classes)
        target = target.reshape(-1)
        fn = CrossEntropy2d
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
    return BinaryCrossEntropy.apply(input, target, weight, reduction)


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
    return BinaryCrossEntropyWithLogits.apply(input, target, weight, pos_weight, reduction)


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
