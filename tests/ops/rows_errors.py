"""Inputs each op must reject, keyed by op-table row name; the conformance sweep checks that
ember raises the exception type PyTorch raises."""

from __future__ import annotations

import numpy as np
from samples import BOOL, F32, F64, I64, S, arr


def R(exc: type, *args, **kwargs) -> S:
    """A sample that must raise ``exc`` (PyTorch's exception type for it)."""
    s = S(*args, **kwargs)
    s.raises = exc
    return s


def _f(rng, *shape):
    return arr(rng, shape, F32)


def _bad_broadcast(rng):
    return [
        R(RuntimeError, _f(rng, 3, 4), _f(rng, 2, 4)),
        R(RuntimeError, _f(rng, 2, 3), _f(rng, 2)),
    ]


ERRORS = {
    "add": _bad_broadcast,
    "mul": _bad_broadcast,
    "sub": lambda rng: (
        _bad_broadcast(rng) + [R(RuntimeError, arr(rng, (3,), BOOL), arr(rng, (3,), BOOL))]
    ),
    "div": _bad_broadcast,
    "maximum": _bad_broadcast,
    "eq": _bad_broadcast,
    "where": lambda rng: [
        R(RuntimeError, arr(rng, (3, 4), BOOL), _f(rng, 2, 4), _f(rng, 3, 4)),
        R(RuntimeError, _f(rng, 3, 4), _f(rng, 3, 4), _f(rng, 3, 4)),
    ],
    "pow_int": lambda rng: [R(RuntimeError, arr(rng, (3,), I64), -1)],
    "neg": lambda rng: [R(RuntimeError, arr(rng, (3,), BOOL))],
    "bitwise_and": lambda rng: [R(NotImplementedError, _f(rng, 3), _f(rng, 3))],
    "clamp": lambda rng: [R(RuntimeError, _f(rng, 3), None, None)],
    "sum": lambda rng: [
        R(IndexError, _f(rng, 2, 3), 2),
        R(RuntimeError, _f(rng, 2, 3), (0, 0)),
        R(IndexError, _f(rng), 1),
    ],
    "mean": lambda rng: [R(RuntimeError, arr(rng, (2, 3), I64)), R(IndexError, _f(rng, 2, 3), -3)],
    "max": lambda rng: [R(IndexError, _f(rng, 2, 3), 2), R(IndexError, _f(rng, 0, 3), 0)],
    "amax": lambda rng: [
        R(IndexError, arr(rng, (0, 3), F32), 0),
        R(RuntimeError, arr(rng, (0, 3), F32)),
    ],
    "argmax": lambda rng: [R(IndexError, _f(rng, 2, 3), 5)],
    "cumsum": lambda rng: [R(IndexError, _f(rng, 2, 3), 2)],
    "norm": lambda rng: [R(RuntimeError, arr(rng, (2, 3), I64))],
    "topk": lambda rng: [R(RuntimeError, _f(rng, 2, 3), 4)],
    "sort": lambda rng: [R(IndexError, _f(rng, 2, 3), 2)],
    "view": lambda rng: [
        R(RuntimeError, _f(rng, 2, 3), 4),
        R(RuntimeError, _f(rng, 2, 3), -1, -1),
        R(RuntimeError, _f(rng, 4, 3).T, 12),
    ],
    "reshape": lambda rng: [R(RuntimeError, _f(rng, 2, 3), (4, 2))],
    "permute": lambda rng: [
        R(RuntimeError, _f(rng, 2, 3), (0,)),
        R(RuntimeError, _f(rng, 2, 3), (0, 0)),
    ],
    "transpose": lambda rng: [R(IndexError, _f(rng, 2, 3), 0, 2)],
    "squeeze": lambda rng: [R(IndexError, _f(rng, 2, 3), 2)],
    "unsqueeze": lambda rng: [R(IndexError, _f(rng, 2, 3), 3)],
    "t": lambda rng: [R(RuntimeError, _f(rng, 2, 3, 4))],
    "expand": lambda rng: [R(RuntimeError, _f(rng, 2, 3), 4, 3), R(RuntimeError, _f(rng, 2, 3), 3)],
    "narrow": lambda rng: [R(RuntimeError, _f(rng, 4, 5), 0, 3, 2)],
    "select": lambda rng: [R(IndexError, _f(rng, 2, 3), 0, 2), R(IndexError, _f(rng, 2, 3), 2, 0)],
    "unfold": lambda rng: [R(RuntimeError, _f(rng, 3, 4), 1, 5, 1)],
    "cat": lambda rng: [
        R(RuntimeError, [_f(rng, 2, 3), _f(rng, 2, 4)]),
        R(RuntimeError, [_f(rng, 2, 3), _f(rng, 3)]),
        R(ValueError, []),
    ],
    "stack": lambda rng: [R(RuntimeError, [_f(rng, 2, 3), _f(rng, 3, 2)]), R(RuntimeError, [])],
    "split": lambda rng: [R(RuntimeError, _f(rng, 2, 6), [1, 2], 1)],
    "chunk": lambda rng: [R(RuntimeError, _f(rng, 2, 6), 0)],
    "repeat": lambda rng: [R(RuntimeError, _f(rng, 2, 3), 2)],
    "getitem": lambda rng: [
        R(IndexError, _f(rng, 2, 3), 2),
        R(IndexError, _f(rng, 2, 3), (0, 0, 0)),
        R(IndexError, _f(rng, 2, 3), np.array([0, 5])),
        R(IndexError, _f(rng), 0),
        R(IndexError, _f(rng, 2, 3), arr(rng, (3,), BOOL)),
    ],
    "gather": lambda rng: [
        R(RuntimeError, _f(rng, 3, 4), 0, np.array([0, 1])),
        R(RuntimeError, _f(rng, 3, 4), 0, np.array([[0, 1]], np.int16)),
        R(RuntimeError, _f(rng, 3, 4), 0, np.array([[0.0, 1.0]])),
        R(IndexError, _f(rng, 3, 4), 2, np.zeros((3, 4), np.int64)),
    ],
    "scatter_add": lambda rng: [
        R(RuntimeError, _f(rng, 3, 4), 0, np.zeros((2, 4), np.int16), _f(rng, 2, 4)),
        R(RuntimeError, _f(rng, 3, 4), 0, np.zeros((2, 4), np.int64), _f(rng, 1, 4)),
    ],
    "index_select": lambda rng: [
        R(IndexError, _f(rng, 3, 4), 0, np.zeros((2, 2), np.int64)),
        R(RuntimeError, _f(rng, 3, 4), 0, np.zeros(2, F32)),
    ],
    "masked_fill": lambda rng: [
        R(RuntimeError, _f(rng, 3, 4), _f(rng, 3, 4), 1.0),
        R(RuntimeError, _f(rng, 3, 4), arr(rng, (3, 4), BOOL), _f(rng, 2)),
    ],
    "matmul": lambda rng: [
        R(RuntimeError, _f(rng, 2, 3), _f(rng, 4, 5)),
        R(RuntimeError, _f(rng), _f(rng, 3)),
        R(RuntimeError, _f(rng, 3), _f(rng, 4)),
        R(RuntimeError, _f(rng, 2, 3), arr(rng, (3, 2), F64)),
    ],
    "mm": lambda rng: [
        R(RuntimeError, _f(rng, 2, 3), _f(rng, 3)),
        R(RuntimeError, _f(rng, 2, 3), _f(rng, 4, 2)),
    ],
    "bmm": lambda rng: [
        R(RuntimeError, _f(rng, 2, 3), _f(rng, 3, 2)),
        R(RuntimeError, _f(rng, 2, 2, 3), _f(rng, 3, 3, 2)),
    ],
    "mv": lambda rng: [R(RuntimeError, _f(rng, 2, 3), _f(rng, 4))],
    "dot": lambda rng: [
        R(RuntimeError, _f(rng, 3), _f(rng, 4)),
        R(RuntimeError, _f(rng, 2, 3), _f(rng, 3)),
    ],
    "einsum": lambda rng: [
        R(RuntimeError, "ij,jk->ik", _f(rng, 2, 3), _f(rng, 4, 5)),
        R(RuntimeError, "ij->ijk", _f(rng, 2, 3)),
    ],
    "inverse": lambda rng: [R(RuntimeError, _f(rng, 2, 3))],
    "diag": lambda rng: [R(RuntimeError, _f(rng, 2, 3, 4))],
}
