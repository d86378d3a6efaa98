"""``multiprocessing`` with tensors shared between processes, like ``torch.multiprocessing``.

Everything of the stdlib module is re-exported (Process, Queue, Pipe, Pool, get_context,
set_start_method, ...). Importing this package registers reducers so that a tensor put on a
Queue or Pipe, or passed to a spawned Process, travels as shared memory: see
NOTE [ Shared tensors ] in ``reductions.py``.

Example::

    >>> import ember, ember.multiprocessing as mp
    >>> t = ember.zeros(3).share_memory_()
    >>> p = mp.get_context("spawn").Process(target=ember.Tensor.add_, args=(t, 1))
    >>> p.start(); p.join(); t
    tensor([1., 1., 1.])
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import traceback
from multiprocessing import *  # noqa: F401,F403  the drop-in surface
from multiprocessing import connection

from ember.multiprocessing.reductions import init_reductions

__all__ = list(multiprocessing.__all__) + [
    "spawn", "start_processes", "ProcessContext", "ProcessRaisedException",
    "ProcessExitedException", "get_sharing_strategy", "set_sharing_strategy",
    "get_all_sharing_strategies"]

init_reductions()

# Only the file-descriptor strategy exists: see NOTE [ Shared tensors ].
_sharing_strategy = "file_descriptor"


def get_all_sharing_strategies() -> set:
    return {"file_descriptor"}


def get_sharing_strategy() -> str:
    return _sharing_strategy


def set_sharing_strategy(new_strategy: str) -> None:
    if new_strategy not in get_all_sharing_strategies():
        raise ValueError(f"unsupported sharing strategy {new_strategy!r}; ember shares tensors "
                         "by file descriptor only")


class ProcessException(Exception):
    def __init__(self, msg: str, error_index: int, pid: int):
        super().__init__(msg)
        self.msg = msg
        self.error_index = error_index
        self.pid = pid


class ProcessRaisedException(ProcessException):
    """A process started by ``spawn`` raised; the message holds its traceback."""


class ProcessExitedException(ProcessException):
    """A process started by ``spawn`` exited with a non-zero code or was killed."""

    def __init__(self, msg: str, error_index: int, error_pid: int, exit_code: int,
                 signal_name: str | None = None):
        super().__init__(msg, error_index, error_pid)
        self.exit_code = exit_code
        self.signal_name = signal_name


def _wrap(fn, i: int, args: tuple, error_queue) -> None:
    try:
        fn(i, *args)
    except KeyboardInterrupt:
        pass
    except Exception:
        error_queue.put(traceback.format_exc())
        _leave_mpi_world()
        sys.exit(1)


def _leave_mpi_world() -> None:
    # A failed rank of an ember.distributed world leaves at once: the MPI_Finalize that a
    # normal exit runs would wait for the other ranks, which may be waiting for this one
    # (ProcessContext.join then stops them)
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is not None and mpi.Is_initialized() and not mpi.Is_finalized():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)


class ProcessContext:
    """The processes started by ``start_processes``; ``join()`` raises if one failed."""

    def __init__(self, processes: list, error_queues: list):
        self.processes = processes
        self.error_queues = error_queues

    def pids(self) -> list:
        return [p.pid for p in self.processes]

    def join(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds; True when all processes exited cleanly, False while
        some still run. When one fails, the others are stopped and its error raised."""
        running = {p.sentinel: p for p in self.processes if p.exitcode is None}
        for sentinel in connection.wait(list(running), timeout) if running else []:
            running[sentinel].join()  # closed its sentinel: it exits now, and is reaped here
        failed = [i for i, p in enumerate(self.processes) if p.exitcode not in (None, 0)]
        if failed:
            self._stop_and_raise(failed[0])
        return all(p.exitcode == 0 for p in self.processes)

    def _stop_and_raise(self, i: int) -> None:
        for other in self.processes:
            if other.is_alive():
                other.terminate()
            other.join()
        p = self.processes[i]
        if not self.error_queues[i].empty():
            msg = self.error_queues[i].get()
            raise ProcessRaisedException(
                f"\n\n-- Process {i} terminated with the following error:\n{msg}", i, p.pid)
        if p.exitcode < 0:
            name = signal.Signals(-p.exitcode).name
            raise ProcessExitedException(f"process {i} terminated with signal {name}", i, p.pid,
                                         p.exitcode, name)
        raise ProcessExitedException(f"process {i} terminated with exit code {p.exitcode}", i,
                                     p.pid, p.exitcode)


def start_processes(fn, args: tuple = (), nprocs: int = 1, join: bool = True,
                    daemon: bool = False, start_method: str = "spawn"):
    """Run ``fn(i, *args)`` for ``i`` in ``range(nprocs)``, each in its own process."""
    ctx = multiprocessing.get_context(start_method)
    processes, error_queues = [], []
    for i in range(nprocs):
        q = ctx.SimpleQueue()
        p = ctx.Process(target=_wrap, args=(fn, i, args, q), daemon=daemon)
        p.start()
        processes.append(p)
        error_queues.append(q)
    context = ProcessContext(processes, error_queues)
    if not join:
        return context
    while not context.join():
        pass
    return None


def spawn(fn, args: tuple = (), nprocs: int = 1, join: bool = True, daemon: bool = False,
          start_method: str = "spawn"):
    """``torch.multiprocessing.spawn``: ``fn(i, *args)`` in ``nprocs`` processes."""
    return start_processes(fn, args, nprocs, join, daemon, start_method)
