"""``torch.distributed.rpc``: remote procedure calls, remote references and, with
``ember.distributed.autograd``, training across processes.

Workers start as a process group's ranks do (``mpiexec``, or ``mp.spawn`` with
MASTER_ADDR/MASTER_PORT) and call ``init_rpc``; messages travel over MPI on a communicator of
RPC's own (see NOTE [ RPC over MPI ] in agent.py).

Example (two processes; rank 1 calls ``init_rpc("worker1", rank=1, world_size=2)`` and
``shutdown()``)::

    >>> import ember.distributed.rpc as rpc
    >>> rpc.init_rpc("worker0", rank=0, world_size=2)
    >>> rpc.rpc_sync("worker1", ember.add, args=(ember.ones(2), 1))
    tensor([2., 2.])
    >>> rpc.shutdown()
"""
from __future__ import annotations

from ember.distributed.rpc import functions  # noqa: F401
from ember.distributed.rpc.api import (  # noqa: F401
    _set_rpc_timeout,
    get_rpc_timeout,
    get_worker_info,
    init_rpc,
    is_available,
    remote,
    rpc_async,
    rpc_sync,
    shutdown,
)
from ember.distributed.rpc.options import (  # noqa: F401
    BackendType,
    TensorPipeRpcBackendOptions,
    WorkerInfo,
)
from ember.distributed.rpc.rref import RRef  # noqa: F401

__all__ = ["BackendType", "RRef", "TensorPipeRpcBackendOptions", "WorkerInfo", "functions",
           "get_rpc_timeout", "get_worker_info", "init_rpc", "is_available", "remote",
           "rpc_async", "rpc_sync", "shutdown"]
