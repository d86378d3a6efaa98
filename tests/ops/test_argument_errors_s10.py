"""Bad arguments that PyTorch refuses (its OpInfo error_inputs), refused by ember with the same
error type and message."""
import pytest

import ember

X = ember.ones(20, 10, 5)


@pytest.mark.parametrize("call, error, message", [
    (lambda: ember.narrow(X, 1, ember.tensor([1, 2]), 2), RuntimeError, "0-dim integral"),
    (lambda: ember.narrow(X, 0, ember.tensor(True), 3), RuntimeError, "0-dim integral"),
    (lambda: ember.narrow(X, 0, ember.tensor(1.0), 3), RuntimeError, "0-dim integral"),
    (lambda: ember.roll(ember.ones(5), ()), RuntimeError, "`shifts` required"),
    (lambda: ember.rot90(ember.ones(5, 5), dims=(0,)), RuntimeError, "rotation dims == 2"),
    (lambda: ember.rot90(ember.ones(5)), RuntimeError, "total dims >= 2"),
    (lambda: ember.hsplit(ember.tensor(1.0), 1), RuntimeError, "at least 1 dimension"),
    (lambda: ember.vsplit(ember.ones(3), 1), RuntimeError, "at least 2 dimension"),
    (lambda: ember.fliplr(ember.ones(3)), RuntimeError, "Input must be >= 2-d"),
    (lambda: ember.flipud(ember.tensor(1.0)), RuntimeError, "Input must be >= 1-d"),
    (lambda: ember.movedim(ember.ones(2, 3, 4), (0, 1), (2,)), RuntimeError,
     "same number of dims"),
    (lambda: ember.movedim(ember.ones(2, 3, 4), (0, -3), (1, 2)), RuntimeError,
     "repeated dim in `source`"),
    (lambda: ember.movedim(ember.ones(2, 3, 4), (0, 1), (2, -1)), RuntimeError,
     "repeated dim in `destination`"),
    (lambda: ember.multinomial(ember.ones(1, 2, 3), 1), RuntimeError, "1 or 2 dim"),
    (lambda: ember.multinomial(ember.ones(2, dtype=ember.int64), 1), RuntimeError,
     "floating-point dtypes"),
    (lambda: ember.multinomial(ember.ones(2), 0), RuntimeError, "n_sample <= 0"),
    (lambda: ember.multinomial(ember.ones(2), -1), RuntimeError, "n_sample <= 0"),
    (lambda: ember.complex(ember.ones(2), ember.ones(2, dtype=ember.int32)), RuntimeError,
     "Half, Float or Double"),
    (lambda: ember.complex(ember.ones(2), ember.ones(2, dtype=ember.float64)), RuntimeError,
     "scalar type Float but got scalar type Double"),
    (lambda: ember.arange(0, 64, 0.5, out=ember.empty(0, dtype=ember.int64)), ValueError,
     "step must be nonzero"),
])
def test_refused_like_pytorch(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_the_valid_neighbours_still_work():
    assert ember.narrow(X, 0, ember.tensor(1), 3).shape == (3, 10, 5)
    assert ember.movedim(ember.ones(2, 3, 4), (0, 1), (2, 0)).shape == (3, 4, 2)
    assert ember.movedim(ember.ones(2, 3, 4), 0, -1).shape == (3, 4, 2)
    assert ember.arange(0, 4, 1.5, out=ember.empty(0, dtype=ember.int64)).tolist() == [0, 1, 2, 3]
    assert ember.arange(0, 3, out=ember.empty(0)).dtype == ember.float32
    assert ember.bernoulli(ember.full((3,), 0.5), out=ember.empty(3)).shape == (3,)
    z = ember.complex(ember.tensor([1.0]), ember.tensor([2.0]))
    assert z.dtype == ember.complex64 and z.tolist() == [1 + 2j]


def test_complex_pairs_infinite_parts_without_nans():
    inf, nan = float("inf"), float("nan")
    z = ember.complex(ember.tensor([inf, -inf, nan, 1.0, inf]),
                      ember.tensor([inf, 1.0, inf, nan, -inf]))
    want = [complex(inf, inf), complex(-inf, 1), complex(nan, inf), complex(1, nan),
            complex(inf, -inf)]
    for got, expected in zip(z.tolist(), want):
        assert (str(got.real), str(got.imag)) == (str(expected.real), str(expected.imag))
    assert ember.complex(ember.tensor([1.0, 2.0]), ember.tensor(3.0)).tolist() == [1 + 3j, 2 + 3j]
