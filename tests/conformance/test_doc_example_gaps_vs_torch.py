"""Ops that torch's own documentation examples use and ember lacked: nanmedian along a dim,
logical ops with out=, einsum's sublist form, DLPack capsules, storages, histogramdd,
nonzero_static, as_strided_scatter, empty_permuted."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

NAN = float("nan")


def _same(a, b):
    a = a.numpy() if hasattr(a, "numpy") else np.asarray(a)
    b = b.numpy() if hasattr(b, "numpy") else np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("data", [[[2., 3., 1.], [NAN, 1., NAN], [NAN] * 3],
                                  [[1., 2., 3., 4., NAN]], [[5., NAN], [NAN, 7.]]])
@pytest.mark.parametrize("keepdim", [False, True])
def test_nanmedian_along_dim(data, keepdim):
    e = ember.tensor(data).nanmedian(1, keepdim=keepdim)
    t = torch.tensor(data).nanmedian(1, keepdim=keepdim)
    _same(e.values, t.values)
    _same(e.indices, t.indices)


@pytest.mark.parametrize("name", ["logical_and", "logical_or", "logical_xor"])
def test_logical_out(name):
    a, b = [True, False, True, False], [1.0, 1.0, 0.0, 0.0]
    outs = []
    for lib in (ember, torch):
        out = lib.empty(4, dtype=lib.int16)
        r = getattr(lib, name)(lib.tensor(a), lib.tensor(b), out=out)
        assert r is out
        outs.append(out)
    _same(*outs)
    for lib in (ember, torch):
        outs.append(lib.logical_not(lib.tensor([0., 1., -10.]), out=lib.empty(3, dtype=lib.bool)))
    _same(outs[-2], outs[-1])


def test_einsum_sublist_form():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4, 5))
    e = ember.einsum(ember.tensor(a), [..., 0, 1], ember.tensor(b), [..., 1, 2], [..., 0, 2])
    t = torch.einsum(torch.tensor(a), [..., 0, 1], torch.tensor(b), [..., 1, 2], [..., 0, 2])
    np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-12)
    e = ember.einsum(ember.tensor(a[0]), [0, 1], ember.tensor(b[0]), [1, 2])
    np.testing.assert_allclose(e.numpy(), a[0] @ b[0], rtol=1e-12)


def test_dlpack_capsules_both_ways_share_memory():
    from ember.utils.dlpack import from_dlpack, to_dlpack
    e = ember.arange(6.0)
    shared = torch.utils.dlpack.from_dlpack(to_dlpack(e))
    shared[0] = 42
    assert e[0].item() == 42
    back = from_dlpack(to_dlpack(e))
    back[1] = 7
    assert e[1].item() == 7
    t = torch.arange(3.0)
    assert from_dlpack(torch.utils.dlpack.to_dlpack(t)).tolist() == [0.0, 1.0, 2.0]


def test_storages():
    for lib in (ember, torch):
        s = lib.TypedStorage(5, dtype=lib.float32)
        assert lib.is_storage(s) and s.size() == 5 and not lib.is_storage(lib.ones(1))
        x = lib.arange(4.0)
        st = x.untyped_storage()
        assert lib.is_storage(st) and st.nbytes() == 16


@pytest.mark.parametrize("kwargs", [dict(bins=[3, 3]), dict(bins=2, range=[0., 2., 0., 2.]),
                                    dict(bins=[2, 4], density=True)])
def test_histogramdd(kwargs):
    pts = [[0., 1.], [1., 0.], [2., 0.], [2., 2.], [0.5, 1.5]]
    w = [1., 2., 4., 8., 3.]
    e = ember.histogramdd(ember.tensor(pts), weight=ember.tensor(w), **kwargs)
    t = torch.histogramdd(torch.tensor(pts), weight=torch.tensor(w), **kwargs)
    np.testing.assert_allclose(e.hist.numpy(), t.hist.numpy(), rtol=1e-6)
    for a, b in zip(e.bin_edges, t.bin_edges):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)


@pytest.mark.parametrize("data,size,fill", [([[1, 0], [0, 1]], 4, -1), ([[1, 0], [1, 1]], 2, 7),
                                            ([0, 3, 0, 4], 3, -1), (5, 2, -1)])
def test_nonzero_static(data, size, fill):
    _same(ember.nonzero_static(ember.tensor(data), size=size, fill_value=fill),
          torch.nonzero_static(torch.tensor(data), size=size, fill_value=fill))


def test_as_strided_scatter_and_empty_permuted():
    for lib in (ember, torch):
        out = lib.as_strided_scatter(lib.zeros(3, 3), lib.ones(2, 2), (2, 2), (1, 2))
        assert out.tolist() == [[1., 1., 1.], [1., 0., 0.], [0., 0., 0.]]
    assert ember.empty_permuted((2, 3, 5, 7), (0, 2, 3, 1)).stride() == \
        torch.empty_permuted((2, 3, 5, 7), (0, 2, 3, 1)).stride()
