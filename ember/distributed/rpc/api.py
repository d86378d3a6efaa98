"""``init_rpc``, ``shutdown`` and the calls: ``rpc_sync``, ``rpc_async``, ``remote``."""
from __future__ import annotations

import atexit
import functools
import re
import time
from datetime import timedelta
from typing import Any

import numpy as np

from ember.distributed import _mpi
from ember.distributed.process_group import default_pg_timeout, join_world
from ember.distributed.rpc import rref as _rref
from ember.distributed.rpc.agent import Agent
from ember.distributed.rpc.options import (
    DEFAULT_SHUTDOWN_TIMEOUT,
    UNSET_RPC_TIMEOUT,
    BackendType,
    TensorPipeRpcBackendOptions,
    WorkerInfo,
)
from ember.distributed.work import Future

_state: dict = {"agent": None}
_NAME = re.compile(r"[A-Za-z0-9_\-:]+")


def _agent_or_raise() -> Agent:
    agent = _state["agent"]
    if agent is None:
        raise RuntimeError("RPC has not been initialized. Call torch.distributed.rpc.init_rpc "
                           "first.")
    return agent


def _require_initialized(func):
    """Decorate ``func`` so that calling it before ``init_rpc`` raises PyTorch's error."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        _agent_or_raise()
        return func(*args, **kwargs)
    return wrapper


def init_rpc(name: str, backend: BackendType | None = None, rank: int = -1,
             world_size: int | None = None,
             rpc_backend_options: TensorPipeRpcBackendOptions | None = None) -> None:
    """Start this worker's RPC agent and meet the other ``world_size - 1`` workers.

    Workers meet as ``init_process_group``'s ranks do (an MPI launcher, or ``rank`` and
    ``world_size`` with MASTER_ADDR/MASTER_PORT or a ``tcp://`` ``init_method`` in the options),
    whether or not a process group was initialized first; the worker's id is its rank.

    Args:
        name: a unique name for this worker (letters, digits, ``_``, ``-``, ``:``).
        backend: ``BackendType.TENSORPIPE`` (the only one, and the default).
        rpc_backend_options: ``TensorPipeRpcBackendOptions``.

    Example::

        >>> rpc.init_rpc("worker0", rank=0, world_size=2)
        >>> rpc.rpc_sync("worker1", torch.add, args=(torch.ones(2), 3))
        tensor([4., 4.])
        >>> rpc.shutdown()
    """
    if backend is not None and backend != BackendType.TENSORPIPE:
        raise ValueError(f"ember's RPC runs the TENSORPIPE backend's API, not {backend}")
    if _state["agent"] is not None:
        raise RuntimeError("RPC is already initialized")
    if not isinstance(name, str) or not _NAME.fullmatch(name) or len(name) > 128:
        raise RuntimeError(f"Worker name must match ^[A-Za-z0-9-_:]*$ and be at most 128 "
                           f"characters, got {name!r}")
    options = rpc_backend_options or TensorPipeRpcBackendOptions()
    comm = join_world(options.init_method, -1 if world_size is None else world_size, rank,
                      default_pg_timeout, "init_rpc")
    MPI = _mpi.mpi()
    if MPI.Query_thread() < MPI.THREAD_MULTIPLE:  # see NOTE [ RPC over MPI ] in agent.py
        comm.Free()
        raise RuntimeError("init_rpc: RPC needs MPI_THREAD_MULTIPLE, which this MPI library did "
                           "not grant (mpi4py.rc.thread_level must stay 'multiple')")
    names = _gather_names(comm, name, default_pg_timeout / timedelta(seconds=1))
    if len(set(names)) != len(names):
        comm.Free()
        raise RuntimeError(f"RPC worker names must be unique, got {names}")
    _state["agent"] = Agent(comm, comm.Dup(), names, options)
    atexit.register(_stop_at_exit)


def _gather_names(comm, name: str, timeout: float) -> list:
    """Every worker's name, by rank; ``timeout`` seconds for all workers to call init_rpc."""
    size = comm.Get_size()
    mine = np.zeros(128, dtype=np.uint8)
    mine[:len(name)] = np.frombuffer(name.encode(), dtype=np.uint8)
    everyone = np.zeros((size, 128), dtype=np.uint8)
    request = comm.Iallgather(mine, everyone)
    deadline = time.monotonic() + timeout
    while not request.Test():
        if time.monotonic() > deadline:
            raise RuntimeError(f"init_rpc: not every worker called init_rpc within {timeout:g} s")
        time.sleep(0.001)
    return [bytes(row).rstrip(b"\0").decode() for row in everyone]


