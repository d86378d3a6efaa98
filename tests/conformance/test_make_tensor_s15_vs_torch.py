"""ember.testing.make_tensor and gradgradcheck's default grad_outputs against PyTorch's, drawn
after the same manual_seed."""
import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402
import ember.testing  # noqa: E402

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32",
          "float64", "complex64", "complex128"]
FLOATING = ["float16", "bfloat16", "float32", "float64", "complex64", "complex128"]


def _host(t):
    t = t.detach()
    if t.dtype in (torch.bfloat16, ember.bfloat16) or "float8" in str(t.dtype):
        t = t.float()
    return np.asarray(t.numpy())


def _both(*shape, dtype, seed=0, **kwargs):
    """make_tensor by PyTorch and by ember after the same seed (torch names in kwargs); where
    PyTorch raises, ember must raise the same error, and this returns None."""
    ember_kwargs = dict(kwargs)
    if kwargs.get("memory_format") is not None:
        ember_kwargs["memory_format"] = getattr(ember, str(kwargs["memory_format"]).split(".")[1])
    torch.manual_seed(seed)
    try:
        expected = torch.testing.make_tensor(*shape, dtype=getattr(torch, dtype), device="cpu",
                                             **kwargs)
    except Exception as error:
        with pytest.raises(type(error)) as raised:
            ember.testing.make_tensor(*shape, dtype=getattr(ember, dtype), device="cpu",
                                      **ember_kwargs)
        assert str(raised.value) == str(error)
        return None
    ember.manual_seed(seed)
    actual = ember.testing.make_tensor(*shape, dtype=getattr(ember, dtype), device="cpu",
                                       **ember_kwargs)
    return actual, expected


def _compare(*shape, dtype, **kwargs):
    pair = _both(*shape, dtype=dtype, **kwargs)
    if pair is not None:
        _assert_same(*pair)


def _assert_same(actual, expected):
    assert str(actual.dtype) == str(expected.dtype)
    assert tuple(actual.shape) == tuple(expected.shape)
    assert actual.stride() == expected.stride()
    assert actual.is_contiguous() == expected.is_contiguous()
    assert actual.requires_grad == expected.requires_grad
    np.testing.assert_array_equal(_host(actual), _host(expected))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", [{}, {"low": -1, "high": 1}, {"low": 2.5, "high": 7.5},
                                    {"low": -1e300, "high": 1e300}, {"exclude_zero": True},
                                    {"low": 0, "high": 1, "exclude_zero": True},
                                    {"noncontiguous": True},
                                    {"noncontiguous": True, "exclude_zero": True}],
                         ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "default")
def test_values_and_strides_match(dtype, kwargs):
    _compare(3, 4, 5, dtype=dtype, **kwargs)


@pytest.mark.parametrize("dtype", ["uint8", "int64", "float32", "float64", "complex128"])
@pytest.mark.parametrize("low, high", [(-math.inf, math.inf), (None, 3), (-3, None),
                                       (200, 1000)])
def test_bounds_clamped_to_the_dtype(dtype, low, high):
    _compare(64, dtype=dtype, low=low, high=high)


@pytest.mark.parametrize("shape", [(), (1,), (0,), (5,), (2, 0, 3), ((2, 3),), ([4, 1],)])
@pytest.mark.parametrize("noncontiguous", [False, True])
def test_shapes(shape, noncontiguous):
    _assert_same(*_both(*shape, dtype="float32", noncontiguous=noncontiguous))


def test_shape_given_as_size():
    torch.manual_seed(1)
    expected = torch.testing.make_tensor(torch.Size([2, 3]), dtype=torch.int32, device="cpu")
    ember.manual_seed(1)
    actual = ember.testing.make_tensor(ember.Size([2, 3]), dtype=ember.int32, device="cpu")
    _assert_same(actual, expected)


@pytest.mark.parametrize("dtype", ["bool", "int16", "float32", "bfloat16", "complex64"])
def test_channels_last(dtype):
    actual, expected = _both(2, 3, 4, 5, dtype=dtype, memory_format=torch.channels_last)
    _assert_same(actual, expected)
    assert actual.is_contiguous(memory_format=ember.channels_last)


