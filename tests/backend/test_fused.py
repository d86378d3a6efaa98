"""ember.backend.fused against NumPy: the same expression written with NumPy ufuncs (scalars
cast to the compute dtype) is the oracle, bit for bit; the CUDA source is checked as text here
and run against the NumPy engine where CuPy and a GPU are present."""
import numpy as np
import pytest

from ember.backend import fused

RNG = np.random.default_rng(0)
FLOATS = [np.float32, np.float64]
SIZES = [(), (3,), (2, 5), (fused.BLOCK * 3 + 7,)]


def _data(shape, dtype, low=0.1, high=2.0):
    return RNG.uniform(low, high, shape).astype(dtype)


# (expression, NumPy oracle over arrays a, b and a scalar s already cast)
EXPRESSIONS = [
    ("a + b * s", lambda a, b, s: a + b * s),
    ("(a - b) / (s + 1.5)", lambda a, b, s: (a - b) / (s + a.dtype.type(1.5))),
    ("-a ** 2 + b ** 3", lambda a, b, s: -np.square(a) + np.power(b, b.dtype.type(3))),
    ("a ** b", lambda a, b, s: np.power(a, b)),
    ("0.5 * a * (1 + tanh(0.7978845608 * (a + 0.044715 * a * a * a)))",
     lambda a, b, s: a.dtype.type(0.5) * a * (1 + np.tanh(
         a.dtype.type(0.7978845608) * (a + a.dtype.type(0.044715) * a * a * a)))),
    ("where(a > b, exp(a) - 1, log1p(b))", lambda a, b, s: np.where(a > b, np.exp(a) - 1,
                                                                    np.log1p(b))),
    ("maximum(a, b) - minimum(a, s) + abs(a - 1)",
     lambda a, b, s: np.maximum(a, b) - np.minimum(a, s) + np.abs(a - 1)),
    ("sqrt(a) / (sqrt(b) / s + 1e-8)",
     lambda a, b, s: np.sqrt(a) / (np.sqrt(b) / s + a.dtype.type(1e-8))),
    ("arctan2(a, b) + copysign(s, a - b) + floor(a) * ceil(b) - trunc(a)",
     lambda a, b, s: np.arctan2(a, b) + np.copysign(s, a - b) + np.floor(a) * np.ceil(b)
     - np.trunc(a)),
    ("sign(a - b) * s + sign(b * 0)", lambda a, b, s: np.sign(a - b) * s + np.sign(b * 0)),
]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", SIZES, ids=str)
@pytest.mark.parametrize("expression,oracle", EXPRESSIONS, ids=[e for e, _ in EXPRESSIONS])
def test_evaluate_matches_numpy_bit_for_bit(expression, oracle, shape, dtype):
    a, b = _data(shape, dtype), _data(shape, dtype)
    got = fused.evaluate(expression, a=a, b=b, s=0.3)
    want = np.asarray(oracle(a, b, dtype(0.3)))
    assert got.dtype == dtype and got.shape == shape
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("expression,oracle", EXPRESSIONS[:3], ids=[e for e, _ in
                                                                     EXPRESSIONS[:3]])
def test_pieces_of_any_size_give_the_same_values(expression, oracle, monkeypatch):
    a, b = _data((1000,), np.float32), _data((1000,), np.float32)
    whole = fused.evaluate(expression, a=a, b=b, s=0.3)
    monkeypatch.setattr(fused, "BLOCK", 7)
    np.testing.assert_array_equal(fused.evaluate(expression, a=a, b=b, s=0.3), whole)


def test_scalars_and_literals_are_weak_like_pytorch():
    a = _data((4,), np.float32)
    assert fused.evaluate("a * 0.1 + s", a=a, s=0.2).dtype == np.float32
    assert fused.evaluate("a * s", a=a, s=np.float64(0.2)).dtype == np.float32
    np.testing.assert_array_equal(fused.evaluate("a * 0.1", a=a), a * np.float32(0.1))
    mixed = fused.evaluate("a + b", a=a, b=_data((4,), np.float64))
    assert mixed.dtype == np.float64


