"""ember._foreach_* (torch's multi-tensor ops) against NumPy, per overload, in place and out of
place, with float64 gradients."""
import numpy as np
import pytest

import ember
from ember.autograd import gradcheck

RNG = np.random.default_rng(0)
ARRAYS = [RNG.uniform(0.5, 2.0, (2, 3)), RNG.uniform(0.5, 2.0, (4,))]


def _tensors(arrays=ARRAYS, **kwargs):
    return [ember.tensor(a, **kwargs) for a in arrays]


def _check(results, expected):
    assert isinstance(results, tuple) and len(results) == len(expected)
    for got, want in zip(results, expected):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)


@pytest.mark.parametrize("name, reference", [
    ("exp", np.exp), ("log", np.log), ("sqrt", np.sqrt), ("neg", np.negative),
    ("reciprocal", np.reciprocal), ("rsqrt", lambda a: 1 / np.sqrt(a)),
    ("sigmoid", lambda a: 1 / (1 + np.exp(-a))), ("frac", lambda a: a - np.trunc(a)),
])
def test_unary_forms_match_numpy(name, reference):
    _check(getattr(ember, f"_foreach_{name}")(_tensors()), [reference(a) for a in ARRAYS])
    tensors = _tensors()
    assert getattr(ember, f"_foreach_{name}_")(tensors) is tensors
    _check(tuple(tensors), [reference(a) for a in ARRAYS])


def test_binary_overloads_match_numpy():
    others = [RNG.uniform(0.5, 2.0, a.shape) for a in ARRAYS]
    _check(ember._foreach_add(_tensors(), 2.0), [a + 2 for a in ARRAYS])
    _check(ember._foreach_sub(_tensors(), [1.0, 3.0]), [ARRAYS[0] - 1, ARRAYS[1] - 3])
    _check(ember._foreach_mul(_tensors(), _tensors(others)),
           [a * o for a, o in zip(ARRAYS, others)])
    _check(ember._foreach_add(_tensors(), _tensors(others), alpha=-2),
           [a - 2 * o for a, o in zip(ARRAYS, others)])
    _check(ember._foreach_div(_tensors(), ember.tensor(4.0)), [a / 4 for a in ARRAYS])
    _check(ember._foreach_maximum(_tensors(), 1.0), [np.maximum(a, 1) for a in ARRAYS])
    _check(ember._foreach_clamp_max(_tensors(), [1.0, 0.7]),
           [np.minimum(ARRAYS[0], 1), np.minimum(ARRAYS[1], 0.7)])
    _check(ember._foreach_pow(_tensors(), 3), [a ** 3 for a in ARRAYS])
    _check(ember._foreach_pow(2.0, _tensors()), [2.0 ** a for a in ARRAYS])


def test_in_place_binary_updates_the_tensors_themselves():
    tensors = _tensors()
    first = tensors[0]
    ember._foreach_mul_(tensors, 0.5)
    ember._foreach_add_(tensors, _tensors(), alpha=2)
    assert tensors[0] is first
    _check(tuple(tensors), [2.5 * a for a in ARRAYS])


def test_pointwise_lerp_and_reductions_match_numpy():
    t1 = [RNG.standard_normal(a.shape) for a in ARRAYS]
    t2 = [RNG.uniform(1.0, 2.0, a.shape) for a in ARRAYS]
    _check(ember._foreach_addcmul(_tensors(), _tensors(t1), _tensors(t2), 0.5),
           [a + 0.5 * b * c for a, b, c in zip(ARRAYS, t1, t2)])
    _check(ember._foreach_addcdiv(_tensors(), _tensors(t1), _tensors(t2), ember.tensor([1., 2.])),
           [a + k * b / c for a, b, c, k in zip(ARRAYS, t1, t2, (1, 2))])
    _check(ember._foreach_lerp(_tensors(), _tensors(t1), 0.25),
           [a + 0.25 * (b - a) for a, b in zip(ARRAYS, t1)])
    _check(ember._foreach_norm(_tensors()), [np.linalg.norm(a.ravel()) for a in ARRAYS])
    _check(ember._foreach_norm(_tensors(), 1), [np.abs(a).sum() for a in ARRAYS])
    _check(ember._foreach_powsum(_tensors(), 3), [(np.abs(a) ** 3).sum() for a in ARRAYS])
    _check(ember._foreach_max(_tensors()), [a.max() for a in ARRAYS])


def test_zero_copy_and_clone():
    tensors = _tensors()
    clones = ember._foreach_clone(tensors)
    ember._foreach_zero_(tensors)
    _check(tuple(tensors), [np.zeros_like(a) for a in ARRAYS])
    ember._foreach_copy_(tensors, clones)
    _check(tuple(tensors), ARRAYS)


def test_gradients_flow_through_the_out_of_place_forms():
    def f(a, b):
        scaled = ember._foreach_mul([a, b], [2.0, 3.0])
        mixed = ember._foreach_addcmul(scaled, [a, b], [b[:1].expand(2, 3), a[0, :1].expand(4)])
        return tuple(ember._foreach_norm(ember._foreach_exp(mixed)))
    inputs = _tensors(dtype=ember.float64, requires_grad=True)
    assert gradcheck(f, inputs)


def test_errors():
    with pytest.raises(RuntimeError, match="at least one tensor"):
        ember._foreach_add([], 1)
    with pytest.raises(RuntimeError, match="same number of tensors"):
        ember._foreach_mul(_tensors(), _tensors()[:1])
    with pytest.raises(RuntimeError, match="empty tensor"):
        ember._foreach_max([ember.tensor([])])
    with pytest.raises(TypeError, match="alpha"):
        ember._foreach_mul(_tensors(), 2.0, alpha=2)
    assert not hasattr(ember, "_foreach_nonexistent")
