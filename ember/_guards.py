"""``torch._guards``: the state PyTorch's compiler stack keeps while it traces."""
from __future__ import annotations


def active_fake_mode() -> None:
    """The FakeTensorMode that is tracing now, else None: ember makes no fake tensors (see
    ``ember._subclasses.fake_tensor.is_fake``), so always None."""
    return None
