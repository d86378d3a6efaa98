"""Process groups: ``init_process_group``, ``new_group`` and the rank/size queries.

NOTE [ Process groups on MPI ]
Every process group is an MPI communicator (mpi4py): the launcher (``mpiexec -n N``, or
ember's rendezvous for processes started without one) gives each process its rank and the
world size, ``new_group`` splits the world communicator, and barriers and the ``*_object``
collectives run on it. Tensor data runs on an engine chosen by
the tensor's device: MPI for CPU tensors, NCCL (CuPy) for CUDA tensors, each created on first
use. The backend string says which devices a group serves: ``"mpi"`` (or its alias ``"gloo"``)
CPU, ``"nccl"`` CUDA, ``None`` both, or PyTorch's ``"cpu:gloo,cuda:nccl"`` form.
"""
from __future__ import annotations

import os
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

from ember.distributed import _mpi, _nccl, _rendezvous, _subworld
from ember.distributed.work import Backend, DebugLevel, Work, get_debug_level

__all__ = ["GroupMember", "ProcessGroup", "default_pg_timeout", "destroy_process_group",
           "get_backend", "get_backend_config", "get_default_backend_for_device",
           "get_global_rank", "get_group_rank", "get_node_local_rank", "get_pg_count",
           "get_process_group_ranks", "get_rank", "get_world_size", "group", "init_process_group",
           "is_backend_available", "is_initialized", "new_group", "new_subgroups",
           "new_subgroups_by_enumeration"]

_ENGINES = {"mpi": "mpi", "gloo": "mpi", "nccl": "nccl"}
default_pg_timeout = timedelta(minutes=30)


