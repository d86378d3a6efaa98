"""Datasets, samplers and collation of ember.utils.data (oracles: NumPy and plain Python)."""
import collections

import numpy as np
import pytest

import ember
from ember.utils.data import (
    BatchSampler,
    ChainDataset,
    ConcatDataset,
    Dataset,
    DistributedSampler,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    StackDataset,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    default_convert,
    random_split,
)


class Range(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return i


class Stream(IterableDataset):
    def __init__(self, items):
        self.items = items

    def __iter__(self):
        return iter(self.items)

    def __len__(self):
        return len(self.items)


def test_tensor_dataset_rows_and_length():
    x = ember.arange(12.).reshape(4, 3)
    y = ember.tensor([3, 1, 4, 1])
    ds = TensorDataset(x, y)
    assert len(ds) == 4
    row, label = ds[2]
    np.testing.assert_array_equal(row.numpy(), np.arange(12.).reshape(4, 3)[2])
    assert label.item() == 4
    with pytest.raises(ValueError, match="Size mismatch"):
        TensorDataset(x, ember.zeros(3))


def test_tensor_dataset_keeps_grad_rows_differentiable():
    x = ember.ones(3, 2, requires_grad=True)
    (row,) = TensorDataset(x)[1]
    row.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0], [1, 1], [0, 0]])


def test_concat_subset_stack_chain():
    cat = Range(3) + Range(2)
    assert isinstance(cat, ConcatDataset)
    assert [cat[i] for i in range(len(cat))] == [0, 1, 2, 0, 1]
    assert cat[-1] == 1 and cat.cumulative_sizes == [3, 5]
    sub = Subset(Range(10), [7, 2, 5])
    assert [sub[i] for i in range(3)] == [7, 2, 5]
    assert sub.__getitems__([0, 2]) == [7, 5]
    stacked = StackDataset(a=Range(2), b=Subset(Range(5), [4, 3]))
    assert stacked[1] == {"a": 1, "b": 3}
    assert list(Stream([1, 2]) + Stream([3])) == [1, 2, 3]
    assert len(ChainDataset([Stream([1]), Stream([2, 3])])) == 3
    with pytest.raises(AssertionError):
        ConcatDataset([Stream([1])])


def test_random_split_lengths_fractions_and_generator():
    parts = random_split(Range(10), [3, 7], generator=ember.Generator().manual_seed(1))
    again = random_split(Range(10), [3, 7], generator=ember.Generator().manual_seed(1))
    assert [len(p) for p in parts] == [3, 7]
    assert sorted(parts[0].indices + parts[1].indices) == list(range(10))
    assert parts[0].indices == again[0].indices
    fractions = random_split(Range(11), [0.5, 0.3, 0.2])
    # floor(5.5, 3.3, 2.2) = 5, 3, 2; the one left over goes to the first
    assert [len(p) for p in fractions] == [6, 3, 2]
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(Range(5), [2, 2])


def test_sequential_and_random_samplers():
    assert list(SequentialSampler(Range(4))) == [0, 1, 2, 3]
    perm = list(RandomSampler(Range(50)))
    assert sorted(perm) == list(range(50)) and perm != list(range(50))
    g1, g2 = ember.Generator().manual_seed(3), ember.Generator().manual_seed(3)
    assert list(RandomSampler(Range(20), generator=g1)) == \
        list(RandomSampler(Range(20), generator=g2))
    more = list(RandomSampler(Range(5), num_samples=12))
    assert len(more) == 12 and sorted(more[:10]) == sorted(list(range(5)) * 2)
    drawn = list(RandomSampler(Range(3), replacement=True, num_samples=300))
    assert len(drawn) == 300 and set(drawn) == {0, 1, 2}
    with pytest.raises(ValueError, match="num_samples"):
        RandomSampler(Range(3), num_samples=0)


def test_random_sampler_follows_manual_seed():
    ember.manual_seed(5)
    a = list(RandomSampler(Range(30)))
    ember.manual_seed(5)
    assert list(RandomSampler(Range(30))) == a


