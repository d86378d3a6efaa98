"""``torch.distributed.tensor.experimental``: ``implicit_replication``, which lets plain tensors
join DTensor ops as if replicated."""
from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator

from ember._tensor import Tensor
from ember.distributed.tensor.placement_types import Replicate

__all__ = ["implicit_replication"]

_mode = threading.local()  # per thread, like the grad mode


@contextlib.contextmanager
def implicit_replication() -> Iterator[None]:
    """Within this context a plain tensor that meets a DTensor in an op is taken as replicated
    on that DTensor's mesh (outside it, mixing them raises). PyTorch keeps it for code that
    holds non-DTensor state beside sharded parameters (optimizer buffers, FSDP wrappers).

    Example::

        >>> with implicit_replication():
        ...     total = sharded + ember.ones(sharded.shape)  # doctest: +SKIP
    """
    previous = getattr(_mode, "enabled", False)
    _mode.enabled = True
    try:
        yield
    finally:
        _mode.enabled = previous


def replicate_plain_operands(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """``args`` and ``kwargs`` with their plain tensors (also inside lists and tuples) made
    replicated DTensors on the mesh of the first DTensor among them, inside
    ``implicit_replication``; unchanged outside it."""
    if not getattr(_mode, "enabled", False):
        return args, kwargs
    from ember.distributed.tensor._api import DTensor
    operands = [a for v in (*args, *kwargs.values())
                for a in (v if isinstance(v, (list, tuple)) else (v,))]
    mesh = next((a.device_mesh for a in operands if isinstance(a, DTensor)), None)
    if mesh is None:
        return args, kwargs
    replicated = [Replicate()] * mesh.ndim

    def lift(value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return type(value)(lift(v) for v in value)
        if isinstance(value, Tensor) and not isinstance(value, DTensor):
            return DTensor.from_local(value, mesh, replicated, run_check=False)
        return value
    return tuple(lift(a) for a in args), {k: lift(v) for k, v in kwargs.items()}
