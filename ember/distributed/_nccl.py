"""The NCCL engine (CuPy's ``cupy.cuda.nccl``): collectives on the device memory of CUDA tensors.

NOTE [ NCCL path untested on a GPU ]
This engine is written against CuPy's documented ``NcclCommunicator`` API (``allReduce``,
``bcast``, ``reduce``, ``allGather``, ``reduceScatter``, ``send``/``recv`` in
``groupStart``/``groupEnd``); ember's test machines have no GPU, so only its plumbing (the
errors when CuPy or NCCL is missing) is tested.

The communicator's unique id travels from rank 0 over the group's MPI communicator, as in
CuPy's own multi-process examples, so NCCL jobs are launched with ``mpiexec`` as well. Every
call is enqueued on the current CUDA stream; its Work records an event there, and ``wait()``
makes the current stream wait for that event (PyTorch's meaning of waiting on NCCL work).
"""
from __future__ import annotations

import contextlib
import importlib

from ember.distributed.work import ReduceOp, Work

_DTYPES = {"int8": "NCCL_INT8", "uint8": "NCCL_UINT8", "bool": "NCCL_UINT8",
           "int32": "NCCL_INT32", "uint32": "NCCL_UINT32", "int64": "NCCL_INT64",
           "uint64": "NCCL_UINT64", "float16": "NCCL_FLOAT16", "float32": "NCCL_FLOAT32",
           "float64": "NCCL_FLOAT64", "bfloat16": "NCCL_BFLOAT16"}
_OPS = {ReduceOp.SUM: "NCCL_SUM", ReduceOp.PRODUCT: "NCCL_PROD", ReduceOp.MIN: "NCCL_MIN",
        ReduceOp.MAX: "NCCL_MAX"}
# On bools (stored as bytes 0/1) PyTorch's SUM and MAX are OR, PRODUCT and MIN are AND.
_BOOL_OPS = {ReduceOp.SUM: "NCCL_MAX", ReduceOp.MAX: "NCCL_MAX", ReduceOp.BOR: "NCCL_MAX",
             ReduceOp.PRODUCT: "NCCL_MIN", ReduceOp.MIN: "NCCL_MIN", ReduceOp.BAND: "NCCL_MIN"}


def load():
    """``(cupy, cupy.cuda.nccl)``, or a RuntimeError that says what is missing."""
    from ember.backend import cuda
    cp = cuda._import_cupy()
    if cp is None:
        raise RuntimeError("backend 'nccl' needs CuPy and an NVIDIA GPU (pip install "
                           "ember[cuda12]); for CPU tensors use backend='mpi' (or 'gloo')")
    try:
        nccl = importlib.import_module("cupy.cuda.nccl")
    except ImportError as e:
        raise RuntimeError("backend 'nccl': this CuPy cannot load NCCL (pip install "
                           "nvidia-nccl-cu12, or a CuPy built with NCCL)") from e
    if not getattr(nccl, "available", False):
        raise RuntimeError("backend 'nccl': CuPy reports that NCCL is not available")
    return cp, nccl


def is_available() -> bool:
    try:
        load()
    except RuntimeError:
        return False
    return True


class _StreamEvent:
    """A CUDA event as a request: waiting orders the current stream after it."""

    def __init__(self, cp, event) -> None:
        self.cp, self.event = cp, event

    def Wait(self) -> None:  # noqa: N802  (the spelling Work calls, mpi4py's)
        self.cp.cuda.get_current_stream().wait_event(self.event)

    def Test(self) -> bool:  # noqa: N802
        return self.event.done


