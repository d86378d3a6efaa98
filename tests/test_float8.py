"""float8 dtypes: storage, views, casts, finfo, promotion, checkpoints and ``_scaled_mm``, checked
against ml_dtypes and NumPy (tests/conformance/test_float8_conformance.py checks PyTorch)."""
import io

import ml_dtypes
import numpy as np
import pytest

import ember
from ember import _float8

FLOAT8 = [ember.float8_e4m3fn, ember.float8_e5m2, ember.float8_e4m3fnuz, ember.float8_e5m2fnuz,
          ember.float8_e8m0fnu]
IDS = [d.name for d in FLOAT8]


def _bits(t) -> np.ndarray:
    return t.view(ember.uint8).numpy()


@pytest.mark.parametrize("d", FLOAT8, ids=IDS)
def test_dtype_properties(d):
    assert repr(d) == f"torch.{d.name}" and ember.dtypes.to_dtype(d.name) is d
    assert d.is_floating_point and not d.is_complex and d.itemsize == 1
    assert d.is_signed is (d is not ember.float8_e8m0fnu)
    assert d.np_dtype == np.dtype(getattr(ml_dtypes, d.name))


@pytest.mark.parametrize("d", FLOAT8, ids=IDS)
def test_creation_and_views(d):
    assert ember.zeros(2, 3, dtype=d).dtype is d and ember.empty(4, dtype=d).dtype is d
    ones = ember.ones(3, dtype=d)
    assert ones.element_size() == 1 and ones.is_floating_point()
    assert ones.float().tolist() == [1.0, 1.0, 1.0]
    assert ember.full((2,), 2.0, dtype=d).tolist() == [2.0, 2.0]
    every = ember.arange(256, dtype=ember.int64).to(ember.uint8).view(d)
    assert every.dtype is d
    np.testing.assert_array_equal(_bits(every), np.arange(256, dtype=np.uint8))
    expected = np.arange(256, dtype=np.uint8).view(d.np_dtype).astype(np.float32)
    np.testing.assert_array_equal(every.float().numpy(), expected)


def test_to_float8_edges():
    x = np.array([1e10, -1e10, np.inf, -np.inf, np.nan, 0.1, -0.1, 0.0, -0.0], np.float32)
    np.testing.assert_array_equal(_float8.to_float8(x, ember.float8_e4m3fn).view(np.uint8),
                                  [126, 254, 126, 254, 127, 29, 157, 0, 128])  # saturates
    np.testing.assert_array_equal(_float8.to_float8(x, ember.float8_e5m2).view(np.uint8),
                                  [124, 252, 124, 252, 127, 46, 174, 0, 128])  # NaN is 0x7F
    np.testing.assert_array_equal(_float8.to_float8(x, ember.float8_e8m0fnu).view(np.uint8),
                                  [160, 160, 255, 255, 255, 124, 124, 0, 0])  # sign dropped
    np.testing.assert_array_equal(_float8.to_float8(x, ember.float8_e4m3fnuz).view(np.uint8),
                                  x.astype(ml_dtypes.float8_e4m3fnuz).view(np.uint8))


@pytest.mark.parametrize("d", FLOAT8, ids=IDS)
def test_to_float8_zero_dim(d):
    for value in (-1000.0, 0.5, np.nan):
        out = _float8.to_float8(np.array(value), d)
        assert out.shape == () and out.dtype == d.np_dtype
        assert out.view(np.uint8) == _float8.to_float8(np.array([value]), d).view(np.uint8)[0]


def test_to_float8_rounds_through_float32():
    # a float64 just above a float8 tie rounds to the tie in float32, then to even
    x = np.array([1.0625 + 1e-12], np.float64)
    assert _float8.to_float8(x, ember.float8_e4m3fn).astype(np.float32)[0] == 1.0


def test_finfo_values():
    f = ember.finfo(ember.float8_e4m3fn)
    assert (f.bits, f.eps, f.max, f.min, f.tiny, f.resolution) == (
        8, 0.125, 448.0, -448.0, 2.0 ** -6, 1.0)
    assert ember.finfo(ember.float8_e5m2fnuz).eps == 0.125  # PyTorch's value
    assert ember.finfo(ember.float8_e8m0fnu).min == 2.0 ** -127
    assert repr(f) == ("finfo(resolution=1, min=-448, max=448, eps=0.125, "
                       "smallest_normal=0.015625, tiny=0.015625, dtype=float8_e4m3fn)")


