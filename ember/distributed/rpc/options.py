"""What ``init_rpc`` accepts and what names a worker: BackendType, the backend options,
WorkerInfo, and the timeouts' defaults."""
from __future__ import annotations

import enum
from typing import NamedTuple

DEFAULT_RPC_TIMEOUT_SEC = 60.0
UNSET_RPC_TIMEOUT = -1.0
DEFAULT_INIT_METHOD = "env://"
DEFAULT_NUM_WORKER_THREADS = 16
DEFAULT_SHUTDOWN_TIMEOUT = 0.0  # 0: the shutdown waits as long as the slowest worker works


class BackendType(enum.Enum):
    """The RPC agents: ember runs one, TENSORPIPE's API, with its messages on MPI."""

    TENSORPIPE = "TENSORPIPE"


class WorkerInfo(NamedTuple):
    """A worker's ``name`` (given to ``init_rpc``) and ``id`` (its rank)."""

    name: str
    id: int

    def __repr__(self) -> str:
        return f"WorkerInfo(id={self.id}, name={self.name})"


class TensorPipeRpcBackendOptions:
    """The options of the RPC agent.

    Args:
        num_worker_threads: threads that run the requests this worker receives (a request that
            waits on another RPC holds one).
        rpc_timeout: seconds an RPC may take before its future fails (0: no limit); the
            default of ``rpc_sync``, ``rpc_async``, ``remote`` and ``to_here``.
        init_method: where the workers meet when no launcher started them (``env://``, with
            MASTER_ADDR/MASTER_PORT, or ``tcp://host:port``).
        device_maps, devices: accepted; ember's RPC moves CPU tensors, so they change nothing.
    """

    def __init__(self, *, num_worker_threads: int = DEFAULT_NUM_WORKER_THREADS,
                 rpc_timeout: float = DEFAULT_RPC_TIMEOUT_SEC,
                 init_method: str = DEFAULT_INIT_METHOD, device_maps: dict | None = None,
                 devices: list | None = None, _transports=None, _channels=None) -> None:
        if num_worker_threads < 1:
            raise ValueError(f"num_worker_threads must be positive, got {num_worker_threads}")
        self.num_worker_threads = num_worker_threads
        self.rpc_timeout = float(rpc_timeout)
        self.init_method = init_method
        self.device_maps = dict(device_maps or {})
        self.devices = list(devices or [])

    def set_device_map(self, to: str, device_map: dict) -> None:
        self.device_maps.setdefault(to, {}).update(device_map)

    def set_devices(self, devices: list) -> None:
        self.devices = list(devices)
