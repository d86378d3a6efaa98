"""``ember.masked`` (``torch.masked``): reductions and normalizations that skip masked-out
elements (``mask=`` True marks the elements that count), and ``MaskedTensor``, a tensor that
carries such a mask through the operations applied to it.

The functions load with the package; the ``MaskedTensor`` class, whose definition switches on
``__torch_function__`` dispatch for all of ember, loads when it, ``masked_tensor`` or
``as_masked_tensor`` is first looked up. (So in ``ember.where(c, ember.masked.masked_tensor(x,
m), y)`` written before any other use, ``ember.where`` is read before dispatch exists: import
the factories first, as PyTorch's examples do.)
"""
from __future__ import annotations

import sys

from ember.masked._ops import (
    amax,
    amin,
    argmax,
    argmin,
    cumprod,
    cumsum,
    log_softmax,
    logaddexp,
    logsumexp,
    mean,
    median,
    norm,
    normalize,
    prod,
    softmax,
    softmin,
    std,
    sum,
    var,
)

__all__ = ["MaskedTensor", "amax", "amin", "argmax", "argmin", "as_masked_tensor", "cumprod",
           "cumsum", "is_masked_tensor", "log_softmax", "logaddexp", "logsumexp",
           "masked_tensor", "mean", "median", "norm", "normalize", "prod", "softmax", "softmin",
           "std", "sum", "var"]


def is_masked_tensor(obj) -> bool:
    """Whether ``obj`` is a MaskedTensor."""
    core = sys.modules.get("ember.masked._core")  # none exists before the class is defined
    return core is not None and isinstance(obj, core.MaskedTensor)


def __getattr__(name: str):
    # Looking these up (``from ember.masked import masked_tensor``) defines the class, and so
    # installs dispatch before the code that uses them runs.
    if name in ("MaskedTensor", "masked_tensor", "as_masked_tensor"):
        from ember.masked import _core
        return getattr(_core, name)
    raise AttributeError(f"module 'ember.masked' has no attribute '{name}'")
