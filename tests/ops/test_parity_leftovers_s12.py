"""Session 12 parity fixes, against NumPy: a Python float written into a float16 tensor rounds
through float32 (as PyTorch's Scalar does) by every writing op; fill_ and t[i] = v check a
number against the dtype's range; clamp refuses a Tensor bound beside a number; the C++ dtype
names come from one table; a compressed gradient accumulates the union of the entries."""
import ml_dtypes
import numpy as np
import pytest

import ember
from ember._float8 import cpp_name
from ember.sparse import accumulate


def _double_rounded_cases() -> np.ndarray:
    """Doubles whose float16 differs when rounded through float32, found by a search over a
    range of doubles plus a few built on purpose (a subnormal tie, a value float32 lifts to
    float16's overflow threshold)."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-8.0, 8.0, 2_000_000)
    found = x[x.astype(np.float16) != x.astype(np.float32).astype(np.float16)]
    built = np.array([1 + 2.0 ** -11 + 2.0 ** -40, 2.0 ** -25 + 2.0 ** -60,
                      -(2048 + 1 + 2.0 ** -30)])
    return np.concatenate([found[:12], built])


CASES = _double_rounded_cases()
WANT = CASES.astype(np.float32).astype(np.float16)


def test_the_search_finds_values_the_two_roundings_tell_apart():
    assert len(CASES) >= 10
    assert (CASES.astype(np.float16) != WANT).all()


def _each(write):
    """``write(tensor, value)`` once per case into a fresh float16 tensor of 3, read back at 1."""
    out = []
    for x in CASES.tolist():
        t = ember.zeros(3, dtype=ember.float16)
        out.append(write(t, x)[1].item())
    return np.array(out, np.float16)


MASK = ember.tensor([False, True, True])
WRITES = {
    "full": lambda t, x: ember.full((3,), x, dtype=ember.float16),
    "full_like": lambda t, x: ember.full_like(t, x),
    "new_full": lambda t, x: t.new_full((3,), x),
    "fill_": lambda t, x: t.fill_(x),
    "fill_0d_double": lambda t, x: t.fill_(ember.tensor(x, dtype=ember.float64)),
    "fill": lambda t, x: ember.fill(t, x),
    "setitem_int": lambda t, x: (t.__setitem__(1, x), t)[1],
    "setitem_slice": lambda t, x: (t.__setitem__(slice(None), x), t)[1],
    "setitem_list": lambda t, x: (t.__setitem__([1, 2], x), t)[1],
    "setitem_mask": lambda t, x: (t.__setitem__(MASK, x), t)[1],
    "setitem_0d_double": lambda t, x: (t.__setitem__(1, ember.tensor(x, dtype=ember.float64)),
                                       t)[1],
    "setitem_mask_0d_double": lambda t, x: (
        t.__setitem__(MASK, ember.tensor(x, dtype=ember.float64)), t)[1],
    "index_fill_": lambda t, x: t.index_fill_(0, ember.tensor([1]), x),
    "index_fill": lambda t, x: t.index_fill(0, ember.tensor([1]), x),
    "masked_fill_": lambda t, x: t.masked_fill_(MASK, x),
    "masked_fill": lambda t, x: t.masked_fill(MASK, x),
    "masked_fill_0d_double": lambda t, x: t.masked_fill(MASK, ember.tensor(x,
                                                                          dtype=ember.float64)),
    "scatter_": lambda t, x: t.scatter_(0, ember.tensor([1]), x),
    "scatter_value": lambda t, x: t.scatter(0, ember.tensor([1]), value=x),
    "index_put_": lambda t, x: t.index_put_((ember.tensor([1]),), ember.tensor(x).half()),
}


@pytest.mark.parametrize("name", sorted(WRITES))
def test_a_float_written_into_float16_rounds_through_float32(name):
    np.testing.assert_array_equal(_each(WRITES[name]), WANT)


def _recorded(write):
    def run(t, x):
        return write(ember.zeros(3, dtype=ember.float16, requires_grad=True).clone(), x)
    return run


@pytest.mark.parametrize("name", ["fill_", "setitem_int", "setitem_list", "setitem_mask",
                                  "masked_fill_", "index_fill_"])
def test_the_recorded_writes_round_alike(name):
    got = _each(_recorded(WRITES[name]))
    np.testing.assert_array_equal(got, WANT)


def test_fill_diagonal_rounds_through_float32():
    for x, want in zip(CASES.tolist(), WANT):
        assert ember.zeros(2, 2, dtype=ember.float16).fill_diagonal_(x)[1, 1].item() == want


def test_scalar_tensor_and_range_starts_round_through_float32():
    for x, want in zip(CASES.tolist(), WANT):
        assert ember.scalar_tensor(x, dtype=ember.float16).item() == want
        assert ember.arange(x, x + 40, 0.5, dtype=ember.float16)[0].item() == want
        assert ember.arange(x, x + 1, 0.5, dtype=ember.float16)[0].item() == want


def test_one_element_full_rounds_to_infinity_through_float32():
    # float32 rounds 65519.999999 up to 65520, which float16 overflows; directly it is 65504
    assert ember.full((1,), 65519.999999, dtype=ember.float16).item() == np.inf
    assert np.float16(65519.999999) == 65504


def test_bfloat16_writes_round_through_float32():
    # above the bfloat16 tie between 1 and 1 + 2**-7 by less than float32 resolves: float32
    # lands on the tie, which rounds to even (1.0); a direct rounding would go up
    x = 1 + 2.0 ** -8 + 2.0 ** -30
    want = float(np.float32(x).astype(ml_dtypes.bfloat16))
    assert want == 1.0
    assert ember.full((3,), x, dtype=ember.bfloat16)[1].item() == want
    for name in ("full_like", "fill_", "setitem_mask", "masked_fill", "index_fill_"):
        got = WRITES[name](ember.zeros(3, dtype=ember.bfloat16), x)
        assert got.float()[1].item() == want


def test_other_dtypes_take_the_double_unrounded():
    x = float(CASES[0])
    assert ember.full((2,), x, dtype=ember.float64)[0].item() == x
    assert ember.zeros(2).fill_(x)[0].item() == float(np.float32(x))


@pytest.mark.parametrize("dtype,value,numel", [
    (ember.int8, 300, 2), (ember.uint8, -300, 2), (ember.float16, 1e6, 2),
    (ember.float32, 1e39, 1), (ember.float32, 1 + 2j, 2), (ember.int32, 2.5e10, 2),
])
def test_fill_checks_a_number_against_the_dtype(dtype, value, numel):
    name = {"int8": "int8_t", "uint8": "uint8_t", "float16": "c10::Half", "float32": "float",
            "int32": "int"}[str(dtype).split(".")[1]]
    with pytest.raises(RuntimeError, match=f"value cannot be converted to type {name} "
                                           "without overflow"):
        ember.zeros(numel, dtype=dtype).fill_(value)


def test_fill_range_edges():
    assert ember.zeros(2, dtype=ember.uint8).fill_(-1).tolist() == [255, 255]
    assert ember.zeros(1, dtype=ember.float16).fill_(65519.99).item() == 65504
    assert ember.zeros(2, dtype=ember.float16).fill_(float("inf"))[0].item() == np.inf


def test_fill_with_a_tensor_casts_unchecked_and_wants_0d():
    assert ember.zeros(2, dtype=ember.int8).fill_(ember.tensor(300)).tolist() == [44, 44]
    for requires_grad in (False, True):
        t = ember.zeros(2, requires_grad=requires_grad).clone()
        with pytest.raises(RuntimeError, match="fill_ only supports 0-dimension value tensor "
                                               "but got tensor with 1 dimensions."):
            t.fill_(ember.tensor([1.0]))


@pytest.mark.parametrize("index", [1, slice(None), [0, 1], "mask"])
def test_setitem_checks_a_number_against_an_integer_dtype(index):
    t = ember.zeros(3, dtype=ember.int8)
    i = MASK if index == "mask" else index
    with pytest.raises(RuntimeError, match="value cannot be converted to type int8_t"):
        t[i] = 300
    u = ember.zeros(3, dtype=ember.uint8)
    u[i] = -1
    assert u[1].item() == 255
    h = ember.zeros(3, dtype=ember.float16)
    h[i] = 1e6  # float types are not checked: it overflows to infinity
    assert h[1].item() == np.inf


@pytest.mark.parametrize("bounds", [("t", 2), (0, "t"), ("t", 2.5)])
def test_clamp_refuses_a_tensor_bound_beside_a_number(bounds):
    x = ember.tensor([-1.0, 0.5, 3.0])
    lo, hi = (ember.zeros(3) if b == "t" else b for b in bounds)
    kinds = ", ".join("Tensor" if b == "t" else type(b).__name__ for b in bounds)
    with pytest.raises(TypeError) as info:
        ember.clamp(x, lo, hi)
    assert str(info.value).startswith(f"clamp() received an invalid combination of arguments "
                                      f"- got (Tensor, {kinds}), but expected one of:")
    with pytest.raises(TypeError, match=r"clamp_\(\) received an invalid combination"):
        x.clone().clamp_(lo, hi)


def test_clamp_keeps_one_tensor_bound_and_none():
    x = ember.tensor([-1.0, 0.5, 3.0])
    t = ember.tensor([0.0, 1.0, 1.0])
    np.testing.assert_array_equal(ember.clamp(x, t, None).numpy(),
                                  np.maximum(x.numpy(), t.numpy()))
    np.testing.assert_array_equal(ember.clamp(x, None, t).numpy(),
                                  np.minimum(x.numpy(), t.numpy()))


def test_cpp_names_come_from_the_tensor_type_table():
    assert [cpp_name(d) for d in (ember.float32, ember.int64, ember.uint16, ember.bfloat16,
                                  ember.float8_e4m3fn, ember.float8_e8m0fnu, ember.qint8,
                                  ember.quint4x2)] == [
        "Float", "Long", "UInt16", "BFloat16", "Float8_e4m3fn", "Float8_e8m0fnu", "QInt8",
        "QUInt4x2"]


def test_type_strings_of_the_added_dtypes():
    assert ember.empty(2, dtype=ember.uint16).type() == "torch.UInt16Tensor"
    assert ember.empty(2, dtype=ember.float8_e5m2).type() == "torch.Float8_e5m2Tensor"
    q = ember.quantize_per_tensor(ember.tensor([1.0, 2.0]), 0.1, 0, ember.qint8)
    assert q.type() == "torch.quantized.QInt8Tensor"
    assert ember.zeros(2).type("torch.UInt32Tensor").dtype is ember.uint32


def _csr(crow, col, values):
    return ember.sparse_csr_tensor(ember.tensor(crow), ember.tensor(col), ember.tensor(values),
                                   (2, 2))


def test_compressed_gradients_accumulate_the_union_of_their_entries():
    g1 = _csr([0, 1, 2], [0, 1], [1.0, 1.0])
    g2 = _csr([0, 1, 1], [1], [5.0])
    total = accumulate(g1, g2)
    assert total.layout is ember.sparse_csr
    assert total.crow_indices().tolist() == [0, 2, 3]
    assert total.col_indices().tolist() == [0, 1, 1]
    np.testing.assert_array_equal(total.to_dense().numpy(), np.array([[1.0, 5.0], [0.0, 1.0]]))


def test_a_compressed_gradient_refuses_a_strided_one():
    with pytest.raises(RuntimeError, match="Sparse CSR tensors do not have is_contiguous"):
        accumulate(_csr([0, 1, 1], [1], [5.0]), ember.ones(2, 2))
