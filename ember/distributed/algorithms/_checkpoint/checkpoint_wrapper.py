"""Activation checkpointing and offloading as module wrappers
(``torch.distributed.algorithms._checkpoint.checkpoint_wrapper``), the way FSDP training
scripts apply them: ``apply_activation_checkpointing(model, check_fn=...)`` replaces the chosen
submodules by wrappers whose forward runs under ``ember.utils.checkpoint.checkpoint``.

A wrapper holds the module as ``_checkpoint_wrapped_module`` but stays invisible in state
dicts: its keys lose that prefix on saving and regain it on loading, so checkpoints load into
wrapped and plain models alike. Attribute lookups and indexing fall through to the module.
"""
from __future__ import annotations

import abc
import enum
import functools
from typing import Any, Callable

from ember.autograd.graph import save_on_cpu
from ember.distributed.fsdp.wrap import auto_wrap, lambda_auto_wrap_policy
from ember.nn.modules.module import Module
from ember.utils.checkpoint import checkpoint as _checkpoint

__all__ = ["ActivationWrapper", "CheckpointImpl", "CheckpointWrapper", "OffloadWrapper",
           "apply_activation_checkpointing", "checkpoint_wrapper", "offload_wrapper"]

_CHECKPOINT_WRAPPED_MODULE = "_checkpoint_wrapped_module"
_CHECKPOINT_PREFIX = _CHECKPOINT_WRAPPED_MODULE + "."


class CheckpointImpl(enum.Enum):
    """Which variant of ``ember.utils.checkpoint.checkpoint`` a CheckpointWrapper uses."""

    REENTRANT = enum.auto()
    NO_REENTRANT = enum.auto()


class ActivationWrapper(Module, abc.ABC):
    """Base of the wrappers: holds ``mod`` as ``_checkpoint_wrapped_module``, forwards attribute
    lookups and ``[]`` to it, and keeps the prefix out of state dicts."""

    def __init__(self, mod: Module) -> None:
        super().__init__()
        self._checkpoint_wrapped_module = mod
        self._register_state_dict_hook(_drop_prefix)
        self._register_load_state_dict_pre_hook(_add_prefix, with_module=True)

    @abc.abstractmethod
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise ValueError("Subclasses should implement forward().")

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)  # parameters, buffers and submodules
        except AttributeError:
            return getattr(self._checkpoint_wrapped_module, name)

    def __getitem__(self, key: Any) -> Any:
        return self._checkpoint_wrapped_module.__getitem__(key)


def _drop_prefix(module: Module, state_dict: dict, prefix: str, *args: Any) -> None:
    for key in [k for k in state_dict if k.startswith(prefix + _CHECKPOINT_PREFIX)]:
        state_dict[prefix + key[len(prefix + _CHECKPOINT_PREFIX):]] = state_dict.pop(key)


def _add_prefix(module: Module, state_dict: dict, prefix: str, *args: Any) -> None:
    # (keys that already name the wrapped module stay, as FSDP's load hook leaves its own)
    inner = prefix + _CHECKPOINT_PREFIX
    for key in [k for k in state_dict if k.startswith(prefix) and not k.startswith(inner)]:
        state_dict[inner + key[len(prefix):]] = state_dict.pop(key)


class OffloadWrapper(ActivationWrapper):
    """Runs the module with the tensors its backward needs kept on the CPU (``save_on_cpu``
    with pinned memory) and moved back when backward uses them."""

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        with save_on_cpu(pin_memory=True):
            return self._checkpoint_wrapped_module(*args, **kwargs)


class CheckpointWrapper(ActivationWrapper):
    """Runs the module under activation checkpointing: ``checkpoint_fn`` (by default
    ``ember.utils.checkpoint.checkpoint`` with ``use_reentrant`` as ``checkpoint_impl`` says)
    called with ``checkpoint_fn_kwargs``."""

    def __init__(self, mod: Module, checkpoint_impl: CheckpointImpl = CheckpointImpl.NO_REENTRANT,
                 checkpoint_fn: Callable | None = None, **checkpoint_fn_kwargs: Any) -> None:
        super().__init__(mod)
        self.checkpoint_impl = checkpoint_impl
        if checkpoint_fn is None:
            checkpoint_fn = functools.partial(
                _checkpoint, use_reentrant=checkpoint_impl == CheckpointImpl.REENTRANT)
        self.checkpoint_fn = functools.partial(checkpoint_fn, **checkpoint_fn_kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.checkpoint_fn(self._checkpoint_wrapped_module, *args, **kwargs)


def offload_wrapper(module: Module) -> Module:
    """``module`` wrapped so that the activations its backward needs wait on the CPU."""
    return OffloadWrapper(module)


def checkpoint_wrapper(module: Module,
                       checkpoint_impl: CheckpointImpl = CheckpointImpl.NO_REENTRANT,
                       checkpoint_fn: Callable | None = None,
                       **checkpoint_fn_kwargs: Any) -> Module:
    """``module`` wrapped so that its forward runs under activation checkpointing.

    Example::

        >>> block = checkpoint_wrapper(nn.TransformerEncoderLayer(64, 4))
        >>> block(x).sum().backward()  # its activations are recomputed here
    """
    return CheckpointWrapper(module, checkpoint_impl, checkpoint_fn, **checkpoint_fn_kwargs)


def apply_activation_checkpointing(model: Module,
                                   checkpoint_wrapper_fn: Callable = checkpoint_wrapper,
                                   check_fn: Callable[[Module], bool] = lambda _: True,
                                   auto_wrap_policy: Callable | None = None) -> None:
    """Replace, in place, each submodule of ``model`` that ``check_fn`` accepts (or that
    ``auto_wrap_policy``, an FSDP wrap policy, chooses) by ``checkpoint_wrapper_fn(submodule)``;
    children are wrapped before their parents, and ``model`` itself is not wrapped.

    Example::

        >>> apply_activation_checkpointing(
        ...     model, check_fn=lambda m: isinstance(m, nn.TransformerEncoderLayer))
    """
    policy = auto_wrap_policy or functools.partial(lambda_auto_wrap_policy, lambda_fn=check_fn)
    auto_wrap(model, policy, checkpoint_wrapper_fn, ActivationWrapper, set())