@pytest.mark.parametrize("dtype", FLOATING)
def test_requires_grad_makes_a_leaf(dtype):
    actual, expected = _both(2, 3, dtype=dtype, requires_grad=True, noncontiguous=True)
    _assert_same(actual, expected)
    assert actual.is_leaf and actual.grad_fn is None


@pytest.mark.parametrize("dtype", ["float8_e4m3fn", "float8_e5m2"])
def test_float8_drawn_in_float32(dtype):
    _assert_same(*_both(4, 6, dtype=dtype, low=-100, high=100))
    # PyTorch leaves requires_grad off for float8 rather than refusing it.
    _assert_same(*_both(3, dtype=dtype, requires_grad=True))


def test_stream_continues_across_calls():
    torch.manual_seed(7)
    expected = [torch.testing.make_tensor(3, dtype=getattr(torch, d), device="cpu")
                for d in DTYPES]
    ember.manual_seed(7)
    actual = [ember.testing.make_tensor(3, dtype=getattr(ember, d), device="cpu")
              for d in DTYPES]
    for a, e in zip(actual, expected):
        _assert_same(a, e)


def test_low_equal_high_warns_and_fills():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        actual, expected = _both(4, dtype="float64", low=2, high=2)
    _assert_same(actual, expected)
    messages = [str(w.message) for w in caught if w.category is FutureWarning]
    assert len(messages) == 2 and messages[0] == messages[1]


@pytest.mark.parametrize("dtype, kwargs", [
    ("bool", {"low": 2.5, "high": 7.5}),
    ("float32", {"low": math.nan}),
    ("float32", {"high": math.nan}),
    ("float32", {"low": 2, "high": 1}),
    ("int8", {"low": 3, "high": 3}),
    ("bool", {"low": 1, "high": 1}),
    ("int8", {"low": 200, "high": 300}),
    ("uint8", {"low": -20, "high": -10}),
    ("float16", {"low": 1e6, "high": 1e7}),
    ("int64", {"requires_grad": True}),
    ("bool", {"requires_grad": True}),
    ("float32", {"noncontiguous": True, "memory_format": torch.channels_last}),
    ("quint8", {}),
    ("float8_e8m0fnu", {}),
])
def test_errors_match(dtype, kwargs):
    assert _both(3, dtype=dtype, **kwargs) is None


def test_errors_for_a_non_dtype_and_a_missing_device():
    with pytest.raises(TypeError, match="is not supported by torch.testing.make_tensor"):
        ember.testing.make_tensor(3, dtype=float, device="cpu")
    with pytest.raises(TypeError, match="device"):
        ember.testing.make_tensor(3, dtype=ember.float32)


def _record(module, monkeypatch):
    """Replace ``module.testing.make_tensor`` by a wrapper that keeps what it made."""
    made = []
    original = module.testing.make_tensor

    def recording(*args, **kwargs):
        made.append(original(*args, **kwargs))
        return made[-1]
    monkeypatch.setattr(module.testing, "make_tensor", recording)
    return made


@pytest.mark.parametrize("noncontig", [False, True])
def test_gradgradcheck_draws_torch_grad_outputs(monkeypatch, noncontig):
    x = np.random.default_rng(0).standard_normal((3, 4))

    def outputs(t):
        return t.sin() * t, t.exp().sum()

    torch_made = _record(torch, monkeypatch)
    ember_made = _record(ember, monkeypatch)
    torch.manual_seed(3)
    assert torch.autograd.gradgradcheck(outputs, (torch.tensor(x, requires_grad=True),),
                                        gen_non_contig_grad_outputs=noncontig)
    ember.manual_seed(3)
    assert ember.autograd.gradgradcheck(outputs, (ember.tensor(x, requires_grad=True),),
                                        gen_non_contig_grad_outputs=noncontig)
    assert len(ember_made) == len(torch_made) == 2
    for a, e in zip(ember_made, torch_made):
        _assert_same(a, e)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert torch.rand(4).tolist() == ember.rand(4).tolist()  # both streams used alike
