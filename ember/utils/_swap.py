"""``ember.utils.swap_tensors``: exchange the contents of two tensor objects in place."""
from __future__ import annotations

import weakref

from ember._tensor import Tensor

# Every slot but the object's own bookkeeping: data, autograd state, hooks, version counter.
_STATE = tuple(s for s in Tensor.__slots__ if s not in ("__dict__", "__weakref__"))
_UNSET = object()


def swap_tensors(t1: Tensor, t2: Tensor) -> None:
    """Swap everything two tensors hold (class, data, autograd state, ``__dict__``), so that
    every existing reference to ``t1`` (a module's, an optimizer's) now sees ``t2``'s contents
    and the other way round.

    Example::

        >>> a, b = ember.arange(2), ember.arange(3)
        >>> ember.utils.swap_tensors(a, b)
        >>> a
        tensor([0, 1, 2])
    """
    if not isinstance(t1, Tensor) or not isinstance(t2, Tensor):
        raise TypeError(f"Expected two tensors, but got {type(t1)} and {type(t2)}")
    t1.__class__, t2.__class__ = t2.__class__, t1.__class__
    for name in _STATE:
        v1, v2 = getattr(t1, name, _UNSET), getattr(t2, name, _UNSET)
        _put(t1, name, v2)
        _put(t2, name, v1)
    t1.__dict__, t2.__dict__ = t2.__dict__, t1.__dict__
    # A leaf's gradient sink belongs to its contents: point it at the object now holding them.
    for t in (t1, t2):
        if t._grad_acc is not None:
            t._grad_acc._variable = weakref.ref(t)


def _put(t: Tensor, name: str, value) -> None:
    if value is _UNSET:
        if hasattr(t, name):
            delattr(t, name)
    else:
        setattr(t, name, value)
