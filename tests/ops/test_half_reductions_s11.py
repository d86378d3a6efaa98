"""Reductions and scans with a float16 / bfloat16 ``dtype=``: the input is cast to the half dtype,
accumulated in float32 and rounded once (PyTorch's CPU rule). Oracles: NumPy in float32."""
import ml_dtypes
import numpy as np
import pytest

import ember

HALF = {ember.float16: np.dtype(np.float16), ember.bfloat16: np.dtype(ml_dtypes.bfloat16)}
SOURCES = [ember.float32, None, ember.int64]  # None: the half dtype itself


def _values(n: int = 10_000, seed: int = 0) -> np.ndarray:
    # ~1.0 each: 10,000 of them stall a half accumulator (256 + 0.5 == 256 in bfloat16)
    return (1.0 + np.random.default_rng(seed).random(n) * 0.01).astype(np.float32)


def _source(x: np.ndarray, half, src):
    src = src or half
    if src is ember.int64:
        x = np.round(x * 3)
    return ember.tensor(x).to(src)


def _cast(t: ember.Tensor, half) -> np.ndarray:
    """The source tensor's values as the half dtype, widened to float32 (the accumulator)."""
    return t.to(half).float().numpy()


def _assert_rounded(got: ember.Tensor, want32: np.ndarray, half) -> None:
    assert got.dtype is half
    np.testing.assert_array_equal(got.float().numpy(),
                                  np.asarray(want32, np.float32).astype(HALF[half]).astype(
                                      np.float32))


@pytest.mark.parametrize("half", list(HALF))
@pytest.mark.parametrize("src", SOURCES)
@pytest.mark.parametrize("shape, dim", [((10_000,), None), ((100, 100), 1), ((1000, 10), 0)])
def test_sum_with_half_dtype_accumulates_in_float32(half, src, shape, dim):
    t = _source(_values(), half, src).reshape(shape)
    want = _cast(t, half).sum(axis=dim, dtype=np.float32)
    _assert_rounded(ember.sum(t, dim, dtype=half) if dim is not None else
                    ember.sum(t, dtype=half), want, half)
    _assert_rounded(t.sum(dim, dtype=half) if dim is not None else t.sum(dtype=half), want, half)
    _assert_rounded(ember.nansum(t, dim, dtype=half), want, half)


@pytest.mark.parametrize("half", list(HALF))
@pytest.mark.parametrize("src", SOURCES)
def test_mean_with_half_dtype_accumulates_in_float32(half, src):
    t = _source(_values(), half, src).reshape(10, 1000)
    x = _cast(t, half)
    _assert_rounded(ember.mean(t, dtype=half), x.mean(dtype=np.float32), half)
    _assert_rounded(t.mean(1, dtype=half), x.mean(1, dtype=np.float32), half)


@pytest.mark.parametrize("half", list(HALF))
def test_nanmean_with_half_dtype(half):
    t = ember.tensor(_values()).reshape(10, 1000)
    sums = _cast(t, half).sum(1, dtype=np.float32).astype(HALF[half])
    # nansum rounded once, then divided by the count in the half dtype
    want = (sums.astype(np.float32) / 1000).astype(HALF[half]).astype(np.float32)
    got = ember.nanmean(t, 1, dtype=half)
    np.testing.assert_array_equal(got.float().numpy(), want)


@pytest.mark.parametrize("half", list(HALF))
@pytest.mark.parametrize("src", SOURCES)
def test_cumsum_with_half_dtype_accumulates_in_float32(half, src):
    t = _source(_values(), half, src)
    _assert_rounded(ember.cumsum(t, 0, dtype=half),
                    np.cumsum(_cast(t, half), dtype=np.float32), half)


@pytest.mark.parametrize("half", list(HALF))
@pytest.mark.parametrize("src", [ember.float32, None])
def test_cumprod_with_half_dtype_accumulates_in_float32(half, src):
    x = (1.0 + (np.random.default_rng(1).random(2000) - 0.5) * 0.01).astype(np.float32)
    t = _source(x, half, src)
    _assert_rounded(ember.cumprod(t, 0, dtype=half),
                    np.cumprod(_cast(t, half), dtype=np.float32), half)


def test_inputs_are_cast_to_the_half_dtype_first():
    # 1.0003 is 1.0 in float16: the sum of 1000 of them is 1000, not 1000.3 rounded (1000.5)
    t = ember.full((1000,), 1.0003)
    assert ember.sum(t, dtype=ember.float16).item() == 1000.0
    assert ember.cumsum(t, 0, dtype=ember.float16)[-1].item() == 1000.0
    assert ember.mean(t, dtype=ember.float16).item() == 1.0


@pytest.mark.parametrize("half", list(HALF))
def test_std_of_half_rounds_once(half):
    x = _values(seed=2).reshape(10, 1000)
    t = ember.tensor(x).to(half)
    w = t.float().numpy().astype(np.float64)
    want = np.sqrt(w.var(1, ddof=1)).astype(np.float32)
    np.testing.assert_allclose(t.std(1).float().numpy(), want.astype(HALF[half]).astype(np.float32),
                               rtol=0, atol=0)


def test_float_dtypes_keep_their_own_accumulation():
    x = _values()
    np.testing.assert_array_equal(ember.sum(ember.tensor(x), dtype=ember.float64).numpy(),
                                  x.sum(dtype=np.float64))
    np.testing.assert_array_equal(ember.cumsum(ember.tensor(x), 0, dtype=ember.float32).numpy(),
                                  np.cumsum(x, dtype=np.float32))


@pytest.mark.parametrize("half", list(HALF))
def test_sum_with_half_dtype_gradient(half):
    t = ember.tensor(_values(8), requires_grad=True)
    ember.sum(t, dtype=half).backward()
    assert t.grad.dtype is ember.float32
    np.testing.assert_array_equal(t.grad.numpy(), np.ones(8, np.float32))