def _stop_at_exit() -> None:
    """A worker that leaves without ``shutdown`` (it raised) stops its listener before MPI
    finalizes."""
    if _state["agent"] is not None:
        shutdown(graceful=False)


def shutdown(graceful: bool = True, timeout: float = DEFAULT_SHUTDOWN_TIMEOUT) -> None:
    """Stop RPC. ``graceful``: first wait until every worker has called ``shutdown`` and no
    RPC is outstanding anywhere (``timeout`` seconds at most; 0: 30 minutes, the process
    group's default), so a worker that only serves others can call it at once."""
    agent = _agent_or_raise()
    try:
        if graceful:
            limit = timeout if timeout > 0 else default_pg_timeout / timedelta(seconds=1)
            agent.wait_all_workers(limit)
    finally:
        _state["agent"] = None
        agent.stop()
        _rref._forget_all()
        from ember.distributed import autograd as dist_autograd
        dist_autograd._forget_all()


def get_worker_info(worker_name: str | None = None) -> WorkerInfo:
    """The WorkerInfo of ``worker_name`` (this worker's when None)."""
    agent = _agent_or_raise()
    if worker_name is None:
        return agent.me
    info = agent.by_name.get(worker_name)
    if info is None:
        raise RuntimeError(f"Unknown destination worker {worker_name}")
    return info


def get_rpc_timeout() -> float:
    """The default timeout of RPCs, in seconds (the options' ``rpc_timeout``)."""
    return _agent_or_raise().timeout


def _set_rpc_timeout(rpc_timeout: float) -> None:
    """Set the default timeout of the RPCs made from now on, in seconds (0: no limit)."""
    _agent_or_raise().timeout = float(rpc_timeout)


def _worker_id(agent: Agent, to: Any) -> int:
    if isinstance(to, WorkerInfo):
        return to.id
    if isinstance(to, str):
        return get_worker_info(to).id
    if isinstance(to, int) and 0 <= to < len(agent.workers):
        return to
    raise RuntimeError(f"Unknown destination worker {to}")


def rpc_async(to: Any, func, args: tuple | None = None, kwargs: dict | None = None,
              timeout: float = UNSET_RPC_TIMEOUT) -> Future:
    """Run ``func(*args, **kwargs)`` on worker ``to`` (a name, id or WorkerInfo); the returned
    ``torch.futures.Future`` holds its value, or raises its exception (or a timeout error
    after ``timeout`` seconds; the default is the options' ``rpc_timeout``, 0 waits forever).
    """
    agent = _agent_or_raise()
    return agent.call(_worker_id(agent, to), func, tuple(args or ()), dict(kwargs or {}),
                      timeout)


def rpc_sync(to: Any, func, args: tuple | None = None, kwargs: dict | None = None,
             timeout: float = UNSET_RPC_TIMEOUT) -> Any:
    """``rpc_async(...).wait()``: the value of ``func(*args, **kwargs)`` run on ``to``."""
    return rpc_async(to, func, args, kwargs, timeout).wait()


def remote(to: Any, func, args: tuple | None = None, kwargs: dict | None = None,
           timeout: float = UNSET_RPC_TIMEOUT) -> _rref.RRef:
    """Run ``func(*args, **kwargs)`` on ``to`` and return at once an RRef of its value (owned
    by ``to``); ``to_here()`` fetches it, raising ``func``'s exception if it failed."""
    agent = _agent_or_raise()
    return _rref.new_remote(_worker_id(agent, to), func, tuple(args or ()),
                            dict(kwargs or {}), timeout)


def is_available() -> bool:
    """Whether RPC can run: mpi4py is installed."""
    return _mpi.is_available()
