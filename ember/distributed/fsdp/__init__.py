"""``ember.distributed.fsdp``: Fully Sharded Data Parallel, as ``torch.distributed.fsdp``.

``FullyShardedDataParallel`` (FSDP1) shards each unit's flattened parameters over the ranks
and runs on ember's collectives (all-gather, reduce-scatter, all-reduce, broadcast); ``wrap``
holds the auto-wrap policies. Not implemented: HYBRID_SHARD, SHARDED_STATE_DICT and
LOCAL_STATE_DICT, the optimizer-state functions (``optim_state_dict``, ``full_optim_state_dict``
and their kin), CPU offloading of CUDA shards (``CPUOffload`` is accepted) and FSDP2's
``fully_shard``.

Example (``mpiexec -n 2 python train.py``)::

    from ember.distributed.fsdp import FullyShardedDataParallel as FSDP
    model = FSDP(net, auto_wrap_policy=functools.partial(size_based_auto_wrap_policy,
                                                         min_num_params=100_000))
"""
from ember.distributed.fsdp import wrap
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

__all__ = ["BackwardPrefetch", "CPUOffload", "FullOptimStateDictConfig", "FullStateDictConfig",
           "FullyShardedDataParallel", "LocalOptimStateDictConfig", "LocalStateDictConfig",
           "MixedPrecision", "OptimStateDictConfig", "ShardedOptimStateDictConfig",
           "ShardedStateDictConfig", "ShardingStrategy", "StateDictConfig", "StateDictSettings",
           "StateDictType", "wrap"]
