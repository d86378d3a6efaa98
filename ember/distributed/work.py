"""ReduceOp, Backend and Work: the small types that every collective uses."""
from __future__ import annotations

import enum
import time
from datetime import timedelta
from typing import Callable

__all__ = ["Backend", "ReduceOp", "Work"]


class ReduceOp(enum.Enum):
    """How ``all_reduce``, ``reduce`` and ``reduce_scatter`` combine the ranks' values.

    ``AVG`` is the sum divided by the group size (floating-point tensors only); ``BAND``,
    ``BOR`` and ``BXOR`` are bitwise and need integer or bool tensors.
    """

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    BAND = "band"
    BOR = "bor"
    BXOR = "bxor"

    def __repr__(self) -> str:
        return f"<RedOpType.{self.name}>"


ReduceOp.RedOpType = ReduceOp  # PyTorch spells the members ``ReduceOp.RedOpType.SUM`` too


class Backend(str):
    """A backend name, lower-cased: ``Backend("MPI") == "mpi"``.

    ember runs ``"mpi"`` (mpi4py, CPU tensors) and ``"nccl"`` (CuPy, CUDA tensors);
    ``"gloo"`` is accepted as another name for ``"mpi"`` on the CPU.
    """

    MPI = "mpi"
    NCCL = "nccl"
    GLOO = "gloo"
    UNDEFINED = "undefined"

    def __new__(cls, name: str) -> "Backend":
        if not isinstance(name, str):
            raise ValueError(f"Backend name must be a string, but got: {name!r}")
        return str.__new__(cls, name.lower())


class Work:
    """The handle an ``async_op=True`` collective or ``isend``/``irecv`` returns.

    ``wait()`` blocks until the operation finished and its output tensors hold the result
    (for NCCL, until the current CUDA stream is ordered after it, as in PyTorch).

    Args (internal):
        op: the operation's name, for error messages.
        requests: engine handles with ``Wait()`` and ``Test()`` (mpi4py requests, CUDA events).
        result: the output tensors, returned by ``result()``.
    """

    def __init__(self, op: str, requests: list = (), result: list = ()) -> None:
        self._op = op
        self._requests = list(requests)
        self._callbacks: list[Callable[[], None]] = []
        self._result = list(result)
        self._done = False
        self._source_rank: Callable[[], int] | None = None

    def then(self, fn: Callable[[], None]) -> "Work":
        """Run ``fn`` once the engine finished (copy-outs, division for AVG)."""
        self._callbacks.append(fn)
        return self

    def wait(self, timeout: timedelta | float | None = None) -> bool:
        """Block until the operation completed; raise RuntimeError on failure or timeout."""
        if self._done:
            return True
        if timeout is not None:
            seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
            deadline = time.monotonic() + seconds
            while not self._test():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self._op}: timed out after {seconds} s")
                time.sleep(1e-4)
        try:
            for request in self._requests:
                request.Wait()
        except Exception as e:  # mpi4py.MPI.Exception or a CUDA error: say which op failed
            raise RuntimeError(f"{self._op} failed: {e}") from e
        self._requests = []
        for fn in self._callbacks:
            fn()
        self._done = True
        return True

    def _test(self) -> bool:
        return all(request.Test() for request in self._requests)

    def is_completed(self) -> bool:
        """Whether the operation finished (then its outputs are ready)."""
        if not self._done and self._test():
            self.wait()
        return self._done

    def is_success(self) -> bool:
        return self.is_completed()

    def exception(self) -> None:
        return None

    def synchronize(self) -> None:
        self.wait()

    def result(self) -> list:
        """The output tensors, after waiting."""
        self.wait()
        return self._result

    def source_rank(self) -> int:
        """For ``irecv``: the global rank the message came from."""
        if self._source_rank is None:
            raise RuntimeError(f"{self._op}: source_rank() is only defined for recv")
        self.wait()
        return self._source_rank()

