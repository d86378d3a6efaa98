"""``torch.nn.utils._per_sample_grad``: a module's forward that records per-sample gradients
of its parameters (see ``ember.nn.utils._expanded_weights``)."""
from __future__ import annotations

import functools
from typing import Callable

import ember
from ember._tensor import Tensor
from ember.nn.utils._expanded_weights import ExpandedWeight
from ember.utils import _pytree

__all__ = ["call_for_per_sample_grads"]


def call_for_per_sample_grads(module, *, batch_size: int | None = None,
                              loss_reduction: str = "sum", batch_first: bool = True) -> Callable:
    """``module``'s forward, run with each parameter that requires grad standing in as an
    :class:`ExpandedWeight`: backward then leaves ``param.grad`` alone and stores per-sample
    gradients in ``param.grad_sample`` (batch first).

    Args:
        module: the ``nn.Module``; every layer that uses a parameter must be one whose
            function ExpandedWeight handles (linear, convolutions, embedding, layer, group and
            instance norm; not recurrent layers, as in PyTorch).
        batch_size: the batch size; by default the size of the batch dimension shared by all
            tensor arguments.
        loss_reduction: ``"sum"`` or ``"mean"`` (per-sample gradients then scaled by the batch
            size, undoing the mean).
        batch_first: whether the batch dimension of the inputs is the first (else the second).
    """
    if loss_reduction not in ("sum", "mean"):
        raise RuntimeError(f"Expected loss_reduction argument to be sum or mean, got "
                           f"{loss_reduction}")
    if not isinstance(module, ember.nn.Module):
        raise RuntimeError(f"Module passed must be nn.Module, got {type(module).__name__}")
    if not (batch_size is None or isinstance(batch_size, int)):
        raise RuntimeError(f"Batch size passed must be None or an integer, got "
                           f"{type(batch_size).__name__}")
    if batch_size is not None and batch_size < 1:
        raise RuntimeError(f"Batch size must be positive, got {batch_size}")
    for weight in module.parameters():
        if getattr(weight, "grad_sample", None) is not None:
            raise RuntimeError("Current Expanded Weights accumulates the gradients, which will be "
                               "incorrect for multiple calls without clearing gradients. Please "
                               f"clear out the grad_sample parameter of {weight} or post an "
                               "issue to pytorch/pytorch to prioritize correct behavior")

    def inferred_batch_size(args: tuple, kwargs: dict) -> int:
        found = None
        for leaf in _pytree.tree_leaves((args, kwargs)):
            if not isinstance(leaf, Tensor):
                continue
            size = leaf.shape[0] if batch_first else leaf.shape[1]
            if found is not None and size != found:
                raise RuntimeError(
                    "When computing batch size, found at least one input with batch size "
                    f"{found} and one with batch size {size}. Please specify it explicitly "
                    "using the batch size kwarg in call_for_per_sample_grads")
            found = size
        if found is None:
            raise RuntimeError("Unable to find a tensor in the passed args and kwargs. They may "
                               "not be pytree-able and so ExpandedWeights cannot compute the "
                               "batch size from the inputs. Please specify it explicitly")
        return found

    @functools.wraps(module.forward)
    def wrapper(*args, **kwargs):
        size = batch_size if batch_size is not None else inferred_batch_size(args, kwargs)
        params = {name: ExpandedWeight(p, size, loss_reduction) if p.requires_grad else p
                  for name, p in module.named_parameters()}
        for weight in params.values():
            if isinstance(weight, ExpandedWeight):
                weight.set_batch_first(batch_first)
        return ember.func.functional_call(module, params, args, kwargs)

    return wrapper
