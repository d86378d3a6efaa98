"""``torch.utils._foreach_utils``: grouping tensor lists by (device, dtype) before a
multi-tensor (``torch._foreach_*``) update, as optimizers outside PyTorch do."""
from __future__ import annotations

from typing import Optional

from ember._tensor import Tensor
from ember.autograd.grad_mode import no_grad

TensorListList = list[list[Optional[Tensor]]]
Indices = list[int]


def _get_foreach_kernels_supported_devices() -> list[str]:
    """The device types with dedicated foreach kernels (CPU runs them too, looped)."""
    return ["cuda"]


def _get_fused_kernels_supported_devices() -> list[str]:
    """The device types whose optimizers accept ``fused=True``."""
    return ["cpu", "cuda"]


@no_grad()
def _group_tensors_by_device_and_dtype(
        tensorlistlist: TensorListList,
        with_indices: bool = False) -> dict[tuple, tuple[TensorListList, Indices]]:
    """Split aligned tensor lists into groups keyed by ``(device, dtype)`` of the tensors of
    the first list: each group holds, per input list, its tensors at the group's positions
    (``None`` entries kept, an empty list left empty), and those positions when
    ``with_indices`` (else ``[]``). Groups come in the order their first tensor appears."""
    groups: dict[tuple, tuple[TensorListList, Indices]] = {}
    for index, leader in enumerate(tensorlistlist[0]):
        lists, indices = groups.setdefault(
            (leader.device, leader.dtype), ([[] for _ in tensorlistlist], []))
        for grouped, tensors in zip(lists, tensorlistlist):
            if tensors:
                grouped.append(tensors[index])
        if with_indices:
            indices.append(index)
    return groups


def _device_has_foreach_support(device) -> bool:
    return device.type in _get_foreach_kernels_supported_devices() + ["cpu"]


def _has_foreach_support(tensors: list[Optional[Tensor]], device) -> bool:
    """Whether ``tensors`` (plain tensors or ``None``) can go through ``torch._foreach_*`` on
    ``device``."""
    return _device_has_foreach_support(device) and all(
        t is None or type(t) is Tensor for t in tensors)