def test_scalars_meeting_no_float_array_compute_in_the_compute_dtype():
    a = _data((4,), np.float32)
    m = a > 1
    s, t = np.float32(0.1), np.float32(3.3)
    np.testing.assert_array_equal(fused.evaluate("exp(s) * t + a", a=a, s=0.1, t=3.3),
                                  np.exp(s) * t + a)
    np.testing.assert_array_equal(fused.evaluate("m * s + a", m=m, a=a, s=0.1), m * s + a)
    np.testing.assert_array_equal(fused.evaluate("a * s - 1", a=a, s=np.float64(0.1)),
                                  a * s - 1)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_types_compute_in_float32_and_keep_their_dtype(dtype):
    import ml_dtypes  # noqa: F401  (registers bfloat16 with NumPy)
    a = _data((2, 3), np.float32).astype(dtype)
    got = fused.evaluate("a * 3.1 - exp(a) / 7", a=a)
    f = a.astype(np.float32)
    want = (f * np.float32(3.1) - np.exp(f) / np.float32(7)).astype(dtype)
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got.astype(np.float32), want.astype(np.float32))


@pytest.mark.parametrize("shapes", [((3, 1), (1, 4)), ((2, 3, 4), (4,)), ((5,), ())], ids=str)
def test_broadcasting(shapes):
    a, b = _data(shapes[0], np.float64), _data(shapes[1], np.float64)
    got = fused.evaluate("a * b + where(a < b, a, b)", a=a, b=b)
    np.testing.assert_array_equal(got, a * b + np.where(a < b, a, b))


