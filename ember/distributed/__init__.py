"""``ember.distributed``: PyTorch's ``torch.distributed`` on real engines.

Processes are started by an MPI launcher and talk through MPI (mpi4py) for CPU tensors and
through NCCL (CuPy) for CUDA tensors; see the NOTE in process_group.py. mpi4py is imported by
``init_process_group``, never by ``import ember``.

Example (``mpiexec -n 2 python script.py``; ``pip install mpi4py mpich`` provides both)::

    import ember
    import ember.distributed as dist

    dist.init_process_group("mpi")          # "gloo" runs the same MPI engine on the CPU
    t = ember.full((3,), float(dist.get_rank()))
    dist.all_reduce(t)                       # t is now [1., 1., 1.] on both ranks
    dist.destroy_process_group()

``TORCH_DISTRIBUTED_DEBUG=DETAIL`` makes every collective first check that all ranks call the
same op on the same shapes, and say which op and ranks disagree (MPI itself would hang or
truncate silently).
"""
from __future__ import annotations

from ember.distributed import _mpi, _nccl
from ember.distributed.collectives import (  # noqa: F401
    all_gather,
    all_gather_into_tensor,
    all_reduce,
    all_to_all,
    all_to_all_single,
    broadcast,
    gather,
    reduce,
    reduce_scatter,
    reduce_scatter_tensor,
    scatter,
)
from ember.distributed.messages import (  # noqa: F401
    P2POp,
    all_gather_object,
    barrier,
    batch_isend_irecv,
    broadcast_object_list,
    gather_object,
    irecv,
    isend,
    recv,
    scatter_object_list,
    send,
)
from ember.distributed.process_group import (  # noqa: F401
    GroupMember,
    ProcessGroup,
    destroy_process_group,
    get_backend,
    get_global_rank,
    get_group_rank,
    get_process_group_ranks,
    get_rank,
    get_world_size,
    group,
    init_process_group,
    is_initialized,
    new_group,
)
from ember.distributed.work import Backend, ReduceOp, Work  # noqa: F401


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
    return False
