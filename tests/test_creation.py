"""Factories: dtype inference, shapes, values (NumPy oracle), errors, and random factories'
reproducibility through manual_seed and Generator."""
import numpy as np
import pytest

import ember


@pytest.mark.parametrize("data, dtype", [
    (1.5, ember.float32), (3, ember.int64), (True, ember.bool), ([1, 2, 3], ember.int64),
    ([1.0, 2, 3], ember.float32), ([True, False], ember.bool), ([], ember.float32),
    (np.array([1.0, 2.0]), ember.float64), (np.array([1, 2], np.int32), ember.int32),
    (np.float64(2.5), ember.float64), (np.array([1, 2], np.uint8), ember.uint8),
    ([1 + 2j], ember.complex64), ([[1, 2], [3, 4]], ember.int64),
    ([ember.tensor(1.0), ember.tensor(2.0)], ember.float32),
])
def test_tensor_dtype_inference(data, dtype):
    t = ember.tensor(data)
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.numpy(), np.asarray(
        [x.item() for x in data] if isinstance(data, list) and data and
        isinstance(data[0], ember.Tensor) else data))


def test_tensor_copies_and_from_numpy_shares():
    a = np.zeros(3)
    t = ember.tensor(a)
    a[0] = 1
    assert t[0].item() == 0
    s = ember.from_numpy(a)
    a[1] = 2
    assert s[1].item() == 2
    s[2] = 3
    assert a[2] == 3
    assert ember.as_tensor(a)._data is a or np.shares_memory(ember.as_tensor(a).numpy(), a)
    with pytest.raises(TypeError, match="expected np.ndarray"):
        ember.from_numpy([1, 2])


def test_as_tensor_of_a_list_goes_straight_to_the_dtype():
    # regression: float lists went through float32 first, rounding float64 values
    assert ember.as_tensor([0.1, 0.4], dtype=ember.float64).numpy().tolist() == [0.1, 0.4]
    assert ember.as_tensor([1, 2], dtype=ember.float16).dtype == ember.float16


def test_tensor_requires_grad_and_dtype_argument():
    t = ember.tensor([1, 2], dtype=ember.float64, requires_grad=True)
    assert t.dtype == ember.float64 and t.requires_grad and t.is_leaf
    with pytest.raises(RuntimeError, match="^Only Tensors of floating point and complex dtype "
                                           "can require gradients$"):
        ember.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="Only Tensors of floating point"):
        ember.zeros(2, dtype=ember.int64, requires_grad=True)


def test_size_keyword_and_int64_overflow():
    assert ember.zeros(size=(2, 3)).shape == (2, 3) and ember.ones(size=[2]).shape == (2,)
    assert ember.rand(size=(1, 2)).shape == (1, 2) and ember.randn(size=(3,)).shape == (3,)
    assert ember.empty(size=(4,)).shape == (4,) and ember.zeros(()).shape == ()
    assert ember.tensor(-2 ** 63).item() == -2 ** 63
    with pytest.raises(ValueError, match="^Overflow when unpacking long long$"):
        ember.tensor(2 ** 63)
    with pytest.raises(ValueError, match="Overflow when unpacking long long"):
        ember.tensor([1, 2 ** 64])


def test_tensor_ragged_and_invalid_data():
    with pytest.raises(ValueError, match=r"^expected sequence of length 2 at dim 1 \(got 1\)$"):
        ember.tensor([[1, 2], [3]])
    with pytest.raises(ValueError, match=r"expected sequence of length 2 at dim 2 \(got 1\)"):
        ember.tensor([[[1, 2]], [[1]]])
    with pytest.raises(TypeError, match="not a sequence"):
        ember.tensor([[1, 2], 3])
    with pytest.raises(TypeError, match="new\\(\\): invalid data type 'str'"):
        ember.tensor("a")


