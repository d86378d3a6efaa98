"""``torch.nn.utils._expanded_weights``: parameters that collect per-sample gradients.

An :class:`ExpandedWeight` stands for a parameter in a batched call (see
``call_for_per_sample_grads``): the layer functions that take one (``linear``, ``conv1d`` to
``conv3d``, ``embedding``, ``layer_norm``, ``group_norm``, ``instance_norm``) compute as with the
parameter itself, and their backward stores each sample's gradient of the parameter in
``param.grad_sample`` (batch first, added to one already there) instead of summing them into
``param.grad``. With ``loss_reduction="mean"`` the per-sample gradients are scaled by the batch
size, undoing the mean's ``1 / batch_size``. Any other function given one raises: it could not
know which dimension is the batch.

Linear layers have closed forms (per-sample outer products); the others differentiate each
sample's slice of the call on its own, which is exact since these layers treat the samples of a
batch independently.
"""
from __future__ import annotations

from typing import Callable

import ember
from ember._tensor import Tensor
from ember.autograd.function import Function, once_differentiable
from ember.overrides import _install as _install_dispatch
from ember.overrides import make_subclass

__all__ = ["ExpandedWeight"]


class ExpandedWeight(Tensor):
    """``orig_weight`` in a call over a batch of ``batch_size`` samples (same data and
    metadata); its layer functions fill ``orig_weight.grad_sample`` in backward."""

    def __new__(cls, orig_weight: Tensor, batch_size: int, loss_reduction: str):
        if not isinstance(orig_weight, Tensor):
            raise RuntimeError("Can only make Expanded Weights of Tensors, got "
                               f"{type(orig_weight).__name__}")
        if not orig_weight.requires_grad:
            raise RuntimeError("Can only build ExpandedWeights objects of tensors that "
                               "requires_grad")
        _install_dispatch()  # (installed when this class was made, unless undone since)
        return make_subclass(cls, orig_weight, True)

    def __init__(self, orig_weight: Tensor, batch_size: int, loss_reduction: str) -> None:
        self.orig_weight = orig_weight
        self.batch_size = batch_size
        self.loss_reduction = loss_reduction
        self.batch_first = True
        self.allow_smaller_batches = False

    # the original weight's metadata, read without dispatching (layers check shapes)
    @property
    def shape(self):
        return self.orig_weight.shape

    @property
    def dtype(self):
        return self.orig_weight.dtype

    @property
    def device(self):
        return self.orig_weight.device

    @property
    def data(self):
        return self.orig_weight.data

    @property
    def is_cuda(self) -> bool:
        return self.orig_weight.is_cuda

    def data_ptr(self) -> int:
        return self.orig_weight.data_ptr()

    def get_device(self) -> int:
        return self.orig_weight.get_device()

    def set_batch_first(self, is_batch_first: bool = True) -> None:
        self.batch_first = is_batch_first

    def set_allow_smaller_batches(self, is_allow_smaller_batches: bool) -> None:
        self.allow_smaller_batches = is_allow_smaller_batches

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        handled = _handled()
        if func not in handled:
            raise RuntimeError(f"Expanded Weights encountered but cannot handle function "
                               f"{getattr(func, '__name__', func)}")
        names = tuple(kwargs)
        return _PerSampleGrad.apply(func, handled[func], names, *args, *kwargs.values())


# ------------------------------------------------------------------------------------------------
# Per-sample gradients of each layer function

def _linear_grad_samples(input: Tensor, grad: Tensor, weight, bias=None) -> list:
    """Per-sample gradients of ``linear``'s weight and bias: outer products of each sample's
    output gradient and input, summed over any middle dims."""
    grads = [ember.einsum("n...i,n...j->nij", grad, input)]
    if bias is not None:
        grads.append(grad.reshape(grad.shape[0], -1, grad.shape[-1]).sum(1))
    return grads


def _handled() -> dict[Callable, Callable | None]:
    """The layer functions and their closed-form per-sample gradients (None: by sample)."""
    F = ember.nn.functional
    return {F.linear: _linear_grad_samples, F.conv1d: None, F.conv2d: None, F.conv3d: None,
            F.embedding: None, F.layer_norm: None, F.group_norm: None, F.instance_norm: None}


def _checked_input(func, args: tuple, expanded: list) -> Tensor:
    """The batched input (the first argument), checked against the expanded weights."""
    input = args[0]
    name = getattr(func, "__name__", func)
    if isinstance(input, ExpandedWeight):
        raise RuntimeError("Expanded Weights do not support inputs that are also "
                           f"ExpandedWeights. Input must be a Tensor, got ExpandedWeight in "
                           f"function {name}")
    if not isinstance(input, Tensor):
        raise RuntimeError("Expanded Weights requires a Tensor as the first input to get the "
                           f"batch dimension, got {type(input).__name__} in function {name}")
    if input.dim() == 0:
        raise RuntimeError("Expanded Weights requires a batch dimension but got an input of "
                           f"size 0 in function {name}")
    for weight in expanded:
        size = input.shape[0] if weight.batch_first else input.shape[1]
        if size > weight.batch_size or (size < weight.batch_size
                                        and not weight.allow_smaller_batches):
            raise RuntimeError("Expected ExpandedWeights to have batch size matching input but "
                               f"got input batch size of {size} with ExpandedWeight of batch "
                               f"size {weight.batch_size}")
    if len({w.loss_reduction for w in expanded}) > 1:
        raise RuntimeError("Expected ExpandedWeights to all have the same loss_reduction "
                           "argument")
    return input


