"""Process groups: ``init_process_group``, ``new_group`` and the rank/size queries.

NOTE [ Process groups on MPI ]
Every process group is an MPI communicator (mpi4py): the launcher (``mpiexec -n N``) gives
each process its rank and the world size, ``new_group`` splits the world communicator, and
barriers and the ``*_object`` collectives run on it. Tensor data runs on an engine chosen by
the tensor's device: MPI for CPU tensors, NCCL (CuPy) for CUDA tensors, each created on first
use. The backend string says which devices a group serves: ``"mpi"`` (or its alias ``"gloo"``)
CPU, ``"nccl"`` CUDA, ``None`` both, or PyTorch's ``"cpu:gloo,cuda:nccl"`` form.
"""
from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from ember.distributed import _mpi, _nccl
from ember.distributed.work import Backend, Work

__all__ = ["GroupMember", "ProcessGroup", "destroy_process_group", "get_backend",
           "get_global_rank", "get_group_rank", "get_process_group_ranks", "get_rank",
           "get_world_size", "group", "init_process_group", "is_initialized", "new_group"]

_ENGINES = {"mpi": "mpi", "gloo": "mpi", "nccl": "nccl"}


class ProcessGroup:
    """A set of ranks that run collectives together (an MPI communicator, see the NOTE).

    ``rank()`` and ``size()`` are this process's rank within the group and the group's size;
    ``ranks`` lists the global rank of each group rank.
    """

    def __init__(self, comm, ranks: list, devices: dict, debug: bool) -> None:
        self._comm = comm
        self.ranks = list(ranks)
        self._devices = devices  # device type -> engine name
        self._engines: dict = {}
        self._debug = debug

    def rank(self) -> int:
        return self._comm.Get_rank()

    def size(self) -> int:
        return self._comm.Get_size()

    def name(self) -> str:
        return _backend_name(self._devices)

    def __repr__(self) -> str:
        return f"ProcessGroup(backend={self.name()!r}, ranks={self.ranks})"

    def engine(self, device, op: str):
        """The engine that moves tensors of ``device`` (created on first use)."""
        kind = self._devices.get(device.type)
        if kind is None:
            raise RuntimeError(f"{op}: backend {self.name()!r} does not handle {device.type} "
                               "tensors (use backend='mpi' for CPU tensors and 'nccl' for CUDA "
                               "tensors, or 'cpu:mpi,cuda:nccl' for both)")
        engine = self._engines.get(device.type)
        if engine is None:
            if kind == "mpi":
                engine = _mpi.MPIEngine(self._comm)
            else:
                engine = _nccl.NCCLEngine(self._comm, device.index)
            self._engines[device.type] = engine
        return engine

    def group_rank(self, global_rank: int) -> int:
        try:
            return self.ranks.index(global_rank)
        except ValueError:
            raise ValueError(f"Global rank {global_rank} is not part of group {self}") from None

    def check_same(self, op: str, signature: tuple) -> None:
        """With TORCH_DISTRIBUTED_DEBUG=DETAIL: every rank runs ``op`` on the same shapes."""
        if not self._debug:
            return
        seen = self._comm.allgather((op, signature))
        if any(s != seen[0] for s in seen):
            described = ", ".join(f"rank {self.ranks[r]} ran {o} on {s}"
                                  for r, (o, s) in enumerate(seen))
            raise RuntimeError(f"{op}: the ranks' collectives do not match: {described}")

    def barrier(self) -> Work:
        return Work("barrier", [self._comm.Ibarrier()])

    def _free(self) -> None:
        for engine in self._engines.values():
            engine.close()
        self._engines.clear()
        self._comm.Free()


class _GroupMember:
    """``group.WORLD`` (the default group) and ``GroupMember.NON_GROUP_MEMBER``."""

    NON_GROUP_MEMBER = -100

    @property
    def WORLD(self) -> ProcessGroup | None:  # noqa: N802  (PyTorch's name)
        return _state.world


group = GroupMember = _GroupMember()


class _State:
    def __init__(self) -> None:
        self.world: ProcessGroup | None = None
        self.groups: list = []  # every live group, the world first


_state = _State()


def _parse_backend(backend: str | None) -> dict:
    if backend is None:
        return {"cpu": "mpi", "cuda": "nccl"}
    devices = {}
    for part in str(backend).lower().split(","):
        device, _, name = part.strip().rpartition(":")
        if name not in _ENGINES:
            raise ValueError(f"Invalid backend {backend!r}: ember runs 'mpi' (alias 'gloo') "
                             "and 'nccl'")
        if not device:
            device = "cuda" if _ENGINES[name] == "nccl" else "cpu"
        devices[device] = _ENGINES[name]
    if devices.get("cpu") == "nccl":
        raise ValueError("NCCL moves CUDA tensors only; use 'cpu:mpi,cuda:nccl'")
    return devices


def _backend_name(devices: dict) -> str:
    if len(devices) == 1:
        return next(iter(devices.values()))
    return ",".join(f"{d}:{e}" for d, e in sorted(devices.items()))


def is_initialized() -> bool:
    """Whether ``init_process_group`` has run (and the group was not destroyed)."""
    return _state.world is not None


def default_group(op: str) -> ProcessGroup:
    if _state.world is None:
        raise RuntimeError(f"{op}: Default process group has not been initialized, please make "
                           "sure to call ember.distributed.init_process_group() first (and launch "
                           "with `mpiexec -n N python script.py`)")
    return _state.world


def resolve(group: ProcessGroup | None, op: str) -> ProcessGroup | None:
    """``group`` or the default group; None when this process is not a member."""
    world = default_group(op)
    if group is None:
        return world
    if group is GroupMember.NON_GROUP_MEMBER:
        return None
    return group


