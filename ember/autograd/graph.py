"""``ember.autograd.graph``: hooks on the tensors the backward graph saves, and its node type.

Example (offload what backward keeps to the CPU, as ``save_on_cpu`` does)::

    >>> with ember.autograd.graph.saved_tensors_hooks(lambda t: t.cpu(), lambda t: t):
    ...     loss = model(x).sum()
    >>> loss.backward()
"""
from __future__ import annotations

from typing import Any, Callable

from ember._tensor import Tensor
from ember.autograd.function import Node, saved_tensors_hooks_stack

__all__ = ["Node", "disable_saved_tensors_hooks", "increment_version", "save_on_cpu",
           "saved_tensors_hooks"]

_disabled: list = []  # error messages of active disable_saved_tensors_hooks contexts


class saved_tensors_hooks:
    """While active, every tensor an op saves for backward is stored as ``pack_hook(tensor)``
    and given back to backward as ``unpack_hook(packed)`` (which must return a tensor with the
    same values), like ``torch.autograd.graph.saved_tensors_hooks``. Nested contexts: the
    innermost pair applies. The hooks hold the value: tensors packed this way are not checked
    for later in-place changes."""

    def __init__(self, pack_hook: Callable[[Tensor], Any],
                 unpack_hook: Callable[[Any], Tensor]) -> None:
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self) -> "saved_tensors_hooks":
        if _disabled:
            raise RuntimeError(_disabled[-1])
        saved_tensors_hooks_stack.append((self.pack_hook, self.unpack_hook))
        return self

    def __exit__(self, *exc) -> None:
        saved_tensors_hooks_stack.pop()


class save_on_cpu(saved_tensors_hooks):
    """Saved tensors go to the CPU (page-locked if ``pin_memory``) and come back to their
    device when backward needs them, trading transfers for device memory."""

    def __init__(self, pin_memory: bool = False, device_type: str = "cuda") -> None:
        def pack(tensor: Tensor):
            if tensor.device.type == "cpu" and not pin_memory:
                return tensor.device, tensor
            packed = tensor.cpu()
            return tensor.device, packed.pin_memory() if pin_memory else packed

        def unpack(packed) -> Tensor:
            device, tensor = packed
            return tensor.to(device, non_blocking=pin_memory)
        super().__init__(pack, unpack)


class disable_saved_tensors_hooks:
    """Entering ``saved_tensors_hooks`` inside this context raises RuntimeError with
    ``error_message`` (for code whose saved tensors must not be intercepted)."""

    def __init__(self, error_message: str) -> None:
        self.error_message = error_message

    def __enter__(self) -> None:
        _disabled.append(self.error_message)

    def __exit__(self, *exc) -> None:
        _disabled.pop()


def increment_version(tensor: Tensor) -> None:
    """Mark ``tensor`` as modified in place (for changes made outside ember's ops), so that
    backward rejects graphs that saved its old values."""
    tensor._bump_version()
