"""Point-to-point messages, barriers and the ``*_object`` collectives of ``ember.distributed``.

Tensors travel as raw buffers; Python objects are pickled by mpi4py's lower-case methods
(``allgather``, ``bcast``, ...), which, as in PyTorch, trusts the job's own peers only.
"""
from __future__ import annotations

from typing import Any, Callable

from ember._tensor import Tensor
from ember.distributed.collectives import _array, _done, _group_rank
from ember.distributed.process_group import ProcessGroup, resolve
from ember.distributed.work import Work

__all__ = ["P2POp", "all_gather_object", "barrier", "batch_isend_irecv",
           "broadcast_object_list", "gather_object", "irecv", "isend", "recv",
           "scatter_object_list", "send"]


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
