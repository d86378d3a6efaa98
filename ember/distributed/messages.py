"""Point-to-point messages, barriers and the ``*_object`` collectives of ``ember.distributed``.

Tensors travel as raw buffers; Python objects are pickled by mpi4py's lower-case methods
(``allgather``, ``bcast``, ...), which, as in PyTorch, trusts the job's own peers only.
"""
from __future__ import annotations

import time
import warnings
from datetime import timedelta
from typing import Any, Callable

import numpy as np

from ember._tensor import Tensor
from ember.distributed import _mpi
from ember.distributed.collectives import _array, _done, _group_rank
from ember.distributed.process_group import ProcessGroup, resolve
from ember.distributed.work import Work

__all__ = ["P2POp", "all_gather_object", "barrier", "batch_isend_irecv",
           "broadcast_object_list", "gather_object", "irecv", "isend", "monitored_barrier",
           "recv", "recv_object_list", "scatter_object_list", "send", "send_object_list"]


def isend(tensor: Tensor, dst: int | None = None, group: ProcessGroup | None = None,
          tag: int = 0, group_dst: int | None = None) -> Work | None:
    """Start sending ``tensor`` to rank ``dst``; keep ``tensor`` unchanged until ``wait()``."""
    pg = resolve(group, "isend")
    if pg is None:
        return None
    peer = _group_rank(pg, dst, group_dst, "isend")
    if peer == pg.rank():
        raise ValueError("isend: Invalid destination rank: should not be the same as the rank "
                         "of the current process.")
    return pg.engine(tensor.device, "isend").send(_array(tensor, "isend"), peer, tag)


def irecv(tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None,
          tag: int = 0, group_src: int | None = None) -> Work | None:
    """Start receiving into ``tensor`` from rank ``src`` (any rank when None); the Work's
    ``source_rank()`` names the sender."""
    pg = resolve(group, "irecv")
    if pg is None:
        return None
    peer = None if src is None and group_src is None else \
        _group_rank(pg, src, group_src, "irecv")
    work, sender = pg.engine(tensor.device, "irecv").recv(_array(tensor, "irecv"), peer, tag)
    work._source_rank = lambda: pg.ranks[sender()]
    tensor._bump_version()
    return work


def send(tensor: Tensor, dst: int | None = None, group: ProcessGroup | None = None,
         tag: int = 0, group_dst: int | None = None) -> None:
    """Send ``tensor`` to rank ``dst`` and wait until it is sent."""
    work = isend(tensor, dst, group, tag, group_dst)
    if work is not None:
        work.wait()


def recv(tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None,
         tag: int = 0, group_src: int | None = None) -> int:
    """Receive into ``tensor`` from rank ``src`` (any rank when None).

    Returns:
        The sender's global rank (-1 when this process is not in ``group``).
    """
    work = irecv(tensor, src, group, tag, group_src)
    return -1 if work is None else work.source_rank()


class P2POp:
    """One ``isend`` or ``irecv`` for ``batch_isend_irecv``.

    Example::

        >>> ops = [P2POp(dist.isend, send_buf, (rank + 1) % world),
        ...        P2POp(dist.irecv, recv_buf, (rank - 1) % world)]
        >>> for work in dist.batch_isend_irecv(ops): work.wait()
    """

    def __init__(self, op: Callable, tensor: Tensor, peer: int | None = None,
                 group: ProcessGroup | None = None, tag: int = 0,
                 group_peer: int | None = None) -> None:
        if op not in (isend, irecv):
            raise ValueError("P2POp: op must be ember.distributed.isend or irecv")
        self.op, self.tensor, self.peer, self.group = op, tensor, peer, group
        self.tag, self.group_peer = tag, group_peer


def batch_isend_irecv(p2p_op_list: list) -> list:
    """Start every P2POp (MPI's non-blocking messages need no grouping) and return the Works."""
    return [p.op(p.tensor, p.peer, p.group, p.tag, p.group_peer) for p in p2p_op_list]


