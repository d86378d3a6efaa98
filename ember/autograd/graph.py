"""``ember.autograd.graph``: hooks on the tensors the backward graph saves, and its node type.

Example (offload what backward keeps to the CPU, as ``save_on_cpu`` does)::

    >>> with ember.autograd.graph.saved_tensors_hooks(lambda t: t.cpu(), lambda t: t):
    ...     loss = model(x).sum()
    >>> loss.backward()
"""
from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Callable, Literal

from ember._tensor import Tensor
from ember.autograd.engine import current_graph_task_id, will_engine_execute_node
from ember.autograd.function import GradientEdge, Node, edge_of, saved_tensors_hooks_stack

__all__ = ["GradientEdge", "Node", "disable_saved_tensors_hooks", "get_gradient_edge",
           "increment_version", "register_multi_grad_hook", "save_on_cpu",
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


def get_gradient_edge(tensor: Tensor) -> GradientEdge:
    """The edge through which ``tensor``'s gradient enters the backward graph (its grad_fn's
    output, or a leaf's grad accumulator): pass it to ``autograd.grad`` as an input or an
    output to differentiate at that point even after the tensor itself is gone."""
    if not tensor.requires_grad:
        raise RuntimeError("It is not possible to get the gradient edge for a Tensor that does "
                           "not require gradients")
    return GradientEdge(*edge_of(tensor))


class _MultiHandle:
    """The handle of several hooks, removed together."""

    def __init__(self, handles: tuple) -> None:
        self.handles = handles

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()

    def __enter__(self) -> _MultiHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def register_multi_grad_hook(tensors: Sequence[Tensor], fn: Callable, *,
                             mode: Literal["all", "any"] = "all") -> _MultiHandle:
    """Call ``fn`` once per backward pass over several tensors' gradients.

    ``mode="all"``: after the gradients of all ``tensors`` that this backward computes (those
    whose grad_fn or accumulator it runs: tensors outside the graph, or not needed for the
    ``inputs`` of this ``backward``/``grad``, are not waited for), with the list of gradients
    (None where not computed). ``mode="any"``: with the first of the tensors' gradients to be
    computed. ``fn`` must not modify its arguments. Returns a handle whose ``remove()``
    removes the hook.

    Example::

        >>> a, b = ember.rand(2, 3, requires_grad=True), ember.rand(2, 3, requires_grad=True)
        >>> c, d = a * b, a * b
        >>> register_multi_grad_hook((a, b, c, d), lambda g: print([x is not None for x in g]))
        >>> c.sum().backward(retain_graph=True)
        [True, True, True, False]
        >>> c.sum().backward(inputs=(a,))
        [True, False, True, False]
    """
    if mode not in ("all", "any"):
        raise ValueError(f"Expects mode to be one of ('all', 'any') but got {mode}")
    lock = threading.Lock()
    if mode == "any":
        fired: set[int] = set()  # the backward passes that already called fn

        def first_only(grad: Tensor) -> None:
            task = current_graph_task_id()
            with lock:
                if task in fired:
                    return
                fired.add(task)
            fn(grad)

        return _MultiHandle(tuple(t.register_hook(first_only) for t in tensors))
    nodes = [edge_of(t)[0] for t in tensors]
    # per backward pass: the gradients so far, and how many are still to come
    grads: dict[int, list] = {}
    remaining: dict[int, int] = {}

    def collector(index: int) -> Callable:
        def collect(grad: Tensor) -> None:
            task = current_graph_task_id()
            with lock:
                if task not in grads:
                    grads[task] = [None] * len(nodes)
                    remaining[task] = sum(map(will_engine_execute_node, nodes))
                grads[task][index] = grad
                remaining[task] -= 1
                done = remaining[task] == 0
            if done:
                collected = grads.pop(task)
                del remaining[task]
                fn(collected)
        return collect

    return _MultiHandle(tuple(t.register_hook(collector(i)) for i, t in enumerate(tensors)))
