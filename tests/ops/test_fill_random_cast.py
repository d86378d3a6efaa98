"""In-place random fills (``uniform_``, ``normal_``, ``bernoulli_``, ...) draw as PyTorch's CPU
kernels: half and bfloat16 tensors take a float's draws, rounded; a strided view is filled in
the order of its memory; a complex tensor gets a draw in each of its parts."""

import numpy as np
import pytest

import ember


@pytest.mark.parametrize("dtype", [ember.float16, ember.bfloat16])
@pytest.mark.parametrize("fill, high", [(lambda t: t.uniform_(-3, 3), 3),
                                        (lambda t: t.bernoulli_(0.3), None),
                                        (lambda t: t.exponential_(2.0), None),
                                        (lambda t: t.normal_(0.5, 2.0), None)])
def test_half_fills_round_the_float_draws(dtype, fill, high):
    ember.manual_seed(7)
    ref = fill(ember.empty(256, dtype=ember.float32))  # whole blocks of 16 for normal_
    ember.manual_seed(7)
    out = fill(ember.empty(256, dtype=dtype))
    assert out.dtype == dtype
    expected = ref.to(dtype).float().numpy()
    if high is not None:  # uniform_: a draw rounded up to its upper bound becomes the lower
        expected[expected == high] = -high
    np.testing.assert_allclose(out.float().numpy(), expected, rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("fill", [lambda t: t.uniform_(), lambda t: t.bernoulli_(0.5),
                                  lambda t: t.random_(0, 100)])
def test_fill_writes_a_strided_view_in_its_memory_order(fill):
    ember.manual_seed(3)
    ref = fill(ember.empty(6, 4))
    ember.manual_seed(3)
    base = ember.zeros(6, 4)
    view = base.t()
    assert fill(view) is view
    np.testing.assert_array_equal(base.numpy(), ref.numpy())


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