def test_subset_random_and_weighted_samplers():
    assert sorted(SubsetRandomSampler([4, 8, 15])) == [4, 8, 15]
    counts = collections.Counter(WeightedRandomSampler([0.0, 1.0, 3.0], 4000))
    assert counts[0] == 0
    assert 2.5 < counts[2] / counts[1] < 3.6
    no_repl = list(WeightedRandomSampler([1, 1, 1, 0], 3, replacement=False))
    assert sorted(no_repl) == [0, 1, 2]
    assert list(WeightedRandomSampler([1, 0], 2, replacement=False)) == [0, 1]  # as torch
    with pytest.raises(RuntimeError, match="cannot sample n_sample"):
        list(WeightedRandomSampler([1, 0], 3, replacement=False))
    with pytest.raises(ValueError):
        WeightedRandomSampler([1.0], 0)


def test_batch_sampler():
    assert list(BatchSampler(range(7), 3, False)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(BatchSampler(range(7), 3, True)) == [[0, 1, 2], [3, 4, 5]]
    assert len(BatchSampler(range(7), 3, False)) == 3
    assert len(BatchSampler(range(7), 3, True)) == 2
    with pytest.raises(ValueError, match="batch_size"):
        BatchSampler(range(3), 0, False)


def test_distributed_sampler_partitions_and_pads():
    shards = [list(DistributedSampler(Range(10), num_replicas=3, rank=r, shuffle=False))
              for r in range(3)]
    assert shards == [[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]
    dropped = [list(DistributedSampler(Range(10), 3, r, shuffle=False, drop_last=True))
               for r in range(3)]
    assert sorted(sum(dropped, [])) == list(range(9))
    s = DistributedSampler(Range(10), 2, 0, shuffle=True, seed=4)
    first = list(s)
    s.set_epoch(1)
    assert list(s) != first
    other = DistributedSampler(Range(10), 2, 1, shuffle=True, seed=4)
    assert sorted(first + list(other)) == list(range(10))
    with pytest.raises(ValueError, match="Invalid rank"):
        DistributedSampler(Range(4), 2, 2)


Point = collections.namedtuple("Point", "x y")


def test_default_collate_types():
    b = default_collate([1, 2, 3])
    assert b.dtype == ember.int64 and b.tolist() == [1, 2, 3]
    assert default_collate([0.5, 1.5]).dtype == ember.float64
    assert default_collate([True, False]).dtype == ember.bool
    assert default_collate(["a", "b"]) == ["a", "b"]
    arr = default_collate([np.zeros((2, 2), np.float32), np.ones((2, 2), np.float32)])
    assert isinstance(arr, ember.Tensor) and arr.shape == (2, 2, 2) and arr.dtype == ember.float32
    assert default_collate([np.float32(1), np.float32(2)]).dtype == ember.float32
    nested = default_collate([{"img": ember.zeros(3), "meta": (1, "a")},
                              {"img": ember.ones(3), "meta": (2, "b")}])
    np.testing.assert_array_equal(nested["img"].numpy(), [[0, 0, 0], [1, 1, 1]])
    # a field of strings stays the tuple of its samples, as in PyTorch
    assert nested["meta"][0].tolist() == [1, 2] and nested["meta"][1] == ("a", "b")
    assert isinstance(nested["meta"], list)  # tuples collate to lists, as in PyTorch
    p = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert isinstance(p, Point) and p.x.tolist() == [1, 3] and p.y.dtype == ember.float64


def test_default_collate_errors():
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        default_collate([ember.zeros(2), ember.zeros(3)])
    with pytest.raises(TypeError, match="default_collate"):
        default_collate([np.array(["a"]), np.array(["b"])])
    with pytest.raises(TypeError):
        default_collate([object(), object()])


def test_default_convert():
    out = default_convert({"a": np.arange(3), "b": (np.float64(2.0), "s")})
    assert isinstance(out["a"], ember.Tensor) and out["a"].tolist() == [0, 1, 2]
    assert isinstance(out["b"][0], ember.Tensor) and out["b"][1] == "s"
    strings = np.array(["x"])
    assert default_convert(strings) is strings
    assert default_convert(5) == 5