class _PerSampleGrad(Function):
    """A layer function called with expanded weights: computed with the original weights;
    backward gives the input (and any plain tensor argument) its gradient and each expanded
    weight its per-sample gradients."""

    @staticmethod
    def forward(ctx, func, per_sample, kwarg_names, *values):
        args, kwargs = _split(values, kwarg_names)
        expanded = [v for v in values if isinstance(v, ExpandedWeight)]
        _checked_input(func, args, expanded)
        ctx.func, ctx.per_sample, ctx.kwarg_names = func, per_sample, kwarg_names
        ctx.values = values
        ctx.batch_dim = 0 if all(w.batch_first for w in expanded) else 1
        args, kwargs = _split(_plain(values), kwarg_names)
        return func(*args, **kwargs)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        values = ctx.values
        leaves = [_leaf(v, first=i == 0) for i, v in enumerate(values)]
        wanted = [i for i, v in enumerate(values) if isinstance(v, Tensor)
                  and not isinstance(v, ExpandedWeight) and v.requires_grad]
        grads = [None] * len(values)
        if wanted:
            with ember.enable_grad():
                args, kwargs = _split(leaves, ctx.kwarg_names)
                out = ctx.func(*args, **kwargs)
                found = ember.autograd.grad(out, [leaves[i] for i in wanted], grad,
                                            allow_unused=True)
            for i, g in zip(wanted, found):
                grads[i] = g
        expanded = [i for i, v in enumerate(values) if isinstance(v, ExpandedWeight)]
        samples = _grad_samples(ctx, leaves, expanded, grad)
        for i, sample in zip(expanded, samples):
            _accumulate(values[i], sample)
        return (None, None, None, *grads)


def _leaf(value, first: bool):
    """``value`` for recomputing the call in backward: tensors detached (those that require
    grad as leaves that do), the ones nothing differentiates (running statistics) copied, so
    that recomputing leaves them as the forward did."""
    if isinstance(value, ExpandedWeight):
        return value.orig_weight.detach()
    if not isinstance(value, Tensor):
        return value
    if value.requires_grad or first:
        return value.detach().requires_grad_(value.requires_grad)
    return value.detach().clone()


def _split(values, kwarg_names: tuple) -> tuple[tuple, dict]:
    count = len(values) - len(kwarg_names)
    return tuple(values[:count]), dict(zip(kwarg_names, values[count:]))


def _plain(values) -> tuple:
    return tuple(v.orig_weight if isinstance(v, ExpandedWeight) else v for v in values)


def _grad_samples(ctx, leaves: list, expanded: list, grad: Tensor) -> list:
    """Each expanded weight's per-sample gradients (batch first), in ``expanded``'s order."""
    input = leaves[0].detach()
    if ctx.per_sample is not None and ctx.batch_dim == 0:
        args, kwargs = _split(leaves, ctx.kwarg_names)
        everything = ctx.per_sample(input, grad, *args[1:], **kwargs)
        weights = [i for i, v in enumerate(leaves) if isinstance(v, Tensor) and i > 0
                   and v is not None]
        by_position = dict(zip(weights, everything))
        return [by_position[i] for i in expanded]
    batch = input.shape[ctx.batch_dim]
    per_weight: list = [[] for _ in expanded]
    for n in range(batch):
        sample = list(leaves)
        sample[0] = input.narrow(ctx.batch_dim, n, 1)
        params = [leaves[i].detach().requires_grad_() for i in expanded]
        for i, p in zip(expanded, params):
            sample[i] = p
        with ember.enable_grad():
            args, kwargs = _split(sample, ctx.kwarg_names)
            out = ctx.func(*args, **kwargs)
            found = ember.autograd.grad(out, params, grad.narrow(ctx.batch_dim, n, 1),
                                        allow_unused=True)
        for collected, g, p in zip(per_weight, found, params):
            collected.append(g if g is not None else ember.zeros_like(p))
    return [ember.stack(collected) for collected in per_weight]


def _accumulate(weight: ExpandedWeight, sample: Tensor) -> None:
    """Add ``sample`` (scaled for a mean loss, padded to the full batch) to the original
    weight's ``grad_sample``."""
    if weight.loss_reduction == "mean":
        sample = sample * weight.batch_size
    if sample.shape[0] < weight.batch_size:
        padded = ember.zeros((weight.batch_size, *sample.shape[1:]), dtype=sample.dtype,
                             device=sample.device)
        padded[:sample.shape[0]] = sample
        sample = padded
    orig = weight.orig_weight
    existing = getattr(orig, "grad_sample", None)
    orig.grad_sample = sample if existing is None else existing + sample
