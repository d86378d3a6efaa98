"""index_reduce / index_reduce_ and masked_scatter broadcasting against PyTorch: values and
gradients, every reduction, with and without self, repeated indices and ties."""
import warnings

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")
warnings.filterwarnings("ignore", message="index_reduce\\(\\) is in beta")

REDUCTIONS = ["prod", "mean", "amax", "amin"]


def _run(lib, a, dim, index, source, reduce, include_self, inplace=False):
    x = lib.tensor(a, requires_grad=True)
    s = lib.tensor(source, requires_grad=True)
    idx = lib.tensor(index)
    if inplace:
        out = (x * 1).index_reduce_(dim, idx, s, reduce, include_self=include_self)
    else:
        out = lib.index_reduce(x, dim, idx, s, reduce, include_self=include_self)
    weights = lib.tensor(np.arange(out.numel(), dtype=float).reshape(tuple(out.shape)) + 1)
    (out * weights).sum().backward()
    return out.detach().numpy(), x.grad.numpy(), s.grad.numpy()


@pytest.mark.parametrize("reduce", REDUCTIONS)
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("inplace", [False, True])
def test_values_and_grads_match_torch(reduce, include_self, dim, inplace):
    rng = np.random.default_rng(0)
    a = rng.uniform(0.5, 2.0, (3, 4, 2))
    shape = list(a.shape)
    shape[dim] = 5
    source = rng.uniform(0.5, 2.0, shape)
    index = np.array([0, 2, 0, 2, 0]) % a.shape[dim]  # duplicates; some slices untouched
    results = [_run(lib, a, dim, index, source, reduce, include_self, inplace)
               for lib in (ember, torch)]
    for e, t in zip(*results):
        np.testing.assert_allclose(e, t, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("reduce", ["amax", "amin", "mean"])
@pytest.mark.parametrize("include_self", [True, False])
def test_ties_split_the_gradient_as_torch(reduce, include_self):
    a = np.array([[1.0, 3.0], [2.0, 2.0]])
    source = np.array([[1.0, 3.0], [1.0, 0.0], [2.0, 2.0]])
    index = np.array([0, 0, 1])
    results = [_run(lib, a, 0, index, source, reduce, include_self) for lib in (ember, torch)]
    for e, t in zip(*results):
        np.testing.assert_allclose(e, t, rtol=1e-12)


@pytest.mark.parametrize("reduce", REDUCTIONS)
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("dtype", ["int64", "int32", "float32"])
def test_dtypes_and_index_dtypes_match_torch(reduce, include_self, dtype):
    a = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    source = [[1, 2, 4], [3, 3, 3]]
    outs = []
    for lib in (ember, torch):
        d = getattr(lib, dtype)
        idx = lib.tensor([2, 2], dtype=lib.int32)
        outs.append(lib.tensor(a, dtype=d).index_reduce(0, idx, lib.tensor(source, dtype=d),
                                                         reduce, include_self=include_self))
    assert outs[0].tolist() == outs[1].tolist()
    assert str(outs[0].dtype) == str(outs[1].dtype)


def test_zero_dim_and_errors_match_torch():
    for reduce in REDUCTIONS:
        e = ember.tensor(2.0).index_reduce(0, ember.tensor([0]), ember.tensor(3.0), reduce)
        t = torch.tensor(2.0).index_reduce(0, torch.tensor([0]), torch.tensor(3.0), reduce)
        assert e.item() == t.item() and e.shape == t.shape
    cases = [((3, 2), [0, 2, 0, 1], (4, 2), "sum", "int64"),
             ((3, 2), [0, 1], (2, 3), "prod", "int64"),
             ((3, 2), [[0, 1]], (2, 2), "prod", "int64"),
             ((3, 2), [0, 1, 2], (2, 2), "prod", "int64"),
             ((3, 2), [0.0, 1.0], (2, 2), "prod", "float32")]
    for shape, index, sshape, reduce, index_dtype in cases:
        with pytest.raises((RuntimeError, IndexError)) as te:
            torch.zeros(shape).index_reduce(0, torch.tensor(index, dtype=getattr(
                torch, index_dtype)), torch.ones(sshape), reduce)
        with pytest.raises(te.type) as ee:
            ember.zeros(shape).index_reduce(0, ember.tensor(index, dtype=getattr(
                ember, index_dtype)), ember.ones(sshape), reduce)
        assert str(ee.value) == str(te.value)


def test_masked_scatter_broadcasting_matches_torch():
    """PyTorch's docs example: ``self`` [0, 0, 0, 0, 0] against a 2x5 mask and source."""
    mask = [[0, 0, 0, 1, 1], [1, 1, 0, 1, 1]]
    results = []
    for lib in (ember, torch):
        x = lib.zeros(5, requires_grad=True)
        src = lib.arange(10.0).reshape(2, 5).requires_grad_()
        m = lib.tensor(mask, dtype=lib.bool)
        out = x.masked_scatter(m, src)
        out.backward(lib.arange(10.0).reshape(2, 5) + 1)
        col = lib.zeros(3, 1).masked_scatter(m[1], lib.arange(15.0).reshape(3, 5))
        ints = lib.tensor([0, 0, 0, 0, 0]).masked_scatter(m, lib.arange(10).reshape(2, 5))
        results.append([out.detach().numpy(), x.grad.numpy(), src.grad.numpy(), col.numpy(),
                        ints.numpy()])
    for e, t in zip(*results):
        np.testing.assert_array_equal(e, t)


@pytest.mark.parametrize("include_self", [True, False])
def test_prod_gradient_with_zeros_matches_torch(include_self):
    a = np.array([[0.0, 2.0, 3.0], [1.0, 0.0, 2.0], [4.0, 5.0, 0.0]])
    source = np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 1.5], [3.0, 2.0, 0.0], [1.0, 4.0, 2.0]])
    index = np.array([0, 0, 1, 2])  # row 0 gets one zero or two per column, with self's
    results = [_run(lib, a, 0, index, source, "prod", include_self) for lib in (ember, torch)]
    for e, t in zip(*results):
        np.testing.assert_allclose(e, t, rtol=1e-12)
    scatter = []
    for lib in (ember, torch):
        x = lib.tensor(a, requires_grad=True)
        s = lib.tensor(source[:3], requires_grad=True)
        idx = lib.tensor(np.broadcast_to(index[:3, None], (3, 3)).copy())
        x.scatter_reduce(0, idx, s, "prod", include_self=include_self).sum().backward()
        scatter.append((x.grad.numpy(), s.grad.numpy()))
    for e, t in zip(*scatter):
        np.testing.assert_allclose(e, t, rtol=1e-12)
