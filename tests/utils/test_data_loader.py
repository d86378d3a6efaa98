"""DataLoader: batching, shuffling, worker processes, seeding and failure handling."""
import os
import random
import signal
import tempfile
import time

import numpy as np
import pytest

import ember
from ember.utils.data import (
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    TensorDataset,
    get_worker_info,
)


class Range(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i


class Faulty(Range):
    def __getitem__(self, i):
        if i == 5:
            raise ValueError("sample 5 is broken")
        return i


class Suicidal(Range):
    def __getitem__(self, i):
        if i == 6:
            os.kill(os.getpid(), signal.SIGKILL)
        return i


class Slow(Range):
    def __getitem__(self, i):
        time.sleep(5)
        return i


class RandomDraws(Range):
    """Each sample: which worker drew it, and draws from ember, NumPy and Python RNGs."""

    def __getitem__(self, i):
        info = get_worker_info()
        return (info.id, info.seed, ember.rand(1).item(), float(np.random.rand()),
                random.random())


class Sharded(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        if info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))

    def __len__(self):
        return self.n


def _shm():
    """ember's segments in /dev/shm (temporary files), not other programs' (MPI's, made by a
    distributed test running beside this one)."""
    if not os.path.isdir("/dev/shm"):
        return set()
    return {name for name in os.listdir("/dev/shm") if name.startswith(tempfile.gettempprefix())}


def test_batches_and_len():
    ds = TensorDataset(ember.arange(10), ember.arange(10.) * 2)
    loader = DataLoader(ds, batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and len(batches) == 3
    assert batches[0][0].tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(batches[2][1].numpy(), [16.0, 18.0])
    assert len(DataLoader(ds, batch_size=4, drop_last=True)) == 2
    assert list(DataLoader(Range(3), batch_size=None)) == [0, 1, 2]  # ints stay ints


def test_shuffle_is_a_permutation_and_follows_generator():
    def order(seed):
        loader = DataLoader(Range(20), batch_size=5, shuffle=True,
                            generator=ember.Generator().manual_seed(seed))
        return sum((b.tolist() for b in loader), [])
    assert sorted(order(0)) == list(range(20))
    assert order(0) == order(0) and order(0) != order(1)


def test_sampler_batch_sampler_collate_options():
    loader = DataLoader(Range(6), batch_sampler=[[5, 0], [2]])
    assert [b.tolist() for b in loader] == [[5, 0], [2]]
    loader = DataLoader(Range(4), batch_size=2, collate_fn=lambda b: sum(b))
    assert list(loader) == [1, 5]
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(Range(4), sampler=RandomSampler(Range(4)), shuffle=True)
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(Range(4), batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="shuffle"):
        DataLoader(Sharded(4), shuffle=True)
    with pytest.raises(ValueError, match="prefetch_factor"):
        DataLoader(Range(4), prefetch_factor=2)


def test_iterable_dataset_single_process():
    loader = DataLoader(Sharded(7), batch_size=3)
    assert [b.tolist() for b in loader] == [[0, 1, 2], [3, 4, 5], [6]]
    assert len(loader) == 3
    assert [b.tolist() for b in DataLoader(Sharded(7), batch_size=3, drop_last=True)] == \
        [[0, 1, 2], [3, 4, 5]]


class BatchesLoader:
    """A loader-like object, as fastai builds one: an iterable 'dataset' of ready batches and
    only the attributes PyTorch's iterators read (see NOTE [ What an iterator reads from its
    loader ])."""
    _auto_collation, drop_last, timeout, pin_memory, generator = False, False, 0, False, None
    persistent_workers, prefetch_factor, worker_init_fn = False, 2, None
    multiprocessing_context = None

    def __init__(self, batches, num_workers):
        from ember.utils.data.dataloader import _DatasetKind
        self._dataset_kind = _DatasetKind.Iterable
        self.dataset, self.num_workers = batches, num_workers
        self._index_sampler = iter(int, 1)  # endless: the dataset says when it ends
        self.collate_fn = lambda batch: batch


@pytest.mark.parametrize("num_workers", [0, 1])
def test_iterators_run_a_loader_like_object(num_workers):
    from ember.utils.data.dataloader import (
        _DatasetKind,
        _MultiProcessingDataLoaderIter,
        _SingleProcessDataLoaderIter,
    )
    iterator = (_MultiProcessingDataLoaderIter if num_workers else _SingleProcessDataLoaderIter)
    batches = Sharded(3)
    ember.manual_seed(0)
    assert [int(b) for b in iterator(BatchesLoader(batches, num_workers))] == [0, 1, 2]
    # one draw of the default generator for the workers' base seed, as PyTorch's iterators do
    ember.manual_seed(0)
    ember.empty((), dtype=ember.int64).random_()
    after_one_draw = ember.rand(1).item()
    ember.manual_seed(0)
    iterator(BatchesLoader(batches, num_workers))
    assert ember.rand(1).item() == after_one_draw
    fetcher = _DatasetKind.create_fetcher(_DatasetKind.Map, [5, 6, 7], True, list, False)
    assert fetcher.fetch([2, 0]) == [7, 5]
    assert DataLoader(Range(2))._dataset_kind == _DatasetKind.Map
    assert DataLoader(Sharded(2))._dataset_kind == _DatasetKind.Iterable


def test_workers_give_the_same_batches_in_order():
    ds = TensorDataset(ember.arange(50).reshape(25, 2), ember.arange(25))
    single = [b[1].tolist() for b in DataLoader(ds, batch_size=4)]
    multi = list(DataLoader(ds, batch_size=4, num_workers=2, prefetch_factor=3))
    assert [b[1].tolist() for b in multi] == single
    np.testing.assert_array_equal(multi[1][0].numpy(), np.arange(50).reshape(25, 2)[4:8])


def test_worker_batches_travel_in_shared_memory():
    loader = DataLoader(TensorDataset(ember.ones(8, 3)), batch_size=4, num_workers=1)
    (x,) = next(iter(loader))
    assert x.is_shared()
    (y,) = next(iter(DataLoader(TensorDataset(ember.ones(8, 3)), batch_size=4)))
    assert not y.is_shared()


def test_iterable_dataset_sharded_across_workers():
    loader = DataLoader(Sharded(10), batch_size=2, num_workers=2)
    items = sorted(sum((b.tolist() for b in loader), []))
    assert items == list(range(10))  # every item once: no duplicates across workers


def test_worker_seeds_differ_per_worker_and_repeat_per_generator():
    def run(seed):
        loader = DataLoader(RandomDraws(8), batch_size=2, num_workers=2,
                            generator=ember.Generator().manual_seed(seed))
        return [row for b in loader for row in zip(*(c.tolist() for c in b))]
    a = run(7)
    assert a == run(7)
    seeds = {wid: seed for wid, seed, *_ in a}
    assert sorted(seeds) == [0, 1]
    assert seeds[1] - seeds[0] == 1  # base_seed + worker_id
    first = {wid: draws for wid, _, *draws in reversed(a)}  # each worker's first sample
    for k in range(3):  # ember, NumPy and Python streams all differ between the workers
        assert first[0][k] != first[1][k]
    assert run(8)[0][1] != a[0][1]


def test_worker_init_fn_and_persistent_workers():
    loader = DataLoader(Range(6), batch_size=2, num_workers=2, persistent_workers=True,
                        worker_init_fn=lambda wid: np.random.seed(100 + wid))
    first = [b.tolist() for b in loader]
    it = loader._iterator
    second = [b.tolist() for b in loader]
    assert first == second == [[0, 1], [2, 3], [4, 5]]
    assert loader._iterator is it and all(w.is_alive() for w in it._workers)
    it._shutdown_workers()
    assert not any(w.is_alive() for w in it._workers)


def test_worker_exception_reraised_with_traceback():
    loader = DataLoader(Faulty(10), batch_size=2, num_workers=2)
    with pytest.raises(ValueError) as info:
        list(loader)
    msg = str(info.value)
    assert "in DataLoader worker process" in msg
    assert "sample 5 is broken" in msg and "Traceback" in msg and "__getitem__" in msg


def test_killed_worker_raises_instead_of_hanging():
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="exited unexpectedly"):
        list(DataLoader(Suicidal(12), batch_size=2, num_workers=2))
    assert time.monotonic() - start < 20


