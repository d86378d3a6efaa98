"""``torch._utils``' helpers that third-party training code imports (apex-style fp16 master
weights, bucketed all-reduce): flattening a list of dense tensors into one and back, bucketing
tensors by type under a byte budget, the available device type and its module, and
``is_compiling`` (``ember.compiler.is_compiling``, which older code imports from here)."""
from __future__ import annotations

from typing import Iterable, Iterator, Sequence

from ember._tensor import Tensor
from ember.compiler import is_compiling

__all__ = ["_flatten_dense_tensors", "_get_available_device_type", "_get_device_module",
           "_take_tensors", "_unflatten_dense_tensors", "is_compiling"]


def _flatten_dense_tensors(tensors: Sequence[Tensor]) -> Tensor:
    """One contiguous 1-D tensor holding ``tensors``' elements one after another
    (differentiable, as PyTorch's)."""
    from ember.ops.movement import cat
    return cat([t.reshape(-1) for t in tensors]) if len(tensors) != 1 else \
        tensors[0].reshape(-1).clone()


def _unflatten_dense_tensors(flat: Tensor, tensors: Sequence[Tensor]) -> tuple:
    """Views of ``flat`` shaped like each of ``tensors``, in order (the inverse of
    :func:`_flatten_dense_tensors`)."""
    outputs, offset = [], 0
    for t in tensors:
        n = t.numel()
        outputs.append(flat.narrow(0, offset, n).view_as(t))
        offset += n
    return tuple(outputs)


def _take_tensors(tensors: Iterable[Tensor], size_limit: int) -> Iterator[list[Tensor]]:
    """Chunks of ``tensors`` for bucketed collectives: each chunk holds tensors of one
    ``Tensor.type()`` in their original order, and adding the next tensor would take it over
    ``size_limit`` bytes (a tensor bigger than the limit gets a chunk of its own). A chunk is
    yielded as soon as it is full, the rest once all tensors are seen."""
    open_chunks: dict[str, tuple[list[Tensor], int]] = {}
    for tensor in tensors:
        parts = (tensor._indices(), tensor._values()) if tensor.is_sparse else (tensor,)
        size = sum(p.numel() * p.element_size() for p in parts)
        kind = tensor.type()
        chunk, used = open_chunks.get(kind, ([], 0))
        if used and used + size > size_limit:
            yield chunk
            chunk, used = [], 0
        chunk.append(tensor)
        open_chunks[kind] = (chunk, used + size)
    for chunk, _ in open_chunks.values():
        yield chunk


def _get_available_device_type() -> str | None:
    """The type of the accelerator that is usable (``"cuda"``: ember's one), else None."""
    from ember import cuda
    return "cuda" if cuda.is_available() else None


def _get_device_module(device_type: str | None = None):
    """The ``torch.<device_type>`` module (``ember.cuda``, ``ember.cpu``, ...); without a type,
    that of the available accelerator, or ``cuda``'s."""
    import ember
    device_type = device_type or _get_available_device_type() or "cuda"
    module = getattr(ember, device_type, None)
    if module is None:
        raise RuntimeError(f"Device '{device_type}' does not have a corresponding module "
                           f"registered as 'torch.{device_type}'.")
    return module
