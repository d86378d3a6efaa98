"""The policies of ``fully_shard`` (``torch.distributed.fsdp._fully_shard._fsdp_api``)."""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CPUOffloadPolicy", "MixedPrecisionPolicy", "OffloadPolicy"]


@dataclass(frozen=True)
class MixedPrecisionPolicy:
    """Module-level mixed precision for ``fully_shard``.

    Attributes:
        param_dtype: dtype of the unsharded parameters, hence of the all-gather and of forward
            and backward compute (None: the parameters' own dtype). The optimizer steps the
            sharded parameters in their own dtype.
        reduce_dtype: dtype of the gradient reduce-scatter (None: ``param_dtype``); gradients
            accumulated without sync are kept in it.
        output_dtype: dtype to cast floating-point forward outputs to (None: no cast).
        cast_forward_inputs: cast floating-point forward inputs to ``param_dtype``.

    Example::

        >>> fully_shard(layer, mp_policy=MixedPrecisionPolicy(param_dtype=ember.bfloat16,
        ...                                                   reduce_dtype=ember.float32))
    """

    param_dtype: object = None
    reduce_dtype: object = None
    output_dtype: object = None
    cast_forward_inputs: bool = True


class OffloadPolicy:
    """No offloading: the default ``offload_policy`` of ``fully_shard``."""


@dataclass
class CPUOffloadPolicy(OffloadPolicy):
    """Keep sharded parameters, gradients and optimizer state on the CPU: shards are copied to
    the mesh's device for the all-gather and reduced gradients back to the CPU, so the
    optimizer steps on the CPU. With a CPU mesh everything already lives there and this is a
    no-op. ``pin_memory`` is accepted (ember's copies do not use pinned staging here)."""

    pin_memory: bool = True
