"""``torch._utils``' helpers that third-party training code imports (apex-style fp16 master
weights, bucketed all-reduce): flattening a list of dense tensors into one and back, the
available device type and its module, and ``is_compiling`` (``ember.compiler.is_compiling``,
which older code imports from here)."""
from __future__ import annotations

from typing import Sequence

from ember._tensor import Tensor
from ember.compiler import is_compiling

__all__ = ["_flatten_dense_tensors", "_get_available_device_type", "_get_device_module",
           "_unflatten_dense_tensors", "is_compiling"]


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
