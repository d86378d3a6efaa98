"""THE op table (CONVENTIONS rule 9): every tensor op as an ``OpInfo`` row (name, call,
NumPy reference, sample inputs incl. 0-d, broadcast and non-contiguous, dtypes, grad and
grad-of-grad flags). test_ops_forward.py, test_ops_grad.py and tests/conformance/test_ops.py
sweep it; the rows live by family in rows_*.py, the row type and input makers in samples.py.

To add an op: append an ``OpInfo`` to its family's rows_*.py, e.g.::

    OpInfo("exp", m("exp"), np.exp, unary_samples(), FLOAT + (I64,))

``m("exp")`` calls ``lib.exp`` on ember and on torch alike (``meth`` calls a Tensor method, a
lambda ``(lib, *args)`` anything else). Set ``grad=False`` for ops without gradients,
``gradgrad=False`` to skip double backward, ``gradcheck=False`` at kinks (gradients then compared
with PyTorch only), and list inputs the op must reject in rows_errors.py with PyTorch's
exception type. rows_edge.py (NaN, inf, empty) and rows_kinks.py hold the special points.
"""
from __future__ import annotations

import numpy as np
import rows_edge
import rows_errors
import rows_kinks
import rows_linalg
import rows_more
import rows_pointwise
import rows_reduce
import rows_shape
from samples import OpInfo, S  # noqa: F401  (re-exported for the test modules)

OPS: list[OpInfo] = (rows_pointwise.ROWS + rows_reduce.ROWS + rows_shape.ROWS
                     + rows_linalg.ROWS + rows_more.ROWS + rows_edge.ROWS + rows_kinks.ROWS)

_names = [op.name for op in OPS]
assert len(_names) == len(set(_names)), "op table names must be unique"
assert set(rows_errors.ERRORS) <= set(_names), set(rows_errors.ERRORS) - set(_names)
for _op in OPS:
    _op.errors = _op.errors or rows_errors.ERRORS.get(_op.name)


def cases(grad: bool = False, gradgrad: bool = False):
    """(row, dtype) pairs to parametrize over; grad sweeps use float64 only."""
    out = []
    for op in OPS:
        if gradgrad and not (op.grad and op.gradgrad and op.gradcheck):
            continue
        if grad and not (op.grad and op.gradcheck):
            continue
        for dt in op.dtypes:
            if (grad or gradgrad) and dt != np.float64:
                continue
            out.append((op, dt))
    return out


def case_id(case) -> str:
    op, dt = case
    return f"{op.name}-{dt if dt is not None else 'mixed'}"


def samples_of(op: OpInfo, dt, seed: int = 0):
    rng = np.random.default_rng(seed)
    return op.samples(dt, rng)


def to_lib(x, make, requires_grad: bool = False):
    """Sample argument -> library argument: arrays through ``make``, containers recursively."""
    if isinstance(x, np.ndarray):
        return make(x, requires_grad and x.dtype.kind == "f")
    if isinstance(x, list):
        return [to_lib(v, make, requires_grad) for v in x]
    if isinstance(x, tuple):
        return tuple(to_lib(v, make, requires_grad) for v in x)
    return x


def call(op: OpInfo, sample: S, lib, make, requires_grad: bool = False):
    args = [to_lib(a, make, requires_grad) for a in sample.args]
    kwargs = {k: to_lib(v, make, requires_grad) for k, v in sample.kwargs.items()}
    return op.fn(lib, *args, **kwargs), args, kwargs


def leaves(result) -> list:
    """A result (tensor, tuple, list, namedtuple, number) as a flat list."""
    if isinstance(result, (tuple, list)):
        out = []
        for r in result:
            out += leaves(r)
        return out
    return [result]


def tensor_inputs(args, kwargs) -> list:
    """The floating tensors among the (converted) arguments that require grad."""
    return [t for t in leaves(list(args) + list(kwargs.values()))
            if getattr(t, "requires_grad", False)]
