"""The option types of ``FullyShardedDataParallel``, as ``torch.distributed.fsdp.api``'s."""
from __future__ import annotations

import enum
from dataclasses import dataclass

from ember import dtypes

__all__ = ["BackwardPrefetch", "CPUOffload", "FullOptimStateDictConfig", "FullStateDictConfig",
           "LocalOptimStateDictConfig", "LocalStateDictConfig", "MixedPrecision",
           "OptimStateDictConfig", "ShardedOptimStateDictConfig", "ShardedStateDictConfig",
           "ShardingStrategy", "StateDictConfig", "StateDictSettings", "StateDictType"]


class ShardingStrategy(enum.Enum):
    """What each rank keeps of a unit's parameters, gradients and optimizer state.

    FULL_SHARD: a shard of each, the parameters gathered for forward and again for backward.
    SHARD_GRAD_OP: sharded, but gathered parameters are kept from forward through backward.
    NO_SHARD: everything replicated, gradients all-reduced (as DistributedDataParallel).
    HYBRID_SHARD, _HYBRID_SHARD_ZERO2: sharding within a node, replication across nodes.
    """

    FULL_SHARD = enum.auto()
    SHARD_GRAD_OP = enum.auto()
    NO_SHARD = enum.auto()
    HYBRID_SHARD = enum.auto()
    _HYBRID_SHARD_ZERO2 = enum.auto()


class BackwardPrefetch(enum.Enum):
    """When to start the next all-gather in backward; ember gathers when a unit is needed."""

    BACKWARD_PRE = enum.auto()
    BACKWARD_POST = enum.auto()


class StateDictType(enum.Enum):
    """The layout ``state_dict()`` gives and ``load_state_dict()`` takes."""

    FULL_STATE_DICT = enum.auto()
    LOCAL_STATE_DICT = enum.auto()
    SHARDED_STATE_DICT = enum.auto()


@dataclass
class CPUOffload:
    """Keep the parameter shards on the CPU (ember's CPU tensors already are)."""

    offload_params: bool = False


@dataclass
class MixedPrecision:
    """The dtypes of a unit's computation.

    Args:
        param_dtype: the dtype the parameters are gathered in and forward/backward run in.
        reduce_dtype: the dtype gradients are reduced in (default: ``param_dtype``).
        buffer_dtype: the dtype the buffers are cast to.
        keep_low_precision_grads: accepted; the shards' gradients keep the parameters' dtype.
        cast_forward_inputs: cast floating-point inputs of every unit to ``param_dtype``.
        cast_root_forward_inputs: cast floating-point inputs of the root unit.
    """

    param_dtype: dtypes.dtype | None = None
    reduce_dtype: dtypes.dtype | None = None
    buffer_dtype: dtypes.dtype | None = None
    keep_low_precision_grads: bool = False
    cast_forward_inputs: bool = False
    cast_root_forward_inputs: bool = True


@dataclass
class StateDictConfig:
    """Base of the state-dict options; ``offload_to_cpu`` moves the values to the CPU."""

    offload_to_cpu: bool = False


@dataclass
class FullStateDictConfig(StateDictConfig):
    """FULL_STATE_DICT: the whole unflattened parameters; ``rank0_only`` gives them on rank 0
    only (other ranks get an empty dict)."""

    rank0_only: bool = False


@dataclass
class ShardedStateDictConfig(StateDictConfig):
    """SHARDED_STATE_DICT's options (that layout is not implemented in ember)."""

    _use_dtensor: bool = False


@dataclass
class LocalStateDictConfig(StateDictConfig):
    """LOCAL_STATE_DICT's options (that layout is not implemented in ember)."""


@dataclass
class OptimStateDictConfig:
    """Base of the optimizer-state-dict options (ember does not implement FSDP's optimizer
    state dicts; the classes are there for code that passes them)."""

    offload_to_cpu: bool = True


@dataclass
class FullOptimStateDictConfig(OptimStateDictConfig):
    rank0_only: bool = False


@dataclass
class ShardedOptimStateDictConfig(OptimStateDictConfig):
    _use_dtensor: bool = False


@dataclass
class LocalOptimStateDictConfig(OptimStateDictConfig):
    offload_to_cpu: bool = False


@dataclass
class StateDictSettings:
    """What ``set_state_dict_type`` set before, and ``get_state_dict_type`` returns."""

    state_dict_type: StateDictType
    state_dict_config: StateDictConfig
    optim_state_dict_config: OptimStateDictConfig