@pytest.mark.parametrize("other", [ember.float32, ember.int64, ember.bool, ember.bfloat16,
                                   ember.complex64, ember.float8_e5m2])
def test_promotion_refused(other):
    a = ember.zeros(2, dtype=ember.float8_e4m3fn)
    with pytest.raises(RuntimeError, match="Promotion for Float8 Types is not supported"):
        ember.promote_types(ember.float8_e4m3fn, other)
    with pytest.raises(RuntimeError, match="Float8_e4m3fn"):
        ember.result_type(a, ember.zeros(2, dtype=other))


def test_python_scalars_keep_float8():
    a = ember.zeros(2, dtype=ember.float8_e5m2)
    assert ember.result_type(a, 1.5) is ember.float8_e5m2
    assert ember.result_type(a, 2) is ember.float8_e5m2
    assert ember.promote_types(ember.float8_e5m2, ember.float8_e5m2) is ember.float8_e5m2


@pytest.mark.parametrize("d", FLOAT8, ids=IDS)
def test_checkpoint_round_trip(d):
    t = ember.arange(256, dtype=ember.int64).to(ember.uint8).view(d)
    buf = io.BytesIO()
    ember.save({"w": t, "v": t[3:11:2]}, buf)
    buf.seek(0)
    back = ember.load(buf)
    assert back["w"].dtype is d
    np.testing.assert_array_equal(_bits(back["w"]), _bits(t))
    np.testing.assert_array_equal(_bits(back["v"]), _bits(t[3:11:2]))


@pytest.mark.parametrize("d", FLOAT8, ids=IDS)
def test_safetensors_round_trip(d, tmp_path):
    t = ember.arange(256, dtype=ember.int64).to(ember.uint8).view(d)
    ember.serialization.save_safetensors({"w": t}, tmp_path / "w.safetensors")
    back = ember.serialization.load_safetensors(tmp_path / "w.safetensors")["w"]
    assert back.dtype is d
    np.testing.assert_array_equal(_bits(back), _bits(t))


def _f8(values, d=ember.float8_e4m3fn):
    return ember.from_numpy(np.asarray(values, np.float32).astype(d.np_dtype))


def test_scaled_mm_tensorwise_and_rowwise():
    rng = np.random.default_rng(0)
    a, b = _f8(rng.standard_normal((8, 16)) * 4), _f8(rng.standard_normal((4, 16)) * 4).t()
    ref = a.float().numpy() @ b.float().numpy()
    out = ember._scaled_mm(a, b, ember.tensor(0.5), ember.tensor(2.0), out_dtype=ember.float32)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-6)
    assert ember._scaled_mm(a, b, ember.tensor(1.0), ember.tensor(1.0)).dtype is a.dtype
    sa, sb = ember.rand(8, 1) + 0.5, ember.rand(1, 4) + 0.5
    bias = ember.ones(4)
    out = ember._scaled_mm(a, b, sa, sb, bias=bias, out_dtype=ember.float32)
    np.testing.assert_allclose(out.numpy(), ref * sa.numpy() * sb.numpy() + 1, rtol=1e-5)


def test_scaled_mm_errors():
    a = _f8(np.ones((4, 8)))
    one = ember.tensor(1.0)
    with pytest.raises(RuntimeError, match="mat2 must be a matrix"):
        ember._scaled_mm(a, a.t()[None], one, one)
    with pytest.raises(RuntimeError, match=r"cannot be multiplied \(4x8 and 4x8\)"):
        ember._scaled_mm(a, a, one, one)
    with pytest.raises(ValueError, match="Invalid scaling configuration"):
        ember._scaled_mm(a.float(), a.t(), one, one)
    with pytest.raises(ValueError, match="scale_a should be"):
        ember._scaled_mm(a, a.t(), ember.ones(2), one)
