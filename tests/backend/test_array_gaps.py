"""ember.backend.special's stand-ins for what CuPy lacks, on their NumPy path (the CuPy path runs in
bench/gpu_check.py): each must equal the plain NumPy function."""
import os

import ml_dtypes
import numpy as np
import pytest

import ember
from ember.backend import special


@pytest.mark.parametrize("name", ["add", "multiply", "maximum", "minimum"])
def test_ufunc_at_combines_repeated_indices(name):
    rng = np.random.default_rng(0)
    target = rng.standard_normal(5)
    index = np.array([0, 3, 3, 1, 3])
    values = rng.standard_normal(5)
    want = target.copy()
    for i, v in zip(index, values):
        want[i] = getattr(np, name)(want[i], v)
    special.ufunc_at(np, name, target, index, values)
    np.testing.assert_allclose(target, want, rtol=1e-15)


def test_scatter_add_takes_tuple_indices():
    target = np.zeros((2, 3))
    special.scatter_add(np, target, (np.array([0, 0, 1]), np.array([2, 2, 0])), 1.0)
    np.testing.assert_array_equal(target, [[0, 0, 2], [1, 0, 0]])


def test_sort_keys_and_cumulative_on_the_cpu():
    a = np.array([3.0, -1.0, 2.0], ml_dtypes.bfloat16)
    assert special.sort_keys(a).dtype == np.float32  # NumPy misplaces bfloat16 NaNs
    np.testing.assert_array_equal(special.cumulative(np, "cumsum", a, 0), np.cumsum(a))
    np.testing.assert_array_equal(special.cumulative(np, "cumprod", a, 0, np.float64),
                                  np.cumprod(a, dtype=np.float64))


def test_matmul_writes_into_out():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5))
    out = np.empty((2, 3, 5))
    assert special.matmul(a, b, out=out) is out
    np.testing.assert_allclose(out, a @ b)


def test_pinning_without_a_gpu_is_a_no_op():
    if ember.cuda.is_available():
        pytest.skip("a GPU is present")
    t = ember.ones(3)
    assert t.pin_memory() is t and not t.is_pinned()
    loader = ember.utils.data.DataLoader(ember.utils.data.TensorDataset(ember.ones(4)),
                                         batch_size=2, pin_memory=True)
    assert [b[0].tolist() for b in loader] == [[1.0, 1.0], [1.0, 1.0]]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_starts_without_cuda_generators():
    from ember import random
    random._cuda_generators[7] = "a parent's CUDA generator"
    try:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: seeding must not reach the parent's CUDA generators
            os.write(write, str(len(random._cuda_generators)).encode())
            os._exit(0)
        os.waitpid(pid, 0)
        assert os.read(read, 16) == b"0"
        assert 7 in random._cuda_generators
    finally:
        random._cuda_generators.pop(7, None)
