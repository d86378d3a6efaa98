"""The loop each DataLoader worker process runs, and ``get_worker_info()``.

# NOTE [ DataLoader workers ]
The main process sends ``(send_idx, indices)`` tasks on one index queue per worker; a worker
answers ``(send_idx, batch)`` on the shared result queue, where the batch's tensors travel by
shared memory (NOTE [ Shared tensors ]), so a worker must stay alive until the main process
has received everything it sent: it exits only on ``None`` (or when the main process is gone).
Failures travel as ``ExceptionWrapper`` (the worker's traceback as text). The end of an
iterable dataset travels as ``_IterableDatasetStopIteration``. ``_ResumeIteration`` restarts
a persistent worker for a new epoch; the worker answers it with ``(None, _ResumeIteration)``.
"""
from __future__ import annotations

import os
import queue
import random
import sys
import traceback
from dataclasses import dataclass

import numpy as np

# How often (seconds) a waiting process checks that its peers are alive.
MP_STATUS_CHECK_INTERVAL = 0.5

_worker_info = None


class WorkerInfo:
    """What a worker knows about itself: ``id``, ``num_workers``, ``seed``, ``dataset``."""

    __initialized = False

    def __init__(self, **kwargs) -> None:
        for k, v in kwargs.items():
            setattr(self, k, v)
        self.__keys = tuple(kwargs)
        self.__initialized = True

    def __setattr__(self, key, val) -> None:
        if self.__initialized:
            raise RuntimeError(f"Cannot assign attributes to {self.__class__.__name__} objects")
        super().__setattr__(key, val)

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={getattr(self, k)}" for k in self.__keys)
        return f"{self.__class__.__name__}({items})"


def get_worker_info() -> WorkerInfo | None:
    """In a DataLoader worker, its ``WorkerInfo``; ``None`` in the main process.

    Use it in an ``IterableDataset.__iter__`` or a ``worker_init_fn`` to split the work::

        info = get_worker_info()
        start = 0 if info is None else info.id   # then step by info.num_workers
    """
    return _worker_info


class ExceptionWrapper:
    """An exception caught in a worker, carried as its type and traceback text."""

    def __init__(self, exc_info=None, where: str = "in background") -> None:
        if exc_info is None:
            exc_info = sys.exc_info()
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self):
        """Raise the exception again, in this process, with the original traceback text."""
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = _KeyErrorMessage(msg)
        try:
            exception = self.exc_type(msg)
        except Exception:
            raise RuntimeError(msg) from None
        raise exception


class _KeyErrorMessage(str):
    # KeyError prints the repr of its argument; keep the traceback's newlines readable.
    def __repr__(self) -> str:
        return self


@dataclass(frozen=True)
class _IterableDatasetStopIteration:
    worker_id: int


@dataclass(frozen=True)
class _ResumeIteration:
    pass


def _generate_state(base_seed: int, worker_id: int) -> list[int]:
    """The four 32-bit words a worker seeds NumPy's legacy RNG with: ``worker_id`` and the
    64-bit ``base_seed`` mixed as NumPy's ``SeedSequence`` mixes entropy, so workers (and
    Python's ``random``, seeded with ``base_seed + worker_id``) never share a stream."""
    words = [worker_id, base_seed & 0xFFFFFFFF, base_seed >> 32, 0]
    return np.random.SeedSequence(words).generate_state(4).tolist()


def _seed_worker(seed: int, worker_id: int, base_seed: int) -> None:
    """Seed Python's, NumPy's and ember's global RNGs with ``base_seed + worker_id``."""
    random.seed(seed)
    import ember
    ember.manual_seed(seed)
    np.random.seed(_generate_state(base_seed, worker_id))


def _parent_alive(parent_pid: int) -> bool:
    return os.getppid() == parent_pid


def _worker_loop(is_iterable: bool, dataset, index_queue, data_queue, done_event,
                 auto_collation: bool, collate_fn, drop_last: bool, base_seed: int, init_fn,
                 worker_id: int, num_workers: int, persistent_workers: bool,
                 parent_pid: int) -> None:
    global _worker_info
    from ember.utils.data._utils.fetch import create_fetcher
    try:
        # One BLAS thread per worker, as in PyTorch: the workers and the training process
        # would otherwise oversubscribe the cores, and OpenBLAS slows 10-100x when they do.
        import ember
        ember.set_num_threads(1)
        seed = base_seed + worker_id
        _seed_worker(seed, worker_id, base_seed)
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed,
                                  dataset=dataset)
        init_exception = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = create_fetcher(is_iterable, dataset, auto_collation, collate_fn,
                                     drop_last)
        except Exception:
            init_exception = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
        iteration_end = False
        while True:
            try:
                task = index_queue.get(timeout=MP_STATUS_CHECK_INTERVAL)
            except queue.Empty:
                if not _parent_alive(parent_pid):
                    break
                continue
            if task is None:
                break
            if isinstance(task, _ResumeIteration):
                data_queue.put((None, task))
                iteration_end = False  # the worker's generators go on, as in PyTorch
                fetcher = create_fetcher(is_iterable, dataset, auto_collation, collate_fn,
                                         drop_last)
                continue
            if done_event.is_set() or iteration_end:
                continue
            idx, index = task
            if init_exception is not None:
                data, init_exception = init_exception, None
            else:
                try:
                    data = fetcher.fetch(index)
                except Exception as e:
                    if isinstance(e, StopIteration) and is_iterable:
                        data = _IterableDatasetStopIteration(worker_id)
                        iteration_end = True
                    else:
                        data = ExceptionWrapper(
                            where=f"in DataLoader worker process {worker_id}")
            data_queue.put((idx, data))
            del data, idx, index
    except KeyboardInterrupt:
        pass
    if done_event.is_set():
        # the main process is gone or no longer reading: do not block exit on a full pipe
        data_queue.cancel_join_thread()
        data_queue.close()
