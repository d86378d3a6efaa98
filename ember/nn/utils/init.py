"""``skip_init``: build a module without running its weight initialisation's values."""
from __future__ import annotations

import inspect

from ember.nn.modules.module import Module

__all__ = ["skip_init"]


def skip_init(module_cls: type, *args, **kwargs) -> Module:
    """``module_cls(*args, **kwargs)`` with uninitialised parameters and buffers (fill them
    yourself). The class must take a ``device`` argument, as in PyTorch.

    ember has no meta device, so the layer is built (and initialised) on the target device and
    its tensors then replaced by empty ones; the result is PyTorch's, the saving is not.
    """
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    device = kwargs.pop("device", "cpu")
    return module_cls(*args, device=device, **kwargs).to_empty(device=device)
