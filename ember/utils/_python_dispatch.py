"""``torch.utils._python_dispatch``, the part that asks about tensor subclasses: ember has no
``__torch_dispatch__`` (subclasses override functions through ``__torch_function__``, see
``ember.overrides``), so this holds only the predicates that libraries use to find wrapper
subclasses, which flatten into inner tensors with ``__tensor_flatten__``."""
from __future__ import annotations

__all__ = ["is_traceable_wrapper_subclass", "is_traceable_wrapper_subclass_type"]


def is_traceable_wrapper_subclass(t: object) -> bool:
    """Whether ``t`` is an instance of a Tensor subclass (not Tensor itself) that defines
    ``__tensor_flatten__`` and ``__tensor_unflatten__``."""
    from ember._tensor import Tensor
    return (isinstance(t, Tensor) and type(t) is not Tensor
            and hasattr(t, "__tensor_flatten__") and hasattr(t, "__tensor_unflatten__"))


def is_traceable_wrapper_subclass_type(t: type) -> bool:
    """``is_traceable_wrapper_subclass`` for a class."""
    from ember._tensor import Tensor
    return (issubclass(t, Tensor) and t is not Tensor
            and hasattr(t, "__tensor_flatten__") and hasattr(t, "__tensor_unflatten__"))