def barrier(group: ProcessGroup | None = None, async_op: bool = False,
            device_ids: list | None = None) -> Work | None:
    """Block until every rank of ``group`` reached the barrier."""
    pg = resolve(group, "barrier")
    if pg is None:
        return None
    return _done(pg.barrier(), async_op)


def monitored_barrier(group: ProcessGroup | None = None, timeout: timedelta | None = None,
                      wait_all_ranks: bool = False) -> None:
    """A barrier that names the ranks that did not reach it within ``timeout``.

    Every other rank tells group rank 0 it arrived and waits for rank 0's answer; rank 0
    answers once all arrived. When ``timeout`` (the group's, 30 minutes by default) passes
    first, rank 0 raises a RuntimeError naming the first missing rank, or all of them with
    ``wait_all_ranks=True``, and the ranks still waiting for its answer raise too.

    Example::

        >>> dist.monitored_barrier(timeout=timedelta(seconds=10), wait_all_ranks=True)
        RuntimeError: [Rank 0]: Ranks 2, 3 failed to pass monitoredBarrier in 10000 ms
    """
    pg = resolve(group, "monitored_barrier")
    if pg is None:
        return
    if timeout is None:
        timeout = pg.timeout
    elif isinstance(timeout, (int, float)):
        warnings.warn("Please specify timeout arg as a timedelta. Converting current value of "
                      f"{timeout} assuming it represents seconds", stacklevel=2)
        timeout = timedelta(seconds=timeout)
    if timeout.total_seconds() <= 0:
        raise ValueError(f"monitored_barrier: timeout must be positive, got {timeout}")
    # A tag per call: a message of a rank that came too late never counts for a later call.
    tag = pg._monitored_calls % 32768  # 32767 is the least upper bound MPI guarantees
    pg._monitored_calls += 1
    pg._orphans = [request for request in pg._orphans if not request.Test()]
    me, size = pg.rank(), pg.size()
    if size == 1:
        return
    comm, token = pg._control, np.zeros(1, np.uint8)
    deadline = time.monotonic() + timeout.total_seconds()
    ms = int(timeout.total_seconds() * 1000)
    if me != 0:
        arrived = comm.Isend(token, 0, tag)
        unanswered = _wait_until([comm.Irecv(np.empty(1, np.uint8), 0, tag)], deadline)
        if unanswered:
            pg._orphans.append(arrived)  # rank 0 may not have taken it: kept, never waited on
            raise RuntimeError(f"[Rank {me}]: Rank {me} successfully reached monitoredBarrier, "
                               "but received errors while waiting for send/recv from rank 0. "
                               "Please check rank 0 logs for faulty rank.")
        arrived.Wait()  # rank 0 answered, so it received this
        return
    missing = _wait_until([comm.Irecv(np.empty(1, np.uint8), r, tag) for r in range(1, size)],
                          deadline)
    if missing:
        missing = [r + 1 for r in missing]
        if wait_all_ranks:
            raise RuntimeError(f"[Rank 0]: Ranks {', '.join(map(str, missing))} failed to pass "
                               f"monitoredBarrier in {ms} ms")
        raise RuntimeError(f"[Rank 0]: Rank {missing[0]} failed to pass monitoredBarrier in "
                           f"{ms} ms")
    for r in range(1, size):  # a rank that gave up meanwhile never takes its answer
        pg._orphans.append(comm.Isend(token, r, tag))


def _wait_until(requests: list, deadline: float) -> list:
    """Poll mpi4py ``requests`` until all completed or ``deadline`` passed; cancel the ones
    still pending then and return their positions (empty when all completed)."""
    pending = list(enumerate(requests))
    while pending:
        pending = [(i, request) for i, request in pending if not request.Test()]
        if pending and time.monotonic() > deadline:
            for _, request in pending:
                request.Cancel()
                request.Wait()
            return [i for i, _ in pending]
        if pending:
            time.sleep(1e-3)
    return []


