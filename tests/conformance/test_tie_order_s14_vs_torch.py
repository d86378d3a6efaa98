"""Indices among equal elements against PyTorch's CPU kernels, compared exactly: sort and
argsort (stable or not), topk, kthvalue, mode, median, max/min and argmax/argmin along a dim,
in 1-D and 2-D, both directions, many dtypes, with NaN, broadcast and transposed inputs."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

DTYPES = ["float64", "float32", "float16", "bfloat16", "int64", "int32", "uint8"]
# Lengths around libstdc++'s thresholds (insertion sort to 16, partial_sort where k * 64 <= n).
LENGTHS = [5, 16, 17, 40, 130, 700]


def _data(seed: int, shape, distinct: int, nan: bool):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, distinct, shape).astype(np.float64)
    if nan:
        a[rng.random(shape) < 0.15] = np.nan
    return a


def _cases(dtype: str, n: int, rows: int):
    """(ember tensor, torch tensor, has NaN): all equal, three values, about n / 4 values."""
    for seed, distinct in enumerate((1, 3, n // 4 + 2)):
        nan = dtype.startswith(("float", "bfloat")) and seed == 1
        a = _data(seed, (rows, n), distinct, nan)
        e = ember.tensor(a).to(getattr(ember, dtype))
        yield e, torch.tensor(a).to(getattr(torch, dtype)), nan


def _same(ours, theirs):
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", LENGTHS)
def test_sort_and_argsort_ties_match_torch(dtype, n):
    for e, t, _ in _cases(dtype, n, 3):
        for dim in (1, 0):
            for descending in (False, True):
                for stable in (False, True):
                    ours = ember.sort(e, dim=dim, descending=descending, stable=stable)
                    theirs = torch.sort(t, dim=dim, descending=descending, stable=stable)
                    _same(ours.indices, theirs.indices)
                    _same(ours.values.float(), theirs.values.float())
                ours = e.argsort(dim=dim, descending=descending)
                _same(ours, t.argsort(dim=dim, descending=descending))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", LENGTHS)
def test_topk_ties_match_torch(dtype, n):
    for e, t, _ in _cases(dtype, n, 2):
        for k in sorted({1, 2, n // 64, n // 3, n - 1, n} - {0}):
            for largest in (True, False):
                ours = ember.topk(e, k, 1, largest)
                theirs = torch.topk(t, k, 1, largest)
                _same(ours.indices, theirs.indices)
                _same(ours.values.float(), theirs.values.float())
                # unsorted: the same elements (PyTorch's order among them is unspecified)
                unsorted = torch.topk(t, k, 1, largest, sorted=False).indices
                np.testing.assert_array_equal(
                    np.sort(ember.topk(e, k, 1, largest, sorted=False).indices.numpy(), 1),
                    np.sort(unsorted.numpy(), 1))
        _same(ember.topk(e, 2, 0).indices, torch.topk(t, 2, 0).indices)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", LENGTHS)
def test_kthvalue_mode_median_ties_match_torch(dtype, n):
    for e, t, nan in _cases(dtype, n, 3):
        for k in sorted({1, 2, n // 2, n}):
            ours, theirs = ember.kthvalue(e, k, 1), torch.kthvalue(t, k, 1)
            _same(ours.indices, theirs.indices)
            _same(ours.values.float(), theirs.values.float())
        # mode with NaN in a row is left out: PyTorch's std::sort cannot order NaN by ``<``
        for name in ("median", "nanmedian") if nan else ("median", "nanmedian", "mode"):
            for dim in (1, 0):
                ours, theirs = getattr(ember, name)(e, dim), getattr(torch, name)(t, dim)
                _same(ours.indices, theirs.indices)
        for name in ("max", "min"):
            _same(getattr(ember, name)(e, 1).indices, getattr(torch, name)(t, 1).indices)
        for name in ("argmax", "argmin"):
            _same(getattr(ember, name)(e, 0), getattr(torch, name)(t, 0))


def test_transposed_and_broadcast_inputs_match_torch():
    a = _data(4, (40, 30), 3, False)
    e, t = ember.tensor(a).t(), torch.tensor(a).t()
    _same(ember.sort(e, 1).indices, torch.sort(t, 1).indices)
    _same(ember.topk(e, 5, 0).indices, torch.topk(t, 5, 0).indices)
    _same(ember.kthvalue(e, 7, 1).indices, torch.kthvalue(t, 7, 1).indices)
    # a broadcast dim keeps its indices in order, as PyTorch's sort leaves a stride-0 dim
    e, t = ember.zeros(1, 40).expand(3, 40), torch.zeros(1, 40).expand(3, 40)
    _same(ember.sort(e, 1).indices, torch.sort(t, 1).indices)


def test_long_integer_sort_is_stable_as_torch_radix_sort():
    """PyTorch sorts a 1-D integer tensor of 32768 elements or more ascending with a stable
    radix sort; below that, or descending, with std::sort."""
    for n in (32767, 32768):
        a = _data(5, (n,), 5, False)
        for descending in (False, True):
            e, t = ember.tensor(a).long(), torch.tensor(a).long()
            _same(ember.sort(e, descending=descending).indices,
                  torch.sort(t, descending=descending).indices)


def test_gradient_follows_the_picked_index_as_torch():
    a = np.array([[2.0, 1.0, 2.0, 1.0] * 5, [0.0] * 20])
    grads = []
    for lib in (ember, torch):
        x = lib.tensor(a, requires_grad=True)
        (lib.topk(x, 3, 1).values.sum() + lib.kthvalue(x, 4, 1).values.sum()
         + lib.sort(x, 1).values[:, :2].sum()).backward()
        grads.append(x.grad.numpy())
    np.testing.assert_array_equal(*grads)
