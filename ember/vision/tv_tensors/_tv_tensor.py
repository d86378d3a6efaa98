"""The base of torchvision's ``tv_tensors``: Tensor subclasses that tag what a tensor holds
(an image, a mask, boxes) so that ``transforms.v2`` knows how to transform it.

NOTE [ TVTensor unwrapping ]
Most ops on a TVTensor return a plain Tensor: after ``img + 1`` nothing says the result is still
an image. Only ``clone``, ``to``, ``detach``, ``requires_grad_`` and ``pin_memory`` keep the
type (and a box's metadata); ``set_return_type("TVTensor")`` makes every op keep it. In-place ops
change the TVTensor itself but hand back a plain alias, as torchvision does.
"""
from __future__ import annotations

from typing import Any

from ember import dtypes as _dt
from ember._tensor import Size, Tensor, _np_to_dtype
from ember.overrides import DisableTorchFunctionSubclass, resolve_name

_KEEP_TYPE = frozenset({"torch.Tensor.clone", "torch.Tensor.to", "torch.Tensor.detach",
                        "torch.Tensor.requires_grad_", "torch.Tensor.pin_memory"})
_return_tv_tensor = False  # set_return_type's global switch


class set_return_type:
    """Whether ops on TVTensors return plain Tensors (``"Tensor"``, the default) or keep the
    TVTensor type (``"TVTensor"``); a global setting, or a context manager restoring the
    previous one on exit.

    Example::

        >>> with set_return_type("TVTensor"):
        ...     assert isinstance(Image(ember.zeros(3, 2, 2)) + 1, Image)
    """

    def __init__(self, return_type: str) -> None:
        global _return_tv_tensor
        choice = return_type.lower()
        if choice not in ("tensor", "tvtensor"):
            raise ValueError(f"Unknown return_type {return_type!r}: expected 'Tensor' or "
                             "'TVTensor'.")
        self._previous = _return_tv_tensor
        _return_tv_tensor = choice == "tvtensor"

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc) -> None:
        global _return_tv_tensor
        _return_tv_tensor = self._previous


def _view_as(tensor: Tensor, cls: type) -> Tensor:
    """``tensor.as_subclass(cls)``: the same data as a ``cls``; without the autograd alias node
    (a quarter of the cost) when no gradient flows through ``tensor``."""
    if tensor.requires_grad:
        return tensor.as_subclass(cls)
    return Tensor._make_subclass(cls, tensor)


class TVTensor(Tensor):
    """Base class of the tagged tensors; not made directly."""

    @classmethod
    def _wrap_output(cls, output, args: tuple = (), kwargs: dict | None = None):
        """``output``'s tensors as ``cls`` (subclasses restore their metadata here)."""
        if isinstance(output, Tensor) and not isinstance(output, cls):
            return _view_as(output, cls)
        if isinstance(output, (tuple, list)):
            return type(output)(cls._wrap_output(o, args, kwargs) for o in output)
        return output

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        with DisableTorchFunctionSubclass():
            output = func(*args, **(kwargs or {}))
            if _return_tv_tensor or (resolve_name(func) in _KEEP_TYPE and args
                                     and isinstance(args[0], cls)):
                return cls._wrap_output(output, args, kwargs)
            if isinstance(output, TVTensor):  # in-place ops hand back their (tagged) input
                return _view_as(output, Tensor)
            return output

    # metadata is read without __torch_function__ dispatch, as torchvision's TVTensor does
    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> _dt.dtype:
        return _np_to_dtype[self._data.dtype]

    def _make_repr(self, **kwargs: Any) -> str:
        extra = "".join(f", {k}={v}" for k, v in kwargs.items())
        with DisableTorchFunctionSubclass():
            body = repr(_view_as(self, Tensor))
        return f"{type(self).__name__}{body[len('tensor'):-1]}{extra})"

    def __repr__(self) -> str:
        return self._make_repr()

    def __deepcopy__(self, memo: dict):
        # detach() and clone() keep the type and metadata (NOTE [ TVTensor unwrapping ])
        out = self.detach().clone().requires_grad_(self.requires_grad)
        memo[id(self)] = out
        return out