@pytest.mark.parametrize("fn, expected", [
    (lambda: ember.zeros(2, 3), np.zeros((2, 3), np.float32)),
    (lambda: ember.zeros((2, 3), dtype=ember.int64), np.zeros((2, 3), np.int64)),
    (lambda: ember.ones([2]), np.ones(2, np.float32)),
    (lambda: ember.ones(2, dtype=ember.bool), np.ones(2, bool)),
    (lambda: ember.zeros(0, 3), np.zeros((0, 3), np.float32)),
    (lambda: ember.full((2, 2), 7), np.full((2, 2), 7, np.int64)),
    (lambda: ember.full((2, 2), 7.5), np.full((2, 2), 7.5, np.float32)),
    (lambda: ember.full((2,), True), np.full(2, True)),
    (lambda: ember.full((2,), 3, dtype=ember.float64), np.full(2, 3.0)),
    (lambda: ember.full([], 2.0), np.full((), 2.0, np.float32)),
    (lambda: ember.arange(5), np.arange(5)),
    (lambda: ember.arange(1, 4), np.arange(1, 4)),
    (lambda: ember.arange(0, 1, 0.25), np.arange(0, 1, 0.25, dtype=np.float32)),
    (lambda: ember.arange(5.0), np.arange(5, dtype=np.float32)),
    (lambda: ember.arange(10, 0, -3), np.arange(10, 0, -3)),
    (lambda: ember.arange(0, 5, dtype=ember.float64), np.arange(5, dtype=np.float64)),
    (lambda: ember.linspace(0, 1, 5), np.linspace(0, 1, 5, dtype=np.float32)),
    (lambda: ember.linspace(-1, 1, 1), np.array([-1.0], np.float32)),
    (lambda: ember.linspace(0, 10, steps=3, dtype=ember.int64), np.array([0, 5, 10])),
    (lambda: ember.logspace(0, 2, 3), np.array([1.0, 10.0, 100.0], np.float32)),
    (lambda: ember.eye(3), np.eye(3, dtype=np.float32)),
    (lambda: ember.eye(2, 3), np.eye(2, 3, dtype=np.float32)),
    (lambda: ember.eye(2, dtype=ember.int64), np.eye(2, dtype=np.int64)),
    (lambda: ember.zeros_like(ember.ones(2, dtype=ember.int64)), np.zeros(2, np.int64)),
    (lambda: ember.ones_like(ember.ones(2, 2), dtype=ember.float64), np.ones((2, 2))),
    (lambda: ember.full_like(ember.ones(2), 3), np.full(2, 3.0, np.float32)),
    (lambda: ember.full_like(ember.ones(2, dtype=ember.int64), 3.7), np.full(2, 3)),
    (lambda: ember.scalar_tensor(3), np.array(3.0, np.float32)),
    (lambda: ember.tril(ember.ones(3, 3)), np.tril(np.ones((3, 3), np.float32))),
])
def test_deterministic_factories(fn, expected):
    t = fn()
    assert t.dtype.np_dtype == expected.dtype and t.shape == expected.shape
    np.testing.assert_allclose(t.numpy(), expected)


def test_like_factories_keep_dtype_shape():
    x = ember.ones(2, 3, dtype=ember.float64)
    for f in (ember.empty_like, ember.rand_like, ember.randn_like, ember.zeros_like):
        y = f(x)
        assert y.shape == (2, 3) and y.dtype == ember.float64 and not y.requires_grad
    assert ember.zeros_like(x, requires_grad=True).requires_grad
    r = ember.randint_like(x, 5)
    assert r.dtype == ember.float64 and ((r.numpy() >= 0) & (r.numpy() < 5)).all()
    assert x.new_zeros(3).dtype == ember.float64 and x.new_tensor([1, 2]).dtype == ember.float64
    assert x.new_ones((2, 2)).shape == (2, 2) and x.new_full((2,), 5).tolist() == [5.0, 5.0]
    assert x.new_empty(4).shape == (4,)


def test_randint_high_alone_starts_at_zero():
    x = ember.ones(200, dtype=ember.float64)
    for r in (ember.randint_like(x, high=2), ember.randint(high=2, size=(200,)),
              ember.randint(2, (200,))):
        assert set(r.tolist()) == {0, 1}
    assert set(ember.randint_like(x, low=3, high=5).tolist()) == {3.0, 4.0}


@pytest.mark.parametrize("fn, message", [
    (lambda: ember.empty(-1), r"^Trying to create tensor with negative dimension -1: \[-1\]$"),
    (lambda: ember.ones(2, -3), r"negative dimension -3: \[2, -3\]"),
    (lambda: ember.rand(2, -3), r"negative dimension -3: \[2, -3\]"),
    (lambda: ember.zeros(2, -3), r"^zeros: Dimension size must be non-negative.$"),
    (lambda: ember.full((2, -1), 1.0), r"negative dimension -1"),
    (lambda: ember.eye(-1), r"^n must be greater or equal to 0, got -1$"),
    (lambda: ember.eye(2, -1), r"^m must be greater or equal to 0, got -1$"),
    (lambda: ember.arange(0, 10, 0), r"^step must be nonzero$"),
    (lambda: ember.arange(1, 0), r"^upper bound and lower bound inconsistent with step sign$"),
    (lambda: ember.linspace(0, 1, -1), r"^number of steps must be non-negative$"),
    (lambda: ember.randint(5, 3, (2,)), r"^random_ expects 'from' to be less than 'to', but "
                                        r"got from=5 >= to=3$"),
    (lambda: ember.randperm(-1), r"negative dimension -1"),
])
def test_factory_errors(fn, message):
    with pytest.raises(RuntimeError, match=message):
        fn()


