"""grid_sample / affine_grid against torch: outputs and gradients to input, grid and theta."""
import inspect
import itertools
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402
import ember.nn.functional as EF  # noqa: E402
from ember.ops.sampling import affine_grid, grid_sample  # noqa: E402

TF = torch.nn.functional

_CASES = [(nd, mode, pad, ac)
          for nd in (2, 3)
          for mode, pad, ac in itertools.product(("bilinear", "nearest", "bicubic"),
                                                 ("zeros", "border", "reflection"), (False, True))
          if not (mode == "bicubic" and nd == 3)]


@pytest.mark.parametrize("nd,mode,padding_mode,align_corners", _CASES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_grid_sample_matches_torch(nd, mode, padding_mode, align_corners, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4, 5, 3)[:nd + 2]).astype(dtype)
    g = rng.uniform(-1.6, 1.6, (2, 3, 4, 2)[:nd + 1] + (nd,)).astype(dtype)
    g[0, 0, 0] = -1.0  # exact corners and borders, where the clip's gradient is decided
    g[0, 0, 1] = 1.0
    tx, tg = (torch.tensor(a, requires_grad=True) for a in (x, g))
    ex, eg = (ember.tensor(a, requires_grad=True) for a in (x, g))
    to = TF.grid_sample(tx, tg, mode, padding_mode, align_corners)
    eo = grid_sample(ex, eg, mode, padding_mode, align_corners)
    w = rng.standard_normal(to.shape).astype(dtype)
    (to * torch.tensor(w)).sum().backward()
    (eo * ember.tensor(w)).sum().backward()
    tol = 1e-10 if dtype == "float64" else 1e-4
    assert eo.dtype == getattr(ember, dtype)
    np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), atol=tol, rtol=tol)
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), atol=tol, rtol=tol)
    np.testing.assert_allclose(eg.grad.numpy(), tg.grad.numpy(), atol=tol * 10, rtol=tol)


@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
def test_grid_sample_far_outside(mode, padding_mode):
    x = np.arange(12.0).reshape(1, 1, 3, 4)
    g = np.array([[[[1e12, 0.0], [3e9, 0.3], [-4e9, -1e20], [0.2, 5.0]]]])
    want = TF.grid_sample(torch.tensor(x), torch.tensor(g), mode, padding_mode, False)
    got = grid_sample(ember.tensor(x), ember.tensor(g), mode, padding_mode, False)
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-12)


@pytest.mark.filterwarnings("ignore:invalid value")
def test_grid_sample_infinite_zeros_padding():
    x = np.arange(12.0).reshape(1, 1, 3, 4)
    g = np.array([[[[np.inf, 0.0], [0.1, -np.inf], [np.nan, 0.0]]]])
    for mode in ("bilinear", "nearest"):
        want = TF.grid_sample(torch.tensor(x), torch.tensor(g), mode, "zeros", False)
        got = grid_sample(ember.tensor(x), ember.tensor(g), mode, "zeros", False)
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-12)


@pytest.mark.parametrize("size", [(2, 3, 4, 5), (2, 3, 1, 4), (2, 1, 3, 4, 5), (2, 1, 1, 2, 1)])
@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid_matches_torch(size, align_corners):
    nd = len(size) - 2
    th = np.random.default_rng(1).standard_normal((2, nd, nd + 1))
    tt = torch.tensor(th, requires_grad=True)
    et = ember.tensor(th, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = TF.affine_grid(tt, size, align_corners=align_corners)
        got = affine_grid(et, size, align_corners=align_corners)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), atol=1e-12)
    w = np.random.default_rng(2).standard_normal(want.shape)
    (want * torch.tensor(w)).sum().backward()
    (got * ember.tensor(w)).sum().backward()
    np.testing.assert_allclose(et.grad.numpy(), tt.grad.numpy(), atol=1e-12)


def test_affine_then_sample_pipeline():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 6, 7))
    th = np.array([[[0.9, -0.2, 0.1], [0.3, 1.1, -0.2]], [[1.2, 0.1, 0.0], [0.0, 0.8, 0.3]]])
    want = TF.grid_sample(torch.tensor(x), TF.affine_grid(torch.tensor(th), (2, 3, 5, 5),
                                                          align_corners=False),
                          align_corners=False)
    got = grid_sample(ember.tensor(x), affine_grid(ember.tensor(th), (2, 3, 5, 5),
                                                   align_corners=False), align_corners=False)
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-12)


def test_functional_exports():
    # unwrap: once a tensor-like exists, the public names are __torch_function__ wrappers
    assert inspect.unwrap(EF.grid_sample) is grid_sample
    assert inspect.unwrap(EF.affine_grid) is affine_grid
