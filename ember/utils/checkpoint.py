"""Activation checkpointing (``torch.utils.checkpoint``): trade compute for memory by running a
block's forward without keeping its intermediate activations, then running it again with
gradients on during backward to differentiate it.

Both of PyTorch's variants run through one ``ember.autograd.Function`` whose backward replays
the block and back-propagates through the replay (reentrantly), which accumulates the gradients
of the block's parameters as the plain run would. The non-reentrant variant
(``use_reentrant=False``) also gives the Function an anchor input that requires grad, so the
parameters get gradients even when no tensor argument requires grad, as PyTorch's does."""
from __future__ import annotations

import warnings
from typing import Any, Callable, Iterable

from ember import random as _random
from ember._tensor import Tensor
from ember.autograd import backward as _backward
from ember.autograd.function import Function
from ember.autograd.grad_mode import enable_grad, is_grad_enabled

__all__ = ["checkpoint", "checkpoint_sequential", "get_device_states", "set_device_states"]


def _rng_states() -> tuple:
    import ember.cuda
    cuda_states = ember.cuda.get_rng_state_all() if ember.cuda.is_available() else []
    return _random.get_rng_state(), cuda_states


def _set_rng_states(states: tuple) -> None:
    import ember.cuda
    cpu_state, cuda_states = states
    _random.set_rng_state(cpu_state)
    ember.cuda.set_rng_state_all(cuda_states)


def get_device_states(*args) -> tuple[list[int], list[Tensor]]:
    """The GPU indices of the tensors in ``args`` (searched through nested lists, tuples and
    dicts; CPU and meta tensors skipped; one entry per tensor, in order) and each GPU's random
    state, for ``set_device_states`` to restore before a replay."""
    from ember.cuda import get_rng_state
    from ember.utils._pytree import tree_leaves
    indices = [leaf.get_device() for leaf in tree_leaves(args)
               if isinstance(leaf, Tensor) and leaf.device.type not in ("cpu", "meta")]
    return indices, [get_rng_state(index) for index in indices]


def set_device_states(devices: list[int], states: list[Tensor], *,
                      device_type: str | None = None) -> None:
    """Restore the random ``states`` of the GPUs ``devices`` (as ``get_device_states`` returned
    them). ``device_type`` defaults to ``"cuda"``; ``"meta"`` has no random state."""
    from ember.cuda import set_rng_state
    if device_type == "meta":
        return
    for index, state in zip(devices, states):
        set_rng_state(state, index)


class CheckpointFunction(Function):
    """forward: the block under no_grad; backward: the block again, with grad, and its backward."""

    @staticmethod
    def forward(ctx, run_function: Callable, preserve_rng_state: bool, kwargs: dict,
                anchor, *args):
        ctx.run_function = run_function
        ctx.kwargs = kwargs
        ctx.rng_states = _rng_states() if preserve_rng_state else None
        ctx.tensor_positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        ctx.others = [None if isinstance(a, Tensor) else a for a in args]
        ctx.save_for_backward(*(args[i] for i in ctx.tensor_positions))
        return run_function(*args, **kwargs)

    @staticmethod
    def backward(ctx, *grad_outputs):
        args = list(ctx.others)
        for i, t in zip(ctx.tensor_positions, ctx.saved_tensors):
            args[i] = t.detach().requires_grad_(t.requires_grad)
        with _random.fork_rng(enabled=ctx.rng_states is not None):
            if ctx.rng_states is not None:
                _set_rng_states(ctx.rng_states)
            with enable_grad():
                outputs = ctx.run_function(*args, **ctx.kwargs)
        if isinstance(outputs, Tensor):
            outputs = (outputs,)
        pairs = [(o, g) for o, g in zip(outputs, grad_outputs)
                 if isinstance(o, Tensor) and o.requires_grad and g is not None]
        if pairs:
            _backward([o for o, _ in pairs], [g for _, g in pairs])
        grads = tuple(a.grad if isinstance(a, Tensor) else None for a in args)
        return (None, None, None, None) + grads


def _reentrant(use_reentrant: bool | None) -> bool:
    if use_reentrant is None:
        warnings.warn("ember.utils.checkpoint: the use_reentrant parameter should be passed "
                      "explicitly; use_reentrant=False is recommended. Defaulting to True, "
                      "as PyTorch does.", stacklevel=3)
        return True
    return use_reentrant


def checkpoint(function: Callable, *args, use_reentrant: bool | None = None,
               preserve_rng_state: bool = True, **kwargs) -> Any:
    """Run ``function(*args, **kwargs)`` without storing its activations; backward recomputes
    them. With ``preserve_rng_state`` the recomputation draws the same random numbers (dropout
    masks) as the forward. Gradients equal those of calling ``function`` directly."""
    anchor = None
    if not _reentrant(use_reentrant) and is_grad_enabled():
        import ember
        anchor = ember.empty(0, requires_grad=True)
    return CheckpointFunction.apply(function, preserve_rng_state, kwargs, anchor, *args)


def checkpoint_sequential(functions: Iterable[Callable], segments: int, input: Tensor,
                          use_reentrant: bool | None = None, **kwargs) -> Any:
    """Run a sequence of modules or functions (an ``nn.Sequential`` or a list) in ``segments``
    checkpointed chunks; the last chunk runs normally, since backward needs its activations
    right away."""
    use_reentrant = _reentrant(use_reentrant)
    if hasattr(functions, "children") and callable(functions.children):
        functions = list(functions.children())
    functions = list(functions)
    size = len(functions) // segments

    def run_segment(start: int, end: int) -> Callable:
        def forward(x):
            for f in functions[start:end]:
                x = f(x)
            return x
        return forward

    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(run_segment(start, end + 1), input, use_reentrant=use_reentrant,
                           **kwargs)
    return run_segment(end + 1, len(functions))(input)
