"""ReduceOp, Backend, Work, Future, DebugLevel and the Dist* errors: the small types that
every collective uses."""
from __future__ import annotations

import enum
import os
import threading
import time
import warnings
from datetime import timedelta
from typing import Any, Callable, Generic, TypeVar

__all__ = ["Backend", "DebugLevel", "DistBackendError", "DistError", "DistNetworkError",
           "DistStoreError", "Future", "QueueEmptyError", "ReduceOp", "Work", "get_debug_level",
           "reduce_op", "set_debug_level", "set_debug_level_from_env"]


class DistError(RuntimeError):
    """An error of the distributed package (a RuntimeError, as in PyTorch)."""


class DistBackendError(DistError):
    """A collective or message failed in the engine (MPI, NCCL)."""


class DistNetworkError(DistError):
    """A network error."""


class DistStoreError(DistError):
    """A store error (ember has no store: ranks come from the MPI launcher)."""


class QueueEmptyError(DistStoreError):
    """A store queue was empty."""


class DebugLevel(enum.IntEnum):
    """How much checking ``ember.distributed`` does: with ``DETAIL`` every collective first
    checks that all ranks run the same op on the same shapes."""

    OFF = 0
    INFO = 1
    DETAIL = 2

    def __str__(self) -> str:
        return f"DebugLevel.{self.name}"


def get_debug_level() -> DebugLevel:
    """The debug level (``TORCH_DISTRIBUTED_DEBUG`` at import, or ``set_debug_level``'s)."""
    return _debug_level


def set_debug_level(level: DebugLevel) -> None:
    """Set the debug level of the distributed package; collectives read it at each call, so
    every rank must set the same level."""
    global _debug_level
    if not isinstance(level, DebugLevel):
        raise TypeError(f"set_debug_level: expected a DebugLevel, got {level!r}")
    _debug_level = level


def set_debug_level_from_env() -> None:
    """Set the debug level from ``TORCH_DISTRIBUTED_DEBUG`` (OFF, INFO or DETAIL)."""
    value = os.environ.get("TORCH_DISTRIBUTED_DEBUG", "OFF").upper()
    if value not in DebugLevel.__members__:
        raise ValueError("The value of TORCH_DISTRIBUTED_DEBUG must be OFF, INFO, or DETAIL, "
                         f"but got {value!r}")
    set_debug_level(DebugLevel[value])


_debug_level = DebugLevel.__members__.get(
    os.environ.get("TORCH_DISTRIBUTED_DEBUG", "OFF").upper(), DebugLevel.OFF)


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


class _reduce_op:  # noqa: N801  (PyTorch's type name, shown in its errors)
    """``dist.reduce_op``: the deprecated spelling of ReduceOp (older tutorials and scripts
    write ``dist.reduce_op.SUM``); each member read warns, as in PyTorch."""

    def __getattr__(self, name: str) -> ReduceOp:
        if name.startswith("__"):  # copy/pickle probing: no member, no warning
            raise AttributeError(name)
        warnings.warn("`torch.distributed.reduce_op` is deprecated, please use "
                      "`torch.distributed.ReduceOp` instead", FutureWarning, stacklevel=2)
        try:
            return ReduceOp[name]
        except KeyError:
            raise AttributeError(f"'_reduce_op' object has no attribute '{name}'") from None


reduce_op = _reduce_op()


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


# NOTE [ Dropped Works ]
# An async collective whose Work the caller drops (``Join.notify_join_context``'s, or a user's
# ``isend`` never waited on) must still complete, as in PyTorch: the engine writes into the
# Work's buffers until then, so freeing them early would corrupt memory. A Work collected
# before completion is kept here instead, and finished (its callbacks run) by the next
# Work's creation once the engine reports it done.
_dropped: list = []


