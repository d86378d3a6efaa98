"""Max pooling where the choice of element matters, against torch: ties (ReLU's zeros, small
integers), NaN, overlapping and padded windows; values, indices and the input's gradient."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402
import ember.nn.functional as EF  # noqa: E402

TF = torch.nn.functional


def _data(kind: str, shape) -> np.ndarray:
    rng = np.random.default_rng(0)
    if kind == "relu":
        return np.maximum(rng.standard_normal(shape), 0).astype(np.float32)
    if kind == "ties":
        return rng.integers(0, 3, shape).astype(np.float32)
    x = rng.standard_normal(shape).astype(np.float32)
    x.flat[rng.choice(x.size, x.size // 7, replace=False)] = np.nan
    return x


@pytest.mark.parametrize("kind", ["relu", "ties", "nan"])
@pytest.mark.parametrize("kw", [{"kernel_size": 2}, {"kernel_size": 3, "stride": 2},
                                {"kernel_size": (3, 2), "stride": 1, "padding": 1},
                                {"kernel_size": 2, "dilation": 2, "ceil_mode": True}])
def test_max_pool2d_choice_matches_torch(kind, kw):
    x = _data(kind, (3, 4, 9, 8))
    e_in = ember.tensor(x, requires_grad=True)
    t_in = torch.tensor(x, requires_grad=True)
    e_out, e_idx = EF.max_pool2d(e_in, return_indices=True, **kw)
    t_out, t_idx = TF.max_pool2d(t_in, return_indices=True, **kw)
    np.testing.assert_array_equal(e_out.detach().numpy(), t_out.detach().numpy())
    np.testing.assert_array_equal(e_idx.numpy(), t_idx.numpy())
    g = np.random.default_rng(1).standard_normal(tuple(t_out.shape)).astype(np.float32)
    e_out.backward(ember.tensor(g))
    t_out.backward(torch.tensor(g))
    np.testing.assert_allclose(e_in.grad.numpy(), t_in.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", ["relu", "ties", "nan"])
@pytest.mark.parametrize("size", [(3, 4), 2, (4, 5)])
def test_adaptive_max_pool2d_choice_matches_torch(kind, size):
    x = _data(kind, (2, 3, 10, 7))
    e_out, e_idx = EF.adaptive_max_pool2d(ember.tensor(x), size, return_indices=True)
    t_out, t_idx = TF.adaptive_max_pool2d(torch.tensor(x), size, return_indices=True)
    np.testing.assert_array_equal(e_out.numpy(), t_out.numpy())
    np.testing.assert_array_equal(e_idx.numpy(), t_idx.numpy())
