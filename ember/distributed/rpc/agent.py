"""The RPC agent: requests and replies as MPI messages, a listener thread and a pool of workers.

NOTE [ RPC over MPI ]
Every message is bytes sent with ``Isend`` on a communicator of RPC's own (a duplicate of the
world's, so RPC never meets the user's or the process group's messages), tagged REQUEST or
REPLY. One listener thread per worker probes for messages (``Improbe``, backing off to short
sleeps when idle, as MPICH's blocking receive would spin a core), hands requests to the worker
threads and completes the futures of replies; it also fails the futures of calls past their
timeout. No thread ever blocks in an MPI send: a send returns at once and the listener reaps
finished sends, so two workers sending each other large messages cannot deadlock. This needs
MPI_THREAD_MULTIPLE, which mpi4py asks for by default (mpich grants it; init_rpc checks).
The listener also sends the calls queued with ``defer`` (the RRefs' reference counting).

``shutdown`` waits until every worker has called it and no request is outstanding anywhere
(two rounds of summed counts of requests sent and replies received that agree and did not
move); meanwhile the workers ping each other's listeners, so that a worker that died (MPI
would wait for it forever) is reported after ``rpc_timeout`` instead of hanging the others.

A request carries a picklable function with its arguments and the caller's distributed-autograd
context id; ``remote``, ``to_here``, the distributed backward pass and the optimizer's steps are
all such calls of module-level functions. The worker thread runs it (in the caller's context)
and replies with its value or its exception, which the caller re-raises; a function marked
``async_execution`` returns a Future, and the reply goes when that completes. Handlers run
side by side, as PyTorch's: grad mode is per thread, so one handler's ``no_grad`` optimizer
step leaves another's forward pass recording its graph.
"""
from __future__ import annotations

import collections
import io
import itertools
import math
import pickle
import queue
import threading
import time
import traceback

import numpy as np

from ember.distributed import _mpi
from ember.distributed.rpc.options import WorkerInfo
from ember.distributed.work import Future

REQUEST, REPLY, PING, PONG = 1, 2, 3, 4


class _RemoteError:
    """An exception raised by a request's function, as it travels back to the caller."""

    def __init__(self, error: BaseException, worker: WorkerInfo) -> None:
        kind = type(error)
        try:
            pickle.dumps(kind)
        except Exception:
            kind = RuntimeError
        self.kind = kind
        # PyTorch's text, the type's name first as its C++ layer puts it
        self.text = f"{type(error).__name__}: On {worker}:\n{error!r}\n{traceback.format_exc()}"

    def exception(self) -> BaseException:
        """The same type of exception, its message saying where and why (as PyTorch's)."""
        try:
            return self.kind(self.text)
        except Exception:
            return RuntimeError(self.text)


class _Pickler(pickle.Pickler):
    """Pickles RRefs and RemoteModules (which only travel in RPCs) and, inside a
    distributed-autograd context, tensors that require grad (recording a send edge: see
    ember.distributed.autograd)."""

    def __init__(self, file, peer: int, context) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        from ember._tensor import Tensor
        from ember.distributed.nn.api.remote_module import _RemoteModule
        from ember.distributed.rpc.rref import RRef
        self.peer, self.context = peer, context
        self.rref_type, self.tensor_type = RRef, Tensor
        self.remote_module_type = _RemoteModule

    def reducer_override(self, obj):
        if isinstance(obj, self.remote_module_type):
            return obj._rpc_reduce()
        return NotImplemented

    def persistent_id(self, obj):
        if isinstance(obj, self.rref_type):
            return obj._on_wire(self.peer)
        if (self.context is not None and isinstance(obj, self.tensor_type)
                and obj.requires_grad):
            return ("grad", self.context.record_send(obj, self.peer), obj.detach())
        return None


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, peer: int, context) -> None:
        super().__init__(file)
        self.peer, self.context = peer, context

    def persistent_load(self, pid):
        if pid[0] == "rref":
            from ember.distributed.rpc.rref import RRef
            return RRef._from_wire(pid, self.peer)
        if pid[0] == "grad":
            return self.context.record_recv(pid[2], self.peer, pid[1])
        raise pickle.UnpicklingError(f"unknown persistent id {pid[0]!r}")


def dumps(obj, peer: int, context) -> bytes:
    out = io.BytesIO()
    _Pickler(out, peer, context).dump(obj)
    return out.getvalue()


def loads(data: bytes, peer: int, context):
    return _Unpickler(io.BytesIO(data), peer, context).load()