def _finish_dropped() -> None:
    pending = []
    for work in _dropped:
        try:
            if not work.is_completed():
                pending.append(work)
        except RuntimeError:
            pass  # nobody waits for it any more: its failure has no one to report to
    _dropped[:] = pending


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
        if _dropped:
            _finish_dropped()

    def __del__(self) -> None:
        if self._requests and not self._done:
            _dropped.append(self)  # NOTE [ Dropped Works ]

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
            raise DistBackendError(f"{self._op} failed: {e}") from e
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

    def get_future(self) -> "Future":
        """A Future completed with ``result()`` when the operation finishes."""
        future = Future()
        future._driver = lambda: future.set_result(self.result())
        future._ready = self.is_completed
        return future

    def source_rank(self) -> int:
        """For ``irecv``: the global rank the message came from."""
        if self._source_rank is None:
            raise RuntimeError(f"{self._op}: source_rank() is only defined for recv")
        self.wait()
        return self._source_rank()


T = TypeVar("T")


class Future(Generic[T]):
    """``torch.futures.Future``: a value that becomes available later (a Work's outputs, or a
    ``set_result`` from elsewhere), with ``then`` chaining.

    A Future made by ``Work.get_future`` completes when it is waited on or polled: ember runs
    no background thread, so the callbacks of ``then`` and ``add_done_callback`` run in the
    thread that first waits (or inline, when the Future is already complete).

    Example::

        >>> fut = ember.distributed.Future()
        >>> doubled = fut.then(lambda f: f.value() * 2)
        >>> fut.set_result(21)
        >>> doubled.wait()
        42

    Generic in its value's type, as PyTorch's is: ``Future[Tensor]`` annotates.
    """

    def __init__(self, *, devices: list | None = None) -> None:
        self._event = threading.Event()
        self._value: Any = None
        self._error: BaseException | None = None
        self._callbacks: list[Callable[["Future"], None]] = []
        self._driver: Callable[[], None] | None = None  # completes this Future (a Work's wait)
        self._ready: Callable[[], bool] | None = None   # whether the driver would not block

    def done(self) -> bool:
        """Whether the value (or an error) is set."""
        if not self._event.is_set() and self._ready is not None and self._ready():
            self._drive()
        return self._event.is_set()

    def _drive(self) -> None:
        driver, self._driver, self._ready = self._driver, None, None
        if driver is not None:
            try:
                driver()
            except Exception as e:
                if not self._event.is_set():
                    self.set_exception(e)

    def wait(self) -> Any:
        """Block until complete; return the value or raise the error."""
        self._drive()
        self._event.wait()
        if self._error is not None:
            raise self._error
        return self._value

    def value(self) -> Any:
        """The value of a completed Future (raises its error)."""
        if not self.done():
            raise RuntimeError("Future.value() called on a Future that is not complete; call "
                               "wait() first")
        return self.wait()

    def set_result(self, result: Any) -> None:
        """Complete with ``result`` and run the callbacks."""
        self._complete(result, None)

    def set_exception(self, result: BaseException) -> None:
        """Complete with an error that ``wait`` and ``value`` raise."""
        self._complete(None, result)

    def _complete(self, value: Any, error: BaseException | None) -> None:
        if self._event.is_set():
            raise RuntimeError("Attempting to mark a completed Future as complete again. Note "
                               "that a Future can only be marked completed once.")
        self._value, self._error = value, error
        self._event.set()
        callbacks, self._callbacks = self._callbacks, []
        for fn in callbacks:
            fn(self)

    def add_done_callback(self, callback: Callable[["Future"], None]) -> None:
        """Run ``callback(self)`` on completion (now, if already complete)."""
        if self._event.is_set():
            callback(self)
        else:
            self._callbacks.append(callback)

    def then(self, callback: Callable[["Future"], Any]) -> "Future":
        """A Future holding ``callback(self)``, computed when this one completes (of this
        Future's class, so that an RPC future's chain waits as it does)."""
        child = type(self)()

        def run(fut: Future) -> None:
            try:
                child.set_result(callback(fut))
            except Exception as e:
                error = RuntimeError("Got the following error when running the callback: "
                                     f"{type(e).__name__}: {e}")
                error.__cause__ = e
                child.set_exception(error)

        self.add_done_callback(run)
        if not child._event.is_set():
            child._driver, child._ready = self._drive, self.done
        return child
