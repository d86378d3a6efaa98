"""``accepts_out``: the shared decorator that gives a function PyTorch's keyword-only ``out=``."""
import inspect

import numpy as np
import pytest

import ember
from ember.ops._util import accepts_out


@accepts_out
def _twice(input, scale=2):
    """Doubles ``input``."""
    return input * scale


@accepts_out
def _halves(input):
    return input / 2, input - input / 2


def test_signature_and_docstring_show_out():
    params = inspect.signature(_twice).parameters
    assert list(params) == ["input", "scale", "out"]
    assert params["out"].kind is inspect.Parameter.KEYWORD_ONLY and params["out"].default is None
    assert _twice.__doc__ == "Doubles ``input``." and _twice.__name__ == "_twice"
    assert "out" in inspect.signature(ember.sinh).parameters
    assert "out" in inspect.signature(ember.fft.rfft).parameters


def test_without_out_returns_the_result():
    x = ember.tensor([1.0, 2.0])
    np.testing.assert_array_equal(_twice(x, scale=3).numpy(), [3.0, 6.0])


def test_writes_into_out_and_returns_it():
    x = ember.tensor([1.0, 2.0])
    out = ember.empty(2, dtype=ember.float64)
    assert _twice(x, out=out) is out
    np.testing.assert_array_equal(out.numpy(), [2.0, 4.0])
    assert out.dtype == ember.float64
    sinh_out = ember.zeros(2)
    assert ember.sinh(x, out=sinh_out) is sinh_out
    np.testing.assert_allclose(sinh_out.numpy(), np.sinh([1.0, 2.0]), rtol=1e-6)


def test_tuple_results_write_into_a_tuple_of_outs():
    x = ember.tensor([1.0, 3.0])
    outs = (ember.empty(0), ember.empty(0))
    res = _halves(x, out=outs)
    assert res[0] is outs[0] and res[1] is outs[1]
    np.testing.assert_array_equal(outs[1].numpy(), [0.5, 1.5])
    with pytest.raises(TypeError, match="tuple of 2"):
        _halves(x, out=ember.empty(2))


def test_resize_warns_and_lossy_cast_raises():
    x = ember.tensor([1.0, 2.0])
    out = ember.zeros(3)
    with pytest.warns(UserWarning, match="was resized"):
        _twice(x, out=out)
    assert out.shape == (2,)
    with pytest.raises(RuntimeError, match="can't be cast"):
        _twice(x, out=ember.empty(2, dtype=ember.int64))


def test_every_kind_of_parameter_is_forwarded():
    @accepts_out
    def f(a, /, b, *rest, c=3, **extra):
        return ember.tensor([float(a + b + sum(rest) + c + sum(extra.values()))])

    assert str(inspect.signature(f)) == "(a, /, b, *rest, c=3, out=None, **extra)"
    out = ember.empty(1, dtype=ember.float64)
    assert f(1, 2, 10, c=4, z=100, out=out) is out
    assert out.item() == 117.0
    assert f(1, b=2).item() == 6.0
    with pytest.raises(TypeError):
        f(a=1, b=2)
