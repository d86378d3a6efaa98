"""``torch.nn.utils._named_member_accessor``: replace a module's tensor attribute in place."""
from __future__ import annotations

from ember._tensor import Tensor
from ember.nn.modules.module import Module

_MISSING = object()


def swap_tensor(module: Module, name: str, tensor: Tensor, allow_missing: bool = False) -> Tensor:
    """Put ``tensor`` where ``module``'s own attribute ``name`` (a parameter, buffer or plain
    tensor attribute) is, and return what was there.

    A parameter slot or buffer slot keeps its kind whatever ``tensor`` is (a plain tensor may
    stand in a parameter's slot, as ``functional_call`` needs); ``allow_missing`` lets ``name``
    be new, returning a sentinel object.

    Example::

        >>> lin = torch.nn.Linear(2, 2)
        >>> old = swap_tensor(lin, "bias", torch.zeros(2))
        >>> lin.bias.tolist(), isinstance(old, torch.nn.Parameter)
        ([0.0, 0.0], True)
    """
    if not isinstance(name, str) or not name or "." in name:
        raise KeyError(f'tensor name must be a non-empty string without ".", got {name!r}')
    if tensor is not None and not isinstance(tensor, Tensor):
        raise TypeError(f"{tensor} is not an instance of torch.Tensor")
    for store in (module._parameters, module._buffers):
        if name in store:
            previous = store[name]
            store[name] = tensor
            return previous
    previous = getattr(module, name, _MISSING)
    if previous is _MISSING and not allow_missing:
        raise AttributeError(f"{module._get_name()} has no attribute `{name}`")
    if previous is not _MISSING and previous is not None and not isinstance(previous, Tensor):
        raise TypeError(f"attribute `{name}`: {previous} is not an instance of torch.Tensor")
    setattr(module, name, tensor)
    return previous
