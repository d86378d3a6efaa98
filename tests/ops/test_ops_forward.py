"""Forward values of every op-table row against its NumPy reference, and PyTorch's result
dtypes for mixed-dtype operands."""
import copy

import numpy as np
import pytest
from op_table import OPS, call, case_id, cases, leaves, samples_of

import ember


def _make(a, requires_grad=False):
    return ember.from_numpy(a).requires_grad_(requires_grad)


def _host(x):
    if isinstance(x, ember.Tensor):
        return np.asarray(x.detach()._data)
    return np.asarray(x)


def _kind(a) -> str:
    k = a.dtype.kind
    return "i" if k == "u" else k


def compare(op, sample, got, want) -> None:
    got_l, want_l = leaves(got), leaves(want)
    assert len(got_l) == len(want_l), f"{op.name}{sample}: {len(got_l)} outputs, want " \
                                      f"{len(want_l)}"
    for g, w in zip(got_l, want_l):
        assert isinstance(g, ember.Tensor), f"{op.name}{sample}: got {type(g).__name__}"
        g, w = _host(g), np.asarray(w)
        assert g.shape == w.shape, f"{op.name}{sample}: shape {g.shape} != {w.shape}"
        assert _kind(g) == _kind(w), f"{op.name}{sample}: dtype {g.dtype}, reference {w.dtype}"
        if g.dtype.kind == "f":
            tol = (1e-4, 1e-5) if g.dtype == np.float32 else (max(op.rtol, 1e-6), op.atol)
            np.testing.assert_allclose(g, w, rtol=tol[0], atol=tol[1],
                                       err_msg=f"{op.name}{sample}")
        else:
            np.testing.assert_array_equal(g, w, err_msg=f"{op.name}{sample}")


ALL_CASES = cases()


@pytest.mark.parametrize("case", ALL_CASES, ids=[case_id(c) for c in ALL_CASES])
def test_forward_matches_numpy(case):
    op, dt = case
    for sample in samples_of(op, dt):
        want = op.ref(*copy.deepcopy(sample.args), **copy.deepcopy(sample.kwargs))
        got, _, _ = call(op, sample, ember, _make)
        compare(op, sample, got, want)


# Tensor.where(condition, other) puts the condition second: not the function's order.
METHOD_ROWS = [(op, op.dtypes[0]) for op in OPS
               if hasattr(ember.Tensor, getattr(op.fn, "functional", "")) and op.dtypes[0]
               and op.fn.functional != "where"]


@pytest.mark.parametrize("case", METHOD_ROWS, ids=[case_id(c) for c in METHOD_ROWS])
def test_method_form_matches_function(case):
    """``x.name(*rest)`` gives what ``ember.name(x, *rest)`` gives (same values and dtype)."""
    op, dt = case
    for sample in samples_of(op, dt):
        if not isinstance(sample.args[0], np.ndarray):
            continue
        want, args, kwargs = call(op, sample, ember, _make)
        got = getattr(args[0], op.fn.functional)(*args[1:], **kwargs)
        compare(op, sample, got, [_host(w) for w in leaves(want)])
        for g, w in zip(leaves(got), leaves(want)):
            assert g.dtype is w.dtype, f"{op.name}{sample}: method dtype {g.dtype}, function " \
                                       f"{w.dtype}"


ERROR_ROWS = [op for op in OPS if op.errors]


@pytest.mark.parametrize("op", ERROR_ROWS, ids=[op.name for op in ERROR_ROWS])
def test_bad_inputs_raise(op):
    """Each bad input raises PyTorch's exception type (recorded in rows_errors.py)."""
    for sample in op.errors(np.random.default_rng(0)):
        with pytest.raises(sample.raises):
            call(op, sample, ember, _make)


def _t(values, dtype):
    return ember.tensor(values, dtype=dtype)


# (expression, PyTorch's result dtype) for mixed operands: PyTorch's promotion rules.
PROMOTION = [
    (lambda: _t([1, 2], ember.int32) + 1.5, ember.float32),
    (lambda: 1.5 * _t([1, 2], ember.int64), ember.float32),
    (lambda: _t([1, 2], ember.uint8) + _t([1, 2], ember.int8), ember.int16),
    (lambda: _t([1.0], ember.float32) + _t(2.0, ember.float64), ember.float32),
    (lambda: _t([1], ember.int32) + _t(2.0, ember.float64), ember.float64),
    (lambda: _t(1, ember.int64) + _t([2], ember.int32), ember.int32),
    (lambda: _t([1], ember.int32) / _t([2], ember.int32), ember.float32),
    (lambda: _t([1], ember.int64) / 2, ember.float32),
    (lambda: _t([1, 2], ember.int32).sum(), ember.int64),
    (lambda: _t([True], ember.bool).sum(), ember.int64),
    (lambda: _t([1, 2], ember.int32).cumsum(0), ember.int64),
    (lambda: _t([1, 2], ember.int32).prod(), ember.int64),
    (lambda: _t([True], ember.bool) + 1, ember.int64),
    (lambda: _t([True], ember.bool) + _t([True], ember.bool), ember.bool),
    (lambda: _t([1], ember.int8) + True, ember.int8),
    (lambda: _t([1], ember.uint8) * 2, ember.uint8),
    (lambda: _t([1.0], ember.float32) * _t([2.0], ember.float64), ember.float64),
    (lambda: _t([1], ember.int32).exp(), ember.float32),
    (lambda: _t([4], ember.int64).sqrt(), ember.float32),
    (lambda: _t([1], ember.int32) ** 2, ember.int32),
    (lambda: _t([1], ember.int32) ** 0.5, ember.float32),
    (lambda: 2 ** _t([1], ember.int32), ember.int32),
    (lambda: 2.0 ** _t([1], ember.int32), ember.float32),
    (lambda: ember.where(_t([True], ember.bool), _t([1], ember.int32), 2.5), ember.float32),
    (lambda: ember.clamp(_t([1], ember.int32), 0.5), ember.float32),
    (lambda: _t([1], ember.int32) == 1.5, ember.bool),
    (lambda: ember.maximum(_t([1], ember.int32), _t([1.0], ember.float32)), ember.float32),
    (lambda: ember.cat([_t([1], ember.int32), _t([1.0], ember.float32)]), ember.float32),
    (lambda: _t([1], ember.int64).mean(dtype=ember.float64), ember.float64),
    (lambda: ember.norm(_t([3.0, 4.0], ember.float32)), ember.float32),
    (lambda: ember.atan2(_t([1], ember.int32), _t([1], ember.int32)), ember.float32),
    (lambda: ember.remainder(_t([5], ember.int32), 2.5), ember.float32),
    (lambda: _t([1], ember.int32) // 2, ember.int32),
    (lambda: ember.lerp(_t([1.0], ember.float32), _t([2.0], ember.float32), 0.5),
     ember.float32),
    (lambda: _t([True], ember.bool) ** 2, ember.int64),
    (lambda: 5 // _t(2.0, ember.float16), ember.float16),
    (lambda: 5 % _t([2], ember.uint8), ember.uint8),
    (lambda: ember.clamp(_t([2], ember.uint8), min=_t([1], ember.int8)), ember.int16),
    (lambda: ember.clamp(_t([2.0], ember.float32), min=_t(1.0, ember.float64)), ember.float32),
    (lambda: ember.clamp(_t([True], ember.bool), min=2), ember.int64),
]


@pytest.mark.parametrize("index", range(len(PROMOTION)))
def test_result_dtype(index):
    expr, want = PROMOTION[index]
    assert expr().dtype is want
