"""Activation checkpointing (``torch.utils.checkpoint``): trade compute for memory by running a
block's forward without keeping its intermediate activations, then running it again during
backward to get them back.

PyTorch's two variants:

- reentrant (``use_reentrant=True``): one ``ember.autograd.Function`` runs the block under
  no_grad; its backward replays the block with grad and back-propagates through the replay,
  accumulating the block's parameter gradients as the plain run would (so ``autograd.grad``
  is not supported, as in PyTorch).
- non-reentrant (``use_reentrant=False``, recommended): the block runs with grad as usual, but
  under saved-tensor hooks that keep only an index for each tensor an op saves. The first time
  backward unpacks one, the block is run again (same random state) under hooks that collect
  the saved tensors by index, stopping once all are back. The graph is the plain run's, so
  ``autograd.grad``, higher-order gradients and ``retain_graph`` behave as without checkpointing.
"""
from __future__ import annotations

import contextlib
import os
import traceback
import warnings
from typing import Any, Callable, ContextManager, Iterable

from ember import random as _random
from ember._tensor import Tensor
from ember.autograd import backward as _backward
from ember.autograd.function import Function
from ember.autograd.grad_mode import enable_grad, is_grad_enabled
from ember.autograd.graph import saved_tensors_hooks
from ember.utils._selective_checkpoint import (
    SAC_IGNORED_OPS,
    CheckpointPolicy,
    SelectiveCheckpointContext,
    create_selective_checkpoint_contexts,
)

__all__ = ["CheckpointError", "CheckpointPolicy", "DefaultDeviceType", "SAC_IGNORED_OPS",
           "SelectiveCheckpointContext", "check_backward_validity", "checkpoint",
           "checkpoint_sequential", "create_selective_checkpoint_contexts", "detach_variable",
           "get_device_states", "noop_context_fn", "set_checkpoint_debug_enabled",
           "set_checkpoint_early_stop", "set_device_states"]


class CheckpointError(RuntimeError):
    """A non-reentrant checkpoint's recomputation did not give back what the forward saved."""


class DefaultDeviceType:
    """The device type whose random state checkpointing saves when no argument is on an
    accelerator: ``"cuda"`` where ember sees a GPU, else ``"cpu"``, unless set."""

    _default_device_type: str | None = None

    @staticmethod
    def set_device_type(device: str = "cuda") -> None:
        DefaultDeviceType._default_device_type = device

    @staticmethod
    def get_device_type() -> str:
        if not DefaultDeviceType._default_device_type:
            import ember.cuda
            DefaultDeviceType._default_device_type = ("cuda" if ember.cuda.is_available()
                                                      else "cpu")
        return DefaultDeviceType._default_device_type


def noop_context_fn() -> tuple[ContextManager, ContextManager]:
    """The default ``context_fn``: no context around the forward or the recomputation."""
    return contextlib.nullcontext(), contextlib.nullcontext()


def check_backward_validity(inputs: Iterable[Any]) -> None:
    """Warn when no tensor among ``inputs`` requires grad (the reentrant variant then gives no
    gradients)."""
    if not any(x.requires_grad for x in inputs if isinstance(x, Tensor)):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None",
                      stacklevel=2)


def detach_variable(inputs: tuple) -> tuple:
    """``inputs`` with each tensor replaced by a detached one keeping its ``requires_grad``."""
    if not isinstance(inputs, tuple):
        raise RuntimeError("Only tuple of tensors is supported. Got Unsupported input type: "
                           f"{type(inputs).__name__}")
    return tuple(x.detach().requires_grad_(x.requires_grad) if isinstance(x, Tensor) else x
                 for x in inputs)


_early_stop = [True]
_debug: list = [None]


@contextlib.contextmanager
def set_checkpoint_early_stop(enable: bool):
    """Whether non-reentrant checkpoints made inside stop recomputing once every saved tensor
    is back (default True); needed only around the forward."""
    previous, _early_stop[0] = _early_stop[0], enable
    try:
        yield
    finally:
        _early_stop[0] = previous


@contextlib.contextmanager
def set_checkpoint_debug_enabled(enabled: bool | None):
    """Overrides every checkpoint's ``debug`` argument inside (None: leave each as given)."""
    previous, _debug[0] = _debug[0], enabled
    try:
        yield
    finally:
        _debug[0] = previous


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
    def forward(ctx, run_function: Callable, preserve_rng_state: bool, kwargs: dict, *args):
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
        return (None, None, None) + grads


def _reentrant(use_reentrant: bool | None) -> bool:
    if use_reentrant is None:
        warnings.warn("ember.utils.checkpoint: the use_reentrant parameter should be passed "
                      "explicitly; use_reentrant=False is recommended. Defaulting to True, "
                      "as PyTorch does.", stacklevel=3)
        return True
    return use_reentrant


