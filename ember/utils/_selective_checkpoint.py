"""Selective activation checkpointing (``torch.utils.checkpoint``'s SAC): a policy picks, op by
op, which outputs of a checkpointed block are kept from the forward instead of recomputed.

``create_selective_checkpoint_contexts(policy)`` gives ``checkpoint``'s ``context_fn`` two
dispatch modes sharing one store: around the forward, a mode that runs each operator, asks the
policy about it and stores its outputs (or a mark to recompute it) under the operator and its
call count; around the recomputation, a mode that counts the calls again and hands back the
stored outputs instead of the recomputed ones, each once. ember records an op by running it
(see NOTE [ Recording below a mode ] in ``ember._dispatch``), so a saved op still runs during
the recomputation: the store decides the values, as in PyTorch, not the work saved.
"""
from __future__ import annotations

import enum
from collections import defaultdict
from typing import Any, Callable

from ember.utils._python_dispatch import TorchDispatchMode
from ember.utils._pytree import tree_map

__all__ = ["CheckpointPolicy", "SelectiveCheckpointContext", "SAC_IGNORED_OPS",
           "create_selective_checkpoint_contexts"]


class CheckpointPolicy(enum.Enum):
    """What to do with an op's output: ``*_SAVE`` keeps it from the forward, ``*_RECOMPUTE``
    recomputes it in backward. ``MUST_*`` asks that no other system (a compiler) override the
    choice; eager ember treats ``MUST_`` and ``PREFER_`` alike."""
    MUST_SAVE = 0
    PREFER_SAVE = 1
    MUST_RECOMPUTE = 2
    PREFER_RECOMPUTE = 3


_SAVE = (CheckpointPolicy.MUST_SAVE, CheckpointPolicy.PREFER_SAVE)


class SelectiveCheckpointContext:
    """The first argument of a policy: ``is_recompute`` (False: policies are asked during the
    forward) and ``op_output``, the op's outputs."""

    def __init__(self, *, is_recompute: bool, op_output: Any = None) -> None:
        self.is_recompute = is_recompute
        self.op_output = op_output


def _ignored_ops() -> set:
    import ember
    return {ember.ops.aten.detach.default}  # checkpoint detaches differently in the two runs


SAC_IGNORED_OPS = _ignored_ops()
_RECOMPUTE = object()  # stored for an op the policy recomputes
_CONSUMED = object()  # stored once the recomputation took an op's outputs

_MISMATCH = ("This can happen if the operations in the checkpointed region are nondeterministic "
             "or depend on global state that changed between forward and backward.")


class _Cached:
    """A stored output, detached, with its version then: it must be unchanged when used."""

    def __init__(self, value: Any) -> None:
        self.value = value.detach() if hasattr(value, "_data") else value
        self.version = self.value._version if hasattr(value, "_data") else None

    def get(self, allow_mutation: bool) -> Any:
        if self.version is not None and not allow_mutation and \
                self.value._version != self.version:
            raise RuntimeError("Tensor cached during selective activation checkpoint has been "
                               "mutated")
        return self.value


class _CachingTorchDispatchMode(TorchDispatchMode):
    """Around the forward: runs each op, asks the policy, stores its outputs or a mark."""

    def __init__(self, policy_fn: Callable, storage: defaultdict) -> None:
        super().__init__()
        self.policy_fn, self.storage = policy_fn, storage
        self.func_counter: defaultdict = defaultdict(int)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in SAC_IGNORED_OPS:
            return func(*args, **kwargs)
        out = func(*args, **kwargs)
        index = self.func_counter[func]
        self.func_counter[func] += 1
        policy = self.policy_fn(SelectiveCheckpointContext(is_recompute=False, op_output=out),
                                func, *args, **kwargs)
        if isinstance(policy, bool):  # the older boolean policies: True means save
            policy = CheckpointPolicy.MUST_SAVE if policy else CheckpointPolicy.PREFER_RECOMPUTE
        self.storage[func][index] = tree_map(_Cached, out) if policy in _SAVE else _RECOMPUTE
        return out


class _CachedTorchDispatchMode(TorchDispatchMode):
    """Around the recomputation: the stored outputs, by op and call count, each once."""

    def __init__(self, policy_fn: Callable | None, storage: defaultdict,
                 allow_cache_entry_mutation: bool = False) -> None:
        super().__init__()
        self.storage = storage
        self.allow_cache_entry_mutation = allow_cache_entry_mutation
        self.func_counter: defaultdict = defaultdict(int)

    def __enter__(self):
        self.func_counter.clear()  # each recomputation counts from the start
        return super().__enter__()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in SAC_IGNORED_OPS:
            return func(*args, **kwargs)
        index = self.func_counter[func]
        self.func_counter[func] += 1
        stored = self.storage.get(func)
        if stored is None:
            raise RuntimeError(f"{func} encountered during backward but not found in storage. "
                               + _MISMATCH)
        entry = stored.get(index)
        if entry is None:
            raise RuntimeError(f"{func} invocation index {index} encountered during backward "
                               "but not found in storage. " + _MISMATCH)
        if entry is _CONSUMED:
            raise RuntimeError("Trying to backward an extra time. You are only allowed to "
                               "backward once on any region computed under selective "
                               "activation checkpoint.")
        if entry is _RECOMPUTE:
            return func(*args, **kwargs)
        stored[index] = _CONSUMED
        return tree_map(lambda cached: cached.get(self.allow_cache_entry_mutation), entry)


def create_selective_checkpoint_contexts(policy_fn_or_list: Callable | list,
                                         allow_cache_entry_mutation: bool = False
                                         ) -> tuple[Any, Any]:
    """``checkpoint``'s ``context_fn()`` result for selective activation checkpointing.

    ``policy_fn_or_list`` is either a list of ``torch.ops.aten`` overloads whose outputs are
    saved (the rest recomputed) or a function ``policy(ctx, op, *args, **kwargs)``, asked
    after each op of the forward, returning a :class:`CheckpointPolicy` (or a bool: True
    saves). With ``allow_cache_entry_mutation`` a
    cached output changed in place between forward and backward is used as it is now, instead
    of raising."""
    from ember.export._ops import OpOverload
    if isinstance(policy_fn_or_list, list):
        for op in policy_fn_or_list:
            if not isinstance(op, OpOverload):
                raise ValueError(f"Expected op in `op_list` to be an OpOverload but got {op} "
                                 f"of type {type(op)}. If you passed an OpOverloadPacket "
                                 f"(e.g. torch.ops.aten.mm), please use an OpOverload "
                                 f"(e.g. torch.ops.aten.mm.default) instead.")
        saved_ops = set(policy_fn_or_list)

        def policy_fn(ctx, op, *args, **kwargs):
            return (CheckpointPolicy.MUST_SAVE if op in saved_ops
                    else CheckpointPolicy.PREFER_RECOMPUTE)
    elif callable(policy_fn_or_list):
        policy_fn = policy_fn_or_list
    else:
        raise TypeError("policy_fn_or_list must be either a function or a list of ops.")
    storage: defaultdict = defaultdict(dict)
    return (_CachingTorchDispatchMode(policy_fn, storage),
            _CachedTorchDispatchMode(None, storage, allow_cache_entry_mutation))
