"""Every float32 row of the op table in float16 and bfloat16: the same op on the same (rounded)
values in float32 is the oracle (itself checked against NumPy in test_ops_forward.py). Half
results must keep their dtype and agree to the half type's precision."""
import ml_dtypes
import numpy as np
import pytest
from op_table import OPS, S, leaves, samples_of

import ember

F32 = np.dtype(np.float32)
HALVES = {np.dtype(np.float16): (ember.float16, 4e-3),
          np.dtype(ml_dtypes.bfloat16): (ember.bfloat16, 2e-2)}
# NumPy's and PyTorch's CPU linear algebra has no half-precision kernels; nan_to_num's default
# replacements are the dtype's own extremes, which float32's cannot be the oracle for.
UNSUPPORTED = {"solve", "inverse", "slogdet", "det", "logdet", "matrix_power"}
ROWS = [op for op in OPS if F32 in op.dtypes and op.name not in UNSUPPORTED
        and "nan_to_num" not in op.name]


def _convert(x, dtype):
    """A sample argument as ember values, its float32 arrays in ``dtype``."""
    if isinstance(x, np.ndarray):
        return ember.tensor(x.astype(dtype) if x.dtype == F32 else x)
    if isinstance(x, (list, tuple)):
        return type(x)(_convert(v, dtype) for v in x)
    return x


def _run(op, sample, dtype):
    return leaves(op.fn(ember, *[_convert(a, dtype) for a in sample.args],
                        **{k: _convert(v, dtype) for k, v in sample.kwargs.items()}))


@pytest.mark.parametrize("half", list(HALVES), ids=lambda d: d.name)
@pytest.mark.parametrize("op", ROWS, ids=lambda op: op.name)
def test_half_matches_float32(op, half):
    half_dtype, tol = HALVES[half]
    for sample in samples_of(op, F32):
        # The oracle sees the values the half run sees: rounded to half, then widened.
        rounded = S(*_round(sample.args, half), **_round(sample.kwargs, half))
        try:
            want = _run(op, rounded, F32)
        except Exception:  # noqa: BLE001 - samples the float32 op rejects on purpose
            continue
        got = _run(op, rounded, half)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            if not isinstance(w, ember.Tensor):
                continue
            if w.dtype == ember.float32:
                assert g.dtype == half_dtype, f"{op.name}: {g.dtype} from {half.name} inputs"
            np.testing.assert_allclose(g.double().numpy(), w.double().numpy(), rtol=tol,
                                       atol=tol, equal_nan=True, err_msg=op.name)


def _round(field, half):
    """A sample's args/kwargs with float32 arrays rounded to ``half`` (and kept float32)."""
    if isinstance(field, np.ndarray) and field.dtype == F32:
        return field.astype(half).astype(F32)
    if isinstance(field, dict):
        return {k: _round(v, half) for k, v in field.items()}
    if isinstance(field, (list, tuple)):
        return type(field)(_round(v, half) for v in field)
    return field


@pytest.mark.parametrize("half", list(HALVES), ids=lambda d: d.name)
def test_nan_to_num_uses_the_half_dtypes_extremes(half):
    x = ember.tensor(np.array([np.nan, np.inf, -np.inf, 1.5], half))
    top = float(ml_dtypes.finfo(half).max)
    got = ember.nan_to_num(x)
    assert got.dtype == HALVES[half][0]
    np.testing.assert_array_equal(got.double().numpy(), [0.0, top, -top, 1.5])