def send_object_list(object_list: list, dst: int | None = None,
                     group: ProcessGroup | None = None, device: Any = None,
                     group_dst: int | None = None, use_batch: bool = False) -> None:
    """Send the picklable objects of ``object_list`` to rank ``dst``, which receives them with
    ``recv_object_list`` (as a ``send``, it blocks until MPI took the message)."""
    pg = resolve(group, "send_object_list")
    if pg is None:
        return
    peer = _group_rank(pg, dst, group_dst, "send_object_list")
    if peer == pg.rank():
        raise ValueError("send_object_list: Invalid destination rank: should not be the same as "
                         "the rank of the current process.")
    pg._comm.send(list(object_list), peer, 0)


def recv_object_list(object_list: list, src: int | None = None,
                     group: ProcessGroup | None = None, device: Any = None,
                     group_src: int | None = None, use_batch: bool = False) -> int:
    """Fill ``object_list`` (of the sent list's length) with the objects that rank ``src``
    (any rank when None) sent with ``send_object_list``.

    Returns:
        The sender's global rank (-1 when this process is not in ``group``).
    """
    pg = resolve(group, "recv_object_list")
    if pg is None:
        return -1
    peer = _mpi.mpi().ANY_SOURCE if src is None and group_src is None else \
        _group_rank(pg, src, group_src, "recv_object_list")
    status = _mpi.mpi().Status()
    values = pg._comm.recv(None, peer, 0, status)
    _fill(object_list, values, "recv_object_list", "object_list")
    return pg.ranks[status.Get_source()]


def all_gather_object(object_list: list, obj: Any, group: ProcessGroup | None = None) -> None:
    """``object_list[i]`` becomes group rank ``i``'s ``obj`` (pickled)."""
    pg = resolve(group, "all_gather_object")
    if pg is None:
        return
    _fill(object_list, pg._comm.allgather(obj), "all_gather_object", "object_list")


def _fill(target: list, values: list, op: str, name: str) -> None:
    if len(target) != len(values):
        raise ValueError(f"{op}: {name} must have one entry per rank ({len(values)}), "
                         f"got {len(target)}")
    target[:] = values


def broadcast_object_list(object_list: list, src: int | None = None,
                          group: ProcessGroup | None = None, device: Any = None,
                          group_src: int | None = None) -> None:
    """Replace ``object_list``'s entries by those of rank ``src`` (the same length)."""
    pg = resolve(group, "broadcast_object_list")
    if pg is None:
        return
    root = _group_rank(pg, src, group_src, "broadcast_object_list", default=0)
    values = pg._comm.bcast(list(object_list) if pg.rank() == root else None, root)
    _fill(object_list, values, "broadcast_object_list", "object_list")


def gather_object(obj: Any, object_gather_list: list | None = None, dst: int | None = None,
                  group: ProcessGroup | None = None, group_dst: int | None = None) -> None:
    """On rank ``dst``, ``object_gather_list[i]`` becomes group rank ``i``'s ``obj``."""
    pg = resolve(group, "gather_object")
    if pg is None:
        return
    root = _group_rank(pg, dst, group_dst, "gather_object", default=0)
    values = pg._comm.gather(obj, root)
    if pg.rank() == root:
        if object_gather_list is None:
            raise ValueError("gather_object: the destination rank needs object_gather_list")
        _fill(object_gather_list, values, "gather_object", "object_gather_list")


def scatter_object_list(scatter_object_output_list: list,
                        scatter_object_input_list: list | None = None, src: int | None = None,
                        group: ProcessGroup | None = None, group_src: int | None = None) -> None:
    """``scatter_object_output_list[0]`` becomes entry ``rank`` of rank ``src``'s input list."""
    pg = resolve(group, "scatter_object_list")
    if pg is None:
        return
    root = _group_rank(pg, src, group_src, "scatter_object_list", default=0)
    if pg.rank() == root and (scatter_object_input_list is None
                              or len(scatter_object_input_list) != pg.size()):
        raise ValueError(f"scatter_object_list: the source rank needs {pg.size()} objects")
    values = list(scatter_object_input_list) if pg.rank() == root else None
    scatter_object_output_list[0] = pg._comm.scatter(values, root)
