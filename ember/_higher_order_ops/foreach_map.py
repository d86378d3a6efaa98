"""``torch._higher_order_ops.foreach_map``: any function applied across lists of tensors, the
way the ``torch._foreach_*`` ops apply one op (PyTorch fuses the calls into one kernel under
``torch.compile``; here each runs eagerly)."""
from __future__ import annotations

from typing import Any, Callable

__all__ = ["foreach_map"]


def foreach_map(op: Callable, *operands: Any, **kwargs: Any) -> list:
    """``[op(*args_i, **kwargs) for i ...]``: list or tuple operands give their ``i``-th
    element, others (scalars, tensors) are passed to every call; the lists must be as long.

    Example::

        >>> foreach_map(ember.lerp, [ember.zeros(2), ember.ones(3)], [ember.ones(2)] * 2, 0.5)
        [tensor([0.5000, 0.5000]), tensor([1., 1., 1.])]
    """
    lengths = {len(o) for o in operands if isinstance(o, (list, tuple))}
    if len(lengths) != 1:
        raise ValueError("foreach_map needs at least one list of tensors, and all lists "
                         f"must have the same length (got lengths {sorted(lengths)})")
    n = lengths.pop()
    return [op(*(o[i] if isinstance(o, (list, tuple)) else o for o in operands), **kwargs)
            for i in range(n)]