def init_process_group(backend: str | None = None, init_method: str | None = None,
                       timeout: timedelta | None = None, world_size: int = -1, rank: int = -1,
                       store: Any = None, group_name: str = "", pg_options: Any = None,
                       device_id: Any = None) -> None:
    """Join the job that ``mpiexec -n N python script.py`` started.

    Ranks and the world size come from the MPI launcher (a script run without one is a world
    of one process); ``world_size`` and ``rank``, when given, must agree with it, and so must
    the ``WORLD_SIZE``/``RANK`` variables of an ``env://`` launch. ``init_method``, ``timeout``,
    ``group_name``, ``pg_options`` and ``device_id`` are accepted for PyTorch compatibility.

    Args:
        backend: ``"mpi"`` (CPU), ``"gloo"`` (the same, MPI on the CPU), ``"nccl"`` (CUDA
            tensors, through CuPy), ``None`` (MPI for CPU and NCCL for CUDA tensors) or a
            ``"cpu:mpi,cuda:nccl"`` mapping.

    Example::

        >>> # mpiexec -n 2 python train.py
        >>> import ember.distributed as dist
        >>> dist.init_process_group("mpi")
        >>> dist.get_world_size()
        2
    """
    if _state.world is not None:
        raise RuntimeError("trying to initialize the default process group twice!")
    if store is not None:
        raise ValueError("init_process_group: ember takes ranks from the MPI launcher and has "
                         "no store; launch with `mpiexec -n N python script.py`")
    devices = _parse_backend(backend)
    if backend is not None and "cuda" in devices:
        _nccl.load()  # says now, not at the first collective, that CuPy or NCCL is missing
    comm = _mpi.mpi().COMM_WORLD.Dup()  # ember's own traffic never meets the user's MPI calls
    size, me = comm.Get_size(), comm.Get_rank()
    if init_method in (None, "env://"):  # a torchrun-style launch must agree with MPI's
        if world_size < 0:
            world_size = int(os.environ.get("WORLD_SIZE", -1))
        if rank < 0:
            rank = int(os.environ.get("RANK", -1))
    if world_size not in (-1, size) or rank not in (-1, me):
        comm.Free()
        raise RuntimeError(f"init_process_group: asked for world_size={world_size}, rank={rank} "
                           f"but the MPI launcher started this process as rank {me} of {size}; "
                           f"launch with `mpiexec -n {world_size} python script.py`")
    debug = os.environ.get("TORCH_DISTRIBUTED_DEBUG", "").upper() == "DETAIL"
    _state.world = ProcessGroup(comm, range(size), devices, debug)
    _state.groups = [_state.world]


def destroy_process_group(group: ProcessGroup | None = None) -> None:
    """Release ``group``, or every group (then ``init_process_group`` may run again)."""
    if group is None or group is _state.world:
        for pg in _state.groups:
            pg._free()
        _state.world, _state.groups = None, []
    elif group is not GroupMember.NON_GROUP_MEMBER:
        group._free()
        _state.groups.remove(group)


def new_group(ranks: list | None = None, timeout: timedelta | None = None,
              backend: str | None = None, pg_options: Any = None,
              use_local_synchronization: bool = False, group_desc: str | None = None,
              device_id: Any = None, sort_ranks: bool = True) -> ProcessGroup | int:
    """A group of a subset of the world's ranks; every process of the world must call it.

    Returns:
        The new ProcessGroup on its members, ``GroupMember.NON_GROUP_MEMBER`` elsewhere.
        Group ranks follow the order of the sorted ``ranks``.
    """
    world = default_group("new_group")
    size = world.size()
    ranks = list(range(size)) if ranks is None else [int(r) for r in ranks]
    if sort_ranks:
        ranks = sorted(ranks)
    if len(set(ranks)) != len(ranks) or any(r < 0 or r >= size for r in ranks):
        raise ValueError(f"new_group: ranks {ranks} must be distinct and in [0, {size})")
    me = world.rank()
    member = me in ranks
    MPI = _mpi.mpi()
    comm = world._comm.Split(0 if member else MPI.UNDEFINED, ranks.index(me) if member else 0)
    if not member:
        return GroupMember.NON_GROUP_MEMBER
    devices = world._devices if backend is None else _parse_backend(backend)
    pg = ProcessGroup(comm, ranks, devices, world._debug)
    _state.groups.append(pg)
    return pg


def get_rank(group: ProcessGroup | None = None) -> int:
    """This process's rank in ``group`` (the world by default); -1 when not a member."""
    pg = resolve(group, "get_rank")
    return -1 if pg is None else pg.rank()


def get_world_size(group: ProcessGroup | None = None) -> int:
    """The number of processes in ``group`` (the world by default); -1 when not a member."""
    pg = resolve(group, "get_world_size")
    return -1 if pg is None else pg.size()


def get_backend(group: ProcessGroup | None = None) -> Backend:
    """The engine that runs ``group``: ``"mpi"`` (also for ``"gloo"``), ``"nccl"`` or a
    ``"cpu:mpi,cuda:nccl"`` mapping."""
    pg = resolve(group, "get_backend")
    if pg is None:
        raise ValueError("Invalid process group specified")
    return Backend(pg.name())


def get_process_group_ranks(group: ProcessGroup | None) -> list:
    """The global ranks of ``group``'s members, in group-rank order."""
    return list(default_group("get_process_group_ranks").ranks if group is None
                else group.ranks)


def get_global_rank(group: ProcessGroup | None, group_rank: int) -> int:
    return get_process_group_ranks(group)[group_rank]


def get_group_rank(group: ProcessGroup | None, global_rank: int) -> int:
    return (default_group("get_group_rank") if group is None else group).group_rank(global_rank)
