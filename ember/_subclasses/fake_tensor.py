"""``torch._subclasses.fake_tensor``: whether a tensor is a fake (data-less, traced) tensor."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator


def is_fake(x: object) -> bool:
    """``True`` where ``x`` is a FakeTensor (or wraps one). ember makes no fake tensors (its
    shape-only tensors are meta tensors, which PyTorch does not count as fake), so never."""
    return False


@contextlib.contextmanager
def unset_fake_temporarily() -> Iterator[None]:
    """Run the block with the active fake-tensor mode switched off, yielding that mode (None
    where none is active). ember has no fake mode, so it yields None and changes nothing."""
    yield None