class NCCLEngine:
    """One NCCL communicator over the ranks of an MPI communicator, bound to CUDA device
    ``device`` (the current one when None)."""

    name = "nccl"

    def __init__(self, comm, device: int | None) -> None:
        self.cp, self.nccl = load()
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        uid = self.nccl.get_unique_id() if self.rank == 0 else None
        uid = comm.bcast(uid, root=0)
        with self.cp.cuda.Device(device):
            self.comm = self.nccl.NcclCommunicator(self.size, uid, self.rank)

    def _dtype(self, array) -> int:
        name = _DTYPES.get(array.dtype.name)
        if name is None:
            raise TypeError(f"NCCL cannot reduce {array.dtype} tensors")
        return getattr(self.nccl, name)

    def _op(self, op: ReduceOp, array) -> int:
        name = (_BOOL_OPS if array.dtype.name == "bool" else _OPS).get(op)
        if name is None:
            raise ValueError(f"Cannot use ReduceOp.{op.name} with NCCL on {array.dtype}")
        return getattr(self.nccl, name)

    def _stream(self) -> int:
        return self.cp.cuda.get_current_stream().ptr

    def _work(self, op: str) -> Work:
        return Work(op, [_StreamEvent(self.cp, self.cp.cuda.get_current_stream().record())])

    @contextlib.contextmanager
    def _grouped(self):
        self.nccl.groupStart()
        try:
            yield
        finally:
            self.nccl.groupEnd()

    def allreduce(self, array, op: ReduceOp) -> Work:
        ptr = array.data.ptr
        self.comm.allReduce(ptr, ptr, array.size, self._dtype(array), self._op(op, array),
                            self._stream())
        return self._work("all_reduce")

    def broadcast(self, array, root: int) -> Work:
        self.comm.bcast(array.data.ptr, array.nbytes, self.nccl.NCCL_UINT8, root,
                        self._stream())
        return self._work("broadcast")

    def reduce(self, array, root: int, op: ReduceOp) -> Work:
        ptr = array.data.ptr
        self.comm.reduce(ptr, ptr, array.size, self._dtype(array), self._op(op, array), root,
                         self._stream())
        return self._work("reduce")

    def allgather(self, out, array) -> Work:
        self.comm.allGather(array.data.ptr, out.data.ptr, array.nbytes, self.nccl.NCCL_UINT8,
                            self._stream())
        return self._work("all_gather")

    def reduce_scatter(self, out, array, op: ReduceOp) -> Work:
        self.comm.reduceScatter(array.data.ptr, out.data.ptr, out.size, self._dtype(array),
                                self._op(op, array), self._stream())
        return self._work("reduce_scatter")

    def _exchange(self, sends: list, recvs: list) -> None:
        """Point-to-point ``(peer, ptr, nbytes)`` messages as one NCCL group call."""
        stream, byte = self._stream(), self.nccl.NCCL_UINT8
        with self._grouped():
            for peer, ptr, nbytes in sends:
                self.comm.send(ptr, nbytes, byte, peer, stream)
            for peer, ptr, nbytes in recvs:
                self.comm.recv(ptr, nbytes, byte, peer, stream)

    def gather(self, out, array, root: int) -> Work:
        n = array.nbytes
        if self.rank == root:
            self._exchange([], [(p, out.data.ptr + p * n, n) for p in range(self.size)
                                if p != root])
            out.reshape(self.size, -1)[root] = array.reshape(-1)
        else:
            self._exchange([(root, array.data.ptr, n)], [])
        return self._work("gather")

    def scatter(self, out, array, root: int) -> Work:
        n = out.nbytes
        if self.rank == root:
            self._exchange([(p, array.data.ptr + p * n, n) for p in range(self.size)
                            if p != root], [])
            out.reshape(-1)[...] = array.reshape(self.size, -1)[root]
        else:
            self._exchange([], [(root, out.data.ptr, n)])
        return self._work("scatter")

    def alltoall(self, out, array, out_counts: list, in_counts: list) -> Work:
        offsets_in = [sum(in_counts[:p]) for p in range(self.size)]
        offsets_out = [sum(out_counts[:p]) for p in range(self.size)]
        others = [p for p in range(self.size) if p != self.rank]
        self._exchange([(p, array.data.ptr + offsets_in[p], in_counts[p]) for p in others],
                       [(p, out.data.ptr + offsets_out[p], out_counts[p]) for p in others])
        mine, theirs = offsets_out[self.rank], offsets_in[self.rank]
        count = in_counts[self.rank]
        out_bytes = out.reshape(-1).view("uint8")
        out_bytes[mine:mine + count] = array.reshape(-1).view("uint8")[theirs:theirs + count]
        return self._work("all_to_all")

    def send(self, array, dst: int, tag: int) -> Work:
        self.comm.send(array.data.ptr, array.nbytes, self.nccl.NCCL_UINT8, dst, self._stream())
        return self._work("send")

    def recv(self, array, src: int | None, tag: int):
        if src is None:
            raise ValueError("recv: NCCL needs the source rank (no receive from any source)")
        self.comm.recv(array.data.ptr, array.nbytes, self.nccl.NCCL_UINT8, src, self._stream())
        return self._work("recv"), lambda: src

    def close(self) -> None:
        self.comm.destroy()
