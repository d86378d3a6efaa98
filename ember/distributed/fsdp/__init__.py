"""``ember.distributed.fsdp``: Fully Sharded Data Parallel, as ``torch.distributed.fsdp``.

``FullyShardedDataParallel`` (FSDP1) shards each unit's flattened parameters over the ranks
and runs on ember's collectives (all-gather, reduce-scatter, all-reduce, broadcast); ``wrap``
holds the auto-wrap policies; ``optim_state_dict`` / ``optim_state_dict_to_load`` convert the
optimizer's state to and from the original parameters' names. Not implemented in FSDP1:
HYBRID_SHARD, SHARDED_STATE_DICT and LOCAL_STATE_DICT, the older optimizer-state functions
(``full_optim_state_dict``, ``scatter_full_optim_state_dict`` and their kin) and CPU offloading
of CUDA shards (``CPUOffload`` is accepted).

``fully_shard`` (FSDP2, ``_fully_shard/``) shards each parameter as a ``Shard(0)`` DTensor,
gathers around forward and backward and reduce-scatters gradients, with
``MixedPrecisionPolicy`` and ``CPUOffloadPolicy`` (a no-op for CPU meshes); on a 2-d mesh
(HSDP) it also all-reduces gradients over the replicate dimension, and it shards
tensor-parallel DTensor parameters into 2-d ``(dp, tp)`` DTensors. Not implemented in FSDP2:
``fully_shard`` of a list of modules, ``dp_mesh_dims``, 2-d tensor-parallel meshes, custom
collectives; prefetching is accepted but changes nothing, ember's collectives being
synchronous.

Example (``mpiexec -n 2 python train.py``)::

    from ember.distributed.fsdp import FullyShardedDataParallel as FSDP
    model = FSDP(net, auto_wrap_policy=functools.partial(size_based_auto_wrap_policy,
                                                         min_num_params=100_000))

    from ember.distributed.fsdp import fully_shard
    for layer in net.layers:
        fully_shard(layer)
    fully_shard(net)
"""
from ember.distributed.fsdp import wrap
from ember.distributed.fsdp._fully_shard import (
    CPUOffloadPolicy,
    FSDPModule,
    MixedPrecisionPolicy,
    OffloadPolicy,
    UnshardHandle,
    fully_shard,
    register_fsdp_forward_method,
)
from ember.distributed.fsdp.api import (
    BackwardPrefetch,
    CPUOffload,
    FullOptimStateDictConfig,
    FullStateDictConfig,
    LocalOptimStateDictConfig,
    LocalStateDictConfig,
    MixedPrecision,
    OptimStateDictConfig,
    ShardedOptimStateDictConfig,
    ShardedStateDictConfig,
    ShardingStrategy,
    StateDictConfig,
    StateDictSettings,
    StateDictType,
)
from ember.distributed.fsdp.fully_sharded_data_parallel import FullyShardedDataParallel

__all__ = ["BackwardPrefetch", "CPUOffload", "CPUOffloadPolicy", "FSDPModule",
           "FullOptimStateDictConfig", "FullStateDictConfig", "FullyShardedDataParallel",
           "LocalOptimStateDictConfig", "LocalStateDictConfig", "MixedPrecision",
           "MixedPrecisionPolicy", "OffloadPolicy", "OptimStateDictConfig",
           "ShardedOptimStateDictConfig", "ShardedStateDictConfig", "ShardingStrategy",
           "StateDictConfig", "StateDictSettings", "StateDictType", "UnshardHandle",
           "fully_shard", "register_fsdp_forward_method", "wrap"]