class Agent:
    """One worker's end of RPC (see NOTE [ RPC over MPI ])."""

    def __init__(self, comm, control, names: list, options) -> None:
        self.comm, self.control = comm, control
        self.rank = comm.Get_rank()
        self.workers = [WorkerInfo(n, i) for i, n in enumerate(names)]
        self.by_name = {w.name: w for w in self.workers}
        self.timeout = options.rpc_timeout
        self.max_threads = options.num_worker_threads
        self._lock = threading.Lock()
        self._pending: dict = {}  # call id -> (future, deadline, timeout, context id)
        self._call_ids = itertools.count()
        self._sends: list = []  # (MPI request, buffer) of sends not known to be done
        self.sent = 0  # requests sent, and replies received: equal everywhere when all is done
        self.answered = 0
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list = []
        self._idle = 0
        self._heard: list = []  # when each worker last answered a PING (in shutdown)
        self._deferred: collections.deque = collections.deque()  # see defer()
        self._deferring = True
        self._flushing = threading.Lock()
        self._stop = threading.Event()
        self._listener = threading.Thread(target=self._listen, name="rpc-listener", daemon=True)
        self._listener.start()

    @property
    def me(self) -> WorkerInfo:
        return self.workers[self.rank]

    # -- the caller's side --------------------------------------------------------------------

    def call(self, dst: int, func, args: tuple, kwargs: dict, timeout: float) -> Future:
        """Run ``func(*args, **kwargs)`` on worker ``dst``; the Future holds its value."""
        from ember.distributed import autograd as dist_autograd
        context = dist_autograd._current_context()
        payload = dumps((func, args, kwargs), dst, context)
        future = Future()
        if timeout < 0:
            timeout = self.timeout
        deadline = time.monotonic() + timeout if timeout > 0 else math.inf
        context_id = -1 if context is None else context.id
        call_id = next(self._call_ids)
        with self._lock:
            self._pending[call_id] = (future, deadline, timeout, context_id)
            self.sent += 1
        self._send(dst, REQUEST, pickle.dumps((call_id, context_id, payload)))
        return future

    def defer(self, after: Future | None, dst: int, func, args: tuple) -> None:
        """Call ``func(*args)`` on ``dst`` later (once ``after`` is done), from the listener:
        for RRefs' finalizers, which may run where sending could deadlock (see NOTE [ RRef
        reference counting ] in rref.py). Nobody waits for the call; shutdown does."""
        if self._deferring:
            self._deferred.append((after, dst, func, args))

    def _send_deferred(self) -> None:
        from ember.distributed import autograd as dist_autograd
        if not self._flushing.acquire(blocking=False):
            return  # the listener and shutdown's thread both flush; one at a time
        try:
            with dist_autograd._running_in(None):
                for _ in range(len(self._deferred)):
                    after, dst, func, args = self._deferred.popleft()
                    if after is not None and not after.done():
                        self._deferred.append((after, dst, func, args))
                    else:
                        self.call(dst, func, args, {}, 0)
        finally:
            self._flushing.release()

    def _on_reply(self, src: int, message: bytes) -> None:
        call_id, ok, payload = pickle.loads(message)
        with self._lock:
            entry = self._pending.pop(call_id, None)
        try:
            if entry is None:  # timed out already
                return
            future, _, _, context_id = entry
            from ember.distributed import autograd as dist_autograd
            try:
                value = loads(payload, src, dist_autograd._context_for(context_id, src))
            except Exception as e:
                future.set_exception(e)
                return
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value.exception())
        finally:
            with self._lock:  # only now: the callbacks above may have sent requests
                self.answered += 1

    def _expire(self, now: float) -> None:
        with self._lock:
            late = [(i, e) for i, e in self._pending.items() if e[1] < now]
            for i, _ in late:
                del self._pending[i]
        for _, (future, _, timeout, _) in late:
            future.set_exception(RuntimeError(
                f"RPCErr:1:RPC ran for more than set timeout ({int(timeout * 1000)} ms) and will "
                "now be marked with an error"))  # PyTorch's text, its error code first

    # -- the callee's side --------------------------------------------------------------------

    def _submit(self, src: int, message: bytes) -> None:
        with self._lock:
            grow = self._idle == 0 and len(self._threads) < self.max_threads
            if grow:
                thread = threading.Thread(target=self._work, name="rpc-worker", daemon=True)
                self._threads.append(thread)
        if grow:
            thread.start()
        self._jobs.put((src, message))

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            job = self._jobs.get()
            with self._lock:
                self._idle -= 1
            if job is None:
                return
            self._handle(*job)

    def _handle(self, src: int, message: bytes) -> None:
        from ember.distributed import autograd as dist_autograd
        call_id, context_id, payload = pickle.loads(message)
        context = dist_autograd._context_for(context_id, src)
        with dist_autograd._running_in(context):
            try:
                func, args, kwargs = loads(payload, src, context)
                value = func(*args, **kwargs)
                if getattr(func, "_wrapped_async_rpc_function", False):
                    if not isinstance(value, Future):
                        raise TypeError("Functions decorated with @rpc.async_function must "
                                        f"return a torch.futures.Future object, but got {value}")
                    value.add_done_callback(
                        lambda f: self._reply_with_future(src, call_id, context, f))
                    return
            except Exception as e:
                self._reply(src, call_id, context, False, _RemoteError(e, self.me))
                return
            self._reply(src, call_id, context, True, value)

    def _reply_with_future(self, src: int, call_id: int, context, future: Future) -> None:
        try:
            value = future.wait()
        except Exception as e:
            self._reply(src, call_id, context, False, _RemoteError(e, self.me))
            return
        self._reply(src, call_id, context, True, value)

    def _reply(self, dst: int, call_id: int, context, ok: bool, value) -> None:
        try:
            payload = dumps(value, dst, context)
        except Exception as e:
            ok, payload = False, dumps(_RemoteError(e, self.me), dst, None)
        self._send(dst, REPLY, pickle.dumps((call_id, ok, payload)))

    # -- MPI ----------------------------------------------------------------------------------

    def _send(self, dst: int, tag: int, message: bytes) -> None:
        MPI = _mpi.mpi()
        request = self.comm.Isend([message, MPI.BYTE], dst, tag)
        with self._lock:
            self._sends.append((request, message))

    def _reap_sends(self) -> None:
        with self._lock:
            self._sends = [s for s in self._sends if not s[0].Test()]

    def _listen(self) -> None:
        MPI = _mpi.mpi()
        status = MPI.Status()
        idle, next_check = 0, 0.0
        while not self._stop.is_set():
            message = self.comm.Improbe(MPI.ANY_SOURCE, MPI.ANY_TAG, status)
            if message is None:
                idle += 1
                time.sleep(0 if idle < 64 else 0.0005 if idle < 4000 else 0.002)
                now = time.monotonic()
                if now > next_check:
                    self._expire(now)
                    self._reap_sends()
                    if self._deferring:
                        self._send_deferred()
                    next_check = now + 0.02
                continue
            idle = 0
            data = bytearray(status.Get_count(MPI.BYTE))
            message.Recv([data, MPI.BYTE])
            tag, source = status.Get_tag(), status.Get_source()
            if tag == REQUEST:
                self._submit(source, bytes(data))
            elif tag == REPLY:
                self._on_reply(source, bytes(data))
            elif tag == PING:
                self._send(source, PONG, b"")
            else:
                self._heard[source] = time.monotonic()

    # -- the end ------------------------------------------------------------------------------

    def wait_all_workers(self, timeout: float) -> None:
        """Return once no worker has a request outstanding (all workers call this at their
        shutdown): two rounds of summed (sent, answered) counts that agree and did not move.
        A worker whose listener stops answering pings for ``rpc_timeout`` seconds has died
        (MPI would wait for it forever): then this raises."""
        MPI = _mpi.mpi()
        deadline = time.monotonic() + timeout
        previous = None
        next_ping = 0.0
        self._heard = [time.monotonic()] * len(self.workers)
        while True:
            self._send_deferred()
            with self._lock:  # a deferred call still waiting counts as outstanding
                counts = np.array([self.sent + len(self._deferred), self.answered],
                                  dtype=np.int64)
            total = np.zeros(2, dtype=np.int64)
            request = self.control.Iallreduce(counts, total, MPI.SUM)
            while not request.Test():
                now = time.monotonic()
                if now > deadline:
                    raise RuntimeError(f"rpc.shutdown: the workers did not finish their RPCs "
                                       f"within {timeout:g} s")
                if now > next_ping:
                    self._check_alive(now)
                    next_ping = now + 1.0
                time.sleep(0.001)
            if total[0] == total[1] and previous is not None and (previous == total).all():
                self._deferring = False  # what finalizers queue from now on is moot
                return
            previous = total
            time.sleep(0.002)

    def _check_alive(self, now: float) -> None:
        for info in self.workers:
            silent = now - self._heard[info.id]
            if info.id != self.rank and self.timeout > 0 and silent > self.timeout + 1.0:
                raise RuntimeError(f"rpc.shutdown: {info} has not answered for {silent:.0f} s "
                                   "(more than rpc_timeout): it has exited or hangs")
            if info.id != self.rank:
                self._send(info.id, PING, b"")

    def stop(self) -> None:
        """Stop the listener and the worker threads, and release the communicators."""
        self._deferring = False
        self._stop.set()
        self._listener.join(timeout=5)
        for _ in self._threads:
            self._jobs.put(None)
        deadline = time.monotonic() + 5
        while self._sends and time.monotonic() < deadline:
            self._reap_sends()
            time.sleep(0.001)
        with self._lock:
            pending, self._pending = list(self._pending.values()), {}
        for future, *_ in pending:
            future.set_exception(RuntimeError("RPC was shut down before this call returned"))
        self.control.Free()
        self.comm.Free()
