"""``torch.nn.parallel.scatter_gather``: split a batch's tensors over devices (``scatter``) and
join the per-device outputs on one (``gather``), through nested tuples, lists, dicts and
namedtuples. Both are differentiable: a chunk and a copy to a device carry gradients back."""
from __future__ import annotations

from typing import Any, Sequence

from ember._tensor import Tensor
from ember.backend.device import Device
from ember.ops.copying import cat

__all__ = ["gather", "scatter", "scatter_kwargs"]


def _device(target: int | str | Device) -> Device:
    """PyTorch's device index convention: an int is a GPU, -1 (for ``gather``) the CPU."""
    return Device("cpu") if target == -1 else Device(target)


def _is_namedtuple(obj: Any) -> bool:
    return isinstance(obj, tuple) and hasattr(obj, "_fields")


def scatter(inputs: Any, target_gpus: Sequence[int | Device], dim: int = 0) -> Any:
    """One copy of ``inputs`` per device of ``target_gpus``: each tensor is cut into
    ``len(target_gpus)`` chunks along ``dim`` (fewer when it is shorter), chunk i going to
    device i; other objects are repeated by reference. Containers are rebuilt per device.

    Example::

        >>> scatter((ember.arange(4.0), "tag"), ["cpu", "cpu"])
        [(tensor([0., 1.]), 'tag'), (tensor([2., 3.]), 'tag')]
    """
    devices = [_device(target) for target in target_gpus]

    def scatter_map(obj: Any) -> list:
        if isinstance(obj, Tensor):
            return [chunk.to(device) for chunk, device in zip(obj.chunk(len(devices), dim),
                                                              devices)]
        if _is_namedtuple(obj):
            return [type(obj)(*fields) for fields in zip(*map(scatter_map, obj))]
        if isinstance(obj, tuple) and obj:
            return list(zip(*map(scatter_map, obj)))
        if isinstance(obj, list) and obj:
            return [list(items) for items in zip(*map(scatter_map, obj))]
        if isinstance(obj, dict) and obj:
            return [type(obj)(items) for items in zip(*map(scatter_map, obj.items()))]
        return [obj for _ in devices]
    return scatter_map(inputs)


def scatter_kwargs(inputs: tuple[Any, ...], kwargs: dict[str, Any] | None,
                   target_gpus: Sequence[int | Device],
                   dim: int = 0) -> tuple[tuple[Any, ...], tuple[dict[str, Any], ...]]:
    """``scatter`` of the positional and of the keyword arguments, the shorter list padded with
    empty ``()`` / ``{}`` so that every device gets one call's arguments."""
    scattered_inputs = scatter(inputs, target_gpus, dim) if inputs else []
    scattered_kwargs = scatter(kwargs, target_gpus, dim) if kwargs else []
    calls = max(len(scattered_inputs), len(scattered_kwargs))
    scattered_inputs += [()] * (calls - len(scattered_inputs))
    scattered_kwargs += [{}] * (calls - len(scattered_kwargs))
    return tuple(scattered_inputs), tuple(scattered_kwargs)


def gather(outputs: Any, target_device: int | Device, dim: int = 0) -> Any:
    """The per-device ``outputs`` (a sequence, one per device) joined on ``target_device``:
    tensors concatenated along ``dim``, containers gathered field by field, ``None`` kept.

    Example::

        >>> gather([{"y": ember.zeros(1)}, {"y": ember.ones(2)}], "cpu")
        {'y': tensor([0., 1., 1.])}
    """
    device = _device(target_device)

    def gather_map(per_device: Sequence) -> Any:
        first = per_device[0]
        if isinstance(first, Tensor):
            return cat([out.to(device) for out in per_device], dim)
        if first is None:
            return None
        if isinstance(first, dict):
            if any(len(out) != len(first) for out in per_device):
                raise ValueError("All dicts must have the same number of keys")
            return type(first)((key, gather_map([out[key] for out in per_device]))
                               for key in first)
        if _is_namedtuple(first):
            return type(first)._make(map(gather_map, zip(*per_device)))
        return type(first)(map(gather_map, zip(*per_device)))
    return gather_map(outputs)