def test_random_dtypes_shapes_and_ranges():
    r = ember.rand(3, 4)
    assert r.dtype == ember.float32 and r.shape == (3, 4)
    assert ((r.numpy() >= 0) & (r.numpy() < 1)).all()
    assert ember.randn(2, 3, dtype=ember.float64).dtype == ember.float64
    i = ember.randint(0, 10, (50,))
    assert i.dtype == ember.int64 and i.min() >= 0 and i.max() < 10
    assert ember.randint(5, (2, 2)).shape == (2, 2)
    p = ember.randperm(6)
    assert p.dtype == ember.int64 and sorted(p.tolist()) == list(range(6))
    n = ember.normal(2.0, 0.5, size=(1000,))
    assert abs(n.mean().item() - 2.0) < 0.1 and abs(n.std().item() - 0.5) < 0.1
    m = ember.normal(ember.zeros(3), ember.ones(3))
    assert m.shape == (3,) and m.dtype == ember.float32
    b = ember.bernoulli(ember.full((2000,), 0.3))
    assert set(b.unique().tolist()) <= {0.0, 1.0} and abs(b.mean().item() - 0.3) < 0.05
    probs = ember.tensor([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5]])
    draws = ember.multinomial(probs, 2, replacement=True)
    assert draws.dtype == ember.int64 and draws[0].tolist() == [1, 1]
    assert set(draws[1].tolist()) <= {0, 2}
    assert sorted(ember.multinomial(ember.ones(4), 4).tolist()) == [0, 1, 2, 3]
    # as PyTorch: zero-weight categories come last without replacement; more samples than
    # categories is the error
    assert ember.multinomial(ember.tensor([1.0, 0.0]), 2).tolist() == [0, 1]
    with pytest.raises(RuntimeError, match="cannot sample n_sample > prob_dist.size\\(-1\\)"):
        ember.multinomial(ember.tensor([1.0, 0.0]), 3)


@pytest.mark.parametrize("draw", [
    lambda g: ember.rand(5, generator=g), lambda g: ember.randn(5, generator=g),
    lambda g: ember.randint(0, 100, (5,), generator=g), lambda g: ember.randperm(8, generator=g),
    lambda g: ember.normal(0.0, 1.0, size=(5,), generator=g),
    lambda g: ember.bernoulli(ember.full((8,), 0.5), generator=g),
    lambda g: ember.multinomial(ember.ones(10), 3, generator=g),
    lambda g: ember.empty(5).uniform_(generator=g), lambda g: ember.empty(5).normal_(generator=g),
])
def test_reproducibility_with_seed_and_generator(draw):
    ember.manual_seed(123)
    a = draw(None).tolist()
    ember.manual_seed(123)
    assert draw(None).tolist() == a
    g = ember.Generator().manual_seed(7)
    b = draw(g).tolist()
    ember.manual_seed(0)  # the default generator does not affect an explicit one
    g2 = ember.Generator()
    g2.manual_seed(7)
    assert draw(g2).tolist() == b
    assert g2.initial_seed() == 7


def test_rng_state_roundtrip():
    ember.manual_seed(5)
    state = ember.get_rng_state()
    a = ember.rand(4).tolist()
    ember.set_rng_state(state)
    assert ember.rand(4).tolist() == a
    assert ember.manual_seed(1) is ember.default_generator
    assert ember.initial_seed() == 1


def test_fork_rng_restores_state():
    ember.manual_seed(3)
    with ember.random.fork_rng():
        inside = ember.rand(3).tolist()
    assert ember.rand(3).tolist() == inside
    with ember.random.fork_rng(enabled=False):
        ember.rand(1)
    assert ember.rand(3).tolist() != inside


def test_set_default_device_applies_to_factories():
    # Regression: tutorials call torch.set_default_device(device) before creating tensors.
    ember.set_default_device("cpu")
    try:
        assert ember.get_default_device() == ember.device("cpu")
        assert ember.zeros(2).device == ember.device("cpu")
        assert ember.randn(2).device == ember.device("cpu")
    finally:
        ember.set_default_device(None)
    assert ember.get_default_device().type == "cpu"


def test_uninitialised_memory_reads_as_zeros():
    """``empty`` and its relatives leave values unspecified, as PyTorch's; ember's are zeros, so
    code that reads them before writing (a flop counter's dummy input) sees finite values."""
    for _ in range(3):  # memory just freed by another tensor is not reused stale
        junk = ember.full((64, 64), float("inf"))
        del junk
        np.testing.assert_array_equal(ember.empty(64, 64).numpy(), np.zeros((64, 64)))
    np.testing.assert_array_equal(ember.ones(()).new_empty((2, 3)).numpy(), np.zeros((2, 3)))
    np.testing.assert_array_equal(ember.Tensor(2, 3).numpy(), np.zeros((2, 3)))
