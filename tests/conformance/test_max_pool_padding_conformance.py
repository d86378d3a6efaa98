"""Max pooling over windows whose elements are all the lowest value, next to padding: PyTorch
chooses the first element inside the input (never the padding), for the indices and the
gradient."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2, stride=2, padding=1),
                                    dict(kernel_size=3, stride=2, padding=1),
                                    dict(kernel_size=3, stride=1, padding=1, dilation=2),
                                    dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1),
                                         ceil_mode=True)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_windows_of_lowest_values_choose_inside_the_input(kwargs, dtype):
    rng = np.random.default_rng(0)
    x = np.full((2, 3, 7, 6), -np.inf, dtype)
    x[rng.random(x.shape) > 0.7] = 1.0
    results = []
    for lib in (torch, ember):
        t = lib.tensor(x, requires_grad=True)
        out, idx = lib.nn.functional.max_pool2d(t, return_indices=True, **kwargs)
        out.sum().backward()
        results.append((out.detach().numpy(), idx.numpy(), t.grad.numpy()))
    for want, got in zip(*results):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("nd", [1, 3])
def test_other_ranks(nd):
    shape = (1, 2) + (5,) * nd
    x = np.full(shape, -np.inf, np.float32)
    x.reshape(-1)[7] = 2.0
    pool = {1: "max_pool1d", 3: "max_pool3d"}[nd]
    want, got = (getattr(lib.nn.functional, pool)(lib.tensor(x), 2, 2, 1,
                                                  return_indices=True)[1].numpy()
                 for lib in (torch, ember))
    np.testing.assert_array_equal(got, want)
