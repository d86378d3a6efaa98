"""In-place random fills (``uniform_``, ``normal_``, ``bernoulli_``, ...) draw in float64 and
cast while writing into the tensor: the same draws whatever the tensor's dtype or layout; a
complex tensor gets a draw in each of its parts, as in PyTorch."""

import numpy as np
import pytest

import ember


@pytest.mark.parametrize("dtype", [ember.float32, ember.float16, ember.bfloat16])
@pytest.mark.parametrize("fill", [lambda t: t.normal_(0.5, 2.0), lambda t: t.uniform_(-3, 3),
                                  lambda t: t.bernoulli_(0.3), lambda t: t.exponential_(2.0)])
def test_fill_casts_the_float64_draws(dtype, fill):
    ember.manual_seed(7)
    ref = fill(ember.empty(257, dtype=ember.float64))
    ember.manual_seed(7)
    out = fill(ember.empty(257, dtype=dtype))
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.float().numpy(), ref.to(dtype).float().numpy())


def test_fill_writes_a_strided_view_in_its_logical_order():
    ember.manual_seed(3)
    ref = ember.empty(4, 6).normal_()
    ember.manual_seed(3)
    base = ember.zeros(6, 4)
    view = base.t()
    assert view.normal_() is view
    np.testing.assert_array_equal(base.t().numpy(), ref.numpy())


def test_fill_of_an_integer_tensor_takes_whole_numbers():
    ember.manual_seed(0)
    t = ember.empty(100, dtype=ember.int64).random_(0, 5)
    assert t.dtype == ember.int64 and 0 <= t.min().item() and t.max().item() < 5


@pytest.mark.parametrize("dtype", [ember.complex64, ember.complex128])
def test_complex_fills_draw_both_parts(dtype):
    ember.manual_seed(1)
    t = ember.empty(100_000, dtype=dtype).normal_(5.0, 2.0)
    assert t.dtype == dtype
    for part in (t.real, t.imag):  # PyTorch: N(mean, std**2 / 2) in each part
        assert abs(part.mean().item() - 5.0) < 0.03
        assert abs(part.std().item() - 2.0 / np.sqrt(2)) < 0.03
    u = ember.empty(100_000, dtype=dtype).uniform_(-1.0, 3.0)
    for part in (u.real, u.imag):
        assert -1.0 <= part.min().item() and part.max().item() < 3.0
        assert abs(part.mean().item() - 1.0) < 0.03