def checkpoint(function: Callable, *args, use_reentrant: bool | None = None,
               context_fn: Callable[[], tuple] = noop_context_fn,
               determinism_check: str = "default", debug: bool = False,
               early_stop: bool = True, preserve_rng_state: bool = True, **kwargs) -> Any:
    """Run ``function(*args, **kwargs)`` without storing its activations; backward recomputes
    them. With ``preserve_rng_state`` the recomputation draws the same random numbers (dropout
    masks) as the forward. Gradients equal those of calling ``function`` directly.

    Non-reentrant only: ``context_fn`` returns two context managers, entered around the
    forward and around the recomputation; ``determinism_check="default"`` raises
    CheckpointError where a recomputed tensor's shape, dtype or device differs from the
    forward's (``"none"`` skips it), and with ``debug`` its message shows where the forward
    saved each such tensor; ``early_stop`` stops recomputing once all saved tensors are back
    (``set_checkpoint_early_stop`` overrides it).
    """
    if determinism_check not in ("default", "none"):
        raise ValueError("determinism_check should be one of ['default', 'none'], but got "
                         f"{determinism_check}")
    if _reentrant(use_reentrant):
        if context_fn is not noop_context_fn or debug:
            raise ValueError("Passing `context_fn` or `debug` is only supported when "
                             "use_reentrant=False.")
        return CheckpointFunction.apply(function, preserve_rng_state, kwargs, *args)
    if not is_grad_enabled():  # nothing will be saved
        return function(*args, **kwargs)
    forward_context, recompute_context = context_fn()
    recomputation = _Recomputation(function, args, kwargs, preserve_rng_state,
                                   recompute_context, determinism_check == "default",
                                   early_stop and _early_stop[0],
                                   debug if _debug[0] is None else _debug[0])
    with saved_tensors_hooks(recomputation.pack, recomputation.unpack), forward_context:
        return function(*args, **kwargs)


_EMBER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _StopRecomputation(Exception):
    """Raised by the recomputation's pack hook once every saved tensor is back."""


class _Recomputation:
    """The saved-tensor hooks of one non-reentrant checkpointed call: the forward's pack keeps
    an index (and the tensor's metadata, for the determinism check); the first unpack of a
    tensor not yet recomputed runs the block again, collecting its saved tensors by index.
    Each recomputed tensor is handed out once, so a second backward (retain_graph) recomputes
    again, and memory holds recomputed tensors only until they are used."""

    def __init__(self, function, args, kwargs, preserve_rng_state: bool, recompute_context,
                 check_metadata: bool, early_stop: bool, debug: bool) -> None:
        self.function, self.args, self.kwargs = function, args, kwargs
        self.rng_states = _rng_states() if preserve_rng_state else None
        self.recompute_context = recompute_context
        self.check_metadata, self.early_stop = check_metadata, early_stop
        self.metadata: list = []
        self.saved_at: list | None = [] if debug else None  # the forward's stack per tensor
        self.recomputed: dict = {}

    def pack(self, tensor: Tensor) -> int:
        self.metadata.append(_metadata(tensor))
        if self.saved_at is not None:  # the caller's frames: ember's own say nothing here
            frames = [f for f in traceback.extract_stack() if not f.filename.startswith(_EMBER)]
            self.saved_at.append("".join(traceback.format_list(frames[-6:])))
        return len(self.metadata) - 1

    def unpack(self, index: int) -> Tensor:
        if index not in self.recomputed:
            self._recompute()
        if index not in self.recomputed:
            raise CheckpointError(
                "torch.utils.checkpoint: Unpack is being triggered for a tensor that was not "
                f"saved during recomputation (position {index}; the recomputation saved "
                f"{len(self.recomputed)} of the forward's {len(self.metadata)} tensors)")
        return self.recomputed.pop(index)

    def _recompute(self) -> None:
        collected: list = []

        # the replay's own graph keeps its saved tensors as they are: a double backward
        # (create_graph=True) differentiates through them
        def pack(tensor: Tensor) -> Tensor:
            if len(collected) == len(self.metadata):
                raise CheckpointError(
                    "torch.utils.checkpoint: trying to save more tensors during recomputation "
                    f"than during the original forward pass ({len(self.metadata)}).")
            collected.append(tensor)
            if self.early_stop and len(collected) == len(self.metadata):
                raise _StopRecomputation
            return tensor

        with _random.fork_rng(enabled=self.rng_states is not None):
            if self.rng_states is not None:
                _set_rng_states(self.rng_states)
            try:
                with saved_tensors_hooks(pack, _identity), enable_grad(), \
                        self.recompute_context:
                    self.function(*self.args, **self.kwargs)
            except _StopRecomputation:
                pass
        if self.check_metadata:
            mismatched = [f"tensor at position {i}:\nsaved metadata: {saved}\nrecomputed "
                          f"metadata: {_metadata(t)}" + (
                              "" if self.saved_at is None else
                              f"\nsaved during the forward at:\n{self.saved_at[i]}")
                          for i, (saved, t) in enumerate(zip(self.metadata, collected))
                          if saved != _metadata(t)]
            if len(collected) < len(self.metadata):
                mismatched.append(f"the recomputation saved {len(collected)} tensors, the "
                                  f"forward {len(self.metadata)}")
            if mismatched:
                raise CheckpointError("torch.utils.checkpoint: Recomputed values for the "
                                      "following tensors have different metadata than during "
                                      "the forward pass.\n" + "\n".join(mismatched))
        self.recomputed = dict(enumerate(collected))


def _metadata(tensor: Tensor) -> dict:
    return {"shape": tensor.shape, "dtype": tensor.dtype, "device": tensor.device}


def _identity(tensor: Tensor) -> Tensor:
    return tensor


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