def test_non_contiguous_operands():
    a = _data((fused.BLOCK // 64, 130), np.float32)[:, ::2]
    b = _data((65, fused.BLOCK // 64), np.float32).T
    np.testing.assert_array_equal(fused.evaluate("a - b * 2", a=a, b=b), a - b * 2)


def test_comparisons_and_boolean_logic_give_bool():
    a, b = _data((6,), np.float32), _data((6,), np.float32)
    m = a > 1
    got = fused.evaluate("(a < b) & ~m | isnan(a) | (b == 1)", a=a, b=b, m=m)
    assert got.dtype == np.bool_
    np.testing.assert_array_equal(got, (a < b) & ~m | np.isnan(a) | (b == 1))
    np.testing.assert_array_equal(fused.evaluate("where(m, a, 0)", m=m, a=a),
                                  np.where(m, a, np.float32(0)))


def test_maximum_and_minimum_propagate_nan():
    a = np.array([np.nan, 1, 2], np.float32)
    b = np.array([0, np.nan, 1], np.float32)
    np.testing.assert_array_equal(fused.evaluate("maximum(a, b)", a=a, b=b), np.maximum(a, b))
    np.testing.assert_array_equal(fused.evaluate("minimum(a, b)", a=a, b=b), np.minimum(a, b))


@pytest.mark.parametrize("shape", [(3,), (fused.BLOCK + 5,)], ids=str)
def test_out_may_be_an_operand(shape):
    a, b = _data(shape, np.float32), _data(shape, np.float32)
    want = np.where(a > 1, a * b, b - a)
    out = fused.evaluate("where(a > 1, a * b, b - a)", out=a, a=a, b=b)
    assert out is a
    np.testing.assert_array_equal(a, want)


def test_out_must_have_the_result_shape_and_dtype():
    a = _data((3,), np.float32)
    with pytest.raises(ValueError, match="out is float64"):
        fused.evaluate("a + 1", out=np.empty(3), a=a)
    with pytest.raises(ValueError, match="shape"):
        fused.evaluate("a + 1", out=np.empty((1, 3), np.float32), a=a)


@pytest.mark.parametrize("shape", [(7,), (fused.BLOCK * 2 + 1,)], ids=str)
@pytest.mark.parametrize("dtype", FLOATS)
def test_update_runs_statements_in_order_with_locals(shape, dtype):
    m, v, p, g = (_data(shape, dtype) for _ in range(4))
    c = {k: dtype(x) for k, x in dict(w=0.1, beta2=0.999, eps=1e-8, lr=-1e-3).items()}
    gd = g + p * dtype(0.01)
    m2 = m + (gd - m) * c["w"]
    v2 = v * c["beta2"] + gd * gd
    p2 = p + m2 / (np.sqrt(v2) + c["eps"]) * c["lr"]
    fused.update("_g = g + p * 0.01; m = m + (_g - m) * w\n"
                 "v = v * beta2 + _g * _g; p = p + m / (sqrt(v) + eps) * lr",
                 m=m, v=v, p=p, g=g, w=0.1, beta2=0.999, eps=1e-8, lr=-1e-3)
    for got, want in ((m, m2), (v, v2), (p, p2)):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("block", [0, 5, None])
def test_update_in_pieces_of_any_size_or_whole(block):
    x, y = _data((3, 67), np.float32), _data((3, 67), np.float32)
    want = x * np.float32(0.5) + y, y * y
    fused.update("x = x * 0.5 + y; y = y * y", block=block, x=x, y=y)
    np.testing.assert_array_equal(x, want[0])
    np.testing.assert_array_equal(y, want[1])


def test_prepare_update_binds_now_and_runs_on_each_call():
    m = np.ones(3, np.float32)
    run = fused.prepare_update("m = m * s", m=m, s=0.5)
    np.testing.assert_array_equal(m, 1)
    run()
    run()
    np.testing.assert_array_equal(m, 0.25)
    with pytest.raises(ValueError, match="target 'b'"):
        fused.prepare_update("b = a + b", a=np.ones((2, 3)), b=np.ones(3))


def test_update_of_a_half_target_rounds_once_per_statement():
    x = _data((5,), np.float16)
    y = x.copy()
    fused.update("x = x * 1.1 + 0.3; x = x * 2", x=x)
    step = (y.astype(np.float32) * np.float32(1.1) + np.float32(0.3)).astype(np.float16)
    np.testing.assert_array_equal(x, (step.astype(np.float32) * 2).astype(np.float16))


def test_update_targets_must_have_the_broadcast_shape():
    with pytest.raises(ValueError, match="target 'b'"):
        fused.update("b = a + b", a=np.ones((2, 3)), b=np.ones(3))


@pytest.mark.parametrize("source,error,match", [
    ("a.b + 1", ValueError, "unsupported"),
    ("a if b else c", ValueError, "unsupported"),
    ("a < b < c", ValueError, "unsupported"),
    ("sin(a, b)", ValueError, "unsupported"),
    ("exp + 1", ValueError, "unsupported"),
    ("_t + 1", ValueError, "read before"),
    ("a +", ValueError, "syntax"),
    ("b = a; a + 1", ValueError, "unsupported"),
])
def test_unsupported_sources_raise(source, error, match):
    with pytest.raises(error, match=match):
        fused.evaluate(source, a=np.ones(2), b=np.ones(2), c=np.ones(2))


def test_operand_errors():
    with pytest.raises(NameError, match="'b'"):
        fused.evaluate("a + b", a=np.ones(2))
    with pytest.raises(TypeError, match="at least one array"):
        fused.evaluate("a + b", a=1.0, b=2.0)
    with pytest.raises(TypeError, match="floating-point"):
        fused.evaluate("a + 1", a=np.ones(2, np.int64))
    with pytest.raises(ValueError, match="evaluate takes an expression"):
        fused.evaluate("a = a + 1", a=np.ones(2))
    with pytest.raises(ValueError, match="update assignments"):
        fused.update("a + 1", a=np.ones(2))


# ----------------------------------------------------------------------------------------------
# CUDA source text: a pure function of the source and the dtypes

def test_cuda_source_of_an_expression():
    assert fused.cuda_source("a * 0.5 + s", a="float32", s=None) == (
        "float32 x_a, float32 x_s", "float32 y", "y = ((x_a * 0.5f) + x_s);", "")
    assert fused.cuda_source("a * 0.1 + s", a="float64", s=None) == (
        "float64 x_a, float64 x_s", "float64 y", "y = ((x_a * 0.1) + x_s);", "")


def test_cuda_source_of_where_comparisons_and_functions():
    inputs, outputs, operation, preamble = fused.cuda_source(
        "where(m & (a >= 1), maximum(a, b) ** 2, -sqrt(abs(b)))", a="float32", b="float32",
        m="bool")
    assert inputs == "bool x_m, float32 x_a, float32 x_b"
    assert outputs == "float32 y"
    assert operation == ("y = ((x_m && (x_a >= 1.0f)) ? (ember_maximum(x_a, x_b) * "
                         "ember_maximum(x_a, x_b)) : (-sqrt(fabs(x_b))));")
    assert "ember_maximum(T a, T b)" in preamble
    assert fused.cuda_source("~(a != b) | isinf(a)", a="float32", b="float32")[1:3] == (
        "bool y", "y = ((!(x_a != x_b)) || isinf(x_a));")
    operation, preamble = fused.cuda_source("sign(a) ** 3", a="float64")[2:]
    assert operation == "y = pow(ember_sign(x_a), 3.0);"
    assert "T ember_sign(T x)" in preamble


def test_cuda_source_computes_half_in_float_and_mixed_widths_in_double():
    assert fused.cuda_source("exp(h) * 2", h="float16") == (
        "float16 x_h", "float16 y", "y = float16((exp(((float) x_h)) * 2.0f));", "")
    assert fused.cuda_source("a * b", a="float32", b="float64")[1:3] == (
        "float64 y", "y = (((double) x_a) * x_b);")


def test_cuda_source_of_statements_writes_targets_in_place():
    assert fused.cuda_source("_g = -g; m = m + (_g - m) * w; p = p - m * lr",
                             g="float16", m="float16", p="float16", w=None, lr=None) == (
        "float16 x_g, float32 x_w, float32 x_lr",
        "float16 x_m, float16 x_p",
        "float v_g = (-((float) x_g));\n"
        "x_m = float16((((float) x_m) + ((v_g - ((float) x_m)) * x_w)));\n"
        "x_p = float16((((float) x_p) - (((float) x_m) * x_lr)));",
        "")


def test_cuda_source_rejects_what_cuda_cannot_run():
    with pytest.raises(TypeError, match="no dtype"):
        fused.cuda_source("a + b", a="float32")
    with pytest.raises(TypeError, match="floating-point"):
        fused.cuda_source("a + 1", a="int64")


# ----------------------------------------------------------------------------------------------
# CuPy against the NumPy engine

@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("expression,oracle", EXPRESSIONS, ids=[e for e, _ in EXPRESSIONS])
def test_cuda_kernel_matches_the_numpy_engine(expression, oracle, dtype):
    cupy = pytest.importorskip("cupy")
    from ember.backend import cuda
    if not cuda.is_available():
        pytest.skip("no GPU")
    a = _data((3, 1000), dtype)
    b = _data((1000,), dtype)
    got = fused.evaluate(expression, a=cupy.asarray(a), b=cupy.asarray(b), s=0.3)
    want = fused.evaluate(expression, a=a, b=b, s=0.3)
    assert got.dtype == want.dtype and got.shape == want.shape
    tol = dict(rtol=2e-3, atol=2e-3) if dtype == "float16" else dict(rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cupy.asnumpy(got).astype(np.float64), want.astype(np.float64),
                               **tol)


@pytest.mark.cuda
def test_cuda_update_and_out_match_the_numpy_engine():
    cupy = pytest.importorskip("cupy")
    from ember.backend import cuda
    if not cuda.is_available():
        pytest.skip("no GPU")
    source = "_g = g + p * 0.01; m = m + (_g - m) * w; p = p - m * lr"
    host = {k: _data((4, 257), np.float64) for k in "mpg"}
    dev = {k: cupy.asarray(v) for k, v in host.items()}
    fused.update(source, **host, w=0.1, lr=0.01)
    fused.update(source, **dev, w=0.1, lr=0.01)
    for k in "mp":  # nvcc contracts a * b + c into one FMA: the last bit may differ
        np.testing.assert_allclose(cupy.asnumpy(dev[k]), host[k], rtol=1e-14)
    out = cupy.empty((4, 257), bool)
    assert fused.evaluate("m > p", out=out, m=dev["m"], p=dev["p"]) is out
    np.testing.assert_array_equal(cupy.asnumpy(out), host["m"] > host["p"])
