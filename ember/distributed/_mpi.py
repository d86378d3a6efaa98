"""The MPI engine (mpi4py): collectives on the NumPy buffers of CPU tensors.

mpi4py is imported here on first use only, so ``import ember`` never starts MPI. Every call
is MPI's non-blocking form (``Iallreduce``, ``Ibcast``, ...) and returns a Work; the blocking
API waits on it. Data moves through the buffer protocol, never through pickle; operations that
only move data (broadcast, gather, send) see the buffer as bytes, so any dtype travels, and
reductions use the typed buffer (bfloat16, which MPI cannot add, is staged through float32).
"""
from __future__ import annotations

import functools
import importlib.util
import os
import sys

import numpy as np

from ember.distributed.work import ReduceOp, Work

INSTALL_HINT = ("pip install mpi4py mpich (or ember[distributed]), then launch with "
                "`mpiexec -n N python script.py`")


def is_available() -> bool:
    """Whether mpi4py can be imported (found without importing it, which would start MPI)."""
    return importlib.util.find_spec("mpi4py") is not None


@functools.lru_cache(maxsize=None)
def mpi():
    """The ``mpi4py.MPI`` module (importing it initialises MPI once per process)."""
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise RuntimeError(f"ember.distributed needs mpi4py and an MPI library: {INSTALL_HINT}"
                           ) from e
    return MPI


# What MPI launchers put in their processes' environment: MPICH's Hydra (PMI_*), PMIx
# launchers (Open MPI's prterun, Slurm's srun --mpi=pmix), Open MPI's older mpirun.
_LAUNCHER_VARIABLES = ("PMI_FD", "PMI_PORT", "PMI_RANK", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE")


def started_by_launcher() -> bool:
    """Whether an MPI launcher (``mpiexec``, ``srun``) started this process."""
    return any(name in os.environ for name in _LAUNCHER_VARIABLES)


def is_started() -> bool:
    """Whether MPI is already running in this process (mpi4py imported it)."""
    module = sys.modules.get("mpi4py.MPI")
    return module is not None and module.Is_initialized()


def _op(op: ReduceOp, dtype: np.dtype):
    MPI = mpi()
    if dtype == np.bool_:  # MPI adds no bools; PyTorch's bool SUM/MAX is OR, PRODUCT/MIN is AND
        table = {ReduceOp.SUM: MPI.LOR, ReduceOp.MAX: MPI.LOR, ReduceOp.BOR: MPI.LOR,
                 ReduceOp.PRODUCT: MPI.LAND, ReduceOp.MIN: MPI.LAND, ReduceOp.BAND: MPI.LAND,
                 ReduceOp.BXOR: MPI.LXOR}
    else:
        table = {ReduceOp.SUM: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD, ReduceOp.MIN: MPI.MIN,
                 ReduceOp.MAX: MPI.MAX, ReduceOp.BAND: MPI.BAND, ReduceOp.BOR: MPI.BOR,
                 ReduceOp.BXOR: MPI.BXOR}
    return table[op]


def _bytes(array: np.ndarray) -> np.ndarray:
    return array.reshape(-1).view(np.uint8)


def _typed(array: np.ndarray) -> np.ndarray:
    """The buffer a reduction runs on: the array itself, or a float32 copy for bfloat16."""
    if array.dtype.kind == "V":  # ml_dtypes' bfloat16 and float8 types
        return array.astype(np.float32)
    return array


class MPIEngine:
    """Collectives and point-to-point messages of one MPI communicator, on NumPy arrays.

    Ranks are the communicator's own (group ranks); arrays are C-contiguous.
    """

    name = "mpi"

    def __init__(self, comm) -> None:
        self.comm = comm

    def allreduce(self, array: np.ndarray, op: ReduceOp) -> Work:
        buf = _typed(array)
        work = _start("all_reduce", self.comm.Iallreduce, mpi().IN_PLACE, buf,
                      _op(op, buf.dtype))
        return _copy_back(work, array, buf)

    def broadcast(self, array: np.ndarray, root: int) -> Work:
        return _start("broadcast", self.comm.Ibcast, _bytes(array), root)

    def reduce(self, array: np.ndarray, root: int, op: ReduceOp) -> Work:
        buf = _typed(array)
        mine = self.comm.Get_rank() == root
        work = _start("reduce", self.comm.Ireduce, mpi().IN_PLACE if mine else buf,
                      buf if mine else None, _op(op, buf.dtype), root)
        return _copy_back(work, array, buf)

    def allgather(self, out: np.ndarray, array: np.ndarray) -> Work:
        """``out`` holds ``size`` copies of ``array``'s shape, in rank order."""
        return _start("all_gather", self.comm.Iallgather, _bytes(array), _bytes(out))

    def reduce_scatter(self, out: np.ndarray, array: np.ndarray, op: ReduceOp) -> Work:
        """``out`` receives this rank's block of the reduction of ``array``."""
        send, recv = _typed(array), _typed(out)
        work = _start("reduce_scatter", self.comm.Ireduce_scatter_block, send, recv,
                      _op(op, send.dtype))
        return _copy_back(work, out, recv)

    def gather(self, out: np.ndarray | None, array: np.ndarray, root: int) -> Work:
        recv = _bytes(out) if out is not None else None
        return _start("gather", self.comm.Igather, _bytes(array), recv, root)

    def scatter(self, out: np.ndarray, array: np.ndarray | None, root: int) -> Work:
        send = _bytes(array) if array is not None else None
        return _start("scatter", self.comm.Iscatter, send, _bytes(out), root)

    def alltoall(self, out: np.ndarray, array: np.ndarray, out_counts: list,
                 in_counts: list) -> Work:
        """Rank ``j`` gets ``in_counts[j]`` bytes of ``array`` from here, in rank order."""
        send = [_bytes(array), (in_counts, _offsets(in_counts))]
        recv = [_bytes(out), (out_counts, _offsets(out_counts))]
        return _start("all_to_all", self.comm.Ialltoallv, send, recv)

    def send(self, array: np.ndarray, dst: int, tag: int) -> Work:
        return _start("send", self.comm.Isend, _bytes(array), dst, tag)

    def recv(self, array: np.ndarray, src: int | None, tag: int) -> tuple[Work, object]:
        """Returns the Work and a function giving the sender's rank in this communicator."""
        MPI = mpi()
        status = MPI.Status()
        source = MPI.ANY_SOURCE if src is None else src
        work = _start("recv", lambda: _StatusRequest(self.comm.Irecv(_bytes(array), source, tag),
                                                     status))
        return work, status.Get_source

    def close(self) -> None:
        """Nothing to release: the communicator belongs to the process group."""


class _StatusRequest:
    """An mpi4py request whose completion fills ``status`` (the sender of a recv)."""

    def __init__(self, request, status) -> None:
        self.request, self.status = request, status

    def Wait(self) -> None:  # noqa: N802  (mpi4py's spelling, which Work calls)
        self.request.Wait(self.status)

    def Test(self) -> bool:  # noqa: N802
        return self.request.Test(self.status)


def _start(op: str, start, *args) -> Work:
    """``start(*args)`` (an mpi4py non-blocking call) as a Work; MPI's errors name ``op``."""
    try:
        return Work(op, [start(*args)])
    except mpi().Exception as e:
        raise RuntimeError(f"{op} failed: {e}") from e


def _offsets(counts: list) -> list:
    return np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64).tolist()


def _copy_back(work: Work, array: np.ndarray, buf: np.ndarray) -> Work:
    if buf is not array:
        work.then(lambda: np.copyto(array, buf, casting="unsafe"))
    return work