class ProcessGroup:
    """A set of ranks that run collectives together (an MPI communicator, see the NOTE).

    ``rank()`` and ``size()`` are this process's rank within the group and the group's size;
    ``ranks`` lists the global rank of each group rank.
    """

    def __init__(self, comm, ranks: list, devices: dict, timeout: timedelta | None) -> None:
        self._comm = comm
        # monitored_barrier's messages: a communicator of their own, so that a late rank's
        # message never meets the user's send/recv (created now, while every rank is here)
        self._control = comm.Dup()
        self._monitored_calls = 0
        self._orphans: list = []  # its sends that a timed-out peer may never receive
        self.ranks = list(ranks)
        self._devices = devices  # device type -> engine name
        self._engines: dict = {}
        self.timeout = default_pg_timeout if timeout is None else timeout

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
        if get_debug_level() != DebugLevel.DETAIL:
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
        self._control.Free()
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
        self.count = 0  # groups created since init_process_group (get_pg_count)


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
    """Join the job's world of processes.

    Under an MPI launcher (``mpiexec -n N python script.py``, or ``python -m
    ember.distributed.run --nproc_per_node=N script.py``, which runs mpiexec) ranks and the world
    size come from it; ``world_size`` and ``rank``, when given, must agree with it, and so must
    the ``WORLD_SIZE``/``RANK`` variables of an ``env://`` launch. Processes started without one
    (``mp.spawn``, ``mp.Process``) pass ``rank`` and ``world_size`` (or set ``RANK`` and
    ``WORLD_SIZE``) and meet at ``MASTER_ADDR:MASTER_PORT`` or a ``tcp://host:port``
    ``init_method``, as in PyTorch: see NOTE [ Rendezvous without mpiexec ] in _rendezvous.py.
    A smaller ``world_size`` than MPI's world (started by ``init_rpc`` or the launcher) makes
    the group of those of its processes that call this (NOTE [ A process group inside a larger
    world ] in _subworld.py). A script run alone is a world of one process. ``timeout``
    (default 30 minutes) bounds that wait and is the default of ``monitored_barrier``;
    ``group_name`` and ``pg_options`` are accepted for PyTorch compatibility; ``device_id``
    must name an accelerator device (an int, or a device with an index), as in PyTorch.

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
        raise ValueError("init_process_group: ember has no store; give rank and world_size "
                         "(with MASTER_ADDR/MASTER_PORT) or launch with `mpiexec -n N python "
                         "script.py`")
    _check_device_id(device_id)
    devices = _parse_backend(backend)
    if backend is not None and "cuda" in devices:
        _nccl.load()  # says now, not at the first collective, that CuPy or NCCL is missing
    comm = join_world(init_method, world_size, rank,
                      default_pg_timeout if timeout is None else timeout, "init_process_group")
    _state.world = ProcessGroup(comm, range(comm.Get_size()), devices, timeout)
    _state.groups = [_state.world]
    _state.count = 1


def _check_device_id(device_id: Any) -> None:
    """``device_id`` names one accelerator device, as PyTorch requires (a CPU one is refused)."""
    if device_id is None:
        return
    from ember import accelerator, device
    current = accelerator.current_accelerator()
    if isinstance(device_id, int):
        if current is None:
            raise ValueError("device_id is an int, but no accelerator support is found from "
                             "the current compilation. Please use a different compiled version "
                             "that supports your accelerator.")
        return
    device_id = device(device_id)
    if device_id.type != "cpu" and (current is None or device_id.type != current.type):
        raise ValueError(f"device_id {device_id} does not match the current compilation's "
                         f"accelerator support: {current}. Please use a different compiled "
                         "version that supports your accelerator.")
    if device_id.index is None or device_id.type == "cpu":
        raise ValueError("init_process_group device_id parameter must be an accelerator with "
                         "an index")


def join_world(init_method: str | None, world_size: int, rank: int, timeout: timedelta,
               op: str):
    """A duplicate of the job's MPI world communicator, meeting the other ranks first when no
    launcher started them (see _rendezvous.py); ``world_size`` and ``rank`` (or ``WORLD_SIZE``
    and ``RANK`` for ``env://``), when given, must agree with MPI's. ``init_rpc`` joins the
    world this way too."""
    if init_method in (None, "env://"):  # a torchrun-style launch must agree with MPI's
        if world_size < 0:
            world_size = int(os.environ.get("WORLD_SIZE", -1))
        if rank < 0:
            rank = int(os.environ.get("RANK", -1))
    joining = world_size > 1 and not _mpi.started_by_launcher() and not _mpi.is_started()
    if not joining and op == "init_process_group" and rank >= 0 \
            and 0 < world_size < _mpi.mpi().COMM_WORLD.Get_size():
        # some of the world's processes (NOTE [ A process group inside a larger world ])
        return _subworld.create(_mpi.mpi().COMM_WORLD, init_method, world_size, rank,
                                timeout.total_seconds())
    if joining:
        _join(init_method, world_size, rank, timeout)
    try:
        comm = _mpi.mpi().COMM_WORLD.Dup()  # ember's own traffic never meets the user's MPI calls
        if joining:
            _rendezvous.ready()
    finally:
        if joining:
            _rendezvous.forget()
    size, me = comm.Get_size(), comm.Get_rank()
    if world_size not in (-1, size) or rank not in (-1, me):
        comm.Free()
        why = (f"the MPI launcher started this process as rank {me} of {size}" if
               _mpi.started_by_launcher() else "MPI already runs in this process as a world of "
               "one (mpi4py.MPI was imported before init_process_group), so it can no longer "
               "join other processes")
        raise RuntimeError(f"{op}: asked for world_size={world_size}, rank={rank} "
                           f"but {why}; launch with `mpiexec -n {world_size} python script.py` "
                           f"or `python -m ember.distributed.run --nproc_per_node={world_size} "
                           "script.py`")
    return comm


def _join(init_method: str | None, world_size: int, rank: int, timeout: timedelta) -> None:
    """Meet the other ranks of a job started without an MPI launcher (see _rendezvous.py)."""
    if init_method is not None and init_method.startswith("tcp://"):
        url = urlparse(init_method)
        host, port = url.hostname, url.port
        if host is None or port is None:
            raise ValueError(f"init_process_group: {init_method!r} needs a host and a port")
    elif init_method in (None, "env://"):
        for name in ("MASTER_ADDR", "MASTER_PORT"):
            if name not in os.environ:
                raise ValueError("Error initializing torch.distributed using env:// rendezvous: "
                                 f"environment variable {name} expected, but not set")
        host, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
    else:
        raise ValueError(f"init_process_group: ember meets other processes through env:// or "
                         f"tcp://host:port, not {init_method!r}; or launch with `mpiexec -n "
                         f"{world_size} python script.py`")
    if rank < 0:
        raise ValueError("Error initializing torch.distributed using env:// rendezvous: "
                         "environment variable RANK expected, but not set")
    if rank >= world_size:
        raise ValueError(f"init_process_group: rank {rank} is not in [0, {world_size})")
    if not _mpi.is_available():  # before rank 0 starts a server that no rank would reach
        raise RuntimeError(f"ember.distributed needs mpi4py and an MPI library: "
                           f"{_mpi.INSTALL_HINT}")
    _rendezvous.join(rank, world_size, host, port, timeout.total_seconds())


def destroy_process_group(group: ProcessGroup | None = None) -> None:
    """Release ``group``, or every group (then ``init_process_group`` may run again)."""
    if group is None or group is _state.world:
        for pg in _state.groups:
            pg._free()
        _state.world, _state.groups, _state.count = None, [], 0
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
    _state.count += 1
    if not member:
        return GroupMember.NON_GROUP_MEMBER
    devices = world._devices if backend is None else _parse_backend(backend)
    pg = ProcessGroup(comm, ranks, devices, world.timeout if timeout is None else timeout)
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


def get_backend_config(group: ProcessGroup | None = None) -> str:
    """The device-to-engine map of ``group``, lower case: ``"cpu:mpi"``, ``"cuda:nccl"`` or
    ``"cpu:mpi,cuda:nccl"``."""
    pg = resolve(group, "get_backend_config")
    if pg is None:
        raise ValueError("Invalid process group specified")
    return ",".join(f"{d}:{e}" for d, e in sorted(pg._devices.items()))


def is_backend_available(backend: str) -> bool:
    """Whether ``backend`` (a name or a ``"cpu:mpi,cuda:nccl"`` map) can run here: mpi4py for
    ``"mpi"``/``"gloo"``, CuPy with NCCL and a GPU for ``"nccl"``."""
    try:
        devices = _parse_backend(backend)
    except ValueError:
        return False
    engines = {"mpi": _mpi.is_available, "nccl": _nccl.is_available}
    return all(engines[e]() for e in set(devices.values()))


def get_default_backend_for_device(device) -> str:
    """The backend ember uses for ``device``: ``"mpi"`` for ``"cpu"`` (PyTorch says ``"gloo"``,
    which ember runs on MPI), ``"nccl"`` for ``"cuda"``."""
    kind = device if isinstance(device, str) else device.type
    kind = kind.split(":")[0]
    default = {"cpu": Backend.MPI, "cuda": Backend.NCCL}.get(kind)
    if default is None:
        raise ValueError(f"Default backend not registered for device : {kind}")
    return default


def get_pg_count() -> int:
    """How many process groups were created since ``init_process_group`` (the default group
    included; ``new_group`` counts on every rank, member or not)."""
    return _state.count


# The local rank of each process on its node, as the MPI launchers publish it
# (MPICH's Hydra, Open MPI, MVAPICH, Slurm's srun).
_LOCAL_RANK_VARIABLES = ("LOCAL_RANK", "MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK",
                         "MV2_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID")


def get_node_local_rank(fallback_rank: int | None = None) -> int:
    """This process's rank among the processes of its node.

    Read from ``LOCAL_RANK`` (as PyTorch does) or else from the MPI launcher's variable
    (``MPI_LOCALRANKID``, ``OMPI_COMM_WORLD_LOCAL_RANK``, ...); ``fallback_rank`` when none is
    set.
    """
    for name in _LOCAL_RANK_VARIABLES:
        if name in os.environ:
            return int(os.environ[name])
    if fallback_rank is not None:
        return int(fallback_rank)
    raise RuntimeError("LOCAL_RANK is not in the environment. Consider passing fallback_rank to "
                       "allow `get_node_local_rank` to work, assuming you are not running in a "
                       "multi-device context and want the code to run locally instead.")


def new_subgroups(group_size: int | None = None, group: ProcessGroup | None = None,
                  timeout: timedelta | None = None, backend: str | None = None,
                  pg_options: Any = None, group_desc: str | None = None) -> tuple:
    """Split ``group`` (the world by default) into consecutive subgroups of ``group_size``
    ranks; every rank of the world must call it.

    Args:
        group_size: ranks per subgroup; it must divide the group's size. The default, the
            number of CUDA devices, needs CUDA.

    Returns:
        ``(this rank's subgroup, every subgroup)``.

    Example::

        >>> # 4 ranks: subgroups [0, 1] and [2, 3]
        >>> cur, subgroups = dist.new_subgroups(group_size=2)
    """
    if group_size is None:
        from ember import cuda
        if not cuda.is_available():
            raise ValueError("Default group size only takes effect when CUDA is available. If "
                             "your subgroup uses a backend that does not depend on CUDA, please "
                             "pass in 'group_size' correctly.")
        group_size = cuda.device_count()
    if group_size <= 0:
        raise ValueError(f"The arg 'group_size' ({group_size}) must be positive")
    size = get_world_size(group)
    if size < group_size:
        raise ValueError(f"The arg 'group_size' ({group_size}) must not exceed the world size "
                         f"({size})")
    if size % group_size:
        raise ValueError(f"The world size ({size}) must be divisible by 'group_size={group_size}'")
    ranks = get_process_group_ranks(group)
    return new_subgroups_by_enumeration([ranks[i:i + group_size]
                                         for i in range(0, size, group_size)],
                                        timeout, backend, pg_options, group_desc)


def new_subgroups_by_enumeration(ranks_per_subgroup_list: list,
                                 timeout: timedelta | None = None, backend: str | None = None,
                                 pg_options: Any = None, group_desc: str | None = None) -> tuple:
    """One subgroup per list of global ranks (the lists must not overlap); every rank of the
    world must call it.

    Returns:
        ``(this rank's subgroup or None, every subgroup)``; a subgroup this rank is not in is
        ``GroupMember.NON_GROUP_MEMBER`` in the list.

    Example::

        >>> cur, subgroups = dist.new_subgroups_by_enumeration([[0, 2], [1, 3]])
    """
    if not ranks_per_subgroup_list:
        raise ValueError("The arg 'ranks_per_subgroup_list' cannot be empty")
    owner: dict = {}
    for ranks in ranks_per_subgroup_list:
        for r in ranks:
            if r in owner:
                raise ValueError(f"Rank {r} has appeared in both subgroup {owner[r]} and {ranks}")
            owner[r] = ranks
    me = get_rank()
    current, subgroups = None, []
    for ranks in ranks_per_subgroup_list:
        subgroup = new_group(ranks, timeout=timeout, backend=backend, pg_options=pg_options,
                             group_desc=group_desc)
        subgroups.append(subgroup)
        if me in ranks:
            current = subgroup
    return current, subgroups