def test_timeout_raises():
    with pytest.raises(RuntimeError, match="timed out"):
        next(iter(DataLoader(Slow(2), num_workers=1, timeout=0.3)))


def test_no_shared_memory_segment_outlives_the_loader():
    import gc
    before, fds = _shm(), len(os.listdir("/proc/self/fd"))
    loader = DataLoader(TensorDataset(ember.randn(40, 5)), batch_size=4, num_workers=2)
    total = sum(float(x.sum().item()) for (x,) in loader)
    assert np.isfinite(total)
    del loader
    gc.collect()
    assert _shm() - before == set()
    assert len(os.listdir("/proc/self/fd")) <= fds  # every batch's segment was released


def test_spawn_context():
    loader = DataLoader(TensorDataset(ember.arange(6)), batch_size=3, num_workers=1,
                        multiprocessing_context="spawn")
    assert [b[0].tolist() for b in loader] == [[0, 1, 2], [3, 4, 5]]


def test_persistent_workers_draw_anew_each_epoch():
    loader = DataLoader(RandomDraws(4), batch_size=2, num_workers=2, persistent_workers=True,
                        generator=ember.Generator().manual_seed(0))
    epochs = [[row for b in loader for row in zip(*(c.tolist() for c in b))] for _ in range(2)]
    loader._iterator._shutdown_workers()
    # as in PyTorch, persistent workers keep their seed and their generators go on
    assert epochs[0][0][1] == epochs[1][0][1]
    assert epochs[0][0][2] != epochs[1][0][2] and epochs[0][0][3] != epochs[1][0][3]


class _ThreadCount(Dataset):
    """Each item: the BLAS thread count inside the process that loads it."""

    def __len__(self):
        return 2

    def __getitem__(self, i):
        return ember.get_num_threads()


def test_workers_run_one_blas_thread_like_torch():
    counts = [int(b) for b in DataLoader(_ThreadCount(), num_workers=2)]
    assert counts == [1, 1]
