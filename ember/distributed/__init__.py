"""``ember.distributed``: PyTorch's ``torch.distributed`` on real engines.

Processes are started by an MPI launcher and talk through MPI (mpi4py) for CPU tensors and
through NCCL (CuPy) for CUDA tensors; see the NOTE in process_group.py. mpi4py is imported by
``init_process_group``, never by ``import ember``.

Example (``mpiexec -n 2 python script.py``, or ``python -m ember.distributed.run
--nproc_per_node=2 script.py`` as with torchrun; ``pip install mpi4py mpich`` provides both;
processes started by ``mp.spawn`` join with ``init_process_group(rank=, world_size=)`` and
MASTER_ADDR/MASTER_PORT, see NOTE [ Rendezvous without mpiexec ] in _rendezvous.py)::

    import ember
    import ember.distributed as dist

    dist.init_process_group("mpi")          # "gloo" runs the same MPI engine on the CPU
    t = ember.full((3,), float(dist.get_rank()))
    dist.all_reduce(t)                       # t is now [1., 1., 1.] on both ranks
    dist.destroy_process_group()

``TORCH_DISTRIBUTED_DEBUG=DETAIL`` (or ``set_debug_level(DebugLevel.DETAIL)``) makes every
collective first check that all ranks call the same op on the same shapes, and say which op
and ranks disagree (MPI itself would hang or truncate silently); ``monitored_barrier`` names
the ranks that did not arrive.

Beyond the collectives: ``algorithms.Join`` (uneven inputs, with DistributedDataParallel's
``join()``), ``algorithms.ddp_comm_hooks``, ``optim.ZeroRedundancyOptimizer`` and
``DeviceMesh`` / ``init_device_mesh``, ``fsdp`` (FullyShardedDataParallel) and ``tensor``
(DTensor), loaded on first use.
"""
from __future__ import annotations

import os

from ember.distributed import _mpi, _nccl
from ember.distributed.collectives import (  # noqa: F401
    all_gather,
    all_gather_coalesced,
    all_gather_into_tensor,
    all_reduce,
    all_reduce_coalesced,
    all_to_all,
    all_to_all_single,
    broadcast,
    gather,
    reduce,
    reduce_scatter,
    reduce_scatter_tensor,
    scatter,
)
from ember.distributed.grad_bucket import GradBucket  # noqa: F401
from ember.distributed.messages import (  # noqa: F401
    P2POp,
    all_gather_object,
    barrier,
    batch_isend_irecv,
    broadcast_object_list,
    gather_object,
    irecv,
    isend,
    monitored_barrier,
    recv,
    recv_object_list,
    scatter_object_list,
    send,
    send_object_list,
)
from ember.distributed.process_group import (  # noqa: F401
    GroupMember,
    ProcessGroup,
    default_pg_timeout,
    destroy_process_group,
    get_backend,
    get_backend_config,
    get_default_backend_for_device,
    get_global_rank,
    get_group_rank,
    get_node_local_rank,
    get_pg_count,
    get_process_group_ranks,
    get_rank,
    get_world_size,
    group,
    init_process_group,
    is_backend_available,
    is_initialized,
    new_group,
    new_subgroups,
    new_subgroups_by_enumeration,
)
from ember.distributed.work import (  # noqa: F401
    Backend,
    DebugLevel,
    DistBackendError,
    DistError,
    DistNetworkError,
    DistStoreError,
    Future,
    QueueEmptyError,
    ReduceOp,
    Work,
    get_debug_level,
    reduce_op,
    set_debug_level,
    set_debug_level_from_env,
)


def is_available() -> bool:
    """Whether distributed training can run: mpi4py is installed (checked without importing
    it, so that MPI is not started)."""
    return _mpi.is_available()


def is_mpi_available() -> bool:
    return _mpi.is_available()


def is_gloo_available() -> bool:
    """``"gloo"`` runs on the MPI engine in ember."""
    return _mpi.is_available()


def is_nccl_available() -> bool:
    """Whether CuPy with NCCL and a GPU is there."""
    return _nccl.is_available()


def is_torchelastic_launched() -> bool:
    """Whether torchrun (``python -m ember.distributed.run``) started this process."""
    return os.environ.get("TORCHELASTIC_RUN_ID") is not None


def is_ucc_available() -> bool:
    """False: ember runs MPI and NCCL only."""
    return False


def is_xccl_available() -> bool:
    """False: ember runs MPI and NCCL only."""
    return False


def supports_complex(reduceOp: ReduceOp) -> bool:  # noqa: N803  (PyTorch's name)
    """Whether ``reduceOp`` is defined on complex tensors (not the orderings nor the bitwise
    ops, nor PRODUCT, which PyTorch's backends do not implement for complex)."""
    return reduceOp in (ReduceOp.SUM, ReduceOp.AVG)


_LAZY = {"algorithms": "ember.distributed.algorithms", "optim": "ember.distributed.optim",
         "device_mesh": "ember.distributed.device_mesh", "fsdp": "ember.distributed.fsdp",
         "tensor": "ember.distributed.tensor", "rpc": "ember.distributed.rpc",
         "autograd": "ember.distributed.autograd"}


def __getattr__(name: str):
    # The subpackages load on first use, as ``ember.distributed.optim`` pulls in ember.optim.
    if name in _LAZY:
        import importlib
        return importlib.import_module(_LAZY[name])
    if name in ("DeviceMesh", "init_device_mesh"):
        from ember.distributed import device_mesh
        return getattr(device_mesh, name)
    raise AttributeError(f"module 'ember.distributed' has no attribute '{name}'")
