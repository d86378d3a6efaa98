"""``torch._subclasses.fake_tensor``: whether a tensor is a fake (data-less, traced) tensor."""
from __future__ import annotations


def is_fake(x: object) -> bool:
    """``True`` where ``x`` is a FakeTensor (or wraps one). ember makes no fake tensors (its
    shape-only tensors are meta tensors, which PyTorch does not count as fake), so never."""
    return False
